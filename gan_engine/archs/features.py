"""The loss network: VGG19-shaped features for content and style losses.

Two kinds, same interface and same output shapes (layer name -> (B, C, H/2^k, W/2^k)):

- ``"vgg19"``: torchvision's ``vgg19().features`` layout (conv1_1 .. conv5_1, parameter names
  ``features.N.weight`` / ``features.N.bias``), loaded from a state dict on disk: the
  ``weights_path`` argument (passed in explicitly: the CLI reads ``GAN_VGG19_WEIGHTS``, the
  archive its setting; nothing here reads the environment, so the network that runs is the one
  the caller described in its recipe). Nothing is ever downloaded. A ``.safetensors`` file is read with safetensors, anything else with
  ``torch.load(weights_only=True)`` (no pickle code runs). Extra keys (``classifier.*``) are
  ignored; a missing or mis-shaped key is refused with :class:`FeatureWeightsError`.
- ``"random-multiscale"``, the fallback when no weights are given: fixed random filters drawn
  from a seeded generator, one ReLU layer per scale on an average-pooled image pyramid, with
  mixed kernel sizes (3, 5, 7) at every scale. Ustyuzhaninov et al. (2016, "Texture synthesis
  using shallow convolutional networks with random filters") showed that such random shallow
  multi-scale networks already capture texture statistics through their Gram matrices. It is
  a fraction of VGG's cost (about 20 kFLOP per pixel up to relu3_1 against about 225), so it can
  be used when training on a CPU.

Inputs are (B, 3, H, W) in [0, 1]; both kinds apply the ImageNet normalisation. Parameters are
frozen (``requires_grad=False``) but gradients flow to the input.
"""

from __future__ import annotations

import hashlib
import os  # os.PathLike
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gan_engine.errors import GanEngineError

__all__ = ["FeatureNetwork", "FeatureWeightsError", "VGG19_LAYERS", "DEFAULT_LAYERS"]

# torchvision vgg19().features: (index, kind, out_channels or None, name of the output)
_VGG19_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]


def _vgg19_layout() -> list[tuple[int, str, int, str]]:
    """[(index in features, "conv"|"relu"|"pool", channels, name)] for vgg19().features."""
    layout, index, block, conv = [], 0, 1, 1
    channels = 3
    for v in _VGG19_CFG:
        if v == "M":
            layout.append((index, "pool", channels, f"pool{block}"))
            index, block, conv = index + 1, block + 1, 1
        else:
            layout.append((index, "conv", v, f"conv{block}_{conv}"))
            layout.append((index + 1, "relu", v, f"relu{block}_{conv}"))
            index, conv, channels = index + 2, conv + 1, v
    return layout


_LAYOUT = _vgg19_layout()
VGG19_LAYERS: tuple[str, ...] = tuple(name for _, kind, _, name in _LAYOUT if kind == "relu")
# Style layers of Gatys et al. plus the cheap content layer; enough for restoration on a CPU.
DEFAULT_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1")

# Channels and scale (log2 of the downsampling) of every named relu output, shared by both kinds.
_LAYER_SHAPE = {}
for _i, _kind, _c, _name in _LAYOUT:
    if _kind == "relu":
        _LAYER_SHAPE[_name] = (_c, int(_name[4]) - 1)

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class FeatureWeightsError(GanEngineError, ValueError):
    """A VGG19 weights file is missing, unreadable or has the wrong keys or shapes."""


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise FeatureWeightsError(f"VGG19 weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file
            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any decoder failure means the same to the user
        raise FeatureWeightsError(f"cannot read VGG19 weights {path}: {type(exc).__name__}: {exc}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise FeatureWeightsError(f"{path} does not hold a state dict of tensors")
    return state


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class FeatureNetwork(nn.Module):
    """Frozen feature extractor: ``forward(x) -> {layer name: activation}``.

    Args:
        weights_path: torchvision-format VGG19 state dict; None: the seeded random multi-scale
            network. An explicitly
            named file that cannot be used raises :class:`FeatureWeightsError` (never a silent
            fallback).
        layers: names from :data:`VGG19_LAYERS` (relu1_1 ... relu5_4); only the network up to
            the deepest one is built, so ("relu1_1", "relu2_1", "relu3_1") is cheap.
        seed: seed of the random filters (ignored when weights are loaded).
        pool: "max" (torchvision's VGG) or "avg" (Gatys et al.'s choice for synthesis).
    """

    def __init__(self, weights_path: str | os.PathLike | None = None, layers: Sequence[str] = DEFAULT_LAYERS,
                 *, seed: int = 0, pool: str = "max"):
        super().__init__()
        layers = tuple(layers)
        unknown = [name for name in layers if name not in _LAYER_SHAPE]
        if not layers or unknown:
            raise ValueError(f"unknown feature layers {unknown or layers}; choose from {', '.join(VGG19_LAYERS)}")
        if pool not in ("max", "avg"):
            raise ValueError(f"pool must be 'max' or 'avg', not {pool!r}")
        self.layers = layers
        self.pool = pool
        self.seed = seed
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        deepest = max(VGG19_LAYERS.index(name) for name in layers)
        self._last = VGG19_LAYERS[deepest]
        if weights_path is not None:
            self.kind = "vgg19"
            self._build_vgg(Path(weights_path))
        else:
            self.kind = "random-multiscale"
            self._build_random()
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    # -- VGG19 ------------------------------------------------------------------------------
    def _build_vgg(self, path: Path) -> None:
        modules: dict[str, nn.Module] = {}
        self._names: dict[int, str] = {}
        for index, kind, channels, name in _LAYOUT:
            if kind == "conv":
                in_ch = 3 if index == 0 else prev_channels
                modules[str(index)] = nn.Conv2d(in_ch, channels, 3, padding=1)
                prev_channels = channels
            elif kind == "relu":
                modules[str(index)] = nn.ReLU(inplace=False)
                self._names[index] = name
            else:
                modules[str(index)] = nn.MaxPool2d(2, 2) if self.pool == "max" else nn.AvgPool2d(2, 2)
            if name == self._last:
                break
        self.features = nn.Sequential()
        for key, module in modules.items():
            self.features.add_module(key, module)

        state = _read_state_dict(path)
        own = {k: v for k, v in self.features.state_dict(prefix="features.").items()}
        missing = [k for k in own if k not in state]
        if missing:
            raise FeatureWeightsError(
                f"{path} is not a torchvision VGG19 state dict: missing {missing[0]}"
                f" ({len(missing)} of {len(own)} keys needed up to {self._last})")
        for key, tensor in own.items():
            if tuple(state[key].shape) != tuple(tensor.shape):
                raise FeatureWeightsError(f"{path}: {key} has shape {tuple(state[key].shape)},"
                                          f" VGG19 needs {tuple(tensor.shape)}")
        self.features.load_state_dict({k[len("features."):]: state[k].float() for k in own})
        self.weights_sha256 = _sha256_file(path)
        self.weights_path = str(path)

    # -- random multi-scale fallback --------------------------------------------------------
    def _build_random(self) -> None:
        """One random conv + ReLU per scale k (image average-pooled 2^k), VGG's channel counts.

        Filters are zero-mean Gaussians with unit L2 norm per filter, so every channel has the
        same energy whatever its kernel size; biases are zero. Kernel sizes 3, 5 and 7 share
        the channels of each scale (multi-scale inside the level as well as across levels).
        """
        gen = torch.Generator().manual_seed(self.seed)
        self.random_convs = nn.ModuleDict()
        wanted = {name for name in self.layers}
        for name in VGG19_LAYERS:
            if not name.endswith("_1") and name not in wanted:
                continue
            channels, _ = _LAYER_SHAPE[name]
            convs = nn.ModuleList()
            split = [channels // 3, channels // 3, channels - 2 * (channels // 3)]
            for kernel, n in zip((3, 5, 7), split):
                conv = nn.Conv2d(3, n, kernel, padding=kernel // 2, bias=False)
                w = torch.randn(conv.weight.shape, generator=gen)
                w -= w.mean(dim=(1, 2, 3), keepdim=True)
                w /= w.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
                conv.weight.data.copy_(w)
                convs.append(conv)
            self.random_convs[name] = convs
            if name == self._last:
                break
        digest = hashlib.sha256()
        for key, tensor in sorted(self.random_convs.state_dict().items()):
            digest.update(key.encode())
            digest.update(tensor.contiguous().numpy().tobytes())
        self.weights_sha256 = digest.hexdigest()
        self.weights_path = None

    # -- forward ------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x (B, 3, H, W) in [0, 1] -> {name: (B, C_name, H / 2^k, W / 2^k)} for the asked layers."""
        x = (x - self.mean) / self.std
        out: dict[str, torch.Tensor] = {}
        if self.kind == "vgg19":
            h = x
            for index, module in enumerate(self.features):
                h = module(h)
                name = self._names.get(index)
                if name in self.layers:
                    out[name] = h
            return out
        level, h = 0, x
        for name, convs in self.random_convs.items():
            scale = _LAYER_SHAPE[name][1]
            while level < scale:
                h = F.avg_pool2d(h, 2)  # (B, 3, H/2^k, W/2^k)
                level += 1
            if name in self.layers:
                out[name] = F.relu(torch.cat([conv(h) for conv in convs], dim=1))
        return out

    def describe(self) -> dict:
        """For the model card: kind, seed (random kind), sha256 of the weights, layers."""
        info = {"kind": self.kind, "layers": list(self.layers), "weights_sha256": self.weights_sha256}
        if self.kind == "random-multiscale":
            info["seed"] = self.seed
        else:
            info["pool"] = self.pool
            info["weights_file"] = Path(self.weights_path).name
        return info

    def train(self, mode: bool = True) -> "FeatureNetwork":
        """Stays in eval mode: a frozen loss network (no dropout or batch norm to switch anyway)."""
        return super().train(False)

"""ImageNet MobileNetV2 as an ordinary PyTorch module, converted once from the TFLite file.

Source: ``mobilenet_v2_1.0_224_quant.tflite`` from google-coral/test_data (commit 104342d),
Apache-2.0 (keep its licence with anything derived). The 8-bit weights are dequantised to
float by :func:`convert` and saved as safetensors; the network then runs as plain
convolutions. It serves two purposes: semantic features for colorization (what is skin, sky,
foliage) and a perceptual loss with real ImageNet features.

Architecture (Sandler et al. 2018, width 1.0): a stride-2 stem, 17 inverted-residual blocks
(expand 1x1, depthwise 3x3, linear project 1x1, residual when shapes agree), a 1x1 conv to
1280 channels, global average pooling and a 1x1 classifier over 1001 classes (0 =
background). TensorFlow's SAME padding is asymmetric for stride 2 (the extra row and column
go at the bottom and right), which :class:`SameConv` reproduces, so the float network computes
what the quantised one approximates.

Inputs are RGB in [0, 1]; the file codes pixels as uint8 with scale 1/128 and zero point 128,
so the network sees ``(255 x - 128) / 128``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from gan_engine.errors import GanEngineError

__all__ = ["MobileNetV2", "TAPS", "TAP_CHANNELS", "convert", "load", "MobileNetWeightsError", "SOURCE"]

SOURCE = {
    "file": "mobilenet_v2_1.0_224_quant.tflite",
    "from": "google-coral/test_data (commit 104342d)",
    "licence": "Apache-2.0",
    "trained_on": "ImageNet (ILSVRC-2012) classification, 1001 classes",
}

# (expansion t, output channels c, repeats n, first stride s), Sandler et al. Table 2.
_CONFIG = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]

# Feature taps: name -> index of the block after which it is read (the last block of each
# resolution). "s2" is 1/2 resolution with 16 channels ... "s32" 1/32 with 320.
TAPS: dict[str, int] = {"s2": 0, "s4": 2, "s8": 5, "s16": 12, "s32": 16}
TAP_CHANNELS: dict[str, int] = {"s2": 16, "s4": 24, "s8": 32, "s16": 96, "s32": 320}


class MobileNetWeightsError(GanEngineError, ValueError):
    """A converted weights file is missing or does not fit the architecture."""


class SameConv(nn.Conv2d):
    """A conv with TensorFlow's SAME padding (asymmetric for stride 2: extra at bottom/right)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, s = self.kernel_size[0], self.stride[0]
        if k > 1:
            h, w = x.shape[-2:]
            ph = max((math.ceil(h / s) - 1) * s + k - h, 0)
            pw = max((math.ceil(w / s) - 1) * s + k - w, 0)
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, 1, self.groups)


class InvertedResidual(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, t: int):
        super().__init__()
        hidden = c_in * t
        self.expand = SameConv(c_in, hidden, 1) if t != 1 else None
        self.depthwise = SameConv(hidden, hidden, 3, stride=stride, groups=hidden)
        self.project = SameConv(hidden, c_out, 1)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x if self.expand is None else F.relu6(self.expand(x))
        y = self.project(F.relu6(self.depthwise(y)))  # linear bottleneck: no activation
        return x + y if self.residual else y


class MobileNetV2(nn.Module):
    """MobileNetV2 1.0 with named feature taps; ``classify`` gives the 1001 ImageNet logits."""

    def __init__(self, with_head: bool = True):
        super().__init__()
        self.stem = SameConv(3, 32, 3, stride=2)
        blocks, c_in = [], 32
        for t, c, n, s in _CONFIG:
            for i in range(n):
                blocks.append(InvertedResidual(c_in, c, s if i == 0 else 1, t))
                c_in = c
        self.blocks = nn.ModuleList(blocks)
        self.with_head = with_head
        if with_head:
            self.conv_last = SameConv(320, 1280, 1)
            self.logits = SameConv(1280, 1001, 1)

    @staticmethod
    def code(rgb: torch.Tensor) -> torch.Tensor:
        """[0, 1] RGB -> the network's input coding ((255 x - 128) / 128)."""
        return (rgb * 255.0 - 128.0) / 128.0

    def features(self, rgb: torch.Tensor, taps: Iterable[str] = tuple(TAPS)) -> dict[str, torch.Tensor]:
        """Feature maps at the requested taps, (B, C_tap, ~H/s, ~W/s); stops after the last one."""
        wanted = {TAPS[name]: name for name in taps}
        last = max(wanted)
        out: dict[str, torch.Tensor] = {}
        x = F.relu6(self.stem(self.code(rgb)))
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in wanted:
                out[wanted[i]] = x
            if i == last:
                break
        return out

    def classify(self, rgb: torch.Tensor) -> torch.Tensor:
        """(B, 3, 224, 224) RGB in [0, 1] -> (B, 1001) logits (class 0 is 'background')."""
        if not self.with_head:
            raise MobileNetWeightsError("this MobileNetV2 was built without its classifier head")
        x = F.relu6(self.stem(self.code(rgb)))
        for block in self.blocks:
            x = block(x)
        x = F.relu6(self.conv_last(x)).mean(dim=(2, 3), keepdim=True)
        return self.logits(x).flatten(1)

    def convs(self) -> list[SameConv]:
        """All convolutions in the TFLite file's execution order."""
        order: list[SameConv] = [self.stem]
        for block in self.blocks:
            order += [c for c in (block.expand, block.depthwise, block.project) if c is not None]
        if self.with_head:
            order += [self.conv_last, self.logits]
        return order


def convert(tflite_path: str | Path) -> dict[str, torch.Tensor]:
    """The float state dict of :class:`MobileNetV2` from the coral TFLite file."""
    from gan_engine.pretrained.tflite_reader import TFLiteError, read_ops

    ops = [op for op in read_ops(tflite_path) if op.name in ("CONV_2D", "DEPTHWISE_CONV_2D")]
    net = MobileNetV2(with_head=True)
    convs = net.convs()
    if len(ops) != len(convs):
        raise TFLiteError(f"{tflite_path}: {len(ops)} convolutions, MobileNetV2 1.0 has {len(convs)}")
    state: dict[str, torch.Tensor] = {}
    names = {id(m): n for n, m in net.named_modules()}
    for op, conv in zip(ops, convs):
        w, b = op.weights[1], op.weights[2]
        # OHWI -> OIHW for convolutions, 1HWO -> O1HW for depthwise ones.
        w = w.transpose(0, 3, 1, 2) if op.name == "CONV_2D" else w.transpose(3, 0, 1, 2)
        if tuple(w.shape) != tuple(conv.weight.shape) or op.stride[0] != conv.stride[0]:
            raise TFLiteError(f"{tflite_path}: {names[id(conv)]} expects {tuple(conv.weight.shape)}, "
                              f"stride {conv.stride[0]}; file has {w.shape}, stride {op.stride[0]}")
        state[f"{names[id(conv)]}.weight"] = torch.from_numpy(w.copy())
        state[f"{names[id(conv)]}.bias"] = torch.from_numpy(b.copy())
    return state


def load(path: str | Path, *, with_head: bool = False) -> MobileNetV2:
    """A frozen MobileNetV2 from a converted safetensors file (eval mode, no gradients to weights)."""
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise MobileNetWeightsError(f"MobileNetV2 weights not found: {path} "
                                    "(make them with `python -m gan_engine convert-mobilenet`)")
    state = load_file(str(path))
    net = MobileNetV2(with_head=with_head)
    wanted = net.state_dict()
    missing = [k for k in wanted if k not in state]
    if missing:
        raise MobileNetWeightsError(f"{path}: missing {missing[:3]}")
    net.load_state_dict({k: state[k].float() for k in wanted})
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net

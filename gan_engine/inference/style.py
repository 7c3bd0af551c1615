"""Reference-style transfer: give a content image the look of a reference image.

Applying the three methods; the losses are in :mod:`gan_engine.losses.style`, the feed-forward
training in :mod:`gan_engine.training.style`, the evaluation in :mod:`gan_engine.evaluation.style`.

Three ways, from cheapest to most expressive (``METHODS``):

- ``"color"``, :func:`color_transfer`: colour and tone transfer by matching per-channel mean and
  standard deviation in CIE Lab (Reinhard et al. 2001, "Color transfer between images"). The
  statistics come from copies of both images shrunk to ``max_side`` pixels; the map is then a
  per-pixel affine function of Lab, applied in row blocks, so a 64 MP scan costs a few seconds
  and little memory. Grey content has no chroma to stretch: its a and b follow the reference's
  *tone curve* instead (a and b regressed on L in the reference), so a grey print given a sepia
  reference is toned, warmer in the shadows than in the highlights if the reference is.
  Often what a curator wants for a faded print; no texture is moved.
- ``"optimize"``, :func:`optimize_style`: Gatys et al. (2016): the image itself is optimised
  (from the content image) to minimise ``alpha * content + beta * style + gamma * TV`` on the
  feature network (:class:`gan_engine.archs.features.FeatureNetwork`), with Adam or L-BFGS, at a
  working resolution capped at ``max_side`` (512 px long side by default). For a larger content
  image, the *change* found at the working resolution is upsampled (bicubic) and added to the
  full-resolution content: fine detail of the scan is kept, the style's colours and textures
  arrive at the working resolution's scale. Seconds to minutes on a CPU.
- ``"feedforward"``, :func:`gan_engine.training.style.train_feedforward` + :class:`Stylizer`: Johnson et al. (2016): a
  generator trained for ONE reference on content crops, with the same perceptual loss plus an
  adversarial term from an unconditional PatchGAN judging patches of the reference against
  patches of the generator's output. Applying it is one tiled forward pass (any image size,
  output the size of the input). The reference is baked into the weights; the model card
  records its path and sha256.

Images are float32 numpy arrays (H, W, 3) in [0, 1] (grey (H, W) or (H, W, 1) is accepted and
replicated to three channels: style transfer may add colour to a grey print). Style and content
losses are reported the same way for all three methods by :func:`gan_engine.losses.style.style_scores`: on copies
shrunk to ``max_side``, with the style loss over ``STYLE_LAYERS`` (Gram matrices, Gatys'
N_l^2 M_l^2 normalisation) and the content loss at ``CONTENT_LAYERS``.

Feature network: without VGG19 weights (``feature_weights``; the CLI reads ``GAN_VGG19_WEIGHTS``) this is the seeded
random multi-scale network (Ustyuzhaninov et al. 2016): its Gram matrices capture colour and
texture statistics at five scales, but it has no semantic features, so "content" means local
structure, not objects, and "style" is colour plus texture, not brush strokes that follow
shapes. See docs/style.md.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from gan_engine.data import color, imageio
from gan_engine.data.imageio import as_rgb, load_rgb
from gan_engine.data.resampling import resize_max_side, resize_to
from gan_engine.devices import resolve_device
from gan_engine.inference.base import ModelWrapper, check_strength as _check_strength
from gan_engine.inference.wrappers import WEIGHTS_DIR
from gan_engine.losses import perceptual
from gan_engine.losses.style import (
    CONTENT_LAYERS, FINE_STYLE_LAYERS, feature_network, image_to_tensor, reference_grams, tensor_to_image,
)
from gan_engine.errors import InvalidInputError

__all__ = [
    "METHODS", "DEFAULT_WEIGHTS", "CARD_TASK", "LabStats", "lab_statistics", "color_transfer", "StyleReport",
    "StyleOptimizeConfig", "optimize_style", "Stylizer", "stylize", "stylize_file",
]

log = logging.getLogger(__name__)

METHODS = ("color", "optimize", "feedforward")
DEFAULT_WEIGHTS = WEIGHTS_DIR / "style.safetensors"
CARD_TASK = "style"

ProgressFn = Callable[[float], None]


def _is_gray(rgb: np.ndarray, tol: float = 1.0 / 512) -> bool:
    return bool(np.abs(rgb[..., 0] - rgb[..., 1]).max() <= tol and np.abs(rgb[..., 1] - rgb[..., 2]).max() <= tol)


def _blend(content: np.ndarray, styled: np.ndarray, strength: float) -> np.ndarray:
    if strength == 1.0:
        return styled
    return np.clip(content + strength * (styled - content), 0.0, 1.0).astype(np.float32)


# --------------------------------------------------------------------------------------------
# 1. Colour and tone transfer (Reinhard et al. 2001, in CIE Lab)
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LabStats:
    """Lab statistics of an image: per-channel mean and std, and the tone curve of a and b on L."""

    mean: tuple[float, float, float]  # (L, a, b) means
    std: tuple[float, float, float]  # (L, a, b) standard deviations
    ab_slope: tuple[float, float]  # least-squares slopes d a / d L and d b / d L (the toning curve)


def lab_statistics(image: np.ndarray, *, max_side: int | None = 512) -> LabStats:
    """Lab statistics of ``image`` (any accepted layout), from a copy shrunk to ``max_side``."""
    small = resize_max_side(as_rgb(image), max_side)
    lab = color.rgb_to_lab(small).reshape(-1, 3).astype(np.float64)
    mean, std = lab.mean(axis=0), lab.std(axis=0)
    centred = lab - mean
    var_l = max(float(std[0]) ** 2, 1e-6)
    slope = (centred[:, 1:] * centred[:, :1]).mean(axis=0) / var_l
    return LabStats(tuple(map(float, mean)), tuple(map(float, std)), tuple(map(float, slope)))


def _affine_lab(cs: LabStats, rs: LabStats, *, max_gain: float, chroma_floor: float) -> dict:
    """Coefficients of the Lab map: L' = gL (L - mL) + mL'; ab' = m + g (ab - m_c) + k (L' - mL')."""
    gain = [min(r / c, max_gain) if c > 1e-6 else 0.0 for r, c in zip(rs.std, cs.std)]
    # Weight of Reinhard's affine map for a and b: 1 when the content has chroma to stretch, 0 for
    # a grey image (its a and b are constant, scanner noise at most), a linear ramp in between.
    w = [min(1.0, max(0.0, (c - chroma_floor) / chroma_floor)) for c in cs.std[1:]]
    return {
        "l_gain": gain[0], "l_from": cs.mean[0], "l_to": rs.mean[0],
        "ab_gain": [w[i] * gain[1 + i] for i in range(2)],
        "ab_from": list(cs.mean[1:]), "ab_to": list(rs.mean[1:]),
        "ab_slope": [(1.0 - w[i]) * rs.ab_slope[i] for i in range(2)],
    }


def color_transfer(content: np.ndarray, reference: np.ndarray, *, strength: float = 1.0,
                   max_side: int | None = 512, max_gain: float = 4.0, chroma_floor: float = 1.0,
                   block_pixels: int = 1 << 20, progress: ProgressFn | None = None) -> np.ndarray:
    """Colour and tone of ``reference`` onto ``content`` by Lab statistics (Reinhard et al. 2001).

    Args:
        content: float32 (H, W, 3) in [0, 1] (grey (H, W) / (H, W, 1) accepted; alpha dropped).
        reference: the same layouts, any size.
        strength: 0 returns the content, 1 the full transfer; in between, a linear blend in Lab.
        max_side: statistics are taken on copies shrunk to this long side (None: full size).
        max_gain: cap on the std ratio reference / content per channel, so a nearly flat channel
            (a faded print's chroma) is not stretched into noise.
        chroma_floor: Lab units; a content a or b channel whose std is below it is treated as
            grey and follows the reference's tone curve (a, b regressed on L); between one and two
            floors the two maps are blended.
        block_pixels: the per-pixel map runs over row blocks of about this many pixels.
        progress: called with the finished fraction after every block.

    Returns:
        float32 (H, W, 3) in [0, 1]: L, a and b means (and, where the content has them, stds)
        are those of the reference, up to gamut clipping.
    """
    strength = _check_strength(strength)
    content = as_rgb(content, "content")
    cs = lab_statistics(content, max_side=max_side)
    rs = lab_statistics(reference, max_side=max_side)
    m = _affine_lab(cs, rs, max_gain=max_gain, chroma_floor=chroma_floor)
    log.debug("color_transfer: content %s, reference %s, map %s", cs, rs, m)
    height, width, _ = content.shape
    out = np.empty_like(content)
    rows = max(1, block_pixels // width)
    for y0 in range(0, height, rows):
        lab = color.rgb_to_lab(content[y0:y0 + rows])  # (h, W, 3)
        new = np.empty_like(lab)
        new[..., 0] = (lab[..., 0] - m["l_from"]) * m["l_gain"] + m["l_to"]
        for i in range(2):
            new[..., 1 + i] = (m["ab_to"][i] + m["ab_gain"][i] * (lab[..., 1 + i] - m["ab_from"][i])
                               + m["ab_slope"][i] * (new[..., 0] - m["l_to"]))
        if strength < 1.0:
            new = lab + strength * (new - lab)
        out[y0:y0 + rows] = color.lab_to_rgb(new)
        if progress is not None:
            progress(min(1.0, (y0 + rows) / height))
    return out


# --------------------------------------------------------------------------------------------
# 2. Optimisation of the image (Gatys et al. 2016)
# --------------------------------------------------------------------------------------------

@dataclass
class StyleReport:
    """Style and content losses before (the content image) and after (the result), and the time."""

    method: str
    style_before: float
    style_after: float
    content_before: float
    content_after: float
    seconds: float
    steps: int = 0
    working_size: tuple[int, int] | None = None  # (H, W) of the optimisation, when it was shrunk
    feature_network: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        if d["working_size"] is not None:
            d["working_size"] = list(d["working_size"])
        return d


@dataclass(frozen=True)
class StyleOptimizeConfig:
    """Gatys-style optimisation of the image; every default is what the CLI uses."""

    steps: int = 200  # optimiser steps (L-BFGS: iterations of at most `lbfgs_evals` loss evaluations each)
    optimizer: str = "adam"  # "adam" (one loss evaluation per step: predictable time) | "lbfgs" (Gatys)
    lr: float = 0.01  # Adam step size in [0, 1] pixel units (L-BFGS: its own step length, 1.0)
    lbfgs_evals: int = 4  # loss evaluations per L-BFGS step (max_iter of torch.optim.LBFGS)
    alpha: float = 1.0  # content weight
    beta: float = 1000.0  # style weight (style losses are ~1e-2 before, content losses ~1e-1 after)
    gamma: float = 0.1  # total-variation weight: keeps the optimised pixels from speckling
    max_side: int = 512  # working resolution: long side of the optimised image (the reference is shrunk to match)
    init: str = "content"  # "content" (Gatys' init for transfer) | "color" (start from color_transfer) | "noise"
    seed: int = 0  # seeds the "noise" init (its own generator; the rest is deterministic)
    style_layers: tuple[str, ...] = FINE_STYLE_LAYERS
    content_layers: tuple[str, ...] = CONTENT_LAYERS
    feature_weights: str | None = None  # torchvision VGG19 state dict; None: the seeded random network
    device: str = "cpu"  # "cpu" | "cuda" | "cuda:N" | "auto"
    progress: bool = True  # tqdm progress bar

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise InvalidInputError(f"steps must be >= 0, got {self.steps}")
        if self.optimizer not in ("adam", "lbfgs"):
            raise InvalidInputError(f"optimizer must be 'adam' or 'lbfgs', not {self.optimizer!r}")
        if self.init not in ("content", "color", "noise"):
            raise InvalidInputError(f"init must be 'content', 'color' or 'noise', not {self.init!r}")
        if self.max_side < 16:
            raise InvalidInputError(f"max_side must be >= 16, got {self.max_side}")
        perceptual.LossWeights(alpha=self.alpha, beta=self.beta, gamma=self.gamma)  # validates >= 0


def optimize_style(content: np.ndarray, reference: np.ndarray, config: StyleOptimizeConfig = StyleOptimizeConfig(),
                   *, strength: float = 1.0, progress: ProgressFn | None = None) -> tuple[np.ndarray, StyleReport]:
    """Optimise the image (Gatys et al.): min alpha * content + beta * style + gamma * TV.

    Args:
        content: float32 (H, W, 3) in [0, 1] (grey layouts accepted, replicated to 3 channels).
        reference: the style image, any size (shrunk to ``config.max_side``).
        config: steps, optimiser, weights, working resolution, init, seed, device.
        strength: blend of the result with the content (1: the optimised image).
        progress: called with the finished fraction after every step.

    Returns:
        (image float32 (H, W, 3) in [0, 1], StyleReport with the losses at the working
        resolution before (the content) and after (the optimised image), and the seconds).
        For content larger than ``max_side`` the change found at the working resolution is
        upsampled bicubically and added to the full-size content.
    """
    strength = _check_strength(strength)
    t0 = time.perf_counter()
    device = resolve_device(config.device)
    content = as_rgb(content, "content")
    work = resize_max_side(content, config.max_side)  # (h, w, 3)
    net = feature_network(config.feature_weights, config.style_layers + config.content_layers).to(device)
    # The reference at the working image's long side: both then span the same number of pixels,
    # so the textures the Gram matrices describe are at comparable scales (a 180 px content given
    # a 512 px reference otherwise receives textures three times too coarse).
    grams = reference_grams(net, reference, max_side=max(work.shape[:2]), layers=config.style_layers, device=device)
    weights = perceptual.LossWeights(alpha=config.alpha, beta=config.beta, gamma=config.gamma,
                                 l1=0.0, adversarial=0.0, feature_matching=0.0)
    x_content = image_to_tensor(work, device)
    with torch.no_grad():
        feats_content = net(x_content)

    def evaluate(x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return perceptual.perceptual_loss(net(x), feats_content, grams, weights, content_layers=config.content_layers,
                                      style_layers=config.style_layers, image=x)

    if config.init == "content":
        x0 = x_content.clone()
    elif config.init == "color":
        x0 = image_to_tensor(color_transfer(work, reference, max_side=config.max_side), device)
    else:
        gen = torch.Generator().manual_seed(config.seed)
        x0 = torch.rand(x_content.shape, generator=gen).to(device)
    with torch.no_grad():
        _, before = evaluate(x_content)
    x = x0.clone().requires_grad_(True)
    if config.optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam([x], lr=config.lr)
    else:
        opt = torch.optim.LBFGS([x], lr=1.0, max_iter=config.lbfgs_evals, history_size=20,
                                line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        total, _ = evaluate(x)
        total.backward()
        return total

    bar = None
    if config.progress and config.steps:
        from tqdm import tqdm
        bar = tqdm(total=config.steps, desc="style optimize", dynamic_ncols=True, leave=False)
    for step in range(config.steps):
        loss = opt.step(closure)
        with torch.no_grad():
            x.clamp_(0.0, 1.0)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{float(loss):.4g}")
        if progress is not None:
            progress((step + 1) / config.steps)
    if bar is not None:
        bar.close()
    with torch.no_grad():
        _, after = evaluate(x)
    result_work = tensor_to_image(x)
    if work.shape != content.shape:
        change = resize_to(result_work - work, *content.shape[:2])
        result = np.clip(content + change, 0.0, 1.0).astype(np.float32)
    else:
        result = np.clip(result_work, 0.0, 1.0).astype(np.float32)
    result = _blend(content, result, strength)
    report = StyleReport(method="optimize", style_before=float(before["style"]), style_after=float(after["style"]),
                         content_before=float(before["content"]), content_after=float(after["content"]),
                         seconds=time.perf_counter() - t0, steps=config.steps,
                         working_size=tuple(work.shape[:2]) if work.shape != content.shape else None,
                         feature_network=net.describe())
    log.info("optimize_style: style %.4g -> %.4g, content %.4g -> %.4g, %.1f s", report.style_before,
             report.style_after, report.content_before, report.content_after, report.seconds)
    return result, report


# --------------------------------------------------------------------------------------------
# 3. A trained feed-forward model (Johnson et al. 2016; trained by gan_engine.training.style)
# --------------------------------------------------------------------------------------------

class Stylizer(ModelWrapper):
    """A trained feed-forward style model, loaded once, applied by tiles to images of any size.

    >>> s = Stylizer()                                   # gan_engine/weights/style.safetensors
    >>> out = s.stylize(img)                             # float32 (H, W, 3) in [0, 1] -> same shape
    >>> s.stylize_file("scan.tif", "scan_style.png", strength=0.8, progress=print)
    """

    task = CARD_TASK

    def __init__(self, weights: str | Path | None = None, *, device: str = "auto", tile: int = 512):
        super().__init__(weights, DEFAULT_WEIGHTS, device=device, tile=tile)
        self.pad = int(self.card.get("reflect_pad", 0))

    @property
    def reference(self) -> dict:
        """The card's record of the reference: {"path", "file", "sha256", "size", "used_at"}."""
        return dict(self.card.get("reference") or {})

    def stylize(self, image: np.ndarray, *, strength: float = 1.0, tile: int | None = None,
                progress: ProgressFn | None = None) -> np.ndarray:
        """float32 image (grey layouts accepted) -> float32 (H, W, 3) in [0, 1], same H and W."""
        strength = _check_strength(strength)
        rgb = as_rgb(image)
        pad = self.pad
        if pad:  # reflect-pad (the model was trained without its zero-padded border, see StyleTrainConfig.margin)
            rgb_in = np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="symmetric")
        else:
            rgb_in = rgb
        out = self._run_tiled(rgb_in, tile, progress)
        if pad:
            out = out[pad:pad + rgb.shape[0], pad:pad + rgb.shape[1]]
        return _blend(rgb, np.clip(out, 0.0, 1.0), strength)

    def stylize_file(self, path_in: str | Path, path_out: str | Path, *, strength: float = 1.0,
                     tile: int | None = None, progress: ProgressFn | None = None) -> Path:
        """As :func:`stylize_file` with ``method="feedforward"`` and this model."""
        return stylize_file(path_in, path_out, method="feedforward", stylizer=self, strength=strength,
                            tile=tile, progress=progress)


# --------------------------------------------------------------------------------------------
# One entry point for the three methods
# --------------------------------------------------------------------------------------------

def stylize(content: np.ndarray, *, method: str = "color", reference: np.ndarray | None = None,
            stylizer: Stylizer | None = None, weights: str | Path | None = None,
            config: StyleOptimizeConfig | None = None, strength: float = 1.0, tile: int | None = None,
            device: str = "auto", progress: ProgressFn | None = None) -> np.ndarray:
    """Apply ``method`` to ``content`` float32 (H, W, 3) -> float32 (H, W, 3) in [0, 1].

    "color" and "optimize" need ``reference`` (an array); "feedforward" uses ``stylizer`` (or
    loads ``weights``, default the shipped model) and ignores ``reference``. ``config`` is the
    optimisation's (default: StyleOptimizeConfig() on ``device`` without a progress bar).
    """
    if method not in METHODS:
        raise InvalidInputError(f"unknown style method {method!r}; choose from {', '.join(METHODS)}")
    strength = _check_strength(strength)
    if method == "feedforward":
        stylizer = stylizer or Stylizer(weights, device=device)
        return stylizer.stylize(content, strength=strength, tile=tile, progress=progress)
    if reference is None:
        raise InvalidInputError(f"method {method!r} needs a reference image")
    if method == "color":
        return color_transfer(content, reference, strength=strength, progress=progress)
    config = config or StyleOptimizeConfig(device=str(resolve_device(device)), progress=False)
    return optimize_style(content, reference, config, strength=strength, progress=progress)[0]


def stylize_file(path_in: str | Path, path_out: str | Path, *, method: str = "color",
                 reference: str | Path | np.ndarray | None = None, weights: str | Path | None = None,
                 stylizer: Stylizer | None = None, config: StyleOptimizeConfig | None = None,
                 strength: float = 1.0, tile: int | None = None, device: str = "auto",
                 progress: ProgressFn | None = None) -> Path:
    """Style an image file into a PNG; returns ``path_out``.

    ``reference`` is an image path or an array (needed by "color" and "optimize"; ignored by
    "feedforward", whose reference is baked into the weights). The output keeps the
    input's bit depth, alpha and ICC profile; it is RGB (style transfer may tone a grey print),
    unless input and result are both grey. Raises ``imageio.ImageReadError`` for a missing or
    unreadable input or reference, ``ValueError`` for a bad method or strength,
    ``checkpoints.CheckpointError`` for unusable weights.
    """
    if method not in METHODS:
        raise InvalidInputError(f"unknown style method {method!r}; choose from {', '.join(METHODS)}")
    strength = _check_strength(strength)
    ref = None
    if method != "feedforward":
        if reference is None:
            raise InvalidInputError(f"method {method!r} needs a reference image")
        ref = reference if isinstance(reference, np.ndarray) else load_rgb(reference)
    loaded = imageio.load_image(path_in)
    out = stylize(loaded.rgb, method=method, reference=ref, stylizer=stylizer, weights=weights, config=config,
                  strength=strength, tile=tile, device=device, progress=progress)
    gray = loaded.is_gray and _is_gray(out)
    return imageio.save_image(path_out, out, bit_depth=loaded.bit_depth, alpha=loaded.alpha, gray=gray,
                              icc_profile=loaded.icc_profile)

"""Reference-style transfer: give a content image the look of a reference image.

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
  feature network (:class:`gan_engine.features.FeatureNetwork`), with Adam or L-BFGS, at a
  working resolution capped at ``max_side`` (512 px long side by default). For a larger content
  image, the *change* found at the working resolution is upsampled (bicubic) and added to the
  full-resolution content: fine detail of the scan is kept, the style's colours and textures
  arrive at the working resolution's scale. Seconds to minutes on a CPU.
- ``"feedforward"``, :func:`train_feedforward` + :class:`Stylizer`: Johnson et al. (2016): a
  generator trained for ONE reference on content crops, with the same perceptual loss plus an
  adversarial term from an unconditional PatchGAN judging patches of the reference against
  patches of the generator's output. Applying it is one tiled forward pass (any image size,
  output the size of the input). The reference is baked into the weights; the model card
  records its path and sha256.

Images are float32 numpy arrays (H, W, 3) in [0, 1] (grey (H, W) or (H, W, 1) is accepted and
replicated to three channels: style transfer may add colour to a grey print). Style and content
losses are reported the same way for all three methods by :func:`style_scores`: on copies
shrunk to ``max_side``, with the style loss over ``STYLE_LAYERS`` (Gram matrices, Gatys'
N_l^2 M_l^2 normalisation) and the content loss at ``CONTENT_LAYERS``.

Feature network: without VGG19 weights on disk (``GAN_VGG19_WEIGHTS``) this is the seeded
random multi-scale network (Ustyuzhaninov et al. 2016): its Gram matrices capture colour and
texture statistics at five scales, but it has no semantic features, so "content" means local
structure, not objects, and "style" is colour plus texture, not brush strokes that follow
shapes. See docs/style.md.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gan_engine import archs, checkpoints
from gan_engine.archs.features import FeatureNetwork
from gan_engine.cards import sha256_file
from gan_engine.data import color, imageio, pairs
from gan_engine.devices import resolve_device
from gan_engine.inference import tiling
from gan_engine.inference.wrappers import WEIGHTS_DIR
from gan_engine.losses import adversarial, perceptual

__all__ = [
    "METHODS", "STYLE_LAYERS", "FINE_STYLE_LAYERS", "CONTENT_LAYERS", "DEFAULT_WEIGHTS", "LabStats",
    "lab_statistics", "reference_grams",
    "color_transfer", "StyleReport", "StyleScorer", "style_scores", "StyleOptimizeConfig", "optimize_style",
    "StyleTrainConfig", "train_feedforward", "Stylizer", "stylize", "stylize_file", "evaluate_style",
    "format_table", "image_grid", "load_rgb", "resize_max_side",
]

log = logging.getLogger(__name__)

METHODS = ("color", "optimize", "feedforward")
#: Gatys' style layers (one per scale, 1 to 1/16): what the reported style loss is measured on.
STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
#: The layers optimised against (scales 1 to 1/4). With relu4_1 and relu5_1 of the random
#: network (avg-pooled 8 and 16 times) in the loss, both the optimised pixels and the U-Net
#: grew 8-16 px block patterns and colour blotches in every run we looked at; colour and grain
#: live at the fine scales anyway.
FINE_STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1")
#: Content layer: 1/4 scale. Gatys used relu4_2 of VGG (semantic); the random network has no
#: semantics, and a coarser layer lets the structure of the content dissolve into texture.
CONTENT_LAYERS: tuple[str, ...] = ("relu3_1",)
DEFAULT_WEIGHTS = WEIGHTS_DIR / "style.safetensors"
CARD_TASK = "style"

ProgressFn = Callable[[float], None]


# --------------------------------------------------------------------------------------------
# Image helpers
# --------------------------------------------------------------------------------------------

def _as_rgb(image: np.ndarray, name: str = "image") -> np.ndarray:
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) float in [0, 1] -> float32 (H, W, 3) (alpha dropped)."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4) or min(image.shape[:2]) < 1:
        raise ValueError(f"{name} must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got shape {image.shape}")
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return np.ascontiguousarray(image[..., :3], dtype=np.float32)


def resize_max_side(image: np.ndarray, max_side: int | None) -> np.ndarray:
    """Shrink (area filter) so that max(H, W) <= max_side; smaller images are returned as they are."""
    import cv2

    if not max_side or max(image.shape[:2]) <= max_side:
        return image
    f = max_side / max(image.shape[:2])
    size = (max(1, round(image.shape[1] * f)), max(1, round(image.shape[0] * f)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _resize_to(image: np.ndarray, height: int, width: int) -> np.ndarray:
    import cv2

    if image.shape[:2] == (height, width):
        return image
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_CUBIC)


def load_rgb(path: str | Path) -> np.ndarray:
    """An image file -> float32 (H, W, 3) in [0, 1] (grey replicated, alpha dropped); ImageReadError."""
    return _as_rgb(imageio.load_image(path).rgb)


def _to_tensor(image: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """(H, W, 3) -> (1, 3, H, W) float32."""
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))
    return x.permute(2, 0, 1).unsqueeze(0).contiguous().to(device)


def _to_image(x: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) -> (H, W, 3) float32 on the host."""
    return x.detach()[0].permute(1, 2, 0).float().cpu().numpy()


def _is_gray(rgb: np.ndarray, tol: float = 1.0 / 512) -> bool:
    return bool(np.abs(rgb[..., 0] - rgb[..., 1]).max() <= tol and np.abs(rgb[..., 1] - rgb[..., 2]).max() <= tol)


def _blend(content: np.ndarray, styled: np.ndarray, strength: float) -> np.ndarray:
    if strength == 1.0:
        return styled
    return np.clip(content + strength * (styled - content), 0.0, 1.0).astype(np.float32)


def _check_strength(strength: float) -> float:
    strength = float(strength)
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    return strength


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
    small = resize_max_side(_as_rgb(image), max_side)
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
    content = _as_rgb(content, "content")
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
# Losses as reported (the same for all methods)
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


class StyleScorer:
    """Style loss against one reference and content loss against a content image.

    The reference's Gram matrices are computed once (at ``max_side``). ``score(image, content)``
    shrinks both to ``max_side`` and returns ``{"style", "content"}`` floats.
    """

    def __init__(self, reference: np.ndarray, *, feature_net: FeatureNetwork | None = None,
                 max_side: int = 512, style_layers: Sequence[str] = STYLE_LAYERS,
                 content_layers: Sequence[str] = CONTENT_LAYERS, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self.style_layers, self.content_layers = tuple(style_layers), tuple(content_layers)
        self.max_side = max_side
        self.net = feature_net or _feature_network(None, self.style_layers + self.content_layers)
        self.net.to(self.device)
        self.grams = reference_grams(self.net, reference, max_side=max_side, layers=self.style_layers,
                                     device=self.device)

    @torch.no_grad()
    def score(self, image: np.ndarray, content: np.ndarray) -> dict[str, float]:
        img = resize_max_side(_as_rgb(image), self.max_side)
        ref = resize_max_side(_as_rgb(content), self.max_side)
        f_img = self.net(_to_tensor(img, self.device))
        f_ref = self.net(_to_tensor(_resize_to(ref, *img.shape[:2]), self.device))
        style = perceptual.style_loss(f_img, self.grams, self.style_layers)
        content_l = sum(perceptual.content_loss(f_img[n], f_ref[n]) for n in self.content_layers) / len(self.content_layers)
        return {"style": float(style), "content": float(content_l)}


def _feature_network(weights: str | None, layers: Sequence[str]) -> FeatureNetwork:
    from gan_engine.archs.features import VGG19_LAYERS

    ordered = tuple(n for n in VGG19_LAYERS if n in set(layers))
    return FeatureNetwork(weights, ordered)


@torch.no_grad()
def reference_grams(net: FeatureNetwork, reference: np.ndarray, *, max_side: int = 512,
                    layers: Sequence[str] = STYLE_LAYERS,
                    device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """{layer: Gram (1, C, C)} of the reference shrunk to ``max_side``."""
    ref = resize_max_side(_as_rgb(reference, "reference"), max_side)
    feats = net(_to_tensor(ref, device))
    return {name: perceptual.gram_matrix(feats[name]) for name in layers}


def style_scores(image: np.ndarray, content: np.ndarray, reference: np.ndarray, *,
                 max_side: int = 512, feature_net: FeatureNetwork | None = None) -> dict[str, float]:
    """One-off ``StyleScorer(reference).score(image, content)``: {"style", "content"}."""
    return StyleScorer(reference, feature_net=feature_net, max_side=max_side).score(image, content)


# --------------------------------------------------------------------------------------------
# 2. Optimisation of the image (Gatys et al. 2016)
# --------------------------------------------------------------------------------------------

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
    feature_weights: str | None = None  # torchvision VGG19 state dict; None: env or the random network
    device: str = "cpu"  # "cpu" | "cuda" | "cuda:N" | "auto"
    progress: bool = True  # tqdm progress bar

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise ValueError(f"steps must be >= 0, got {self.steps}")
        if self.optimizer not in ("adam", "lbfgs"):
            raise ValueError(f"optimizer must be 'adam' or 'lbfgs', not {self.optimizer!r}")
        if self.init not in ("content", "color", "noise"):
            raise ValueError(f"init must be 'content', 'color' or 'noise', not {self.init!r}")
        if self.max_side < 16:
            raise ValueError(f"max_side must be >= 16, got {self.max_side}")
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
    content = _as_rgb(content, "content")
    work = resize_max_side(content, config.max_side)  # (h, w, 3)
    net = _feature_network(config.feature_weights, config.style_layers + config.content_layers).to(device)
    # The reference at the working image's long side: both then span the same number of pixels,
    # so the textures the Gram matrices describe are at comparable scales (a 180 px content given
    # a 512 px reference otherwise receives textures three times too coarse).
    grams = reference_grams(net, reference, max_side=max(work.shape[:2]), layers=config.style_layers, device=device)
    weights = perceptual.LossWeights(alpha=config.alpha, beta=config.beta, gamma=config.gamma,
                                 l1=0.0, adversarial=0.0, feature_matching=0.0)
    x_content = _to_tensor(work, device)
    with torch.no_grad():
        feats_content = net(x_content)

    def evaluate(x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return perceptual.perceptual_loss(net(x), feats_content, grams, weights, content_layers=config.content_layers,
                                      style_layers=config.style_layers, image=x)

    if config.init == "content":
        x0 = x_content.clone()
    elif config.init == "color":
        x0 = _to_tensor(color_transfer(work, reference, max_side=config.max_side), device)
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
    result_work = _to_image(x)
    if work.shape != content.shape:
        change = _resize_to(result_work - work, *content.shape[:2])
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
# 3. Feed-forward generator for one reference (Johnson et al. 2016) + PatchGAN on style patches
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StyleTrainConfig:
    """A feed-forward style model for ONE reference (recorded in full in the model card)."""

    reference: str = ""  # the style image (its path and sha256 go into the card; the image is not stored)
    data: tuple[str, ...] = ()  # folders of content images; each is sampled equally often
    out: str = "runs/style"  # folder of the checkpoint (<out>/<name>.safetensors + .json)
    name: str = "style"  # file stem of the checkpoint
    # --- data ---
    crop: int = 128  # content crop side (px), a multiple of the generator's size_multiple
    batch: int = 4  # crops per step
    max_side: int = 512  # content images are cached at this long side; the reference is used at it too
    max_images: int | None = 200  # at most this many images per folder are decoded (start-up time, RAM)
    scale_range: tuple[float, float] = (0.5, 1.0)  # random rescale of a content crop's source region
    val_crops: int = 8  # fixed content crops on which the losses before / after are measured
    # Pixels of G's output border left out of every loss: with zero-padded convolutions a style
    # loss rewards cheap high-contrast stripes along the crop's edges (seen in the first runs).
    # The Stylizer reflect-pads images by the receptive radius, so no zero padding reaches a kept pixel.
    margin: int = 16
    # --- models ---
    generator: str = "unet"  # key of archs.GENERATORS
    # 4 levels, widths 16..128: ~0.9 M parameters, receptive radius 74 px, ~0.4 s per step on 2 cores
    generator_config: dict = field(default_factory=lambda: {"base": 16, "mults": [1, 2, 4, 8],
                                                            "head": "residual"})
    discriminator: str = "patchgan"  # key of archs.DISCRIMINATORS, built unconditional (cond_ch=0)
    # 2 strided layers: 34 px patches, the scale of a texture rather than of a scene
    discriminator_config: dict = field(default_factory=lambda: {"ndf": 32, "n_layers": 2})
    feature_weights: str | None = None  # torchvision VGG19 state dict; None: env or the random network
    style_layers: tuple[str, ...] = FINE_STYLE_LAYERS  # see FINE_STYLE_LAYERS
    content_layers: tuple[str, ...] = CONTENT_LAYERS
    # --- losses ---
    alpha: float = 2.0  # content: features of G(x) against those of x (twice optimize's: one network
    # must serve every image; at 1.0 faces and fur went ghostly in the first runs)
    beta: float = 1000.0  # style: Grams of G(x) against the reference's (as StyleOptimizeConfig)
    gamma: float = 0.1  # total variation of G(x)
    adversarial: float = 0.05  # G's adversarial term once D has started (~5% of the total loss)
    adv_kind: str = "lsgan"  # adversarial.d_adversarial_loss kind
    adv_start: float = 0.25  # fraction of the steps trained on the perceptual loss alone
    # --- optimisation ---
    steps: int = 400  # total steps
    lr: float = 1e-3  # peak Adam rate of G (Johnson et al.'s value), cosine decay to 5%
    lr_d: float = 2e-4  # Adam rate of D
    seed: int = 0  # seeds torch, the crop sampler and the validation crops
    threads: int | None = 2  # torch CPU threads (None: leave torch's setting)
    device: str = "cpu"
    time_limit_s: float | None = None  # time budget (s) of the whole run, data loading included; None: steps only.
    # With a budget, the run's progress is max(step / steps, elapsed / time_limit_s): the cosine
    # decay and the start of the adversarial phase follow whichever ends first (as training.py).
    log_every: int = 25  # steps between log lines
    progress: bool = True  # tqdm progress bar
    command: str = ""  # the command line, for the card

    def __post_init__(self) -> None:
        if not self.reference:
            raise ValueError("StyleTrainConfig.reference: give the style reference image")
        if not self.data:
            raise ValueError("StyleTrainConfig.data: give at least one folder of content images")
        if self.steps < 1 or self.batch < 1 or self.crop < 16:
            raise ValueError("steps >= 1, batch >= 1 and crop >= 16 are required")
        if self.margin < 0 or self.crop - 2 * self.margin < 16:
            raise ValueError(f"margin must be >= 0 and leave at least 16 px of the {self.crop} px crop")
        if not 0.0 <= self.adv_start <= 1.0:
            raise ValueError(f"adv_start must be in [0, 1], got {self.adv_start}")
        perceptual.LossWeights(alpha=self.alpha, beta=self.beta, gamma=self.gamma, adversarial=self.adversarial)
        if self.adv_kind not in adversarial.ADVERSARIAL_KINDS:
            raise ValueError(f"unknown adversarial loss {self.adv_kind!r}")


def _cosine_lr(progress: float, peak: float, floor_ratio: float = 0.05) -> float:
    """Cosine decay from ``peak`` at progress 0 to ``floor_ratio * peak`` at progress 1."""
    floor = peak * floor_ratio
    return floor + 0.5 * (peak - floor) * (1.0 + math.cos(math.pi * min(1.0, progress)))


def _sample_crops(pools: Sequence[pairs.ImagePool], n: int, crop: int, rng: np.random.Generator,
                  scale_range: tuple[float, float]) -> torch.Tensor:
    """(n, 3, crop, crop) float32: a pool uniformly, an image uniformly in it, a random crop."""
    out = []
    for _ in range(n):
        pool = pools[int(rng.integers(0, len(pools)))]
        img = pool.images[int(rng.integers(0, len(pool.images)))]
        out.append(pairs.random_crop(img, crop, rng, scale_range))
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).contiguous()


def _load_pools(config: StyleTrainConfig) -> list[pairs.ImagePool]:
    pools = []
    for folder in config.data:
        paths = pairs.list_images(folder)
        if not paths:
            raise ValueError(f"no images in {folder}")
        if config.max_images and len(paths) > config.max_images:
            # an even spread over the sorted names, so every subset of a folder is represented
            keep = np.linspace(0, len(paths) - 1, config.max_images).round().astype(int)
            paths = [paths[i] for i in sorted(set(keep.tolist()))]
        images, kept = [], []
        for p in paths:
            img = pairs.decode_image(p, config.max_side)
            if min(img.shape[:2]) >= 16:
                images.append(img)
                kept.append(p)
        pools.append(pairs.ImagePool(str(folder), kept, images))
        log.info("style training: %d content images from %s", len(images), folder)
    return pools


def _centre(t: torch.Tensor, margin: int) -> torch.Tensor:
    """(B, C, H, W) without ``margin`` pixels on every side."""
    return t[..., margin:t.shape[-2] - margin, margin:t.shape[-1] - margin] if margin else t


@torch.no_grad()
def _measure(G: nn.Module, net: FeatureNetwork, x: torch.Tensor, grams: Mapping[str, torch.Tensor],
             config: StyleTrainConfig) -> dict[str, float]:
    """Mean style and content losses of G(x) (G=None: of x itself) over the validation crops' centres."""
    y = _centre(x if G is None else G(x), config.margin)
    x = _centre(x, config.margin)
    f_y, f_x = net(y), net(x)
    style = perceptual.style_loss(f_y, grams, config.style_layers)
    content = sum(perceptual.content_loss(f_y[n], f_x[n]) for n in config.content_layers) / len(config.content_layers)
    return {"style": float(style), "content": float(content), "tv": float(perceptual.tv_loss(y))}


def train_feedforward(config: StyleTrainConfig, *,
                      on_step: Callable[[int, dict[str, float]], None] | None = None) -> Path:
    """Train a feed-forward style generator for ``config.reference`` -> path of the .safetensors.

    Loss of G: alpha * content(G(x), x) + beta * style(G(x), reference Grams) + gamma * TV(G(x))
    (+ adversarial * g_adv(D(G(x))) after ``adv_start`` of the steps), where D is an
    unconditional PatchGAN trained to tell random crops of the reference from G's outputs
    (dcgan's step: D on real and on G(x).detach(), then G against D). G starts as the identity
    (residual head, last conv zeroed). The card records the reference's path and sha256, the
    feature network, the loss weights, the losses before/after on fixed validation crops, the
    steps and the seconds.
    """
    t_start = time.perf_counter()
    ref_path = Path(config.reference)
    reference = load_rgb(ref_path)  # ImageReadError for a missing or non-image file
    for folder in config.data:
        if not Path(folder).exists():
            raise FileNotFoundError(f"no such folder: {folder}")
    if config.threads:
        torch.set_num_threads(config.threads)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    val_rng = np.random.default_rng(config.seed + 1)

    pools = _load_pools(config)
    ref_small = resize_max_side(reference, config.max_side)
    ref_uint8 = (np.clip(ref_small, 0, 1) * 255 + 0.5).astype(np.uint8)  # random_crop takes uint8

    net = _feature_network(config.feature_weights, config.style_layers + config.content_layers).to(device)
    grams = reference_grams(net, ref_small, max_side=config.max_side, layers=config.style_layers, device=device)
    weights = perceptual.LossWeights(alpha=config.alpha, beta=config.beta, gamma=config.gamma, l1=0.0,
                                 adversarial=config.adversarial, feature_matching=0.0)

    G = archs.build_generator(config.generator, **config.generator_config).to(device)
    if config.crop % G.size_multiple:
        raise ValueError(f"crop {config.crop} is not a multiple of the generator's size_multiple {G.size_multiple}")
    if getattr(G, "config", {}).get("head") == "residual" and hasattr(G, "tail"):
        nn.init.zeros_(G.tail.weight)  # start as the identity: the content is there from step 0
        nn.init.zeros_(G.tail.bias)
    D = archs.build_discriminator(config.discriminator, **{**config.discriminator_config, "cond_ch": 0}).to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=(0.9, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr_d, betas=(0.5, 0.99))

    x_val = _sample_crops(pools, config.val_crops, config.crop, val_rng, (1.0, 1.0)).to(device)
    G.eval()
    measured = {"input": _measure(None, net, x_val, grams, config), "before": _measure(G, net, x_val, grams, config)}
    G.train()
    log.info("style training: %s params G, %s params D; validation before %s", archs.count_parameters(G),
             archs.count_parameters(D), measured["before"])


    def run_progress() -> float:
        p = step / config.steps
        if config.time_limit_s:
            p = max(p, (time.perf_counter() - t_start) / config.time_limit_s)
        return min(1.0, p)

    history: list[dict] = []
    running: dict[str, float] = {}
    bar = None
    if config.progress:
        from tqdm import tqdm
        bar = tqdm(total=config.steps, desc="train style", dynamic_ncols=True)
    step = 0
    adversarial_on = config.adv_start == 0.0
    stopped_early = False
    while step < config.steps:
        for group in opt_g.param_groups:
            group["lr"] = _cosine_lr(run_progress(), config.lr)
        x = _sample_crops(pools, config.batch, config.crop, rng, config.scale_range).to(device)  # (B, 3, c, c)
        y = _centre(G(x), config.margin)  # (B, 3, c - 2m, c - 2m) in [0, 1]
        with torch.no_grad():
            f_x = net(_centre(x, config.margin))
        total, parts = perceptual.perceptual_loss(net(y), f_x, grams, weights, content_layers=config.content_layers,
                                              style_layers=config.style_layers, image=y)
        logs = {k: float(v) for k, v in parts.items()}
        if config.adversarial > 0 and (adversarial_on or run_progress() >= config.adv_start):
            adversarial_on = True  # once started (by steps or by time), D stays in the loop
            real = _sample_crops([pairs.ImagePool("reference", [ref_path], [ref_uint8])], config.batch,
                                 y.shape[-1], rng, (1.0, 1.0)).to(device)  # patches of y's size
            none = real[:, :0]  # an empty condition: D is unconditional
            d_loss = adversarial.d_adversarial_loss(D(none, real), D(none, y.detach()), config.adv_kind)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            g_adv = adversarial.g_adversarial_loss(D(none, y), config.adv_kind)
            total = total + config.adversarial * g_adv
            logs.update(d=float(d_loss.detach()), g_adv=float(g_adv.detach()))
        opt_g.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(G.parameters(), 1.0)
        opt_g.step()
        step += 1
        logs["total"] = float(total.detach())
        for k, v in logs.items():
            running[k] = running.get(k, 0.0) + v
        running["n"] = running.get("n", 0) + 1
        if on_step is not None:
            on_step(step, logs)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(style=f"{logs['style']:.3g}", content=f"{logs['content']:.3g}")
        out_of_time = config.time_limit_s is not None and run_progress() >= 1.0 and step < config.steps
        if step % config.log_every == 0 or step == config.steps or out_of_time:
            n = running.pop("n")
            mean = {k: round(v / n, 6) for k, v in running.items()}
            history.append({"step": step, **mean})
            log.info("step %d: %s", step, mean)
            running = {}
        if out_of_time:
            stopped_early = True
            log.info("time budget of %.0f s spent after %d of %d steps", config.time_limit_s, step, config.steps)
            break
    if bar is not None:
        bar.close()
    G.eval()
    measured["after"] = _measure(G, net, x_val, grams, config)
    seconds = time.perf_counter() - t_start
    log.info("style training: %d steps in %.0f s; validation after %s", step, seconds, measured["after"])

    card = {
        "task": CARD_TASK,
        "name": config.name,
        "reference": {"path": str(config.reference), "file": ref_path.name, "sha256": sha256_file(ref_path),
                      "size": list(reference.shape[:2]), "used_at": list(ref_small.shape[:2])},
        "data": [str(d) for d in config.data],
        "content_images": {p.folder: len(p.images) for p in pools},
        "feature_network": net.describe(),
        "style_layers": list(config.style_layers),
        "content_layers": list(config.content_layers),
        "loss_weights": {"alpha": config.alpha, "beta": config.beta, "gamma": config.gamma,
                         "adversarial": config.adversarial, "adv_kind": config.adv_kind},
        "discriminator": {"architecture": config.discriminator,
                          "config": {**config.discriminator_config, "cond_ch": 0}},
        "steps": step,
        "stopped_early": stopped_early,
        "seconds": round(seconds, 1),
        "losses": {"validation_crops": config.val_crops, "crop": config.crop, **measured},
        "parameters": archs.count_parameters(G),
        "receptive_radius": int(G.receptive_radius),
        "margin": config.margin,  # output border left out of the training losses
        # The Stylizer reflect-pads images by this many pixels (the receptive radius rounded up to
        # the size multiple): with a margin of 16 alone, faint stripes remained along the edges.
        "reflect_pad": -(-int(G.receptive_radius) // G.size_multiple) * G.size_multiple,
        "train_config": _jsonable(asdict(config)),
        "command": config.command,
        "torch_version": torch.__version__,
        "history": history,
    }
    G = G.to("cpu")
    return checkpoints.save_checkpoint(Path(config.out) / f"{config.name}.safetensors", G, card)


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class Stylizer:
    """A trained feed-forward style model, loaded once, applied by tiles to images of any size.

    >>> s = Stylizer()                                   # gan_engine/weights/style.safetensors
    >>> out = s.stylize(img)                             # float32 (H, W, 3) in [0, 1] -> same shape
    >>> s.stylize_file("scan.tif", "scan_style.png", strength=0.8, progress=print)
    """

    def __init__(self, weights: str | Path | None = None, *, device: str = "auto", tile: int = 512):
        self.device = resolve_device(device)
        self.weights = Path(weights) if weights is not None else DEFAULT_WEIGHTS
        model, card = checkpoints.load_checkpoint(self.weights, device="cpu")
        if card.get("task") != CARD_TASK:
            raise checkpoints.CheckpointError(f"{self.weights.name} is a {card.get('task', 'restore')!r} model,"
                                              f" not a style model")
        self.model = tiling.prepare_for_inference(model, self.device)
        self.model.requires_grad_(False)
        self.card = card
        self.tile = tile
        self.pad = int(card.get("reflect_pad", 0))

    @property
    def reference(self) -> dict:
        """The card's record of the reference: {"path", "file", "sha256", "size", "used_at"}."""
        return dict(self.card.get("reference") or {})

    def stylize(self, image: np.ndarray, *, strength: float = 1.0, tile: int | None = None,
                progress: ProgressFn | None = None) -> np.ndarray:
        """float32 image (grey layouts accepted) -> float32 (H, W, 3) in [0, 1], same H and W."""
        strength = _check_strength(strength)
        rgb = _as_rgb(image)
        pad = self.pad
        if pad:  # reflect-pad (the model was trained without its zero-padded border, see StyleTrainConfig.margin)
            rgb_in = np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="symmetric")
        else:
            rgb_in = rgb
        out = tiling.run_tiled(self.model, rgb_in, tile=tile or self.tile, device=self.device, progress=progress)
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
        raise ValueError(f"unknown style method {method!r}; choose from {', '.join(METHODS)}")
    strength = _check_strength(strength)
    if method == "feedforward":
        stylizer = stylizer or Stylizer(weights, device=device)
        return stylizer.stylize(content, strength=strength, tile=tile, progress=progress)
    if reference is None:
        raise ValueError(f"method {method!r} needs a reference image")
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
        raise ValueError(f"unknown style method {method!r}; choose from {', '.join(METHODS)}")
    strength = _check_strength(strength)
    ref = None
    if method != "feedforward":
        if reference is None:
            raise ValueError(f"method {method!r} needs a reference image")
        ref = reference if isinstance(reference, np.ndarray) else load_rgb(reference)
    loaded = imageio.load_image(path_in)
    out = stylize(loaded.rgb, method=method, reference=ref, stylizer=stylizer, weights=weights, config=config,
                  strength=strength, tile=tile, device=device, progress=progress)
    gray = loaded.is_gray and _is_gray(out)
    return imageio.save_image(path_out, out, bit_depth=loaded.bit_depth, alpha=loaded.alpha, gray=gray,
                              icc_profile=loaded.icc_profile)


# --------------------------------------------------------------------------------------------
# Evaluation and pictures
# --------------------------------------------------------------------------------------------

def evaluate_style(folder: str | Path, reference: str | Path | None, *, method: str = "color",
                   weights: str | Path | None = None, config: StyleOptimizeConfig | None = None,
                   limit: int | None = None, max_side: int = 512, device: str = "auto",
                   progress: bool = False) -> dict:
    """Style and content losses before (each content image) and after ``method``, and seconds per image.

    Every image of ``folder`` (the first ``limit``) is styled at full size; losses are measured
    by :class:`StyleScorer` at ``max_side``. For "feedforward" without ``reference`` the losses
    are measured against the reference recorded in the model card (its path must exist).
    """
    if method not in METHODS:
        raise ValueError(f"unknown style method {method!r}; choose from {', '.join(METHODS)}")
    stylizer = Stylizer(weights, device=device) if method == "feedforward" else None
    if reference is None:
        if stylizer is None:
            raise ValueError(f"method {method!r} needs a reference image")
        reference = stylizer.reference.get("path")
        if not reference or not Path(reference).is_file():
            raise ValueError(f"give --reference: the model card's reference {reference!r} is not on this machine")
    ref = load_rgb(reference)
    scorer = StyleScorer(ref, max_side=max_side)
    paths = pairs.list_images(folder)[:limit]
    if not paths:
        raise ValueError(f"no images in {folder}")
    it = paths
    if progress:
        from tqdm import tqdm
        it = tqdm(paths, desc=f"evaluate style {Path(folder).name}", leave=False)
    rows = []
    for path in it:
        content = load_rgb(path)
        t0 = time.perf_counter()
        out = stylize(content, method=method, reference=ref, stylizer=stylizer, config=config, device=device)
        seconds = time.perf_counter() - t0
        before, after = scorer.score(content, content), scorer.score(out, content)
        rows.append({"image": path.name, "megapixels": round(content.shape[0] * content.shape[1] / 1e6, 3),
                     "style_before": before["style"], "style_after": after["style"],
                     "content_before": before["content"], "content_after": after["content"],
                     "seconds": round(seconds, 3)})
    mean = {k: float(np.mean([r[k] for r in rows])) for k in
            ("style_before", "style_after", "content_before", "content_after", "seconds")}
    return {"task": "style", "method": method, "dataset": str(folder), "reference": str(reference),
            "reference_sha256": sha256_file(reference), "images": len(rows), "max_side": max_side,
            "feature_network": scorer.net.describe(),
            "weights": str(stylizer.weights) if stylizer else None, **mean, "per_image": rows}


def format_table(results: Sequence[dict]) -> str:
    """A plain-text table of :func:`evaluate_style` results."""
    lines = []
    for r in results:
        lines.append(f"style ({r['method']}) on {r['dataset']} ({r['images']} images, reference "
                     f"{Path(r['reference']).name}, losses at {r['max_side']} px)")
        lines.append(f"  {'':<8} {'style':>11} {'content':>11}")
        lines.append(f"  {'before':<8} {r['style_before']:11.4g} {r['content_before']:11.4g}")
        lines.append(f"  {'after':<8} {r['style_after']:11.4g} {r['content_after']:11.4g}")
        lines.append(f"  seconds per image: {r['seconds']:.2f}")
    return "\n".join(lines)


def image_grid(rows: Sequence[tuple[str, Sequence[tuple[str, np.ndarray]]]], path: str | Path, *,
               height: int = 240) -> Path:
    """Save a PNG of labelled rows of captioned images (a contact sheet of several methods).

    rows: (row label, [(caption, float32 (H, W, 3) in [0, 1]), ...]); every image is scaled to
    ``height`` pixels high.
    """
    from PIL import Image, ImageDraw

    gap, caption_h = 6, 16
    rendered = []
    for label, cells in rows:
        ims = []
        for caption, img in cells:
            im = Image.fromarray((np.clip(_as_rgb(img), 0, 1) * 255 + 0.5).astype(np.uint8))
            ims.append((caption, im.resize((max(1, round(im.width * height / im.height)), height), Image.LANCZOS)))
        width = sum(im.width for _, im in ims) + gap * (len(ims) - 1)
        row = Image.new("RGB", (max(width, 200), height + 2 * caption_h), "white")
        draw = ImageDraw.Draw(row)
        draw.text((2, 1), label, fill="black")
        x = 0
        for caption, im in ims:
            row.paste(im, (x, 2 * caption_h))
            draw.text((x + 2, caption_h + 1), caption, fill="black")
            x += im.width + gap
        rendered.append(row)
    sheet = Image.new("RGB", (max(r.width for r in rendered), sum(r.height + gap for r in rendered)), "white")
    y = 0
    for r in rendered:
        sheet.paste(r, (0, y))
        y += r.height + gap
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, optimize=True)
    return path

"""Colourisation as a training task: L in, ab out, classification with class rebalancing.

Regression on ab (L1 or L2) falls into the brown, desaturated average: for a pixel that may be
red or green, the mean is grey-brown. Zhang et al. (2016) instead classify ab into bins of a
10-unit grid, weight each pixel's loss by the inverse of its class's (smoothed) frequency
mixed with a uniform prior (lambda = 1/2), and decode with the annealed mean (T = 0.38). We
do the same with three choices of our own, each for a reason:

- the bins are the grid cells that the training images actually use (not Zhang's 313 fixed
  in-gamut cells): a small network on a CPU budget should not spend outputs on colours it
  never sees; the bins travel in the model's config, so inference needs no extra file;
- targets are soft (the 5 nearest centres, Gaussian sigma 5, as Zhang) at the network's
  working resolution (ab averaged over ``downsample`` pixels);
- an L1 term on the decoded ab (the issue's "L1 on ab") keeps the decoded colour close to
  the truth where the classifier is unsure; the adversarial term and the conditional
  PatchGAN (L, image) come from the shared training loop.

Grey images carry no colour: ``prepare`` drops them from the training pools.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from gan_engine.data import color, pairs
from gan_engine.training import tasks
from gan_engine.errors import InvalidInputError

if TYPE_CHECKING:  # pragma: no cover
    from gan_engine.training.loop import TrainConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ColourConfig:
    """Options of the colourisation task (TrainConfig.colour overrides them)."""

    grid: float = 10.0  # ab bin size (Zhang et al.: 10)
    min_share: float = 1e-5  # a grid cell becomes a bin when this share of sampled pixels falls in it
    sample_pixels: int = 400_000  # pixels sampled from the training images for the prior
    sigma_prior: float = 5.0  # Gaussian smoothing of the empirical distribution (ab units)
    rebalance: float = 0.5  # lambda: weight of the uniform distribution in the rebalancing mix
    soft_k: int = 5  # nearest centres of a soft target
    soft_sigma: float = 5.0  # Gaussian width of a soft target (ab units)
    ce: float = 1.0  # weight of the rebalanced cross-entropy
    ab_l1: float = 1.0  # weight of L1 on the decoded ab (in units of 100)
    temperature: float = 0.38  # annealed-mean temperature of the shipped model
    downsample: int = 2  # the classifier's working resolution is 1/downsample


def colour_config(config: "TrainConfig") -> ColourConfig:
    try:
        return replace(ColourConfig(), **config.colour)
    except TypeError as exc:
        raise InvalidInputError(f"colour overrides {config.colour}: {exc}") from None


def lightness(rgb: np.ndarray) -> np.ndarray:
    """L / 100 of an sRGB image (H, W, 3) or grey (H, W) in [0, 1] -> (H, W, 1) float32."""
    arr = np.asarray(rgb, dtype=np.float32)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    return (color.rgb_to_lab(arr)[..., :1] / 100.0).astype(np.float32)


def gray_of(rgb: np.ndarray) -> np.ndarray:
    """The image with its colour removed in Lab (L kept, a = b = 0): what the colorizer sees."""
    lab = color.rgb_to_lab(np.asarray(rgb, dtype=np.float32))
    lab[..., 1:] = 0.0
    return color.lab_to_rgb(lab).astype(np.float32)


# ------------------------------------------------------------------------------ the prior

def ab_prior(images: Sequence[np.ndarray], cfg: ColourConfig, rng: np.random.Generator):
    """Bins and rebalancing weights from the training images (uint8 (H, W, 3) each).

    Returns (centres (Q, 2) float32, weights (Q,) float32 with sum_q p_q w_q = 1, p (Q,)).
    """
    per_image = max(1, cfg.sample_pixels // max(1, len(images)))
    samples = []
    for img in images:
        flat = img.reshape(-1, 3)
        idx = rng.integers(0, len(flat), size=min(per_image, len(flat)))
        samples.append(flat[idx])
    lab = color.rgb_to_lab(np.concatenate(samples).astype(np.float32) / 255.0)
    g = cfg.grid
    cells = np.floor(lab[:, 1:] / g).astype(np.int64)  # (N, 2) cell indices
    keys, counts = np.unique(cells, axis=0, return_counts=True)
    keep = counts / counts.sum() >= cfg.min_share
    keys, counts = keys[keep], counts[keep]
    centres = ((keys + 0.5) * g).astype(np.float32)  # (Q, 2)
    p = counts / counts.sum()
    # smooth p over the ab plane with a Gaussian (Zhang: sigma 5), then mix with uniform
    d2 = ((centres[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    kernel = np.exp(-d2 / (2 * cfg.sigma_prior ** 2))
    p_smooth = kernel @ p
    p_smooth /= p_smooth.sum()
    w = 1.0 / ((1 - cfg.rebalance) * p_smooth + cfg.rebalance / len(centres))
    w /= (p_smooth * w).sum()  # expected weight 1 under the data distribution
    return centres, w.astype(np.float32), p.astype(np.float32)


def soft_targets(ab: torch.Tensor, centres: torch.Tensor, k: int, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """ab (B, 2, h, w) -> (soft one-hot (B, Q, h, w) over the k nearest centres, nearest index (B, h, w))."""
    b, _, h, w = ab.shape
    flat = ab.permute(0, 2, 3, 1).reshape(-1, 2)  # (N, 2)
    d2 = torch.cdist(flat, centres) ** 2  # (N, Q)
    k = min(k, centres.shape[0])
    near_d2, near_idx = d2.topk(k, dim=1, largest=False)  # (N, k)
    wts = torch.softmax(-near_d2 / (2 * sigma ** 2), dim=1)
    soft = torch.zeros_like(d2).scatter_(1, near_idx, wts)  # (N, Q)
    soft = soft.reshape(b, h, w, -1).permute(0, 3, 1, 2)
    return soft, near_idx[:, 0].reshape(b, h, w)


# ------------------------------------------------------------------------------ the task

def _pairs(config: "TrainConfig") -> tasks.PairMaker:
    def make(clean: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return lightness(clean), clean
    return make


def _validation(config: "TrainConfig", paths: Sequence[Path]) -> list[tasks.ValSample]:
    out = []
    for p in paths:
        img = pairs.decode_image(p, config.max_side).astype(np.float32) / 255.0
        if np.ptp(img, axis=2).max() < 1e-6:
            continue  # a grey image cannot score colourisation
        m = 2 ** 5
        img = tasks.center_crop(img, config.val_size, m)
        out.append(tasks.ValSample(lightness(img), img, "rgb", 0, gray_of(img)))
    return out


def _prepare(config: "TrainConfig", pools: list) -> dict:
    """Drop grey images from the pools; bins and class weights from the colour ones."""
    cfg = colour_config(config)
    for pool in pools:
        before = len(pool.images)
        keep = [i for i, img in enumerate(pool.images) if int(np.ptp(img[::4, ::4].astype(np.int16), axis=2).max()) > 2]
        pool.images[:] = [pool.images[i] for i in keep]
        pool.paths[:] = [pool.paths[i] for i in keep]
        if len(pool.images) < before:
            log.info("colorize: dropped %d grey images of %s", before - len(pool.images), pool.folder)
    images = [img for pool in pools for img in pool.images]
    if not images:
        raise InvalidInputError("colorize needs colour training images (every image given is grey)")
    centres, weights, _ = ab_prior(images, cfg, np.random.default_rng(config.seed))
    log.info("colorize: %d ab bins from %d images", len(centres), len(images))
    return {"bins": centres.tolist(), "class_weights": [round(float(v), 5) for v in weights],
            "temperature": cfg.temperature, "downsample": cfg.downsample}


def _reconstruction(G, x, target, config):
    """Rebalanced cross-entropy over ab bins + L1 on the decoded ab; fake = sRGB of (L, ab)."""
    cfg = colour_config(config)
    rgb, ab, logits = G.forward_parts(x)
    with torch.no_grad():
        target_ab = color.rgb_to_lab_torch(target)[:, 1:]  # (B, 2, H, W)
        d = G.config["downsample"]
        small_ab = F.avg_pool2d(target_ab, d) if d > 1 else target_ab
        soft, nearest = soft_targets(small_ab, G.centres, cfg.soft_k, cfg.soft_sigma)
        w = G.class_weights[nearest]  # (B, h, w): rebalancing

    ce = -(soft * torch.log_softmax(logits, dim=1)).sum(1)  # (B, h, w)
    ce = (ce * w).mean()
    ab_l1 = (ab - target_ab).abs().mean() / 100.0
    loss = cfg.ce * ce + cfg.ab_l1 * ab_l1
    return rgb, loss, {"ce": ce.item(), "ab_l1": ab_l1.item()}


def _generator(config: "TrainConfig") -> dict:
    # Wider context than the restorer (colour depends on what the object is): four levels.
    return {"unet": {"base": 32, "mults": [1, 2, 4, 4, 4], "enc_blocks": [1, 1, 1, 1], "mid_blocks": 2,
                     "dec_blocks": [1, 1, 1, 1]}}


TASK = tasks.TaskSpec("colorize", "colorizer", _generator, 1, _pairs, _validation, _reconstruction,
                      prepare=_prepare, inputs="colour crop -> CIE L (the input) and ab (the target)")


def describe(config: "TrainConfig") -> dict:
    """The colour options, for the model card."""
    return asdict(colour_config(config))

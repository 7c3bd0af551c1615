"""Running the semantic colorizer on an image of any size (pure functions over numpy arrays).

The network works at a reduced *working* resolution (short side ``work_short``, the scale the
decoder was trained at: objects at ImageNet scale), predicts ab at 1/4 of that, and the chroma
is brought back to full size by a fast guided filter (He & Sun 2015) with the full-resolution
lightness as the guide, so colour edges follow the photograph's edges instead of bleeding
across them. The lightness of the output is the input's, exactly: only a and b are added.
Cost for a 1 MP photograph: one MobileNetV2 pass and the decoder on about 0.1 MP, then a few
box filters at full size.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from gan_engine.data import color
from gan_engine.archs.colorizer import SemanticColorizer, decode_ab

__all__ = ["predict_logits", "predict_ab", "guided_upsample", "compose_lab", "lightness_of", "working_size"]


def lightness_of(rgb: np.ndarray, rows: int = 512) -> np.ndarray:
    """CIE L / 100 of (H, W, 3) sRGB in [0, 1] -> (H, W) float32, computed in row blocks."""
    out = np.empty(rgb.shape[:2], np.float32)
    for y in range(0, rgb.shape[0], rows):
        out[y:y + rows] = color.rgb_to_lab(rgb[y:y + rows])[..., 0] / 100.0
    return out


def working_size(h: int, w: int, work_short: int) -> tuple[int, int]:
    """(h, w) scaled so the short side is ``work_short`` (never enlarged), multiples of 32."""
    s = min(1.0, work_short / min(h, w))
    return max(32, int(round(h * s / 32)) * 32), max(32, int(round(w * s / 32)) * 32)


@torch.inference_mode()
def predict_logits(model: SemanticColorizer, L: np.ndarray, work_short: int) -> torch.Tensor:
    """Full-size L (H, W) -> ab-bin logits (1, Q, h/4, w/4) at the working resolution."""
    h, w = working_size(*L.shape, work_short)
    small = cv2.resize(L, (w, h), interpolation=cv2.INTER_AREA)
    p = next(model.parameters())
    x = torch.from_numpy(small)[None, None].to(p.device, p.dtype)
    return model(x).float()


def predict_ab(model: SemanticColorizer, L: np.ndarray, *, work_short: int = 320,
               temperature: float = 1.0) -> np.ndarray:
    """Full-size L (H, W) -> low-resolution ab (h/4, w/4, 2) float32 (Lab units)."""
    logits = predict_logits(model, L, work_short)
    with torch.inference_mode():
        ab = decode_ab(logits, model.bins.float(), temperature)[0]
    return ab.permute(1, 2, 0).cpu().numpy().astype(np.float32)


def guided_upsample(ab_small: np.ndarray, L: np.ndarray, radius: int = 2, eps: float = 1e-3) -> np.ndarray:
    """Low-resolution ab (h, w, 2) -> full-size (H, W, 2), edges taken from L (H, W).

    Fast guided filter: the linear coefficients (q = a I + b per window) are fitted at low
    resolution against the area-reduced guide, upsampled bilinearly, and applied to the full
    guide. ``radius`` is in low-resolution pixels; ``eps`` sets how strongly an edge in L
    must show to cut the colour.
    """
    H, W = L.shape
    h, w = ab_small.shape[:2]
    I = cv2.resize(L, (w, h), interpolation=cv2.INTER_AREA)
    k = (2 * radius + 1, 2 * radius + 1)
    box = lambda x: cv2.blur(x, k, borderType=cv2.BORDER_REFLECT)  # noqa: E731
    mean_I = box(I)
    var_I = box(I * I) - mean_I * mean_I
    out = np.empty((H, W, 2), np.float32)
    for c in range(2):
        p = np.ascontiguousarray(ab_small[..., c])
        mean_p = box(p)
        cov = box(I * p) - mean_I * mean_p
        a = cov / (var_I + eps)
        b = mean_p - a * mean_I
        a_full = cv2.resize(box(a), (W, H), interpolation=cv2.INTER_LINEAR)
        b_full = cv2.resize(box(b), (W, H), interpolation=cv2.INTER_LINEAR)
        out[..., c] = a_full * L + b_full
    return out


def _into_gamut(lab: np.ndarray, steps: int = 12) -> np.ndarray:
    """sRGB of (n, 3) Lab, with the chroma of out-of-gamut colours reduced (L and hue kept).

    Clipping RGB would change the lightness; instead the largest chroma scale in [0, 1] that
    stays inside the sRGB cube is found by bisection (grey, scale 0, always is).
    """
    rgb = color.lab_to_rgb(lab, clip=False)
    bad = ((rgb < 0.0) | (rgb > 1.0)).any(axis=1)
    if bad.any():
        sub = lab[bad]
        lo, hi = np.zeros(len(sub), np.float32), np.ones(len(sub), np.float32)
        for _ in range(steps):
            mid = (lo + hi) / 2
            trial = np.concatenate([sub[:, :1], sub[:, 1:] * mid[:, None]], axis=1)
            t = color.lab_to_rgb(trial, clip=False)
            ok = ((t >= 0.0) & (t <= 1.0)).all(axis=1)
            lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid)
        rgb[bad] = color.lab_to_rgb(np.concatenate([sub[:, :1], sub[:, 1:] * lo[:, None]], axis=1), clip=False)
    return np.clip(rgb, 0.0, 1.0)


def compose_lab(L: np.ndarray, ab: np.ndarray, rows: int = 256) -> np.ndarray:
    """L / 100 (H, W) and ab (H, W, 2) -> sRGB (H, W, 3) float32 in [0, 1], in row blocks.

    The lightness of the result is L (out-of-gamut colours lose chroma, not lightness).
    """
    out = np.empty(L.shape + (3,), np.float32)
    for y in range(0, L.shape[0], rows):
        lab = np.concatenate([L[y:y + rows, :, None] * 100.0, ab[y:y + rows]], axis=2)
        out[y:y + rows] = _into_gamut(lab.reshape(-1, 3)).reshape(lab.shape)
    return out

"""What the degradation operations share: the ``_image_op`` contract and small array helpers.

Private to :mod:`gan_engine.data.degradations`: the operation modules (``tone``, ``blur_noise``,
``defects``, ``reproduction``) import these; nothing outside the package should.
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import cv2
import numpy as np

from gan_engine.data.luma import LUMA


def _image_op(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Wrap an op written for (H, W, C) float32: accept (H, W), copy-free conversion to float32,
    restore the input shape, clip to [0, 1]."""

    @functools.wraps(fn)
    def wrapper(img, **params) -> np.ndarray:
        x = np.asarray(img, dtype=np.float32)
        shape = x.shape
        if x.ndim == 2:
            x = x[..., None]
        if x.ndim != 3 or x.shape[2] not in (1, 3):
            raise ValueError(f"expected an image (H, W), (H, W, 1) or (H, W, 3), got {shape}")
        out = fn(x, **params)
        out = np.asarray(out, dtype=np.float32).reshape(shape)
        return np.clip(out, 0.0, 1.0, out=out)

    return wrapper


def _luma(x: np.ndarray) -> np.ndarray:
    """(H, W, C) -> (H, W, 1) luminance."""
    if x.shape[2] == 1:
        return x
    return (x @ LUMA)[..., None]


def _per_channel(values, c: int) -> np.ndarray:
    """Per-channel parameters (3,) shaped for broadcasting over (H, W, c)."""
    v = np.asarray(values, dtype=np.float32).reshape(-1)
    if c == 1:
        v = v.mean(keepdims=True)
    return v.reshape(1, 1, c)


def _keep_channels(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """cv2 drops a trailing channel of size 1: put it back."""
    return out.reshape(x.shape)


def _noise(rng: np.random.Generator, shape) -> np.ndarray:
    """Standard normal float32 noise (for ops whose noise is specified as Gaussian)."""
    return rng.standard_normal(shape, dtype=np.float32)


def _texture_noise(rng: np.random.Generator, shape) -> np.ndarray:
    """Zero-mean unit-variance uniform noise: five times cheaper than Gaussian, and after the
    blurs and resizes that grain, paper and smooth fields apply it is Gaussian-like anyway."""
    u = rng.random(shape, dtype=np.float32)
    u -= 0.5
    u *= math.sqrt(12.0)
    return u


def _std(a: np.ndarray) -> float:
    """Standard deviation estimated on every third row and column (plenty for normalising noise)."""
    return float(a[::3, ::3].std()) + 1e-6


def _smooth_field(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Zero-mean, unit-std low-frequency random field (H, W), features of about ``cell`` px."""
    gh, gw = max(2, round(h / cell) + 2), max(2, round(w / cell) + 2)
    g = _texture_noise(rng, (gh, gw))
    f = cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)
    f -= f[::3, ::3].mean()
    f /= _std(f)
    return f


def _mask_from_uint8(mask: np.ndarray, soften: float) -> np.ndarray:
    m = mask.astype(np.float32) * (1.0 / 255.0)
    if soften > 0:
        m = cv2.GaussianBlur(m, (0, 0), soften)
    return m[..., None]


def _blend(x: np.ndarray, mask: np.ndarray, value) -> np.ndarray:
    """x * (1 - mask) + value * mask, mask (H, W, 1) in [0, 1], value scalar or (1, 1, C)."""
    return x + mask * (value - x)


def _sub(v: float) -> int:
    """Float pixel coordinate -> cv2 fixed point with shift=4 (sub-pixel drawing)."""
    return int(round(v * 16))


def _polyline_points(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    return np.round(np.stack([xs, ys], axis=1) * 16).astype(np.int32).reshape(-1, 1, 2)

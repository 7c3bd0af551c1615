"""Blur, sharpening, film grain and sensor noise: what the camera, the film and the scanner add.

Each operation is pure: ``op(img, **params)``, (H, W, C) (C = 1 or 3; (H, W) keeps its shape)
float32 in [0, 1] -> a new float32 array of the same shape clipped to [0, 1]; those that draw
random numbers take an integer ``seed``.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from gan_engine.data.degradations.base import (
    _image_op, _keep_channels, _luma, _noise, _std, _sub, _texture_noise,
)
from gan_engine.errors import InvalidInputError

__all__ = ["gaussian_blur", "defocus_blur", "motion_blur", "sharpen", "film_grain", "sensor_noise",
    "add_gaussian_noise"]


@_image_op
def gaussian_blur(x: np.ndarray, *, sigma_x: float, sigma_y: float, angle: float = 0.0) -> np.ndarray:
    """Anisotropic Gaussian blur: standard deviations sigma_x, sigma_y (px) along axes rotated by
    ``angle`` (radians). Isotropic when sigma_x == sigma_y."""
    if abs(sigma_x - sigma_y) < 1e-3:
        return _keep_channels(x, cv2.GaussianBlur(x, (0, 0), sigma_x, borderType=cv2.BORDER_REFLECT))
    radius = max(1, int(math.ceil(3.0 * max(sigma_x, sigma_y))))
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1].astype(np.float32)
    ca, sa = math.cos(angle), math.sin(angle)
    u, v = ca * xx + sa * yy, -sa * xx + ca * yy
    k = np.exp(-0.5 * ((u / sigma_x) ** 2 + (v / sigma_y) ** 2))
    return _keep_channels(x, cv2.filter2D(x, -1, k / k.sum(), borderType=cv2.BORDER_REFLECT))


@_image_op
def defocus_blur(x: np.ndarray, *, radius: float) -> np.ndarray:
    """Out-of-focus blur: convolution with an anti-aliased disc of ``radius`` px."""
    size = 2 * int(math.ceil(radius)) + 3
    k = np.zeros((size, size), np.uint8)
    centre = _sub((size - 1) / 2)
    cv2.circle(k, (centre, centre), _sub(radius), 255, -1, cv2.LINE_AA, 4)
    k = k.astype(np.float32)
    return _keep_channels(x, cv2.filter2D(x, -1, k / k.sum(), borderType=cv2.BORDER_REFLECT))


@_image_op
def motion_blur(x: np.ndarray, *, length: float, angle: float) -> np.ndarray:
    """Camera shake: convolution with an anti-aliased line of ``length`` px at ``angle`` (radians)."""
    size = 2 * int(math.ceil(length / 2)) + 3
    k = np.zeros((size, size), np.uint8)
    c = (size - 1) / 2
    dx, dy = 0.5 * length * math.cos(angle), 0.5 * length * math.sin(angle)
    cv2.line(k, (_sub(c - dx), _sub(c - dy)), (_sub(c + dx), _sub(c + dy)), 255, 1, cv2.LINE_AA, 4)
    k = k.astype(np.float32)
    return _keep_channels(x, cv2.filter2D(x, -1, k / k.sum(), borderType=cv2.BORDER_REFLECT))


@_image_op
def sharpen(x: np.ndarray, *, amount: float, sigma: float) -> np.ndarray:
    """Unsharp mask x + amount * (x - blur(x, sigma)): over-sharpening halos of scanners/editors."""
    blurred = _keep_channels(x, cv2.GaussianBlur(x, (0, 0), sigma, borderType=cv2.BORDER_REFLECT))
    return x + amount * (x - blurred)


# ----------------------------------------------------------------------------------------------
# Grain and noise
# ----------------------------------------------------------------------------------------------

def _grain_field(rng: np.random.Generator, h: int, w: int, c: int, size: float,
                 coarse: float) -> np.ndarray:
    """Multi-scale grain (H, W, c), zero mean, unit std: fine noise blurred by ``size`` px plus
    ``coarse`` times noise at half resolution (clumps of grains)."""
    fine = _texture_noise(rng, (h, w, c))
    if size > 0.3:
        fine = _keep_channels(fine, cv2.GaussianBlur(fine, (0, 0), size))
    field = fine
    if coarse > 0:
        low = _texture_noise(rng, ((h + 1) // 2, (w + 1) // 2, c))
        low = cv2.resize(low, (w, h), interpolation=cv2.INTER_LINEAR).reshape(h, w, c)
        field = fine / _std(fine) + (coarse / _std(low)) * low
    return field / _std(field)


@_image_op
def film_grain(x: np.ndarray, *, seed: int, strength: float, size: float, coarse: float = 0.5,
               mono: bool = True, chroma: float = 0.3, midtone_bias: float = 1.0) -> np.ndarray:
    """Film grain: multi-scale noise whose amplitude depends on luminance L,
    strength * (0.3 + 0.7 * 4 L' (1 - L')) with L' = L ** midtone_bias (largest in the mid-tones,
    shifted towards shadows or highlights by the bias). Colour film (``mono`` False) has a common
    luminance component plus per-channel noise of relative weight ``chroma``."""
    rng = np.random.default_rng(seed)
    h, w, c = x.shape
    n = _grain_field(rng, h, w, 1, size, coarse)
    if not mono and c == 3 and chroma > 0:
        n = (n + chroma * _grain_field(rng, h, w, 3, size, coarse)) / math.sqrt(1 + chroma * chroma)
    lum = np.power(np.clip(_luma(x), 0.0, 1.0), midtone_bias)
    amp = strength * (0.3 + 2.8 * lum * (1.0 - lum))
    return x + amp * n


@_image_op
def sensor_noise(x: np.ndarray, *, seed: int, kind: str, level: float, mono: bool = False,
                 correlation: float = 0.0) -> np.ndarray:
    """Scanner or camera noise.

    kind "gaussian": x + level * n; "poisson": x + sqrt(level * x) * n (shot noise, Gaussian
    approximation with variance level * x); "speckle": x * (1 + level * n); "impulse": a fraction
    ``level`` of pixels set to 0 or 1. ``mono``: the same noise on all channels.
    ``correlation``: blur sigma (px) of the noise (demosaicing / JPEG-era scanners make it blotchy),
    the std is kept.
    """
    rng = np.random.default_rng(seed)
    h, w, c = x.shape
    nc = 1 if mono else c
    if kind == "impulse":
        u = rng.random((h, w, nc), dtype=np.float32)
        out = np.where(u < level / 2, 0.0, x)
        return np.where(u > 1.0 - level / 2, 1.0, out)
    n = _noise(rng, (h, w, nc))
    if correlation > 0.3:
        n = _keep_channels(n, cv2.GaussianBlur(n, (0, 0), correlation))
        n /= _std(n)
    if kind == "gaussian":
        return x + level * n
    if kind == "poisson":
        return x + np.sqrt(level * np.maximum(x, 0.0)) * n
    if kind == "speckle":
        return x * (1.0 + level * n)
    raise InvalidInputError(f"unknown noise kind {kind!r}")


def add_gaussian_noise(img, sigma_255: float, seed: int, *, clip: bool = True) -> np.ndarray:
    """Additive white Gaussian noise of std ``sigma_255 / 255`` (the DnCNN/FFDNet protocol).

    img: (H, W, C) or (H, W) float32 [0, 1] -> same shape, float32; clipped to [0, 1] unless
    ``clip=False`` (the papers report both; clipping is what a saved image has).
    """
    x = np.asarray(img, dtype=np.float32)
    rng = np.random.default_rng(seed)
    out = x + np.float32(sigma_255 / 255.0) * rng.standard_normal(x.shape, dtype=np.float32)
    return np.clip(out, 0.0, 1.0) if clip else out

"""Image quality metrics: PSNR, SSIM, colourfulness, BT.601 luma.

All functions take numpy arrays (CPU torch tensors are converted with ``np.asarray``) of shape
(H, W, C) or (H, W), float, range [0, 1]. Internally they compute in float64, so results do not
depend on the input dtype. Only numpy and OpenCV are used (scipy is not a runtime dependency).

Conventions, chosen to match the super-resolution / denoising literature:

- ``on="rgb"``: the metric over all channels (PSNR from the MSE over every sample; SSIM as the
  mean of the per-channel SSIMs, as ``skimage.metrics.structural_similarity(channel_axis=-1)``).
- ``on="y"``: the metric on the BT.601 luma ``rgb_to_y`` (the "Y channel" of the SR tables).
- ``on="luminance"``: the metric on ``to_luminance`` (full-range 0.299 R + 0.587 G + 0.114 B), which
  is how black-and-white prints are scored (a grey print has no colour to be judged on).
- ``crop``: pixels removed from every border before measuring (SR tables crop ``scale`` pixels).
"""
from __future__ import annotations

import math
from typing import Literal

import cv2
import numpy as np

from gan_engine.data.luma import LUMA, LUMA_WEIGHTS  # re-exported: metrics.LUMA stays importable

__all__ = ["psnr", "ssim", "colourfulness", "rgb_to_y", "to_luminance", "LUMA_WEIGHTS", "LUMA"]

Channel = Literal["rgb", "y", "luminance"]


# SSIM constants of Wang et al. (2004).
_SSIM_WINDOW = 11
_SSIM_SIGMA = 1.5
_SSIM_K1 = 0.01
_SSIM_K2 = 0.03


def _as_array(img) -> np.ndarray:
    """Any array-like (numpy, CPU torch tensor) -> float64 ndarray, (H, W) or (H, W, C)."""
    if hasattr(img, "detach"):  # torch tensor without importing torch here
        img = img.detach().cpu().numpy()
    arr = np.asarray(img, dtype=np.float64)
    if arr.ndim not in (2, 3):
        raise ValueError(f"expected an image of shape (H, W) or (H, W, C), got {arr.shape}")
    return arr


def rgb_to_y(img) -> np.ndarray:
    """ITU-R BT.601 luma Y of an RGB image, as used for the super-resolution tables.

    Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255 for R, G, B in [0, 1]; that is, MATLAB's
    ``rgb2ycbcr`` Y channel (range [16, 235] on the 8-bit scale) divided by 255, so the result
    lies in [16/255, 235/255] and a PSNR/SSIM on it with ``data_range=1`` equals the usual one
    on [0, 255] with ``data_range=255``.

    img: (H, W, 3) float in [0, 1]; (H, W) or (H, W, 1) is taken as grey (R = G = B).
    Returns (H, W) float64.
    """
    arr = _as_array(img)
    if arr.ndim == 3 and arr.shape[2] == 3:
        r, g, b = arr[..., 0], arr[..., 1], arr[..., 2]
        return (16.0 + 65.481 * r + 128.553 * g + 24.966 * b) / 255.0
    grey = arr if arr.ndim == 2 else _single_channel(arr)
    return (16.0 + (65.481 + 128.553 + 24.966) * grey) / 255.0


def to_luminance(img) -> np.ndarray:
    """Full-range luma 0.299 R + 0.587 G + 0.114 B (BT.601 weights, no offset).

    img: (H, W, 3) float in [0, 1]; (H, W) or (H, W, 1) is returned as (H, W) unchanged.
    Returns (H, W) float64 in [0, 1]. A grey print (three identical channels) maps to that channel.
    """
    arr = _as_array(img)
    if arr.ndim == 3 and arr.shape[2] == 3:
        wr, wg, wb = LUMA_WEIGHTS
        return wr * arr[..., 0] + wg * arr[..., 1] + wb * arr[..., 2]
    return arr if arr.ndim == 2 else _single_channel(arr)


def _single_channel(arr: np.ndarray) -> np.ndarray:
    if arr.shape[2] != 1:
        raise ValueError(f"expected 1 or 3 channels, got {arr.shape[2]}")
    return arr[..., 0]


def _prepare_pair(a, b, on: str, crop: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = _as_array(a), _as_array(b)
    if x.shape != y.shape:
        raise ValueError(f"images differ in shape: {x.shape} vs {y.shape}")
    if on == "y":
        x, y = rgb_to_y(x), rgb_to_y(y)
    elif on == "luminance":
        x, y = to_luminance(x), to_luminance(y)
    elif on != "rgb":
        raise ValueError(f"on must be 'rgb', 'y' or 'luminance', got {on!r}")
    if crop < 0:
        raise ValueError("crop must be >= 0")
    if crop:
        x, y = x[crop:-crop, crop:-crop], y[crop:-crop, crop:-crop]
        if x.size == 0:
            raise ValueError(f"crop={crop} leaves nothing of a {a.shape} image")
    return x, y


def psnr(a, b, *, on: Channel = "rgb", crop: int = 0, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB, 10 log10(data_range^2 / MSE).

    a, b: (H, W, C) or (H, W) float arrays in [0, data_range] (not clipped here).
    Identical images give ``math.inf`` (no cap: averaging code must handle it).
    """
    x, y = _prepare_pair(a, b, on, crop)
    mse = float(np.mean((x - y) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(data_range * data_range / mse)


def _gaussian_filter(img: np.ndarray) -> np.ndarray:
    # An 11-tap Gaussian with sigma 1.5 is exactly scipy's gaussian_filter(sigma=1.5, truncate=3.5)
    # used by scikit-image; the border mode does not matter since the border is cropped below.
    return cv2.GaussianBlur(img, (_SSIM_WINDOW, _SSIM_WINDOW), _SSIM_SIGMA,
                            borderType=cv2.BORDER_REFLECT)


def _ssim_2d(x: np.ndarray, y: np.ndarray, data_range: float) -> float:
    c1 = (_SSIM_K1 * data_range) ** 2
    c2 = (_SSIM_K2 * data_range) ** 2
    mu_x, mu_y = _gaussian_filter(x), _gaussian_filter(y)
    # Population (not sample) covariances, as use_sample_covariance=False in scikit-image.
    var_x = _gaussian_filter(x * x) - mu_x * mu_x
    var_y = _gaussian_filter(y * y) - mu_y * mu_y
    cov = _gaussian_filter(x * y) - mu_x * mu_y
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2))
    pad = (_SSIM_WINDOW - 1) // 2  # scikit-image averages only where the window fits
    return float(s[pad:-pad, pad:-pad].mean())


def ssim(a, b, *, on: Channel = "rgb", crop: int = 0, data_range: float = 1.0) -> float:
    """Structural similarity (Wang et al. 2004): Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03.

    Matches ``skimage.metrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=1, channel_axis=-1)`` to ~1e-6; on RGB it is the mean
    of the per-channel SSIMs. a, b: (H, W, C) or (H, W) float in [0, 1], at least 11x11 after
    ``crop``. Returns a float in [-1, 1].
    """
    x, y = _prepare_pair(a, b, on, crop)
    if min(x.shape[:2]) < _SSIM_WINDOW:
        raise ValueError(f"SSIM needs at least {_SSIM_WINDOW}x{_SSIM_WINDOW} pixels, got {x.shape[:2]}")
    if x.ndim == 2:
        return _ssim_2d(x, y, data_range)
    return float(np.mean([_ssim_2d(np.ascontiguousarray(x[..., c]), np.ascontiguousarray(y[..., c]),
                                   data_range) for c in range(x.shape[2])]))


def colourfulness(img) -> float:
    """Colourfulness M of Hasler & Suesstrunk (2003), on the usual [0, 255] scale.

    rg = R - G, yb = (R + G) / 2 - B; M = sqrt(std_rg^2 + std_yb^2) + 0.3 sqrt(mean_rg^2 + mean_yb^2).
    img: (H, W, 3) float in [0, 1] (multiplied by 255 here). A grey image (equal channels, or
    (H, W) / (H, W, 1) input) gives 0. Their scale: ~15 "slightly", ~33 "moderately",
    ~59 "quite", ~82 "highly", ~109 "extremely" colourful.
    """
    arr = _as_array(img)
    if arr.ndim == 2 or arr.shape[2] == 1:
        return 0.0
    rgb = arr[..., :3] * 255.0
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    std = math.sqrt(float(rg.var()) + float(yb.var()))
    mean = math.sqrt(float(rg.mean()) ** 2 + float(yb.mean()) ** 2)
    return std + 0.3 * mean

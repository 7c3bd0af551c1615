"""Bicubic resampling as the super-resolution benchmarks define it (pure functions).

The published Set5/Set14 tables make the low-resolution input with MATLAB's
``imresize(hr, 1/s, 'bicubic')`` (Keys cubic, a = -0.5, with the kernel widened by ``s`` when
shrinking: antialiasing) and round it to 8 bits; the "bicubic" row upscales that input with
the same kernel. PyTorch's ``interpolate(mode="bicubic", antialias=True)`` implements the
same widened Keys kernel as Pillow and MATLAB (a = -0.5), so the training pairs, the
evaluation and the baseline here share one definition. Borders differ slightly from MATLAB
(replicate vs symmetric padding), which the tables' border crop of ``s`` pixels removes.

``resize_max_side`` (area) and ``resize_to`` (bicubic, OpenCV) are the working-size helpers of
style transfer, not the benchmarks' definition.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["modcrop", "bicubic_resize", "bicubic_downscale", "bicubic_upscale", "quantize8"]


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom/right so that height and width are multiples of ``scale`` (as the SR tables do)."""
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def quantize8(img: np.ndarray) -> np.ndarray:
    """Round float [0, 1] values to the 8-bit grid (the benchmarks' LR images are 8-bit files)."""
    return (np.round(np.clip(img, 0.0, 1.0) * 255.0) / 255.0).astype(np.float32)


def bicubic_resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Keys bicubic (a = -0.5) resize of float32 (H, W[, C]) to ``size`` = (h, w), antialiased when shrinking."""
    arr = np.asarray(img, dtype=np.float32)
    two_d = arr.ndim == 2
    t = torch.from_numpy(np.ascontiguousarray(arr[..., None] if two_d else arr)).permute(2, 0, 1)[None]
    shrink = size[0] < arr.shape[0] or size[1] < arr.shape[1]
    out = F.interpolate(t, size=size, mode="bicubic", align_corners=False, antialias=shrink)
    out = out[0].permute(1, 2, 0).numpy()
    return np.ascontiguousarray(out[..., 0] if two_d else out)


def bicubic_downscale(img: np.ndarray, scale: int, *, quantize: bool = True) -> np.ndarray:
    """The benchmarks' low-resolution input: ``modcrop`` then bicubic 1/scale, rounded to 8 bits."""
    hr = modcrop(img, scale)
    lr = bicubic_resize(hr, (hr.shape[0] // scale, hr.shape[1] // scale))
    return quantize8(lr) if quantize else np.clip(lr, 0.0, 1.0).astype(np.float32)


def bicubic_upscale(img: np.ndarray, scale: int) -> np.ndarray:
    """The benchmarks' "bicubic" baseline: bicubic x scale, clipped to [0, 1]."""
    out = bicubic_resize(img, (img.shape[0] * scale, img.shape[1] * scale))
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def resize_max_side(image: np.ndarray, max_side: int | None) -> np.ndarray:
    """Shrink (area filter) so that max(H, W) <= max_side; smaller images are returned as they are."""
    import cv2

    if not max_side or max(image.shape[:2]) <= max_side:
        return image
    f = max_side / max(image.shape[:2])
    size = (max(1, round(image.shape[1] * f)), max(1, round(image.shape[0] * f)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def resize_to(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize (bicubic) to exactly (height, width); an image of that size is returned as it is."""
    import cv2

    if image.shape[:2] == (height, width):
        return image
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_CUBIC)

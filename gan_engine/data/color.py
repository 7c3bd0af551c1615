"""sRGB <-> CIE L*a*b* (D65), as pure functions in numpy and in torch.

The chain is the standard one (IEC 61966-2-1 sRGB, CIE 1976 L*a*b*):

    sRGB [0, 1] --(inverse companding)--> linear RGB --(M)--> XYZ (D65, Y of white = 1)
        --(f, white point)--> L* in [0, 100], a*, b* (about [-128, 127] for sRGB colours)

and back with the inverse of each step. The RGB -> XYZ matrix is the sRGB one (primaries
Rec. 709, white D65, seven decimals); XYZ -> RGB is its exact numerical inverse, so a round
trip is exact to float rounding (within 1e-4 in float32 on in-gamut colours). The white point
is the matrix's row sums, so white is exactly (100, 0, 0). sRGB red (1, 0, 0) -> (53.24, 80.09,
67.20), the usual published values.

Layouts: the numpy functions take channels last, ``(..., 3)``; the torch functions take the
channel dimension ``dim`` (default -3, i.e. ``(B, 3, H, W)`` or ``(3, H, W)``), are
differentiable (no NaN gradients at black) and keep dtype and device. numpy keeps the float
dtype it is given (float32 stays float32), anything else is computed as float32.

``lab_to_rgb`` clips to [0, 1] by default: a predicted (L, a, b) can lie outside the sRGB gamut.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "rgb_to_lab", "lab_to_rgb", "rgb_to_lab_torch", "lab_to_rgb_torch",
    "RGB_TO_XYZ", "XYZ_TO_RGB", "WHITE_D65", "L_RANGE", "AB_RANGE",
]

#: Linear sRGB -> XYZ (D65): the sRGB primaries and white to seven decimals (Lindbloom's table;
#: the standard's four-decimal matrix moves sRGB red by 0.02 in a*).
RGB_TO_XYZ = np.array([
    [0.4124564, 0.3575761, 0.1804375],
    [0.2126729, 0.7151522, 0.0721750],
    [0.0193339, 0.1191920, 0.9503041],
], dtype=np.float64)
#: Its exact inverse (so the round trip is exact, not just close to the standard's rounding).
XYZ_TO_RGB = np.linalg.inv(RGB_TO_XYZ)
#: The D65 reference white in XYZ with Y = 1: the row sums of RGB_TO_XYZ (RGB white maps to it,
#: so white is exactly L = 100, a = b = 0).
WHITE_D65 = RGB_TO_XYZ.sum(axis=1)
#: Nominal ranges: L* in [0, 100]; a*, b* of sRGB colours within about +-128.
L_RANGE = (0.0, 100.0)
AB_RANGE = (-128.0, 127.0)

_DELTA = 6.0 / 29.0
_EPS = _DELTA ** 3  # 0.008856...: below it f is linear
_KAPPA = 1.0 / (3.0 * _DELTA ** 2)  # slope of the linear part of f


def _float_array(x) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float32)
    if arr.shape[-1:] != (3,):
        raise ValueError(f"expected (..., 3) channels last, got shape {arr.shape}")
    return arr


# -- numpy ------------------------------------------------------------------------------------
def _srgb_to_linear(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((np.maximum(c, 0.04045) + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * np.maximum(c, 0.0031308) ** (1.0 / 2.4) - 0.055)


def rgb_to_lab(rgb) -> np.ndarray:
    """sRGB (..., 3) in [0, 1] -> Lab (..., 3): L in [0, 100], a and b about [-128, 127]."""
    rgb = _float_array(rgb)
    dtype = rgb.dtype
    lin = _srgb_to_linear(rgb)
    xyz = (lin @ RGB_TO_XYZ.T.astype(dtype)) / WHITE_D65.astype(dtype)
    f = np.where(xyz > _EPS, np.cbrt(np.maximum(xyz, _EPS)), xyz * _KAPPA + 4.0 / 29.0)
    lab = np.empty_like(f)
    lab[..., 0] = 116.0 * f[..., 1] - 16.0
    lab[..., 1] = 500.0 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200.0 * (f[..., 1] - f[..., 2])
    return lab.astype(dtype, copy=False)


def lab_to_rgb(lab, *, clip: bool = True) -> np.ndarray:
    """Lab (..., 3) -> sRGB (..., 3); clipped to [0, 1] unless ``clip=False`` (out-of-gamut kept)."""
    lab = _float_array(lab)
    dtype = lab.dtype
    fy = (lab[..., 0] + 16.0) / 116.0
    f = np.stack([fy + lab[..., 1] / 500.0, fy, fy - lab[..., 2] / 200.0], axis=-1)
    xyz = np.where(f > _DELTA, f ** 3, (f - 4.0 / 29.0) / _KAPPA) * WHITE_D65.astype(dtype)
    lin = xyz @ XYZ_TO_RGB.T.astype(dtype)
    rgb = _linear_to_srgb(lin)
    if clip:
        rgb = np.clip(rgb, 0.0, 1.0)
    return rgb.astype(dtype, copy=False)


# -- torch ------------------------------------------------------------------------------------
def _matrix(m: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(m, dtype=like.dtype, device=like.device)


def _apply_matrix(x: torch.Tensor, m: np.ndarray, dim: int) -> torch.Tensor:
    """y_i = sum_j m_ij x_j along ``dim``."""
    moved = x.movedim(dim, -1)
    return (moved @ _matrix(m, x).T).movedim(-1, dim)


def rgb_to_lab_torch(rgb: torch.Tensor, *, dim: int = -3) -> torch.Tensor:
    """sRGB tensor with 3 channels on ``dim`` (default (B, 3, H, W)) in [0, 1] -> Lab, same layout.

    Differentiable; float32/float64/float16 kept (half is computed in float32 and cast back).
    """
    if rgb.shape[dim] != 3:
        raise ValueError(f"expected 3 channels on dim {dim}, got shape {tuple(rgb.shape)}")
    out_dtype = rgb.dtype if rgb.is_floating_point() else torch.float32
    x = rgb.float() if rgb.dtype not in (torch.float32, torch.float64) else rgb
    lin = torch.where(x <= 0.04045, x / 12.92, ((x.clamp_min(0.04045) + 0.055) / 1.055) ** 2.4)
    xyz = _apply_matrix(lin, RGB_TO_XYZ, dim)
    shape = [1] * xyz.dim()
    shape[dim] = 3
    xyz = xyz / _matrix(WHITE_D65, xyz).view(shape)
    # clamp before the cube root: its gradient is infinite at 0 (the other branch is taken there)
    f = torch.where(xyz > _EPS, xyz.clamp_min(_EPS) ** (1.0 / 3.0), xyz * _KAPPA + 4.0 / 29.0)
    fx, fy, fz = f.unbind(dim)
    lab = torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=dim)
    return lab.to(out_dtype)


def lab_to_rgb_torch(lab: torch.Tensor, *, dim: int = -3, clip: bool = True) -> torch.Tensor:
    """Lab tensor with 3 channels on ``dim`` -> sRGB in [0, 1] (clipped unless ``clip=False``)."""
    if lab.shape[dim] != 3:
        raise ValueError(f"expected 3 channels on dim {dim}, got shape {tuple(lab.shape)}")
    out_dtype = lab.dtype if lab.is_floating_point() else torch.float32
    x = lab.float() if lab.dtype not in (torch.float32, torch.float64) else lab
    L, a, b = x.unbind(dim)
    fy = (L + 16.0) / 116.0
    f = torch.stack([fy + a / 500.0, fy, fy - b / 200.0], dim=dim)
    xyz = torch.where(f > _DELTA, f ** 3, (f - 4.0 / 29.0) / _KAPPA)
    shape = [1] * xyz.dim()
    shape[dim] = 3
    xyz = xyz * _matrix(WHITE_D65, xyz).view(shape)
    lin = _apply_matrix(xyz, XYZ_TO_RGB, dim)
    rgb = torch.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin.clamp_min(0.0031308) ** (1.0 / 2.4) - 0.055)
    if clip:
        rgb = rgb.clamp(0.0, 1.0)
    return rgb.to(out_dtype)

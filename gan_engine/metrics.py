"""Image quality metrics (stub: signatures fixed, bodies follow)."""
from __future__ import annotations

import numpy as np


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    raise NotImplementedError


def to_luminance(img: np.ndarray) -> np.ndarray:
    raise NotImplementedError


def psnr(a: np.ndarray, b: np.ndarray, *, on: str = "rgb", crop: int = 0, data_range: float = 1.0) -> float:
    raise NotImplementedError


def ssim(a: np.ndarray, b: np.ndarray, *, on: str = "rgb", crop: int = 0) -> float:
    raise NotImplementedError


def colourfulness(img: np.ndarray) -> float:
    raise NotImplementedError

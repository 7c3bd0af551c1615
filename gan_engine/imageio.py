"""Image files <-> float32 arrays (stub: signatures of docs/dev/contracts.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


class ImageReadError(ValueError):
    """A file is missing, unreadable or not an image."""


@dataclass
class LoadedImage:
    rgb: np.ndarray  # float32 (H, W, 3) in [0, 1]
    alpha: np.ndarray | None  # float32 (H, W) in [0, 1] or None
    bit_depth: int  # 8 | 16
    is_gray: bool
    icc_profile: bytes | None = None


def load_image(path: str | Path) -> LoadedImage:
    raise NotImplementedError


def save_image(path: str | Path, rgb: np.ndarray, *, bit_depth: int = 8, alpha: np.ndarray | None = None,
               gray: bool = False, icc_profile: bytes | None = None) -> Path:
    raise NotImplementedError

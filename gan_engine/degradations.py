"""Synthetic aging of photographs (stub: signatures fixed, bodies follow)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class AgingConfig:
    """Probabilities and strength ranges of the aging pipeline."""

    p_gray: float = 0.5  # fraction of black-and-white prints


def age_image(image: np.ndarray, seed_or_rng: int | np.random.Generator,
              config: AgingConfig = AgingConfig()) -> tuple[np.ndarray, list[tuple[str, dict[str, Any]]]]:
    """(H, W, 3) float32 [0, 1] -> (aged (H, W, 3) float32 [0, 1], record)."""
    raise NotImplementedError


def degrade_for_eval(image: np.ndarray, seed: int, gray: bool) -> np.ndarray:
    """Fixed-seed aging for evaluation; `gray` chosen by the caller."""
    raise NotImplementedError


def add_gaussian_noise(img: np.ndarray, sigma_255: float, seed: int) -> np.ndarray:
    """Additive white Gaussian noise of std sigma_255/255, clipped to [0, 1]."""
    raise NotImplementedError


def to_gray_print(img: np.ndarray, rng: np.random.Generator | int | None = None) -> np.ndarray:
    """Black-and-white print, kept as 3 identical channels."""
    raise NotImplementedError

"""Tiled inference (stub: signatures of docs/dev/contracts.md)."""

from __future__ import annotations

import numpy as np


def run_tiled(model, image: np.ndarray, *, tile: int = 512, overlap: int | None = None, device="cpu",
              half: bool = False, progress=None) -> np.ndarray:
    raise NotImplementedError

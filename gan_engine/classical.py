"""Classical (OpenCV) restoration baseline (stub: signature fixed, body follows)."""
from __future__ import annotations

import numpy as np


def classical_restore(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 [0, 1] -> (H, W, 3) float32 [0, 1]."""
    raise NotImplementedError

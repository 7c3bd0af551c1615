"""ITU-R BT.601 luma: the one definition of the grey of a colour image, numpy only.

It lives low in the tree (data imports it for grey prints and grey targets, inference for grey
output, evaluation for the luminance metrics) so that no layer imports a higher one for it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LUMA_WEIGHTS", "LUMA"]

#: ITU-R BT.601 luma weights (R, G, B); also what ``degradations.to_gray_print`` uses by default.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
#: The same weights as a float32 vector: ``rgb @ LUMA`` is the luminance of (..., 3) RGB.
LUMA = np.asarray(LUMA_WEIGHTS, dtype=np.float32)

"""gan_engine.data.resampling: the bicubic downscale of the super-resolution tables."""

from __future__ import annotations

import numpy as np

from gan_engine.data import resampling


def test_bicubic_downscale_is_modcropped_quantized_and_keeps_flat_images():
    img = np.full((37, 50, 3), 0.4, np.float32)
    lr = resampling.bicubic_downscale(img, 4)
    assert lr.shape == (9, 12, 3)
    assert np.allclose(lr, np.round(0.4 * 255) / 255, atol=1e-6)  # 8-bit grid, flat stays flat
    up = resampling.bicubic_upscale(lr, 4)
    assert up.shape == (36, 48, 3)


def test_bicubic_downscale_antialiases():
    # a 1-pixel checkerboard is above the Nyquist limit of the small image: it must average out
    board = (np.indices((64, 64)).sum(0) % 2).astype(np.float32)
    lr = resampling.bicubic_downscale(board, 4, quantize=False)
    assert abs(float(lr.mean()) - 0.5) < 0.02 and float(lr.std()) < 0.05

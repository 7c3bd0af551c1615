"""The super-resolution and U-Net colorizer networks: tiling, lightness kept, gamut fit, config."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_engine import archs
from gan_engine.data import color
from gan_engine.inference import tiling
from gan_engine.training import colorization

from tests.gan._upscale_colorize_helpers import BINS, TINY_SR, TINY_UNET, colorizer_model, photo


def test_tiled_equals_untiled_for_scale_4():
    torch.manual_seed(1)
    model = tiling.prepare_for_inference(archs.build_generator("srvgg", scale=4, **TINY_SR))
    img = photo(45, 61)
    whole = tiling.run_untiled(model, img)
    tiled = tiling.run_tiled(model, img, tile=16)
    assert tiled.shape == (180, 244, 3)
    assert np.abs(tiled - whole).max() < 1e-4


def test_colorizer_keeps_lightness_and_is_tileable():
    model = tiling.prepare_for_inference(colorizer_model())
    img = photo(40, 52, seed=3)
    L = colorization.lightness(img)
    out = tiling.run_untiled(model, L)
    assert out.shape == (40, 52, 3)
    assert np.abs(color.rgb_to_lab(out)[..., 0] - L[..., 0] * 100).max() < 0.05
    tiled = tiling.run_tiled(model, L, tile=8)
    assert np.abs(tiled - out).max() < 1e-4


def test_colorizer_gamut_fit_never_changes_lightness():
    # extreme chroma on dark and bright pixels: clipping would move L, the chroma scaling must not
    model = archs.build_generator("colorizer", bins=[[-100.0, 100.0], [100.0, -100.0]], unet=TINY_UNET,
                                     temperature=0.01)
    x = torch.linspace(0.02, 0.98, 64).reshape(1, 1, 8, 8)
    ab = torch.tensor([100.0, -100.0]).reshape(1, 2, 1, 1).expand(1, 2, 8, 8)
    rgb = model.to_rgb(x, ab)
    L = color.rgb_to_lab_torch(rgb)[:, 0]
    assert (L - x[:, 0] * 100).abs().max() < 0.2
    assert rgb.min() >= 0 and rgb.max() <= 1


def test_colorizer_rejects_bad_config():
    with pytest.raises(ValueError):
        archs.build_generator("colorizer", bins=[[0.0, 0.0]], unet=TINY_UNET)
    with pytest.raises(ValueError):
        archs.build_generator("colorizer", bins=BINS, unet=TINY_UNET, in_ch=3)
    with pytest.raises(ValueError):
        archs.build_generator("colorizer", bins=BINS, unet=TINY_UNET, class_weights=[1.0])

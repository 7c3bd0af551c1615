"""gan_engine.inference.wrappers Upscaler and Colorizer: layouts, files, limits, task check."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gan_engine import checkpoints
from gan_engine.data import color
from gan_engine.inference.wrappers import Colorizer, Upscaler
from gan_engine.training import colorization

from tests.gan._upscale_colorize_helpers import col_checkpoint, photo, sr_checkpoint


def test_upscaler_layouts_gray_alpha_and_limits(tmp_path):
    up = Upscaler(sr_checkpoint(tmp_path / "sr.safetensors"), device="cpu", tile=16)
    gray = photo(10, 12)[..., 0]
    assert up.upscale(gray).shape == (20, 24)
    assert up.upscale(gray[..., None]).shape == (20, 24, 1)
    rgba = np.concatenate([photo(10, 12), np.full((10, 12, 1), 0.25, np.float32)], axis=2)
    out = up.upscale(rgba)
    assert out.shape == (20, 24, 4) and np.allclose(out[..., 3], 0.25, atol=1e-3)
    # a grey RGB image stays grey
    out = up.upscale(np.repeat(gray[..., None], 3, axis=2))
    assert np.abs(out[..., 0] - out[..., 2]).max() < 1e-6
    small = Upscaler(tmp_path / "sr.safetensors", device="cpu", max_output_pixels=100)
    with pytest.raises(ValueError, match="MP"):
        small.upscale(photo(10, 12))


def test_upscale_file_keeps_16_bit_and_grey(tmp_path):
    from PIL import Image

    arr = (np.linspace(0, 65535, 14 * 18).reshape(14, 18)).astype(np.uint16)
    Image.fromarray(arr).save(tmp_path / "g16.png")
    up = Upscaler(sr_checkpoint(tmp_path / "sr.safetensors"), device="cpu")
    out = up.upscale_file(tmp_path / "g16.png", tmp_path / "out.png")
    with Image.open(out) as im:
        assert im.size == (36, 28) and im.mode in ("I;16", "I")


def test_task_mismatch_is_refused(tmp_path):
    sr = sr_checkpoint(tmp_path / "sr.safetensors")
    with pytest.raises(checkpoints.CheckpointError, match="upscale"):
        Colorizer(sr, device="cpu")


def test_colorizer_file_keeps_lightness_and_strength_zero_is_grey(tmp_path):
    from PIL import Image

    c = Colorizer(col_checkpoint(tmp_path / "c.safetensors"), device="cpu", tile=16)
    img = photo(30, 44, seed=5)
    gray = colorization.gray_of(img)
    out = c.colorize(gray)
    assert np.abs(color.rgb_to_lab(out)[..., 0] - color.rgb_to_lab(gray)[..., 0]).max() < 0.1
    assert np.ptp(out, axis=2).max() > 0.02  # some colour was added
    none = c.colorize(gray, strength=0.0)
    assert np.ptp(none, axis=2).max() < 2e-3
    with pytest.raises(ValueError):
        c.colorize(gray, strength=1.5)
    Image.fromarray((gray[..., 0] * 255).round().astype(np.uint8)).save(tmp_path / "g.png")
    path = c.colorize_file(tmp_path / "g.png", tmp_path / "out.png")
    with Image.open(path) as im:
        assert im.mode == "RGB" and im.size == (44, 30)
        rgb = np.asarray(im, np.float32) / 255
    L_in = color.rgb_to_lab(np.repeat((gray[..., :1] * 255).round() / 255, 3, axis=2))[..., 0]
    assert np.abs(color.rgb_to_lab(rgb)[..., 0] - L_in).max() < 1.0  # up to 8-bit rounding


def test_shipped_colorizer_card_records_the_decoding_it_runs():
    """The shipped (temperature, gain) is the one the card's selection rule picks from its table:
    the most colourful decoding whose validation PSNR stays 0.75 dB over grey."""
    from gan_engine.inference.wrappers import default_weights

    card = json.loads(default_weights("colorize").with_suffix(".json").read_text())
    cfg, rows = card["config"], card["decoding_table"]
    chosen = [r for r in rows if (r["temperature"], r["gain"]) == (cfg["temperature"], cfg["gain"])]
    assert len(chosen) == 1
    passing = [r for r in rows if r["psnr"] >= r["psnr_grey"] + 0.75]
    assert chosen[0] == max(passing, key=lambda r: r["colourfulness"])
    assert card["pretrained"]["licence"] == "Apache-2.0" and "coral" in card["pretrained"]["from"]

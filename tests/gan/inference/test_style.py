"""gan_engine.inference.style: colour transfer, Gatys optimisation, the Stylizer and its tiles."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from gan_engine import checkpoints
from gan_engine.data import color
from gan_engine.inference import style, tiling

from tests.gan._style_helpers import FAST_LAYERS, TINY_G, lab_stats, save, scene, sepia, tiny_style_checkpoint


def test_color_transfer_moves_lab_statistics_to_the_reference(rng):
    content, reference = scene(rng), sepia(rng) * 0.8 + 0.1
    out = style.color_transfer(content, reference)
    assert out.shape == content.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    mean_o, std_o = lab_stats(out)
    mean_r, std_r = lab_stats(reference)
    np.testing.assert_allclose(mean_o, mean_r, atol=1.5)  # Lab units; gamut clipping moves a little
    np.testing.assert_allclose(std_o, std_r, rtol=0.1, atol=1.0)


def test_color_transfer_tones_a_grey_print(rng):
    """A grey print given a sepia reference takes its tone (a, b means) and its tone curve."""
    grey = np.repeat(scene(rng).mean(axis=2, keepdims=True), 3, axis=2)
    reference = sepia(rng)
    out = style.color_transfer(grey, reference)
    lab_o = color.rgb_to_lab(out).reshape(-1, 3)
    mean_r, _ = lab_stats(reference)
    np.testing.assert_allclose(lab_o.mean(0)[1:], mean_r[1:], atol=1.0)
    assert lab_o[:, 2].mean() > 10  # visibly yellow-brown, not grey
    # shadows browner than highlights, as in the reference
    dark, light = lab_o[:, 0] < np.median(lab_o[:, 0]), lab_o[:, 0] >= np.median(lab_o[:, 0])
    assert lab_o[dark, 2].mean() > lab_o[light, 2].mean()


def test_color_transfer_grey_layouts_strength_and_blocks(rng):
    content, reference = scene(rng), sepia(rng)
    g2 = content.mean(axis=2)
    assert style.color_transfer(g2, reference).shape == (*g2.shape, 3)
    np.testing.assert_allclose(style.color_transfer(content, reference, strength=0.0), content, atol=1e-4)
    whole = style.color_transfer(content, reference)
    fractions = []
    blocked = style.color_transfer(content, reference, block_pixels=5 * content.shape[1], progress=fractions.append)
    np.testing.assert_array_equal(whole, blocked)  # row blocks change nothing
    assert len(fractions) == 10 and fractions[-1] == 1.0
    half = style.color_transfer(content, reference, strength=0.5)
    assert np.abs(half - content).mean() < np.abs(whole - content).mean()


def test_color_transfer_statistics_from_a_shrunk_copy_are_close(rng):
    content = np.repeat(np.repeat(scene(rng), 4, axis=0), 4, axis=1)  # 192 x 256
    reference = sepia(rng)
    full = style.color_transfer(content, reference, max_side=None)
    shrunk = style.color_transfer(content, reference, max_side=64)
    assert np.abs(full - shrunk).mean() < 0.01


def test_color_transfer_rejects_bad_input(rng):
    with pytest.raises(ValueError):
        style.color_transfer(np.zeros((4, 4, 2), np.float32), sepia(rng))
    with pytest.raises(ValueError):
        style.color_transfer(scene(rng), sepia(rng), strength=1.5)


def _opt_config(**kw) -> style.StyleOptimizeConfig:
    base = dict(steps=8, max_side=64, style_layers=FAST_LAYERS, content_layers=("relu2_1",), progress=False,
                lr=0.03)
    return style.StyleOptimizeConfig(**{**base, **kw})


def test_optimize_lowers_the_style_loss(rng):
    content, reference = scene(rng), sepia(rng)
    fractions = []
    out, report = style.optimize_style(content, reference, _opt_config(), progress=fractions.append)
    assert out.shape == content.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert report.style_after < report.style_before
    assert report.content_before == 0.0 and report.content_after > 0.0
    assert report.seconds > 0 and report.steps == 8 and report.working_size is None
    assert report.feature_network["kind"] in ("random-multiscale", "vgg19")
    assert fractions[-1] == 1.0 and len(fractions) == 8
    json.dumps(report.to_dict())


def test_optimize_is_deterministic_with_a_seed(rng):
    content, reference = scene(rng), sepia(rng)
    a, _ = style.optimize_style(content, reference, _opt_config(steps=3, init="noise", seed=7))
    b, _ = style.optimize_style(content, reference, _opt_config(steps=3, init="noise", seed=7))
    c, _ = style.optimize_style(content, reference, _opt_config(steps=3, init="noise", seed=8))
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3


def test_optimize_lbfgs_and_larger_content_through_the_working_resolution(rng):
    content = np.repeat(np.repeat(scene(rng), 2, axis=0), 2, axis=1)  # 96 x 128 > max_side 64
    out, report = style.optimize_style(content, sepia(rng), _opt_config(steps=2, optimizer="lbfgs"))
    assert out.shape == content.shape
    assert report.working_size == (48, 64)
    assert report.style_after < report.style_before


def test_optimize_config_validation():
    with pytest.raises(ValueError):
        style.StyleOptimizeConfig(optimizer="sgd")
    with pytest.raises(ValueError):
        style.StyleOptimizeConfig(init="reference")
    with pytest.raises(ValueError):
        style.StyleOptimizeConfig(beta=-1.0)


@pytest.mark.parametrize("reflect_pad", [0, 8])
def test_tiled_feedforward_equals_untiled(tmp_path, rng, reflect_pad):
    stylizer = style.Stylizer(tiny_style_checkpoint(tmp_path, reflect_pad), device="cpu")
    assert stylizer.pad == reflect_pad
    img = scene(rng, 97, 131)
    tiled = stylizer.stylize(img, tile=48)  # several tiles; overlap = the receptive radius
    p = reflect_pad
    padded = np.pad(img, ((p, p), (p, p), (0, 0)), mode="symmetric")
    whole = tiling.run_untiled(stylizer.model, padded)[p:p + img.shape[0], p:p + img.shape[1]]
    assert tiled.shape == img.shape
    assert np.abs(tiled - np.clip(whole, 0, 1)).max() < 1e-4
    assert np.abs(tiled - img).max() > 1e-3  # the model does something


def test_stylizer_refuses_a_model_of_another_task(tmp_path):
    from gan_engine.archs import build_generator

    path = checkpoints.save_checkpoint(tmp_path / "restore.safetensors", build_generator("unet", **TINY_G),
                                       {"task": "restore"})
    with pytest.raises(checkpoints.CheckpointError, match="not a style model"):
        style.Stylizer(path, device="cpu")


def test_stylize_file_keeps_size_and_bit_depth(tmp_path, rng, style_folders):
    _, reference = style_folders
    src = tmp_path / "in16.png"
    from gan_engine.data import imageio

    imageio.save_image(src, scene(rng, 30, 40), bit_depth=16)
    out = style.stylize_file(src, tmp_path / "out.png", method="color", reference=reference)
    loaded = imageio.load_image(out)
    assert loaded.rgb.shape == (30, 40, 3) and loaded.bit_depth == 16
    grey_in = save(tmp_path / "grey.png", np.repeat(scene(rng, 30, 40).mean(2, keepdims=True), 3, 2))
    Image.open(grey_in).convert("L").save(grey_in)
    toned = imageio.load_image(style.stylize_file(grey_in, tmp_path / "toned.png", reference=reference))
    assert not toned.is_gray  # the sepia tone makes it a colour file
    with pytest.raises(ValueError, match="needs a reference"):
        style.stylize_file(src, tmp_path / "x.png", method="optimize")

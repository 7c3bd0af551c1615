"""gan_engine.inference.tiling: tiled output equals untiled output when the overlap covers the receptive field."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from gan_engine.archs import build_generator
from gan_engine.inference.tiling import (
    prepare_for_inference,
    reflect_indices,
    run_tiled,
    run_untiled,
    tile_windows,
)


def _image(rng, h, w, c=3):
    return rng.random((h, w, c), dtype=np.float32)


def test_unet_tiled_equals_untiled_on_an_odd_size(rng, shallow_unet_config):
    """Given a 97x131 image and 32-pixel tiles (windows strictly inside the image), when the
    overlap defaults to the receptive radius, then tiled == untiled to 1e-4."""
    model = prepare_for_inference(build_generator("unet", **shallow_unet_config))
    image = _image(rng, 97, 131)
    windows = [w for _, w in tile_windows(97, 131, tile=32, overlap=28, multiple=4)]
    assert any(w[1] - w[0] < 97 and w[3] - w[2] < 131 for w in windows)  # the test has real interiors
    untiled = run_untiled(model, image)
    tiled = run_tiled(model, image, tile=32)
    assert tiled.shape == untiled.shape == (97, 131, 3)
    assert np.abs(tiled - untiled).max() < 1e-4
    # and the test is sensitive: without overlap the seams show
    assert np.abs(run_tiled(model, image, tile=32, overlap=0) - untiled).max() > 1e-2


def test_default_unet_tiled_equals_untiled(rng, tiny_unet_config):
    """The default 3-level layout (radius 74, size_multiple 8) on an odd size larger than its windows."""
    model = prepare_for_inference(build_generator("unet", **tiny_unet_config))
    image = _image(rng, 203, 237)
    tiled = run_tiled(model, image, tile=40)
    assert np.abs(tiled - run_untiled(model, image)).max() < 1e-4


def test_srvgg_x4_tiled_equals_untiled(rng):
    model = prepare_for_inference(build_generator("srvgg", scale=4, num_feat=16, num_conv=4))
    image = _image(rng, 97, 131)
    untiled = run_untiled(model, image)
    tiled = run_tiled(model, image, tile=24)
    assert tiled.shape == untiled.shape == (388, 524, 3)
    assert np.abs(tiled - untiled).max() < 1e-4
    assert np.abs(run_tiled(model, image, tile=24, overlap=0) - untiled).max() > 1e-2


def test_a_tile_larger_than_the_image_is_one_untiled_run(rng, tiny_unet_config):
    model = build_generator("unet", **tiny_unet_config).eval()
    image = _image(rng, 21, 10)
    calls = []
    out = run_tiled(model, image, tile=512, progress=calls.append)
    assert calls == [1.0]
    assert np.abs(out - run_untiled(model, image)).max() < 1e-5


def test_windows_cover_the_image_and_stay_bounded():
    boxes = list(tile_windows(97, 131, tile=32, overlap=24, multiple=8))
    covered = np.zeros((97, 131), int)
    for (y0, y1, x0, x1), (wy0, wy1, wx0, wx1) in boxes:
        covered[y0:y1, x0:x1] += 1
        assert wy0 % 8 == 0 and wx0 % 8 == 0 and (wy1 - wy0) % 8 == 0 and (wx1 - wx0) % 8 == 0
        assert wy1 - wy0 <= 32 + 2 * 24 and wx1 - wx0 <= 32 + 2 * 24  # peak memory bounded by the tile
        assert wy0 <= y0 - min(y0, 24) and wy1 >= min(y1 + 24, 104)
    assert (covered == 1).all()


def test_progress_is_reported_per_tile(rng):
    model = build_generator("srvgg", scale=2, num_feat=8, num_conv=1).eval()
    calls = []
    run_tiled(model, _image(rng, 20, 30), tile=10, progress=calls.append)
    assert len(calls) == 6 and calls[-1] == 1.0 and calls == sorted(calls)


def test_tiny_images_are_padded_by_repeated_reflection(rng, tiny_unet_config):
    model = build_generator("unet", **tiny_unet_config).eval()
    image = _image(rng, 3, 5)
    out = run_tiled(model, image, tile=8)
    assert out.shape == (3, 5, 3)
    assert np.abs(out - run_untiled(model, image)).max() < 1e-5


def test_reflect_indices_match_numpy_reflect_padding():
    axis = np.arange(7)
    assert np.array_equal(reflect_indices(0, 12, 7), np.pad(axis, (0, 5), mode="reflect"))
    assert np.array_equal(reflect_indices(-3, 7, 7), np.pad(axis, (3, 0), mode="reflect"))
    assert np.array_equal(reflect_indices(0, 4, 1), np.zeros(4, int))


def test_grey_input_must_be_converted_by_the_caller(rng, tiny_unet_config):
    model = build_generator("unet", **tiny_unet_config).eval()
    with pytest.raises(ValueError, match="convert grey to 3 channels"):
        run_tiled(model, _image(rng, 16, 16, 1))


def test_half_is_ignored_on_cpu_with_a_log_line(rng, caplog):
    model = build_generator("srvgg", scale=2, num_feat=8, num_conv=1).eval()
    image = _image(rng, 9, 11)
    with caplog.at_level(logging.INFO, logger="gan_engine.inference.tiling"):
        out = run_tiled(model, image, half=True)
    assert "half=True ignored on cpu" in caplog.text
    assert out.dtype == np.float32 and np.abs(out - run_untiled(model, image)).max() < 1e-6

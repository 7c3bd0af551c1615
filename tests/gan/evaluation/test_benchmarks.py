"""gan_engine.evaluation.benchmarks: the upscale and colorize protocols."""

from __future__ import annotations

import numpy as np
import pytest

from gan_engine.data import resampling
from gan_engine.evaluation import benchmarks

from tests.gan._restore_helpers import make_image_folder


def test_evaluate_upscale_scores_bicubic_like_the_tables(tmp_path):
    folder = make_image_folder(tmp_path / "set", n=2, size=48)
    res = benchmarks.evaluate_upscale(lambda lr: resampling.bicubic_upscale(lr, 4), folder, scale=4)
    assert res["images"] == 2
    assert res["model"]["psnr"] == pytest.approx(res["bicubic"]["psnr"])
    better = benchmarks.evaluate_upscale(lambda lr: np.zeros((lr.shape[0] * 4, lr.shape[1] * 4, 3), np.float32),
                                         folder, scale=4)
    assert better["model"]["psnr"] < better["bicubic"]["psnr"]


def test_evaluate_colorize_grey_output_has_zero_colourfulness(tmp_path):
    folder = make_image_folder(tmp_path / "set", n=2, size=48)
    res = benchmarks.evaluate_colorize(lambda g: g, folder)
    assert res["model"]["psnr"] == pytest.approx(res["gray"]["psnr"])
    assert res["colourfulness"]["share"] < 0.01 and res["colourfulness"]["original"] > 1
    assert "colourfulness" in benchmarks.format_table([res])

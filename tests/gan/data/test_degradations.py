"""Tests of gan_engine.data.degradations: every op keeps shape, dtype and range, is seeded; the
pipeline covers grey and colour, records JSON-serialisable parameters and replays exactly."""
import json

import numpy as np
import pytest

from gan_engine.data.degradations import blur_noise, pipeline, tone
from gan_engine.evaluation.metrics import psnr, to_luminance

# Ops whose result does not depend on a seed once their parameters are fixed still get
# different parameters from different seeds through random_op.
ALL_OPS = sorted(pipeline.OPS)


def _photo(h=48, w=64, seed=0) -> np.ndarray:
    """A small synthetic 'photograph': smooth colour gradients, an edge and some texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([xx / w, yy / h, 0.5 + 0.3 * np.sin(xx / 5 + yy / 7)], axis=2)
    img[h // 3: 2 * h // 3, w // 4: w // 2] = (0.9, 0.2, 0.1)
    img += 0.05 * rng.standard_normal(img.shape).astype(np.float32)
    return np.clip(img, 0, 1).astype(np.float32)


@pytest.mark.parametrize("name", ALL_OPS)
@pytest.mark.parametrize("severity", [0.0, 0.5, 1.0])
def test_op_keeps_shape_dtype_and_range(name, severity):
    img = _photo()
    out, params = pipeline.random_op(name, img, 3, severity=severity)
    assert out.shape == img.shape
    assert out.dtype == np.float32
    assert np.isfinite(out).all()
    assert out.min() >= 0.0 and out.max() <= 1.0
    json.dumps(params)


@pytest.mark.parametrize("name", ALL_OPS)
def test_op_is_deterministic_for_a_seed_and_differs_between_seeds(name):
    img = _photo()
    a, pa = pipeline.random_op(name, img, 11, severity=0.8)
    b, pb = pipeline.random_op(name, img, 11, severity=0.8)
    c, pc = pipeline.random_op(name, img, 12, severity=0.8)
    np.testing.assert_array_equal(a, b)
    assert pa == pb
    assert pc != pa
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("name", sorted(set(ALL_OPS) - {"to_gray_print"}))
def test_op_keeps_grey_2d_shape(name):
    grey = _photo()[..., 1]
    out, _ = pipeline.random_op(name, grey, 5, severity=0.7, gray=True)
    assert out.shape == grey.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_op_changes_the_image_at_high_severity():
    img = _photo(64, 64)
    for name in ALL_OPS:
        out, _ = pipeline.random_op(name, img, 1, severity=1.0)
        assert np.abs(out - img).mean() > 1e-4, name


def test_to_gray_print_makes_three_identical_channels_with_bt601_luminance():
    img = _photo()
    out = tone.to_gray_print(img)
    assert out.shape == img.shape and out.dtype == np.float32
    np.testing.assert_array_equal(out[..., 0], out[..., 1])
    np.testing.assert_array_equal(out[..., 0], out[..., 2])
    np.testing.assert_allclose(out[..., 0], to_luminance(img), atol=1e-5)


def test_pure_ops_do_not_modify_their_input():
    img = _photo()
    before = img.copy()
    for name in ALL_OPS:
        pipeline.random_op(name, img, 2, severity=1.0)
    np.testing.assert_array_equal(img, before)


def test_add_gaussian_noise_has_the_requested_sigma():
    img = np.full((256, 256, 3), 0.5, np.float32)
    noisy = blur_noise.add_gaussian_noise(img, 25, seed=0)
    assert noisy.dtype == np.float32 and noisy.shape == img.shape
    assert np.std(noisy - img) * 255 == pytest.approx(25, rel=0.02)
    np.testing.assert_array_equal(noisy, blur_noise.add_gaussian_noise(img, 25, seed=0))
    assert not np.array_equal(noisy, blur_noise.add_gaussian_noise(img, 25, seed=1))
    # PSNR of sigma 25 noise without clipping is 20 log10(255 / 25) ~ 20.17 dB
    unclipped = blur_noise.add_gaussian_noise(img, 25, seed=0, clip=False)
    assert psnr(unclipped, img) == pytest.approx(20.17, abs=0.1)


def test_age_image_is_deterministic_and_seed_dependent():
    img = _photo()
    a, ra = pipeline.age_image(img, 7)
    b, rb = pipeline.age_image(img, 7)
    np.testing.assert_array_equal(a, b)
    assert ra == rb
    c, rc = pipeline.age_image(img, 8)
    assert rc != ra


def test_age_image_accepts_a_generator():
    img = _photo()
    rng = np.random.default_rng(3)
    a, _ = pipeline.age_image(img, rng)
    b, _ = pipeline.age_image(img, rng)  # the generator advanced: a different draw
    c, _ = pipeline.age_image(img, np.random.default_rng(3))
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, b)


def test_age_image_over_many_seeds_covers_grey_and_colour_and_replays():
    # given a small image aged with 120 seeds
    img = _photo(40, 40)
    grey = 0
    op_names = set()
    n_ops = []
    for seed in range(120):
        aged, record = pipeline.age_image(img, seed)
        # then shape, dtype and range are kept
        assert aged.shape == img.shape and aged.dtype == np.float32
        assert 0.0 <= aged.min() and aged.max() <= 1.0
        # and the record survives JSON and replays to the same image
        restored = json.loads(json.dumps(record))
        np.testing.assert_array_equal(pipeline.replay(img, restored), aged)
        is_grey = pipeline.is_gray_record(record)
        grey += is_grey
        if is_grey:
            assert record[0][0] == "to_gray_print"
        op_names.update(name for name, _ in record)
        n_ops.append(len(record) - is_grey)
    # grey prints about as often as colour ones
    assert 35 <= grey <= 85
    # every op shows up, and the number of ops per image varies widely (clean-ish to heavy)
    assert op_names == set(pipeline.OPS)
    assert min(n_ops) <= 1 and max(n_ops) >= 9


def test_age_image_jpeg_is_usually_last():
    img = _photo(32, 32)
    last = other = 0
    for seed in range(200):
        _, record = pipeline.age_image(img, seed)
        names = [n for n, _ in record]
        if "jpeg" in names:
            if names[-1] == "jpeg":
                last += 1
            else:
                other += 1
    assert last > 2 * other > 0


def test_age_image_accepts_grey_2d_input_and_returns_three_channels():
    grey = _photo()[..., 0]
    aged, _ = pipeline.age_image(grey, 0)
    assert aged.shape == grey.shape + (3,)


def test_age_image_rejects_bad_shapes():
    with pytest.raises(ValueError):
        pipeline.age_image(np.zeros((4, 4, 4), np.float32), 0)


def test_degrade_for_eval_is_fixed_by_seed_and_grey_on_request():
    img = _photo(64, 64)
    a = pipeline.degrade_for_eval(img, 0, gray=False)
    np.testing.assert_array_equal(a, pipeline.degrade_for_eval(img, 0, gray=False))
    assert a.shape == img.shape and a.dtype == np.float32
    for seed in range(10):
        _, rec = pipeline.age_image(img, seed, pipeline.eval_config(gray=True))
        assert pipeline.is_gray_record(rec)
        assert rec[0] == ("to_gray_print", {"weights": pytest.approx([0.299, 0.587, 0.114])})
        _, rec = pipeline.age_image(img, seed, pipeline.eval_config(gray=False))
        assert not pipeline.is_gray_record(rec)
        assert len(rec) >= 1


def test_aging_config_is_frozen():
    cfg = pipeline.AgingConfig()
    with pytest.raises(Exception):
        cfg.p_gray = 0.1  # type: ignore[misc]

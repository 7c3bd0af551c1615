"""gan_engine.data.pairs: on-the-fly (aged, clean) pairs from RAM-cached images."""

import numpy as np
import pytest
import torch

from gan_engine.data import pairs

from tests.gan._restore_helpers import make_image_folder


@pytest.fixture
def pools(tmp_path):
    color = make_image_folder(tmp_path / "color", n=3, size=80, seed=1)
    gray = make_image_folder(tmp_path / "gray", n=3, size=80, gray=True, seed=2)
    return [pairs.ImagePool.load(color, max_side=64), pairs.ImagePool.load(gray, max_side=64)]


def test_pool_caches_uint8_at_reduced_size(pools):
    assert len(pools[0].images) == 3
    assert all(img.dtype == np.uint8 and max(img.shape[:2]) == 64 and img.shape[2] == 3 for img in pools[0].images)


def test_pool_holds_out_the_last_images(tmp_path):
    folder = make_image_folder(tmp_path / "c", n=4, size=40)
    pool = pairs.ImagePool.load(folder, max_side=None, exclude=1)
    assert [p.name for p in pool.paths] == ["img_00.png", "img_01.png", "img_02.png"]


def test_batch_shapes_range_and_determinism(pools):
    sampler = pairs.PairSampler(pools, crop=32)
    aged, clean = sampler.batch(4, np.random.default_rng(7))
    assert aged.shape == clean.shape == (4, 3, 32, 32)
    assert aged.dtype == clean.dtype == torch.float32
    assert 0 <= float(aged.min()) and float(aged.max()) <= 1
    aged2, clean2 = sampler.batch(4, np.random.default_rng(7))
    assert torch.equal(aged, aged2) and torch.equal(clean, clean2)


def test_grey_prints_have_grey_targets(pools):
    sampler = pairs.PairSampler(pools, crop=24)
    rng = np.random.default_rng(0)
    for _ in range(6):
        aged, target, gray = pairs.make_pair(pairs.random_crop(pools[0].images[0], 24, rng), rng)
        if gray:
            assert np.allclose(target[..., 0], target[..., 1]) and np.allclose(target[..., 1], target[..., 2])
    aged, clean = sampler.batch(8, rng)
    assert clean.shape == (8, 3, 24, 24)


def test_validation_set_alternates_grey(tmp_path):
    folder = make_image_folder(tmp_path / "v", n=2, size=60)
    val = pairs.validation_set(pairs.list_images(folder), seed=3, size=48)
    assert [g for _, _, g in val] == [False, True]
    assert val[0][0].shape == (48, 48, 3)
    again = pairs.validation_set(pairs.list_images(folder), seed=3, size=48)
    assert np.array_equal(val[1][0], again[1][0])

"""Synthetic damage with its mask: deterministic per seed, the mask says what was painted."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from gan_engine.data import damage


@pytest.fixture
def photo() -> np.ndarray:
    """A smooth 96x128 colour image (gradients), float32 [0, 1]."""
    y, x = np.mgrid[0:96, 0:128].astype(np.float32)
    return np.stack([x / 128, y / 96, 0.5 + 0.2 * np.sin(x / 9)], axis=2).astype(np.float32)


def test_same_seed_same_damage(photo):
    a, ma = damage.damage_image(photo, 7)
    b, mb = damage.damage_image(photo, 7)
    c, mc = damage.damage_image(photo, 8)
    assert np.array_equal(a, b) and np.array_equal(ma, mb)
    assert not np.array_equal(ma, mc)


def test_generator_seed_and_int_seed_agree(photo):
    a, ma = damage.damage_image(photo, 3)
    b, mb = damage.damage_image(photo, np.random.default_rng(3))
    assert np.array_equal(a, b) and np.array_equal(ma, mb)


def test_shapes_ranges_and_input_untouched(photo):
    before = photo.copy()
    out, mask = damage.damage_image(photo, 1)
    assert out.shape == photo.shape and out.dtype == np.float32
    assert mask.shape == photo.shape[:2] and mask.dtype == np.float32
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert np.array_equal(photo, before)


def test_outside_the_mask_only_faint_fringes_change(photo):
    """A pixel outside the mask was covered by less than ``mask_threshold`` of any layer, so it
    moved by at most about that much (two overlapping layers at most here)."""
    cfg = damage.DamageConfig(p_none=0.0)
    for seed in range(5):
        out, mask = damage.damage_image(photo, seed, cfg)
        assert mask.sum() > 0
        outside = np.abs(out - photo)[mask == 0]
        assert outside.max() <= 1 - (1 - cfg.mask_threshold) ** 2
        # and the visible changes sit at the mask's edge: grown by 1 px it holds nearly all
        beyond = np.abs(out - photo).max(axis=2)[damage.grow_mask(mask, 1) == 0]
        assert np.mean(beyond > 0.05) < 0.02


def test_undamaged_images_exist():
    layers = damage.synthesize_damage(64, 64, 0, damage.DamageConfig(p_none=1.0))
    assert layers == []


@pytest.mark.parametrize("kind", ["scratch_layers", "crack_layers", "dust_layers", "tear_layers"])
def test_every_kind_paints_something(kind):
    fn = getattr(damage, kind)
    arg = {"scratch_layers": {"count": 2}, "crack_layers": {"trees": 1}, "dust_layers": {"count": 20},
           "tear_layers": {"count": 2}}[kind]
    layers = fn(128, 128, 5, **arg)
    assert layers and all(a.shape == (128, 128) and a.max() > 0.25 for a, _ in layers)
    assert fn(128, 128, 5, **arg)[0][0].tobytes() == layers[0][0].tobytes()


def _half_width(mask: np.ndarray) -> float:
    """90th percentile of the distance to the background inside the mask (robust to junctions)."""
    dist = cv2.distanceTransform((mask > 0.5).astype(np.uint8), cv2.DIST_L2, 5)
    return float(np.percentile(dist[mask > 0.5], 90))


def test_crack_width_spans_1_to_15_px():
    thin = [a for s in range(4) for a, _ in damage.crack_layers(192, 192, s, trees=1, width=(1.0, 1.0))]
    wide = [a for s in range(4) for a, _ in damage.crack_layers(192, 192, s, trees=1, width=(15.0, 15.0))]
    assert max(_half_width(a >= 0.25) for a in thin) <= 2.0
    assert min(_half_width(a >= 0.25) for a in wide) >= 3.5


def test_wide_cracks_have_torn_edges():
    """A torn edge is ragged: the outline of a wide crack is much longer than a smooth band's."""
    alpha = damage.crack_layers(192, 192, 2, trees=1, width=(12.0, 12.0))[0][0] >= 0.25
    contours, _ = cv2.findContours(alpha.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    area = float(alpha.sum())
    # a smooth band of width 12 has perimeter ~ 2 * area / 12
    assert perimeter > 1.3 * 2 * area / 12


def test_grow_mask():
    m = np.zeros((9, 9), np.float32)
    m[4, 4] = 1
    assert damage.grow_mask(m, 1).sum() == 9
    assert damage.grow_mask(m, 0).sum() == 1


def test_damage_example_is_deterministic(photo):
    a = damage.damage_example(photo, 11)
    b = damage.damage_example(photo, 11)
    for x, y in zip(a, b):
        assert np.array_equal(x, y)
    scan, base, mask = a
    assert scan.shape == base.shape == photo.shape and mask.shape == photo.shape[:2]

"""Tests of the classical OpenCV restoration baseline."""
import numpy as np
import pytest

from gan_engine.data.degradations import blur_noise, defects, tone
from gan_engine.evaluation.metrics import psnr
from gan_engine.inference.classical import ClassicalParams, classical_restore, defect_mask, estimate_noise_sigma


def _scene(h=96, w=128) -> np.ndarray:
    """Smooth shapes and gradients spanning the full tonal range (a clean 'photograph')."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([xx / w, 0.5 + 0.45 * np.sin(yy / 9.0), 1.0 - yy / h], axis=2)
    disc = (xx - w * 0.65) ** 2 + (yy - h * 0.45) ** 2 < (h * 0.25) ** 2
    img[disc] = (0.95, 0.85, 0.2)
    img[h // 5: h // 2, w // 8: w // 3] = (0.05, 0.1, 0.4)
    return np.clip(img, 0, 1).astype(np.float32)


def _specked(img: np.ndarray) -> np.ndarray:
    aged = defects.dust(img, seed=1, count=60, max_radius=1.5, dark_fraction=0.5)
    return defects.scratches(aged, seed=2, count=3, max_width=1.0, broken=0.0, light_fraction=0.5)


def test_classical_restore_improves_a_specked_noisy_faded_image():
    # given a clean image that is faded, specked and scratched, and noisy
    clean = _scene()
    aged = tone.fade(clean, black=0.25, white=0.8, gamma=1.0)
    aged = _specked(aged)
    aged = blur_noise.add_gaussian_noise(aged, 15, seed=3)
    # when it is restored
    out = classical_restore(aged)
    # then it is much closer to the clean image
    assert psnr(out, clean) > psnr(aged, clean) + 2.0


def test_each_stage_helps_on_its_own_defect():
    clean = _scene()
    noisy = blur_noise.add_gaussian_noise(clean, 25, seed=0)
    assert psnr(classical_restore(noisy), clean) > psnr(noisy, clean) + 2.0
    faded = tone.fade(clean, black=0.3, white=0.75, gamma=1.0)
    assert psnr(classical_restore(faded), clean) > psnr(faded, clean) + 3.0
    cast = tone.colour_cast(clean, gains=[1.0, 0.9, 0.6], offsets=[0.05, 0.03, 0.0])
    assert psnr(classical_restore(cast), clean) > psnr(cast, clean) + 3.0
    dusty = defects.dust(clean, seed=1, count=60, max_radius=1.5, dark_fraction=0.5)
    assert psnr(classical_restore(dusty), clean) > psnr(dusty, clean) + 1.0


def test_defect_mask_finds_a_scratch_and_a_speck_and_nothing_on_a_clean_image():
    import cv2

    lum = np.full((96, 128), 0.4, np.float32)
    cv2.line(lum, (10, 5), (100, 90), 0.9, 1)  # a bright scratch
    cv2.circle(lum, (110, 20), 1, 0.05, -1)  # a dark speck
    truth = np.abs(lum - 0.4) > 0.2
    mask = defect_mask(lum, 0.0) > 0
    assert (mask & truth).sum() == truth.sum()  # everything found (the mask is dilated)
    assert mask.sum() < 6 * truth.sum()  # a 3x3 dilation of a diagonal line is ~5x its area
    assert not (defect_mask(_scene()[..., 1], 0.0) > 0).any()


def test_noise_estimate_is_close_to_the_true_sigma():
    clean = _scene(128, 128)[..., 0]
    for sigma in (5, 15, 30):
        noisy = clean + np.random.default_rng(sigma).normal(0, sigma / 255, clean.shape).astype(np.float32)
        assert estimate_noise_sigma(noisy) * 255 == pytest.approx(sigma, rel=0.2)


@pytest.mark.parametrize("shape", [(40, 56, 3), (40, 56), (40, 56, 1)])
def test_classical_restore_keeps_shape_dtype_and_range(shape):
    img = np.random.default_rng(0).random(shape, dtype=np.float32)
    out = classical_restore(img)
    assert out.shape == shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_grey_print_stays_grey():
    grey = tone.to_gray_print(_specked(_scene()))
    out = classical_restore(blur_noise.add_gaussian_noise(grey, 10, seed=0)[..., :1].repeat(3, axis=2))
    np.testing.assert_array_equal(out[..., 0], out[..., 1])
    np.testing.assert_array_equal(out[..., 0], out[..., 2])


def test_classical_restore_is_deterministic_and_pure():
    img = blur_noise.add_gaussian_noise(_scene(), 20, seed=1)
    before = img.copy()
    a = classical_restore(img)
    np.testing.assert_array_equal(a, classical_restore(img))
    np.testing.assert_array_equal(img, before)


def test_params_are_frozen_and_rejects_bad_shapes():
    with pytest.raises(Exception):
        ClassicalParams().h_per_sigma = 2.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        classical_restore(np.zeros((8, 8, 4), np.float32))

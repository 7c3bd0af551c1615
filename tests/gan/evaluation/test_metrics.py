"""Tests of gan_engine.evaluation.metrics against known values and scikit-image."""
import math

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from gan_engine.evaluation.metrics import colourfulness, psnr, rgb_to_y, ssim, to_luminance


def _skimage_ssim(a, b):
    kwargs = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)
    if a.ndim == 3:
        kwargs["channel_axis"] = -1
    return structural_similarity(a, b, **kwargs)


def _structured(h=96, w=80):
    """A smooth gradient with a disc, stripes and an edge: an image with structure, not noise."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.empty((h, w, 3))
    img[..., 0] = xx / w
    img[..., 1] = 0.5 + 0.4 * np.sin(yy / 3.0)
    img[..., 2] = ((xx - w / 2) ** 2 + (yy - h / 2) ** 2 < (h / 4) ** 2) * 0.8 + 0.1
    img[:, : w // 3] *= 0.5
    return img


def test_psnr_of_identical_images_is_inf():
    img = np.random.default_rng(0).random((16, 16, 3))
    assert psnr(img, img) == math.inf
    assert psnr(img, img, on="y") == math.inf


def test_psnr_known_value_for_known_mse():
    # given a constant error of 0.1 everywhere, MSE = 0.01 and PSNR = 10 log10(1 / 0.01) = 20 dB
    a = np.full((8, 8, 3), 0.5)
    b = a + 0.1
    assert psnr(a, b) == pytest.approx(20.0)
    assert psnr(a * 255, b * 255, data_range=255.0) == pytest.approx(20.0)
    # an error on one channel out of three has a third of the MSE
    c = a.copy()
    c[..., 0] += 0.1
    assert psnr(a, c) == pytest.approx(10 * math.log10(3 / 0.01))


def test_psnr_crop_ignores_border():
    a = np.zeros((20, 20, 3))
    b = a.copy()
    b[:2] = 1.0  # error only in the two top rows
    assert psnr(a, b, crop=2) == math.inf
    assert psnr(a, b) < 20


def test_psnr_rejects_shape_mismatch_and_bad_channel():
    with pytest.raises(ValueError):
        psnr(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))
    with pytest.raises(ValueError):
        psnr(np.zeros((4, 4, 3)), np.zeros((4, 4, 3)), on="lab")


def test_rgb_to_y_matches_bt601_table_values():
    white, black = np.ones((1, 1, 3)), np.zeros((1, 1, 3))
    assert rgb_to_y(white)[0, 0] == pytest.approx(235 / 255)
    assert rgb_to_y(black)[0, 0] == pytest.approx(16 / 255)
    red = np.array([[[1.0, 0.0, 0.0]]])
    assert rgb_to_y(red)[0, 0] == pytest.approx((16 + 65.481) / 255)
    # grey given as (H, W) is treated as R = G = B
    assert rgb_to_y(np.full((2, 2), 0.5))[0, 0] == pytest.approx(rgb_to_y(np.full((1, 1, 3), 0.5))[0, 0])


def test_to_luminance_of_grey_print_is_its_channel():
    g = np.random.default_rng(1).random((5, 6))
    np.testing.assert_allclose(to_luminance(np.repeat(g[..., None], 3, axis=2)), g, atol=1e-12)
    np.testing.assert_allclose(to_luminance(g), g)


@pytest.mark.parametrize("on", ["rgb", "y"])
def test_ssim_matches_skimage_on_random_images(on):
    rng = np.random.default_rng(2)
    a = rng.random((64, 72, 3))
    b = np.clip(a + 0.15 * rng.standard_normal(a.shape), 0, 1)
    ours = ssim(a, b, on=on)
    ref = _skimage_ssim(a, b) if on == "rgb" else _skimage_ssim(rgb_to_y(a), rgb_to_y(b))
    assert ours == pytest.approx(ref, abs=1e-4)


def test_ssim_matches_skimage_on_structured_images():
    a = _structured()
    rng = np.random.default_rng(3)
    b = np.clip(0.8 * a + 0.1 + 0.03 * rng.standard_normal(a.shape), 0, 1)
    assert ssim(a, b) == pytest.approx(_skimage_ssim(a, b), abs=1e-4)
    assert ssim(a[..., 0], b[..., 0]) == pytest.approx(_skimage_ssim(a[..., 0], b[..., 0]), abs=1e-4)
    assert ssim(a, b, crop=4) == pytest.approx(_skimage_ssim(a[4:-4, 4:-4], b[4:-4, 4:-4]), abs=1e-4)


def test_ssim_of_identical_is_one_and_float32_works():
    a = _structured().astype(np.float32)
    assert ssim(a, a) == pytest.approx(1.0)
    b = np.clip(a + 0.05, 0, 1).astype(np.float32)
    assert ssim(a, b) == pytest.approx(_skimage_ssim(a.astype(np.float64), b.astype(np.float64)), abs=1e-4)


def test_ssim_rejects_too_small_images():
    with pytest.raises(ValueError):
        ssim(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)))


def test_colourfulness_of_grey_is_zero_and_colour_is_positive():
    g = np.random.default_rng(4).random((10, 10, 1))
    assert colourfulness(np.repeat(g, 3, axis=2)) == pytest.approx(0.0, abs=1e-9)
    assert colourfulness(g[..., 0]) == 0.0
    # pure red against pure green, half and half: std_rg = 255, yb = 127.5 constant, mean_rg = 0
    img = np.zeros((4, 4, 3))
    img[:2, :, 0] = 1.0
    img[2:, :, 1] = 1.0
    assert colourfulness(img) == pytest.approx(255.0 + 0.3 * 127.5)
    assert colourfulness(_structured()) > 10

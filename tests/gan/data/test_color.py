"""gan_engine.data.color: sRGB <-> Lab (D65) in numpy and torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_engine.data.color import lab_to_rgb, lab_to_rgb_torch, rgb_to_lab, rgb_to_lab_torch

KNOWN = [
    # sRGB, Lab (D65); the usual published values (Lindbloom's calculator)
    ((1.0, 1.0, 1.0), (100.0, 0.0, 0.0)),
    ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
    ((1.0, 0.0, 0.0), (53.24, 80.09, 67.20)),
    ((0.0, 1.0, 0.0), (87.73, -86.18, 83.18)),
    ((0.0, 0.0, 1.0), (32.30, 79.19, -107.86)),
]


@pytest.mark.parametrize("rgb, lab", KNOWN)
def test_known_values_numpy(rgb, lab):
    got = rgb_to_lab(np.array(rgb, dtype=np.float64))
    np.testing.assert_allclose(got, lab, atol=0.01)


@pytest.mark.parametrize("rgb, lab", KNOWN)
def test_known_values_torch(rgb, lab):
    got = rgb_to_lab_torch(torch.tensor(rgb, dtype=torch.float64).view(1, 3, 1, 1)).flatten()
    np.testing.assert_allclose(got.numpy(), lab, atol=0.01)


def test_grey_has_no_chroma_and_l_rises():
    greys = np.linspace(0, 1, 11, dtype=np.float32)[:, None].repeat(3, axis=1)
    lab = rgb_to_lab(greys)
    assert np.abs(lab[:, 1:]).max() < 1e-3
    assert np.all(np.diff(lab[:, 0]) > 0)


def test_round_trip_numpy_float32(rng):
    rgb = rng.random((64, 80, 3), dtype=np.float32)
    lab = rgb_to_lab(rgb)
    assert lab.dtype == np.float32 and lab.shape == rgb.shape
    back = lab_to_rgb(lab)
    assert back.dtype == np.float32
    assert np.abs(back - rgb).max() < 1e-4


def test_round_trip_torch_and_agrees_with_numpy(rng):
    rgb = rng.random((2, 20, 30, 3), dtype=np.float32)
    t = torch.from_numpy(rgb).permute(0, 3, 1, 2)  # (B, 3, H, W)
    lab_t = rgb_to_lab_torch(t)
    assert lab_t.shape == t.shape and lab_t.dtype == torch.float32
    np.testing.assert_allclose(lab_t.permute(0, 2, 3, 1).numpy(), rgb_to_lab(rgb), atol=1e-3)
    assert (lab_to_rgb_torch(lab_t) - t).abs().max() < 1e-4


def test_torch_channel_dim_argument(rng):
    rgb = torch.from_numpy(rng.random((5, 7, 3), dtype=np.float32))  # channels last
    lab = rgb_to_lab_torch(rgb, dim=-1)
    np.testing.assert_allclose(lab.numpy(), rgb_to_lab(rgb.numpy()), atol=1e-3)
    assert (lab_to_rgb_torch(lab, dim=-1) - rgb).abs().max() < 1e-4


def test_torch_gradients_finite_at_black_and_white():
    x = torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.5, 0.2, 0.9]).view(3, 3, 1).permute(1, 0, 2)
    x = x.reshape(1, 3, 3, 1).clone().requires_grad_(True)
    lab = rgb_to_lab_torch(x)
    lab_to_rgb_torch(lab, clip=False).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_out_of_gamut_clipped_unless_asked():
    lab = np.array([[50.0, 120.0, -120.0]], dtype=np.float32)
    assert lab_to_rgb(lab).min() >= 0 and lab_to_rgb(lab).max() <= 1
    unclipped = lab_to_rgb(lab, clip=False)
    assert unclipped.min() < 0 or unclipped.max() > 1


def test_wrong_shape_refused():
    with pytest.raises(ValueError):
        rgb_to_lab(np.zeros((4, 4, 2), dtype=np.float32))
    with pytest.raises(ValueError):
        rgb_to_lab_torch(torch.zeros(1, 4, 4, 4))

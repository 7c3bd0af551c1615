"""Detector and inpainter networks."""

from __future__ import annotations

import torch

from gan_engine.archs import damage


def test_detector_shapes_and_reach():
    det = damage.build_detector(base=4)
    x = torch.rand(2, 3, 32, 40)
    assert det(x).shape == (2, 1, 32, 40)
    assert det.receptive_radius >= 15


def test_inpainter_reach_covers_a_15px_crack():
    assert damage.build_inpainter().receptive_radius >= 30


def test_fill_leaves_unmasked_pixels_unchanged():
    inp = damage.build_inpainter(base=4)
    x = torch.rand(2, 3, 32, 32)
    mask = (torch.rand(2, 1, 32, 32) > 0.8).float()
    y = inp.eval()(damage.inpainter_input(x, mask))
    out = damage.fill(inp, x, mask)
    keep = mask.expand_as(x) == 0
    assert torch.equal(out[keep], x[keep])
    assert torch.allclose(out[~keep], y.clamp(0, 1)[~keep], atol=1e-6)


def test_inpainter_never_sees_the_damaged_pixels():
    inp = damage.build_inpainter(base=4).eval()
    x = torch.rand(1, 3, 16, 16)
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., 4:9, 4:9] = 1
    x2 = x.clone()
    x2[..., 4:9, 4:9] = torch.rand(1, 3, 5, 5)
    assert torch.equal(damage.fill(inp, x, mask), damage.fill(inp, x2, mask))


def test_push_pull_fills_holes_and_keeps_the_rest():
    y, x = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 64), indexing="ij")
    img = torch.stack([x, y, 0.5 * torch.ones_like(x)])[None]  # (1, 3, 64, 64) smooth ramp
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., 20:35, :] = 1  # a 15 px crack across the whole image
    mask[..., 50:52, 10:30] = 1
    out = damage.push_pull_fill(img * (1 - mask), mask)
    keep = mask.expand_as(img) == 0
    assert torch.equal(out[keep], img[keep])
    assert (out - img).abs()[~keep].max() < 0.15  # a smooth ramp is filled smoothly
    const = damage.push_pull_fill(torch.full((1, 3, 64, 64), 0.3) * (1 - mask), mask)
    assert torch.allclose(const, torch.full_like(const, 0.3), atol=1e-5)

"""gan_engine.losses (perceptual, adversarial): values on known inputs, normalisations and the
direction of gradients."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from gan_engine.losses.adversarial import (
    ADVERSARIAL_KINDS,
    d_adversarial_loss,
    feature_matching_loss,
    g_adversarial_loss,
)
from gan_engine.losses.perceptual import (
    LossWeights,
    content_loss,
    gram_matrix,
    l1_loss,
    perceptual_loss,
    style_loss,
    tv_loss,
)


def test_identical_inputs_cost_nothing():
    x = torch.rand(2, 3, 8, 8)
    feats = {"relu1_1": torch.rand(2, 4, 8, 8), "relu2_1": torch.rand(2, 8, 4, 4)}
    assert l1_loss(x, x) == 0
    assert content_loss(feats["relu1_1"], feats["relu1_1"]) == 0
    assert style_loss(feats, feats) == 0
    assert feature_matching_loss(list(feats.values()), list(feats.values())) == 0


def test_gram_matrix_is_normalised_by_channels_and_pixels():
    f = torch.rand(2, 3, 4, 5)
    raw = torch.einsum("bchw,bdhw->bcd", f, f)
    assert torch.allclose(gram_matrix(f), raw / (3 * 4 * 5))
    # the same texture on a 2x2 larger canvas has the same normalised Gram matrix
    assert torch.allclose(gram_matrix(f.repeat(1, 1, 2, 2)), gram_matrix(f), atol=1e-6)


def test_style_loss_is_gatys_with_n2_m2_normalisation():
    a, p = torch.rand(1, 4, 6, 5), torch.rand(1, 4, 6, 5)
    n, m = 4, 30
    ga, gp = (torch.einsum("bchw,bdhw->bcd", t, t) for t in (a, p))
    expected = ((ga - gp) ** 2).sum() / (4 * n**2 * m**2)
    assert torch.allclose(style_loss({"l": a}, {"l": p}), expected)
    # a precomputed Gram matrix of a style image of another size is accepted, broadcast over B
    style = torch.rand(1, 4, 9, 7)
    batch = torch.rand(3, 4, 6, 5)
    assert torch.allclose(style_loss({"l": batch}, {"l": gram_matrix(style)}), style_loss({"l": batch}, {"l": style}))


def test_style_loss_sums_over_layers_with_weights():
    f = {"a": torch.rand(1, 2, 4, 4), "b": torch.rand(1, 3, 2, 2)}
    t = {"a": torch.rand(1, 2, 4, 4), "b": torch.rand(1, 3, 2, 2)}
    both = style_loss(f, t)
    assert torch.allclose(both, style_loss(f, t, ["a"]) + style_loss(f, t, ["b"]))
    assert torch.allclose(style_loss(f, t, layer_weights={"a": 2.0, "b": 0.0}), 2 * style_loss(f, t, ["a"]))


def test_total_variation():
    assert tv_loss(torch.full((1, 3, 5, 5), 0.7)) == 0
    stripes = torch.zeros(1, 1, 4, 4)
    stripes[..., :, 1::2] = 1.0  # vertical stripes: every horizontal step changes by 1
    assert tv_loss(stripes) == pytest.approx(1.0)
    assert tv_loss(torch.rand(1, 3, 8, 8)) > tv_loss(torch.rand(1, 3, 8, 8) * 0.1)


@pytest.mark.parametrize("kind", ADVERSARIAL_KINDS)
def test_adversarial_losses_point_the_right_way(kind):
    """Given logits, when D gets more confident (real up, fake down), then D's loss falls; when
    the fakes are scored more real, then G's loss falls and D's rises."""
    low, high = torch.full((2, 1, 3, 3), -0.5), torch.full((2, 1, 3, 3), 0.5)
    assert d_adversarial_loss(high, low, kind) < d_adversarial_loss(low, high, kind)
    assert g_adversarial_loss(high, kind) < g_adversarial_loss(low, kind)
    fake = torch.zeros(2, 1, 3, 3, requires_grad=True)
    g_adversarial_loss(fake, kind).backward()
    assert (fake.grad < 0).all()  # gradient descent raises the fake logits
    real, fake = torch.full((1, 1, 2, 2), 0.5, requires_grad=True), torch.full((1, 1, 2, 2), 0.5, requires_grad=True)
    d_adversarial_loss(real, fake, kind).backward()
    assert (real.grad < 0).all() and (fake.grad > 0).all()


def test_lsgan_values_and_unknown_kind():
    ones, zeros = torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)
    assert d_adversarial_loss(ones, zeros, "lsgan") == 0
    assert g_adversarial_loss(ones, "lsgan") == 0
    assert g_adversarial_loss(zeros, "lsgan") == pytest.approx(0.5)
    assert d_adversarial_loss(ones * 2, -ones * 2, "hinge") == 0
    with pytest.raises(ValueError, match="unknown adversarial loss 'wgan'"):
        g_adversarial_loss(ones, "wgan")


def test_feature_matching_detaches_the_real_side():
    real = [torch.rand(1, 2, 4, 4, requires_grad=True), torch.rand(1, 3, 2, 2, requires_grad=True)]
    fake = [torch.rand(1, 2, 4, 4, requires_grad=True), torch.rand(1, 3, 2, 2, requires_grad=True)]
    loss = feature_matching_loss(real, fake)
    expected = ((real[0] - fake[0]).abs().mean() + (real[1] - fake[1]).abs().mean()) / 2
    assert torch.allclose(loss, expected)
    loss.backward()
    assert real[0].grad is None and fake[0].grad is not None
    with pytest.raises(ValueError):
        feature_matching_loss(real, fake[:1])


def test_loss_weights_are_frozen_and_validated():
    w = LossWeights()
    with pytest.raises(dataclasses.FrozenInstanceError):
        w.alpha = 2.0
    with pytest.raises(ValueError, match="beta"):
        LossWeights(beta=-1.0)


def test_perceptual_loss_combines_the_weighted_terms():
    out = {"relu1_1": torch.rand(2, 4, 8, 8), "relu2_1": torch.rand(2, 8, 4, 4), "relu4_2": torch.rand(2, 8, 1, 1)}
    target = {k: torch.rand_like(v) for k, v in out.items()}
    style = {k: torch.rand(1, v.shape[1], 6, 6) for k, v in out.items()}
    image = torch.rand(2, 3, 8, 8)
    weights = LossWeights(alpha=2.0, beta=3.0, gamma=0.5)
    total, parts = perceptual_loss(out, target, style, weights, image=image)
    content = content_loss(out["relu4_2"], target["relu4_2"])  # relu4_2 is the default content layer
    styled = style_loss(out, style, ["relu1_1", "relu2_1"])  # relu*_1 are the default style layers
    assert torch.allclose(parts["content"], content)
    assert torch.allclose(parts["style"], styled)
    assert torch.allclose(parts["tv"], tv_loss(image))
    assert torch.allclose(total, 2.0 * content + 3.0 * styled + 0.5 * tv_loss(image))
    with pytest.raises(ValueError, match="image="):
        perceptual_loss(out, target, None, weights)


def test_perceptual_loss_skips_terms_with_zero_weight_and_lets_gradients_through():
    x = torch.rand(1, 4, 8, 8, requires_grad=True)
    target = {"relu1_1": torch.rand(1, 4, 8, 8)}
    total, parts = perceptual_loss({"relu1_1": x}, target, None, LossWeights(alpha=1.0, beta=0.0, gamma=0.0))
    assert parts["style"] == 0 and parts["tv"] == 0
    total.backward()
    assert x.grad is not None and x.grad.abs().sum() > 0

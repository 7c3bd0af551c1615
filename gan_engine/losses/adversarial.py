"""Adversarial losses of the discriminator and the generator, and feature matching.

Shapes: discriminator logits (B, 1, h, w); every loss returns a scalar tensor (mean over the
batch), so it can be weighted and summed with the terms of :mod:`gan_engine.losses.perceptual`.

Adversarial objectives (``kind``):

- ``"lsgan"`` (default, Mao et al. 2017): D regresses real to 1 and fake to 0, G pushes fakes to
  1. Chosen as the default because the generator is mostly driven by L1 and perceptual terms
  and the adversarial term only sharpens: the least-squares gradient grows with the distance
  from the decision value and never saturates when D is confident (unlike the minimax loss),
  and, unlike hinge's generator loss ``-D(G(x))``, it is bounded below, so a small adversarial
  weight cannot run away over long CPU runs with small batches. pix2pixHD and CycleGAN use it
  for the same conditional image-to-image setting.
- ``"hinge"`` (Lim & Ye 2017; SAGAN/BigGAN, pairs well with spectral norm).
- ``"nonsaturating"`` (Goodfellow et al. 2014, the -log D(G(z)) form; D is logistic).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from gan_engine.errors import InvalidInputError

__all__ = ["ADVERSARIAL_KINDS", "d_adversarial_loss", "g_adversarial_loss", "feature_matching_loss"]

ADVERSARIAL_KINDS = ("lsgan", "hinge", "nonsaturating")


def _check_kind(kind: str) -> None:
    if kind not in ADVERSARIAL_KINDS:
        raise InvalidInputError(f"unknown adversarial loss {kind!r}; choose from {', '.join(ADVERSARIAL_KINDS)}")


def d_adversarial_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: str = "lsgan") -> torch.Tensor:
    """Discriminator loss; lower when real logits rise and fake logits fall.

    Pass ``fake_logits`` computed on ``fake.detach()`` (dcgan's step) so G is not updated here.
    """
    _check_kind(kind)
    real, fake = real_logits.float(), fake_logits.float()
    if kind == "lsgan":
        return 0.5 * ((real - 1.0).pow(2).mean() + fake.pow(2).mean())
    if kind == "hinge":
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()
    return F.softplus(-real).mean() + F.softplus(fake).mean()  # BCE with logits, labels 1 / 0


def g_adversarial_loss(fake_logits: torch.Tensor, kind: str = "lsgan") -> torch.Tensor:
    """Generator loss; lower when D scores the fakes as real."""
    _check_kind(kind)
    fake = fake_logits.float()
    if kind == "lsgan":
        return 0.5 * (fake - 1.0).pow(2).mean()
    if kind == "hinge":
        return -fake.mean()
    return F.softplus(-fake).mean()  # -log sigmoid(D(G(x))), the non-saturating form


def feature_matching_loss(real_feats: Sequence[torch.Tensor], fake_feats: Sequence[torch.Tensor]) -> torch.Tensor:
    """Mean over D's layers of L1(fake activation, real activation); the real side is detached."""
    if len(real_feats) != len(fake_feats) or not real_feats:
        raise ValueError(f"feature_matching_loss: {len(real_feats)} real vs {len(fake_feats)} fake layers")
    total = sum(F.l1_loss(fake, real.detach()) for real, fake in zip(real_feats, fake_feats))
    return total / len(real_feats)

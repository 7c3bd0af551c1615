"""Losses (stub: signatures of docs/dev/contracts.md)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LossWeights:
    alpha: float = 1.0  # content
    beta: float = 0.0  # style
    gamma: float = 0.0  # total variation
    l1: float = 1.0
    adversarial: float = 0.01
    feature_matching: float = 0.0


def gram_matrix(f: torch.Tensor) -> torch.Tensor: raise NotImplementedError
def content_loss(a, b) -> torch.Tensor: raise NotImplementedError
def style_loss(feats_a, feats_b) -> torch.Tensor: raise NotImplementedError
def tv_loss(x) -> torch.Tensor: raise NotImplementedError
def l1_loss(a, b) -> torch.Tensor: raise NotImplementedError
def d_adversarial_loss(real_logits, fake_logits, kind="lsgan") -> torch.Tensor: raise NotImplementedError
def g_adversarial_loss(fake_logits, kind="lsgan") -> torch.Tensor: raise NotImplementedError
def feature_matching_loss(real_feats, fake_feats) -> torch.Tensor: raise NotImplementedError
def perceptual_loss(feats_out, feats_target, feats_style, weights): raise NotImplementedError

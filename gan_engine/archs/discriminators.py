"""Discriminators: the conditional PatchGAN judging (condition, image) pairs patch by patch."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = ["PatchGAN"]


class PatchGAN(nn.Module):
    """Conditional PatchGAN (pix2pix 70x70 with n_layers=3), spectral norm instead of norms.

    ``forward(condition, image)``: condition (B, cond_ch, h, w) is resized (bilinear) to the
    image (B, img_ch, H, W) when the sizes differ (super-resolution), the two are concatenated
    and scored: logits (B, 1, H/8 - 2, W/8 - 2) for n_layers=3, one per 70x70 patch.
    ``features()`` returns the activation after every hidden layer, for feature matching.
    """

    arch = "patchgan"

    def __init__(self, *, cond_ch: int = 3, img_ch: int = 3, ndf: int = 64, n_layers: int = 3,
                 use_spectral_norm: bool = True):
        super().__init__()
        self.config = dict(cond_ch=cond_ch, img_ch=img_ch, ndf=ndf, n_layers=n_layers,
                           use_spectral_norm=use_spectral_norm)
        sn = spectral_norm if use_spectral_norm else (lambda m: m)
        widths = [cond_ch + img_ch] + [ndf * min(2 ** i, 8) for i in range(n_layers + 1)]
        layers = []
        for i in range(n_layers + 1):
            stride = 2 if i < n_layers else 1  # the last hidden layer keeps the resolution
            layers.append(nn.Sequential(
                sn(nn.Conv2d(widths[i], widths[i + 1], 4, stride=stride, padding=1)),
                nn.LeakyReLU(0.2, inplace=True),
            ))
        self.layers = nn.ModuleList(layers)
        self.classifier = sn(nn.Conv2d(widths[-1], 1, 4, stride=1, padding=1))

    def _join(self, condition: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        if condition.shape[-2:] != image.shape[-2:]:
            condition = F.interpolate(condition, size=image.shape[-2:], mode="bilinear", align_corners=False)
        return torch.cat([condition, image], dim=1)  # (B, cond_ch + img_ch, H, W)

    def forward_features(self, condition: torch.Tensor, image: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(logits (B, 1, h, w), hidden activations) in one pass, for the training step."""
        h = self._join(condition, image)
        feats = []
        for layer in self.layers:
            h = layer(h)  # (B, ndf*2^i, H/2^(i+1), W/2^(i+1)), the last one at stride 1
            feats.append(h)
        return self.classifier(h), feats

    def forward(self, condition: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return self.forward_features(condition, image)[0]

    def features(self, condition: torch.Tensor, image: torch.Tensor) -> list[torch.Tensor]:
        return self.forward_features(condition, image)[1]

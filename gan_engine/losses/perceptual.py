"""Losses of the generator: pixel (L1) and perceptual (content, style, total variation), and the
weights of every term of its total loss (``LossWeights``; adversarial terms in ``adversarial``).

Shapes: images (B, C, H, W) in [0, 1]; features (B, C_l, H_l, W_l) as produced by
:class:`gan_engine.archs.features.FeatureNetwork`. Every loss returns a scalar tensor (mean over
the batch), so it can be weighted and summed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from gan_engine.errors import InvalidInputError

__all__ = [
    "LossWeights", "gram_matrix", "content_loss", "style_loss", "tv_loss", "l1_loss", "perceptual_loss",
]


@dataclass(frozen=True)
class LossWeights:
    """Weights of the generator's loss terms (Gatys' alpha/beta, plus TV, pixel and GAN terms)."""

    alpha: float = 0.1  # content: MSE of loss-network features (perceptual sharpness)
    beta: float = 0.0  # style: Gram-matrix loss; 0 for restoration, >0 for style transfer
    gamma: float = 0.0  # total variation: smoothness prior, mostly for style transfer
    l1: float = 1.0  # pixel L1 against the clean target: the anchor of the restoration
    adversarial: float = 0.01  # G's adversarial term (pix2pix's 1:100 ratio to L1)
    feature_matching: float = 0.1  # L1 between D's real and fake activations (pix2pixHD, 10x the GAN term)

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if not (value >= 0.0):  # also rejects NaN
                raise InvalidInputError(f"LossWeights.{name} must be >= 0, got {value}")


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, C): F F^T / (C * H * W), i.e. the Gram matrix divided by N_l M_l.

    With this normalisation ||gram(F) - gram(P)||^2 = ||G - A||^2 / (N_l^2 M_l^2) as in Gatys et
    al., and the value does not depend on the image size. Computed in float32.
    """
    b, c, h, w = features.shape
    f = features.reshape(b, c, h * w).float()
    return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of two feature maps of the same shape."""
    return F.mse_loss(features, target)


def _style_layer(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    g = gram_matrix(features)
    a = target if target.dim() == 3 else gram_matrix(target)  # a precomputed Gram is accepted
    # E_l = 1/(4 N_l^2 M_l^2) sum_ij (G_ij - A_ij)^2, averaged over the batch (A may be (1, C, C)).
    return 0.25 * (g - a.to(g.dtype)).pow(2).sum(dim=(1, 2)).mean()


def style_loss(features: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor],
               layers: Sequence[str] | None = None, layer_weights: Mapping[str, float] | None = None) -> torch.Tensor:
    """Gatys style loss: sum over layers of w_l E_l, E_l with the N_l^2 M_l^2 normalisation.

    ``target[l]`` is a feature map (B or 1, C, H', W'), of any spatial size, or its Gram matrix
    (B or 1, C, C) computed once with :func:`gram_matrix`. ``layers`` defaults to those of
    ``features`` present in ``target``; ``layer_weights`` to 1 each.
    """
    layers = [name for name in features if name in target] if layers is None else list(layers)
    if not layers:
        raise ValueError("style_loss: no layer in common between features and target")
    total = features[layers[0]].new_zeros((), dtype=torch.float32)
    for name in layers:
        weight = 1.0 if layer_weights is None else layer_weights.get(name, 1.0)
        total = total + weight * _style_layer(features[name], target[name])
    return total


def tv_loss(images: torch.Tensor) -> torch.Tensor:
    """Anisotropic L1 total variation: mean |dx| + mean |dy| of (B, C, H, W); 0 for a constant."""
    dy = (images[..., 1:, :] - images[..., :-1, :]).abs().mean()
    dx = (images[..., :, 1:] - images[..., :, :-1]).abs().mean()
    return dx + dy


def l1_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference."""
    return F.l1_loss(output, target)


def _default_content_layer(names: Sequence[str]) -> str:
    from gan_engine.archs.features import VGG19_LAYERS

    if "relu4_2" in names:
        return "relu4_2"
    return max(names, key=lambda n: VGG19_LAYERS.index(n) if n in VGG19_LAYERS else -1)


def perceptual_loss(feats_out: Mapping[str, torch.Tensor], feats_target: Mapping[str, torch.Tensor] | None,
                    feats_style: Mapping[str, torch.Tensor] | None, weights: LossWeights, *,
                    content_layers: Sequence[str] | None = None, style_layers: Sequence[str] | None = None,
                    image: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """alpha * content + beta * style + gamma * TV -> (total, {"content", "style", "tv"} detached).

    ``feats_out`` are the features of the generated image, ``feats_target`` those of the content
    target (None: no content term), ``feats_style`` those of the style image or their Gram
    matrices (None: no style term). Content layers default to relu4_2 when present, else the
    deepest layer given; style layers to every relu*_1 layer present (Gatys' choice), else all.
    The TV term needs ``image`` (B, C, H, W), the generated image. A term whose weight is 0 is
    not computed and reported as 0.
    """
    zero = next(iter(feats_out.values())).new_zeros((), dtype=torch.float32)
    total, parts = zero, {"content": zero, "style": zero, "tv": zero}
    if weights.alpha > 0 and feats_target is not None:
        names = list(content_layers) if content_layers is not None else [_default_content_layer(list(feats_out))]
        content = sum(content_loss(feats_out[n], feats_target[n].detach()) for n in names) / len(names)
        total, parts["content"] = total + weights.alpha * content, content.detach()
    if weights.beta > 0 and feats_style is not None:
        if style_layers is None:
            style_layers = [n for n in feats_out if n.endswith("_1") and n in feats_style] or None
        style = style_loss(feats_out, {k: v.detach() for k, v in feats_style.items()}, style_layers)
        total, parts["style"] = total + weights.beta * style, style.detach()
    if weights.gamma > 0:
        if image is None:
            raise ValueError("perceptual_loss: gamma > 0 needs image= (the generated image) for the TV term")
        tv = tv_loss(image)
        total, parts["tv"] = total + weights.gamma * tv, tv.detach()
    return total, parts

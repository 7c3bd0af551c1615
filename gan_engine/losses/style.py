"""Style and content losses of reference-style transfer, as measured and as optimised.

The style loss compares Gram matrices of feature maps with those of the reference (Gatys et
al. 2016, N_l^2 M_l^2 normalisation), the content loss compares feature maps with those of the
content image; both on the feature network of :mod:`gan_engine.archs.features`. The layers:
``STYLE_LAYERS`` for the reported style loss, ``FINE_STYLE_LAYERS`` and ``CONTENT_LAYERS`` for
what the optimisation (:mod:`gan_engine.inference.style`) and the feed-forward training
(:mod:`gan_engine.training.style`) minimise. :class:`StyleScorer` reports the losses the same way
for every method, on copies shrunk to ``max_side``.

Feature network: without VGG19 weights (a path passed in; the CLI reads ``GAN_VGG19_WEIGHTS``) this is the seeded
random multi-scale network (Ustyuzhaninov et al. 2016): its Gram matrices capture colour and
texture statistics at five scales, but it has no semantic features, so "content" means local
structure, not objects, and "style" is colour plus texture, not brush strokes that follow
shapes. See docs/style.md.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from gan_engine.archs.features import VGG19_LAYERS, FeatureNetwork
from gan_engine.data.imageio import as_rgb
from gan_engine.data.resampling import resize_max_side, resize_to
from gan_engine.losses import perceptual

__all__ = [
    "STYLE_LAYERS", "FINE_STYLE_LAYERS", "CONTENT_LAYERS", "StyleScorer", "feature_network", "reference_grams",
    "style_scores", "image_to_tensor", "tensor_to_image",
]

#: Gatys' style layers (one per scale, 1 to 1/16): what the reported style loss is measured on.
STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
#: The layers optimised against (scales 1 to 1/4). With relu4_1 and relu5_1 of the random
#: network (avg-pooled 8 and 16 times) in the loss, both the optimised pixels and the U-Net
#: grew 8-16 px block patterns and colour blotches in every run we looked at; colour and grain
#: live at the fine scales anyway.
FINE_STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1")
#: Content layer: 1/4 scale. Gatys used relu4_2 of VGG (semantic); the random network has no
#: semantics, and a coarser layer lets the structure of the content dissolve into texture.
CONTENT_LAYERS: tuple[str, ...] = ("relu3_1",)


def image_to_tensor(image: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """(H, W, 3) -> (1, 3, H, W) float32."""
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))
    return x.permute(2, 0, 1).unsqueeze(0).contiguous().to(device)


def tensor_to_image(x: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) -> (H, W, 3) float32 on the host."""
    return x.detach()[0].permute(1, 2, 0).float().cpu().numpy()


def feature_network(weights: str | None, layers: Sequence[str]) -> FeatureNetwork:
    """The feature network (``weights``: a VGG19 state dict, None: the random network)
    computing ``layers``, in VGG19 order."""
    ordered = tuple(n for n in VGG19_LAYERS if n in set(layers))
    return FeatureNetwork(weights, ordered)


class StyleScorer:
    """Style loss against one reference and content loss against a content image.

    The reference's Gram matrices are computed once (at ``max_side``). ``score(image, content)``
    shrinks both to ``max_side`` and returns ``{"style", "content"}`` floats.
    """

    def __init__(self, reference: np.ndarray, *, feature_net: FeatureNetwork | None = None,
                 max_side: int = 512, style_layers: Sequence[str] = STYLE_LAYERS,
                 content_layers: Sequence[str] = CONTENT_LAYERS, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self.style_layers, self.content_layers = tuple(style_layers), tuple(content_layers)
        self.max_side = max_side
        self.net = feature_net or feature_network(None, self.style_layers + self.content_layers)
        self.net.to(self.device)
        self.grams = reference_grams(self.net, reference, max_side=max_side, layers=self.style_layers,
                                     device=self.device)

    @torch.no_grad()
    def score(self, image: np.ndarray, content: np.ndarray) -> dict[str, float]:
        img = resize_max_side(as_rgb(image), self.max_side)
        ref = resize_max_side(as_rgb(content), self.max_side)
        f_img = self.net(image_to_tensor(img, self.device))
        f_ref = self.net(image_to_tensor(resize_to(ref, *img.shape[:2]), self.device))
        style = perceptual.style_loss(f_img, self.grams, self.style_layers)
        content_l = sum(perceptual.content_loss(f_img[n], f_ref[n]) for n in self.content_layers) / len(self.content_layers)
        return {"style": float(style), "content": float(content_l)}


@torch.no_grad()
def reference_grams(net: FeatureNetwork, reference: np.ndarray, *, max_side: int = 512,
                    layers: Sequence[str] = STYLE_LAYERS,
                    device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """{layer: Gram (1, C, C)} of the reference shrunk to ``max_side``."""
    ref = resize_max_side(as_rgb(reference, "reference"), max_side)
    feats = net(image_to_tensor(ref, device))
    return {name: perceptual.gram_matrix(feats[name]) for name in layers}


def style_scores(image: np.ndarray, content: np.ndarray, reference: np.ndarray, *,
                 max_side: int = 512, feature_net: FeatureNetwork | None = None) -> dict[str, float]:
    """One-off ``StyleScorer(reference).score(image, content)``: {"style", "content"}."""
    return StyleScorer(reference, feature_net=feature_net, max_side=max_side).score(image, content)

"""The two networks of damage repair: a detector (per-pixel damage logits) and a mask-conditioned
inpainter. Both are the project's :class:`UNet` with configurations sized for a 2-core CPU, so
checkpoints, cards, tiling and ``receptive_radius`` work as for every other generator.

Detector: RGB (B, 3, H, W) in [0, 1] -> logits (B, 1, H, W) (``head="linear"``; sigmoid > 0.5
is "damaged"). Widths 16/32/64/64 at 1, 1/2, 1/4, 1/8 resolution: about 33 k multiply-adds per
pixel, 84% of them at 1/2 resolution and below; the full-resolution head, one residual block and
the tail keep 1-px scratches sharp in the mask.

Inpainter (:class:`MaskInpainter`): (B, 4, H, W) = (image with the masked pixels zeroed, mask)
-> RGB (B, 3, H, W); only the masked pixels of its output are used (:func:`fill`), so pixels
outside the mask come back exactly as they were. It first fills the holes by push-pull (a
pyramid of mask-normalised averages down to 1/8 resolution, smoothed there: a smooth fill much
like Telea's, free of parameters), then a U-Net (widths 24/48/96/96) sees (coarse fill, mask)
and adds texture and edges to it. Starting from the coarse fill, a short CPU training only has
to learn the refinement. Receptive radius 82 px: a 15 px crack many times over.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gan_engine.archs.generators import UNet

__all__ = ["DETECTOR_CONFIG", "INPAINTER_CONFIG", "MaskInpainter", "build_detector", "build_inpainter",
           "inpainter_input", "fill", "push_pull_fill"]

# Keyword arguments of UNet; checkpoints store them in the card's "config".
DETECTOR_CONFIG = dict(in_ch=3, out_ch=1, base=16, mults=[1, 2, 4, 4], enc_blocks=[0, 1, 2], mid_blocks=2,
                       dec_blocks=[1, 1, 1], act="lrelu", head="linear")
INPAINTER_CONFIG = dict(unet=dict(in_ch=4, out_ch=3, base=24, mults=[1, 2, 4, 4], enc_blocks=[0, 1, 2],
                                  mid_blocks=2, dec_blocks=[1, 1, 1], act="lrelu", head="linear"),
                        levels=3, smooth=4)


def push_pull_fill(x: torch.Tensor, mask: torch.Tensor, levels: int = 3, smooth: int = 4) -> torch.Tensor:
    """Fill the masked pixels of x by push-pull: x (B, C, H, W), mask (B, 1, H, W) {0, 1}, H and W
    multiples of 2^levels -> (B, C, H, W), equal to x outside the mask.

    Push: average the valid pixels (and their weights) 2x2 down to 1/2^levels; there, ``smooth``
    rounds of 3x3 mask-normalised averaging reach holes up to ~2 * smooth coarse pixels wide.
    Pull: from coarse to fine, each level keeps its own normalised average where it has valid
    weight and takes the upsampled coarser fill where it has none. Every output pixel depends on
    at most 2^levels * (smooth + 3) input pixels around it.
    """
    w = 1.0 - mask
    c = x * w
    cs, ws = [c], [w]
    for _ in range(levels):
        c, w = F.avg_pool2d(c, 2), F.avg_pool2d(w, 2)
        cs.append(c), ws.append(w)
    for _ in range(smooth):  # spread valid colour into the holes of the coarsest level
        c2 = F.avg_pool2d(c, 3, 1, 1, count_include_pad=False)
        w2 = F.avg_pool2d(w, 3, 1, 1, count_include_pad=False)
        keep = (w > 0.5).to(c.dtype)
        c, w = keep * c + (1 - keep) * c2, keep * w + (1 - keep) * w2
    fill = c / w.clamp_min(1e-4)
    for lv in reversed(range(levels)):
        up = F.interpolate(fill, scale_factor=2, mode="bilinear", align_corners=False)
        own = cs[lv] / ws[lv].clamp_min(1e-4)
        a = ws[lv]  # share of valid pixels under this pixel: 1 outside holes at full resolution
        fill = a * own + (1 - a) * up
    return torch.lerp(x, fill, mask)


class MaskInpainter(nn.Module):
    """Push-pull coarse fill, refined by a U-Net: (B, 4, H, W) (image with zeroed holes, mask)
    -> (B, 3, H, W) prediction (only its masked pixels are meant to be used, see :func:`fill`)."""

    arch = "maskinpainter"

    def __init__(self, *, unet: dict | None = None, levels: int = 3, smooth: int = 4):
        super().__init__()
        unet = dict(unet or INPAINTER_CONFIG["unet"])
        self.net = UNet(**unet)
        self.levels, self.smooth = levels, smooth
        self.config = dict(unet=self.net.config, levels=levels, smooth=smooth)
        self.scale = 1
        self.size_multiple = max(self.net.size_multiple, 2 ** levels)
        self.receptive_radius = max(self.net.receptive_radius, 2 ** levels * (smooth + 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        image, mask = x[:, :3], x[:, 3:4]  # (B, 3, H, W), (B, 1, H, W)
        coarse = push_pull_fill(image, mask, self.levels, self.smooth)  # (B, 3, H, W)
        return coarse + self.net(torch.cat([coarse, mask], dim=1))


def build_detector(**overrides) -> UNet:
    """A damage detector: ``UNet(**{**DETECTOR_CONFIG, **overrides})``."""
    return UNet(**{**DETECTOR_CONFIG, **overrides})


def build_inpainter(**unet_overrides) -> MaskInpainter:
    """A mask-conditioned inpainter; keyword arguments override its U-Net's configuration."""
    return MaskInpainter(unet={**INPAINTER_CONFIG["unet"], **unet_overrides},
                         levels=INPAINTER_CONFIG["levels"], smooth=INPAINTER_CONFIG["smooth"])


def inpainter_input(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) image and (B, 1, H, W) {0, 1} mask -> (B, 4, H, W): the image with its masked
    pixels set to 0 (the network never sees the damage itself), then the mask."""
    return torch.cat([image * (1.0 - mask), mask], dim=1)


def fill(inpainter: torch.nn.Module, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Inpaint: (B, 3, H, W) image, (B, 1, H, W) mask -> (B, 3, H, W) in [0, 1], equal to ``image``
    wherever ``mask`` is 0 (exactly: the network's output is only blended in under the mask)."""
    pred = inpainter(inpainter_input(image, mask)).clamp(0.0, 1.0)
    return torch.lerp(image, pred, mask)

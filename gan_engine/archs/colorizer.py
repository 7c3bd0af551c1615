"""The semantic colorizer: an ImageNet MobileNetV2 encoder and a light decoder over ab bins.

Why this shape: the colour of a region depends on what it is (skin, sky, foliage, a wool coat),
which a network trained from scratch on a thousand photographs cannot learn, while an ImageNet
classifier already separates those things. The encoder is the converted MobileNetV2
(:mod:`gan_engine.pretrained.mobilenet`), frozen; it sees the grey photograph as RGB. The
decoder climbs from 1/32 to 1/4 resolution with skip connections (a U-Net decoder, as in
Zhang et al. 2016 / Iizuka et al. 2016) and predicts, at 1/4 resolution, a distribution over
ab bins (classification, Zhang et al. 2016).

Decoding the distribution: its mean minimises squared error, so where the network is unsure
(several colours equally likely) the mean falls towards grey, which is what an archive wants
(a wrong colour is worse than none). The annealed mean with temperature T < 1 sharpens the
distribution (more colourful, riskier); the shipped T is chosen on validation images and
stored in the card.

Shapes: ``L`` is CIE L / 100 in (B, 1, H, W); the network returns logits (B, Q, ~H/4, ~W/4).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gan_engine.pretrained.mobilenet import TAP_CHANNELS, MobileNetV2

__all__ = ["SemanticColorizer", "ColorDecoder", "decode_ab", "lightness_to_grey", "ENCODER_TAPS"]

ENCODER_TAPS = ("s4", "s8", "s16", "s32")


def _conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(inplace=True))


def lightness_to_grey(L: torch.Tensor) -> torch.Tensor:
    """CIE L / 100 -> the sRGB grey level with that lightness (a = b = 0, D65), same shape.

    The inverse CIE L* curve gives relative luminance Y, the sRGB transfer function codes it;
    for a = b = 0 the three channels are equal, so this is all of Lab -> sRGB.
    """
    l100 = L.clamp(0, 1) * 100.0
    y = torch.where(l100 > 8.0, ((l100 + 16.0) / 116.0) ** 3, l100 / 903.3)
    return torch.where(y <= 0.0031308, 12.92 * y, 1.055 * y.clamp_min(1e-12) ** (1 / 2.4) - 0.055)


class ColorDecoder(nn.Module):
    """Encoder taps (s4..s32) + L at 1/4 -> logits over Q ab bins at 1/4 resolution."""

    def __init__(self, bins: int, widths: tuple[int, int, int] = (160, 96, 64)):
        super().__init__()
        w16, w8, w4 = widths
        self.top = nn.Sequential(nn.Conv2d(TAP_CHANNELS["s32"], w16, 1), nn.ReLU(inplace=True))
        self.up16 = nn.Sequential(_conv(w16 + TAP_CHANNELS["s16"], w16), _conv(w16, w16))  # (B, w16, H/16)
        self.up8 = nn.Sequential(_conv(w16 + TAP_CHANNELS["s8"], w8), _conv(w8, w8))  # (B, w8, H/8)
        self.up4 = nn.Sequential(_conv(w8 + TAP_CHANNELS["s4"] + 1, w4), _conv(w4, w4))  # (B, w4, H/4)
        self.head = nn.Conv2d(w4, bins, 1)

    @staticmethod
    def _up_to(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=ref.shape[-2:], mode="bilinear", align_corners=False)

    def forward(self, feats: dict[str, torch.Tensor], L4: torch.Tensor) -> torch.Tensor:
        x = self.top(feats["s32"])
        x = self.up16(torch.cat([self._up_to(x, feats["s16"]), feats["s16"]], 1))
        x = self.up8(torch.cat([self._up_to(x, feats["s8"]), feats["s8"]], 1))
        x = self.up4(torch.cat([self._up_to(x, feats["s4"]), feats["s4"], L4], 1))
        return self.head(x)


class SemanticColorizer(nn.Module):
    """L (B, 1, H, W) in [0, 1] -> ab logits (B, Q, ~H/4, ~W/4); ``bins`` (Q, 2) are ab centres.

    The decoding (``temperature``, chroma ``gain``) and the working resolution (``work_short``,
    the short side the network sees) travel in the config, so a card rebuilds the whole recipe.
    """

    arch = "semantic-colorizer"

    def __init__(self, bins, widths: tuple[int, int, int] = (160, 96, 64), temperature: float = 1.0,
                 gain: float = 1.0, work_short: int = 320):
        super().__init__()
        bins_t = torch.as_tensor(bins, dtype=torch.float32)
        self.config = {"bins": bins_t.tolist(), "widths": list(widths), "temperature": float(temperature),
                       "gain": float(gain), "work_short": int(work_short)}
        self.encoder = MobileNetV2(with_head=False)
        self.decoder = ColorDecoder(len(bins_t), tuple(widths))
        self.register_buffer("bins", bins_t.clone())

    def encode(self, L: torch.Tensor) -> dict[str, torch.Tensor]:
        """Encoder features of the grey image: L is CIE L / 100; the encoder sees grey sRGB."""
        grey = lightness_to_grey(L)
        return self.encoder.features(grey.expand(-1, 3, -1, -1), ENCODER_TAPS)

    def decode(self, feats: dict[str, torch.Tensor], L: torch.Tensor) -> torch.Tensor:
        """Logits from encoder features already computed for ``L`` (a caller that needs the
        features too, e.g. reference matching, encodes once)."""
        return self.decoder(feats, F.interpolate(L, size=feats["s4"].shape[-2:], mode="area"))

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(L), L)


def decode_ab(logits: torch.Tensor, bins: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Logits (B, Q, h, w) -> ab (B, 2, h, w): the (annealed) mean of the bin distribution."""
    p = torch.softmax(logits / temperature, dim=1)
    return torch.einsum("bqhw,qc->bchw", p, bins)

"""Small named blocks of the generators, and the receptive-field bookkeeping.

``Reach`` follows, layer by layer, how many input pixels of context an output pixel depends on
(tiling uses a generator's ``receptive_radius`` as the overlap, so a tiled run equals an
untiled one). The blocks are plain 3x3 convolutions with LeakyReLU in place, residual blocks,
strided downsampling and pixel-shuffle upsampling; ``upsample_add`` is the additive skip of the
U-Nets and ``clamp_unit`` their straight-through output clamp (see gan_engine.archs.generators).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["Reach", "make_activation", "ConvBlock", "ResidualBlock", "Downsample", "Upsample", "upsample_add",
           "clamp_unit"]


# --------------------------------------------------------------------------------------------
# Receptive field bookkeeping
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reach:
    """Which input pixels a feature pixel depends on.

    A pixel at index i of a feature map whose grid spacing is ``step`` input pixels depends on
    input pixels ``step*i - before`` .. ``step*i + after``. Blocks update it with :meth:`conv`
    and :meth:`up`; paths that are added together are combined with :meth:`merge`.
    """

    before: int = 0
    after: int = 0
    step: int = 1

    def conv(self, kernel: int, stride: int = 1) -> "Reach":
        """A 'same'-padded conv (padding (k-1)//2): output i reads grid pixels stride*i +- pad."""
        pad = (kernel - 1) // 2
        return Reach(self.before + pad * self.step, self.after + pad * self.step, self.step * stride)

    def up(self, factor: int) -> "Reach":
        """Nearest / pixel-shuffle upsampling: fine pixel i reads coarse pixel floor(i/factor).

        Back on the input grid that coarse pixel sits up to step - step/factor pixels before i.
        """
        if self.step % factor:
            raise ValueError(f"cannot upsample a grid of step {self.step} by {factor}")
        fine = self.step // factor
        return Reach(self.before + self.step - fine, self.after, fine)

    def merge(self, other: "Reach") -> "Reach":
        if self.step != other.step:
            raise ValueError(f"merging grids of steps {self.step} and {other.step}")
        return Reach(max(self.before, other.before), max(self.after, other.after), self.step)

    @property
    def radius(self) -> int:
        return max(self.before, self.after)


# --------------------------------------------------------------------------------------------
# Blocks
# --------------------------------------------------------------------------------------------

def make_activation(kind: str, channels: int) -> nn.Module:
    """"lrelu" (0.2, in place), "relu" (in place), "prelu" (per channel) or "none"."""
    if kind == "lrelu":
        return nn.LeakyReLU(0.2, inplace=True)
    if kind == "relu":
        return nn.ReLU(inplace=True)
    if kind == "prelu":
        return nn.PReLU(channels, init=0.2)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown activation {kind!r}; expected lrelu, relu, prelu or none")


class ConvBlock(nn.Module):
    """Conv (same padding) followed by an activation: (B, in, H, W) -> (B, out, H/s, W/s)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1, act: str = "lrelu"):
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=(kernel - 1) // 2)
        self.act = make_activation(act, out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))

    def reach(self, r: Reach) -> Reach:
        return r.conv(self.kernel, self.stride)


class ResidualBlock(nn.Module):
    """x + conv(act(conv(x))), EDSR style (no normalisation, no activation after the sum)."""

    def __init__(self, channels: int, act: str = "lrelu"):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = make_activation(act, channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.act(self.conv1(x)))  # (B, C, H, W)
        # In place: conv2's backward needs its input and weight, not its output.
        return out.add_(x)

    def reach(self, r: Reach) -> Reach:
        return r.conv(3).conv(3)


class Downsample(ConvBlock):
    """Strided 3x3 conv + activation: (B, in, H, W) -> (B, out, H/2, W/2)."""

    def __init__(self, in_ch: int, out_ch: int, act: str = "lrelu"):
        super().__init__(in_ch, out_ch, kernel=3, stride=2, act=act)


class Upsample(nn.Module):
    """Sub-pixel convolution: conv to out*f^2 channels at low resolution, then pixel shuffle.

    (B, in, H, W) -> (B, out, H*f, W*f). A 1x1 kernel makes it the cheap equivalent of a 2x2
    stride-2 transposed conv (no overlap, so no checkerboard); a 3x3 kernel gives the ESPCN /
    SRVGG upsampler.
    """

    def __init__(self, in_ch: int, out_ch: int, factor: int = 2, kernel: int = 1, act: str = "none"):
        super().__init__()
        self.kernel, self.factor = kernel, factor
        self.conv = nn.Conv2d(in_ch, out_ch * factor * factor, kernel, padding=(kernel - 1) // 2)
        self.shuffle = nn.PixelShuffle(factor)
        self.act = make_activation(act, out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.shuffle(self.conv(x)))

    def reach(self, r: Reach) -> Reach:
        return r.conv(self.kernel).up(self.factor)


def upsample_add(coarse: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    """nearest_upsample_x2(coarse) + skip in one pass over memory, no upsampled copy.

    coarse (B, C, H/2, W/2), skip (B, C, H, W) -> (B, C, H, W), in skip's memory format. The
    full-resolution tensors of a U-Net are the expensive ones to stream on a CPU, so the
    upsampling is a broadcast inside the addition instead of a tensor of its own.
    """
    b, c, h, w = skip.shape
    if coarse.shape != (b, c, h // 2, w // 2) or h % 2 or w % 2:
        raise ValueError(f"upsample_add: coarse {tuple(coarse.shape)} does not match skip {tuple(skip.shape)}")
    if skip.is_contiguous(memory_format=torch.channels_last) and not skip.is_contiguous():
        s = skip.permute(0, 2, 3, 1).reshape(b, h // 2, 2, w // 2, 2, c)  # views, NHWC order
        k = coarse.permute(0, 2, 3, 1).reshape(b, h // 2, 1, w // 2, 1, c)
        return (s + k).reshape(b, h, w, c).permute(0, 3, 1, 2)  # (B, C, H, W) channels_last
    s = skip.reshape(b, c, h // 2, 2, w // 2, 2)
    k = coarse.reshape(b, c, h // 2, 1, w // 2, 1)
    return (s + k).reshape(b, c, h, w)


def clamp_unit(y: torch.Tensor) -> torch.Tensor:
    """Clamp to [0, 1]; while autograd records, the gradient passes straight through.

    A plain clamp has zero gradient outside [0, 1], so a prediction of 1.05 for a target of 0.98
    would never be pulled back; the straight-through form shows the loss the clamped value and
    still corrects the overshoot. Under inference it is a plain clamp.
    """
    if torch.is_grad_enabled() and y.requires_grad:
        return y + (y.clamp(0.0, 1.0) - y).detach()
    return y.clamp_(0.0, 1.0)

"""Generators, assembled from the small named blocks of :mod:`gan_engine.archs.blocks`.

Every generator maps x (B, in_ch, H, W) float in [0, 1] to y (B, out_ch, H*scale, W*scale) in
[0, 1] and exposes:

- ``config``: the JSON-able keyword arguments that rebuild it (checkpoints store them);
- ``scale``: output / input size ratio;
- ``receptive_radius``: input pixels of context each output pixel depends on, computed from the
  architecture by :class:`Reach` (tiling uses it as the overlap, so a tiled run equals an
  untiled one);
- ``size_multiple``: H and W must be multiples of it (tiling pads by reflection).

Design choices shared by the generators, for speed on CPU (oneDNN) and GPU alike: plain 3x3
convolutions with channel counts that are multiples of 16, LeakyReLU in place, no normalisation
layers (nothing to fold, no per-pixel statistics to stream through memory), additive skips
instead of concatenation (no copy, no wider convolution), and upsampling by pixel shuffle.
Everything works in channels_last.

Global skip rather than a sigmoid head: a restored photograph is mostly its input, so the net
only predicts the correction, ``y = clamp(x + r, 0, 1)``. At initialisation (tail scaled down)
it is almost the identity, it never has to re-synthesise clean regions, and exact blacks and
whites stay reachable, where a sigmoid squeezes them into vanishing gradients. The clamp passes
gradients straight through while training (see :func:`clamp_unit`) so that an overshoot is still
corrected by the loss. ``head="sigmoid"`` stays available for tasks without a useful identity.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gan_engine.archs.blocks import (
    ConvBlock, Downsample, Reach, ResidualBlock, Upsample, clamp_unit, make_activation, upsample_add,
)
from gan_engine.errors import InvalidInputError

__all__ = ["UNet", "SRVGG", "Colorizer", "ToneColour", "GlobalUNet"]


def _init_convs(module: nn.Module, act: str) -> None:
    """Kaiming init suited to the activation; biases zero."""
    slope = 0.2 if act in ("lrelu", "prelu") else 0.0
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, a=slope, nonlinearity="leaky_relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _scale_residual_branches(module: nn.Module, factor: float = 0.1) -> None:
    """Start residual blocks close to the identity (ESRGAN's 0.1 init): stable without norms."""
    for m in module.modules():
        if isinstance(m, ResidualBlock):
            m.conv2.weight.data.mul_(factor)


# --------------------------------------------------------------------------------------------
# Generators
# --------------------------------------------------------------------------------------------

class UNet(nn.Module):
    """Residual U-Net for image-to-image restoration (scale 1).

    Widths ``base * mults[l]`` at resolution 1/2^l; ``len(mults) - 1`` downsamplings (3 by
    default, so ``size_multiple`` = 8). The encoder has ``enc_blocks[l]`` residual blocks at
    level l before downsampling, the bottleneck ``mid_blocks``, the decoder ``dec_blocks[l]``
    after adding the skip of level l. Full-resolution work is kept small (the head conv, one
    decoder block, the tail) because convolutions with few channels over many pixels are the
    least efficient ones; most FLOPs sit at 1/2 and 1/4 resolution with 64-128 channels.
    Upsampling is resize-convolution: a 1x1 conv at the coarse level, then nearest x2 fused
    into the addition of the skip (:func:`upsample_add`), free of checkerboard artefacts and
    a quarter of the cost of a sub-pixel conv.

    ``head="residual"``: y = clamp(x + tail, 0, 1) (x broadcast when in_ch = 1 and out_ch = 3,
    which is what colourisation needs); ``head="sigmoid"``: y = sigmoid(tail); ``head="linear"``:
    y = tail (raw outputs, e.g. class logits inside :class:`Colorizer`).
    """

    arch = "unet"

    def __init__(self, *, in_ch: int = 3, out_ch: int = 3, base: int = 32, mults=(1, 2, 4, 4),
                 enc_blocks=(0, 1, 1), mid_blocks: int = 2, dec_blocks=(1, 1, 1), act: str = "lrelu",
                 head: str = "residual"):
        super().__init__()
        mults, enc_blocks, dec_blocks = list(mults), list(enc_blocks), list(dec_blocks)
        levels = len(mults) - 1
        if levels < 1 or len(enc_blocks) != levels or len(dec_blocks) != levels:
            raise InvalidInputError(f"need len(enc_blocks) == len(dec_blocks) == len(mults) - 1 >= 1, got "
                             f"mults={mults}, enc_blocks={enc_blocks}, dec_blocks={dec_blocks}")
        if head not in ("residual", "sigmoid", "linear"):
            raise InvalidInputError(f"head must be 'residual', 'sigmoid' or 'linear', not {head!r}")
        if head == "residual" and not (in_ch == out_ch or in_ch == 1):
            raise InvalidInputError(f"a residual head needs in_ch == out_ch or in_ch == 1 (got {in_ch}, {out_ch})")
        self.config = dict(in_ch=in_ch, out_ch=out_ch, base=base, mults=mults, enc_blocks=enc_blocks,
                           mid_blocks=mid_blocks, dec_blocks=dec_blocks, act=act, head=head)
        self.scale = 1
        self.size_multiple = 2 ** levels
        ch = [base * m for m in mults]

        self.head = ConvBlock(in_ch, ch[0], act=act)
        self.encoders = nn.ModuleList(
            nn.Sequential(*[ResidualBlock(ch[lv], act) for _ in range(enc_blocks[lv])]) for lv in range(levels))
        self.downs = nn.ModuleList(Downsample(ch[lv], ch[lv + 1], act) for lv in range(levels))
        self.mid = nn.Sequential(*[ResidualBlock(ch[levels], act) for _ in range(mid_blocks)])
        self.reduce = nn.ModuleList(nn.Conv2d(ch[lv + 1], ch[lv], 1) for lv in range(levels))
        self.decoders = nn.ModuleList(
            nn.Sequential(*[ResidualBlock(ch[lv], act) for _ in range(dec_blocks[lv])]) for lv in range(levels))
        self.tail = nn.Conv2d(ch[0], out_ch, 3, padding=1)

        _init_convs(self, act)
        _scale_residual_branches(self)
        self.tail.weight.data.mul_(0.1)  # start near the identity (residual head)
        self.receptive_radius = self._reach().radius

    def _reach(self) -> Reach:
        """Receptive field along the longest path (mirrors forward)."""
        r = self.head.reach(Reach())
        skips = []
        for enc, down in zip(self.encoders, self.downs):
            for block in enc:
                r = block.reach(r)
            skips.append(r)
            r = down.reach(r)
        for block in self.mid:
            r = block.reach(r)
        for lv in reversed(range(len(self.reduce))):
            r = r.conv(1).up(2).merge(skips[lv])
            for block in self.decoders[lv]:
                r = block.reach(r)
        r = r.conv(3)
        assert r.step == 1
        return r

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, in_ch, H, W), H and W multiples of size_multiple
        h = self.head(x)  # (B, c0, H, W)
        skips = []
        for enc, down in zip(self.encoders, self.downs):
            h = enc(h)  # (B, c_l, H/2^l, W/2^l)
            skips.append(h)
            h = down(h)  # (B, c_{l+1}, H/2^(l+1), W/2^(l+1))
        h = self.mid(h)  # (B, c_L, H/2^L, W/2^L)
        for lv in reversed(range(len(self.reduce))):
            h = self.reduce[lv](h)  # (B, c_l, H/2^(l+1), W/2^(l+1))
            h = upsample_add(h, skips[lv])  # (B, c_l, H/2^l, W/2^l)
            h = self.decoders[lv](h)
        r = self.tail(h)  # (B, out_ch, H, W)
        if self.config["head"] == "sigmoid":
            return torch.sigmoid(r)
        if self.config["head"] == "linear":
            return r
        return clamp_unit(r.add_(x) if r.shape[1] == x.shape[1] else r + x)  # x broadcast when 1 channel


class SRVGG(nn.Module):
    """SRVGGNetCompact-style super-resolution net (Real-ESRGAN's compact model).

    All convolutions run at low resolution: conv_first + ``num_conv`` 3x3 convs of ``num_feat``
    channels with activations, a last conv to out_ch*scale^2 channels, pixel shuffle to scale,
    plus the input upsampled by ``upsample`` ("nearest" as in Real-ESRGAN, or "bilinear"):
    (B, in_ch, H, W) -> (B, out_ch, H*scale, W*scale). LeakyReLU by default because it runs in
    place (the original uses PReLU, available as ``act="prelu"``).
    """

    arch = "srvgg"

    def __init__(self, *, in_ch: int = 3, out_ch: int = 3, scale: int = 4, num_feat: int = 64,
                 num_conv: int = 16, act: str = "lrelu", upsample: str = "nearest"):
        super().__init__()
        if scale not in (1, 2, 3, 4, 8):
            raise InvalidInputError(f"scale must be 1, 2, 3, 4 or 8, not {scale}")
        if upsample not in ("nearest", "bilinear"):
            raise InvalidInputError(f"upsample must be 'nearest' or 'bilinear', not {upsample!r}")
        if not (in_ch == out_ch or in_ch == 1):
            raise InvalidInputError(f"the input skip needs in_ch == out_ch or in_ch == 1 (got {in_ch}, {out_ch})")
        self.config = dict(in_ch=in_ch, out_ch=out_ch, scale=scale, num_feat=num_feat, num_conv=num_conv,
                           act=act, upsample=upsample)
        self.scale = scale
        self.size_multiple = 1
        self.body = nn.Sequential(
            ConvBlock(in_ch, num_feat, act=act),
            *[ConvBlock(num_feat, num_feat, act=act) for _ in range(num_conv)],
        )
        self.upsampler = Upsample(num_feat, out_ch, scale, kernel=3)
        _init_convs(self, act)
        self.upsampler.conv.weight.data.mul_(0.1)

        r = Reach()
        for block in self.body:
            r = block.reach(r)
        # The pixel shuffle maps each low-resolution pixel to its own scale x scale block, so in
        # input pixels the radius is that of the convs; bilinear reads one neighbour more.
        self.receptive_radius = max(r.conv(3).radius, 1 if upsample == "bilinear" else 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, in_ch, H, W)
        r = self.upsampler(self.body(x))  # (B, out_ch, H*s, W*s)
        if self.scale == 1:
            base = x
        elif self.config["upsample"] == "nearest":
            base = F.interpolate(x, scale_factor=self.scale, mode="nearest")
        else:
            base = F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)
        return clamp_unit(r.add_(base) if r.shape[1] == base.shape[1] else r + base)


class Colorizer(nn.Module):
    """Colourisation in CIE Lab: predicts a and b from L; the output keeps the input's L.

    As Zhang et al. (2016): a U-Net (``unet`` config, linear head) classifies each pixel's ab into
    ``bins`` (centres of a quantised ab grid, from the training data); the colour is the
    annealed mean of the softmax at ``temperature`` (T -> 0: the mode, vivid but noisy;
    T = 1: the mean, safe but brownish; Zhang's 0.38 by default) times ``chroma``. The U-Net
    runs at 1/``downsample`` resolution and ab is upsampled bilinearly: chroma is
    low-frequency (JPEG's 4:2:0 relies on the same fact), and it quarters the cost.

    x: (B, 1, H, W) = L / 100 in [0, 1] -> sRGB (B, 3, H, W) of (100 x, a, b). Where (L, a, b)
    falls outside the sRGB gamut the chroma is scaled down (in steps of 1/``gamut_steps``)
    until it fits, so clipping never alters L.
    """

    arch = "colorizer"

    def __init__(self, *, bins, unet: dict | None = None, temperature: float = 0.38, downsample: int = 2,
                 chroma: float = 1.0, gamut_steps: int = 5, class_weights=None, in_ch: int = 1, out_ch: int = 3):
        super().__init__()
        if in_ch != 1 or out_ch != 3:
            raise InvalidInputError(f"a colorizer maps L (1 channel) to RGB (3), not {in_ch} -> {out_ch}")
        centres = torch.as_tensor(bins, dtype=torch.float32)
        if centres.ndim != 2 or centres.shape[1] != 2 or len(centres) < 2:
            raise InvalidInputError("bins must be a list of at least two (a, b) centres")
        if temperature <= 0 or downsample < 1 or gamut_steps < 1:
            raise InvalidInputError("temperature > 0, downsample >= 1 and gamut_steps >= 1 are required")
        unet = dict(unet or {})
        unet.update(in_ch=1, out_ch=len(centres), head="linear")
        weights = torch.ones(len(centres)) if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32)
        if weights.shape != (len(centres),):
            raise InvalidInputError("class_weights must give one weight per bin")
        self.config = dict(bins=centres.tolist(), unet=unet, temperature=temperature, downsample=downsample,
                           chroma=chroma, gamut_steps=gamut_steps, class_weights=weights.tolist(), in_ch=1, out_ch=3)
        self.net = UNet(**unet)
        # rebuilt from the config, not stored with the weights
        self.register_buffer("centres", centres, persistent=False)
        # the training loss's class rebalancing (data statistics, kept for the record and for fine-tuning)
        self.register_buffer("class_weights", weights, persistent=False)
        self.scale = 1
        self.size_multiple = self.net.size_multiple * downsample
        # pooling reads `downsample` pixels, bilinear upsampling one low-resolution neighbour more
        self.receptive_radius = (self.net.receptive_radius + 1) * downsample + downsample

    def set_class_weights(self, weights) -> None:
        """Replace the rebalancing weights (fine-tuning with other colour statistics)."""
        w = torch.as_tensor(weights, dtype=torch.float32)
        if w.shape != self.class_weights.shape:
            raise InvalidInputError("class_weights must give one weight per bin")
        self.class_weights.copy_(w.to(self.class_weights.device))
        self.config["class_weights"] = w.tolist()

    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, 1, H, W) -> (ab (B, 2, H, W), logits (B, Q, H/d, W/d))."""
        d = self.config["downsample"]
        small = F.avg_pool2d(x, d) if d > 1 else x
        logits = self.net(small)  # (B, Q, H/d, W/d)
        probs = torch.softmax(logits / self.config["temperature"], dim=1)
        ab = torch.einsum("bqhw,qc->bchw", probs, self.centres) * self.config["chroma"]
        if d > 1:
            ab = F.interpolate(ab, scale_factor=d, mode="bilinear", align_corners=False)
        return ab, logits

    def to_rgb(self, x: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """sRGB of (L = 100 x, ab) with the chroma reduced where it would leave the gamut."""
        from gan_engine.data.color import lab_to_rgb_torch

        L = x * 100.0
        steps = self.config["gamut_steps"]
        rgb = lab_to_rgb_torch(torch.cat([L, torch.zeros_like(ab)], dim=1))  # grey: always in gamut
        for k in range(1, steps + 1):
            cand = lab_to_rgb_torch(torch.cat([L, ab * (k / steps)], dim=1), clip=False)
            fits = ((cand >= -1e-3) & (cand <= 1.0 + 1e-3)).all(dim=1, keepdim=True)
            rgb = torch.where(fits, cand, rgb)
        return rgb.clamp(0.0, 1.0)

    def forward_parts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> (rgb, ab, logits): what the training step needs."""
        ab, logits = self.predict(x)
        return self.to_rgb(x, ab), ab, logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_parts(x)[0]


class ToneColour(nn.Module):
    """A global tone and colour correction whose parameters are predicted from a thumbnail.

    Why: most of what ageing does to a print is global (faded blacks and whites, dye fading,
    casts, toning, exposure). A U-Net sees only its receptive field and must guess such a
    correction from local context; this net looks at the whole image once, at
    ``thumb x thumb`` (area-resized, aspect ignored), and predicts, per image:

    - per-channel monotone tone curves, piecewise linear with ``knots`` knots on [0, 1];
    - then a 3x3 colour matrix and an offset (desaturation, casts, toned grey prints).

    The correction is pointwise, so it is applied to a full-size image in row blocks
    (``apply``) and tiling of a following local net is unaffected: the parameters depend on
    the whole image, computed once (``predict(thumbnail(x))``). Predictor: 4 strided convs
    (1/16 resolution), mean and standard deviation of its features and soft per-channel
    histograms of the thumbnail, an MLP; its last layer starts at zero, so the net starts as
    the identity. ``forward(x)`` = ``apply(x, predict(thumbnail(x)))``: (B, 3, H, W) -> same.
    """

    arch = "tonecolour"

    def __init__(self, *, knots: int = 16, width: int = 16, hidden: int = 128, thumb: int = 128,
                 act: str = "lrelu"):
        super().__init__()
        if knots < 2 or thumb < 16:
            raise InvalidInputError(f"knots >= 2 and thumb >= 16 required (got {knots}, {thumb})")
        self.config = dict(knots=knots, width=width, hidden=hidden, thumb=thumb, act=act)
        self.scale, self.size_multiple, self.receptive_radius = 1, 1, 0
        self.knots, self.thumb = knots, thumb
        w = [width, 2 * width, 4 * width, 4 * width]
        self.features = nn.Sequential(ConvBlock(3, w[0], stride=2, act=act), ConvBlock(w[0], w[1], stride=2, act=act),
                                      ConvBlock(w[1], w[2], stride=2, act=act), ConvBlock(w[2], w[3], stride=2, act=act))
        n_in = 2 * w[3] + 3 * knots
        self.n_params = 3 * knots + 3 + 9 + 3  # curve increments, curve offsets, matrix, offset
        self.mlp = nn.Sequential(nn.Linear(n_in, hidden), make_activation(act, hidden),
                                 nn.Linear(hidden, hidden), make_activation(act, hidden),
                                 nn.Linear(hidden, self.n_params))
        _init_convs(self.features, act)
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def thumbnail(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, 3, thumb, thumb): area average (bilinear when smaller)."""
        if x.shape[-2] >= self.thumb and x.shape[-1] >= self.thumb:
            return F.adaptive_avg_pool2d(x, self.thumb)
        return F.interpolate(x, size=(self.thumb, self.thumb), mode="bilinear", align_corners=False)

    def _histograms(self, t: torch.Tensor) -> torch.Tensor:
        """Soft (triangular) histograms of each channel over ``knots`` bins: (B, 3, knots)."""
        centres = torch.arange(self.knots, device=t.device, dtype=t.dtype)
        pos = t.clamp(0, 1).flatten(2)[..., None] * (self.knots - 1)  # (B, 3, N, 1)
        return (1.0 - (pos - centres).abs()).clamp_(min=0).mean(2)

    def predict(self, thumb: torch.Tensor) -> torch.Tensor:
        """(B, 3, thumb, thumb) -> (B, n_params) correction parameters (zeros = identity)."""
        f = self.features(thumb)  # (B, C, thumb/16, thumb/16)
        stats = torch.cat([f.mean((2, 3)), f.std((2, 3)), self._histograms(thumb).flatten(1)], 1)
        return self.mlp(stats)

    def curves(self, params: torch.Tensor) -> torch.Tensor:
        """Knot values (B, 3, knots) of the tone curves: monotone, identity at zero parameters."""
        k = self.knots
        inc = params[:, :3 * k].view(-1, 3, k)
        # softplus(z + log(e - 1)) = 1 at z = 0: equal steps, i.e. the identity curve
        steps = F.softplus(inc[..., 1:] + 0.5413248546129181) / (k - 1)
        start = inc[..., :1] * 0.1 + params[:, 3 * k:3 * k + 3, None] * 0.1
        return torch.cat([start, start + torch.cumsum(steps, -1)], -1)

    def apply(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Apply the predicted correction to (B, 3, H, W) images of any size (pointwise)."""
        k = self.knots
        b, c, h, w = x.shape
        values = self.curves(params)  # (B, 3, k)
        pos = x.clamp(0, 1).reshape(b, c, h * w) * (k - 1)
        idx = pos.detach().floor().clamp_(max=k - 2)
        frac = pos - idx
        idx = idx.long()
        lo = torch.gather(values, 2, idx)
        hi = torch.gather(values, 2, idx + 1)
        y = lo + frac * (hi - lo)  # (B, 3, HW)
        m = torch.eye(3, device=x.device, dtype=x.dtype) + 0.1 * params[:, 3 * k + 3:3 * k + 12].view(-1, 3, 3)
        bias = 0.1 * params[:, 3 * k + 12:3 * k + 15, None]
        y = torch.baddbmm(bias, m, y)
        return y.view(b, c, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return clamp_unit(self.apply(x, self.predict(self.thumbnail(x))))


class GlobalUNet(nn.Module):
    """``ToneColour`` (global, from a thumbnail of the whole image) followed by a ``UNet`` (local).

    The global stage fixes what is the same everywhere (tone, colour), the U-Net what is local
    (noise, grain, specks, scratches, blur, JPEG). ``forward(x)`` treats x as the whole image;
    for tiled inference the caller computes ``predict(thumbnail(image))`` once, applies it to the
    whole image, then runs ``local`` by tiles (``receptive_radius`` and ``size_multiple`` are the
    U-Net's, as the global stage is pointwise once its parameters are known).
    """

    arch = "globalunet"

    def __init__(self, *, glob: dict | None = None, local: dict | None = None):
        super().__init__()
        self.glob = ToneColour(**(glob or {}))
        self.local = UNet(**(local or {}))
        if self.local.config["in_ch"] != 3 or self.local.config["out_ch"] != 3:
            raise InvalidInputError("GlobalUNet's local U-Net must map 3 channels to 3")
        self.config = dict(glob=dict(self.glob.config), local=dict(self.local.config))
        self.scale = 1
        self.size_multiple = self.local.size_multiple
        self.receptive_radius = self.local.receptive_radius

    @classmethod
    def from_stages(cls, glob: "ToneColour", local: "UNet") -> "GlobalUNet":
        """A GlobalUNet holding copies of trained stages (e.g. to fine-tune them together)."""
        model = cls(glob=dict(glob.config), local=dict(local.config))
        model.glob.load_state_dict(glob.state_dict())
        model.local.load_state_dict(local.state_dict())
        return model

    def correct(self, x: torch.Tensor) -> torch.Tensor:
        """The global stage alone, from x's own thumbnail (x is the whole image)."""
        return self.glob.apply(x, self.glob.predict(self.glob.thumbnail(x))).clamp(0.0, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.local(self.correct(x))

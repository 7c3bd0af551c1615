"""Synthetic aging of photographs: pure, seeded degradation functions and a random pipeline.

Every operation is a pure function ``op(img, **params) -> img`` over a numpy image of shape
(H, W, C) (C = 1 or 3; (H, W) is accepted too and keeps its shape), float32, range [0, 1]; it
returns a new float32 array of the same shape, clipped to [0, 1]. Operations that need random
numbers (noise, specks, scratches, ...) take an integer ``seed`` parameter, so a (name, params)
pair fully determines the result. CPU torch tensors are accepted (converted with ``np.asarray``);
the result is always numpy.

``age_image(image, seed_or_rng, config)`` draws an image-level *severity*, decides whether the
photograph is a black-and-white print, picks operations with probabilities and strengths that grow
with the severity, orders them roughly as the photograph's life would (capture, print, chemical
aging, physical damage, digitisation; sometimes shuffled), and returns the aged image with a
record: a JSON-serialisable list of ``(op name, params)``. ``replay(image, record)`` reproduces
the aged image exactly.

Grey prints: when the record contains ``to_gray_print`` (see ``is_gray_record``) the photograph
was a black-and-white print; the aged image is still (H, W, 3) (possibly toned: sepia, yellowed)
and the matching training target is ``to_gray_print(clean)`` (three identical channels).

Operations and their ranges are described in docs/degradations.md.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import Any, Callable

import cv2
import numpy as np

from gan_engine.evaluation.metrics import LUMA, LUMA_WEIGHTS  # the one definition of the BT.601 weights

__all__ = [
    "AgingConfig", "age_image", "replay", "degrade_for_eval", "eval_config", "is_gray_record",
    "add_gaussian_noise", "random_op", "OPS",
    # the operations themselves
    "to_gray_print", "exposure", "fade", "dye_fade", "colour_cast", "sepia_tone", "desaturate",
    "vignette", "gradient", "stains", "gaussian_blur", "defocus_blur", "motion_blur", "sharpen",
    "film_grain", "sensor_noise", "dust", "scratches", "cracks", "jpeg", "resample", "halftone",
    "paper_texture",
]

Record = list[tuple[str, dict[str, Any]]]



# ----------------------------------------------------------------------------------------------
# Configuration
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AgingConfig:
    """Probabilities and strength ranges of ``age_image``.

    An op's probability is ``p_<op> * (0.4 + 1.2 * severity)`` (capped at 1): at severity 0.5 it
    is the given value, a mild image has 40% of it and the heaviest 160%. Each strength parameter
    is ``lo + (hi - lo) * t`` with ``t ~ clip(Normal(severity, strength_spread), 0, 1)``, so mild
    images get mild ops but any image can get one strong op. Ranges are (mild end, heavy end).
    """

    # --- image-level choices ---
    p_gray: float = 0.5  # black-and-white print (grey as often as colour)
    gray_weight_jitter: float = 0.05  # std of the print's R/G/B sensitivity around BT.601 (films differ)
    p_clean: float = 0.08  # "clean-ish" scans: severity below clean_severity and 1/4 of the ops
    clean_severity: float = 0.15  # upper end of the severity of clean-ish images
    severity: tuple[float, float] = (0.0, 1.0)  # per-image severity, drawn uniformly
    strength_spread: float = 0.25  # std of each op's strength around the image severity
    p_shuffle_all: float = 0.12  # forget the life-cycle order and shuffle all ops (not grey first)
    p_jpeg_not_last: float = 0.2  # JPEG at a random place instead of last (saved, then edited)

    # --- probabilities at severity 0.5 ---
    p_exposure: float = 0.3  # under/over-exposure (gain and gamma)
    p_fade: float = 0.6  # lifted blacks / lowered whites / tone curve (contrast compression)
    p_dye_fade: float = 0.4  # channel-wise fading of colour prints (colour only)
    p_colour_cast: float = 0.4  # global yellow / magenta / cyan / ... cast
    p_sepia_grey: float = 0.4  # toning of a black-and-white print (sepia, selenium, cyanotype)
    p_sepia_colour: float = 0.08  # sepia wash over a colour print (rare)
    p_desaturate: float = 0.3  # loss of saturation of a colour print
    p_vignette: float = 0.3  # radial fall-off (lens vignetting, faded edges)
    p_gradient: float = 0.2  # linear illumination gradient or a warm light leak
    p_stains: float = 0.25  # blotchy low-frequency stains, water rings, foxing spots
    p_blur: float = 0.6  # one of Gaussian (anisotropic), defocus disc, motion
    blur_kinds: tuple[float, float, float] = (0.6, 0.25, 0.15)  # odds of gaussian, defocus, motion
    p_sharpen: float = 0.12  # over-sharpening halos (scanner / editing software)
    p_grain: float = 0.45  # film grain, luminance dependent, multi-scale
    p_sensor_noise: float = 0.5  # scanner / camera noise
    noise_kinds: tuple[float, float, float, float] = (0.45, 0.3, 0.17, 0.08)  # gaussian, poisson, speckle, impulse
    p_dust: float = 0.45  # dark and bright specks, hairs and fibres
    p_scratches: float = 0.4  # thin long lines, light or dark, curved, sometimes broken
    p_cracks: float = 0.25  # branching emulsion cracks (random-walk trees)
    p_jpeg: float = 0.5  # JPEG encode/decode
    p_resample: float = 0.35  # down- and up-sampling (low-resolution scans, thumbnails)
    p_halftone: float = 0.06  # dot screen of a printed reproduction
    p_paper: float = 0.3  # paper fibres or lustre/silk surface texture

    # --- strength ranges (mild end, heavy end) ---
    exposure_gain: tuple[float, float] = (0.0, 0.35)  # |log2 gain| (sign random)
    exposure_gamma: tuple[float, float] = (0.0, 0.45)  # |log2 gamma| (sign random)
    fade_black: tuple[float, float] = (0.0, 0.3)  # level that black is lifted to
    fade_white: tuple[float, float] = (0.0, 0.2)  # amount white is lowered by
    fade_gamma: tuple[float, float] = (0.0, 0.35)  # |log2 gamma| of the tone curve (sign random)
    dye_black: tuple[float, float] = (0.0, 0.3)  # per-channel black lift
    dye_white: tuple[float, float] = (0.0, 0.3)  # per-channel white drop
    dye_gamma: tuple[float, float] = (0.0, 0.45)  # per-channel |log2 gamma| (colour crossover)
    cast_strength: tuple[float, float] = (0.04, 0.45)  # mix towards the cast colour
    sepia_strength: tuple[float, float] = (0.25, 1.0)  # mix towards the toned print
    desaturate_amount: tuple[float, float] = (0.1, 0.8)  # 1 = grey
    vignette_strength: tuple[float, float] = (0.08, 0.65)  # fall-off at the corners
    gradient_strength: tuple[float, float] = (0.05, 0.4)  # change across the image
    stain_coverage: tuple[float, float] = (0.03, 0.4)  # fraction of the image stained
    stain_opacity: tuple[float, float] = (0.05, 0.55)  # darkening inside a stain
    blur_sigma: tuple[float, float] = (0.4, 3.0)  # Gaussian sigma (px), larger axis
    defocus_radius: tuple[float, float] = (0.8, 4.5)  # disc radius (px)
    motion_length: tuple[float, float] = (2.0, 13.0)  # line length (px)
    sharpen_amount: tuple[float, float] = (0.3, 1.6)  # unsharp-mask amount
    grain_strength: tuple[float, float] = (0.01, 0.08)  # grain std at mid-grey
    grain_size: tuple[float, float] = (0.3, 1.6)  # grain blur sigma (px), sampled uniformly
    noise_sigma: tuple[float, float] = (0.004, 0.08)  # Gaussian noise std
    noise_poisson: tuple[float, float] = (0.0003, 0.008)  # Poisson variance per unit intensity
    noise_speckle: tuple[float, float] = (0.02, 0.2)  # multiplicative noise std
    noise_impulse: tuple[float, float] = (0.0005, 0.02)  # fraction of salt-and-pepper pixels
    dust_density: tuple[float, float] = (0.5, 45.0)  # specks per 256x256 pixels
    scratch_count: tuple[float, float] = (1.0, 8.0)  # scratches per image
    crack_trees: tuple[float, float] = (1.0, 4.0)  # crack trees per 256x256 pixels (area capped at 2)
    crack_length: tuple[float, float] = (25.0, 260.0)  # trunk length (px)
    jpeg_quality: tuple[float, float] = (92.0, 12.0)  # JPEG quality
    resample_scale: tuple[float, float] = (1.15, 4.0)  # down-sampling factor
    halftone_cell: tuple[float, float] = (2.5, 6.0)  # dot pitch (px), sampled uniformly
    halftone_strength: tuple[float, float] = (0.25, 0.9)  # mix of the dot pattern with the original
    paper_strength: tuple[float, float] = (0.01, 0.07)  # texture std (relative brightness)


def eval_config(gray: bool) -> AgingConfig:
    """The configuration used by ``degrade_for_eval``: defaults, never clean, grey fixed by caller,
    and grey prints made with exact BT.601 weights so that a luminance score is well defined."""
    return replace(AgingConfig(), p_clean=0.0, p_gray=1.0 if gray else 0.0,
                   gray_weight_jitter=0.0)


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------

def _rng(seed_or_rng: int | np.random.Generator | None) -> np.random.Generator:
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    return np.random.default_rng(seed_or_rng)


def _image_op(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Wrap an op written for (H, W, C) float32: accept (H, W), copy-free conversion to float32,
    restore the input shape, clip to [0, 1]."""

    @functools.wraps(fn)
    def wrapper(img, **params) -> np.ndarray:
        x = np.asarray(img, dtype=np.float32)
        shape = x.shape
        if x.ndim == 2:
            x = x[..., None]
        if x.ndim != 3 or x.shape[2] not in (1, 3):
            raise ValueError(f"expected an image (H, W), (H, W, 1) or (H, W, 3), got {shape}")
        out = fn(x, **params)
        out = np.asarray(out, dtype=np.float32).reshape(shape)
        return np.clip(out, 0.0, 1.0, out=out)

    return wrapper


def _luma(x: np.ndarray) -> np.ndarray:
    """(H, W, C) -> (H, W, 1) luminance."""
    if x.shape[2] == 1:
        return x
    return (x @ LUMA)[..., None]


def _per_channel(values, c: int) -> np.ndarray:
    """Per-channel parameters (3,) shaped for broadcasting over (H, W, c)."""
    v = np.asarray(values, dtype=np.float32).reshape(-1)
    if c == 1:
        v = v.mean(keepdims=True)
    return v.reshape(1, 1, c)


def _keep_channels(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """cv2 drops a trailing channel of size 1: put it back."""
    return out.reshape(x.shape)


def _noise(rng: np.random.Generator, shape) -> np.ndarray:
    """Standard normal float32 noise (for ops whose noise is specified as Gaussian)."""
    return rng.standard_normal(shape, dtype=np.float32)


def _texture_noise(rng: np.random.Generator, shape) -> np.ndarray:
    """Zero-mean unit-variance uniform noise: five times cheaper than Gaussian, and after the
    blurs and resizes that grain, paper and smooth fields apply it is Gaussian-like anyway."""
    u = rng.random(shape, dtype=np.float32)
    u -= 0.5
    u *= math.sqrt(12.0)
    return u


def _std(a: np.ndarray) -> float:
    """Standard deviation estimated on every third row and column (plenty for normalising noise)."""
    return float(a[::3, ::3].std()) + 1e-6


def _smooth_field(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Zero-mean, unit-std low-frequency random field (H, W), features of about ``cell`` px."""
    gh, gw = max(2, round(h / cell) + 2), max(2, round(w / cell) + 2)
    g = _texture_noise(rng, (gh, gw))
    f = cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)
    f -= f[::3, ::3].mean()
    f /= _std(f)
    return f


def _mask_from_uint8(mask: np.ndarray, soften: float) -> np.ndarray:
    m = mask.astype(np.float32) * (1.0 / 255.0)
    if soften > 0:
        m = cv2.GaussianBlur(m, (0, 0), soften)
    return m[..., None]


def _blend(x: np.ndarray, mask: np.ndarray, value) -> np.ndarray:
    """x * (1 - mask) + value * mask, mask (H, W, 1) in [0, 1], value scalar or (1, 1, C)."""
    return x + mask * (value - x)


def _sub(v: float) -> int:
    """Float pixel coordinate -> cv2 fixed point with shift=4 (sub-pixel drawing)."""
    return int(round(v * 16))


def _polyline_points(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    return np.round(np.stack([xs, ys], axis=1) * 16).astype(np.int32).reshape(-1, 1, 2)


# ----------------------------------------------------------------------------------------------
# Tone and colour
# ----------------------------------------------------------------------------------------------

def to_gray_print(img, weights=LUMA_WEIGHTS) -> np.ndarray:
    """Black-and-white print: a weighted sum of R, G, B repeated over three channels.

    img: (H, W, 3) (or (H, W), (H, W, 1)) float32 [0, 1] -> (H, W, 3) float32 [0, 1] with three
    identical channels. ``weights`` model the film's spectral sensitivity (normalised to sum 1);
    BT.601 by default, so ``metrics.to_luminance`` of the result is the clean luminance.
    """
    x = np.asarray(img, dtype=np.float32)
    if x.ndim == 2:
        x = x[..., None]
    if x.shape[2] == 1:
        g = x
    else:
        w = np.asarray(weights, dtype=np.float32)
        g = (x @ (w / w.sum()))[..., None]
    out = np.repeat(np.clip(g, 0.0, 1.0), 3, axis=2)
    return np.ascontiguousarray(out, dtype=np.float32)


@_image_op
def exposure(x: np.ndarray, *, gain: float, gamma: float) -> np.ndarray:
    """Under/over-exposure: clip(gain * x) ** gamma. Highlights clip when gain > 1."""
    return np.power(np.clip(x * gain, 0.0, 1.0), gamma)


@_image_op
def fade(x: np.ndarray, *, black: float, white: float, gamma: float) -> np.ndarray:
    """Contrast compression of a faded print: black + (white - black) * x ** gamma.

    black in [0, 0.4] (lifted blacks), white in [0.6, 1] (lowered whites), gamma around 1.
    """
    return black + (white - black) * np.power(x, gamma)


@_image_op
def dye_fade(x: np.ndarray, *, blacks, whites, gammas) -> np.ndarray:
    """Channel-wise fading of the three dyes of a colour print (each its own black, white, gamma),
    e.g. the cyan dye fading first leaves a red/magenta cast; different gammas make the cast
    depend on the tone (crossover), which a global white balance cannot undo."""
    c = x.shape[2]
    b, w, g = _per_channel(blacks, c), _per_channel(whites, c), _per_channel(gammas, c)
    return b + (w - b) * np.power(x, g)


@_image_op
def colour_cast(x: np.ndarray, *, gains, offsets) -> np.ndarray:
    """Global colour cast: x * gains + offsets (per channel), e.g. yellowed varnish or paper."""
    c = x.shape[2]
    return x * _per_channel(gains, c) + _per_channel(offsets, c)


@_image_op
def sepia_tone(x: np.ndarray, *, strength: float, exponents) -> np.ndarray:
    """Toned print: luminance L mapped to (L ** e_r, L ** e_g, L ** e_b), mixed by ``strength``.

    exponents below 1 raise a channel: (0.8, 1.0, 1.35) is sepia, (1.3, 1.05, 0.8) cyanotype.
    """
    if x.shape[2] == 1:
        return x
    lum = np.clip(_luma(x), 1e-6, 1.0)
    toned = np.power(lum, _per_channel(exponents, 3))
    return x + strength * (toned - x)


@_image_op
def desaturate(x: np.ndarray, *, amount: float) -> np.ndarray:
    """Mix towards luminance: amount 0 keeps the image, 1 makes it grey."""
    if x.shape[2] == 1:
        return x
    return x + amount * (_luma(x) - x)


# ----------------------------------------------------------------------------------------------
# Uneven illumination and stains
# ----------------------------------------------------------------------------------------------

@_image_op
def vignette(x: np.ndarray, *, strength: float, power: float, cx: float, cy: float,
             light: bool = False) -> np.ndarray:
    """Radial fall-off around (cx, cy) (fractions of width and height): f = strength * r ** power
    with r the distance over half the diagonal; darkens (x * (1 - f)) or, with ``light``, fades
    towards white (x + (1 - x) * f), as the faded edges of a print."""
    h, w = x.shape[:2]
    half_diag = 0.5 * math.hypot(h, w)
    ys = ((np.arange(h, dtype=np.float32) - cy * h) / half_diag) ** 2
    xs = ((np.arange(w, dtype=np.float32) - cx * w) / half_diag) ** 2
    r = np.sqrt(ys[:, None] + xs[None, :])
    f = (strength * np.power(np.minimum(r, 1.5), power))[..., None]
    return x + f * (1.0 - x) if light else x * (1.0 - np.minimum(f, 1.0))


@_image_op
def gradient(x: np.ndarray, *, strength: float, angle: float, colour=(1.0, 1.0, 1.0),
             leak: bool = False) -> np.ndarray:
    """Linear illumination gradient across the image along ``angle`` (radians): multiplies by
    1 - strength * t (t from 0 to 1), or with ``leak`` adds a light leak of ``colour``
    (x + strength * t * colour * (1 - x))."""
    h, w = x.shape[:2]
    ys = np.linspace(-0.5, 0.5, h, dtype=np.float32)[:, None] * math.sin(angle)
    xs = np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :] * math.cos(angle)
    t = ys + xs
    t = ((t - t.min()) / (t.max() - t.min() + 1e-6))[..., None]
    if leak:
        return x + strength * t * _per_channel(colour, x.shape[2]) * (1.0 - x)
    return x * (1.0 - strength * t)


@_image_op
def stains(x: np.ndarray, *, seed: int, coverage: float, opacity: float, colour,
           cell: float = 48.0, ring: float = 0.5, foxing: int = 0) -> np.ndarray:
    """Blotchy low-frequency stains: a smooth random field thresholded so that about ``coverage``
    of the image is stained; inside, the image is darkened towards ``colour`` (brownish) by
    ``opacity``, with a darker tide line of relative strength ``ring`` along the edges, plus
    ``foxing`` small rust-coloured spots. ``cell`` is the blotch size (px)."""
    rng = np.random.default_rng(seed)
    h, w, c = x.shape
    # The random field is smooth: draw it at a quarter of the resolution, enlarge it, and
    # threshold at full resolution so that stain edges stay crisp.
    lh, lw = max(8, h // 4), max(8, w // 4)
    f = _smooth_field(rng, lh, lw, cell / 4)
    f += 0.35 * _smooth_field(rng, lh, lw, cell / 12)
    thr = float(np.quantile(f[:: max(1, lh // 64), :: max(1, lw // 64)], 1.0 - coverage))
    f = cv2.resize(f - thr, (w, h), interpolation=cv2.INTER_CUBIC)  # > 0 inside a stain
    m = np.clip(f * (1.0 / 0.25), 0.0, 1.0)
    m = m * m * (3 - 2 * m)  # smoothstep edges
    tide = np.clip(1.0 - np.abs(f) * (1.0 / 0.05), 0.0, 1.0)  # a thin line along the edge
    dark = opacity * (m + ring * tide)
    if foxing > 0:
        spots = np.zeros((h, w), np.uint8)
        for _ in range(foxing):
            r = rng.uniform(0.6, 4.0)
            cv2.circle(spots, (_sub(rng.uniform(0, w)), _sub(rng.uniform(0, h))), _sub(r),
                       int(rng.uniform(90, 255)), -1, cv2.LINE_AA, 4)
        dark = dark + _mask_from_uint8(spots, 0.8)[..., 0] * 0.8
    dark = np.clip(dark, 0.0, 1.0)[..., None]
    tint = _per_channel(colour, c)
    return x * (1.0 - dark * (1.0 - tint))


# ----------------------------------------------------------------------------------------------
# Blur and sharpening
# ----------------------------------------------------------------------------------------------

@_image_op
def gaussian_blur(x: np.ndarray, *, sigma_x: float, sigma_y: float, angle: float = 0.0) -> np.ndarray:
    """Anisotropic Gaussian blur: standard deviations sigma_x, sigma_y (px) along axes rotated by
    ``angle`` (radians). Isotropic when sigma_x == sigma_y."""
    if abs(sigma_x - sigma_y) < 1e-3:
        return _keep_channels(x, cv2.GaussianBlur(x, (0, 0), sigma_x, borderType=cv2.BORDER_REFLECT))
    radius = max(1, int(math.ceil(3.0 * max(sigma_x, sigma_y))))
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1].astype(np.float32)
    ca, sa = math.cos(angle), math.sin(angle)
    u, v = ca * xx + sa * yy, -sa * xx + ca * yy
    k = np.exp(-0.5 * ((u / sigma_x) ** 2 + (v / sigma_y) ** 2))
    return _keep_channels(x, cv2.filter2D(x, -1, k / k.sum(), borderType=cv2.BORDER_REFLECT))


@_image_op
def defocus_blur(x: np.ndarray, *, radius: float) -> np.ndarray:
    """Out-of-focus blur: convolution with an anti-aliased disc of ``radius`` px."""
    size = 2 * int(math.ceil(radius)) + 3
    k = np.zeros((size, size), np.uint8)
    centre = _sub((size - 1) / 2)
    cv2.circle(k, (centre, centre), _sub(radius), 255, -1, cv2.LINE_AA, 4)
    k = k.astype(np.float32)
    return _keep_channels(x, cv2.filter2D(x, -1, k / k.sum(), borderType=cv2.BORDER_REFLECT))


@_image_op
def motion_blur(x: np.ndarray, *, length: float, angle: float) -> np.ndarray:
    """Camera shake: convolution with an anti-aliased line of ``length`` px at ``angle`` (radians)."""
    size = 2 * int(math.ceil(length / 2)) + 3
    k = np.zeros((size, size), np.uint8)
    c = (size - 1) / 2
    dx, dy = 0.5 * length * math.cos(angle), 0.5 * length * math.sin(angle)
    cv2.line(k, (_sub(c - dx), _sub(c - dy)), (_sub(c + dx), _sub(c + dy)), 255, 1, cv2.LINE_AA, 4)
    k = k.astype(np.float32)
    return _keep_channels(x, cv2.filter2D(x, -1, k / k.sum(), borderType=cv2.BORDER_REFLECT))


@_image_op
def sharpen(x: np.ndarray, *, amount: float, sigma: float) -> np.ndarray:
    """Unsharp mask x + amount * (x - blur(x, sigma)): over-sharpening halos of scanners/editors."""
    blurred = _keep_channels(x, cv2.GaussianBlur(x, (0, 0), sigma, borderType=cv2.BORDER_REFLECT))
    return x + amount * (x - blurred)


# ----------------------------------------------------------------------------------------------
# Grain and noise
# ----------------------------------------------------------------------------------------------

def _grain_field(rng: np.random.Generator, h: int, w: int, c: int, size: float,
                 coarse: float) -> np.ndarray:
    """Multi-scale grain (H, W, c), zero mean, unit std: fine noise blurred by ``size`` px plus
    ``coarse`` times noise at half resolution (clumps of grains)."""
    fine = _texture_noise(rng, (h, w, c))
    if size > 0.3:
        fine = _keep_channels(fine, cv2.GaussianBlur(fine, (0, 0), size))
    field = fine
    if coarse > 0:
        low = _texture_noise(rng, ((h + 1) // 2, (w + 1) // 2, c))
        low = cv2.resize(low, (w, h), interpolation=cv2.INTER_LINEAR).reshape(h, w, c)
        field = fine / _std(fine) + (coarse / _std(low)) * low
    return field / _std(field)


@_image_op
def film_grain(x: np.ndarray, *, seed: int, strength: float, size: float, coarse: float = 0.5,
               mono: bool = True, chroma: float = 0.3, midtone_bias: float = 1.0) -> np.ndarray:
    """Film grain: multi-scale noise whose amplitude depends on luminance L,
    strength * (0.3 + 0.7 * 4 L' (1 - L')) with L' = L ** midtone_bias (largest in the mid-tones,
    shifted towards shadows or highlights by the bias). Colour film (``mono`` False) has a common
    luminance component plus per-channel noise of relative weight ``chroma``."""
    rng = np.random.default_rng(seed)
    h, w, c = x.shape
    n = _grain_field(rng, h, w, 1, size, coarse)
    if not mono and c == 3 and chroma > 0:
        n = (n + chroma * _grain_field(rng, h, w, 3, size, coarse)) / math.sqrt(1 + chroma * chroma)
    lum = np.power(np.clip(_luma(x), 0.0, 1.0), midtone_bias)
    amp = strength * (0.3 + 2.8 * lum * (1.0 - lum))
    return x + amp * n


@_image_op
def sensor_noise(x: np.ndarray, *, seed: int, kind: str, level: float, mono: bool = False,
                 correlation: float = 0.0) -> np.ndarray:
    """Scanner or camera noise.

    kind "gaussian": x + level * n; "poisson": x + sqrt(level * x) * n (shot noise, Gaussian
    approximation with variance level * x); "speckle": x * (1 + level * n); "impulse": a fraction
    ``level`` of pixels set to 0 or 1. ``mono``: the same noise on all channels.
    ``correlation``: blur sigma (px) of the noise (demosaicing / JPEG-era scanners make it blotchy),
    the std is kept.
    """
    rng = np.random.default_rng(seed)
    h, w, c = x.shape
    nc = 1 if mono else c
    if kind == "impulse":
        u = rng.random((h, w, nc), dtype=np.float32)
        out = np.where(u < level / 2, 0.0, x)
        return np.where(u > 1.0 - level / 2, 1.0, out)
    n = _noise(rng, (h, w, nc))
    if correlation > 0.3:
        n = _keep_channels(n, cv2.GaussianBlur(n, (0, 0), correlation))
        n /= _std(n)
    if kind == "gaussian":
        return x + level * n
    if kind == "poisson":
        return x + np.sqrt(level * np.maximum(x, 0.0)) * n
    if kind == "speckle":
        return x * (1.0 + level * n)
    raise ValueError(f"unknown noise kind {kind!r}")


def add_gaussian_noise(img, sigma_255: float, seed: int, *, clip: bool = True) -> np.ndarray:
    """Additive white Gaussian noise of std ``sigma_255 / 255`` (the DnCNN/FFDNet protocol).

    img: (H, W, C) or (H, W) float32 [0, 1] -> same shape, float32; clipped to [0, 1] unless
    ``clip=False`` (the papers report both; clipping is what a saved image has).
    """
    x = np.asarray(img, dtype=np.float32)
    rng = np.random.default_rng(seed)
    out = x + np.float32(sigma_255 / 255.0) * rng.standard_normal(x.shape, dtype=np.float32)
    return np.clip(out, 0.0, 1.0) if clip else out


# ----------------------------------------------------------------------------------------------
# Physical damage
# ----------------------------------------------------------------------------------------------

@_image_op
def dust(x: np.ndarray, *, seed: int, count: int, dark_fraction: float = 0.5,
         max_radius: float = 3.0, fibres: float = 0.1, soften: float = 0.6) -> np.ndarray:
    """Dust specks: ``count`` blobs (radii log-uniform 0.5 .. max_radius px, irregular: two or
    three overlapping ellipses) and short curved fibres/hairs (fraction ``fibres``), each dark
    (dirt on the print) or bright (dust on the negative), with random opacity and soft edges."""
    rng = np.random.default_rng(seed)
    h, w, _ = x.shape
    masks = {True: np.zeros((h, w), np.uint8), False: np.zeros((h, w), np.uint8)}
    for _ in range(count):
        mask = masks[bool(rng.random() < dark_fraction)]
        value = int(rng.uniform(110, 255))
        px, py = rng.uniform(0, w), rng.uniform(0, h)
        if rng.random() < fibres:  # a hair or fibre: short curved line
            n = int(rng.integers(6, 20))
            ang = rng.uniform(0, 2 * math.pi) + np.cumsum(rng.normal(0, 0.35, n))
            step = rng.uniform(1.0, 2.5)
            xs = px + np.cumsum(step * np.cos(ang))
            ys = py + np.cumsum(step * np.sin(ang))
            cv2.polylines(mask, [_polyline_points(xs, ys)], False, value, 1, cv2.LINE_AA, 4)
            continue
        r = math.exp(rng.uniform(math.log(0.5), math.log(max(max_radius, 0.6))))
        for _ in range(int(rng.integers(1, 4))):
            ox, oy = rng.normal(0, 0.4 * r, 2)
            axes = (_sub(r * rng.uniform(0.5, 1.0)), _sub(r * rng.uniform(0.5, 1.0)))
            cv2.ellipse(mask, (_sub(px + ox), _sub(py + oy)), axes, rng.uniform(0, 180), 0, 360,
                        value, -1, cv2.LINE_AA, 4)
    out = x
    for is_dark, mask in masks.items():
        if mask.any():
            shade = rng.uniform(0.0, 0.15) if is_dark else rng.uniform(0.85, 1.0)
            out = _blend(out, _mask_from_uint8(mask, soften), shade)
    return out


def _curve(rng: np.random.Generator, h: int, w: int, length: float, vertical: bool) -> tuple[np.ndarray, np.ndarray]:
    """A gently curved path (quadratic Bezier plus a slow wobble) of about ``length`` px."""
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    ang = (math.pi / 2 + rng.normal(0, 0.12)) if vertical else rng.uniform(0, math.pi)
    dx, dy = 0.5 * length * math.cos(ang), 0.5 * length * math.sin(ang)
    bend = rng.normal(0, 0.12) * length
    n = max(8, int(length / 3))
    t = np.linspace(0.0, 1.0, n, dtype=np.float32)
    p0, p2 = np.array([cx - dx, cy - dy]), np.array([cx + dx, cy + dy])
    p1 = 0.5 * (p0 + p2) + bend * np.array([-math.sin(ang), math.cos(ang)])
    pts = ((1 - t) ** 2)[:, None] * p0 + (2 * (1 - t) * t)[:, None] * p1 + (t ** 2)[:, None] * p2
    wobble = rng.normal(0, 0.6, n).cumsum() * 0.15
    return pts[:, 0] - wobble * math.sin(ang), pts[:, 1] + wobble * math.cos(ang)


@_image_op
def scratches(x: np.ndarray, *, seed: int, count: int, light_fraction: float = 0.7,
              max_width: float = 2.0, vertical_fraction: float = 0.4, broken: float = 0.3) -> np.ndarray:
    """Scratches: ``count`` thin long curved lines (length 30% to 120% of the image diagonal,
    width 1 .. max_width px), light (emulsion scraped off) or dark, random opacity; a fraction
    ``vertical_fraction`` run roughly vertically (film transport scratches); ``broken`` is the
    probability that a scratch has gaps."""
    rng = np.random.default_rng(seed)
    h, w, _ = x.shape
    diag = math.hypot(h, w)
    masks = {True: np.zeros((h, w), np.uint8), False: np.zeros((h, w), np.uint8)}
    for _ in range(count):
        mask = masks[bool(rng.random() < light_fraction)]
        xs, ys = _curve(rng, h, w, diag * rng.uniform(0.3, 1.2), bool(rng.random() < vertical_fraction))
        width = max(1, int(round(rng.uniform(1.0, max_width))))
        value = int(rng.uniform(100, 255))
        pieces = [(0, len(xs))]
        if rng.random() < broken:  # cut into dashes
            cuts = np.sort(rng.integers(1, len(xs) - 1, size=2 * int(rng.integers(1, 4))))
            pieces = [(int(a), int(b) + 1) for a, b in zip(np.r_[0, cuts[1::2]], np.r_[cuts[::2], len(xs) - 1])]
        for a, b in pieces:
            if b - a >= 2:
                cv2.polylines(mask, [_polyline_points(xs[a:b], ys[a:b])], False, value, width,
                              cv2.LINE_AA, 4)
    out = x
    for light, mask in masks.items():
        if mask.any():
            shade = rng.uniform(0.85, 1.0) if light else rng.uniform(0.0, 0.2)
            out = _blend(out, _mask_from_uint8(mask, 0.4), shade)
    return out


@_image_op
def cracks(x: np.ndarray, *, seed: int, trees: int, length: float, branch: float = 0.04,
           light: bool = True, opacity: float = 0.9, width: int = 1, wiggle: float = 0.07) -> np.ndarray:
    """Branching emulsion cracks: ``trees`` random-walk trees whose trunk is about ``length`` px;
    each step (2 px) turns by a random angle of std ``wiggle`` (radians), with an occasional kink
    (5% of steps, up to 0.6 rad) that makes the path jagged, and with probability ``branch`` per step a
    side branch of 30-60% the remaining length leaves at 20-70 degrees (depth at most 3). Cracks
    are light (paper showing through) or dark (dirt in the crack), ``width`` px, anti-aliased."""
    rng = np.random.default_rng(seed)
    h, w, _ = x.shape
    mask = np.zeros((h, w), np.uint8)
    value = int(255 * opacity)
    step = 2.0
    for _ in range(trees):
        stack = [(rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0, 2 * math.pi), length, 0)]
        while stack:
            px, py, ang, ln, depth = stack.pop()
            n = max(2, int(ln / step))
            turns = rng.normal(0, wiggle, n)
            kinks = rng.random(n) < 0.05
            turns[kinks] += rng.uniform(-0.6, 0.6, int(kinks.sum()))
            angles = ang + np.cumsum(turns)
            xs = px + np.cumsum(step * np.cos(angles))
            ys = py + np.cumsum(step * np.sin(angles))
            thick = max(1, width - depth)
            cv2.polylines(mask, [_polyline_points(xs, ys)], False, value, thick, cv2.LINE_AA, 4)
            if depth < 3:
                for i in np.flatnonzero(rng.random(n) < branch):
                    side = rng.choice((-1.0, 1.0)) * rng.uniform(0.35, 1.2)
                    stack.append((xs[i], ys[i], angles[i] + side, (n - i) * step * rng.uniform(0.3, 0.6),
                                  depth + 1))
    shade = rng.uniform(0.8, 1.0) if light else rng.uniform(0.0, 0.25)
    return _blend(x, _mask_from_uint8(mask, 0.35), shade)


# ----------------------------------------------------------------------------------------------
# Digitisation and printing
# ----------------------------------------------------------------------------------------------

@_image_op
def jpeg(x: np.ndarray, *, quality: int, gray: bool = False) -> np.ndarray:
    """JPEG encode/decode with OpenCV at ``quality`` (1-100; 4:2:0 chroma subsampling for colour).
    ``gray`` (or a one-channel image) encodes a single grey channel (the mean of R, G, B)."""
    u8 = (x * 255.0 + 0.5).astype(np.uint8)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    if x.shape[2] == 1 or gray:
        g = u8[..., 0] if x.shape[2] == 1 else cv2.cvtColor(u8, cv2.COLOR_RGB2GRAY)
        ok, buf = cv2.imencode(".jpg", g, params)
        dec = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)[..., None]
        dec = np.repeat(dec, x.shape[2], axis=2)
    else:
        ok, buf = cv2.imencode(".jpg", u8[..., ::-1], params)  # OpenCV expects BGR
        dec = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 image
        raise RuntimeError("JPEG encoding failed")
    return dec.astype(np.float32) * (1.0 / 255.0)


_INTERP = {"nearest": cv2.INTER_NEAREST, "linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC,
           "area": cv2.INTER_AREA, "lanczos": cv2.INTER_LANCZOS4}


@_image_op
def resample(x: np.ndarray, *, scale: float, down: str = "area", up: str = "cubic") -> np.ndarray:
    """Down-sample by ``scale`` (> 1) with interpolation ``down`` then back to the original size
    with ``up`` (nearest, linear, cubic, area, lanczos): a low-resolution scan or thumbnail."""
    h, w = x.shape[:2]
    sh, sw = max(4, round(h / scale)), max(4, round(w / scale))
    small = cv2.resize(x, (sw, sh), interpolation=_INTERP[down])
    return _keep_channels(x, cv2.resize(small, (w, h), interpolation=_INTERP[up]))


def _screen_lut(size: int = 1024) -> np.ndarray:
    """Look-up table equalising the dot-screen function s = 0.5 + 0.25 (cos a + cos b) to a
    uniform threshold (s quantised to ``size`` levels), so the printed tone matches the original
    on average."""
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0, 2 * math.pi, (2, 65536))
    s = np.sort(0.5 + 0.25 * (np.cos(a) + np.cos(b)))
    levels = np.linspace(0.0, 1.0, size)
    return (np.searchsorted(s, levels) / s.size).astype(np.float32)


_SCREEN_LUT = _screen_lut()


def _cos_sum_grid(kx: float, ky: float, h: int, w: int) -> np.ndarray:
    """cos(kx * x + ky * y) on the (H, W) grid as an outer product of 1-D cos/sin (no per-pixel
    trigonometry)."""
    ax, ay = np.arange(w, dtype=np.float32) * kx, np.arange(h, dtype=np.float32) * ky
    return np.cos(ay)[:, None] * np.cos(ax)[None, :] - np.sin(ay)[:, None] * np.sin(ax)[None, :]


@_image_op
def halftone(x: np.ndarray, *, cell: float, angle: float, strength: float = 1.0,
             softness: float = 0.15, blur: float = 0.8) -> np.ndarray:
    """Dot screen of a printed reproduction (newspaper, book): each channel thresholded against a
    rotated cosine screen of pitch ``cell`` px (channel angles 15/75/0 degrees apart, like C/M/Y
    screens), edge ``softness``, mixed with the original by ``strength`` and blurred by ``blur``
    px (the scanner partly resolving the dots)."""
    h, w, c = x.shape
    k = 2 * math.pi / cell
    last = _SCREEN_LUT.size - 1
    out = np.empty_like(x)
    for ch, offset in zip(range(c), (math.radians(15), math.radians(75), 0.0)):
        a = angle + (offset if c == 3 else 0.0)
        ca, sa = math.cos(a) * k, math.sin(a) * k
        s = 0.5 + 0.25 * (_cos_sum_grid(ca, sa, h, w) + _cos_sum_grid(-sa, ca, h, w))
        s = _SCREEN_LUT[(s * last + 0.5).astype(np.int32)]
        dots = np.clip((x[..., ch] - s) / softness + 0.5, 0.0, 1.0)
        out[..., ch] = x[..., ch] + strength * (dots - x[..., ch])
    if blur > 0.3:
        out = _keep_channels(x, cv2.GaussianBlur(out, (0, 0), blur))
    return out


@_image_op
def paper_texture(x: np.ndarray, *, seed: int, strength: float, kind: str = "fibre",
                  scale: float = 1.5) -> np.ndarray:
    """Multiplicative paper texture of relative std ``strength``: "fibre" (noise smeared along a
    random direction over ~4 * scale px plus low-frequency mottle) or "lustre" (embossed relief of
    blurred noise, like the stippled surface of lustre/silk photographic paper)."""
    rng = np.random.default_rng(seed)
    h, w, _ = x.shape
    n = _texture_noise(rng, (h, w))
    if kind == "fibre":
        length = 4.0 * scale
        size = 2 * int(math.ceil(length / 2)) + 1
        k = np.zeros((size, size), np.float32)
        ang = rng.uniform(0, math.pi)
        c = (size - 1) / 2
        dx, dy = 0.5 * length * math.cos(ang), 0.5 * length * math.sin(ang)
        cv2.line(k, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1)
        t = cv2.filter2D(n, -1, k / k.sum())
        t = t / _std(t) + 0.6 * _smooth_field(rng, h, w, 24.0)
    elif kind == "lustre":
        b = cv2.GaussianBlur(n, (0, 0), scale)
        t = b - np.roll(b, (1, 1), axis=(0, 1))  # light from the top left on a bumpy surface
    else:
        raise ValueError(f"unknown paper kind {kind!r}")
    t = t / _std(t)
    return x * (1.0 + strength * t[..., None])


# ----------------------------------------------------------------------------------------------
# The op table and the random samplers
# ----------------------------------------------------------------------------------------------

#: name -> pure operation. ``replay`` and ``random_op`` look names up here.
OPS: dict[str, Callable[..., np.ndarray]] = {
    "to_gray_print": to_gray_print, "exposure": exposure, "fade": fade, "dye_fade": dye_fade,
    "colour_cast": colour_cast, "sepia_tone": sepia_tone, "desaturate": desaturate,
    "vignette": vignette, "gradient": gradient, "stains": stains, "gaussian_blur": gaussian_blur,
    "defocus_blur": defocus_blur, "motion_blur": motion_blur, "sharpen": sharpen,
    "film_grain": film_grain, "sensor_noise": sensor_noise, "dust": dust, "scratches": scratches,
    "cracks": cracks, "jpeg": jpeg, "resample": resample, "halftone": halftone,
    "paper_texture": paper_texture,
}


class _Draw:
    """Parameter sampling for one image: severity-dependent strengths from the config ranges."""

    def __init__(self, rng: np.random.Generator, severity: float, config: AgingConfig,
                 shape: tuple[int, int], gray: bool):
        self.rng, self.sev, self.cfg, self.gray = rng, severity, config, gray
        self.h, self.w = shape

    def t(self) -> float:
        """A strength in [0, 1] around the image severity."""
        return float(np.clip(self.rng.normal(self.sev, self.cfg.strength_spread), 0.0, 1.0))

    def between(self, bounds: tuple[float, float], log: bool = False) -> float:
        lo, hi = bounds
        t = self.t()
        if log:
            return float(math.exp(math.log(lo) + (math.log(hi) - math.log(lo)) * t))
        return float(lo + (hi - lo) * t)

    def signed(self, bounds: tuple[float, float]) -> float:
        """A log2 magnitude with a random sign, returned as the factor 2 ** (+-magnitude)."""
        return float(2.0 ** (self.between(bounds) * self.rng.choice((-1.0, 1.0))))

    def uniform(self, lo: float, hi: float) -> float:
        return float(self.rng.uniform(lo, hi))

    def seed(self) -> int:
        return int(self.rng.integers(0, 2 ** 31 - 1))

    def area(self) -> float:
        """Image area in units of 256x256 pixels."""
        return self.h * self.w / 65536.0


# Colour casts (gain, offset per channel) at full strength; the sampler scales them.
_CASTS = {
    "yellow": ((1.0, 0.95, 0.62), (0.06, 0.04, 0.0)),  # yellowed paper / varnish
    "magenta": ((1.0, 0.72, 0.92), (0.08, 0.0, 0.05)),  # cyan dye faded (1960s-70s prints)
    "red": ((1.0, 0.8, 0.7), (0.1, 0.02, 0.0)),  # cyan and yellow dyes faded
    "cyan": ((0.7, 0.97, 1.0), (0.0, 0.04, 0.06)),  # magenta and yellow layers faded
    "green": ((0.85, 1.0, 0.8), (0.0, 0.05, 0.0)),  # fluorescent light, some films
    "blue": ((0.8, 0.88, 1.0), (0.0, 0.0, 0.08)),  # daylight film under shade, faded warm dyes
    "brown": ((0.95, 0.78, 0.55), (0.05, 0.02, 0.0)),  # nicotine / smoke discolouration
}
_CAST_ODDS = {"yellow": 0.28, "magenta": 0.22, "red": 0.14, "cyan": 0.12, "green": 0.08,
              "blue": 0.08, "brown": 0.08}
# Toning exponents for (R, G, B) of the toned black-and-white prints.
_TONES = {"sepia": (0.78, 0.98, 1.38), "warm": (0.9, 1.0, 1.15), "selenium": (0.95, 1.06, 1.0),
          "cyanotype": (1.35, 1.05, 0.78)}
_TONE_ODDS = {"sepia": 0.55, "warm": 0.25, "selenium": 0.12, "cyanotype": 0.08}


def _pick(rng: np.random.Generator, odds: dict[str, float] | tuple[float, ...], names=None):
    keys = list(odds) if isinstance(odds, dict) else list(names)
    p = np.array(list(odds.values()) if isinstance(odds, dict) else odds, dtype=np.float64)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _sample(name: str, d: _Draw) -> dict[str, Any]:
    """Random parameters of op ``name`` for one image (all JSON-serialisable)."""
    cfg, rng = d.cfg, d.rng
    if name == "to_gray_print":
        w = LUMA.astype(np.float64) + rng.normal(0, cfg.gray_weight_jitter, 3)
        w = np.clip(w, 0.02, None)
        return {"weights": [float(v) for v in w / w.sum()]}
    if name == "exposure":
        return {"gain": d.signed(cfg.exposure_gain), "gamma": d.signed(cfg.exposure_gamma)}
    if name == "fade":
        return {"black": d.between(cfg.fade_black), "white": 1.0 - d.between(cfg.fade_white),
                "gamma": d.signed(cfg.fade_gamma)}
    if name == "dye_fade":
        return {"blacks": [d.between(cfg.dye_black) for _ in range(3)],
                "whites": [1.0 - d.between(cfg.dye_white) for _ in range(3)],
                "gammas": [d.signed(cfg.dye_gamma) for _ in range(3)]}
    if name == "colour_cast":
        gains, offsets = _CASTS[_pick(rng, _CAST_ODDS)]
        s = d.between(cfg.cast_strength) / 0.45  # the table is the cast at the heavy end
        jitter = rng.normal(0, 0.03, 3)
        return {"gains": [float(1.0 + s * (g - 1.0) + j) for g, j in zip(gains, jitter)],
                "offsets": [float(s * o) for o in offsets]}
    if name == "sepia_tone":
        ex = np.array(_TONES[_pick(rng, _TONE_ODDS)]) * rng.normal(1.0, 0.04, 3)
        return {"strength": d.between(cfg.sepia_strength), "exponents": [float(v) for v in ex]}
    if name == "desaturate":
        return {"amount": d.between(cfg.desaturate_amount)}
    if name == "vignette":
        return {"strength": d.between(cfg.vignette_strength), "power": d.uniform(1.5, 4.0),
                "cx": float(rng.normal(0.5, 0.12)), "cy": float(rng.normal(0.5, 0.12)),
                "light": bool(rng.random() < 0.3)}
    if name == "gradient":
        leak = bool(rng.random() < 0.3)
        colour = [1.0, d.uniform(0.5, 0.9), d.uniform(0.1, 0.5)] if leak else [1.0, 1.0, 1.0]
        return {"strength": d.between(cfg.gradient_strength), "angle": d.uniform(0, 2 * math.pi),
                "colour": colour, "leak": leak}
    if name == "stains":
        return {"seed": d.seed(), "coverage": d.between(cfg.stain_coverage),
                "opacity": d.between(cfg.stain_opacity),
                "colour": [d.uniform(0.8, 0.95), d.uniform(0.55, 0.8), d.uniform(0.25, 0.55)],
                "cell": d.uniform(20.0, 90.0), "ring": d.uniform(0.0, 1.0),
                "foxing": int(rng.poisson(8 * d.t() * d.area())) if rng.random() < 0.4 else 0}
    if name == "gaussian_blur":
        s = d.between(cfg.blur_sigma, log=True)
        aniso = rng.random() < 0.35
        return {"sigma_x": s, "sigma_y": s * d.uniform(0.3, 1.0) if aniso else s,
                "angle": d.uniform(0, math.pi) if aniso else 0.0}
    if name == "defocus_blur":
        return {"radius": d.between(cfg.defocus_radius)}
    if name == "motion_blur":
        return {"length": d.between(cfg.motion_length), "angle": d.uniform(0, math.pi)}
    if name == "sharpen":
        return {"amount": d.between(cfg.sharpen_amount), "sigma": d.uniform(0.8, 2.5)}
    if name == "film_grain":
        return {"seed": d.seed(), "strength": d.between(cfg.grain_strength),
                "size": d.uniform(*cfg.grain_size), "coarse": d.uniform(0.0, 0.8),
                "mono": bool(d.gray or rng.random() < 0.3), "chroma": d.uniform(0.1, 0.6),
                "midtone_bias": d.uniform(0.6, 1.6)}
    if name == "sensor_noise":
        kind = _pick(rng, cfg.noise_kinds, ("gaussian", "poisson", "speckle", "impulse"))
        level = {"gaussian": lambda: d.between(cfg.noise_sigma, log=True),
                 "poisson": lambda: d.between(cfg.noise_poisson, log=True),
                 "speckle": lambda: d.between(cfg.noise_speckle, log=True),
                 "impulse": lambda: d.between(cfg.noise_impulse, log=True)}[kind]()
        return {"seed": d.seed(), "kind": kind, "level": level,
                "mono": bool(rng.random() < (0.7 if d.gray else 0.25)),
                "correlation": d.uniform(0.4, 1.5) if rng.random() < 0.3 else 0.0}
    if name == "dust":
        count = int(rng.poisson(d.between(cfg.dust_density, log=True) * d.area())) + 1
        return {"seed": d.seed(), "count": count, "dark_fraction": d.uniform(0.2, 0.85),
                "max_radius": d.uniform(1.0, 5.0), "fibres": d.uniform(0.0, 0.25),
                "soften": d.uniform(0.3, 0.9)}
    if name == "scratches":
        return {"seed": d.seed(), "count": max(1, round(d.between(cfg.scratch_count))),
                "light_fraction": d.uniform(0.4, 1.0), "max_width": d.uniform(1.0, 2.2),
                "vertical_fraction": d.uniform(0.0, 0.8), "broken": d.uniform(0.0, 0.6)}
    if name == "cracks":
        trees = max(1, int(rng.poisson(d.between(cfg.crack_trees) * min(d.area(), 2.0))))
        return {"seed": d.seed(), "trees": trees, "length": d.between(cfg.crack_length),
                "branch": d.uniform(0.01, 0.06), "light": bool(rng.random() < 0.75),
                "opacity": d.uniform(0.5, 1.0), "width": 2 if rng.random() < 0.2 else 1,
                "wiggle": d.uniform(0.03, 0.12)}
    if name == "jpeg":
        return {"quality": int(round(d.between(cfg.jpeg_quality))),
                "gray": bool(d.gray and rng.random() < 0.5)}
    if name == "resample":
        return {"scale": d.between(cfg.resample_scale, log=True),
                "down": _pick(rng, {"area": 0.4, "linear": 0.3, "cubic": 0.25, "nearest": 0.05}),
                "up": _pick(rng, {"linear": 0.35, "cubic": 0.45, "lanczos": 0.15, "nearest": 0.05})}
    if name == "halftone":
        return {"cell": d.uniform(*cfg.halftone_cell), "angle": d.uniform(0, math.pi / 2),
                "strength": d.between(cfg.halftone_strength), "softness": d.uniform(0.1, 0.35),
                "blur": d.uniform(0.5, 1.5)}
    if name == "paper_texture":
        return {"seed": d.seed(), "strength": d.between(cfg.paper_strength),
                "kind": "fibre" if rng.random() < 0.5 else "lustre", "scale": d.uniform(0.7, 2.5)}
    raise KeyError(f"unknown degradation {name!r}")


def random_op(name: str, image, seed_or_rng: int | np.random.Generator,
              config: AgingConfig = AgingConfig(), *, severity: float = 0.5,
              gray: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
    """Apply op ``name`` with parameters drawn as ``age_image`` would at ``severity``.

    image: (H, W, C) float32 [0, 1]. Returns (degraded image, params)."""
    rng = _rng(seed_or_rng)
    x = np.asarray(image, dtype=np.float32)
    params = _sample(name, _Draw(rng, severity, config, x.shape[:2], gray))
    return OPS[name](x, **params), params


# ----------------------------------------------------------------------------------------------
# The pipeline
# ----------------------------------------------------------------------------------------------

def _plan(rng: np.random.Generator, cfg: AgingConfig, severity: float, scale: float,
          gray: bool) -> list[str]:
    """Choose and order the ops of one image (names only)."""

    def chance(p: float) -> bool:
        return bool(rng.random() < min(1.0, p * scale))

    blur = None
    if chance(cfg.p_blur):
        blur = _pick(rng, cfg.blur_kinds, ("gaussian_blur", "defocus_blur", "motion_blur"))
    stages = [
        [blur, "film_grain" if chance(cfg.p_grain) else None,
         "exposure" if chance(cfg.p_exposure) else None],  # capture: optics, film, exposure
        ["halftone" if chance(cfg.p_halftone) else None,
         "paper_texture" if chance(cfg.p_paper) else None],  # the print
        ["fade" if chance(cfg.p_fade) else None,  # chemistry and light over the years
         None if gray else ("dye_fade" if chance(cfg.p_dye_fade) else None),
         "colour_cast" if chance(cfg.p_colour_cast * (0.6 if gray else 1.0)) else None,
         "sepia_tone" if chance(cfg.p_sepia_grey if gray else cfg.p_sepia_colour) else None,
         None if gray else ("desaturate" if chance(cfg.p_desaturate) else None),
         "vignette" if chance(cfg.p_vignette) else None,
         "gradient" if chance(cfg.p_gradient) else None,
         "stains" if chance(cfg.p_stains) else None],
        ["dust" if chance(cfg.p_dust) else None,  # handling damage
         "scratches" if chance(cfg.p_scratches) else None,
         "cracks" if chance(cfg.p_cracks) else None],
        ["sensor_noise" if chance(cfg.p_sensor_noise) else None,  # digitisation
         "resample" if chance(cfg.p_resample) else None,
         "sharpen" if chance(cfg.p_sharpen) else None],
    ]
    order: list[str] = []
    for stage in stages:
        ops = [op for op in stage if op]
        rng.shuffle(ops)
        order += ops
    if rng.random() < cfg.p_shuffle_all:
        rng.shuffle(order)
    if chance(cfg.p_jpeg):
        pos = int(rng.integers(0, len(order) + 1)) if rng.random() < cfg.p_jpeg_not_last else len(order)
        order.insert(pos, "jpeg")
    return (["to_gray_print"] if gray else []) + order


def _prepare(image) -> np.ndarray:
    x = np.asarray(image, dtype=np.float32)
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim != 3 or x.shape[2] not in (1, 3):
        raise ValueError(f"expected an image (H, W), (H, W, 1) or (H, W, 3), got {np.shape(image)}")
    if x.shape[2] == 1:
        x = np.repeat(x, 3, axis=2)
    return np.clip(x, 0.0, 1.0)


def age_image(image, seed_or_rng: int | np.random.Generator,
              config: AgingConfig = AgingConfig()) -> tuple[np.ndarray, Record]:
    """Age a clean photograph with a random pipeline of degradations.

    image: (H, W, 3) float32 in [0, 1] ((H, W) and (H, W, 1) are taken as grey and expanded).
    seed_or_rng: an int seed (reproducible) or a numpy Generator (advanced in place).
    Returns (aged (H, W, 3) float32 in [0, 1], record): record is a JSON-serialisable list of
    (op name, params) in the order applied; ``replay(image, record)`` gives the same image.
    """
    rng = _rng(seed_or_rng)
    x = _prepare(image)
    clean = rng.random() < config.p_clean
    if clean:
        severity, scale = float(rng.uniform(0.0, config.clean_severity)), 0.25
    else:
        severity = float(rng.uniform(*config.severity))
        scale = 0.4 + 1.2 * severity
    gray = bool(rng.random() < config.p_gray)
    draw = _Draw(rng, severity, config, x.shape[:2], gray)
    record: Record = []
    for name in _plan(rng, config, severity, scale, gray):
        params = _sample(name, draw)
        x = OPS[name](x, **params)
        record.append((name, params))
    return np.ascontiguousarray(x, dtype=np.float32), record


def replay(image, record: Record) -> np.ndarray:
    """Apply a record from ``age_image`` (also after a JSON round trip) to an image."""
    x = _prepare(image)
    for name, params in record:
        x = OPS[name](x, **params)
    return np.ascontiguousarray(x, dtype=np.float32)


def is_gray_record(record: Record) -> bool:
    """True when the aged image was made as a black-and-white print (target: to_gray_print)."""
    return any(name == "to_gray_print" for name, _ in record)


def degrade_for_eval(image, seed: int, gray: bool) -> np.ndarray:
    """The evaluation degradation: ``age_image`` with ``eval_config(gray)`` and a fixed seed.

    image: (H, W, 3) float32 [0, 1] -> (H, W, 3) float32 [0, 1]. The caller decides which images
    are grey prints; the convention of ``bench/classical.py`` and the evaluate command is: files
    sorted by name, image i gets ``seed = base_seed + i`` and is a grey print when i is odd, grey
    prints scored on the BT.601 Y channel (``metrics.psnr(..., on="y")``) against the clean image.
    """
    aged, _ = age_image(image, int(seed), eval_config(gray))
    return aged

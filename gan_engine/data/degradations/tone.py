"""Tone, colour and illumination of an aging print: exposure, fading, dye fading, colour casts,
toning, desaturation, the black-and-white print itself, vignetting and uneven light.

Each operation is pure: ``op(img, **params)``, (H, W, C) (C = 1 or 3; (H, W) keeps its shape)
float32 in [0, 1] -> a new float32 array of the same shape clipped to [0, 1]. Ranges and
odds of the random pipeline are in :mod:`gan_engine.data.degradations.pipeline`.
"""

from __future__ import annotations

import math

import numpy as np

from gan_engine.data.degradations.base import _image_op, _luma, _per_channel
from gan_engine.data.luma import LUMA_WEIGHTS

__all__ = ["to_gray_print", "exposure", "fade", "dye_fade", "colour_cast", "sepia_tone", "desaturate",
    "vignette", "gradient"]


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

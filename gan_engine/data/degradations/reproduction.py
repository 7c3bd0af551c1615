"""How a photograph is reproduced: JPEG compression, resampling, halftone screens and paper texture.

Each operation is pure: ``op(img, **params)``, (H, W, C) (C = 1 or 3; (H, W) keeps its shape)
float32 in [0, 1] -> a new float32 array of the same shape clipped to [0, 1].
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from gan_engine.data.degradations.base import _image_op, _keep_channels, _smooth_field, _std, _texture_noise
from gan_engine.errors import InvalidInputError

__all__ = ["jpeg", "resample", "halftone", "paper_texture"]


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
        raise InvalidInputError(f"unknown paper kind {kind!r}")
    t = t / _std(t)
    return x * (1.0 + strength * t[..., None])

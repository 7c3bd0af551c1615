"""Local defects of a print: stains, dust and specks, scratches and cracks.

Each operation is pure: ``op(img, **params)``, (H, W, C) (C = 1 or 3; (H, W) keeps its shape)
float32 in [0, 1] -> a new float32 array of the same shape clipped to [0, 1]; the random
placement comes from the integer ``seed`` parameter.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from gan_engine.data.degradations.base import (
    _blend, _image_op, _mask_from_uint8, _per_channel, _polyline_points, _smooth_field, _sub,
)

__all__ = ["stains", "dust", "scratches", "cracks"]


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

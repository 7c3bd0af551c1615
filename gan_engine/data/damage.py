"""Synthetic physical damage *with its mask*: the free labels of damage detection and inpainting.

``data.degradations`` draws dust, scratches and cracks too, but only returns the aged image; here
every function also returns what it painted, so a detector can learn a per-pixel mask and an
inpainter can learn to fill it. Everything is a pure function of its inputs and an integer seed
(or a ``numpy.random.Generator`` owned by the caller): the same seed gives the same pixels.

Conventions (as in ``data.degradations``): images are numpy float32 (H, W, 3) in [0, 1]; the input is
never modified. A *layer* is ``(alpha, fill)``: alpha float32 (H, W) in [0, 1] (coverage of the
damage, anti-aliased, ragged), fill float32 (H, W, 3) or (3,) (what shows through: paper, dirt).
Layers are composited in order, ``out = out * (1 - alpha) + fill * alpha``; the mask of the
damage is ``max(alpha) >= mask_threshold`` (float32 (H, W), exactly 0 or 1).

Kinds, modelled on the prints of ``real/old/`` (``scratch_a``, ``scratch_b``):

- ``scratches``: long, gently curved lines 1-3 px wide, light (emulsion scraped off) or dark,
  sometimes broken into dashes;
- ``cracks``: branching random-walk trees with kinks, 1 to 15 px wide (log-uniform; branches
  thinner than their trunk), width varying along the path, and for widths above ~2 px torn-paper
  edges (the boundary displaced by a small-scale random field); mostly light (paper showing),
  sometimes dark (dirt in the crack);
- ``dust``: specks 0.5-4 px (two or three overlapping ellipses) and short curved hairs;
- ``tears``: paper torn away at the border or corners (light paper or the dark scanner lid), and
  small flakes of lost emulsion inside the picture, both with ragged outlines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["DamageConfig", "Layer", "scratch_layers", "crack_layers", "dust_layers", "tear_layers",
           "composite", "synthesize_damage", "damage_image", "grow_mask"]

Layer = tuple[np.ndarray, np.ndarray]  # (alpha (H, W) float32, fill (H, W, 3) or (3,) float32)

_SHIFT = 4  # cv2 sub-pixel drawing: coordinates in 1/16 px


@dataclass(frozen=True)
class DamageConfig:
    """Probabilities and ranges of :func:`synthesize_damage` (per image)."""

    p_none: float = 0.08  # images left undamaged (the detector must learn to say "nothing")
    p_scratches: float = 0.55  # long thin scratches
    scratch_count: tuple[int, int] = (1, 6)  # scratches per image (inclusive)
    p_cracks: float = 0.6  # branching cracks
    crack_trees: tuple[float, float] = (0.3, 2.5)  # crack trees per 256x256 px (at least one)
    crack_width: tuple[float, float] = (1.0, 15.0)  # trunk width in px, log-uniform
    p_dust: float = 0.6  # specks and hairs
    dust_density: tuple[float, float] = (2.0, 25.0)  # specks per 256x256 px, log-uniform
    p_tears: float = 0.3  # torn borders, corners and emulsion flakes
    tear_count: tuple[int, int] = (1, 4)  # tears and flakes per image (inclusive)
    light_fraction: float = 0.75  # share of damage that is light (paper) rather than dark (dirt)
    mask_threshold: float = 0.12  # alpha at or above which a pixel counts as damaged (faint fringes too)


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------

def _rng(seed_or_rng: int | np.random.Generator) -> np.random.Generator:
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    return np.random.default_rng(seed_or_rng)


def _pts(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    return np.round(np.stack([xs, ys], axis=1) * (1 << _SHIFT)).astype(np.int32).reshape(-1, 1, 2)


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Zero-mean, unit-std random field (H, W) float32 with features of about ``cell`` px."""
    gh, gw = max(2, int(round(h / cell)) + 2), max(2, int(round(w / cell)) + 2)
    g = rng.standard_normal((gh, gw)).astype(np.float32)
    f = cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)
    f -= f.mean()
    f /= float(f.std()) + 1e-6
    return f


def _fill(rng: np.random.Generator, light: bool, h: int, w: int) -> np.ndarray:
    """What shows through the damage: (H, W, 3) float32.

    Light: paper or the white base of the print, slightly warm and never perfectly flat (the
    torn emulsion leaves fibres and a faint texture). Dark: dirt or the scanner lid.
    """
    if light:
        base = rng.uniform(0.78, 1.0)
        tint = np.array([1.0, rng.uniform(0.95, 1.0), rng.uniform(0.86, 1.0)], np.float32)
    else:
        base = rng.uniform(0.0, 0.22)
        tint = np.array([1.0, rng.uniform(0.9, 1.0), rng.uniform(0.8, 1.0)], np.float32)
    texture = 1.0 + rng.uniform(0.0, 0.08) * _smooth_noise(rng, h, w, rng.uniform(1.5, 6.0))
    return np.clip(base * texture[..., None] * tint, 0.0, 1.0).astype(np.float32)


def _ragged(alpha: np.ndarray, rng: np.random.Generator, amount: float, cell: float) -> np.ndarray:
    """Torn-paper edges: displace the 0.5 level of a soft coverage by a small-scale random field.

    alpha (H, W) float32 in [0, 1] -> same, with a ragged, still anti-aliased boundary.
    ``amount``: how far (in alpha units of a blurred edge) the boundary wanders.
    """
    if amount <= 0:
        return alpha
    h, w = alpha.shape
    soft = cv2.GaussianBlur(alpha, (0, 0), max(0.6, cell / 2))
    noise = _smooth_noise(rng, h, w, cell) * 0.6 + _smooth_noise(rng, h, w, cell / 3) * 0.4
    return np.clip((soft - 0.5 + amount * noise) * 3.0 + 0.5, 0.0, 1.0).astype(np.float32)


def _stroke(canvas: np.ndarray, xs: np.ndarray, ys: np.ndarray, widths: np.ndarray) -> None:
    """Draw a polyline whose width varies along it (segment by segment, round joins), 255 inside."""
    p = _pts(xs, ys)
    for i in range(len(xs) - 1):
        t = max(1, int(round(widths[i])))
        cv2.line(canvas, tuple(p[i, 0]), tuple(p[i + 1, 0]), 255, t, cv2.LINE_AA, _SHIFT)


# ----------------------------------------------------------------------------------------------
# Damage kinds: each returns a list of layers
# ----------------------------------------------------------------------------------------------

def scratch_layers(h: int, w: int, seed: int | np.random.Generator, *, count: int,
                   light_fraction: float = 0.75) -> list[Layer]:
    """``count`` long thin scratches (30-110% of the diagonal, 1-3 px, opacity 0.6-1)."""
    rng = _rng(seed)
    diag = math.hypot(h, w)
    layers = []
    for _ in range(count):
        light = bool(rng.random() < light_fraction)
        length = diag * rng.uniform(0.3, 1.1)
        vertical = rng.random() < 0.4
        ang = (math.pi / 2 + rng.normal(0, 0.1)) if vertical else rng.uniform(0, math.pi)
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        n = max(8, int(length / 3))
        t = np.linspace(-0.5, 0.5, n)
        bend = rng.normal(0, 0.1) * length
        wob = np.cumsum(rng.normal(0, 0.5, n)) * 0.12
        off = bend * (1 - 4 * t ** 2) + wob
        xs = cx + t * length * math.cos(ang) - off * math.sin(ang)
        ys = cy + t * length * math.sin(ang) + off * math.cos(ang)
        width = rng.uniform(1.0, 3.0)
        widths = np.clip(width * (1 + 0.25 * _smooth_noise(rng, 1, n, max(2.0, n / 6))[0]), 1, 4)
        canvas = np.zeros((h, w), np.uint8)
        keep = np.ones(n, bool)
        if rng.random() < 0.3:  # broken into dashes
            gaps = rng.integers(1, 4)
            for _ in range(gaps):
                a = int(rng.integers(0, n))
                keep[a:a + int(rng.integers(2, max(3, n // 6)))] = False
        runs = np.split(np.arange(n), np.flatnonzero(np.diff(keep.astype(np.int8))) + 1)
        for run in runs:
            if keep[run[0]] and len(run) >= 2:
                _stroke(canvas, xs[run], ys[run], widths[run])
        alpha = canvas.astype(np.float32) / 255.0 * rng.uniform(0.6, 1.0)
        layers.append((alpha, _fill(rng, light, h, w)))
    return layers


def crack_layers(h: int, w: int, seed: int | np.random.Generator, *, trees: int,
                 width: tuple[float, float] = (1.0, 15.0), light_fraction: float = 0.75) -> list[Layer]:
    """``trees`` branching cracks (random walks with kinks); trunk width log-uniform in ``width``.

    Trunk length 25-120% of the longer side; each 2 px step turns by N(0, 0.08) rad, 5% of steps
    kink by up to 0.6 rad; a branch leaves with probability 3% per step (depth <= 3) at 20-70
    degrees, 30-70% as wide as its parent. Wider than ~2 px, the edges are torn (ragged).
    """
    rng = _rng(seed)
    layers = []
    step = 2.0
    for _ in range(trees):
        light = bool(rng.random() < light_fraction)
        trunk_w = _loguniform(rng, *width)
        length = max(h, w) * rng.uniform(0.25, 1.2)
        canvas = np.zeros((h, w), np.uint8)
        stack = [(rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0, 2 * math.pi), length, trunk_w, 0)]
        while stack:
            px, py, ang, ln, wd, depth = stack.pop()
            n = max(2, int(ln / step))
            turns = rng.normal(0, 0.08, n)
            kinks = rng.random(n) < 0.05
            turns[kinks] += rng.uniform(-0.6, 0.6, int(kinks.sum()))
            angles = ang + np.cumsum(turns)
            xs = px + np.cumsum(step * np.cos(angles))
            ys = py + np.cumsum(step * np.sin(angles))
            # width varies along the crack and tapers towards its end
            taper = np.linspace(1.0, rng.uniform(0.3, 1.0), n)
            vary = 1 + 0.35 * _smooth_noise(rng, 1, n, max(2.0, 8.0))[0]
            widths = np.clip(wd * taper * vary, 1.0, None)
            _stroke(canvas, xs, ys, widths)
            if depth < 3:
                for i in np.flatnonzero(rng.random(n) < 0.03):
                    side = rng.choice((-1.0, 1.0)) * rng.uniform(0.35, 1.2)
                    stack.append((xs[i], ys[i], angles[i] + side, (n - i) * step * rng.uniform(0.3, 0.7),
                                  max(1.0, widths[i] * rng.uniform(0.3, 0.7)), depth + 1))
        alpha = canvas.astype(np.float32) / 255.0
        if trunk_w > 2.0:
            alpha = _ragged(alpha, rng, amount=rng.uniform(0.15, 0.35), cell=rng.uniform(2.0, 5.0))
        alpha *= rng.uniform(0.75, 1.0)
        layers.append((alpha, _fill(rng, light, h, w)))
    return layers


def dust_layers(h: int, w: int, seed: int | np.random.Generator, *, count: int,
                light_fraction: float = 0.75) -> list[Layer]:
    """``count`` specks (radius 0.5-4 px, log-uniform, irregular) and hairs (10%); two layers
    (light, dark)."""
    rng = _rng(seed)
    canvases = {True: np.zeros((h, w), np.uint8), False: np.zeros((h, w), np.uint8)}
    for _ in range(count):
        canvas = canvases[bool(rng.random() < light_fraction)]
        value = int(rng.uniform(150, 255))
        px, py = rng.uniform(0, w), rng.uniform(0, h)
        if rng.random() < 0.1:  # a hair or fibre
            n = int(rng.integers(6, 24))
            ang = rng.uniform(0, 2 * math.pi) + np.cumsum(rng.normal(0, 0.35, n))
            st = rng.uniform(1.0, 2.5)
            cv2.polylines(canvas, [_pts(px + np.cumsum(st * np.cos(ang)), py + np.cumsum(st * np.sin(ang)))],
                          False, value, 1, cv2.LINE_AA, _SHIFT)
            continue
        r = _loguniform(rng, 0.5, 4.0)
        for _ in range(int(rng.integers(1, 4))):
            ox, oy = rng.normal(0, 0.4 * r, 2)
            axes = (int(round(r * rng.uniform(0.5, 1.0) * 16)), int(round(r * rng.uniform(0.5, 1.0) * 16)))
            cv2.ellipse(canvas, (int(round((px + ox) * 16)), int(round((py + oy) * 16))), axes,
                        rng.uniform(0, 180), 0, 360, value, -1, cv2.LINE_AA, _SHIFT)
    layers = []
    for light, canvas in canvases.items():
        if canvas.any():
            alpha = cv2.GaussianBlur(canvas.astype(np.float32) / 255.0, (0, 0), 0.5)
            layers.append((alpha, _fill(rng, light, h, w)))
    return layers


def tear_layers(h: int, w: int, seed: int | np.random.Generator, *, count: int,
                light_fraction: float = 0.75) -> list[Layer]:
    """``count`` tears: half at the border or a corner (radius 6-12% of the shorter side, paper
    or the dark lid showing), half small flakes of lost emulsion inside (radius 3-20 px);
    outlines are radial noise, then torn (ragged)."""
    rng = _rng(seed)
    layers = []
    side = min(h, w)
    for _ in range(count):
        light = bool(rng.random() < light_fraction)
        if rng.random() < 0.5:  # at the border
            edge = int(rng.integers(0, 4))
            pos = rng.uniform(0, 1)
            cx, cy = [(pos * w, 0), (pos * w, h - 1), (0, pos * h), (w - 1, pos * h)][edge]
            r = side * rng.uniform(0.06, 0.12)
        else:  # a flake inside
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            r = _loguniform(rng, 3.0, 20.0)
        k = 48
        theta = np.linspace(0, 2 * math.pi, k, endpoint=False)
        radial = r * np.clip(1 + 0.35 * _smooth_noise(rng, 1, k, 4.0)[0], 0.3, None)
        canvas = np.zeros((h, w), np.uint8)
        cv2.fillPoly(canvas, [_pts(cx + radial * np.cos(theta), cy + radial * np.sin(theta))], 255,
                     cv2.LINE_AA, _SHIFT)
        alpha = _ragged(canvas.astype(np.float32) / 255.0, rng, amount=rng.uniform(0.2, 0.4),
                        cell=rng.uniform(2.0, 6.0))
        layers.append((alpha, _fill(rng, light, h, w)))
    return layers


# ----------------------------------------------------------------------------------------------
# Putting it together
# ----------------------------------------------------------------------------------------------

def composite(image: np.ndarray, layers: list[Layer], mask_threshold: float = 0.12) -> tuple[np.ndarray, np.ndarray]:
    """Paint ``layers`` over ``image`` -> (damaged (H, W, 3) float32 [0, 1], mask (H, W) float32 {0, 1})."""
    out = np.array(image, dtype=np.float32, copy=True)
    cover = np.zeros(out.shape[:2], np.float32)
    for alpha, fill in layers:
        a = alpha[..., None]
        out += a * (fill - out)
        np.maximum(cover, alpha, out=cover)
    np.clip(out, 0.0, 1.0, out=out)
    return out, (cover >= mask_threshold).astype(np.float32)


def synthesize_damage(h: int, w: int, seed: int | np.random.Generator,
                      config: DamageConfig = DamageConfig()) -> list[Layer]:
    """The layers of one image's damage, drawn as ``config`` says (order: tears, cracks,
    scratches, dust). At least one kind is drawn unless the image is picked as undamaged."""
    rng = _rng(seed)
    c = config
    if rng.random() < c.p_none:
        return []
    area = h * w / 256.0 ** 2
    kinds = {"tears": c.p_tears, "cracks": c.p_cracks, "scratches": c.p_scratches, "dust": c.p_dust}
    chosen = {k for k, p in kinds.items() if rng.random() < p}
    if not chosen:
        names = list(kinds)
        chosen = {names[int(rng.integers(0, len(names)))]}
    layers: list[Layer] = []
    lf = c.light_fraction
    if "tears" in chosen:
        layers += tear_layers(h, w, rng, count=int(rng.integers(c.tear_count[0], c.tear_count[1] + 1)),
                              light_fraction=lf)
    if "cracks" in chosen:
        trees = max(1, int(round(rng.uniform(*c.crack_trees) * min(area, 2.0))))
        layers += crack_layers(h, w, rng, trees=trees, width=c.crack_width, light_fraction=lf)
    if "scratches" in chosen:
        layers += scratch_layers(h, w, rng, count=int(rng.integers(c.scratch_count[0], c.scratch_count[1] + 1)),
                                 light_fraction=lf)
    if "dust" in chosen:
        count = max(1, int(round(_loguniform(rng, *c.dust_density) * area)))
        layers += dust_layers(h, w, rng, count=count, light_fraction=lf)
    return layers


def damage_image(image: np.ndarray, seed: int | np.random.Generator,
                 config: DamageConfig = DamageConfig()) -> tuple[np.ndarray, np.ndarray]:
    """Damage a photograph: image (H, W, 3) float32 [0, 1] -> (damaged (H, W, 3) float32 [0, 1],
    mask (H, W) float32 in {0, 1}). Deterministic per integer seed; ``image`` is not modified."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {image.shape}")
    h, w = image.shape[:2]
    return composite(image, synthesize_damage(h, w, seed, config), config.mask_threshold)


def grow_mask(mask: np.ndarray, pixels: int = 1) -> np.ndarray:
    """Dilate a {0, 1} mask (H, W) float32 by ``pixels`` (a (2p+1)-square), so the anti-aliased
    fringe of a scratch or crack is repainted too. Same shape and dtype."""
    if pixels <= 0:
        return np.asarray(mask, np.float32)
    kernel = np.ones((2 * pixels + 1, 2 * pixels + 1), np.uint8)
    return cv2.dilate((np.asarray(mask) > 0.5).astype(np.uint8), kernel).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Training and evaluation examples: aged photograph, then damage, then the scan
# ----------------------------------------------------------------------------------------------

def base_aging() -> "pipeline.AgingConfig":
    """The aging applied *before* the damage: the default aging pipeline without its own dust,
    scratches and cracks (they would be damage without a label)."""
    from dataclasses import replace

    from gan_engine.data.degradations import pipeline

    return replace(pipeline.AgingConfig(), p_dust=0.0, p_scratches=0.0, p_cracks=0.0)


def _scan(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What digitisation does to the damaged print: slight blur, noise, JPEG (each sometimes)."""
    if rng.random() < 0.4:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.3, 1.0))
    if rng.random() < 0.4:
        x = x + rng.uniform(0.003, 0.03) * rng.standard_normal(x.shape).astype(np.float32)
    x = np.clip(x, 0.0, 1.0).astype(np.float32)
    if rng.random() < 0.5:
        u8 = (x * 255.0 + 0.5).astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", u8[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 96))])
        x = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255.0
    return np.ascontiguousarray(x)


def damage_example(clean: np.ndarray, seed: int | np.random.Generator,
                   config: DamageConfig = DamageConfig(), aging=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One example for detection and inpainting: clean (H, W, 3) float32 [0, 1] ->
    (scan, base, mask): ``base`` is the aged photograph without physical damage (the inpainting
    target), ``scan`` is base with damage drawn on it and then blurred/noised/JPEG-compressed as
    a scanner would (the detector's input), ``mask`` (H, W) float32 {0, 1} the damage.
    ``aging``: a ``pipeline.AgingConfig`` (default :func:`base_aging`)."""
    from gan_engine.data.degradations import pipeline

    rng = _rng(seed)
    base, _ = pipeline.age_image(clean, rng, aging if aging is not None else base_aging())
    damaged, mask = damage_image(base, rng, config)
    return _scan(damaged, rng), base, mask

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

The operations live by concern in the sibling modules ``tone`` (tone, colour, illumination, the
grey print), ``blur_noise`` (blur, sharpening, grain, noise), ``defects`` (stains, dust,
scratches, cracks) and ``reproduction`` (JPEG, resampling, halftone, paper); this module holds
the configuration, the op table ``OPS``, the random samplers and the pipeline. Operations and
their ranges are described in docs/degradations.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from gan_engine.data.degradations.blur_noise import (
    defocus_blur, film_grain, gaussian_blur, motion_blur, sensor_noise, sharpen,
)
from gan_engine.data.degradations.defects import cracks, dust, scratches, stains
from gan_engine.data.degradations.reproduction import halftone, jpeg, paper_texture, resample
from gan_engine.data.degradations.tone import (
    colour_cast, desaturate, dye_fade, exposure, fade, gradient, sepia_tone, to_gray_print, vignette,
)
from gan_engine.data.luma import LUMA

__all__ = [
    "AgingConfig", "age_image", "replay", "degrade_for_eval", "eval_config", "is_gray_record", "random_op", "OPS",
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


def _rng(seed_or_rng: int | np.random.Generator | None) -> np.random.Generator:
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    return np.random.default_rng(seed_or_rng)


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

"""What differs between the trained tasks: how a training pair is made, what the generator
and the conditional discriminator look like, the reconstruction loss, and how validation scores.

The training loop (``training.train``) is the same for every task; it asks ``TASKS[name]``
(an explicit dictionary, no registry magic) for these pieces:

- ``restore``: input = the clean crop aged by ``pipeline.age_image``; target = the clean
  crop (its luminance for a grey print); pixel L1; validated on ``degrade_for_eval`` copies.
- ``upscale``: input = the clean crop shrunk by bicubic 1/scale and rounded to 8 bits (the
  benchmarks' definition, ``resampling.bicubic_downscale``); target = the crop; pixel L1;
  validated as the SR tables score: PSNR on Y with a border of ``scale`` pixels cropped.
- ``colorize``: defined in ``colorization`` (Lab, ab classes with rebalancing).

A pair maker takes (clean crop float32 (crop, crop, 3) in [0, 1], rng, config) and returns
(input (h, w, c_in), target (crop, crop, 3)) float32 arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
import torch

from gan_engine.data import pairs, resampling
from gan_engine.data.degradations import pipeline
from gan_engine.losses import perceptual
from gan_engine.errors import InvalidInputError

if TYPE_CHECKING:  # pragma: no cover
    from gan_engine.training.loop import TrainConfig

PairMaker = Callable[[np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class ValSample:
    """One fixed validation example: the model's input, the target, and how to score them."""

    x: np.ndarray  # model input (h, w, c_in) float32
    target: np.ndarray  # (H, W, 3) float32
    on: str  # "rgb" or "y" (metrics channel)
    crop: int = 0  # border crop before scoring (SR tables crop `scale` pixels)
    baseline: np.ndarray | None = None  # what the simple alternative gives (input, bicubic, grey)


@dataclass(frozen=True)
class TaskSpec:
    """The task-specific pieces of training (see the module docstring)."""

    name: str
    generator: str  # default key of networks.GENERATORS
    generator_config: Callable[["TrainConfig"], dict]  # defaults, overridden by TrainConfig.generator_config
    cond_channels: int  # channels of D's condition (the model input)
    pair_maker: Callable[["TrainConfig"], PairMaker]
    validation_set: Callable[["TrainConfig", Sequence[Path]], list[ValSample]]
    # (G, x, target, config) -> (fake image (B, 3, H, W), loss, parts): the reconstruction term;
    # it may add (condition, target) when fake covers only a window of x (D then judges that window)
    reconstruction: Callable[[torch.nn.Module, torch.Tensor, torch.Tensor, "TrainConfig"],
                             tuple[torch.Tensor, torch.Tensor, dict[str, float]]]
    prepare: Callable[["TrainConfig", list], dict] | None = None  # data statistics for G's config
    inputs: str = ""  # how the training inputs are made, for the model card


def l1_reconstruction(G, x, target, config) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
    """fake = G(x); loss = l1 * |fake - target|."""
    fake = G(x)
    l1 = perceptual.l1_loss(fake, target)
    return fake, config.l1 * l1, {"l1": l1.item()}


# ---------------------------------------------------------------------------------- restore

def restore_reconstruction(G, x, target, config) -> tuple:
    """The restore task's term: pixel L1, and for a two-stage generator (``GlobalUNet``) its
    global stage supervised on its own as well.

    A ``GlobalUNet`` takes the whole crop as "the image": its global stage corrects all of it
    (parameters from its thumbnail, L1 against the target: the stage keeps learning its own
    job), and its U-Net runs on a random ``config.window`` square of the corrected crop only
    (the U-Net's cost is per pixel, the global stage needs the whole picture). Then the
    returned (condition, target) are that window of the aged input and of the target, for D.
    """
    correct = getattr(G, "correct", None)
    if correct is None:
        return l1_reconstruction(G, x, target, config)
    corrected = correct(x)
    l1_global = perceptual.l1_loss(corrected, target)
    h, w = x.shape[-2:]
    win = min(config.window or h, h, w)
    win -= win % G.size_multiple
    y0 = int(torch.randint(0, h - win + 1, ()))  # torch's seeded generator: reproducible runs
    x0 = int(torch.randint(0, w - win + 1, ()))
    box = (..., slice(y0, y0 + win), slice(x0, x0 + win))
    fake = G.local(corrected[box])
    l1 = perceptual.l1_loss(fake, target[box])
    loss = config.l1 * (l1 + l1_global)
    return fake, loss, {"l1": l1.item(), "l1_global": l1_global.item()}, x[box], target[box]


def _restore_pairs(config: "TrainConfig") -> PairMaker:
    import dataclasses

    try:
        aging = dataclasses.replace(pipeline.AgingConfig(), **config.aging)
    except TypeError as exc:
        raise InvalidInputError(f"aging overrides {config.aging}: {exc}") from None

    def make(clean: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        aged, target, _ = pairs.make_pair(clean, rng, aging)
        return aged, target
    return make


def _restore_validation(config: "TrainConfig", paths: Sequence[Path]) -> list[ValSample]:
    rows = pairs.validation_set(paths, seed=config.val_seed, size=config.val_size, max_side=config.max_side)
    return [ValSample(aged, target, "y" if gray else "rgb", 0, aged) for aged, target, gray in rows]


# ---------------------------------------------------------------------------------- upscale

def _upscale_pairs(config: "TrainConfig") -> PairMaker:
    scale = config.scale

    def make(clean: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return resampling.bicubic_downscale(clean, scale), clean
    return make


def center_crop(img: np.ndarray, size: int, multiple: int) -> np.ndarray:
    h, w = img.shape[:2]
    s = min(size, h, w)
    s -= s % multiple
    y, x = (h - s) // 2, (w - s) // 2
    return img[y:y + s, x:x + s]


def _upscale_validation(config: "TrainConfig", paths: Sequence[Path]) -> list[ValSample]:
    out = []
    for p in paths:
        hr = center_crop(pairs.decode_image(p, config.max_side).astype(np.float32) / 255.0,
                          config.val_size, config.scale)
        lr = resampling.bicubic_downscale(hr, config.scale)
        out.append(ValSample(lr, hr, "y", config.scale, resampling.bicubic_upscale(lr, config.scale)))
    return out


def _upscale_generator(config: "TrainConfig") -> dict:
    return {"scale": config.scale}


def _restore_generator(config: "TrainConfig") -> dict:
    return {}


def _colorize_spec() -> TaskSpec:
    from gan_engine.training import colorization
    return colorization.TASK


TASKS: dict[str, Callable[[], TaskSpec]] = {
    "restore": lambda: TaskSpec("restore", "unet", _restore_generator, 3, _restore_pairs,
                                _restore_validation, restore_reconstruction,
                                inputs="gan_engine.degradations.age_image, applied on the fly"),
    "upscale": lambda: TaskSpec("upscale", "srvgg", _upscale_generator, 3, _upscale_pairs,
                                _upscale_validation, l1_reconstruction,
                                inputs="gan_engine.resampling.bicubic_downscale x1/scale (Keys a=-0.5, "
                                       "antialiased, rounded to 8 bits): the benchmarks' definition"),
    "colorize": _colorize_spec,
}


def get_task(name: str) -> TaskSpec:
    """TASKS[name](); ValueError naming the known tasks otherwise."""
    if name not in TASKS:
        raise InvalidInputError(f"unknown task {name!r}; trained tasks: {', '.join(TASKS)}")
    return TASKS[name]()

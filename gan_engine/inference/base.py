"""What every model wrapper shares: load once, check the card's task, device, half precision, tile.

A wrapper (:class:`~gan_engine.inference.wrappers.Restorer`, ``Upscaler``, ``Colorizer``,
:class:`~gan_engine.inference.style.Stylizer`) is a :class:`ModelWrapper` with a ``task`` and a
method that processes one array; its ``*_file`` method reads an image with
:func:`gan_engine.data.imageio.load_image` and writes the result with :func:`save_like`, so bit
depth, ICC profile and alpha follow the input the same way for every task.

Image layouts (:func:`split_image`): float32 (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) in [0, 1].
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, ClassVar

import numpy as np
import torch

from gan_engine import checkpoints
from gan_engine.data import imageio
from gan_engine.data.luma import LUMA
from gan_engine.devices import resolve_device
from gan_engine.errors import InvalidInputError
from gan_engine.inference import tiling

__all__ = ["LEGACY_TASK", "ModelWrapper", "Progress", "load_for_task", "save_like", "check_strength",
           "split_image", "is_gray", "luminance_as"]

log = logging.getLogger(__name__)

Progress = Callable[[float], None]

#: The task of a card that names none: cards gained "task" when models other than the
#: restoration generator appeared, so an older card is a restoration model's.
LEGACY_TASK = "restore"


def load_for_task(weights: Path, task: str, device: torch.device, *,
                  half: bool = False) -> tuple[torch.nn.Module, dict]:
    """(model ready for inference on ``device``, its card).

    Raises ``CheckpointError`` for a missing or unreadable checkpoint, and when the card names
    another task than ``task`` (a colorizer given to the restorer would run and write nonsense).
    ``half``: float16 weights, on CUDA only.
    """
    model, card = checkpoints.load_checkpoint(weights, device="cpu")
    found = card.get("task", LEGACY_TASK)
    if found != task:
        raise checkpoints.CheckpointError(f"{weights} holds a {found!r} model, not a {task} model")
    model = tiling.prepare_for_inference(model, device)
    model.requires_grad_(False)
    if half and device.type == "cuda":
        model.half()
    return model, card


class ModelWrapper:
    """A model loaded once from a checkpoint whose card names ``task``.

    Attributes: ``weights`` (Path), ``model`` (eval, no grad, on ``device``), ``card`` (dict),
    ``device`` (torch.device), ``half`` (float16 in use: asked for and on CUDA), ``tile`` (the
    default tile side in pixels).
    """

    #: The card's "task" that this wrapper runs.
    task: ClassVar[str]

    def __init__(self, weights: str | Path | None, default: Path, *, device: str = "auto", half: bool = False,
                 tile: int = 512):
        """Load ``weights`` (None: ``default``, the shipped file) on ``device`` ("auto" | "cpu" |
        "cuda" | "cuda:N"; InvalidInputError when unknown or unavailable).

        Raises ``checkpoints.CheckpointError`` for a missing or unreadable checkpoint or one of
        another task.
        """
        self.device = resolve_device(device)
        self.weights = Path(weights) if weights is not None else default
        self.model, self.card = load_for_task(self.weights, self.task, self.device, half=half)
        self.half = bool(half and self.device.type == "cuda")
        self.tile = tile
        log.info("loaded %s (%s, %s) on %s", self.weights, self.task, self.card.get("architecture"), self.device)

    def _run_tiled(self, image: np.ndarray, tile: int | None, progress: Progress | None) -> np.ndarray:
        """The model over ``image`` (H, W, C) float32 by tiles (``tile`` or the default)."""
        return tiling.run_tiled(self.model, image, tile=tile or self.tile, device=self.device, half=self.half,
                                progress=progress)


def save_like(path_out: str | Path, out: np.ndarray, loaded: imageio.LoadedImage, *,
              alpha: np.ndarray | None = None, gray: bool | None = None) -> Path:
    """Write ``out`` (H, W, 3) float32 [0, 1] as a PNG with the input's bit depth and ICC profile.

    ``alpha``: the alpha to write (default: the input's, for a result of the input's size);
    ``gray``: write one grey channel (default: the input was grey).
    """
    return imageio.save_image(path_out, out, bit_depth=loaded.bit_depth,
                              alpha=loaded.alpha if alpha is None else alpha,
                              gray=loaded.is_gray if gray is None else gray, icc_profile=loaded.icc_profile)


def check_strength(strength: float) -> float:
    """``strength`` as a float; InvalidInputError outside [0, 1]."""
    strength = float(strength)
    if not 0.0 <= strength <= 1.0:
        raise InvalidInputError(f"strength must be in [0, 1], got {strength}")
    return strength


def is_gray(rgb: np.ndarray, tol: float = 1.0 / 512, rows: int = 256) -> bool:
    """Whether an (H, W, 3) image has (nearly) equal channels.

    Checked in blocks of ``rows`` rows with an early exit, so a 64 MP colour image costs one
    small block instead of two full-size temporaries.
    """
    for y in range(0, rgb.shape[0], rows):
        block = rgb[y:y + rows]
        if np.abs(block[..., 0] - block[..., 1]).max() > tol or np.abs(block[..., 1] - block[..., 2]).max() > tol:
            return False
    return True


def split_image(image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, str]:
    """-> (rgb (H, W, 3) float32, alpha (H, W) or None, layout "2d" | "1ch" | "rgb")."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2), None, "2d"
    if image.ndim == 3 and image.shape[2] == 1:
        return np.repeat(image, 3, axis=2), None, "1ch"
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return image[..., :3], (image[..., 3] if image.shape[2] == 4 else None), "rgb"
    raise InvalidInputError(f"expected an (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) image, got shape {image.shape}")


def luminance_as(out: np.ndarray, layout: str) -> np.ndarray:
    """The luminance of an (H, W, 3) result in the input's grey layout: (H, W), (H, W, 1), or three
    equal channels for an RGB input (a grey print stays grey; no colour is invented)."""
    y = (out @ LUMA).astype(np.float32)
    if layout == "2d":
        return y
    if layout == "1ch":
        return y[..., None]
    return np.repeat(y[..., None], 3, axis=2)

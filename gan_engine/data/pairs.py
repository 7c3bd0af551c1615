"""Training data for the restoration task: (aged, clean) pairs made on the fly.

Two CPU cores cannot afford several DataLoader workers, so the clean images are decoded
once, cached in RAM as uint8 at a reduced size, and every batch is cut from that cache
in-process: random crop (with a random scale), flips and 90-degree rotations, then
``pipeline.age_image`` on the crop. All randomness comes from one
``numpy.random.Generator`` owned by the caller, so a run is reproducible from its seed
and resumable from the generator's saved state.

Black-and-white prints: the aging pipeline turns about half of the crops into grey prints
(and the grey training folder is grey to begin with). A restorer cannot know the colours
a grey print never had, so for a grey print the target is the luminance of the clean crop
(replicated to three channels), which is also how the evaluation scores grey prints.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from gan_engine.data.degradations import pipeline, tone
from gan_engine.data.imageio import ImageReadError
from gan_engine.errors import InvalidInputError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly in ``folder`` (or in its sub-folders), sorted by path."""
    folder = Path(folder)
    if folder.is_file():
        return [folder]
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def decode_image(path: str | Path, max_side: int | None = None) -> np.ndarray:
    """Decode an image file to uint8 (H, W, 3), shrunk (area filter) so that max(H, W) <= max_side."""
    import cv2  # local: only data loading needs OpenCV

    raw = cv2.imread(str(path), cv2.IMREAD_COLOR)  # BGR uint8; grey files are replicated
    if raw is None:
        raise ImageReadError(f"cannot decode image {path}")
    rgb = cv2.cvtColor(raw, cv2.COLOR_BGR2RGB)
    if max_side and max(rgb.shape[:2]) > max_side:
        f = max_side / max(rgb.shape[:2])
        size = (max(1, round(rgb.shape[1] * f)), max(1, round(rgb.shape[0] * f)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(rgb)


def is_gray_print(record: Sequence) -> bool:
    """Whether an aging record says the image was turned into a black-and-white print."""
    for op in record or ():
        name = op[0] if isinstance(op, (tuple, list)) and op else op
        if isinstance(name, dict):
            name = name.get("name", "")
        name = str(name).lower()
        if "gray" in name or "grey" in name or "monochrome" in name or "black_and_white" in name:
            return True
    return False


@dataclass
class ImagePool:
    """Decoded clean images of one training folder, kept in RAM as uint8 (H, W, 3)."""

    folder: str
    paths: list[Path]
    images: list[np.ndarray]

    @classmethod
    def load(cls, folder: str | Path, *, max_side: int | None, exclude: int = 0, min_side: int = 0) -> "ImagePool":
        """Decode every image of ``folder`` except the last ``exclude`` ones (held out for validation)."""
        paths = list_images(folder)
        if exclude:
            paths = paths[:-exclude] if len(paths) > exclude else []
        images = []
        kept = []
        for p in paths:
            img = decode_image(p, max_side)
            if min(img.shape[:2]) < min_side:
                log.warning("skipping %s: smaller than %d px", p, min_side)
                continue
            images.append(img)
            kept.append(p)
        log.info("cached %d images from %s (%.0f MB)", len(images), folder,
                 sum(i.nbytes for i in images) / 1e6)
        return cls(str(folder), kept, images)


def random_crop(img: np.ndarray, crop: int, rng: np.random.Generator, scale_range=(0.5, 1.0)) -> np.ndarray:
    """A random (crop, crop, 3) float32 [0, 1] patch, at a random scale, flipped and rotated.

    The patch covers ``crop / s`` source pixels with s drawn from ``scale_range`` (clamped to
    what the image allows) and is resized to ``crop`` (area filter), so the model sees the
    cached images at several scales.
    """
    import cv2

    h, w = img.shape[:2]
    s_max = scale_range[1]
    s_min = max(scale_range[0], crop / min(h, w))
    s = float(rng.uniform(min(s_min, s_max), s_max)) if s_min < s_max else max(s_min, s_max)
    side = min(h, w, max(crop, int(round(crop / s))))
    y = int(rng.integers(0, h - side + 1))
    x = int(rng.integers(0, w - side + 1))
    patch = img[y:y + side, x:x + side]
    if side != crop:
        interp = cv2.INTER_AREA if side > crop else cv2.INTER_CUBIC
        patch = cv2.resize(patch, (crop, crop), interpolation=interp)
    patch = patch.astype(np.float32) / 255.0
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    patch = np.rot90(patch, int(rng.integers(0, 4)))
    return np.ascontiguousarray(patch)


def make_pair(clean: np.ndarray, rng: np.random.Generator,
              aging: pipeline.AgingConfig | None = None) -> tuple[np.ndarray, np.ndarray, bool]:
    """Age one clean crop: -> (aged, target, gray), all float32 (H, W, 3) in [0, 1].

    ``target`` is the clean crop, or its luminance when the aging made a grey print.
    """
    aged, record = pipeline.age_image(clean, rng, aging or pipeline.AgingConfig())
    aged = np.clip(np.asarray(aged, dtype=np.float32), 0.0, 1.0)
    gray = is_gray_print(record) or bool(np.ptp(clean, axis=2).max() < 1e-6)
    target = tone.to_gray_print(clean) if gray else clean
    if aged.shape != target.shape:  # an aging op that changed the size (should not happen)
        raise ValueError(f"age_image changed the shape {clean.shape} -> {aged.shape}")
    return aged, target, gray


class PairSampler:
    """Draws batches of (aged, clean) pairs from several image pools, in-process.

    Each batch element picks a pool uniformly (so the grey folder and the colour folder are
    sampled equally often whatever their sizes), an image uniformly within it, a random
    crop, and a fresh aging of that crop.
    """

    def __init__(self, pools: Sequence[ImagePool], *, crop: int, scale_range=(0.5, 1.0),
                 aging: pipeline.AgingConfig | None = None,
                 make_pair: Callable[[np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]] | None = None):
        """make_pair(clean crop, rng) -> (input, target) float32 arrays; default: aging (restoration)."""
        self.pools = [p for p in pools if p.images]
        if not self.pools:
            raise InvalidInputError("no training images")
        self.crop = crop
        self.scale_range = scale_range
        self.aging = aging
        self.make_pair = make_pair

    def batch(self, size: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (input, target) float32 (B, C, h, w) in [0, 1]; for restoration (aged, clean), each (B, 3, crop, crop)."""
        aged_list, clean_list = [], []
        for _ in range(size):
            pool = self.pools[int(rng.integers(0, len(self.pools)))]
            img = pool.images[int(rng.integers(0, len(pool.images)))]
            clean = random_crop(img, self.crop, rng, self.scale_range)
            if self.make_pair is not None:
                aged, target = self.make_pair(clean, rng)
            else:
                aged, target, _ = make_pair(clean, rng, self.aging)
            aged_list.append(aged)
            clean_list.append(target)
        aged_t = torch.from_numpy(np.stack(aged_list)).permute(0, 3, 1, 2).contiguous()
        clean_t = torch.from_numpy(np.stack(clean_list)).permute(0, 3, 1, 2).contiguous()
        return aged_t, clean_t


def validation_set(paths: Sequence[Path], *, seed: int, size: int = 192,
                   max_side: int | None = 512) -> list[tuple[np.ndarray, np.ndarray, bool]]:
    """A fixed-seed aged validation set: centre crops of ``paths``, every second one a grey print.

    -> list of (aged, target, gray) float32 (size, size, 3); the target of a grey print is
    the clean luminance.
    """
    out = []
    for i, p in enumerate(paths):
        img = decode_image(p, max_side)
        h, w = img.shape[:2]
        s = min(size, h, w)
        y, x = (h - s) // 2, (w - s) // 2
        clean = img[y:y + s, x:x + s].astype(np.float32) / 255.0
        gray = i % 2 == 1
        aged = pipeline.degrade_for_eval(clean, seed + i, gray)
        aged = np.clip(np.asarray(aged, dtype=np.float32), 0.0, 1.0)
        target = tone.to_gray_print(clean) if gray else clean
        out.append((aged, target, gray))
    return out

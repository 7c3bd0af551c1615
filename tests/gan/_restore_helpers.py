"""Shared helpers of the restore tests: tiny generated images and a tiny training config."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

# A generator small enough for a CPU step to take milliseconds.
TINY_GENERATOR = {"base": 16, "mults": [1, 2, 2], "enc_blocks": [0, 1], "mid_blocks": 1, "dec_blocks": [1, 0]}
TINY_DISCRIMINATOR = {"ndf": 8, "n_layers": 2}


def make_image_folder(folder: Path, n: int = 4, size: int = 64, *, gray: bool = False, seed: int = 0) -> Path:
    """Write ``n`` smooth random PNGs (gradients + blobs) of ``size`` px into ``folder``."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(n):
        img = np.stack([np.sin(6.28 * (rng.random() * xx + rng.random() * yy) + rng.random() * 6)
                        for _ in range(3)], axis=2) * 0.4 + 0.5
        arr = (np.clip(img, 0, 1) * 255).astype(np.uint8)
        im = Image.fromarray(arr)
        if gray:
            im = im.convert("L")
        im.save(folder / f"img_{i:02d}.png")
    return folder


def tiny_config(tmp_path: Path, **overrides):
    """A TrainConfig that trains the tiny models for a few steps on generated images."""
    from gan_engine.training.loop import TrainConfig

    color = make_image_folder(tmp_path / "color", n=5, size=72, seed=1)
    gray = make_image_folder(tmp_path / "gray", n=5, size=72, gray=True, seed=2)
    kwargs = dict(data=(str(color), str(gray)), out=str(tmp_path / "run"), val_holdout=1, val_size=48,
                  max_side=72, crop=32, batch=2, steps=3, warmup_steps=1, val_every=1000,
                  generator_config=TINY_GENERATOR, discriminator_config=TINY_DISCRIMINATOR,
                  log_every=1, progress=False, adv_start=0.5, threads=1)
    kwargs.update(overrides)
    return TrainConfig(**kwargs)


def tiny_checkpoint(path: Path) -> Path:
    """Save an untrained tiny generator as a checkpoint with a minimal card."""
    import torch

    from gan_engine import archs, checkpoints

    torch.manual_seed(0)
    model = archs.build_generator("unet", **TINY_GENERATOR)
    return checkpoints.save_checkpoint(path, model, {"task": "restore", "architecture": "unet",
                                                     "config": dict(model.config)})

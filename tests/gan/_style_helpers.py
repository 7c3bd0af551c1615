"""Shared pieces of the style tests (inference, training, CLI): tiny networks, seeded images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gan_engine import checkpoints
from gan_engine.data import color
from gan_engine.training.style import StyleTrainConfig, train_feedforward

# A generator small enough for a training step in a fraction of a second (radius 26, multiple 4).
TINY_G = {"base": 4, "mults": [1, 2, 2], "enc_blocks": [0, 1], "dec_blocks": [1, 1], "mid_blocks": 1}
TINY_D = {"ndf": 8, "n_layers": 2}
FAST_LAYERS = ("relu1_1", "relu2_1", "relu3_1")


def scene(rng: np.random.Generator, h: int = 48, w: int = 64) -> np.ndarray:
    """A colourful smooth scene with some edges: float32 (h, w, 3) in [0, 1]."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([0.5 + 0.4 * np.sin(xx / 7.0), 0.5 + 0.4 * np.cos(yy / 5.0), (xx + yy) / (h + w)], axis=2)
    img[h // 3:h // 2, w // 4:w // 2] = (0.9, 0.2, 0.1)
    img += 0.03 * rng.standard_normal(img.shape).astype(np.float32)
    return np.clip(img, 0, 1).astype(np.float32)


def sepia(rng: np.random.Generator, h: int = 40, w: int = 56) -> np.ndarray:
    """A sepia-toned striped print: browner in the shadows than in the highlights."""
    grey = np.clip(0.5 + 0.35 * np.sin(np.arange(w, dtype=np.float32) / 3.0)[None, :].repeat(h, 0)
                   + 0.05 * rng.standard_normal((h, w)).astype(np.float32), 0, 1)
    lab = np.zeros((h, w, 3), np.float32)
    lab[..., 0] = 20 + 70 * grey
    lab[..., 1] = 12 - 0.06 * lab[..., 0]
    lab[..., 2] = 30 - 0.15 * lab[..., 0]
    return color.lab_to_rgb(lab)


def save(path, img: np.ndarray):
    Image.fromarray((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)).save(path)
    return path


def lab_stats(img: np.ndarray):
    lab = color.rgb_to_lab(img).reshape(-1, 3)
    return lab.mean(0), lab.std(0)


def tiny_style_checkpoint(tmp_path, reflect_pad: int = 0) -> Path:
    """A style checkpoint without training: a tiny U-Net with random (non-identity) weights."""
    from gan_engine.archs import build_generator

    torch.manual_seed(3)
    G = build_generator("unet", **TINY_G)
    torch.nn.init.normal_(G.tail.weight, std=0.05)
    return checkpoints.save_checkpoint(tmp_path / "w" / "style.safetensors", G,
                                       {"task": "style", "reference": {"file": "x.png", "sha256": "0" * 64},
                                        "reflect_pad": reflect_pad})


def train_tiny(tmp_path, content, reference, **kw):
    """A 3-step run of a tiny G and D on 32-px crops -> (checkpoint path, config)."""
    config = StyleTrainConfig(reference=str(reference), data=(str(content),), out=str(tmp_path / "run"),
                                    steps=3, batch=2, crop=32, val_crops=2, generator_config=TINY_G,
                                    discriminator_config=TINY_D, style_layers=FAST_LAYERS,
                                    content_layers=("relu2_1",), adv_start=0.5, progress=False, log_every=1,
                                    margin=4, **kw)
    return train_feedforward(config), config

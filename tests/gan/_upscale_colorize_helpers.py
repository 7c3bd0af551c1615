"""Shared pieces of the upscale and colorize tests: tiny networks, their checkpoints, a smooth photo."""

from __future__ import annotations

import numpy as np
import torch

from gan_engine import archs, checkpoints

TINY_SR = {"num_feat": 8, "num_conv": 2}
TINY_UNET = {"base": 8, "mults": [1, 2, 2], "enc_blocks": [0, 1], "mid_blocks": 1, "dec_blocks": [1, 0]}
BINS = [[-25.0, 15.0], [0.0, 0.0], [25.0, -15.0], [15.0, 35.0]]


def photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([np.sin(6.0 * (rng.random() * xx + rng.random() * yy) + rng.random() * 6) for _ in range(3)], 2)
    return (np.clip(img * 0.35 + 0.5, 0, 1)).astype(np.float32)


def sr_checkpoint(path, scale: int = 2):
    torch.manual_seed(0)
    model = archs.build_generator("srvgg", scale=scale, **TINY_SR)
    return checkpoints.save_checkpoint(path, model, {"task": "upscale", "architecture": "srvgg",
                                                     "config": dict(model.config)})


def colorizer_model(**kw):
    torch.manual_seed(0)
    return archs.build_generator("colorizer", bins=BINS, unet=TINY_UNET, downsample=2, **kw)


def col_checkpoint(path):
    model = colorizer_model()
    with torch.no_grad():  # a colourful untrained model: biased logits give a visible cast
        model.net.tail.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 3.0]))
    return checkpoints.save_checkpoint(path, model, {"task": "colorize", "architecture": "colorizer",
                                                     "config": dict(model.config)})

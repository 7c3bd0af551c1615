"""Training the upscaler and the colorizer: ab priors and targets, smoke runs, config checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_engine import checkpoints
from gan_engine.inference.wrappers import Colorizer, Upscaler
from gan_engine.training import colorization, loop

from tests.gan._restore_helpers import TINY_DISCRIMINATOR, make_image_folder
from tests.gan._upscale_colorize_helpers import BINS, TINY_SR, TINY_UNET, photo


def _tiny_train_config(tmp_path, task, **kw):
    folder = make_image_folder(tmp_path / "color", n=5, size=64, seed=1)
    base = dict(data=(str(folder),), out=str(tmp_path / "run"), val_holdout=1, val_size=32, max_side=64,
                crop=32, batch=2, steps=3, warmup_steps=1, val_every=1000, log_every=1, progress=False,
                adv_start=0.5, threads=1, task=task, discriminator_config=TINY_DISCRIMINATOR)
    base.update(kw)
    return loop.TrainConfig(**base)


def test_ab_prior_weights_average_one_under_the_data():
    rng = np.random.default_rng(0)
    imgs = [(np.clip(photo(32, 32, seed=s), 0, 1) * 255).astype(np.uint8) for s in range(4)]
    cfg = colorization.ColourConfig(sample_pixels=4000)
    centres, w, p = colorization.ab_prior(imgs, cfg, rng)
    assert centres.shape[1] == 2 and len(w) == len(centres) == len(p)
    assert p.sum() == pytest.approx(1.0, abs=1e-5)
    assert (w > 0).all()
    # rare colours weigh more than common ones
    assert w[np.argmin(p)] > w[np.argmax(p)]


def test_soft_targets_are_distributions_on_the_nearest_bins():
    centres = torch.tensor(BINS)
    ab = torch.tensor([[24.0, -14.0], [1.0, 1.0]]).T.reshape(1, 2, 1, 2)
    soft, nearest = colorization.soft_targets(ab, centres, k=2, sigma=5.0)
    assert soft.shape == (1, 4, 1, 2)
    assert torch.allclose(soft.sum(1), torch.ones(1, 1, 2))
    assert nearest.flatten().tolist() == [2, 1]


def test_upscale_training_smoke_run_gives_a_loadable_x2_model(tmp_path):
    seen = []
    cfg = _tiny_train_config(tmp_path, "upscale", scale=2, generator_config=TINY_SR)
    best = loop.train(cfg, on_step=lambda step, parts: seen.append(parts))
    assert len(seen) == 3 and "d" in seen[-1]  # the adversarial phase ran
    model, card = checkpoints.load_checkpoint(best)
    assert card["task"] == "upscale" and card["architecture"] == "srvgg" and model.scale == 2
    assert "bicubic_downscale" in card["trained_on"]["inputs"]
    assert card["validation"]["psnr_input"] > 0  # the bicubic baseline was scored
    out = Upscaler(best, device="cpu").upscale(photo(20, 30))
    assert out.shape == (40, 60, 3)


def test_upscale_config_checks_scale_and_crop():
    with pytest.raises(ValueError, match="scale"):
        loop.TrainConfig(data=("x",), task="upscale", scale=3)
    with pytest.raises(ValueError, match="multiple"):
        loop.TrainConfig(data=("x",), task="upscale", scale=4, crop=34)


def test_colorize_training_smoke_run(tmp_path):
    seen = []
    cfg = _tiny_train_config(tmp_path, "colorize", generator_config={"unet": TINY_UNET},
                             colour={"downsample": 2, "sample_pixels": 5000, "min_share": 1e-3})
    best = loop.train(cfg, on_step=lambda step, parts: seen.append(parts))
    assert {"ce", "ab_l1"} <= set(seen[0])
    model, card = checkpoints.load_checkpoint(best)
    assert card["task"] == "colorize" and card["architecture"] == "colorizer"
    assert len(model.config["bins"]) == len(model.config["class_weights"]) >= 2
    out = Colorizer(best, device="cpu").colorize(photo(24, 40))
    assert out.shape == (24, 40, 3)


def test_colorize_fine_tune_takes_the_temperature_asked_for(tmp_path):
    """--init keeps the weights; a temperature given in --colour replaces the init card's."""
    colour = {"downsample": 2, "sample_pixels": 5000, "min_share": 1e-3}
    first = loop.train(_tiny_train_config(tmp_path / "a", "colorize", generator_config={"unet": TINY_UNET},
                                              colour=colour))
    assert checkpoints.load_checkpoint(first)[0].config["temperature"] == pytest.approx(0.38)
    tuned = loop.train(_tiny_train_config(tmp_path / "b", "colorize", init=str(first),
                                              colour={**colour, "temperature": 1.0}))
    assert checkpoints.load_checkpoint(tuned)[0].config["temperature"] == pytest.approx(1.0)


def test_colorize_refuses_grey_only_training_data(tmp_path):
    folder = make_image_folder(tmp_path / "gray", n=4, size=64, gray=True)
    cfg = _tiny_train_config(tmp_path, "colorize", data=(str(folder),), generator_config={"unet": TINY_UNET})
    with pytest.raises(ValueError, match="colour training images"):
        loop.train(cfg)

"""Super-resolution and colourisation: resampling, networks, training smoke runs, inference,
tiling, evaluation protocols and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gan_engine import archs, checkpoints
from gan_engine.cli import main as cli_main
from gan_engine.data import color, resampling
from gan_engine.evaluation import benchmarks
from gan_engine.inference import tiling
from gan_engine.inference.wrappers import Colorizer, Upscaler
from gan_engine.training import colorization, loop

from ._restore_helpers import TINY_DISCRIMINATOR, make_image_folder

TINY_SR = {"num_feat": 8, "num_conv": 2}
TINY_UNET = {"base": 8, "mults": [1, 2, 2], "enc_blocks": [0, 1], "mid_blocks": 1, "dec_blocks": [1, 0]}
BINS = [[-25.0, 15.0], [0.0, 0.0], [25.0, -15.0], [15.0, 35.0]]


def _photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([np.sin(6.0 * (rng.random() * xx + rng.random() * yy) + rng.random() * 6) for _ in range(3)], 2)
    return (np.clip(img * 0.35 + 0.5, 0, 1)).astype(np.float32)


def _sr_checkpoint(path, scale: int = 2):
    torch.manual_seed(0)
    model = archs.build_generator("srvgg", scale=scale, **TINY_SR)
    return checkpoints.save_checkpoint(path, model, {"task": "upscale", "architecture": "srvgg",
                                                     "config": dict(model.config)})


def _colorizer_model(**kw):
    torch.manual_seed(0)
    return archs.build_generator("colorizer", bins=BINS, unet=TINY_UNET, downsample=2, **kw)


def _col_checkpoint(path):
    model = _colorizer_model()
    with torch.no_grad():  # a colourful untrained model: biased logits give a visible cast
        model.net.tail.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 3.0]))
    return checkpoints.save_checkpoint(path, model, {"task": "colorize", "architecture": "colorizer",
                                                     "config": dict(model.config)})


# ------------------------------------------------------------------------------ resampling

def test_bicubic_downscale_is_modcropped_quantized_and_keeps_flat_images():
    img = np.full((37, 50, 3), 0.4, np.float32)
    lr = resampling.bicubic_downscale(img, 4)
    assert lr.shape == (9, 12, 3)
    assert np.allclose(lr, np.round(0.4 * 255) / 255, atol=1e-6)  # 8-bit grid, flat stays flat
    up = resampling.bicubic_upscale(lr, 4)
    assert up.shape == (36, 48, 3)


def test_bicubic_downscale_antialiases():
    # a 1-pixel checkerboard is above the Nyquist limit of the small image: it must average out
    board = (np.indices((64, 64)).sum(0) % 2).astype(np.float32)
    lr = resampling.bicubic_downscale(board, 4, quantize=False)
    assert abs(float(lr.mean()) - 0.5) < 0.02 and float(lr.std()) < 0.05


# ------------------------------------------------------------------------------ networks / tiling

def test_tiled_equals_untiled_for_scale_4():
    torch.manual_seed(1)
    model = tiling.prepare_for_inference(archs.build_generator("srvgg", scale=4, **TINY_SR))
    img = _photo(45, 61)
    whole = tiling.run_untiled(model, img)
    tiled = tiling.run_tiled(model, img, tile=16)
    assert tiled.shape == (180, 244, 3)
    assert np.abs(tiled - whole).max() < 1e-4


def test_colorizer_keeps_lightness_and_is_tileable():
    model = tiling.prepare_for_inference(_colorizer_model())
    img = _photo(40, 52, seed=3)
    L = colorization.lightness(img)
    out = tiling.run_untiled(model, L)
    assert out.shape == (40, 52, 3)
    assert np.abs(color.rgb_to_lab(out)[..., 0] - L[..., 0] * 100).max() < 0.05
    tiled = tiling.run_tiled(model, L, tile=8)
    assert np.abs(tiled - out).max() < 1e-4


def test_colorizer_gamut_fit_never_changes_lightness():
    # extreme chroma on dark and bright pixels: clipping would move L, the chroma scaling must not
    model = archs.build_generator("colorizer", bins=[[-100.0, 100.0], [100.0, -100.0]], unet=TINY_UNET,
                                     temperature=0.01)
    x = torch.linspace(0.02, 0.98, 64).reshape(1, 1, 8, 8)
    ab = torch.tensor([100.0, -100.0]).reshape(1, 2, 1, 1).expand(1, 2, 8, 8)
    rgb = model.to_rgb(x, ab)
    L = color.rgb_to_lab_torch(rgb)[:, 0]
    assert (L - x[:, 0] * 100).abs().max() < 0.2
    assert rgb.min() >= 0 and rgb.max() <= 1


def test_colorizer_rejects_bad_config():
    with pytest.raises(ValueError):
        archs.build_generator("colorizer", bins=[[0.0, 0.0]], unet=TINY_UNET)
    with pytest.raises(ValueError):
        archs.build_generator("colorizer", bins=BINS, unet=TINY_UNET, in_ch=3)
    with pytest.raises(ValueError):
        archs.build_generator("colorizer", bins=BINS, unet=TINY_UNET, class_weights=[1.0])


# ------------------------------------------------------------------------------ colour statistics

def test_ab_prior_weights_average_one_under_the_data():
    rng = np.random.default_rng(0)
    imgs = [(np.clip(_photo(32, 32, seed=s), 0, 1) * 255).astype(np.uint8) for s in range(4)]
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


# ------------------------------------------------------------------------------ training smoke runs

def _tiny_train_config(tmp_path, task, **kw):
    folder = make_image_folder(tmp_path / "color", n=5, size=64, seed=1)
    base = dict(data=(str(folder),), out=str(tmp_path / "run"), val_holdout=1, val_size=32, max_side=64,
                crop=32, batch=2, steps=3, warmup_steps=1, val_every=1000, log_every=1, progress=False,
                adv_start=0.5, threads=1, task=task, discriminator_config=TINY_DISCRIMINATOR)
    base.update(kw)
    return loop.TrainConfig(**base)


def test_upscale_training_smoke_run_gives_a_loadable_x2_model(tmp_path):
    seen = []
    cfg = _tiny_train_config(tmp_path, "upscale", scale=2, generator_config=TINY_SR)
    best = loop.train(cfg, on_step=lambda step, parts: seen.append(parts))
    assert len(seen) == 3 and "d" in seen[-1]  # the adversarial phase ran
    model, card = checkpoints.load_checkpoint(best)
    assert card["task"] == "upscale" and card["architecture"] == "srvgg" and model.scale == 2
    assert "bicubic_downscale" in card["trained_on"]["inputs"]
    assert card["validation"]["psnr_input"] > 0  # the bicubic baseline was scored
    out = Upscaler(best, device="cpu").upscale(_photo(20, 30))
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
    out = Colorizer(best, device="cpu").colorize(_photo(24, 40))
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


# ------------------------------------------------------------------------------ inference

def test_upscaler_layouts_gray_alpha_and_limits(tmp_path):
    up = Upscaler(_sr_checkpoint(tmp_path / "sr.safetensors"), device="cpu", tile=16)
    gray = _photo(10, 12)[..., 0]
    assert up.upscale(gray).shape == (20, 24)
    assert up.upscale(gray[..., None]).shape == (20, 24, 1)
    rgba = np.concatenate([_photo(10, 12), np.full((10, 12, 1), 0.25, np.float32)], axis=2)
    out = up.upscale(rgba)
    assert out.shape == (20, 24, 4) and np.allclose(out[..., 3], 0.25, atol=1e-3)
    # a grey RGB image stays grey
    out = up.upscale(np.repeat(gray[..., None], 3, axis=2))
    assert np.abs(out[..., 0] - out[..., 2]).max() < 1e-6
    small = Upscaler(tmp_path / "sr.safetensors", device="cpu", max_output_pixels=100)
    with pytest.raises(ValueError, match="MP"):
        small.upscale(_photo(10, 12))


def test_upscale_file_keeps_16_bit_and_grey(tmp_path):
    from PIL import Image

    arr = (np.linspace(0, 65535, 14 * 18).reshape(14, 18)).astype(np.uint16)
    Image.fromarray(arr).save(tmp_path / "g16.png")
    up = Upscaler(_sr_checkpoint(tmp_path / "sr.safetensors"), device="cpu")
    out = up.upscale_file(tmp_path / "g16.png", tmp_path / "out.png")
    with Image.open(out) as im:
        assert im.size == (36, 28) and im.mode in ("I;16", "I")


def test_task_mismatch_is_refused(tmp_path):
    sr = _sr_checkpoint(tmp_path / "sr.safetensors")
    with pytest.raises(checkpoints.CheckpointError, match="upscale"):
        Colorizer(sr, device="cpu")


def test_colorizer_file_keeps_lightness_and_strength_zero_is_grey(tmp_path):
    from PIL import Image

    c = Colorizer(_col_checkpoint(tmp_path / "c.safetensors"), device="cpu", tile=16)
    img = _photo(30, 44, seed=5)
    gray = colorization.gray_of(img)
    out = c.colorize(gray)
    assert np.abs(color.rgb_to_lab(out)[..., 0] - color.rgb_to_lab(gray)[..., 0]).max() < 0.1
    assert np.ptp(out, axis=2).max() > 0.02  # some colour was added
    none = c.colorize(gray, strength=0.0)
    assert np.ptp(none, axis=2).max() < 2e-3
    with pytest.raises(ValueError):
        c.colorize(gray, strength=1.5)
    Image.fromarray((gray[..., 0] * 255).round().astype(np.uint8)).save(tmp_path / "g.png")
    path = c.colorize_file(tmp_path / "g.png", tmp_path / "out.png")
    with Image.open(path) as im:
        assert im.mode == "RGB" and im.size == (44, 30)
        rgb = np.asarray(im, np.float32) / 255
    L_in = color.rgb_to_lab(np.repeat((gray[..., :1] * 255).round() / 255, 3, axis=2))[..., 0]
    assert np.abs(color.rgb_to_lab(rgb)[..., 0] - L_in).max() < 1.0  # up to 8-bit rounding


# ------------------------------------------------------------------------------ evaluation protocols

def test_evaluate_upscale_scores_bicubic_like_the_tables(tmp_path):
    folder = make_image_folder(tmp_path / "set", n=2, size=48)
    res = benchmarks.evaluate_upscale(lambda lr: resampling.bicubic_upscale(lr, 4), folder, scale=4)
    assert res["images"] == 2
    assert res["model"]["psnr"] == pytest.approx(res["bicubic"]["psnr"])
    better = benchmarks.evaluate_upscale(lambda lr: np.zeros((lr.shape[0] * 4, lr.shape[1] * 4, 3), np.float32),
                                         folder, scale=4)
    assert better["model"]["psnr"] < better["bicubic"]["psnr"]


def test_evaluate_colorize_grey_output_has_zero_colourfulness(tmp_path):
    folder = make_image_folder(tmp_path / "set", n=2, size=48)
    res = benchmarks.evaluate_colorize(lambda g: g, folder)
    assert res["model"]["psnr"] == pytest.approx(res["gray"]["psnr"])
    assert res["colourfulness"]["share"] < 0.01 and res["colourfulness"]["original"] > 1
    assert "colourfulness" in benchmarks.format_table([res])


# ------------------------------------------------------------------------------ CLI

def test_cli_upscale_and_colorize(tmp_path, capsys):
    from PIL import Image

    Image.fromarray((_photo(12, 16) * 255).astype(np.uint8)).save(tmp_path / "in.png")
    sr = _sr_checkpoint(tmp_path / "sr.safetensors")
    assert cli_main(["upscale", str(tmp_path / "in.png"), "--out", str(tmp_path / "up"), "--scale", "2",
                     "--weights", str(sr), "--device", "cpu"]) == 0
    with Image.open(tmp_path / "up" / "in.png") as im:
        assert im.size == (32, 24)
    col = _col_checkpoint(tmp_path / "c.safetensors")
    assert cli_main(["colorize", str(tmp_path / "in.png"), "--out", str(tmp_path / "col"), "--weights", str(col),
                     "--device", "cpu"]) == 0
    assert (tmp_path / "col" / "in.png").exists()
    # the weights upscale x2, not x4: a one-line error
    assert cli_main(["upscale", str(tmp_path / "in.png"), "--out", str(tmp_path / "up4"), "--scale", "4",
                     "--weights", str(sr), "--device", "cpu"]) == 2
    assert "x2" in capsys.readouterr().err
    assert cli_main(["colorize", str(tmp_path / "in.png"), "--out", str(tmp_path / "c2"), "--weights", str(col),
                     "--strength", "2"]) == 2
    assert cli_main(["colorize", str(tmp_path / "in.png"), "--out", str(tmp_path / "c3"),
                     "--weights", str(tmp_path / "missing.safetensors")]) == 2


def test_cli_evaluate_upscale_prints_table_and_json(tmp_path, capsys):
    folder = make_image_folder(tmp_path / "set5", n=2, size=32)
    sr = _sr_checkpoint(tmp_path / "sr.safetensors", scale=2)
    assert cli_main(["evaluate", "--task", "upscale", "--scale", "2", "--data", str(folder), "--weights", str(sr),
                     "--device", "cpu", "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "bicubic" in out and "upscale x2" in out
    assert json.loads((tmp_path / "r.json").read_text())[0]["scale"] == 2


def test_shipped_colorizer_card_decoding_is_the_one_it_runs():
    """The card's ``decoding.shipped`` (and the evaluation it reports) is what the config decodes with."""
    from gan_engine.inference.wrappers import default_weights

    card = json.loads(default_weights("colorize").with_suffix(".json").read_text())
    shipped = card["decoding"]["shipped"]
    assert card["config"]["temperature"] == shipped["temperature"]
    assert card["config"]["chroma"] == shipped["chroma"]
    assert "colorize:cbsd68" in card["evaluation"]

"""Reference-style transfer (gan_engine.inference.style, training.style): colour transfer, Gatys
optimisation, feed-forward training and tiled use, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from gan_engine import checkpoints
from gan_engine.cli import main
from gan_engine.data import color
from gan_engine.inference import style, tiling
from gan_engine.training.style import StyleTrainConfig, train_feedforward

# A generator small enough for a training step in a fraction of a second (radius 26, multiple 4).
TINY_G = {"base": 4, "mults": [1, 2, 2], "enc_blocks": [0, 1], "dec_blocks": [1, 1], "mid_blocks": 1}
TINY_D = {"ndf": 8, "n_layers": 2}
FAST_LAYERS = ("relu1_1", "relu2_1", "relu3_1")


def _scene(rng: np.random.Generator, h: int = 48, w: int = 64) -> np.ndarray:
    """A colourful smooth scene with some edges: float32 (h, w, 3) in [0, 1]."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([0.5 + 0.4 * np.sin(xx / 7.0), 0.5 + 0.4 * np.cos(yy / 5.0), (xx + yy) / (h + w)], axis=2)
    img[h // 3:h // 2, w // 4:w // 2] = (0.9, 0.2, 0.1)
    img += 0.03 * rng.standard_normal(img.shape).astype(np.float32)
    return np.clip(img, 0, 1).astype(np.float32)


def _sepia(rng: np.random.Generator, h: int = 40, w: int = 56) -> np.ndarray:
    """A sepia-toned striped print: browner in the shadows than in the highlights."""
    grey = np.clip(0.5 + 0.35 * np.sin(np.arange(w, dtype=np.float32) / 3.0)[None, :].repeat(h, 0)
                   + 0.05 * rng.standard_normal((h, w)).astype(np.float32), 0, 1)
    lab = np.zeros((h, w, 3), np.float32)
    lab[..., 0] = 20 + 70 * grey
    lab[..., 1] = 12 - 0.06 * lab[..., 0]
    lab[..., 2] = 30 - 0.15 * lab[..., 0]
    return color.lab_to_rgb(lab)


def _save(path, img: np.ndarray):
    Image.fromarray((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)).save(path)
    return path


def _lab_stats(img: np.ndarray):
    lab = color.rgb_to_lab(img).reshape(-1, 3)
    return lab.mean(0), lab.std(0)


# --------------------------------------------------------------------------------------------
# colour transfer
# --------------------------------------------------------------------------------------------

def test_color_transfer_moves_lab_statistics_to_the_reference(rng):
    content, reference = _scene(rng), _sepia(rng) * 0.8 + 0.1
    out = style.color_transfer(content, reference)
    assert out.shape == content.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    mean_o, std_o = _lab_stats(out)
    mean_r, std_r = _lab_stats(reference)
    np.testing.assert_allclose(mean_o, mean_r, atol=1.5)  # Lab units; gamut clipping moves a little
    np.testing.assert_allclose(std_o, std_r, rtol=0.1, atol=1.0)


def test_color_transfer_tones_a_grey_print(rng):
    """A grey print given a sepia reference takes its tone (a, b means) and its tone curve."""
    grey = np.repeat(_scene(rng).mean(axis=2, keepdims=True), 3, axis=2)
    reference = _sepia(rng)
    out = style.color_transfer(grey, reference)
    lab_o = color.rgb_to_lab(out).reshape(-1, 3)
    mean_r, _ = _lab_stats(reference)
    np.testing.assert_allclose(lab_o.mean(0)[1:], mean_r[1:], atol=1.0)
    assert lab_o[:, 2].mean() > 10  # visibly yellow-brown, not grey
    # shadows browner than highlights, as in the reference
    dark, light = lab_o[:, 0] < np.median(lab_o[:, 0]), lab_o[:, 0] >= np.median(lab_o[:, 0])
    assert lab_o[dark, 2].mean() > lab_o[light, 2].mean()


def test_color_transfer_grey_layouts_strength_and_blocks(rng):
    content, reference = _scene(rng), _sepia(rng)
    g2 = content.mean(axis=2)
    assert style.color_transfer(g2, reference).shape == (*g2.shape, 3)
    np.testing.assert_allclose(style.color_transfer(content, reference, strength=0.0), content, atol=1e-4)
    whole = style.color_transfer(content, reference)
    fractions = []
    blocked = style.color_transfer(content, reference, block_pixels=5 * content.shape[1], progress=fractions.append)
    np.testing.assert_array_equal(whole, blocked)  # row blocks change nothing
    assert len(fractions) == 10 and fractions[-1] == 1.0
    half = style.color_transfer(content, reference, strength=0.5)
    assert np.abs(half - content).mean() < np.abs(whole - content).mean()


def test_color_transfer_statistics_from_a_shrunk_copy_are_close(rng):
    content = np.repeat(np.repeat(_scene(rng), 4, axis=0), 4, axis=1)  # 192 x 256
    reference = _sepia(rng)
    full = style.color_transfer(content, reference, max_side=None)
    shrunk = style.color_transfer(content, reference, max_side=64)
    assert np.abs(full - shrunk).mean() < 0.01


def test_color_transfer_rejects_bad_input(rng):
    with pytest.raises(ValueError):
        style.color_transfer(np.zeros((4, 4, 2), np.float32), _sepia(rng))
    with pytest.raises(ValueError):
        style.color_transfer(_scene(rng), _sepia(rng), strength=1.5)


# --------------------------------------------------------------------------------------------
# optimisation (Gatys)
# --------------------------------------------------------------------------------------------

def _opt_config(**kw) -> style.StyleOptimizeConfig:
    base = dict(steps=8, max_side=64, style_layers=FAST_LAYERS, content_layers=("relu2_1",), progress=False,
                lr=0.03)
    return style.StyleOptimizeConfig(**{**base, **kw})


def test_optimize_lowers_the_style_loss(rng):
    content, reference = _scene(rng), _sepia(rng)
    fractions = []
    out, report = style.optimize_style(content, reference, _opt_config(), progress=fractions.append)
    assert out.shape == content.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert report.style_after < report.style_before
    assert report.content_before == 0.0 and report.content_after > 0.0
    assert report.seconds > 0 and report.steps == 8 and report.working_size is None
    assert report.feature_network["kind"] in ("random-multiscale", "vgg19")
    assert fractions[-1] == 1.0 and len(fractions) == 8
    json.dumps(report.to_dict())


def test_optimize_is_deterministic_with_a_seed(rng):
    content, reference = _scene(rng), _sepia(rng)
    a, _ = style.optimize_style(content, reference, _opt_config(steps=3, init="noise", seed=7))
    b, _ = style.optimize_style(content, reference, _opt_config(steps=3, init="noise", seed=7))
    c, _ = style.optimize_style(content, reference, _opt_config(steps=3, init="noise", seed=8))
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3


def test_optimize_lbfgs_and_larger_content_through_the_working_resolution(rng):
    content = np.repeat(np.repeat(_scene(rng), 2, axis=0), 2, axis=1)  # 96 x 128 > max_side 64
    out, report = style.optimize_style(content, _sepia(rng), _opt_config(steps=2, optimizer="lbfgs"))
    assert out.shape == content.shape
    assert report.working_size == (48, 64)
    assert report.style_after < report.style_before


def test_optimize_config_validation():
    with pytest.raises(ValueError):
        style.StyleOptimizeConfig(optimizer="sgd")
    with pytest.raises(ValueError):
        style.StyleOptimizeConfig(init="reference")
    with pytest.raises(ValueError):
        style.StyleOptimizeConfig(beta=-1.0)


# --------------------------------------------------------------------------------------------
# feed-forward (Johnson) + tiles
# --------------------------------------------------------------------------------------------

@pytest.fixture
def style_folders(tmp_path, rng):
    content = tmp_path / "content"
    content.mkdir()
    for i in range(3):
        _save(content / f"c{i}.png", _scene(rng, 72, 88))
    reference = _save(tmp_path / "sepia.png", _sepia(rng, 64, 64))
    return content, reference


def _train_tiny(tmp_path, content, reference, **kw):
    """A 3-step run of a tiny G and D on 32-px crops -> (checkpoint path, config)."""
    config = StyleTrainConfig(reference=str(reference), data=(str(content),), out=str(tmp_path / "run"),
                                    steps=3, batch=2, crop=32, val_crops=2, generator_config=TINY_G,
                                    discriminator_config=TINY_D, style_layers=FAST_LAYERS,
                                    content_layers=("relu2_1",), adv_start=0.5, progress=False, log_every=1,
                                    margin=4, **kw)
    return train_feedforward(config), config


@pytest.mark.slow
def test_feedforward_training_smoke_run_gives_a_loadable_checkpoint(tmp_path, style_folders, rng):
    content, reference = style_folders
    steps = []
    config = StyleTrainConfig(reference=str(reference), data=(str(content),), out=str(tmp_path / "run"),
                                    steps=3, batch=2, crop=32, val_crops=2, generator_config=TINY_G,
                                    discriminator_config=TINY_D, style_layers=FAST_LAYERS,
                                    content_layers=("relu2_1",), adv_start=0.5, progress=False, log_every=1, margin=4)
    path = train_feedforward(config, on_step=lambda s, logs: steps.append((s, logs)))
    assert path == tmp_path / "run" / "style.safetensors" and path.with_suffix(".json").is_file()
    assert [s for s, _ in steps] == [1, 2, 3]
    assert "g_adv" not in steps[0][1] and "g_adv" in steps[2][1] and "d" in steps[2][1]  # D from half-way on

    model, card = checkpoints.load_checkpoint(path)
    assert card["task"] == "style" and card["steps"] == 3
    assert card["reference"]["sha256"] == checkpoints.sha256_file(reference)
    assert card["reference"]["path"] == str(reference)
    assert card["feature_network"]["layers"] == list(FAST_LAYERS)
    assert card["loss_weights"]["beta"] == config.beta and card["loss_weights"]["adversarial"] == config.adversarial
    assert set(card["losses"]) >= {"input", "before", "after"} and card["margin"] == 4
    assert card["reflect_pad"] == 28  # the tiny U-Net's radius 26, rounded up to its multiple 4
    assert isinstance(card["seconds"], float) and card["seconds"] >= 0  # rounded to 0.1 s: a tiny run can be 0.0
    assert checkpoints.read_card(path) == card  # the card round-trips through JSON

    stylizer = style.Stylizer(path, device="cpu")
    img = _scene(rng, 37, 53)
    out = stylizer.stylize(img)
    assert out.shape == img.shape and out.dtype == np.float32
    assert stylizer.reference["file"] == "sepia.png"


def _tiny_style_checkpoint(tmp_path, reflect_pad: int = 0) -> "Path":
    """A style checkpoint without training: a tiny U-Net with random (non-identity) weights."""
    from gan_engine.archs import build_generator

    torch.manual_seed(3)
    G = build_generator("unet", **TINY_G)
    torch.nn.init.normal_(G.tail.weight, std=0.05)
    return checkpoints.save_checkpoint(tmp_path / "w" / "style.safetensors", G,
                                       {"task": "style", "reference": {"file": "x.png", "sha256": "0" * 64},
                                        "reflect_pad": reflect_pad})


@pytest.mark.parametrize("reflect_pad", [0, 8])
def test_tiled_feedforward_equals_untiled(tmp_path, rng, reflect_pad):
    stylizer = style.Stylizer(_tiny_style_checkpoint(tmp_path, reflect_pad), device="cpu")
    assert stylizer.pad == reflect_pad
    img = _scene(rng, 97, 131)
    tiled = stylizer.stylize(img, tile=48)  # several tiles; overlap = the receptive radius
    p = reflect_pad
    padded = np.pad(img, ((p, p), (p, p), (0, 0)), mode="symmetric")
    whole = tiling.run_untiled(stylizer.model, padded)[p:p + img.shape[0], p:p + img.shape[1]]
    assert tiled.shape == img.shape
    assert np.abs(tiled - np.clip(whole, 0, 1)).max() < 1e-4
    assert np.abs(tiled - img).max() > 1e-3  # the model does something


def test_stylizer_refuses_a_model_of_another_task(tmp_path):
    from gan_engine.archs import build_generator

    path = checkpoints.save_checkpoint(tmp_path / "restore.safetensors", build_generator("unet", **TINY_G),
                                       {"task": "restore"})
    with pytest.raises(checkpoints.CheckpointError, match="not a style model"):
        style.Stylizer(path, device="cpu")


def test_train_config_validation(tmp_path):
    with pytest.raises(ValueError):
        StyleTrainConfig(data=("x",))
    with pytest.raises(ValueError):
        StyleTrainConfig(reference="r.png")
    with pytest.raises(ValueError):
        StyleTrainConfig(reference="r.png", data=("x",), adv_start=2.0)
    with pytest.raises(ValueError, match="margin"):
        StyleTrainConfig(reference="r.png", data=("x",), crop=32, margin=16)


def test_stylize_file_keeps_size_and_bit_depth(tmp_path, rng, style_folders):
    _, reference = style_folders
    src = tmp_path / "in16.png"
    from gan_engine.data import imageio

    imageio.save_image(src, _scene(rng, 30, 40), bit_depth=16)
    out = style.stylize_file(src, tmp_path / "out.png", method="color", reference=reference)
    loaded = imageio.load_image(out)
    assert loaded.rgb.shape == (30, 40, 3) and loaded.bit_depth == 16
    grey_in = _save(tmp_path / "grey.png", np.repeat(_scene(rng, 30, 40).mean(2, keepdims=True), 3, 2))
    Image.open(grey_in).convert("L").save(grey_in)
    toned = imageio.load_image(style.stylize_file(grey_in, tmp_path / "toned.png", reference=reference))
    assert not toned.is_gray  # the sepia tone makes it a colour file
    with pytest.raises(ValueError, match="needs a reference"):
        style.stylize_file(src, tmp_path / "x.png", method="optimize")


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------

def test_cli_style_color_writes_pngs(tmp_path, rng, style_folders, capsys):
    content, reference = style_folders
    inputs = [str(p) for p in sorted(content.iterdir())[:2]]
    assert main(["style", *inputs, "--reference", str(reference), "--out", str(tmp_path / "o"),
                 "--strength", "0.8", "--device", "cpu"]) == 0
    written = capsys.readouterr().out.split()
    assert [p.rsplit("/", 1)[1] for p in written] == ["c0.png", "c1.png"]
    assert Image.open(written[0]).size == (88, 72)


def test_cli_style_optimize_and_feedforward(tmp_path, rng, style_folders, capsys):
    content, reference = style_folders
    src = str(sorted(content.iterdir())[0])
    assert main(["style", src, "--reference", str(reference), "--out", str(tmp_path / "o"), "--method", "optimize",
                 "--steps", "1", "--no-progress", "--device", "cpu"]) == 0
    weights = _tiny_style_checkpoint(tmp_path)
    assert main(["style", src, "--out", str(tmp_path / "f"), "--method", "feedforward", "--weights", str(weights),
                 "--device", "cpu"]) == 0
    assert Image.open(tmp_path / "f" / "c0.png").size == (88, 72)


@pytest.mark.parametrize("extra, message", [
    ([], "needs --reference"),
    (["--reference", "missing.png"], "no such reference image"),
    (["--reference", "NOTIMAGE"], "error:"),
    (["--reference", "REF", "--strength", "2"], "strength"),
    (["--method", "feedforward", "--weights", "missing.safetensors"], "no such weights file"),
])
def test_cli_style_errors_are_one_line(tmp_path, rng, style_folders, capsys, extra, message):
    content, reference = style_folders
    bogus = tmp_path / "notes.png"
    bogus.write_text("not an image")
    extra = [str(bogus) if a == "NOTIMAGE" else str(reference) if a == "REF" else a for a in extra]
    src = str(sorted(content.iterdir())[0])
    assert main(["style", src, "--out", str(tmp_path / "o"), "--device", "cpu", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_cli_style_unknown_method_is_a_usage_error(tmp_path, style_folders, capsys):
    content, reference = style_folders
    with pytest.raises(SystemExit) as exc:
        main(["style", str(sorted(content.iterdir())[0]), "--reference", str(reference), "--out", str(tmp_path),
              "--method", "paint"])
    assert exc.value.code == 2
    assert "invalid choice: 'paint'" in capsys.readouterr().err


def test_cli_train_style_needs_a_reference(tmp_path, style_folders, capsys):
    content, _ = style_folders
    assert main(["train", "--task", "style", "--data", str(content), "--out", str(tmp_path / "r")]) == 2
    assert "needs --reference" in capsys.readouterr().err
    assert main(["train", "--task", "style", "--reference", str(tmp_path / "nope.png"), "--data", str(content),
                 "--out", str(tmp_path / "r")]) == 2
    assert "no such reference image" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_train_style_smoke(tmp_path, style_folders, capsys):
    content, reference = style_folders
    out = tmp_path / "run"
    assert main(["train", "--task", "style", "--reference", str(reference), "--data", str(content), "--out", str(out),
                 "--steps", "2", "--batch", "1", "--crop", "48", "--generator-config", json.dumps(TINY_G),
                 "--discriminator-config", json.dumps(TINY_D), "--no-progress", "--threads", "1"]) == 0
    card = json.loads((out / "style.json").read_text())
    assert card["task"] == "style" and card["steps"] == 2
    assert card["command"].startswith("python -m gan_engine train --task style")


def test_cli_evaluate_style_prints_table_and_json(tmp_path, style_folders, capsys):
    content, reference = style_folders
    report = tmp_path / "eval.json"
    assert main(["evaluate", "--task", "style", "--reference", str(reference), "--data", str(content),
                 "--method", "color", "--limit", "2", "--json", str(report), "--no-progress", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "style (color)" in out and "before" in out and "seconds per image" in out
    summary = json.loads(out[out.index("{"):])
    assert summary["images"] == 2 and summary["style_after"] < summary["style_before"]
    assert summary["content_before"] == 0.0
    full = json.loads(report.read_text())
    assert len(full[0]["per_image"]) == 2


def test_cli_evaluate_style_errors(tmp_path, style_folders, capsys):
    content, reference = style_folders
    assert main(["evaluate", "--task", "style", "--data", str(content), "--method", "optimize"]) == 2
    assert "needs --reference" in capsys.readouterr().err
    assert main(["evaluate", "--task", "style", "--reference", str(reference), "--data", str(tmp_path / "none")]) == 2
    assert "no such folder" in capsys.readouterr().err


@pytest.mark.slow
def test_feedforward_training_stops_at_its_time_budget(tmp_path, style_folders):
    content, reference = style_folders
    path, _ = _train_tiny(tmp_path, content, reference, time_limit_s=1e-3)
    card = checkpoints.read_card(path)
    assert card["steps"] == 1 and card["stopped_early"] is True

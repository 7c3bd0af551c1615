"""python -m gan_engine: end to end on small images, and every error path (one line, no traceback)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gan_engine.cli import main

from ._restore_helpers import SHARED_DATA, make_image_folder, tiny_checkpoint

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("w") / "tiny.safetensors")


@pytest.fixture
def images(tmp_path):
    return make_image_folder(tmp_path / "imgs", n=2, size=48)


def test_restore_writes_pngs(images, weights, tmp_path, capsys):
    rc = main(["restore", *map(str, sorted(images.iterdir())), "--out", str(tmp_path / "out"),
               "--weights", str(weights), "--device", "cpu", "--tile", "64"])
    assert rc == 0
    outs = sorted((tmp_path / "out").iterdir())
    assert [p.name for p in outs] == ["img_00.png", "img_01.png"]
    assert Image.open(outs[0]).size == (48, 48)


@pytest.fixture(scope="module")
def damage_weights(tmp_path_factory):
    """Tiny damage detector and inpainter checkpoints."""
    from gan_engine import checkpoints
    from gan_engine.archs import damage

    folder = tmp_path_factory.mktemp("dw")
    small = {"base": 4, "mults": [1, 2, 2], "enc_blocks": [0, 1], "dec_blocks": [1, 1], "mid_blocks": 1}
    det = checkpoints.save_checkpoint(folder / "det.safetensors", damage.build_detector(**small),
                                      {"task": "damage-detect"})
    inp = checkpoints.save_checkpoint(folder / "inp.safetensors", damage.build_inpainter(**small), {"task": "inpaint"})
    return det, inp


def test_restore_repairs_damage_and_writes_masks(images, weights, damage_weights, tmp_path, capsys):
    det, inp = damage_weights
    rc = main(["restore", str(images / "img_00.png"), "--out", str(tmp_path / "out"), "--weights", str(weights),
               "--device", "cpu", "--repair-damage", "--detector", str(det), "--inpainter", str(inp),
               "--mask-out", str(tmp_path / "masks")])
    assert rc == 0
    mask = Image.open(tmp_path / "masks" / "img_00_mask.png")
    assert mask.mode == "L" and mask.size == (48, 48)
    assert str(tmp_path / "masks" / "img_00_mask.png") in capsys.readouterr().out
    rc = main(["contact-sheet", str(images / "img_00.png"), "--out", str(tmp_path / "sheet.png"), "--weights",
               str(weights), "--device", "cpu", "--repair-damage", "--detector", str(det), "--inpainter", str(inp),
               "--height", "40"])
    assert rc == 0 and Image.open(tmp_path / "sheet.png").size[0] > 3 * 40


def test_mask_out_needs_repair_damage(images, weights, tmp_path, capsys):
    rc = main(["restore", str(images / "img_00.png"), "--out", str(tmp_path / "out"), "--weights", str(weights),
               "--mask-out", str(tmp_path / "m")])
    assert rc != 0
    assert "--repair-damage" in capsys.readouterr().err


def test_degrade_writes_aged_pngs(images, tmp_path):
    rc = main(["degrade", str(images / "img_00.png"), "--out", str(tmp_path / "aged"), "--seed", "5"])
    assert rc == 0
    aged = np.asarray(Image.open(tmp_path / "aged" / "img_00.png"))
    assert aged.shape[:2] == (48, 48)


def test_evaluate_prints_table_and_json(images, weights, tmp_path, capsys):
    import shutil

    own = tmp_path / "w.safetensors"
    shutil.copy(weights, own)
    shutil.copy(weights.with_suffix(".json"), own.with_suffix(".json"))
    rc = main(["evaluate", "--task", "restore", "--weights", str(own), "--data", str(images),
               "--json", str(tmp_path / "r.json"), "--device", "cpu", "--no-progress", "--update-card"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "classical" in out and "model" in out
    res = json.loads((tmp_path / "r.json").read_text())[0]
    assert res["images"] == 2 and {"input", "classical", "model"} <= res.keys()
    card = json.loads(own.with_suffix(".json").read_text())
    assert card["evaluation"]["restore:imgs"]["model"]["psnr"] == pytest.approx(res["model"]["psnr"])
    assert main(["restore", str(images / "img_00.png"), "--out", str(tmp_path / "o"), "--weights", str(own),
                 "--device", "cpu"]) == 0  # the card edit left the weights loadable


def test_evaluate_denoise(images, weights, capsys):
    rc = main(["evaluate", "--task", "denoise", "--sigma", "25", "--weights", str(weights),
               "--data", str(images), "--device", "cpu"])
    assert rc == 0
    assert "29.23" in capsys.readouterr().out  # DnCNN's published BSD68 figure is shown alongside


def test_train_command_runs(images, tmp_path):
    from ._restore_helpers import TINY_DISCRIMINATOR, TINY_GENERATOR

    gray = make_image_folder(tmp_path / "gray", n=3, size=48, gray=True)
    rc = main(["train", "--task", "restore", "--data", str(images), str(gray), "--out", str(tmp_path / "run"),
               "--steps", "2", "--batch", "2", "--crop", "32", "--val", str(images), "--no-progress",
               "--generator-config", json.dumps(TINY_GENERATOR),
               "--discriminator-config", json.dumps(TINY_DISCRIMINATOR), "--max-side", "48"])
    assert rc == 0
    card = json.loads((tmp_path / "run" / "last.json").read_text())
    assert card["steps"] == 2 and "python -m gan_engine train" in card["command"]


def _run(*args):
    return subprocess.run([sys.executable, "-m", "gan_engine", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def _assert_one_line_error(proc):
    assert proc.returncode != 0
    err = proc.stderr.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err


def test_error_missing_file(weights, tmp_path):
    _assert_one_line_error(_run("restore", str(tmp_path / "missing.png"), "--out", str(tmp_path),
                                "--weights", str(weights)))


def test_error_not_an_image(weights, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("this is not a picture")
    _assert_one_line_error(_run("restore", str(bad), "--out", str(tmp_path / "o"), "--weights", str(weights),
                                "--device", "cpu"))


def test_error_unreadable_weights(images, tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00garbage" * 10)
    _assert_one_line_error(_run("restore", str(images / "img_00.png"), "--out", str(tmp_path / "o"),
                                "--weights", str(junk), "--device", "cpu"))
    _assert_one_line_error(_run("restore", str(images / "img_00.png"), "--out", str(tmp_path / "o"),
                                "--weights", str(tmp_path / "absent.safetensors")))


def test_error_unknown_device(images, weights, tmp_path):
    _assert_one_line_error(_run("restore", str(images / "img_00.png"), "--out", str(tmp_path / "o"),
                                "--weights", str(weights), "--device", "quantum"))


def test_error_usage_exit_code():
    proc = _run("restore")
    assert proc.returncode == 2


def test_help_on_each_command():
    for cmd in ("restore", "degrade", "train", "evaluate", "contact-sheet"):
        proc = _run(cmd, "--help")
        assert proc.returncode == 0 and "usage" in proc.stdout


@pytest.mark.shared_data
@pytest.mark.skipif(not (SHARED_DATA / "eval" / "mcmaster").is_dir(), reason="needs ../shared/data")
def test_shipped_model_restores_a_real_eval_image(tmp_path):
    weights = ROOT / "gan_engine" / "weights" / "restore.safetensors"
    if not weights.exists():
        pytest.skip("no shipped weights yet")
    src = sorted((SHARED_DATA / "eval" / "mcmaster").iterdir())[0]
    rc = main(["restore", str(src), "--out", str(tmp_path), "--device", "cpu"])
    assert rc == 0 and (tmp_path / f"{src.stem}.png").exists()


def test_train_damage_smoke_and_ship(tmp_path, capsys):
    folder = make_image_folder(tmp_path / "train", n=6, size=48)
    rc = main(["train-damage", "--data", str(folder), "--out", str(tmp_path / "run"), "--steps", "1", "--batch", "1",
               "--crop", "32", "--save-every", "1", "--ship", str(tmp_path / "ship")])
    assert rc == 0
    for name in ("damage_detector", "damage_inpainter"):
        card = json.loads((tmp_path / "ship" / f"{name}.json").read_text())
        assert card["steps"] == 1 and card["command"].startswith("python -m gan_engine train-damage")


def test_style_optimize_takes_the_feature_weights_from_the_environment(images, tmp_path, monkeypatch, capsys):
    # The CLI is the one place that reads GAN_VGG19_WEIGHTS; it passes the path on explicitly.
    monkeypatch.setenv("GAN_VGG19_WEIGHTS", str(tmp_path / "absent_vgg19.pth"))
    rc = main(["style", str(images / "img_00.png"), "--reference", str(images / "img_01.png"), "--method", "optimize",
               "--steps", "1", "--out", str(tmp_path / "o"), "--device", "cpu", "--no-progress"])
    assert rc == 2 and "absent_vgg19.pth" in capsys.readouterr().err

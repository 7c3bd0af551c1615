"""python -m gan_engine style / train --task style / evaluate --task style."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from gan_engine.cli import main

from tests.gan._style_helpers import TINY_D, TINY_G, tiny_style_checkpoint


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
    weights = tiny_style_checkpoint(tmp_path)
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

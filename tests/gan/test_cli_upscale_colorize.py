"""python -m gan_engine upscale / colorize / evaluate --task upscale."""

from __future__ import annotations

import json

import numpy as np

from gan_engine.cli import main as cli_main

from tests.gan._restore_helpers import make_image_folder
from tests.gan._upscale_colorize_helpers import col_checkpoint, photo, sr_checkpoint


def test_cli_upscale_and_colorize(tmp_path, capsys):
    from PIL import Image

    Image.fromarray((photo(12, 16) * 255).astype(np.uint8)).save(tmp_path / "in.png")
    sr = sr_checkpoint(tmp_path / "sr.safetensors")
    assert cli_main(["upscale", str(tmp_path / "in.png"), "--out", str(tmp_path / "up"), "--scale", "2",
                     "--weights", str(sr), "--device", "cpu"]) == 0
    with Image.open(tmp_path / "up" / "in.png") as im:
        assert im.size == (32, 24)
    col = col_checkpoint(tmp_path / "c.safetensors")
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
    sr = sr_checkpoint(tmp_path / "sr.safetensors", scale=2)
    assert cli_main(["evaluate", "--task", "upscale", "--scale", "2", "--data", str(folder), "--weights", str(sr),
                     "--device", "cpu", "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "bicubic" in out and "upscale x2" in out
    assert json.loads((tmp_path / "r.json").read_text())[0]["scale"] == 2

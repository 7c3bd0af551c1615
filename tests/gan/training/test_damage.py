"""Training smoke run of the detector and inpainter, and resuming it."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from gan_engine import checkpoints
from gan_engine.training import damage


@pytest.fixture
def folder(tmp_path, rng):
    d = tmp_path / "imgs"
    d.mkdir()
    for i in range(4):
        cv2.imwrite(str(d / f"{i}.png"), (rng.random((48, 56, 3)) * 255).astype(np.uint8))
    return d


def _config(folder, out, steps):
    return damage.DamageTrainConfig(data=(str(folder),), out=str(out), steps=steps, batch=2, crop=32,
                                    save_every=2, val_per_folder=1, val_crop=32, warmup=1, command="test")


def test_smoke_run_writes_both_checkpoints(folder, tmp_path):
    det, inp = damage.train_damage(_config(folder, tmp_path / "run", 2))
    for path, task in ((det, "damage-detect"), (inp, "inpaint")):
        model, card = checkpoints.load_checkpoint(path)
        assert card["task"] == task and card["steps"] == 2
        assert set(card["validation"]) >= {"precision", "recall", "f1", "psnr_in_mask"}
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 2


def test_resume_continues_where_it_stopped(folder, tmp_path):
    out = tmp_path / "run"
    damage.train_damage(_config(folder, out, 2))
    damage.train_damage(_config(folder, out, 4))
    state = checkpoints.load_training_state(out / damage.STATE_FILE)
    assert state["step"] == 4 and state["commands"] == ["test", "test"]
    # an uninterrupted run of 4 steps gives the same weights (same batches, same RNG streams)
    damage.train_damage(_config(folder, tmp_path / "straight", 4))
    straight = checkpoints.load_training_state(tmp_path / "straight" / damage.STATE_FILE)
    for k, v in state["detector"].items():
        np.testing.assert_allclose(v.numpy(), straight["detector"][k].numpy(), atol=1e-5)

"""gan_engine.training.loop: smoke run, determinism per seed, resume, checkpoints with a model card."""

import json
from dataclasses import replace

import pytest
import torch
from safetensors.torch import load_file

from gan_engine.training import loop

from tests.gan._restore_helpers import tiny_config


def test_loss_falls_in_a_short_run(tmp_path):
    config = tiny_config(tmp_path, steps=40, lr=2e-3, warmup_steps=1, alpha=0.0, adversarial=0.0,
                         feature_matching=0.0, batch=4)
    seen = []
    best = loop.train(config, on_step=lambda step, parts: seen.append(parts["l1"]))
    assert len(seen) == 40
    first, last = sum(seen[:8]) / 8, sum(seen[-8:]) / 8
    assert last < first
    assert best.exists() and best.with_suffix(".json").exists()


def test_same_seed_same_weights(tmp_path):
    a = loop.train(tiny_config(tmp_path / "a", seed=3))
    b = loop.train(tiny_config(tmp_path / "b", seed=3))
    wa, wb = load_file(a.parent / "last.safetensors"), load_file(b.parent / "last.safetensors")
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    c = loop.train(tiny_config(tmp_path / "c", seed=4))
    wc = load_file(c.parent / "last.safetensors")
    assert any(not torch.equal(wa[k], wc[k]) for k in wa)


def test_card_describes_the_run(tmp_path):
    config = tiny_config(tmp_path, command="python -m gan_engine train ...")
    loop.train(config)
    card = json.loads((tmp_path / "run" / "last.json").read_text())
    assert card["steps"] == 3 and card["seed"] == config.seed
    assert card["command"] == "python -m gan_engine train ..."
    assert card["architecture"] == (config.generator or "unet") and card["config"]
    assert card["trained_on"]["folders"] and card["validation"]["psnr"] > 0
    assert card["adversarial_loss"]["kind"] == config.adv_kind
    assert "feature_network" in card and "final_losses" in card


def test_resume_continues_from_the_saved_step(tmp_path):
    config = tiny_config(tmp_path, steps=3)
    loop.train(config)
    state = torch.load(tmp_path / "run" / "state.pt", weights_only=True)
    assert state["step"] == 3
    steps = []
    loop.train(replace(config, steps=5, resume=str(tmp_path / "run")),
                   on_step=lambda step, parts: steps.append(step))
    assert steps == [4, 5]
    assert torch.load(tmp_path / "run" / "state.pt", weights_only=True)["step"] == 5
    card = json.loads((tmp_path / "run" / "last.json").read_text())
    assert card["steps"] == 5 and len(card["commands"]) == 2  # the first session and the resume


def test_init_from_weights(tmp_path):
    first = loop.train(tiny_config(tmp_path / "a"))
    tuned = loop.train(tiny_config(tmp_path / "b", init=str(first)))
    assert tuned.exists()


def test_config_rejects_nonsense():
    with pytest.raises(ValueError):
        loop.TrainConfig(data=())
    with pytest.raises(ValueError):
        loop.TrainConfig(data=("x",), task="sculpt")


def test_lr_schedule_warms_up_then_decays():
    config = loop.TrainConfig(data=("x",), steps=100, warmup_steps=10, lr=1e-3)
    lrs = [loop.get_lr(s, config, config.lr) for s in range(100)]
    assert lrs[0] < lrs[9] == pytest.approx(1e-3)
    assert lrs[99] < lrs[50] < lrs[10]
    assert min(lrs[10:]) >= 1e-3 * config.lr_min_ratio - 1e-12


def test_two_stage_restorer_trains_its_unet_on_a_window_and_its_global_stage_on_the_crop(tmp_path):
    """GlobalUNet in the shared loop: the U-Net's loss is on a window of the crop, the global
    stage's on the whole crop, D judges the window; both stages' weights move and both losses fall."""
    config = tiny_config(tmp_path, generator="globalunet", steps=30, crop=32, window=16, lr=3e-3,
                         warmup_steps=1, adversarial=0.01, feature_matching=0.01, adv_start=0.5, batch=4,
                         generator_config={"glob": {"knots": 8, "width": 4, "thumb": 32}, "local": {"base": 4}})
    seen = []
    best = loop.train(config, on_step=lambda step, parts: seen.append(parts))
    assert len(seen) == 30 and "d" in seen[-1] and "l1_global" in seen[-1]
    first = sum(p["l1_global"] for p in seen[:6]) / 6
    last = sum(p["l1_global"] for p in seen[-6:]) / 6
    assert last < first
    card = json.loads(best.with_suffix(".json").read_text())
    assert card["architecture"] == "globalunet" and card["train_config"]["window"] == 16
    w = load_file(best)
    assert w["glob.mlp.4.weight"].abs().sum() > 0  # the global stage left its zero start
    assert w["local.tail.weight"].abs().sum() > 0  # the U-Net left its identity start

"""gan_engine.training.style: the feed-forward style model's training (smoke runs, config, budget)."""

from __future__ import annotations

import numpy as np
import pytest

from gan_engine import checkpoints
from gan_engine.inference import style
from gan_engine.training.style import StyleTrainConfig, train_feedforward

from tests.gan._style_helpers import FAST_LAYERS, TINY_D, TINY_G, scene, train_tiny


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
    img = scene(rng, 37, 53)
    out = stylizer.stylize(img)
    assert out.shape == img.shape and out.dtype == np.float32
    assert stylizer.reference["file"] == "sepia.png"


def test_train_config_validation(tmp_path):
    with pytest.raises(ValueError):
        StyleTrainConfig(data=("x",))
    with pytest.raises(ValueError):
        StyleTrainConfig(reference="r.png")
    with pytest.raises(ValueError):
        StyleTrainConfig(reference="r.png", data=("x",), adv_start=2.0)
    with pytest.raises(ValueError, match="margin"):
        StyleTrainConfig(reference="r.png", data=("x",), crop=32, margin=16)


@pytest.mark.slow
def test_feedforward_training_stops_at_its_time_budget(tmp_path, style_folders):
    content, reference = style_folders
    path, _ = train_tiny(tmp_path, content, reference, time_limit_s=1e-3)
    card = checkpoints.read_card(path)
    assert card["steps"] == 1 and card["stopped_early"] is True

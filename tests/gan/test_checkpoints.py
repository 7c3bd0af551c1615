"""gan_engine.checkpoints: round trip, model card, and every refusal."""

from __future__ import annotations

import json

import pytest
import torch

from gan_engine import __version__
from gan_engine.checkpoints import (
    FORMAT_VERSION, CheckpointError, load_checkpoint, load_training_state, save_checkpoint, save_training_state,
    sha256_file,
)
from gan_engine.archs import build_discriminator, build_generator


@pytest.fixture
def saved(tmp_path):
    model = build_generator("unet", base=4)
    card = {"steps": 12, "seed": 3, "data": ["train/"], "metrics": {"psnr": 25.5}}
    path = save_checkpoint(tmp_path / "restore", model, card)
    return model, path


def _card(path):
    return json.loads(path.with_suffix(".json").read_text())


def _write_card(path, card):
    path.with_suffix(".json").write_text(json.dumps(card))


def test_round_trip_rebuilds_the_same_model(saved):
    model, path = saved
    assert path.suffix == ".safetensors" and path.is_file() and path.with_suffix(".json").is_file()
    loaded, card = load_checkpoint(path)
    x = torch.rand(1, 3, 16, 16)
    with torch.inference_mode():
        assert torch.allclose(model.eval()(x), loaded(x), atol=1e-6)  # loaded: channels_last kernels
    assert not loaded.training
    assert loaded.head.conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert card["architecture"] == "unet" and card["config"] == model.config
    assert card["format_version"] == FORMAT_VERSION and card["gan_engine_version"] == __version__
    assert card["weights_sha256"] == sha256_file(path)
    assert card["steps"] == 12 and card["metrics"] == {"psnr": 25.5}
    assert load_checkpoint(path.with_suffix(".json"))[1] == card  # the card's path works too


def test_weights_are_safetensors_without_pickle(saved):
    from safetensors.torch import load_file

    _, path = saved
    state = load_file(path)
    assert "head.conv.weight" in state


def test_discriminators_round_trip(tmp_path):
    disc = build_discriminator("patchgan", ndf=8)
    loaded, card = load_checkpoint(save_checkpoint(tmp_path / "d.safetensors", disc, {}))
    assert card["architecture"] == "patchgan" and loaded.config == disc.config


def test_card_must_be_json_serialisable_and_consistent(tmp_path):
    model = build_generator("srvgg", scale=2, num_feat=8, num_conv=1)
    with pytest.raises(ValueError, match="JSON"):
        save_checkpoint(tmp_path / "a", model, {"bad": object()})
    with pytest.raises(ValueError, match="contradicts"):
        save_checkpoint(tmp_path / "b", model, {"architecture": "unet"})


def test_refuses_a_missing_weights_file(tmp_path):
    with pytest.raises(CheckpointError, match="weights file not found"):
        load_checkpoint(tmp_path / "nothing.safetensors")


def test_refuses_a_missing_or_malformed_card(saved):
    _, path = saved
    card_path = path.with_suffix(".json")
    card_path.write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(path)
    card_path.write_text(json.dumps({"architecture": "unet"}))
    with pytest.raises(CheckpointError, match="lacks format_version, config, weights_sha256"):
        load_checkpoint(path)
    card_path.unlink()
    with pytest.raises(CheckpointError, match="model card not found"):
        load_checkpoint(path)


def test_refuses_a_truncated_weights_file(saved):
    _, path = saved
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(path)


def test_refuses_a_tampered_weights_file(saved):
    """Given weights changed after saving (same size, still valid safetensors), the sha refuses them."""
    _, path = saved
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01  # a bit of the last tensor's data
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="does not match its card"):
        load_checkpoint(path)


def test_refuses_an_unknown_architecture(saved):
    _, path = saved
    card = _card(path)
    card["architecture"] = "transformer9000"
    _write_card(path, card)
    with pytest.raises(CheckpointError, match="unknown architecture 'transformer9000'"):
        load_checkpoint(path)


def test_refuses_weights_that_do_not_fit_the_card(saved):
    _, path = saved
    card = _card(path)
    card["config"]["base"] = 8  # the card now describes a wider net than the weights
    _write_card(path, card)
    with pytest.raises(CheckpointError, match="do not fit unet") as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value)
    card["config"]["no_such_option"] = 1
    _write_card(path, card)
    with pytest.raises(CheckpointError, match="cannot build unet"):
        load_checkpoint(path)


def test_refuses_another_format_version(saved):
    _, path = saved
    card = _card(path)
    card["format_version"] = 99
    _write_card(path, card)
    with pytest.raises(CheckpointError, match="format_version 99"):
        load_checkpoint(path)


def test_training_state_round_trip(tmp_path):
    model = build_generator("srvgg", scale=2, num_feat=8, num_conv=1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.rand(1, 3, 8, 8)).mean().backward()
    opt.step()
    state = {"step": 7, "g_optimizer": opt.state_dict(), "generator": model.state_dict(),
             "rng": torch.random.get_rng_state(), "config": {"lr": 1e-3, "name": "run"}}
    path = save_training_state(tmp_path / "state.pt", state)
    back = load_training_state(path)
    assert back["step"] == 7 and back["config"] == {"lr": 1e-3, "name": "run"}
    fresh = torch.optim.Adam(model.parameters(), lr=1e-3)
    fresh.load_state_dict(back["g_optimizer"])
    assert torch.equal(back["rng"], state["rng"])


def test_training_state_refuses_bad_files(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_training_state(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="cannot read training state"):
        load_training_state(bad)
    evil = tmp_path / "evil.pt"
    torch.save({"x": _Unsafe()}, evil)
    with pytest.raises(CheckpointError, match="cannot read training state"):
        load_training_state(evil)


class _Unsafe:
    pass


# -- devices (load_checkpoint's device argument goes through resolve_device) ----------------------

def test_resolve_device():
    from gan_engine.devices import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        resolve_device("tpu")
    with pytest.raises(ValueError, match="not available"):
        resolve_device(f"cuda:{torch.cuda.device_count()}")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available"):
            resolve_device("cuda")


def test_load_checkpoint_refuses_an_unavailable_device(saved):
    _, path = saved
    with pytest.raises(ValueError, match="not available"):
        load_checkpoint(path, device=f"cuda:{torch.cuda.device_count()}")

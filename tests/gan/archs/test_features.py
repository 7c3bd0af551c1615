"""gan_engine.archs.features: VGG19 state dicts on disk, the seeded random fallback, refusals."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gan_engine.archs.features import VGG19_LAYERS, FeatureNetwork, FeatureWeightsError
from gan_engine.cli import VGG19_WEIGHTS_ENV

# torchvision vgg19().features indices and shapes of the convs up to relu2_1
_VGG_HEAD = {0: (64, 3), 2: (64, 64), 5: (128, 64)}


def _torchvision_state_dict(*, wrong_shape: bool = False) -> dict[str, torch.Tensor]:
    """What torch.save(torchvision.models.vgg19().state_dict()) holds, cut after conv2_1."""
    state = {}
    for index, (out_ch, in_ch) in _VGG_HEAD.items():
        state[f"features.{index}.weight"] = torch.randn(out_ch, in_ch, 3, 3) * 0.05
        state[f"features.{index}.bias"] = torch.randn(out_ch) * 0.01
    state["classifier.0.weight"] = torch.randn(4, 4)  # torchvision files carry the classifier too
    if wrong_shape:
        state["features.2.weight"] = torch.randn(64, 32, 3, 3)
    return state


@pytest.fixture
def vgg_file(tmp_path):
    path = tmp_path / "vgg19.pth"
    torch.save(_torchvision_state_dict(), path)
    return path


@pytest.fixture(autouse=True)
def _no_env_weights(monkeypatch):
    monkeypatch.delenv(VGG19_WEIGHTS_ENV, raising=False)


def test_random_fallback_shapes_match_vgg_layout():
    net = FeatureNetwork(layers=("relu1_1", "relu2_1", "relu3_1", "relu4_2"))
    out = net(torch.rand(2, 3, 32, 48))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "relu1_1": (2, 64, 32, 48), "relu2_1": (2, 128, 16, 24), "relu3_1": (2, 256, 8, 12), "relu4_2": (2, 512, 4, 6)}
    assert all((v >= 0).all() for v in out.values())


def test_random_fallback_is_seeded_frozen_and_described():
    a, b, c = FeatureNetwork(seed=1), FeatureNetwork(seed=1), FeatureNetwork(seed=2)
    x = torch.rand(1, 3, 16, 16)
    assert torch.equal(a(x)["relu2_1"], b(x)["relu2_1"])
    assert not torch.equal(a(x)["relu2_1"], c(x)["relu2_1"])
    info = a.describe()
    assert info["kind"] == "random-multiscale" and info["seed"] == 1
    assert info["weights_sha256"] == b.describe()["weights_sha256"] != c.describe()["weights_sha256"]
    assert not any(p.requires_grad for p in a.parameters())
    a.train()
    assert not a.training


def test_gradients_reach_the_input_not_the_filters():
    net = FeatureNetwork()
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    sum(v.mean() for v in net(x).values()).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in net.parameters())


def test_loads_a_torchvision_state_dict(vgg_file):
    net = FeatureNetwork(vgg_file, layers=("relu1_1", "relu2_1"))
    state = torch.load(vgg_file, weights_only=True)
    assert torch.equal(net.features[0].weight, state["features.0.weight"])
    x = torch.rand(1, 3, 8, 8)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    expected = F.relu(F.conv2d((x - mean) / std, state["features.0.weight"], state["features.0.bias"], padding=1))
    out = net(x)
    assert torch.allclose(out["relu1_1"], expected, atol=1e-6)
    assert out["relu2_1"].shape == (1, 128, 4, 4)
    info = net.describe()
    assert info["kind"] == "vgg19" and info["weights_file"] == "vgg19.pth" and len(info["weights_sha256"]) == 64


def test_reads_safetensors_and_never_the_environment(tmp_path, monkeypatch):
    # The path is passed in (the CLI reads GAN_VGG19_WEIGHTS, the archive its setting): a recipe's
    # checksum of the feature network then describes the network that ran.
    from safetensors.torch import save_file

    path = tmp_path / "vgg19.safetensors"
    save_file(_torchvision_state_dict(), path)
    assert FeatureNetwork(path, layers=("relu2_1",)).describe()["kind"] == "vgg19"
    monkeypatch.setenv(VGG19_WEIGHTS_ENV, str(path))
    assert FeatureNetwork(layers=("relu2_1",)).describe()["kind"] == "random-multiscale"


@pytest.mark.parametrize("problem,match", [
    ("wrong_shape", "features.2.weight has shape"),
    ("too_shallow", "missing features.7.weight"),  # conv2_2, the first absent conv
    ("not_a_state_dict", "cannot read VGG19 weights"),
    ("missing", "not found"),
])
def test_refuses_a_wrong_file(tmp_path, vgg_file, problem, match):
    path = tmp_path / "bad.pth"
    layers = ("relu1_1", "relu2_1")
    if problem == "wrong_shape":
        torch.save(_torchvision_state_dict(wrong_shape=True), path)
    elif problem == "too_shallow":
        path, layers = vgg_file, ("relu3_1",)  # the file stops at conv2_1
    elif problem == "not_a_state_dict":
        path.write_text("this is not a checkpoint")
    with pytest.raises(FeatureWeightsError, match=match):
        FeatureNetwork(path, layers=layers)


def test_refuses_pickled_code(tmp_path):
    """weights_only loading: a pickle holding an arbitrary object is not executed."""
    path = tmp_path / "evil.pth"
    torch.save({"features.0.weight": torch.zeros(1), "obj": _Sneaky()}, path)
    with pytest.raises(FeatureWeightsError, match="cannot read"):
        FeatureNetwork(path, layers=("relu1_1",))


class _Sneaky:
    pass


def test_refuses_unknown_layers():
    with pytest.raises(ValueError, match="unknown feature layers"):
        FeatureNetwork(layers=("relu9_9",))
    assert VGG19_LAYERS[:3] == ("relu1_1", "relu1_2", "relu2_1") and len(VGG19_LAYERS) == 16

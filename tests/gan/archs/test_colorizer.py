"""The semantic colorizer's network and decoding."""

from __future__ import annotations

import numpy as np
import torch

from gan_engine.archs.colorizer import SemanticColorizer, decode_ab, lightness_to_grey
from gan_engine.data import color

BINS = [[-20.0, 10.0], [0.0, 0.0], [30.0, 40.0]]


def test_lightness_to_grey_is_the_inverse_of_lab_lightness():
    grey = np.linspace(0.0, 1.0, 21, dtype=np.float32)
    L = color.rgb_to_lab(np.stack([grey] * 3, -1)[None])[..., 0] / 100.0
    back = lightness_to_grey(torch.from_numpy(L)).numpy()[0]
    np.testing.assert_allclose(back, grey, atol=1e-5)


def test_logits_come_at_a_quarter_of_the_input_with_one_channel_per_bin():
    model = SemanticColorizer(BINS, widths=(16, 8, 8)).eval()
    with torch.no_grad():
        logits = model(torch.rand(2, 1, 64, 96))
    assert logits.shape == (2, len(BINS), 16, 24)


def test_decoding_a_certain_distribution_gives_its_bin_and_an_unsure_one_the_mean():
    bins = torch.tensor(BINS)
    certain = torch.full((1, 3, 2, 2), -50.0)
    certain[:, 2] = 50.0
    np.testing.assert_allclose(decode_ab(certain, bins)[0, :, 0, 0].numpy(), [30.0, 40.0], atol=1e-3)
    unsure = torch.zeros(1, 3, 2, 2)
    np.testing.assert_allclose(decode_ab(unsure, bins)[0, :, 0, 0].numpy(), bins.mean(0).numpy(), atol=1e-4)
    # Annealing (T < 1) moves the decoding away from the mean, towards the likeliest bin.
    leaning = torch.tensor([0.0, 0.0, 1.0]).reshape(1, 3, 1, 1)
    a_mean = decode_ab(leaning, bins, 1.0)[0, 0, 0, 0]
    a_cold = decode_ab(leaning, bins, 0.3)[0, 0, 0, 0]
    assert a_cold > a_mean


def test_config_rebuilds_the_same_network():
    model = SemanticColorizer(BINS, widths=(16, 8, 8), temperature=0.6, gain=1.2, work_short=256)
    again = SemanticColorizer(**model.config)
    again.load_state_dict(model.state_dict())
    assert again.config == model.config
    assert torch.equal(again.bins, model.bins)

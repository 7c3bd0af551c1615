"""Fixtures for the gan_engine tests: small, seeded, no Django, no GPU, no network.

pytest-django is configured for the whole suite; these tests never request its database
fixtures, so they do not touch a database.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.gan._style_helpers import save, scene, sepia


@pytest.fixture(autouse=True)
def _seeded_torch():
    """Every test starts from the same torch RNG state (and puts it back afterwards)."""
    state = torch.random.get_rng_state()
    torch.manual_seed(0)
    yield
    torch.random.set_rng_state(state)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def tiny_unet_config() -> dict:
    """The default U-Net layout (3 levels, radius 74) at 1/8 of the width: fast on a CPU."""
    return {"base": 4}


@pytest.fixture
def shallow_unet_config() -> dict:
    """A 2-level U-Net (radius 26, size_multiple 4): lets a 97x131 image hold real tile interiors."""
    return {"base": 8, "mults": [1, 2, 2], "enc_blocks": [0, 1], "dec_blocks": [1, 1], "mid_blocks": 1}


@pytest.fixture
def style_folders(tmp_path, rng):
    """(folder of three content images, a sepia reference image) for the style tests."""
    content = tmp_path / "content"
    content.mkdir()
    for i in range(3):
        save(content / f"c{i}.png", scene(rng, 72, 88))
    reference = save(tmp_path / "sepia.png", sepia(rng, 64, 64))
    return content, reference

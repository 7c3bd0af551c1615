"""The semantic colorizer at inference: lightness kept, reference colours carried over, CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gan_engine import checkpoints
from gan_engine.archs.colorizer import SemanticColorizer
from gan_engine.data import color, imageio
from gan_engine.inference import reference as ref
from gan_engine.inference import semantic_colorize as sc
from gan_engine.inference.wrappers import Colorizer, default_weights

SHIPPED = default_weights("colorize")


def _shipped_model() -> SemanticColorizer:
    model, _ = checkpoints.load_checkpoint(SHIPPED)
    if not isinstance(model, SemanticColorizer):
        pytest.skip("the shipped colorizer is not a semantic colorizer")
    return model.float()


def _tiny_checkpoint(path: Path) -> Path:
    torch.manual_seed(0)
    model = SemanticColorizer([[-30.0, 20.0], [0.0, 0.0], [40.0, 50.0]], widths=(8, 8, 8))
    return checkpoints.save_checkpoint(path, model, {"task": "colorize"})


def _textures(size: int = 128) -> np.ndarray:
    """A synthetic photograph: left half red-brown stripes, right half blue-green dots, the
    same mean lightness on both sides, so only the structure tells them apart."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    L = np.full((size, size), 55.0, np.float32)
    stripes = np.sin(x / 2.0) > 0
    dots = (np.sin(x / 3.0) * np.sin(y / 3.0)) > 0.3
    left = x < size // 2
    L += np.where(left, np.where(stripes, 12.0, -12.0), np.where(dots, 14.0, -8.0))
    ab = np.zeros((size, size, 2), np.float32)
    ab[left] = (35.0, 30.0)
    ab[~left] = (-25.0, -20.0)
    return color.lab_to_rgb(np.concatenate([L[..., None], ab], 2)).astype(np.float32)


def test_lightness_is_kept_exactly_even_for_out_of_gamut_chroma():
    rng = np.random.default_rng(0)
    L = rng.random((40, 30)).astype(np.float32)
    ab = rng.uniform(-120, 120, (40, 30, 2)).astype(np.float32)  # mostly outside sRGB
    out = sc.compose_lab(L, ab)
    assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_allclose(color.rgb_to_lab(out)[..., 0] / 100.0, L, atol=1e-4)


def test_the_wrapper_keeps_the_lightness_of_a_photograph(tmp_path):
    weights = _tiny_checkpoint(tmp_path / "c.safetensors")
    rgb = _textures(64)
    out = Colorizer(weights, device="cpu").colorize(rgb)
    np.testing.assert_allclose(color.rgb_to_lab(out)[..., 0], color.rgb_to_lab(rgb)[..., 0], atol=1e-2)


def test_guided_upsampling_keeps_colour_edges_where_the_lightness_has_them():
    L = np.zeros((64, 64), np.float32)
    L[:, 32:] = 0.8
    ab_small = np.zeros((16, 16, 2), np.float32)
    ab_small[:, 8:] = 40.0
    ab = sc.guided_upsample(ab_small, L)
    assert abs(ab[:, :30].mean()) < 3.0 and abs(ab[:, 34:].mean() - 40.0) < 3.0


@pytest.mark.slow
def test_reference_colours_a_mirrored_copy_in_the_right_places():
    model = _shipped_model()
    rgb = _textures()
    L = sc.lightness_of(rgb)
    mirrored = np.ascontiguousarray(rgb[:, ::-1])  # red now on the right
    cfg = ref.ReferenceConfig(work_short=128, scales=(1.0,))
    out = ref.colorize_from_reference(model, L, mirrored, cfg=cfg)
    lab = color.rgb_to_lab(out)
    left, right = lab[16:-16, 8:56], lab[16:-16, 72:120]
    assert left[..., 1].mean() > 15 and left[..., 2].mean() > 12, "left half should be red-brown"
    assert right[..., 1].mean() < -8 and right[..., 2].mean() < -8, "right half should be blue-green"
    np.testing.assert_allclose(lab[..., 0] / 100.0, L, atol=1e-4)


def test_a_reference_needs_a_semantic_colorizer(tmp_path):
    from gan_engine.archs.generators import Colorizer as UNetColorizer

    model = UNetColorizer(bins=[[0.0, 0.0], [20.0, 20.0]], unet={"base": 4, "mults": [1, 1],
                          "enc_blocks": [1], "mid_blocks": 1, "dec_blocks": [1]})
    weights = checkpoints.save_checkpoint(tmp_path / "u.safetensors", model, {"task": "colorize"})
    c = Colorizer(weights, device="cpu")
    assert not c.takes_reference
    with pytest.raises(ValueError, match="reference"):
        c.colorize(_textures(32), reference=_textures(32))


def test_cli_colorize_with_and_without_a_reference(tmp_path, capsys):
    from gan_engine.cli import main

    weights = _tiny_checkpoint(tmp_path / "c.safetensors")
    src, reference = tmp_path / "grey.png", tmp_path / "ref.png"
    imageio.save_image(src, np.repeat(color.rgb_to_lab(_textures(64))[..., :1] / 100.0, 3, 2), bit_depth=8)
    imageio.save_image(reference, _textures(64)[:, ::-1], bit_depth=8)
    assert main(["colorize", str(src), "--out", str(tmp_path / "auto"), "--weights", str(weights)]) == 0
    assert main(["colorize", str(src), "--out", str(tmp_path / "ref"), "--weights", str(weights),
                 "--reference", str(reference)]) == 0
    for sub in ("auto", "ref"):
        out = imageio.load_image(tmp_path / sub / "grey.png").rgb
        assert out.shape == (64, 64, 3)
    assert main(["colorize", str(src), "--out", str(tmp_path / "x"), "--weights", str(weights),
                 "--reference", str(tmp_path / "absent.png")]) != 0
    assert "no such file" in capsys.readouterr().err

"""Damage repair at inference: tiled equals one pass, unmasked pixels untouched, masks returned."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_engine import checkpoints
from gan_engine.archs import damage as archs
from gan_engine.inference import damage, tiling


@pytest.fixture
def nets():
    small = {"base": 4, "mults": [1, 2, 2], "enc_blocks": [0, 1], "dec_blocks": [1, 1], "mid_blocks": 1}
    det = tiling.prepare_for_inference(archs.build_detector(**small))
    inp = tiling.prepare_for_inference(archs.build_inpainter(**small))
    return det, inp


@pytest.fixture
def image(rng) -> np.ndarray:
    return rng.random((75, 101, 3), dtype=np.float32)


def _mask(h, w, rng) -> np.ndarray:
    m = np.zeros((h, w), np.float32)
    m[10:13, 5:90] = 1  # a scratch across several tiles
    m[60:70, 80:95] = 1  # a flake in a corner tile
    return m


def test_detection_tiled_equals_untiled(nets, image):
    det, _ = nets
    whole = torch.sigmoid(torch.from_numpy(tiling.run_untiled(det, image)[..., 0])).numpy()
    tiled = damage.detect(det, image, tile=24)
    assert tiled.shape == image.shape[:2]
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


def test_inpainting_tiled_equals_untiled_and_keeps_unmasked_pixels(nets, image, rng):
    _, inp = nets
    mask = _mask(*image.shape[:2], rng)
    with torch.inference_mode():
        x = torch.from_numpy(image).permute(2, 0, 1)[None]
        m = torch.from_numpy(mask)[None, None]
        # one pass over the whole image (reflect-padded to the size multiple, as tiling does)
        k = inp.size_multiple
        pad_h, pad_w = (-image.shape[0]) % k, (-image.shape[1]) % k
        xp = torch.nn.functional.pad(x, (0, pad_w, 0, pad_h), mode="reflect")
        mp = torch.nn.functional.pad(m, (0, pad_w, 0, pad_h), mode="reflect")
        whole = archs.fill(inp, xp, mp)[0, :, :image.shape[0], :image.shape[1]].permute(1, 2, 0).numpy()
    tiled = damage.inpaint(inp, image, mask, tile=24)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    assert np.array_equal(tiled[mask == 0], image[mask == 0])
    assert not np.array_equal(tiled[mask == 1], image[mask == 1])


def test_inpainting_in_place_and_empty_mask(nets, image, rng):
    _, inp = nets
    mask = _mask(*image.shape[:2], rng)
    expected = damage.inpaint(inp, image, mask, tile=24)
    work = image.copy()
    out = damage.inpaint(inp, work, mask, tile=24, out=work)
    assert out is work
    np.testing.assert_allclose(work, expected, atol=1e-6)
    assert np.array_equal(damage.inpaint(inp, image, np.zeros(image.shape[:2], np.float32)), image)


def test_repairer_returns_the_mask(nets, image, tmp_path):
    det, inp = nets
    paths = []
    for model, name, task in ((det, "det", "damage-detect"), (inp, "inp", "inpaint")):
        paths.append(checkpoints.save_checkpoint(tmp_path / f"{name}.safetensors", model, {"task": task}))
    rep = damage.DamageRepairer(*paths, tile=32, threshold=0.5, grow=1)
    out, mask = rep.repair(image)
    assert out.shape == image.shape and mask.shape == image.shape[:2]
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert np.array_equal(out[mask == 0], image[mask == 0])


def test_repairer_refuses_a_model_of_another_task(nets, tmp_path):
    det, inp = nets
    d = checkpoints.save_checkpoint(tmp_path / "det.safetensors", det, {"task": "restore"})
    i = checkpoints.save_checkpoint(tmp_path / "inp.safetensors", inp, {"task": "inpaint"})
    with pytest.raises(checkpoints.CheckpointError):
        damage.DamageRepairer(d, i)


@pytest.fixture
def restorer_weights(nets, tmp_path):
    """A tiny restore generator and the tiny damage networks, saved as checkpoints."""
    from gan_engine.archs.generators import UNet
    from tests.gan._restore_helpers import TINY_GENERATOR

    det, inp = nets
    paths = {"restore": checkpoints.save_checkpoint(tmp_path / "restore.safetensors", UNet(**TINY_GENERATOR),
                                                    {"task": "restore"})}
    paths["detector"] = checkpoints.save_checkpoint(tmp_path / "det.safetensors", det, {"task": "damage-detect"})
    paths["inpainter"] = checkpoints.save_checkpoint(tmp_path / "inp.safetensors", inp, {"task": "inpaint"})
    return paths


def test_restorer_damage_stage_returns_its_mask_and_tiles_exactly(restorer_weights, image):
    from gan_engine.inference.wrappers import Restorer

    plain = Restorer(restorer_weights["restore"], device="cpu")
    assert plain.restore_with_mask(image)[1] is None
    r = Restorer(restorer_weights["restore"], device="cpu", repair_damage=True,
                 detector=restorer_weights["detector"], inpainter=restorer_weights["inpainter"])
    whole, mask = r.restore_with_mask(image, tile=512)
    tiled, mask_t = r.restore_with_mask(image, tile=32)
    assert mask.shape == image.shape[:2] and np.array_equal(mask, mask_t)
    np.testing.assert_allclose(tiled, whole, atol=1e-4)
    np.testing.assert_array_equal(r.restore(image, tile=32), tiled)
    work = image.copy()
    inplace, _ = r.restore_with_mask(work, tile=32, inplace=True)
    np.testing.assert_allclose(inplace, tiled, atol=1e-6)
    # the damage stage changes exactly the masked pixels before the model runs
    repaired, _ = r.damage.repair(image, mask=mask)
    np.testing.assert_allclose(plain.restore(repaired, tile=32), tiled, atol=1e-6)


def test_restore_file_writes_the_mask(restorer_weights, image, tmp_path):
    from PIL import Image

    from gan_engine.inference.wrappers import Restorer

    src = tmp_path / "in.png"
    Image.fromarray((image * 255).astype(np.uint8)).save(src)
    r = Restorer(restorer_weights["restore"], device="cpu", repair_damage=True,
                 detector=restorer_weights["detector"], inpainter=restorer_weights["inpainter"])
    r.restore_file(src, tmp_path / "out.png", mask_out=tmp_path / "mask.png")
    with Image.open(tmp_path / "mask.png") as im:
        assert im.mode == "L" and im.size == (image.shape[1], image.shape[0])
        assert set(np.unique(np.asarray(im))) <= {0, 255}
    with pytest.raises(ValueError):
        Restorer(restorer_weights["restore"], device="cpu").restore_file(src, tmp_path / "o.png",
                                                                         mask_out=tmp_path / "m.png")

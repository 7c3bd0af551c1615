"""gan_engine.inference.wrappers.Restorer: shapes, modes, bit depth, alpha, strips."""

import numpy as np
import pytest
from PIL import Image

from gan_engine.data import imageio
from gan_engine.inference.wrappers import Restorer

from tests.gan._restore_helpers import TINY_GENERATOR, tiny_checkpoint


@pytest.fixture(scope="module")
def restorer(tmp_path_factory):
    return Restorer(tiny_checkpoint(tmp_path_factory.mktemp("w") / "tiny.safetensors"), device="cpu", tile=64)


def _img(h=40, w=52, c=3, seed=0):
    return np.random.default_rng(seed).random((h, w, c), dtype=np.float32)


def test_rgb_keeps_shape_and_range(restorer):
    out = restorer.restore(_img())
    assert out.shape == (40, 52, 3) and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1


def test_grey_in_grey_out(restorer):
    g = _img(c=1)[..., 0]
    assert restorer.restore(g).shape == (40, 52)
    g3 = np.repeat(g[..., None], 3, axis=2)
    out = restorer.restore(g3)
    assert np.allclose(out[..., 0], out[..., 1]) and np.allclose(out[..., 1], out[..., 2])


def test_alpha_passed_through(restorer):
    rgba = _img(c=4)
    out = restorer.restore(rgba)
    assert out.shape == rgba.shape
    assert np.array_equal(out[..., 3], rgba[..., 3])


def test_strips_and_inplace_match_one_pass(restorer):
    img = _img(150, 70, seed=3)
    whole = restorer.restore(img, tile=512)
    striped = restorer.restore(img, tile=64)
    assert np.abs(whole - striped).max() < 1e-4
    buf = img.copy()
    restorer.restore(buf, tile=64, inplace=True)
    assert np.abs(buf - whole).max() < 1e-4


def test_progress_reaches_one(restorer):
    seen = []
    restorer.restore(_img(), progress=seen.append)
    assert seen and seen[-1] == pytest.approx(1.0)


@pytest.mark.parametrize("mode,bits", [("RGB", 8), ("L", 8), ("RGBA", 8), ("RGB16", 16), ("L16", 16)])
def test_restore_file_keeps_mode_and_bit_depth(restorer, tmp_path, mode, bits):
    rng = np.random.default_rng(1)
    src = tmp_path / f"in_{mode}.png"
    if mode == "RGB16":
        imageio.save_image(src, rng.random((30, 34, 3), dtype=np.float32), bit_depth=16)
    elif mode == "L16":
        imageio.save_image(src, np.repeat(rng.random((30, 34, 1), dtype=np.float32), 3, axis=2),
                           bit_depth=16, gray=True)
    else:
        arr = (rng.random((30, 34, 4)) * 255).astype(np.uint8)
        Image.fromarray(arr, "RGBA").convert(mode).save(src)
    before = imageio.load_image(src)
    restorer.restore_file(src, tmp_path / "out.png")
    after = imageio.load_image(tmp_path / "out.png")
    assert after.rgb.shape == before.rgb.shape
    assert after.bit_depth == before.bit_depth == bits
    assert after.is_gray == before.is_gray
    assert (after.alpha is None) == (before.alpha is None)
    if before.alpha is not None:
        assert np.allclose(after.alpha, before.alpha, atol=1 / 255)


def test_missing_weights_raise_checkpoint_error(tmp_path):
    from gan_engine.checkpoints import CheckpointError

    with pytest.raises(CheckpointError):
        Restorer(tmp_path / "nope.safetensors", device="cpu")


def test_unknown_device_raises_value_error(tmp_path):
    with pytest.raises(ValueError):
        Restorer(tiny_checkpoint(tmp_path / "t.safetensors"), device="tpu")


def test_global_stage_uses_the_whole_image_and_tiles_match_one_pass(tmp_path):
    """A GlobalUNet restores by tiles exactly as one pass would: the global parameters come
    from one thumbnail of the whole image (computed band by band), the U-Net runs by tiles."""
    import torch

    from gan_engine import checkpoints
    from gan_engine.archs import generators
    from gan_engine.inference.wrappers import image_thumbnail
    from gan_engine.training.loop import pad_to_multiple

    torch.manual_seed(0)
    model = generators.GlobalUNet(glob={"knots": 8, "width": 4}, local={"base": 4})
    with torch.no_grad():
        model.glob.mlp[-1].bias.normal_(0, 0.5)
    path = checkpoints.save_checkpoint(tmp_path / "g.safetensors", model, {"task": "restore"})
    r = Restorer(path, device="cpu", tile=64)
    img = _img(150, 211, seed=5)
    thumb = image_thumbnail(img, 128)
    with torch.no_grad():
        t = torch.from_numpy(img).permute(2, 0, 1)[None]
        assert np.abs(thumb - r.model.glob.thumbnail(t)[0].permute(1, 2, 0).numpy()).max() < 1e-6
        corrected, h, w = pad_to_multiple(r.model.correct(t), r.model.size_multiple)
        one_pass = r.model.local(corrected)[..., :h, :w].clamp(0, 1)[0].permute(1, 2, 0).numpy()
    tiled = r.restore(img, tile=64)
    assert np.abs(tiled - one_pass).max() < 1e-4
    assert np.abs(tiled - img).max() > 0.05  # the global stage did change the image
    buf = img.copy()
    r.restore(buf, tile=64, inplace=True)
    assert np.abs(buf - one_pass).max() < 1e-4


def test_restorer_refuses_a_model_of_another_task(tmp_path):
    # The card's task is checked as by the other wrappers: a colorizer or upscaler given as
    # restoration weights would run and write nonsense.
    from gan_engine import checkpoints
    from gan_engine.archs import build_generator

    path = checkpoints.save_checkpoint(tmp_path / "sr.safetensors", build_generator("unet", **TINY_GENERATOR),
                                       {"task": "upscale"})
    with pytest.raises(checkpoints.CheckpointError, match="'upscale' model, not a restore model"):
        Restorer(path, device="cpu")


def test_a_card_without_a_task_is_a_restoration_model(tmp_path):
    from gan_engine import checkpoints
    from gan_engine.archs import build_generator
    from gan_engine.inference.wrappers import Colorizer

    path = checkpoints.save_checkpoint(tmp_path / "old.safetensors", build_generator("unet", **TINY_GENERATOR), {})
    assert Restorer(path, device="cpu").card.get("task") is None
    with pytest.raises(checkpoints.CheckpointError, match="'restore' model, not a colorize model"):
        Colorizer(path, device="cpu")


def test_every_wrapper_shares_the_base():
    from gan_engine.inference.base import ModelWrapper
    from gan_engine.inference.style import Stylizer
    from gan_engine.inference.wrappers import Colorizer, Upscaler

    assert {cls.task for cls in (Restorer, Upscaler, Colorizer, Stylizer)} == {"restore", "upscale", "colorize",
                                                                                 "style"}
    assert all(issubclass(cls, ModelWrapper) for cls in (Restorer, Upscaler, Colorizer, Stylizer))

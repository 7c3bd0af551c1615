"""gan_engine.data.imageio: round trips for every mode and depth, EXIF orientation, refusals."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from gan_engine.data.imageio import ImageReadError, apply_orientation, load_image, save_image

SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _exif_bytes(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def _insert_png_chunk(png: bytes, kind: bytes, data: bytes) -> bytes:
    """Insert a chunk right after IHDR (8-byte signature + 25-byte IHDR chunk)."""
    chunk = struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return png[:33] + chunk + png[33:]


@pytest.mark.parametrize("bit_depth", [8, 16])
@pytest.mark.parametrize("gray", [False, True])
@pytest.mark.parametrize("with_alpha", [False, True])
def test_png_round_trip(tmp_path, rng, bit_depth, gray, with_alpha):
    rgb = rng.random((9, 13, 3), dtype=np.float32)
    if gray:
        rgb[:] = rgb[..., :1]
    alpha = rng.random((9, 13), dtype=np.float32) if with_alpha else None
    path = save_image(tmp_path / "out.png", rgb, bit_depth=bit_depth, alpha=alpha, gray=gray, icc_profile=SRGB_ICC)
    loaded = load_image(path)
    step = 1 / (255 if bit_depth == 8 else 65535)
    assert loaded.rgb.shape == (9, 13, 3) and loaded.rgb.dtype == np.float32
    assert np.abs(loaded.rgb - rgb).max() <= step / 2 + 1e-6
    assert (loaded.bit_depth, loaded.is_gray) == (bit_depth, gray)
    assert loaded.icc_profile == SRGB_ICC
    if with_alpha:
        assert np.abs(loaded.alpha - alpha).max() <= step / 2 + 1e-6
    else:
        assert loaded.alpha is None
    # what other readers see: one channel for grey, 16 bits when asked
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == (np.uint8 if bit_depth == 8 else np.uint16)
    channels = 1 if raw.ndim == 2 else raw.shape[2]
    if not (gray and with_alpha):  # OpenCV expands grey + alpha to BGRA
        assert channels == (1 if gray else 3) + with_alpha
    if gray and not with_alpha:
        assert Image.open(path).mode == ("L" if bit_depth == 8 else "I;16")


def test_16_bit_keeps_precision_that_8_bit_would_lose(tmp_path):
    ramp = (32768 + np.arange(65, dtype=np.float32)) / 65535  # 65 levels within one 8-bit step
    rgb = np.repeat(np.repeat(ramp[None, :, None], 3, 2), 4, 0)
    loaded = load_image(save_image(tmp_path / "ramp.png", rgb, bit_depth=16))
    assert len(np.unique(loaded.rgb[0, :, 0])) == 65


def test_16_bit_tiff_from_another_writer(tmp_path, rng):
    rgb16 = (rng.random((6, 8, 3)) * 65535).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "scan.tif"), rgb16[..., ::-1])  # OpenCV writes BGR
    loaded = load_image(tmp_path / "scan.tif")
    assert loaded.bit_depth == 16 and not loaded.is_gray
    assert np.array_equal(np.rint(loaded.rgb * 65535).astype(np.uint16), rgb16)
    grey16 = (rng.random((6, 8)) * 65535).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "grey.tif"), grey16)
    loaded = load_image(tmp_path / "grey.tif")
    assert loaded.is_gray and loaded.bit_depth == 16
    assert np.array_equal(np.rint(loaded.gray * 65535).astype(np.uint16), grey16)


@pytest.mark.parametrize("fmt,mode,lossless", [
    ("JPEG", "RGB", False), ("JPEG", "L", False), ("WEBP", "RGB", True), ("WEBP", "RGBA", True),
    ("TIFF", "RGB", True), ("PNG", "P", True), ("JPEG", "CMYK", False), ("TIFF", "CMYK", True),
])
def test_other_formats_and_modes(tmp_path, rng, fmt, mode, lossless):
    yy, xx = np.mgrid[0:16, 0:24]  # smooth content, so that JPEG's error stays small
    base = np.stack([yy * 15, xx * 10, 255 - xx * 10, np.where(xx > 12, 255, 40)], axis=2).astype(np.uint8)
    image = Image.fromarray(base, "RGBA").convert(mode) if mode != "P" else Image.fromarray(base[..., :3]).quantize(16)
    path = tmp_path / f"img.{fmt.lower()}"
    image.save(path, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}), **({"quality": 95} if fmt == "JPEG" else {}))
    loaded = load_image(path)
    expected = np.asarray(image.convert("RGBA" if mode == "RGBA" else "RGB"), dtype=np.float32) / 255
    assert loaded.is_gray == (mode == "L") and loaded.bit_depth == 8
    assert (loaded.alpha is not None) == (mode == "RGBA")
    tolerance = 1e-6 if lossless else 0.02
    if mode == "CMYK":
        expected = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255
    assert np.abs(loaded.rgb - expected[..., :3]).mean() < tolerance


def test_exif_orientation_is_applied_to_jpeg(tmp_path, rng):
    """Given a camera JPEG stored sideways with orientation 6 ("rotate 90 clockwise"), it loads upright."""
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :10] = 255  # a white band on the stored left edge
    Image.fromarray(stored).save(tmp_path / "cam.jpg", exif=_exif_bytes(6), quality=95)
    loaded = load_image(tmp_path / "cam.jpg")
    assert loaded.rgb.shape == (40, 20, 3)
    assert loaded.rgb[:10].mean() > 0.9 and loaded.rgb[12:].mean() < 0.1  # now along the top


def test_exif_orientation_is_applied_to_16_bit_png(tmp_path, rng):
    """The OpenCV path for 16-bit colour ignores EXIF; the orientation must still be honoured."""
    rgb = rng.random((4, 6, 3), dtype=np.float32)
    path = save_image(tmp_path / "plain.png", rgb, bit_depth=16)
    rotated = tmp_path / "rotated.png"
    rotated.write_bytes(_insert_png_chunk(path.read_bytes(), b"eXIf", _exif_bytes(8)))
    loaded = load_image(rotated)
    assert loaded.bit_depth == 16 and loaded.rgb.shape == (6, 4, 3)
    assert np.abs(loaded.rgb - np.rot90(rgb, 1)).max() < 1e-4


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_pillow(rng, orientation):
    from PIL import ImageOps

    array = (rng.random((3, 5, 3)) * 255).astype(np.uint8)
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = orientation
    image.info["exif"] = exif.tobytes()
    expected = np.asarray(ImageOps.exif_transpose(image))
    assert np.array_equal(apply_orientation(array, orientation), expected)


def test_missing_file_directory_and_non_image(tmp_path):
    with pytest.raises(ImageReadError, match="no such file"):
        load_image(tmp_path / "absent.png")
    with pytest.raises(ImageReadError, match="not a file"):
        load_image(tmp_path)
    (tmp_path / "notes.png").write_text("just text")
    with pytest.raises(ImageReadError, match="not an image"):
        load_image(tmp_path / "notes.png")


@pytest.mark.parametrize("bit_depth", [8, 16])
def test_truncated_png(tmp_path, rng, bit_depth):
    path = save_image(tmp_path / "full.png", rng.random((64, 64, 3), dtype=np.float32), bit_depth=bit_depth)
    data = path.read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="truncated"):
        load_image(cut)


def test_truncated_jpeg(tmp_path, rng):
    Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8)).save(tmp_path / "a.jpg")
    data = (tmp_path / "a.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="truncated"):
        load_image(tmp_path / "cut.jpg")


def test_save_validates_its_arguments(tmp_path):
    rgb = np.zeros((4, 4, 3), np.float32)
    with pytest.raises(ValueError, match="must end in .png"):
        save_image(tmp_path / "x.jpg", rgb)
    with pytest.raises(ValueError, match="bit_depth"):
        save_image(tmp_path / "x.png", rgb, bit_depth=12)
    with pytest.raises(ValueError, match="alpha must be"):
        save_image(tmp_path / "x.png", rgb, alpha=np.zeros((3, 3)))
    # a grey result given as 3 channels is written as one luma channel; values are clipped
    path = save_image(tmp_path / "g.png", np.full((4, 4, 3), 1.5, np.float32), gray=True)
    assert Image.open(path).mode == "L" and np.asarray(Image.open(path)).min() == 255
    assert list(tmp_path.glob(".*tmp")) == []


@pytest.mark.parametrize("compression", [None, "tiff_lzw"])
def test_oriented_tiff_is_turned_once(tmp_path, compression):
    """Pillow >= 13 turns TIFFs by their EXIF orientation on load: load_image must not turn again."""
    from PIL import Image

    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :20] = 255
    im = Image.fromarray(stored)
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(tmp_path / "o.tif", "TIFF", exif=exif, compression=compression)
    rgb = load_image(tmp_path / "o.tif").rgb
    assert rgb.shape == (40, 20, 3)
    assert rgb[:15].mean() > 0.95 and rgb[-15:].mean() < 0.05

"""Access copies (``core.pyramid``) made from real files, and TIFFs built to be slow to open
refused at ingest (``core.imaging.check_tiff_structure``)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import pyvips
from PIL import Image, ImageCms

from restoration.core import imaging, pyramid
from tests.support import upload

PHOTO_SEED = 7


def photo_like(width: int, height: int, seed: int = PHOTO_SEED) -> np.ndarray:
    """(H, W, 3) uint8: smooth shapes with fine grain, so resampling and JPEG are both exercised."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([128 + 100 * np.sin(x / 37 + c) * np.cos(y / 23 - c) for c in (0.0, 1.0, 2.0)], axis=-1)
    return np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)


def _level_sizes(path) -> list[tuple[int, int]]:
    pages = pyvips.Image.new_from_file(str(path)).get("n-pages")
    return [(im.width, im.height) for im in (pyvips.Image.new_from_file(str(path), page=p) for p in range(pages))]


def test_levels_halve_until_one_tile_and_level_zero_is_lossless(tmp_path):
    array = photo_like(1000, 600)
    source = tmp_path / "photo.png"
    Image.fromarray(array).save(source)
    built = pyramid.build(source, tmp_path / "copy.tif", pyramid.PyramidConfig(tile=128, compression="deflate"))
    assert (built.width, built.height, built.bands, built.compression) == (1000, 600, 3, "deflate")
    assert _level_sizes(tmp_path / "copy.tif") == [(1000, 600), (500, 300), (250, 150), (125, 75)]
    assert built.levels == 4
    level0 = pyvips.Image.new_from_file(str(tmp_path / "copy.tif"), page=0)
    assert level0.get("tile-width") == 128 and np.array_equal(level0.numpy(), array)


def test_sixteen_bits_are_scaled_alpha_and_icc_kept(tmp_path):
    rgba16 = np.zeros((40, 60, 4), dtype=np.uint16)
    rgba16[..., 0] = 32896  # 128 in 8 bits, scaled and rounded, not clipped to 255
    rgba16[..., 3] = 65535
    rgba16[:10, :, 3] = 0  # a transparent band on top
    source = tmp_path / "rgba16.tif"
    pyvips.Image.new_from_array(rgba16).copy(interpretation="rgb16").tiffsave(str(source))
    built = pyramid.build(source, tmp_path / "a.tif", pyramid.PyramidConfig(compression="jpeg"))
    assert built.bands == 4 and built.compression == "deflate"  # JPEG in TIFF has no alpha
    pixels = pyvips.Image.new_from_file(str(tmp_path / "a.tif")).numpy()
    assert pixels[20, 20, 0] == 128 and pixels[20, 20, 3] == 255 and pixels[5, 5, 3] == 0

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    grey = tmp_path / "grey.jpg"
    Image.fromarray(photo_like(64, 48)).save(grey, "JPEG", icc_profile=icc)
    built = pyramid.build(grey, tmp_path / "b.tif", pyramid.PyramidConfig(compression="jpeg"))
    assert built.compression == "jpeg"
    _pixels, profile = pyramid.read_region(tmp_path / "b.tif", (0, 0, 64, 48), (32, 24), levels=built.levels)
    assert profile == icc


def test_jpeg_compression_is_smaller_than_deflate_and_close(tmp_path):
    array = photo_like(800, 600)
    source = tmp_path / "photo.png"
    Image.fromarray(array).save(source)
    lossless = pyramid.build(source, tmp_path / "d.tif", pyramid.PyramidConfig(compression="deflate"))
    lossy = pyramid.build(source, tmp_path / "j.tif", pyramid.PyramidConfig())
    assert (lossless.compression, lossy.compression) == ("deflate", "jpeg")
    assert (tmp_path / "j.tif").stat().st_size < (tmp_path / "d.tif").stat().st_size * 0.6
    level0 = pyvips.Image.new_from_file(str(tmp_path / "j.tif")).numpy()
    assert np.abs(level0.astype(int) - array).mean() < 4


def test_bilevel_scans_stay_lossless(tmp_path):
    text = np.full((200, 300), 255, dtype=np.uint8)
    text[50:150:10, 20:280] = 0  # lines of "text"
    source = tmp_path / "page.tif"
    Image.fromarray(text).convert("1").save(source)
    built = pyramid.build(source, tmp_path / "copy.tif", pyramid.PyramidConfig())
    assert built.compression == "deflate" and built.bands == 1
    assert np.array_equal(pyvips.Image.new_from_file(str(tmp_path / "copy.tif")).numpy(), text)


@pytest.mark.parametrize(("scale", "levels", "level"), [(0.5, 5, 0), (1, 5, 0), (1.9, 5, 0), (2, 5, 1), (3.9, 5, 1),
                                                         (4, 5, 2), (100, 5, 4), (8, 1, 0)])
def test_the_level_read_still_has_the_pixels_of_the_output(scale, levels, level):
    assert pyramid.level_for(scale, levels) == level


@pytest.mark.parametrize(
    ("box", "size"),
    [
        ((0, 0, 256, 256), (256, 256)),  # a full-resolution tile: exact
        ((300, 200, 300, 173), (300, 173)),  # an edge tile, unaligned
        ((0, 0, 512, 512), (128, 128)),  # a viewer's tile at scale factor 4 (level 2)
        ((512, 512, 488, 88), (122, 22)),  # the bottom-right tile at factor 4, cut short by the edge
        ((100, 50, 600, 400), (450, 300)),  # a factor of 1.33 (level 0, Lanczos)
        ((10, 10, 100, 60), (400, 240)),  # upscaled
    ],
)
def test_regions_equal_the_original_cut_and_resized(tmp_path, box, size):
    array = photo_like(1000, 600)
    source = tmp_path / "photo.png"
    Image.fromarray(array).save(source)
    built = pyramid.build(source, tmp_path / "copy.tif", pyramid.PyramidConfig(tile=128, compression="deflate"))
    pixels, _icc = pyramid.read_region(tmp_path / "copy.tif", box, size, levels=built.levels)
    x, y, w, h = box
    expected = np.asarray(Image.fromarray(array).resize(size, Image.Resampling.LANCZOS, box=(x, y, x + w, y + h)))
    assert pixels.shape == (size[1], size[0], 3)
    if (w, h) == size:
        assert np.array_equal(pixels, expected)
    else:  # a different resampler (libvips, from a reduced level): close, not equal
        assert np.abs(pixels.astype(int) - expected).mean() < 4


# --- TIFFs built to be slow to open ------------------------------------------------------------

_SHORT, _LONG = 3, 4


def _classic_tiff(pages: list[list[tuple[int, int, int, int]]], *, loop: bool = False) -> bytes:
    """A little-endian TIFF of directories only: each page a list of (tag, type, count, value).
    Counts may claim arrays that the file does not hold: the check must never read them."""
    out = bytearray(b"II*\x00" + struct.pack("<I", 8))
    for index, entries in enumerate(pages):
        start = len(out)
        following = start + 2 + 12 * len(entries) + 4
        out += struct.pack("<H", len(entries))
        for tag, kind, count, value in sorted(entries):
            out += struct.pack("<HHII", tag, kind, count, value)
        last = index == len(pages) - 1
        out += struct.pack("<I", start if (loop and last) else (0 if last else following))
    return bytes(out)


def _page(width: int, height: int, strips: int) -> list[tuple[int, int, int, int]]:
    rows = max(1, height // strips)
    return [(256, _LONG, 1, width), (257, _LONG, 1, height), (258, _SHORT, 1, 8), (259, _SHORT, 1, 1),
            (262, _SHORT, 1, 1), (273, _LONG, strips, 10_000_000), (277, _SHORT, 1, 1), (278, _LONG, 1, rows),
            (279, _LONG, strips, 20_000_000)]


ABSURD_TIFFS = {
    # 8 x 1,000,000 pixels (within the pixel limit) in a million strips: 200 bytes of header.
    "a-million-strips": (_classic_tiff([_page(8, 1_000_000, 1_000_000)]), "too_complex"),
    "too-many-tags": (_classic_tiff([_page(8, 8, 1) + [(40000 + i, _SHORT, 1, 0) for i in range(1500)]]),
                      "too_complex"),
    "too-many-pages": (_classic_tiff([_page(8, 8, 1)] * 1001), "too_complex"),
    "directories-in-a-loop": (_classic_tiff([_page(8, 8, 1)] * 2, loop=True), "corrupt_image"),
    "cut-off-directory": (_classic_tiff([_page(8, 8, 1)])[:40], "corrupt_image"),
}


@pytest.mark.parametrize("name", sorted(ABSURD_TIFFS))
def test_absurd_tiffs_are_refused_from_their_directories(tmp_path, name):
    content, code = ABSURD_TIFFS[name]
    assert len(content) < 200_000  # made cheaply: no strip arrays, no pixels
    path = tmp_path / "absurd.tif"
    path.write_bytes(content)
    with pytest.raises(imaging.ImageRejected) as caught:
        imaging.inspect_image(path, max_pixels=250_000_000)
    assert caught.value.code == code and caught.value.message


def test_ordinary_tiffs_pass_the_structure_check(tmp_path):
    path = tmp_path / "scan.tif"
    frames = [Image.fromarray(photo_like(64, 48, seed)) for seed in range(3)]
    frames[0].save(path, "TIFF", save_all=True, append_images=frames[1:])
    info = imaging.inspect_image(path, max_pixels=10**6)
    assert info.page_count == 3
    with pytest.raises(imaging.ImageRejected):
        imaging.inspect_image(path, max_pixels=10**6, tiff_limits=imaging.TiffLimits(max_pages=2))
    big = tmp_path / "big.tif"
    pyvips.Image.new_from_array(photo_like(64, 48)).tiffsave(str(big), bigtiff=True)
    assert imaging.inspect_image(big, max_pixels=10**6).width == 64  # BigTIFF directories are read too
    with pytest.raises(imaging.ImageRejected):
        imaging.inspect_image(big, max_pixels=10**6, tiff_limits=imaging.TiffLimits(max_tags=5))


@pytest.mark.django_db
def test_an_absurd_tiff_upload_is_a_400_that_leaves_nothing(curator_client, archive_dirs):
    from restoration.models import Item

    content, _code = ABSURD_TIFFS["a-million-strips"]
    response = curator_client.post("/api/items/", {"file": upload(content, "strips.tif", "image/tiff")},
                                   format="multipart")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "too_complex" and "strips" in response.json()["detail"]
    assert Item.objects.count() == 0 and archive_dirs.media_files() == [] and archive_dirs.upload_files() == []


"""restoration.core.imaging: header inspection, display images, streaming digest (no database)."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from conftest import jpeg_claiming, png_claiming, srgb_icc
from PIL import Image

from restoration.core import imaging
from restoration.core.imaging import ImageRejected, inspect_image, make_display_images, sha256_stream

SIZES = {"thumb_size": 32, "access_size": 100, "quality": 90}


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# --- inspect_image --------------------------------------------------------------------------------


def test_inspect_reads_the_stored_bit_depth_not_pillows_mode(make_image):
    info = inspect_image(make_image("rgb16.png", bits=16), max_pixels=10**6)
    assert (info.mode, info.bit_depth) == ("RGB", 16)  # Pillow itself reads it as 8-bit RGB
    info = inspect_image(make_image("rgb16.tif", bits=16, alpha=True), max_pixels=10**6)
    assert (info.mode, info.bit_depth, info.has_alpha) == ("RGBA", 16, True)


def test_inspect_counts_tiff_pages_and_describes_the_first(make_image):
    info = inspect_image(make_image("pages.tif", size=(40, 30), pages=4), max_pixels=10**6)
    assert (info.format, info.page_count, info.width, info.height) == ("TIFF", 4, 40, 30)
    assert info.extension == ".tif" and info.mime_type == "image/tiff"


def test_inspect_reads_bilevel_and_palette_depths(archive_dirs):
    archive_dirs.work.mkdir()
    bilevel = archive_dirs.work / "bilevel.tif"
    Image.new("1", (16, 16)).save(bilevel, "TIFF", compression="group4")
    palette = archive_dirs.work / "palette.png"
    Image.new("P", (16, 16)).save(palette, "PNG", bits=4)
    assert inspect_image(bilevel, max_pixels=10**6).bit_depth == 1
    assert inspect_image(palette, max_pixels=10**6).bit_depth == 8  # palette entries are 8-bit


def test_pixel_limit_is_checked_from_the_header(make_image):
    path = make_image("a.png", size=(100, 50))
    assert inspect_image(path, max_pixels=5000).width == 100
    with pytest.raises(ImageRejected) as caught:
        inspect_image(path, max_pixels=4999)
    assert caught.value.code == "too_many_pixels"


def test_png_claiming_billions_of_pixels_is_refused_before_pillow_opens_it(archive_dirs, monkeypatch):
    archive_dirs.work.mkdir()
    path = archive_dirs.work / "bomb.png"
    path.write_bytes(png_claiming(100_000, 100_000))
    monkeypatch.setattr(imaging.Image, "open", lambda *a, **k: pytest.fail("Pillow opened the bomb"))
    with pytest.raises(ImageRejected) as caught:
        inspect_image(path, max_pixels=250_000_000)
    assert caught.value.code == "too_many_pixels" and "100000x100000" in caught.value.message


def test_jpeg_claiming_billions_of_pixels_is_refused(make_image, archive_dirs):
    path = archive_dirs.work / "bomb.jpg"
    path.write_bytes(jpeg_claiming(make_image("a.jpg").read_bytes(), 60_000, 60_000))
    with pytest.raises(ImageRejected) as caught:
        inspect_image(path, max_pixels=250_000_000)
    assert caught.value.code == "too_many_pixels"


# --- make_display_images --------------------------------------------------------------------------


def test_display_images_fit_the_sizes_and_keep_the_aspect_ratio(make_image):
    thumb, access = make_display_images(make_image("wide.png", size=(1000, 600)), **SIZES)
    assert _open(access).size == (100, 60) and _open(thumb).size == (32, 19)
    assert _open(access).format == "JPEG"


def test_large_jpeg_is_decoded_at_a_reduced_scale(make_image, monkeypatch):
    path = make_image("big.jpg", size=(1600, 1200))
    drafts = []
    original_draft = Image.Image.draft

    def spy(self, mode, size):
        result = original_draft(self, mode, size)
        drafts.append(self.size)
        return result

    monkeypatch.setattr(Image.Image, "draft", spy)
    _, access = make_display_images(path, **SIZES)
    # decoded at a fraction of 1600 x 1200 that still covers 100 x 75
    assert len(drafts) == 1 and 100 <= drafts[0][0] <= 200 and 75 <= drafts[0][1] <= 150
    assert _open(access).size == (100, 75)


def test_exif_orientation_is_applied(make_image):
    # stored 80 wide x 40 high, with "rotate 90 CW to display" (orientation 6)
    path = make_image("portrait.jpg", size=(80, 40), orientation=6)
    _, access = make_display_images(path, **SIZES)
    shown = _open(access)
    assert shown.size == (40, 80)
    assert 0x0112 not in shown.getexif()  # the orientation is applied, not passed on


def test_icc_profile_is_kept(make_image):
    icc = srgb_icc()
    thumb, access = make_display_images(make_image("tagged.png", icc=icc), **SIZES)
    assert _open(access).info.get("icc_profile") == icc
    assert _open(thumb).info.get("icc_profile") == icc


def test_sixteen_bit_grey_is_scaled_not_clipped(make_image):
    path = make_image("grey16.tif", mode="L", bits=16, value=40_000, size=(300, 200))
    _, access = make_display_images(path, **SIZES)
    shown = np.asarray(_open(access), dtype=np.float32)
    assert shown.ndim == 2 and abs(shown.mean() - 40_000 / 257) < 1  # 156, where clipping gives 255


def test_sixteen_bit_colour_is_scaled_not_clipped(make_image):
    path = make_image("rgb16.png", bits=16, value=10_000)
    _, access = make_display_images(path, **SIZES)
    assert abs(np.asarray(_open(access), dtype=np.float32).mean() - 10_000 / 257) < 1


def test_transparency_is_composited_over_white(make_image):
    path = make_image("alpha.png", alpha=True, value=0, size=(80, 40))  # black, left quarter transparent
    _, access = make_display_images(path, **SIZES)
    shown = np.asarray(_open(access).convert("L"), dtype=np.float32)
    assert shown[:, :10].mean() > 245 and shown[:, -10:].mean() < 10


def test_cmyk_is_converted_to_rgb(archive_dirs):
    archive_dirs.work.mkdir()
    path = archive_dirs.work / "cmyk.jpg"
    Image.new("CMYK", (40, 40), (0, 255, 255, 0)).save(path, "JPEG")  # red in CMYK
    _, access = make_display_images(path, **SIZES)
    red, green, blue = _open(access).getpixel((20, 20))
    assert _open(access).mode == "RGB" and red > 200 and green < 60 and blue < 60


def test_palette_with_transparency_and_bilevel_are_displayed(archive_dirs):
    archive_dirs.work.mkdir()
    palette = archive_dirs.work / "palette.png"
    image = Image.new("P", (20, 20), 1)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.save(palette, transparency=0)
    bilevel = archive_dirs.work / "bilevel.tif"
    Image.new("1", (20, 20), 1).save(bilevel, "TIFF")
    assert _open(make_display_images(palette, **SIZES)[1]).getpixel((5, 5))[0] > 200
    assert _open(make_display_images(bilevel, **SIZES)[1]).getpixel((5, 5)) > 240


def test_thirty_two_bit_integer_images_from_sixteen_bit_data_are_scaled():
    image = Image.fromarray(np.full((40, 60), 30_000, dtype=np.int32))
    assert image.mode == "I"
    small = imaging._shrink(image, (10, 6), bits=16)
    assert small.mode == "L" and abs(np.asarray(small).mean() - 30_000 / 257) < 1


@pytest.mark.parametrize("name", ["cut.png", "cut.jpg", "cut.tif", "cut.webp"])
def test_truncated_files_are_refused_when_decoded(name, make_image):
    path = make_image(name, size=(200, 150))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ImageRejected) as caught:
        inspect_image(path, max_pixels=10**6)
        make_display_images(path, **SIZES)
    assert caught.value.code == "corrupt_image"


# --- sha256_stream --------------------------------------------------------------------------------


def test_sha256_stream_hashes_and_copies_in_chunks():
    data = bytes(range(256)) * 5000
    sink = io.BytesIO()
    digest, size = sha256_stream(io.BytesIO(data), chunk=1000, sink=sink)
    assert digest == hashlib.sha256(data).hexdigest() and size == len(data) and sink.getvalue() == data


def test_sha256_stream_stops_past_the_limit():
    source = io.BytesIO(b"x" * 10_000)
    with pytest.raises(ImageRejected) as caught:
        sha256_stream(source, chunk=1000, max_bytes=2500)
    assert caught.value.code == "file_too_large" and source.tell() == 3000


# --- The strip-wise path for uncompressed TIFF ------------------------------------------------------


def _smooth(height: int, width: int, channels: int, dtype) -> np.ndarray:
    maximum = np.iinfo(dtype).max
    y = np.linspace(0, 1, height)[:, None, None]
    x = np.linspace(0, 1, width)[None, :, None]
    c = np.linspace(0.3, 1, channels)[None, None, :]
    return ((0.7 * x + 0.3 * y) * c * maximum).astype(dtype)


STRIP_LAYOUTS = [
    # id, (height, width, channels, dtype), tifffile options
    ("rgb8-strips-of-7", (90, 130, 3, np.uint8), {"photometric": "rgb", "rowsperstrip": 7}),
    ("rgb16-big-endian", (90, 130, 3, np.uint16), {"photometric": "rgb", "rowsperstrip": 5, "byteorder": ">"}),
    ("grey16-one-strip", (90, 130, 1, np.uint16), {"photometric": "minisblack", "rowsperstrip": 90}),
    ("rgba16-alpha", (90, 130, 4, np.uint16), {"photometric": "rgb", "rowsperstrip": 16, "extrasamples": ["unassalpha"]}),
    ("grey8-min-is-white", (90, 130, 1, np.uint8), {"photometric": "miniswhite", "rowsperstrip": 10}),
]


@pytest.mark.parametrize("shape, options", [layout[1:] for layout in STRIP_LAYOUTS], ids=[s[0] for s in STRIP_LAYOUTS])
def test_uncompressed_tiff_is_read_by_strips_and_matches_pillow(shape, options, archive_dirs, monkeypatch):
    tifffile = pytest.importorskip("tifffile")
    archive_dirs.work.mkdir()
    path = archive_dirs.work / "strips.tif"
    height, width, channels, dtype = shape
    data = _smooth(height, width, channels, dtype)
    if channels == 4:
        data[..., 3] = np.iinfo(dtype).max
    tifffile.imwrite(path, data if channels > 1 else data[..., 0], **options)
    with Image.open(path) as im:
        assert imaging.tiff_strips(path, im) is not None

    _, by_strips = make_display_images(path, **SIZES)
    monkeypatch.setattr(imaging, "tiff_strips", lambda path, im: None)
    _, by_pillow = make_display_images(path, **SIZES)

    strips_image, pillow_image = _open(by_strips), _open(by_pillow)
    assert strips_image.size == pillow_image.size == (100, 69) and strips_image.mode == pillow_image.mode
    difference = np.abs(np.asarray(strips_image, dtype=np.float32) - np.asarray(pillow_image, dtype=np.float32))
    assert difference.mean() < 2.0


def test_compressed_tiff_is_left_to_pillow(make_image, archive_dirs):
    archive_dirs.work.mkdir(exist_ok=True)
    path = archive_dirs.work / "lzw.tif"
    Image.new("RGB", (20, 10)).save(path, "TIFF", compression="tiff_lzw")
    with Image.open(path) as im:
        assert imaging.tiff_strips(path, im) is None


def test_strip_wise_reading_reads_bands_not_the_whole_file(make_image, monkeypatch):
    path = make_image("tall.tif", size=(200, 3000))
    monkeypatch.setattr(imaging, "BAND_BYTES", 200 * 3 * 100)  # about 100 rows per band
    reads = []
    original = imaging.read_rows

    def spy(fh, layout, top, bottom):
        reads.append(bottom - top)
        return original(fh, layout, top, bottom)

    monkeypatch.setattr(imaging, "read_rows", spy)
    _, access = make_display_images(path, **SIZES)
    assert len(reads) > 10 and max(reads) < 200 and sum(reads) == 3000
    assert _open(access).size == (7, 100)


@pytest.mark.parametrize("compression", [None, "tiff_lzw"])
def test_oriented_tiff_is_turned_once(tmp_path, compression):
    """Pillow >= 13 turns a TIFF by its EXIF orientation while loading; the access copy must be
    upright like a JPEG's with the same tag (not turned twice, nor with swapped sides)."""
    import io

    import numpy as np
    from PIL import Image

    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :20] = 255  # the stored left half is white; orientation 6 shows it at the top
    im = Image.fromarray(stored)
    exif = im.getexif()
    exif[0x0112] = 6
    path = tmp_path / "o.tif"
    im.save(path, "TIFF", exif=exif, compression=compression)
    _, access = imaging.make_display_images(path, thumb_size=64, access_size=64, quality=90)
    shown = np.asarray(Image.open(io.BytesIO(access)).convert("L"), np.float32)
    assert shown.shape == (40, 20)
    assert shown[:15].mean() > 240 and shown[-15:].mean() < 15

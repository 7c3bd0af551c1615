"""IIIF Image API 3.0: cutting the requested image out of a version's access copy or, when it
has none, out of its stored file, and encoding it. No Django import: the views pass in paths
and openers.

``render_pyramid`` (the usual path): the access copy (``restoration.core.pyramid``, a tiled,
pyramidal TIFF made at ingest) is read at the one level that has enough pixels, and of it only
the tiles that cross the region: time and memory follow the size of the output, not of the image.

``render`` (the direct path, for a version whose access copy libvips could not make): Pillow,
and the archive's strip reader in ``restoration.core.imaging``; the stored pixels are decoded at
most once per request.

- JPEG: ``Image.draft`` decodes at 1/2, 1/4 or 1/8 scale when the output still has enough
  pixels (one reduced decode of the whole file).
- Uncompressed striped TIFF (the usual archival master): only the strips that cross the
  region are read, a band of rows at a time, each band box-reduced before the next is read,
  so a tile of a 200-megapixel scan reads a few rows and a thumbnail of it never holds more
  than one band at full resolution.
- Other files (PNG, WebP, compressed TIFF): decoded whole, once, then cropped and resampled in
  one ``Image.resize(box=...)``.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable

import numpy as np
from PIL import Image

from restoration.core import imaging, pyramid
from restoration.core.imaging import ORIENTATION_TRANSPOSE as _ORIENTATION_TRANSPOSE  # one table
from restoration.core.imaging import profile_space
from restoration.interop.iiif.image import FORMATS, Box, ImageRequest, SourceInfo

Opener = Callable[[], Image.Image]
_EXIF_ORIENTATION = 0x0112
# IIIF rotates clockwise; Pillow's ROTATE_n turns counter-clockwise.
_CLOCKWISE = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}
_GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})


# --- Reading the stored file ------------------------------------------------------------------


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation (1 to 8) the pixels still need, 1 when none or unreadable.

    Never decodes: Pillow's ``getexif`` loads a whole PNG to look for an eXIf chunk after the
    image data, so for PNG only a chunk before the data counts (read when the file is opened).
    """
    try:
        if im.format == "PNG":
            raw = im.info.get("exif")
            if not raw:
                return 1
            exif = Image.Exif()
            exif.load(raw)
        else:
            exif = im.getexif()
        value = exif.get(_EXIF_ORIENTATION, 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block shows the image as stored
        return 1
    return value if value in _ORIENTATION_TRANSPOSE else 1


def _oriented_on_load(im: Image.Image) -> bool:
    """Whether Pillow itself applies the orientation when loading (recent Pillow, for TIFF) and so
    already reports the displayed size: the size stored in the file's tags is then turned."""
    return im.format == "TIFF" and tuple(imaging.stored_size(im)) != tuple(im.size)


def read_source(open_image: Opener) -> SourceInfo:
    """Displayed size, colour and format of the first page, from the header only."""
    with open_image() as im:
        width, height = im.size
        if _orientation(im) in (5, 6, 7, 8) and not _oriented_on_load(im):
            width, height = height, width
        return SourceInfo(width=width, height=height, is_color=im.mode not in _GREY_MODES, format=im.format or "")


def _strip_layout(im: Image.Image) -> imaging.TiffStrips | None:
    """The strip layout (``core.imaging``'s reader) when ``im`` can be read a band of rows at a
    time: an uncompressed striped TIFF opened from a file, shown as stored; else None (Pillow
    decodes it whole)."""
    if im.format != "TIFF" or not getattr(im, "filename", None) or _orientation(im) != 1:
        return None
    if _oriented_on_load(im):
        return None
    return imaging.tiff_strips(im.filename, im)


def _displayable(im: Image.Image) -> Image.Image:
    """``im`` in "L", "LA", "RGB" or "RGBA" (16-bit grey scaled to 8 bits, palettes expanded)."""
    mode = im.mode
    if mode in ("L", "LA", "RGB", "RGBA"):
        return im
    if mode.startswith("I;16") or mode in ("I", "F"):
        values = np.asarray(im, dtype=np.float32)
        scaled = values / 257.0 if (mode.startswith("I;16") or float(np.max(values, initial=0)) > 255) else values
        return Image.fromarray(np.clip(scaled + 0.5, 0, 255).astype(np.uint8))
    if mode == "1":
        return im.convert("L")
    if mode in ("P", "PA"):
        return im.convert("RGBA" if mode == "PA" or "transparency" in im.info else "RGB")
    if mode in ("La",):
        return im.convert("LA")
    if mode in ("RGBa",):
        return im.convert("RGBA")
    return im.convert("RGB")


def _stored_box(box: Box, orientation: int, width: int, height: int) -> Box:
    """The rectangle of the stored pixels (``width`` x ``height``, before the EXIF orientation)
    that shows as ``box`` once the orientation is applied."""
    x, y, w, h = box.x, box.y, box.w, box.h
    return {
        1: Box(x, y, w, h),
        2: Box(width - x - w, y, w, h),
        3: Box(width - x - w, height - y - h, w, h),
        4: Box(x, height - y - h, w, h),
        5: Box(y, x, h, w),
        6: Box(y, height - x - w, h, w),
        7: Box(width - y - h, height - x - w, h, w),
        8: Box(width - y - h, x, h, w),
    }[orientation]


def _render_whole(im: Image.Image, box: Box, size: tuple[int, int]) -> Image.Image:
    """Decodes ``im`` once (reduced for JPEG), then crops and resamples; returns it upright."""
    full_w, full_h = im.size  # in the orientation the loaded pixels will have
    orientation = _orientation(im)
    scale = min(box.w / size[0], box.h / size[1])
    if im.format == "JPEG" and scale >= 2:
        im.draft(im.mode, (math.ceil(full_w / scale), math.ceil(full_h / scale)))
    im.load()
    # What Pillow did not apply while loading (recent Pillow turns TIFF pages itself and then
    # drops the tag); an orientation first seen after loading is ignored, as read_source did.
    pending = orientation if _orientation(im) == orientation else 1
    swap = pending in (5, 6, 7, 8)
    stored = _stored_box(box, pending, full_w, full_h)
    out = (size[1], size[0]) if swap else size
    loaded = _displayable(im)
    fx, fy = loaded.width / full_w, loaded.height / full_h
    if (fx, fy) == (1.0, 1.0) and (stored.w, stored.h) == out:
        picture = loaded.crop((stored.x, stored.y, stored.x + stored.w, stored.y + stored.h))
    else:
        region = (stored.x * fx, stored.y * fy, (stored.x + stored.w) * fx, (stored.y + stored.h) * fy)
        picture = loaded.resize(out, Image.Resampling.LANCZOS, box=region, reducing_gap=3.0)
    if pending != 1:
        picture = picture.transpose(_ORIENTATION_TRANSPOSE[pending])
    return picture


def _render_strips(path: str, layout: imaging.TiffStrips, box: Box, size: tuple[int, int]) -> Image.Image:
    """Reads the region's rows a band at a time (``imaging.read_rows``), box-reducing each band
    before the next."""
    factor = max(1, int(min(box.w / size[0], box.h / size[1])))
    band_rows = max(factor, (imaging.BAND_BYTES // layout.row_bytes) // factor * factor)
    canvas: Image.Image | None = None
    with open(path, "rb") as fh:
        for top in range(box.y, box.y + box.h, band_rows):
            bottom = min(top + band_rows, box.y + box.h)
            rows = imaging.read_rows(fh, layout, top, bottom)[:, box.x : box.x + box.w]
            band = imaging.rows_to_image(rows, layout)
            if factor > 1:
                band = band.reduce(factor)
            if canvas is None:
                canvas = Image.new(band.mode, (math.ceil(box.w / factor), math.ceil(box.h / factor)))
            canvas.paste(band, (0, (top - box.y) // factor))
    assert canvas is not None  # the region has at least one row
    if canvas.size == size:
        return canvas
    return canvas.resize(size, Image.Resampling.LANCZOS, box=(0, 0, box.w / factor, box.h / factor))


def _flatten(im: Image.Image) -> Image.Image:
    """Transparency composited over white."""
    if im.mode not in ("LA", "RGBA"):
        return im
    base = im.mode[:-1]
    background = Image.new(base, im.size, 255 if base == "L" else (255, 255, 255))
    background.paste(im.convert(base), mask=im.getchannel("A"))
    return background


def _apply_quality(im: Image.Image, quality: str) -> Image.Image:
    if quality == "gray":
        return im.convert("LA" if im.mode in ("LA", "RGBA") else "L") if im.mode not in ("L", "LA") else im
    if quality == "bitonal":
        return _flatten(im).convert("L").convert("1")
    return im  # default and color: as stored (colour requests on grey images are refused earlier)


def render_pyramid(path: str | os.PathLike, levels: int, request: ImageRequest) -> tuple[Image.Image, bytes | None]:
    """The requested image cut from the access copy at ``path`` (of ``levels`` levels), and the
    copy's ICC profile (None when it has none)."""
    box = request.region
    pixels, icc = pyramid.read_region(path, (box.x, box.y, box.w, box.h), (request.width, request.height),
                                      levels=levels)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    return _finish(Image.fromarray(np.ascontiguousarray(pixels)), request), icc


def render(open_image: Opener, request: ImageRequest) -> tuple[Image.Image, bytes | None]:
    """The requested image cut from the stored file itself (the direct path), and the file's ICC
    profile (None when it has none)."""
    with open_image() as im:
        icc = im.info.get("icc_profile")
        layout = _strip_layout(im)
        size = (request.width, request.height)
        if layout is not None:
            picture = _render_strips(im.filename, layout, request.region, size)
        else:
            picture = _render_whole(im, request.region, size)
    return _finish(picture, request), icc


def _finish(picture: Image.Image, request: ImageRequest) -> Image.Image:
    """Mirroring, rotation and quality, applied to the cut image."""
    if request.mirror:
        picture = picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if request.rotation:
        picture = picture.transpose(_CLOCKWISE[request.rotation])
    return _apply_quality(picture, request.quality)


def encode(im: Image.Image, fmt: str, *, icc_profile: bytes | None = None, jpeg_quality: int = 85) -> bytes:
    """``im`` as ``fmt`` ("jpg", "png" or "webp") bytes; the ICC profile kept where it fits."""
    if fmt == "jpg":
        im = _flatten(im)
        if im.mode == "1":
            im = im.convert("L")
    elif fmt == "webp" and im.mode not in ("RGB", "RGBA"):
        im = im.convert("RGBA" if im.mode == "LA" else "RGB")
    space = profile_space(icc_profile)
    fits = (space == "RGB" and im.mode in ("RGB", "RGBA")) or (space == "GRAY" and im.mode in ("L", "LA"))
    params: dict = {"icc_profile": icc_profile} if fits else {}
    if fmt in ("jpg", "webp"):
        params["quality"] = jpeg_quality
    buffer = io.BytesIO()
    im.save(buffer, FORMATS[fmt][1], **params)
    return buffer.getvalue()

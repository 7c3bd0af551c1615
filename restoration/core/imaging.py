"""Image files as the archive sees them: what a file is, its display images, its digest.

Pure functions over paths and file objects, with no Django import: the ingest service and the
fixity audit call them with values taken from settings.

- ``inspect_image`` reads headers only (never the pixels): format, size, mode, the bit depth
  *as stored in the file* (Pillow reads a 16-bit RGB PNG or TIFF as 8-bit RGB, so the depth is
  read from the PNG IHDR chunk or the TIFF BitsPerSample tag) and the number of pages. It
  refuses decompression bombs from the header, before anything is decoded.
- ``make_display_images`` decodes the first page once and returns a thumbnail and an access
  JPEG, with the EXIF orientation applied and the ICC profile kept. Decoding errors (a truncated
  or corrupt file) are refused here.
- ``sha256_stream`` hashes a stream in chunks, optionally copying it and stopping past a size.

Memory: a JPEG is decoded at a reduced DCT scale (``Image.draft``). An uncompressed, striped
TIFF (the usual archival master) is read a band of rows at a time and averaged down with numpy,
so its peak does not grow with the image. Other files (PNG, WebP, compressed TIFF) are decoded
whole by Pillow at 8 bits per channel (4 bytes per pixel for RGB, 1 for grey, 2 for 16-bit grey)
and then shrunk with ``Image.reduce``; for those, the full decode dominates the peak.
"""

from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import dataclass
from os import PathLike
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageCms, UnidentifiedImageError

CHUNK_SIZE = 1024 * 1024

# The archive's formats, by Pillow's format name: MIME type and the extension files are stored with.
FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", ".jpg"),
    "PNG": ("image/png", ".png"),
    "TIFF": ("image/tiff", ".tif"),
    "WEBP": ("image/webp", ".webp"),
}

# Bits per channel the archive accepts (1 for bilevel scans, 2 and 4 for small grey PNGs).
ACCEPTED_BIT_DEPTHS = frozenset({1, 2, 4, 8, 16})

_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_EXIF_ORIENTATION = 0x0112
# TIFF tags read for the strip-wise path (TIFF 6.0 numbers).
_TIFF_BITS_PER_SAMPLE = 258
_TIFF_COMPRESSION = 259
_TIFF_PHOTOMETRIC = 262
_TIFF_STRIP_OFFSETS = 273
_TIFF_SAMPLES_PER_PIXEL = 277
_TIFF_ROWS_PER_STRIP = 278
_TIFF_STRIP_BYTE_COUNTS = 279
_TIFF_PLANAR_CONFIGURATION = 284
_TIFF_TILE_WIDTH = 322
_TIFF_EXTRA_SAMPLES = 338
# Raw bytes read per band by the strip-wise TIFF path.
# Rows read at a time by the strip reader (display images and IIIF regions alike).
BAND_BYTES = 4 * 1024 * 1024
# EXIF orientation value -> the transpose that displays the image upright.
ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# TIFF tags whose count is the number of strips or tiles of a page.
_TIFF_CHUNK_TAGS = frozenset({_TIFF_STRIP_OFFSETS, _TIFF_STRIP_BYTE_COUNTS, 324, 325})  # + TileOffsets, TileByteCounts
# What Pillow raises on files it cannot read through; anything else is a bug and propagates.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, struct.error, TypeError)

PathType = str | PathLike


class ImageRejected(Exception):
    """A file the archive refuses; ``code`` is one of the ingest error codes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class TiffLimits:
    """Structure a TIFF may have before the archive refuses it (checked from the raw directory
    entries, before Pillow or libvips parse them): every page's tags, strips or tiles are read
    by both, so a file of 8 x 1,000,000 pixels in a million strips would cost seconds on every
    open although it has few pixels."""

    max_tags: int = 1000  # directory entries per page (a scanner writes a few dozen)
    max_chunks: int = 100_000  # strips or tiles per page
    max_pages: int = 1000  # pages (image file directories)


@dataclass(frozen=True)
class ImageInfo:
    """Technical metadata of an image file (of its first page for width, height and mode)."""

    format: str  # Pillow's name: "JPEG", "PNG", "TIFF" or "WEBP"
    mime_type: str
    width: int
    height: int
    mode: str  # Pillow mode of the first page as opened, e.g. "RGB", "I;16", "RGBA"
    bit_depth: int  # bits per channel as stored in the file
    page_count: int
    has_alpha: bool

    @property
    def extension(self) -> str:
        return FORMATS[self.format][1]


# --- Digest -------------------------------------------------------------------------------------


def sha256_stream(
    fileobj: BinaryIO,
    chunk: int = CHUNK_SIZE,
    *,
    sink: BinaryIO | None = None,
    max_bytes: int | None = None,
) -> tuple[str, int]:
    """SHA-256 (hex) and length of what ``fileobj`` yields from its current position.

    Reads ``chunk`` bytes at a time, so the file is never held in memory. With ``sink``, every
    chunk is also written there (one pass to copy and hash). With ``max_bytes``, raises
    ``ImageRejected("file_too_large")`` as soon as more than that many bytes have been read.
    """
    digest = hashlib.sha256()
    size = 0
    while True:
        block = fileobj.read(chunk)
        if not block:
            break
        size += len(block)
        if max_bytes is not None and size > max_bytes:
            raise ImageRejected("file_too_large", f"The file is larger than the limit of {max_bytes} bytes.")
        digest.update(block)
        if sink is not None:
            sink.write(block)
    return digest.hexdigest(), size


# --- Inspection -----------------------------------------------------------------------------------


def _sniff(head: bytes) -> str | None:
    """The archive format a file's first bytes announce, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


# Bytes of an upload looked at before the rest is received (the first chunk of Django's upload
# handlers is 64 KiB): enough for every accepted format's signature and most headers.
HEAD_BYTES = 64 * 1024


def refuse_head(head: bytes) -> ImageRejected | None:
    """The refusal that the first bytes of a file already decide, else None.

    Called on an upload's first chunk, before the rest is received: a file that does not start
    like a JPEG, PNG, TIFF or WebP is refused at once (``unsupported_format`` when Pillow knows
    the header as another image format, else ``not_an_image``). Whatever passes is checked in
    full by ``inspect_image`` once received.
    """
    if not head or _sniff(head) is not None:
        return None
    try:
        with Image.open(io.BytesIO(head)) as other:
            name = other.format or "this"
    except Image.DecompressionBombError:
        name = "this"
    except (UnidentifiedImageError, *_DECODE_ERRORS):
        return ImageRejected("not_an_image", "The file is not an image.")
    accepted = ", ".join(sorted(FORMATS))
    return ImageRejected("unsupported_format", f"{name} images are not accepted; the archive takes {accepted}.")


def _png_header(head: bytes) -> tuple[int, int, int, int]:
    """Width, height, bit depth and colour type from a PNG's IHDR chunk (bytes 8 to 33)."""
    if len(head) < 33 or head[12:16] != b"IHDR":
        raise ImageRejected("corrupt_image", "The PNG file has no valid header (IHDR chunk).")
    width, height, bit_depth, colour_type = struct.unpack(">IIBB", head[16:26])
    return width, height, bit_depth, colour_type


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageRejected("corrupt_image", f"The image header gives an invalid size {width}x{height}.")
    if width * height > max_pixels:
        raise ImageRejected(
            "too_many_pixels",
            f"The image is {width}x{height} = {width * height} pixels, over the limit of {max_pixels} "
            "(refused before decoding, as a possible decompression bomb).",
        )


def _stored_bit_depth(im: Image.Image, fmt: str, png_depth: int | None, png_colour_type: int | None) -> int:
    if fmt == "PNG" and png_depth is not None:
        # A palette's entries are 8-bit whatever the width of the indices.
        return 8 if png_colour_type == 3 else png_depth
    if fmt == "TIFF":
        bits = im.tag_v2.get(_TIFF_BITS_PER_SAMPLE, 1)  # TIFF's default is 1 (bilevel)
        if isinstance(bits, tuple):
            return max(int(b) for b in bits) if bits else 1
        return int(bits)
    if fmt == "JPEG":
        return int(getattr(im, "bits", 8))
    return 8  # WebP is always 8 bits per channel


def _unsupported_message(path: PathType) -> ImageRejected | None:
    """An ``unsupported_format`` refusal if Pillow knows the file as another format."""
    try:
        with Image.open(path) as other:
            name = other.format or "this"
    except Image.DecompressionBombError:
        name = "this"
    except (UnidentifiedImageError, *_DECODE_ERRORS):
        return None
    accepted = ", ".join(sorted(FORMATS))
    return ImageRejected("unsupported_format", f"{name} images are not accepted; the archive takes {accepted}.")


def check_tiff_structure(path: PathType, limits: TiffLimits) -> None:
    """Refuses (``too_complex``) a TIFF with more pages, directory entries per page or strips /
    tiles per page than ``limits`` allow, or (``corrupt_image``) one whose directories loop or
    are cut off. Reads only the directory entries (a few bytes per tag): never the strip arrays."""
    with open(path, "rb") as fh:
        head = fh.read(16)
        order = {b"II": "<", b"MM": ">"}.get(head[:2])
        if order is None or len(head) < 8:
            raise ImageRejected("corrupt_image", "The TIFF header is cut off.")
        big = struct.unpack(order + "H", head[2:4])[0] == 43
        if big:
            count_fmt, entry_size, count_size, offset_fmt = "Q", 20, 8, "Q"
            offset = struct.unpack(order + "Q", head[8:16])[0]
        else:
            count_fmt, entry_size, count_size, offset_fmt = "H", 12, 2, "I"
            offset = struct.unpack(order + "I", head[4:8])[0]
        seen: set[int] = set()
        while offset:
            if offset in seen:
                raise ImageRejected("corrupt_image", "The TIFF file's directories form a loop.")
            seen.add(offset)
            if len(seen) > limits.max_pages:
                raise ImageRejected("too_complex", f"The TIFF file has more than {limits.max_pages} pages.")
            fh.seek(offset)
            raw = fh.read(count_size)
            if len(raw) != count_size:
                raise ImageRejected("corrupt_image", "A TIFF directory lies outside the file.")
            entries = struct.unpack(order + count_fmt, raw)[0]
            if entries > limits.max_tags:
                raise ImageRejected(
                    "too_complex", f"Page {len(seen)} of the TIFF file has {entries} tags, over the limit of "
                    f"{limits.max_tags}.",
                )
            table = fh.read(entries * entry_size)
            next_raw = fh.read(8 if big else 4)
            if len(table) != entries * entry_size or len(next_raw) != (8 if big else 4):
                raise ImageRejected("corrupt_image", "A TIFF directory is cut off.")
            for start in range(0, len(table), entry_size):
                tag = struct.unpack(order + "H", table[start : start + 2])[0]
                if tag in _TIFF_CHUNK_TAGS:
                    field = table[start + 4 : start + 4 + struct.calcsize(offset_fmt)]  # the count: LONG or LONG8
                    count = struct.unpack(order + offset_fmt, field)[0]
                    if count > limits.max_chunks:
                        raise ImageRejected(
                            "too_complex", f"Page {len(seen)} of the TIFF file is cut into {count} strips or tiles, "
                            f"over the limit of {limits.max_chunks} (a file built to be slow to open).",
                        )
            offset = struct.unpack(order + offset_fmt, next_raw)[0]


def inspect_image(path: PathType, *, max_pixels: int, tiff_limits: TiffLimits | None = None) -> ImageInfo:
    """Technical metadata of the image at ``path``, read from its headers only.

    Raises ``ImageRejected`` with code ``empty_file``, ``not_an_image``, ``unsupported_format``,
    ``corrupt_image`` (an unreadable header), ``too_many_pixels`` (width x height of the
    first page over ``max_pixels``, checked before any pixel is decoded) or ``too_complex`` (a
    TIFF over ``tiff_limits``, default ``TiffLimits()``, checked before Pillow parses it).
    """
    with open(path, "rb") as fh:
        head = fh.read(64)
    if not head:
        raise ImageRejected("empty_file", "The file is empty.")
    fmt = _sniff(head)
    if fmt is None:
        raise _unsupported_message(path) or ImageRejected("not_an_image", "The file is not an image.")

    if fmt == "TIFF":
        check_tiff_structure(path, tiff_limits or TiffLimits())
    png_depth = png_colour_type = None
    if fmt == "PNG":
        # Checked from the raw header, so a PNG claiming billions of pixels never reaches Pillow.
        width, height, png_depth, png_colour_type = _png_header(head)
        _check_pixels(width, height, max_pixels)

    try:
        with Image.open(path, formats=[fmt]) as im:
            _check_pixels(im.width, im.height, max_pixels)
            bit_depth = _stored_bit_depth(im, fmt, png_depth, png_colour_type)
            page_count = int(getattr(im, "n_frames", 1))
            has_alpha = im.mode in _ALPHA_MODES or "transparency" in im.info
            info = ImageInfo(
                format=fmt,
                mime_type=FORMATS[fmt][0],
                width=im.width,
                height=im.height,
                mode=im.mode,
                bit_depth=bit_depth,
                page_count=page_count,
                has_alpha=has_alpha,
            )
    except Image.DecompressionBombError as exc:
        raise ImageRejected("too_many_pixels", f"The image has too many pixels: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise ImageRejected("corrupt_image", f"The file looks like {fmt} but cannot be read.") from exc
    except _DECODE_ERRORS as exc:
        raise ImageRejected("corrupt_image", f"The {fmt} file is corrupt: {exc}") from exc

    if info.bit_depth not in ACCEPTED_BIT_DEPTHS:
        raise ImageRejected(
            "unsupported_format", f"{info.bit_depth}-bit {fmt} images are not accepted (1 to 16 bits per channel)."
        )
    return info


# --- Display images -------------------------------------------------------------------------------


def _fit(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """``size`` scaled down (never up) so that its longer side is at most ``long_side``."""
    width, height = size
    if max(width, height) <= long_side:
        return width, height
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _reduce_16bit_grey(im: Image.Image, factor: int, bits: int, band_blocks: int = 64) -> Image.Image:
    """An "I;16"-family image averaged over ``factor`` x ``factor`` blocks, as 8-bit "L".

    Pillow neither reduces these modes nor converts them to "L" without clipping at 255, so the
    averaging is done with numpy, a band of rows at a time (no full-size copy).
    """
    width, height = im.size
    out_w, out_h = -(-width // factor), -(-height // factor)
    out = np.empty((out_h, out_w), dtype=np.uint8)
    scale = 255 / ((1 << max(bits, 8)) - 1)  # full scale to 255
    band = factor * band_blocks
    for top in range(0, height, band):
        rows = np.asarray(im.crop((0, top, width, min(top + band, height))), dtype=np.float32)
        pad_h, pad_w = (-rows.shape[0]) % factor, (-width) % factor
        if pad_h or pad_w:
            rows = np.pad(rows, ((0, pad_h), (0, pad_w)), mode="edge")
        blocks = rows.reshape(rows.shape[0] // factor, factor, rows.shape[1] // factor, factor).mean(axis=(1, 3))
        first = top // factor
        out[first : first + blocks.shape[0]] = np.clip(blocks * scale + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(out)


def _shrink(im: Image.Image, target: tuple[int, int], bits: int) -> Image.Image:
    """``im`` (loaded) brought near ``target`` by integer box reduction, in a mode Pillow can resize.

    The result keeps at least twice the target size where it can, so the final Lanczos resize
    still has detail to work with. Modes without ``reduce`` support are converted first.
    """
    factor = max(1, int(min(im.width / (2 * target[0]), im.height / (2 * target[1]))))
    if im.mode.startswith("I;16"):
        return _reduce_16bit_grey(im, factor, bits)
    if im.mode == "1":
        im = im.convert("L")
    elif im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode == "PA":
        im = im.convert("RGBA")
    elif im.mode == "I" and bits > 8:
        # 16-bit data opened as 32-bit integers: reduce first, then scale to 8 bits.
        small = im.reduce(factor) if factor > 1 else im
        return small.point(lambda v: v * (255 / ((1 << bits) - 1)) + 0.5).convert("L")
    return im.reduce(factor) if factor > 1 else im


@dataclass(frozen=True)
class TiffStrips:
    """Where the rows of an uncompressed, chunky, striped TIFF page lie in its file."""

    width: int
    height: int
    samples: int  # samples per pixel kept (an unused extra sample is dropped)
    stored_samples: int
    dtype: np.dtype  # one sample, with the file's byte order
    offsets: tuple[int, ...]
    rows_per_strip: int
    min_is_white: bool

    @property
    def row_bytes(self) -> int:
        return self.width * self.stored_samples * self.dtype.itemsize


def stored_size(im: Image.Image) -> tuple[int, int]:
    """(width, height) as stored in the file. Pillow 13 reports a TIFF's size already turned by its
    EXIF orientation (and turns the pixels on load); the strip reader sees the stored layout."""
    if im.format == "TIFF" and hasattr(im, "tag_v2"):
        w, h = im.tag_v2.get(256), im.tag_v2.get(257)
        if isinstance(w, int) and isinstance(h, int):
            return w, h
    return im.size


def pillow_oriented(im: Image.Image, orientation: int) -> bool:
    """Whether Pillow applied the EXIF orientation while loading (Pillow >= 13 does for TIFF and
    then removes the tag from the page's tags); the caller must not turn the pixels again."""
    return (im.format == "TIFF" and orientation not in (None, 1) and hasattr(im, "tag_v2")
            and _EXIF_ORIENTATION not in im.tag_v2)


def tiff_strips(path: PathType, im: Image.Image) -> TiffStrips | None:
    """The layout of the first page if the strip-wise path can read it, else None (Pillow decodes)."""
    tags = im.tag_v2

    def one(tag: int, default=None):
        value = tags.get(tag, default)
        return value[0] if isinstance(value, tuple) and len(value) == 1 else value

    bits = tags.get(_TIFF_BITS_PER_SAMPLE, (1,))
    bits = bits if isinstance(bits, tuple) else (bits,)
    samples = int(one(_TIFF_SAMPLES_PER_PIXEL, 1))
    photometric = one(_TIFF_PHOTOMETRIC)
    extra = one(_TIFF_EXTRA_SAMPLES, 0)
    offsets = tags.get(_TIFF_STRIP_OFFSETS)
    if (
        one(_TIFF_COMPRESSION, 1) != 1
        or one(_TIFF_PLANAR_CONFIGURATION, 1) != 1
        or _TIFF_TILE_WIDTH in tags
        or not offsets
        or len(set(bits)) != 1
        or bits[0] not in (8, 16)
        or len(bits) != samples
        or (photometric, samples) not in ((0, 1), (1, 1), (0, 2), (1, 2), (2, 3), (2, 4))
        or (samples in (2, 4) and extra not in (0, 2))  # associated alpha: left to Pillow
    ):
        return None
    with open(path, "rb") as fh:
        order = {b"II": "<", b"MM": ">"}.get(fh.read(2))
    if order is None:
        return None
    keep = samples if samples in (1, 3) or extra == 2 else samples - 1
    width, height = stored_size(im)
    return TiffStrips(
        width=width,
        height=height,
        samples=keep,
        stored_samples=samples,
        dtype=np.dtype(f"{order}u{bits[0] // 8}"),
        offsets=tuple(int(o) for o in (offsets if isinstance(offsets, tuple) else (offsets,))),
        rows_per_strip=min(int(one(_TIFF_ROWS_PER_STRIP, im.height)), im.height),
        min_is_white=photometric == 0,
    )


def read_rows(fh: BinaryIO, layout: TiffStrips, top: int, bottom: int) -> np.ndarray:
    """Rows ``top`` to ``bottom`` of the page as (rows, width, stored samples), from their strips."""
    parts = []
    row = top
    while row < bottom:
        strip, within = divmod(row, layout.rows_per_strip)
        count = min(bottom - row, layout.rows_per_strip - within)
        fh.seek(layout.offsets[strip] + within * layout.row_bytes)
        data = fh.read(count * layout.row_bytes)
        if len(data) != count * layout.row_bytes:
            raise ImageRejected("corrupt_image", "The TIFF file is truncated: image data is missing.")
        parts.append(np.frombuffer(data, dtype=layout.dtype).reshape(count, layout.width, layout.stored_samples))
        row += count
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def rows_to_image(rows: np.ndarray, layout: TiffStrips) -> Image.Image:
    """Rows from ``read_rows`` as an 8-bit image ("L", "LA", "RGB" or "RGBA"): an unused extra
    sample dropped, 16-bit scaled to 8 (65535 -> 255), min-is-white grey inverted."""
    rows = rows[..., : layout.samples]
    if layout.dtype.itemsize == 2:
        rows = np.clip(rows.astype(np.float32) / 257.0 + 0.5, 0, 255).astype(np.uint8)
    else:
        rows = np.ascontiguousarray(rows, dtype=np.uint8)
    if layout.min_is_white:
        rows = rows.copy()
        rows[..., 0] = 255 - rows[..., 0]
    return Image.fromarray(rows if layout.samples > 1 else rows[..., 0])


def _reduce_tiff_strips(path: PathType, layout: TiffStrips, target: tuple[int, int]) -> Image.Image:
    """The page averaged over factor x factor blocks (the result still covers ``target``), as 8-bit.

    Reads about ``BAND_BYTES`` of rows at a time; memory stays near that plus the small result.
    """
    width, height = layout.width, layout.height
    factor = max(1, int(min(width / target[0], height / target[1])))
    if len(layout.offsets) < -(-height // layout.rows_per_strip):
        raise ImageRejected("corrupt_image", "The TIFF file has fewer strips than its height needs.")
    out = np.empty((-(-height // factor), -(-width // factor), layout.samples), dtype=np.uint8)
    scale = 1 / 257 if layout.dtype.itemsize == 2 else 1.0  # 65535 -> 255
    blocks_per_band = max(1, BAND_BYTES // (factor * layout.row_bytes))
    pad_w = (-width) % factor
    accumulator = np.uint32 if factor * factor * 65535 < 2**32 else np.uint64
    with open(path, "rb") as fh:
        for top in range(0, height, factor * blocks_per_band):
            bottom = min(top + factor * blocks_per_band, height)
            rows = read_rows(fh, layout, top, bottom)[..., : layout.samples]
            pad_h = (-rows.shape[0]) % factor
            if pad_h or pad_w:
                rows = np.pad(rows, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
            h, w = rows.shape[0] // factor, rows.shape[1] // factor
            # Integer block sums (no float copy of the band), then one scaling of the small result.
            sums = rows.reshape(h, factor, w, factor, layout.samples).sum(axis=(1, 3), dtype=accumulator)
            first = top // factor
            out[first : first + h] = np.clip(sums * (scale / factor**2) + 0.5, 0, 255).astype(np.uint8)
    if layout.min_is_white:
        out[..., 0] = 255 - out[..., 0]
    return Image.fromarray(out if layout.samples > 1 else out[..., 0])


def profile_space(icc: bytes | None) -> str | None:
    """The colour space an ICC profile describes ("RGB", "GRAY", "CMYK", ...), None if unreadable."""
    if not icc:
        return None
    try:
        return ImageCms.ImageCmsProfile(io.BytesIO(icc)).profile.xcolor_space.strip()
    except (OSError, ImageCms.PyCMSError, ValueError, TypeError):
        return None


def _srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _flatten(im: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """``im`` as "RGB" or "L" for JPEG (alpha composited over white) and the profile to embed.

    An RGB or grey profile is kept as it is, with the pixels it describes. Other colour spaces
    (CMYK, Lab) are converted to sRGB through their profile when they have one.
    """
    space = profile_space(icc)
    if im.mode in ("RGBA", "RGBa", "LA", "La"):
        base = "RGB" if im.mode.startswith("RGB") else "L"
        background = Image.new(base, im.size, 255 if base == "L" else (255, 255, 255))
        background.paste(im.convert(base), mask=im.getchannel("A"))
        im = background
    elif im.mode not in ("RGB", "L"):
        if space not in (None, "RGB", "GRAY"):
            try:
                srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
                source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
                converted = ImageCms.profileToProfile(im, source, srgb, outputMode="RGB")
                return converted, _srgb_profile()
            except (ImageCms.PyCMSError, OSError, ValueError):
                pass
        try:
            im = im.convert("RGB")
        except ValueError as exc:
            raise ImageRejected("unsupported_format", f"Images in mode {im.mode} cannot be displayed.") from exc
        return im, (icc if space == "RGB" else None)

    if space == "RGB":
        return (im if im.mode == "RGB" else im.convert("RGB")), icc
    if space == "GRAY":
        return (im, icc) if im.mode == "L" else (im, None)  # a grey profile cannot describe RGB pixels
    return im, None  # no profile, or one that cannot be read


def _jpeg(im: Image.Image, icc: bytes | None, quality: int) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality, optimize=True, icc_profile=icc)
    return buf.getvalue()


def make_display_images(path: PathType, *, thumb_size: int, access_size: int, quality: int) -> tuple[bytes, bytes]:
    """(thumbnail JPEG, access JPEG) for the first page of the image at ``path``.

    The access image's longer side is ``access_size`` (the thumbnail's ``thumb_size``), never
    enlarged; the EXIF orientation is applied and the ICC profile embedded. 16-bit data is
    scaled to 8 bits (not clipped) and transparency is composited over white. Raises
    ``ImageRejected("corrupt_image")`` when the pixels cannot be decoded (e.g. a truncated file).
    """
    try:
        with Image.open(path) as im:
            icc = im.info.get("icc_profile")
            orientation = im.getexif().get(_EXIF_ORIENTATION, 1)
            fmt = im.format
            bits = _stored_bit_depth(im, fmt, None, None) if fmt in ("TIFF", "JPEG") else 8
            if fmt == "PNG" and im.mode.startswith("I"):
                bits = 16
            strips = tiff_strips(path, im) if fmt == "TIFF" else None
            oriented = False  # whether the decoded pixels are already upright
            if strips is not None:  # the stored (not yet oriented) layout
                access_size_px = _fit(stored_size(im), access_size)
                small = _reduce_tiff_strips(path, strips, access_size_px)
            else:
                access_size_px = _fit(im.size, access_size)
                if fmt == "JPEG":
                    # Decode at 1/2, 1/4 or 1/8 scale when that still covers the access size.
                    im.draft(im.mode, access_size_px)
                im.load()
                oriented = pillow_oriented(im, orientation)
                access_size_px = _fit(im.size, access_size)
                small = _shrink(im, access_size_px, bits)
    except ImageRejected:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageRejected("too_many_pixels", f"The image has too many pixels: {exc}") from exc
    except (UnidentifiedImageError, *_DECODE_ERRORS) as exc:
        raise ImageRejected("corrupt_image", f"The image cannot be decoded: {exc}") from exc

    small, icc_out = _flatten(small, icc)
    access = small if small.size == access_size_px else small.resize(access_size_px, Image.Resampling.LANCZOS)
    if orientation in ORIENTATION_TRANSPOSE and not oriented:
        access = access.transpose(ORIENTATION_TRANSPOSE[orientation])
    thumbnail = access.copy()
    thumbnail.thumbnail((thumb_size, thumb_size), Image.Resampling.LANCZOS)
    return _jpeg(thumbnail, icc_out, quality), _jpeg(access, icc_out, quality)

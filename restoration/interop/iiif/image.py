"""IIIF Image API 3.0 as pure functions: parsing a request, its canonical form, ``info.json``,
and cutting the requested image out of a stored file with Pillow. No Django import: the views
pass in an opener for the stored file and the limits from settings.

A request is ``{region}/{size}/{rotation}/{quality}.{format}`` (https://iiif.io/api/image/3.0/):

- region: ``full``, ``square``, ``x,y,w,h``, ``pct:x,y,w,h`` (clipped to the image; a region of
  no pixels, or one wholly outside the image, is an error);
- size: ``max``, ``w,``, ``,h``, ``pct:n``, ``w,h``, ``!w,h``, each also with ``^`` (upscaling);
- rotation: ``0``, ``90``, ``180``, ``270``, each also with ``!`` (mirrored first); other
  angles are valid IIIF but not implemented here (501);
- quality: ``default``, ``color`` (colour images), ``gray``, ``bitonal``; format ``jpg``,
  ``png``, ``webp``.

Coordinates are those of the image as displayed, with its EXIF orientation applied.

Decoding: the stored pixels are decoded at most once per request.

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
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from restoration.core import imaging
from restoration.core.imaging import ORIENTATION_TRANSPOSE as _ORIENTATION_TRANSPOSE  # one table
from restoration.core.imaging import profile_space

API_CONTEXT = "http://iiif.io/api/image/3/context.json"
PROTOCOL = "http://iiif.io/api/image"
PROFILE = "level2"
PROFILE_URI = "http://iiif.io/api/image/3/level2.json"
# Output formats: IIIF name -> (MIME type, Pillow format). Level 2 requires jpg and png.
FORMATS: dict[str, tuple[str, str]] = {
    "jpg": ("image/jpeg", "JPEG"),
    "png": ("image/png", "PNG"),
    "webp": ("image/webp", "WEBP"),
}
EXTRA_FORMATS = ("webp",)
QUALITIES = ("default", "color", "gray", "bitonal")
# Features beyond level 2 (level 2 itself: regions by pixels, percent and square; sizes by w, h,
# w,h, !w,h and percent; rotation by 90s; base URI redirect, CORS, JSON-LD media type).
EXTRA_FEATURES = ("mirroring", "sizeUpscaling", "canonicalLinkHeader", "profileLinkHeader")

_EXIF_ORIENTATION = 0x0112
# IIIF rotates clockwise; Pillow's ROTATE_n turns counter-clockwise.
_CLOCKWISE = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}
_GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
# Raw bytes of full-resolution rows read per band on the strip-wise TIFF path.

_INT = re.compile(r"\d+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_ROTATION = re.compile(r"(!)?(\d+(?:\.\d+)?)")

Opener = Callable[[], Image.Image]


class RequestError(ValueError):
    """A request the service refuses: ``status`` 400 (malformed or impossible) or 501 (valid
    IIIF that this service does not implement); ``parameter`` names the path segment."""

    def __init__(self, parameter: str, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return f"{self.parameter}: {self.message}"


@dataclass(frozen=True)
class Limits:
    """Largest output the service returns (None: no limit on that measure)."""

    max_width: int | None = None
    max_height: int | None = None
    max_area: int | None = None

    def scale_for(self, width: int, height: int) -> float:
        """The largest factor by which a ``width`` x ``height`` image may be scaled."""
        scales = [math.inf]
        if self.max_width:
            scales.append(self.max_width / width)
        if self.max_height:
            scales.append(self.max_height / height)
        if self.max_area:
            scales.append(math.sqrt(self.max_area / (width * height)))
        return min(scales)

    def allows(self, width: int, height: int) -> bool:
        return (
            (not self.max_width or width <= self.max_width)
            and (not self.max_height or height <= self.max_height)
            and (not self.max_area or width * height <= self.max_area)
        )


@dataclass(frozen=True)
class Box:
    """A rectangle of pixels: left, top, width, height."""

    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class SourceInfo:
    """What the service needs to know about a stored image, read from its header."""

    width: int  # as displayed: EXIF orientation applied
    height: int
    is_color: bool
    format: str  # Pillow's format name


@dataclass(frozen=True)
class ImageRequest:
    """A parsed, validated request; ``width`` x ``height`` is the output before rotation."""

    region: Box
    width: int
    height: int
    upscaled: bool
    mirror: bool
    rotation: int  # 0, 90, 180 or 270, clockwise
    quality: str
    format: str

    @property
    def media_type(self) -> str:
        return FORMATS[self.format][0]


# --- Parsing ----------------------------------------------------------------------------------


def parse_region(text: str, width: int, height: int) -> Box:
    """The region of a ``width`` x ``height`` image that ``text`` names, clipped to the image."""
    if text == "full":
        return Box(0, 0, width, height)
    if text == "square":
        side = min(width, height)
        return Box((width - side) // 2, (height - side) // 2, side, side)
    percent = text.startswith("pct:")
    parts = (text[4:] if percent else text).split(",")
    pattern = _NUMBER if percent else _INT
    if len(parts) != 4 or not all(pattern.fullmatch(p) for p in parts):
        raise RequestError(
            "region", f"{text!r} is not a region: use full, square, x,y,w,h or pct:x,y,w,h (non-negative numbers)."
        )
    if percent:
        px, py, pw, ph = (float(p) for p in parts)
        # Edges rounded, not sizes: adjacent percent regions share their edge pixels exactly.
        x, y = round(px * width / 100), round(py * height / 100)
        w, h = round((px + pw) * width / 100) - x, round((py + ph) * height / 100) - y
        if pw == 0 or ph == 0:
            w = h = 0
    else:
        x, y, w, h = (int(p) for p in parts)
    if w <= 0 or h <= 0:
        raise RequestError("region", f"The region {text!r} has no pixels (width and height must be above zero).")
    if x >= width or y >= height:
        raise RequestError("region", f"The region {text!r} lies outside the image ({width} x {height} pixels).")
    return Box(x, y, min(w, width - x), min(h, height - y))


def _positive_int(text: str, what: str) -> int:
    if not _INT.fullmatch(text) or int(text) == 0:
        raise RequestError("size", f"The {what} {text!r} is not a positive whole number.")
    return int(text)


def parse_size(text: str, region_width: int, region_height: int, limits: Limits) -> tuple[int, int, bool]:
    """(width, height, upscaled) of the output for a region of the given size."""
    rw, rh = region_width, region_height
    upscale = text.startswith("^")
    body = text[1:] if upscale else text
    cap = limits.scale_for(rw, rh)
    if body == "max":
        scale = min(cap, math.inf if upscale else 1.0)
        if scale == math.inf:
            scale = 1.0  # ^max without limits: the region's own size
        width, height = (rw, rh) if scale == 1.0 else (max(1, math.floor(rw * scale)), max(1, math.floor(rh * scale)))
    elif body.startswith("pct:"):
        if not _NUMBER.fullmatch(body[4:]):
            raise RequestError("size", f"{text!r}: pct: takes a non-negative number.")
        percent = float(body[4:])
        if percent <= 0:
            raise RequestError("size", f"{text!r}: the percentage must be above zero.")
        width, height = round(rw * percent / 100), round(rh * percent / 100)
    elif "," in body:
        confined = body.startswith("!")
        w_text, h_text = (body[1:] if confined else body).split(",", 1)
        if confined:
            bound_w, bound_h = _positive_int(w_text, "width"), _positive_int(h_text, "height")
            scale = min(bound_w / rw, bound_h / rh, cap, math.inf if upscale else 1.0)
            width = min(bound_w, max(1, round(rw * scale)))
            height = min(bound_h, max(1, round(rh * scale)))
        elif w_text and h_text:
            width, height = _positive_int(w_text, "width"), _positive_int(h_text, "height")
        elif w_text:
            width = _positive_int(w_text, "width")
            height = max(1, round(rh * width / rw))
        elif h_text:
            height = _positive_int(h_text, "height")
            width = max(1, round(rw * height / rh))
        else:
            raise RequestError("size", f"{text!r} names neither a width nor a height.")
    else:
        raise RequestError("size", f"{text!r} is not a size: use max, w,, ,h, w,h, !w,h or pct:n (each may start with ^).")
    if width <= 0 or height <= 0:
        raise RequestError("size", f"{text!r} gives an image of no pixels.")
    upscaled = width > rw or height > rh
    if upscaled and not upscale:
        raise RequestError(
            "size", f"{text!r} is larger than the region ({rw} x {rh}); prefix the size with ^ to upscale."
        )
    if not limits.allows(width, height):
        raise RequestError("size", f"{width} x {height} is over the service's size limits (see info.json).")
    return width, height, upscaled


def parse_rotation(text: str) -> tuple[bool, int]:
    """(mirrored, clockwise degrees in 0, 90, 180, 270)."""
    match = _ROTATION.fullmatch(text)
    if match is None:
        raise RequestError("rotation", f"{text!r} is not a rotation: a number of degrees from 0 to 360, optionally after !.")
    degrees = float(match.group(2))
    if degrees > 360:
        raise RequestError("rotation", f"{text!r}: rotation must be between 0 and 360 degrees.")
    degrees %= 360
    if degrees not in (0, 90, 180, 270):
        raise RequestError("rotation", f"Rotation by {text!r}: only multiples of 90 degrees are implemented.", status=501)
    return match.group(1) == "!", int(degrees)


def parse_quality_format(text: str, *, is_color: bool) -> tuple[str, str]:
    """(quality, format) from the last path segment, e.g. ``default.jpg``."""
    quality, dot, fmt = text.rpartition(".")
    if not dot or not quality:
        raise RequestError("quality", f"{text!r} is not {{quality}}.{{format}}, such as default.jpg.")
    if quality not in QUALITIES:
        raise RequestError("quality", f"Unknown quality {quality!r}; qualities are {', '.join(QUALITIES)}.")
    if quality == "color" and not is_color:
        raise RequestError("quality", "This image has no colour: use default, gray or bitonal.")
    if fmt not in FORMATS:
        raise RequestError("format", f"Format {fmt!r} is not offered; formats are {', '.join(FORMATS)}.")
    return quality, fmt


def parse_request(
    region: str, size: str, rotation: str, quality_format: str, source: SourceInfo, limits: Limits
) -> ImageRequest:
    """Validates the four path segments against the image; raises ``RequestError``."""
    box = parse_region(region, source.width, source.height)
    width, height, upscaled = parse_size(size, box.w, box.h, limits)
    mirror, degrees = parse_rotation(rotation)
    quality, fmt = parse_quality_format(quality_format, is_color=source.is_color)
    return ImageRequest(box, width, height, upscaled, mirror, degrees, quality, fmt)


def canonical_path(request: ImageRequest, source: SourceInfo, limits: Limits) -> str:
    """The request in the canonical URI syntax (Image API 3.0, section 4.7)."""
    box = request.region
    region = "full" if box == Box(0, 0, source.width, source.height) else f"{box.x},{box.y},{box.w},{box.h}"
    max_width, max_height, _ = parse_size("max", box.w, box.h, limits)
    if request.upscaled:
        size = f"^{request.width},{request.height}"
    elif (request.width, request.height) == (max_width, max_height):
        size = "max"
    else:
        size = f"{request.width},{request.height}"
    rotation = f"{'!' if request.mirror else ''}{request.rotation}"
    return f"{region}/{size}/{rotation}/{request.quality}.{request.format}"


# --- info.json --------------------------------------------------------------------------------


def scale_factors(width: int, height: int, tile: int) -> list[int]:
    """Powers of two from 1 until the whole image fits in one tile."""
    factors = [1]
    while math.ceil(width / factors[-1]) > tile or math.ceil(height / factors[-1]) > tile:
        factors.append(factors[-1] * 2)
    return factors


def info_document(service_id: str, source: SourceInfo, limits: Limits, *, tile: int, rights: str | None = None) -> dict:
    """The ``info.json`` of one image (Image API 3.0, section 5)."""
    factors = scale_factors(source.width, source.height, tile)
    sizes = []
    for factor in reversed(factors):
        width, height = math.ceil(source.width / factor), math.ceil(source.height / factor)
        if limits.allows(width, height):
            sizes.append({"type": "Size", "width": width, "height": height})
    info: dict = {
        "@context": API_CONTEXT,
        "id": service_id,
        "type": "ImageService3",
        "protocol": PROTOCOL,
        "profile": PROFILE,
        "width": source.width,
        "height": source.height,
    }
    if limits.max_width:
        info["maxWidth"] = limits.max_width
        info["maxHeight"] = limits.max_height or limits.max_width
    if limits.max_area:
        info["maxArea"] = limits.max_area
    info["sizes"] = sizes
    info["tiles"] = [{"type": "Tile", "width": tile, "height": tile, "scaleFactors": factors}]
    info["extraQualities"] = ["color", "gray", "bitonal"] if source.is_color else ["gray", "bitonal"]
    info["extraFormats"] = list(EXTRA_FORMATS)
    info["extraFeatures"] = list(EXTRA_FEATURES)
    if rights:
        info["rights"] = rights
    return info


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


def render(open_image: Opener, request: ImageRequest) -> tuple[Image.Image, bytes | None]:
    """The requested image and the ICC profile of the stored file (None when it has none)."""
    with open_image() as im:
        icc = im.info.get("icc_profile")
        layout = _strip_layout(im)
        size = (request.width, request.height)
        if layout is not None:
            picture = _render_strips(im.filename, layout, request.region, size)
        else:
            picture = _render_whole(im, request.region, size)
    if request.mirror:
        picture = picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if request.rotation:
        picture = picture.transpose(_CLOCKWISE[request.rotation])
    return _apply_quality(picture, request.quality), icc


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

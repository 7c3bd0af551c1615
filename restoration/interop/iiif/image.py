"""IIIF Image API 3.0 as pure functions: parsing a request, its canonical form, ``info.json``.
No Django import: the views pass in the limits from settings.

A request is ``{region}/{size}/{rotation}/{quality}.{format}`` (https://iiif.io/api/image/3.0/):

- region: ``full``, ``square``, ``x,y,w,h``, ``pct:x,y,w,h`` (clipped to the image; a region of
  no pixels, or one wholly outside the image, is an error);
- size: ``max``, ``w,``, ``,h``, ``pct:n``, ``w,h``, ``!w,h``, each also with ``^`` (upscaling);
- rotation: ``0``, ``90``, ``180``, ``270``, each also with ``!`` (mirrored first); other
  angles are valid IIIF but not implemented here (501);
- quality: ``default``, ``color`` (colour images), ``gray``, ``bitonal``; format ``jpg``,
  ``png``, ``webp``.

Coordinates are those of the image as displayed, with its EXIF orientation applied.

Every number is checked before it is used: at most ``MAX_DIGITS`` digits before the decimal
point (no image is a trillion pixels wide; longer numbers are refused before they are parsed),
sizes above zero, and the output within the service's ``Limits`` and within what the format
can hold (``FORMAT_MAX_SIDE``: JPEG 65,500 pixels a side, WebP 16,383). Anything else is a 400.

Cutting the image out of the stored file is ``render.py``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

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
# Largest side each format can encode (JPEG's 16-bit dimensions, less libjpeg's margin; WebP's 14 bits).
FORMAT_MAX_SIDE: dict[str, int] = {"jpg": 65_500, "webp": 16_383}
# Longest whole part of a number in a request; more is refused before it is parsed.
MAX_DIGITS = 12
QUALITIES = ("default", "color", "gray", "bitonal")
# Features beyond level 2 (level 2 itself: regions by pixels, percent and square; sizes by w, h,
# w,h, !w,h and percent; rotation by 90s; base URI redirect, CORS, JSON-LD media type).
EXTRA_FEATURES = ("mirroring", "sizeUpscaling", "canonicalLinkHeader", "profileLinkHeader")

_INT = re.compile(r"\d+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_ROTATION = re.compile(r"(!)?(\d+(?:\.\d+)?)")


def _within_digits(text: str) -> bool:
    """Whether a number's whole part and fraction have at most ``MAX_DIGITS`` digits each."""
    whole, _dot, fraction = text.partition(".")
    return len(whole) <= MAX_DIGITS and len(fraction) <= MAX_DIGITS



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
    if not all(_within_digits(p) for p in parts):
        raise RequestError("region", f"{text[:40]!r}...: a number has more than {MAX_DIGITS} digits.")
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
    if not _INT.fullmatch(text):
        raise RequestError("size", f"The {what} {text[:40]!r} is not a positive whole number.")
    if not _within_digits(text):
        raise RequestError("size", f"The {what} {text[:40]!r}... has more than {MAX_DIGITS} digits.")
    if int(text) == 0:
        raise RequestError("size", f"The {what} must be above zero.")
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
            raise RequestError("size", f"{text[:40]!r}: pct: takes a non-negative number.")
        if not _within_digits(body[4:]):
            raise RequestError("size", f"{text[:40]!r}...: the percentage has more than {MAX_DIGITS} digits.")
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
        raise RequestError(
            "size", f"{text[:40]!r} is not a size: use max, w,, ,h, w,h, !w,h or pct:n (each may start with ^)."
        )
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
    if match is None or not _within_digits(match.group(2)):
        raise RequestError(
            "rotation", f"{text[:40]!r} is not a rotation: a number of degrees from 0 to 360, optionally after !."
        )
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
    longest = FORMAT_MAX_SIDE.get(fmt)
    if longest is not None and max(width, height) > longest:
        raise RequestError(
            "size", f"{width} x {height} is larger than {fmt} can hold ({longest} pixels a side); ask for a smaller "
            "size or another format.",
        )
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

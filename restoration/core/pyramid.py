"""Access copies: a tiled, pyramidal TIFF made from a stored image with libvips, and the reading
of one region of it at one size. Pure functions over paths, no Django import.

Image servers in this field (IIPImage, Cantaloupe) serve deep zoom from such a file: level 0 is
the image as displayed, each further level (a further page of the TIFF) half the previous one,
every level cut into square tiles. A request for a region at a size opens the one level that
still has enough pixels and reads only the tiles that cross the region, so a 512 px tile of a
100-megapixel scan costs about what a 512 px tile of a small image costs, in time and memory.

The access copy is not the archival file (that is never modified): it is the image as the IIIF
service shows it, rebuilt at will from the original.

- upright: the EXIF / TIFF orientation is applied (regions are in displayed coordinates);
- 8 bits per channel: 16-bit data is scaled (65535 -> 255, rounded), never clipped, as the
  display images and the direct path of the IIIF service do;
- grey stays grey (1 or 2 bands), colour is RGB (3 or 4 bands; CMYK converted to sRGB),
  transparency is kept, the ICC profile is kept (only it: no EXIF, XMP or other metadata);
- only the first page of a multi-page file.

Compression (``PyramidConfig.compression``): ``jpeg`` at quality 90 (the default), because the
copy is for viewing, not preservation (the archival file stays untouched and downloadable) and
it is what IIIF servers in this field read: on a 100 MP photo-like image it is made 8 times
faster than a lossless copy and takes half the disk (``bench/iiif_tiles.py``), and its loss is
small beside the service's own JPEG output at 85. Images with transparency and bilevel scans
(1 bit per sample: text, line art, where JPEG rings) are always written ``deflate``.
``deflate`` (lossless) keeps level 0 pixel-identical to the 8-bit image, for archives whose PNG
cuts must be exactly the original's pixels.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from os import PathLike

import numpy as np

logger = logging.getLogger(__name__)

PathType = str | PathLike
COMPRESSIONS = ("deflate", "jpeg")
_EIGHT_BIT_SCALE = 1 / 257  # 65535 -> 255


class PyramidError(Exception):
    """libvips could not read the source or write the access copy."""


@dataclass(frozen=True)
class PyramidConfig:
    """How access copies are written."""

    tile: int = 256  # tile side in pixels (libvips writes square tiles, a multiple of 16)
    compression: str = "jpeg"  # "jpeg" (lossy, half the size, 8 times faster) or "deflate" (lossless)
    quality: int = 90  # JPEG quality when compression is "jpeg"

    def __post_init__(self) -> None:
        if self.compression not in COMPRESSIONS:
            raise ValueError(f"compression must be one of {COMPRESSIONS}, not {self.compression!r}")
        if self.tile < 16 or self.tile % 16:
            raise ValueError("the tile side must be a multiple of 16")


@dataclass(frozen=True)
class PyramidInfo:
    """What the IIIF service needs to know about an access copy."""

    width: int  # level 0, as displayed (orientation applied)
    height: int
    bands: int  # 1 grey, 2 grey + alpha, 3 RGB, 4 RGB + alpha
    levels: int  # pages of the pyramid, level 0 first
    compression: str  # as written: "deflate" or "jpeg"
    tile: int  # tile side in pixels

    @property
    def is_color(self) -> bool:
        return self.bands >= 3


def _vips():
    """pyvips, imported on first use (it loads libvips; the web process needs it only for IIIF)."""
    import pyvips

    return pyvips


def _orientation(image) -> int:
    value = image.get("orientation") if image.get_typeof("orientation") else 1
    return value if value in range(1, 9) else 1


def _displayable(image):
    """``image`` upright, 8-bit, grey or sRGB, with its alpha and ICC profile (see the module)."""
    pyvips = _vips()
    if _orientation(image) != 1:
        image = image.autorot()
    if image.interpretation == "cmyk":
        try:
            image = image.icc_transform("srgb", embedded=True) if image.get_typeof("icc-profile-data") else (
                image.colourspace("srgb"))
        except pyvips.Error:
            image = image.colourspace("srgb")
    if image.bands > 4:
        image = image.extract_band(0, n=3)
    if image.format == "ushort":
        image = (image * _EIGHT_BIT_SCALE + 0.5).cast("uchar")  # cast truncates: + 0.5 rounds
    elif image.format != "uchar":
        image = image.cast("uchar")
    interpretation = "b-w" if image.bands <= 2 else "srgb"
    return image.copy(interpretation=interpretation)


def build(source: PathType, destination: PathType, config: PyramidConfig) -> PyramidInfo:
    """Writes the access copy of the first page of ``source`` to ``destination`` (BigTIFF, tiled,
    one page per level). Streams the source where its format allows: memory stays near a few
    rows of tiles, except for turned (EXIF-oriented) images, which libvips reads whole first."""
    pyvips = _vips()
    try:
        header = pyvips.Image.new_from_file(str(source))
        access = "sequential" if _orientation(header) == 1 else "random"
        bilevel = header.get_typeof("bits-per-sample") and header.get("bits-per-sample") == 1
        image = _displayable(pyvips.Image.new_from_file(str(source), access=access))
        compression = config.compression if image.bands in (1, 3) and not bilevel else "deflate"
        options = {"Q": config.quality} if compression == "jpeg" else {"predictor": "horizontal"}
        image.tiffsave(
            str(destination), tile=True, pyramid=True, tile_width=config.tile, tile_height=config.tile,
            bigtiff=True, compression=compression, keep="icc", **options,
        )
        levels = pyvips.Image.new_from_file(str(destination)).get("n-pages")
    except pyvips.Error as exc:
        raise PyramidError(f"libvips could not make an access copy of {source}: {exc}") from exc
    return PyramidInfo(width=image.width, height=image.height, bands=image.bands, levels=levels,
                       compression=compression, tile=config.tile)


def level_for(scale: float, levels: int) -> int:
    """The pyramid level to read for an output ``scale`` times smaller than level 0 (> 1 shrinks):
    the smallest level that still has at least as many pixels as the output."""
    if scale <= 1 or levels <= 1:
        return 0
    return min(levels - 1, int(math.floor(math.log2(scale) + 1e-9)))


def read_region(
    path: PathType, box: tuple[int, int, int, int], size: tuple[int, int], *, levels: int
) -> tuple[np.ndarray, bytes | None]:
    """The region ``box`` (x, y, w, h in level-0 pixels) of the access copy at ``path``, resampled
    to ``size`` (width, height): (H, W) or (H, W, bands) uint8, and the copy's ICC profile.

    Reads one level (``level_for``) and, of it, the tiles that cross the region. Level ``k``
    pixel ``i`` covers level-0 pixels ``[i * 2**k, (i + 1) * 2**k)`` (libvips halves with a
    2 x 2 mean, dropping an odd last row or column), so coordinates map by ``2**k`` exactly.
    """
    pyvips = _vips()
    x, y, w, h = box
    out_w, out_h = size
    level = level_for(min(w / out_w, h / out_h), levels)
    try:
        image = pyvips.Image.new_from_file(str(path), page=level, access="random")
        factor = 2**level
        left, top = x // factor, y // factor
        right = min(image.width, max(left + 1, math.ceil((x + w) / factor)))
        bottom = min(image.height, max(top + 1, math.ceil((y + h) / factor)))
        region = image.crop(left, top, right - left, bottom - top)
        region = _resample(region, out_w, out_h)
        icc = region.get("icc-profile-data") if region.get_typeof("icc-profile-data") else None
        pixels = region.numpy()
    except pyvips.Error as exc:
        raise PyramidError(f"libvips could not read {path}: {exc}") from exc
    return pixels, icc


def _resample(region, width: int, height: int):
    """``region`` resized to exactly ``width`` x ``height`` (Lanczos 3; alpha premultiplied)."""
    if (region.width, region.height) == (width, height):
        return region
    alpha = region.bands in (2, 4)
    if alpha:
        region = region.premultiply()
    resized = region.resize(width / region.width, vscale=height / region.height)
    if alpha:
        resized = (resized.unpremultiply() + 0.5).cast("uchar")
    # libvips rounds the output size; a rare off-by-one is cut off or repeated from the edge.
    if resized.width != width or resized.height != height:
        resized = resized.crop(0, 0, min(width, resized.width), min(height, resized.height))
        if resized.width != width or resized.height != height:
            resized = resized.embed(0, 0, width, height, extend="copy")
    return resized

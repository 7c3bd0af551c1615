"""Image files <-> float32 arrays, keeping 16-bit precision, alpha and the ICC profile.

Reading (:func:`load_image`): PNG, TIFF, JPEG, WebP (anything Pillow opens) in grey, grey +
alpha, palette, RGB, RGBA, CMYK, at 8 or 16 bits. Pillow reduces 16-bit colour PNG and TIFF to
8 bits, so those are decoded with OpenCV (``IMREAD_UNCHANGED``, BGR(A) -> RGB(A)); Pillow still
reads their header for the EXIF orientation and the ICC profile. The EXIF orientation is applied
by one numpy function whatever the decoder, so the result is upright in every path.

Writing (:func:`save_image`): PNG. 8-bit through Pillow; 16-bit through a small encoder here
(Pillow cannot write 16-bit colour; OpenCV can write neither 16-bit grey + alpha nor an ICC
profile). Grey is written as one channel, alpha re-attached, the ICC profile embedded.
"""

from __future__ import annotations

import os
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from gan_engine.data.luma import LUMA
from gan_engine.errors import GanEngineError, InvalidInputError

__all__ = ["ImageReadError", "LoadedImage", "load_image", "save_image", "apply_orientation", "as_rgb", "load_rgb"]

_ORIENTATION_TAG = 0x0112
_GREY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"}
# BT.601 luma, for writing a 3-channel result as grey.


class ImageReadError(GanEngineError, ValueError):
    """A file is missing, unreadable, truncated or not an image."""


@dataclass
class LoadedImage:
    """A decoded image, upright (EXIF orientation applied)."""

    rgb: np.ndarray  # float32 (H, W, 3) in [0, 1]; grey files give three equal channels
    alpha: np.ndarray | None  # float32 (H, W) in [0, 1], or None when the file has no alpha
    bit_depth: int  # 8 or 16: the precision of the file's samples
    is_gray: bool  # the file stores a single colour channel
    icc_profile: bytes | None = None  # the embedded ICC profile, to write back unchanged

    @property
    def gray(self) -> np.ndarray:
        """(H, W) float32: the grey channel (the first one, exact for grey files)."""
        return self.rgb[..., 0]


def apply_orientation(array: np.ndarray, orientation: int | None) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to (H, W[, C]): what ``ImageOps.exif_transpose`` does."""
    if orientation in (None, 1):
        return array
    ops = {
        2: lambda a: a[:, ::-1],  # mirror horizontally
        3: lambda a: a[::-1, ::-1],  # rotate 180
        4: lambda a: a[::-1],  # mirror vertically
        5: lambda a: np.swapaxes(a, 0, 1),  # transpose
        6: lambda a: np.rot90(a, -1),  # rotate 90 clockwise
        7: lambda a: np.rot90(a, 2).swapaxes(0, 1),  # transverse
        8: lambda a: np.rot90(a, 1),  # rotate 90 counter-clockwise
    }
    op = ops.get(int(orientation))
    return array if op is None else np.ascontiguousarray(op(array))


def _png_header(path: Path) -> tuple[int, int] | None:
    """(bit depth, colour type) from a PNG's IHDR, or None if not a PNG."""
    with open(path, "rb") as fh:
        head = fh.read(33)
    if len(head) < 26 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


def _needs_opencv(path: Path, img: Image.Image) -> bool:
    """16-bit samples that Pillow would reduce to 8 bits (colour, or grey with alpha)."""
    if img.format == "PNG":
        header = _png_header(path)
        return header is not None and header[0] == 16 and header[1] in (2, 4, 6)
    if img.format == "TIFF":
        bits = img.tag_v2.get(258) if hasattr(img, "tag_v2") else None
        bits = bits if isinstance(bits, tuple) else (bits,)
        return 16 in bits and img.mode not in ("I;16", "I;16B", "I;16L", "I;16N", "I")
    return False


def _read_opencv(path: Path) -> np.ndarray:
    import cv2

    data = np.fromfile(path, dtype=np.uint8)  # (cv2.imread cannot open non-ASCII paths on Windows)
    array = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)  # ignores EXIF orientation, as wanted here
    if array is None:
        raise ImageReadError(f"cannot decode {path}: truncated or corrupt")
    if array.ndim == 3:
        order = [2, 1, 0, 3][: array.shape[2]] if array.shape[2] in (3, 4) else list(range(array.shape[2]))
        array = array[..., order]  # BGR(A) -> RGB(A)
    return array


def _to_unit(array: np.ndarray) -> tuple[np.ndarray, int]:
    """Integer or float samples -> float32 in [0, 1] and the bit depth (8 or 16)."""
    kind, size = array.dtype.kind, array.dtype.itemsize
    if kind == "b":
        return array.astype(np.float32), 8
    if kind == "u" and size == 1:
        return array.astype(np.float32) / 255.0, 8
    if kind in "ui":  # 16-bit samples (Pillow's "I" mode holds them in int32)
        return np.clip(array.astype(np.float32) / 65535.0, 0.0, 1.0), 16
    if kind == "f":
        return np.clip(array.astype(np.float32), 0.0, 1.0), 16
    raise ImageReadError(f"unsupported sample type {array.dtype}")


def load_image(path: str | os.PathLike) -> LoadedImage:
    """Read an image file, upright, as float32 RGB in [0, 1] plus alpha.

    Raises:
        ImageReadError: the file does not exist, is not an image, or is truncated / corrupt.
    """
    path = Path(path)
    if not path.exists():
        raise ImageReadError(f"no such file: {path}")
    if not path.is_file():
        raise ImageReadError(f"not a file: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
    except UnidentifiedImageError:
        raise ImageReadError(f"not an image (or an unsupported format): {path}") from None
    except Image.DecompressionBombError as exc:
        raise ImageReadError(f"{path}: {exc}") from None
    except OSError as exc:
        raise ImageReadError(f"cannot read {path}: {exc}") from None
    with img:
        try:
            orientation = img.getexif().get(_ORIENTATION_TAG)
        except Exception:  # noqa: BLE001 - a broken EXIF block must not make the image unreadable
            orientation = None
        icc = img.info.get("icc_profile") or None
        mode = img.mode
        if _needs_opencv(path, img):
            array = _read_opencv(path)
            is_gray = img.mode in _GREY_MODES or (img.format == "PNG" and _png_header(path)[1] in (0, 4))
        else:
            try:
                img.load()
            except (OSError, SyntaxError, ValueError) as exc:
                raise ImageReadError(f"cannot decode {path}: truncated or corrupt ({exc})") from None
            # Pillow >= 13 turns a TIFF by its EXIF orientation while loading (and drops the tag
            # from the page's tags): turning it again here would undo it.
            if img.format == "TIFF" and orientation not in (None, 1) and _ORIENTATION_TAG not in img.tag_v2:
                orientation = None
            is_gray = mode in _GREY_MODES
            if mode == "1":
                img = img.convert("L")
            elif mode == "P":
                img = img.convert("RGBA" if "transparency" in img.info else "RGB")
            elif mode == "PA":
                img = img.convert("RGBA")
            elif mode == "La":
                img = img.convert("LA")
            elif mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX", "RGBa"):
                if mode in ("CMYK", "LAB"):
                    icc = None  # a CMYK / Lab profile does not describe the converted RGB samples
                img = img.convert("RGBA" if mode == "RGBa" else "RGB")
            array = np.asarray(img)
    array = apply_orientation(array, orientation)
    samples, bit_depth = _to_unit(array)
    if samples.ndim == 2:
        samples = samples[..., None]
    channels = samples.shape[2]
    if channels in (2, 4):
        colour, alpha = samples[..., :-1], np.ascontiguousarray(samples[..., -1])
    else:
        colour, alpha = samples, None
    if colour.shape[2] == 1:
        colour = np.repeat(colour, 3, axis=2)
    elif is_gray:  # a grey file decoded to equal colour channels (16-bit grey + alpha via OpenCV)
        colour = np.repeat(colour[..., :1], 3, axis=2)
    return LoadedImage(rgb=np.ascontiguousarray(colour, dtype=np.float32), alpha=alpha, bit_depth=bit_depth,
                       is_gray=bool(is_gray), icc_profile=icc)


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------

def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _encode_png16(samples: np.ndarray, icc_profile: bytes | None) -> bytes:
    """uint16 (H, W, C), C in 1..4 (grey, grey+alpha, RGB, RGBA) -> PNG bytes.

    Each row uses the Sub filter (byte-wise difference to the same byte of the previous pixel),
    which compresses photographs far better than no filter and is a vectorised numpy line.
    """
    height, width, channels = samples.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    raw = samples.astype(">u2").view(np.uint8).reshape(height, width * channels * 2)
    bpp = channels * 2
    filtered = raw.copy()
    filtered[:, bpp:] = raw[:, bpp:] - raw[:, :-bpp]  # uint8 arithmetic wraps modulo 256
    rows = np.concatenate([np.ones((height, 1), np.uint8), filtered], axis=1)  # filter type 1 (Sub)
    out = [b"\x89PNG\r\n\x1a\n",
           _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0))]
    if icc_profile:
        out.append(_png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc_profile)))
    out.append(_png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)))
    out.append(_png_chunk(b"IEND", b""))
    return b"".join(out)


def save_image(path: str | os.PathLike, rgb: np.ndarray, *, bit_depth: int = 8, alpha: np.ndarray | None = None,
               gray: bool = False, icc_profile: bytes | None = None) -> Path:
    """Write ``rgb`` as PNG (8 or 16 bits per sample), written atomically.

    Args:
        rgb: float (H, W, 3), or (H, W) / (H, W, 1) for grey, values clipped to [0, 1].
        bit_depth: 8 or 16.
        alpha: float (H, W) in [0, 1] to re-attach, or None.
        gray: write one grey channel (BT.601 luma of a 3-channel input).
        icc_profile: embedded as is (``LoadedImage.icc_profile``).
    """
    if bit_depth not in (8, 16):
        raise InvalidInputError(f"bit_depth must be 8 or 16, got {bit_depth}")
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise InvalidInputError(f"save_image writes PNG; the path must end in .png, not {path.name!r}")
    array = np.asarray(rgb, dtype=np.float32)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 3):
        raise ValueError(f"rgb must be (H, W, 3), (H, W, 1) or (H, W), got {np.shape(rgb)}")
    if gray and array.shape[2] == 3:
        array = (array @ LUMA)[..., None]
    elif not gray and array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    if alpha is not None:
        alpha = np.asarray(alpha, dtype=np.float32)
        if alpha.shape != array.shape[:2]:
            raise ValueError(f"alpha must be {array.shape[:2]}, got {alpha.shape}")
        array = np.concatenate([array, alpha[..., None]], axis=2)
    top = 255.0 if bit_depth == 8 else 65535.0
    array = np.nan_to_num(array, nan=0.0, posinf=1.0, neginf=0.0)
    samples = np.rint(np.clip(array, 0.0, 1.0) * top).astype(np.uint8 if bit_depth == 8 else np.uint16)

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if bit_depth == 16:
            tmp.write_bytes(_encode_png16(samples, icc_profile))
        else:
            image = Image.fromarray(samples[..., 0] if samples.shape[2] == 1 else samples)  # L, LA, RGB, RGBA
            params = {"icc_profile": icc_profile} if icc_profile else {}
            image.save(tmp, format="PNG", **params)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def as_rgb(image: np.ndarray, name: str = "image") -> np.ndarray:
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) float in [0, 1] -> float32 (H, W, 3) (alpha dropped)."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4) or min(image.shape[:2]) < 1:
        raise ValueError(f"{name} must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got shape {image.shape}")
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return np.ascontiguousarray(image[..., :3], dtype=np.float32)


def load_rgb(path: str | Path) -> np.ndarray:
    """An image file -> float32 (H, W, 3) in [0, 1] (grey replicated, alpha dropped); ImageReadError."""
    return as_rgb(load_image(path).rgb)

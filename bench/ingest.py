"""Benchmark: ingest one large 16-bit TIFF through ``services.ingest_upload``.

Writes an uncompressed 16-bit RGB (or grey) TIFF strip by strip (never the whole image in
memory), then ingests it into a temporary MEDIA_ROOT and SQLite database and prints the time
and peak memory of the ingest, and of its two heavy steps on their own (streaming the file
through sha256, decoding it for the display images).

    .venv/bin/python bench/ingest.py                   # 100 MP RGB, 600 MB
    .venv/bin/python bench/ingest.py --megapixels 25 --channels 1

Peak memory is the process's peak resident set size (VmHWM, reset before each measurement
where Linux allows it) and tracemalloc's peak of Python allocations (Pillow's and numpy's C
buffers do not show in the latter).
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import shutil
import struct
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


# --- A large TIFF, written in strips --------------------------------------------------------------


def write_tiff(path: Path, width: int, height: int, channels: int, rows_per_strip: int = 64, seed: int = 0) -> int:
    """Writes a baseline little-endian, uncompressed, 16-bit TIFF; returns its size in bytes.

    Pixels: a diagonal gradient plus seeded noise, computed one strip at a time.
    """
    strips = math.ceil(height / rows_per_strip)
    strip_bytes = [min(rows_per_strip, height - i * rows_per_strip) * width * channels * 2 for i in range(strips)]
    photometric = 2 if channels >= 3 else 1
    tags = [
        (256, 4, 1, width),  # ImageWidth, LONG
        (257, 4, 1, height),  # ImageLength
        (258, 3, channels, None),  # BitsPerSample, SHORT[channels]
        (259, 3, 1, 1),  # Compression: none
        (262, 3, 1, photometric),  # PhotometricInterpretation: RGB or BlackIsZero
        (273, 4, strips, None),  # StripOffsets (in the extra area)
        (277, 3, 1, channels),  # SamplesPerPixel
        (278, 4, 1, rows_per_strip),  # RowsPerStrip
        (279, 4, strips, None),  # StripByteCounts (in the extra area)
        (284, 3, 1, 1),  # PlanarConfiguration: chunky
    ]
    if channels in (2, 4):
        tags.append((338, 3, 1, 2))  # ExtraSamples: unassociated alpha
    ifd_size = 2 + 12 * len(tags) + 4
    extra_at = 8 + ifd_size
    bits_at = extra_at
    offsets_at = bits_at + 2 * channels
    counts_at = offsets_at + 4 * strips
    data_at = counts_at + 4 * strips
    offsets = np.cumsum([data_at] + strip_bytes[:-1]).tolist()

    with open(path, "wb") as fh:
        fh.write(b"II*\x00" + struct.pack("<I", 8))
        fh.write(struct.pack("<H", len(tags)))
        for tag, kind, count, value in tags:
            if tag == 258:
                value = bits_at if channels > 2 else 16  # one SHORT fits in the entry itself
            elif tag == 273:
                value = offsets_at if strips > 1 else offsets[0]
            elif tag == 279:
                value = counts_at if strips > 1 else strip_bytes[0]
            if kind == 3 and count == 1:
                fh.write(struct.pack("<HHIHH", tag, kind, count, value, 0))
            else:
                fh.write(struct.pack("<HHII", tag, kind, count, value))
        fh.write(struct.pack("<I", 0))  # no next IFD
        fh.write(struct.pack(f"<{channels}H", *([16] * channels)))
        fh.write(struct.pack(f"<{strips}I", *offsets))
        fh.write(struct.pack(f"<{strips}I", *strip_bytes))
        assert fh.tell() == data_at
        rng = np.random.default_rng(seed)
        x = np.linspace(0.0, 0.6, width, dtype=np.float32)[None, :, None]
        tint = np.linspace(0.7, 1.0, channels, dtype=np.float32)[None, None, :]
        for index in range(strips):
            top = index * rows_per_strip
            rows = min(rows_per_strip, height - top)
            y = (np.arange(top, top + rows, dtype=np.float32) / height * 0.4)[:, None, None]
            noise = rng.normal(0, 0.02, size=(rows, width, channels)).astype(np.float32)
            strip = np.clip((x + y) * tint + noise, 0, 1) * 65535
            fh.write(strip.astype("<u2").tobytes())
        return fh.tell()


# --- Measurement -----------------------------------------------------------------------------------


def reset_peak_rss() -> bool:
    """Resets the kernel's peak-RSS mark for this process (Linux), so the next peak is the step's own."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_rss_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def current_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(label: str, step):
    reset = reset_peak_rss()
    before = current_rss_mib()
    tracemalloc.start()
    started = time.perf_counter()
    result = step()
    seconds = time.perf_counter() - started
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak = peak_rss_mib()
    note = "" if reset else " (peak RSS not reset: process-wide high-water mark)"
    print(
        f"{label:<28} {seconds:7.2f} s   peak RSS {peak:8.1f} MiB (+{peak - before:7.1f} over {before:6.1f})"
        f"   Python peak {traced_peak / 2**20:7.1f} MiB{note}"
    )
    return result


# --- Main --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megapixels", type=float, default=100.0, help="Image size in megapixels (4:3).")
    parser.add_argument("--channels", type=int, default=3, choices=(1, 3, 4), help="1 grey, 3 RGB, 4 RGBA.")
    parser.add_argument("--workdir", type=Path, help="Where to put the TIFF, media and database (default: a temp dir).")
    parser.add_argument("--keep", action="store_true", help="Keep the work directory.")
    args = parser.parse_args(argv)

    pixels = int(args.megapixels * 1_000_000)
    width = int(math.sqrt(pixels * 4 / 3))
    height = pixels // width
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-ingest-"))
    work.mkdir(parents=True, exist_ok=True)
    tiff = work / "large.tif"

    started = time.perf_counter()
    size = write_tiff(tiff, width, height, args.channels)
    print(
        f"Wrote {tiff} ({width}x{height}, {args.channels} x 16 bit, {size / 2**20:.0f} MiB) "
        f"in {time.perf_counter() - started:.1f} s"
    )

    # Settings come from the environment: set it before Django is imported and set up.
    os.environ["DJANGO_SETTINGS_MODULE"] = "archive_site.settings"
    os.environ["ARCHIVE_VAR_DIR"] = str(work / "var")
    os.environ["ARCHIVE_MEDIA_ROOT"] = str(work / "media")
    os.environ["DATABASE_URL"] = f"sqlite:///{work / 'bench.sqlite3'}"
    os.environ["ARCHIVE_STORAGE"] = "local"
    os.environ["ARCHIVE_MAX_UPLOAD_BYTES"] = str(max(size, 2 * 1024**3))
    os.environ["ARCHIVE_MAX_IMAGE_PIXELS"] = str(max(pixels, 250_000_000))
    os.environ["ARCHIVE_UPLOAD_TEMP_DIR"] = str(work)
    os.environ.setdefault("ARCHIVE_LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from restoration.core import imaging, services

    call_command("migrate", verbosity=0)
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPU(s); baseline RSS {current_rss_mib():.0f} MiB\n")

    def digest():
        with open(tiff, "rb") as fh:
            return imaging.sha256_stream(fh)

    def display():
        return imaging.make_display_images(
            tiff, thumb_size=settings.ARCHIVE_THUMBNAIL_SIZE, access_size=settings.ARCHIVE_ACCESS_SIZE,
            quality=settings.ARCHIVE_ACCESS_QUALITY,
        )

    def ingest():
        with open(tiff, "rb") as fh:
            return services.ingest_upload(
                fh, filename=tiff.name, metadata={"title": "Benchmark"}, collection=None, user=None, route="cli"
            )

    measure("sha256 stream (1 MiB chunks)", digest)
    measure("inspect_image (headers)", lambda: imaging.inspect_image(tiff, max_pixels=settings.ARCHIVE_MAX_IMAGE_PIXELS))
    measure("make_display_images", display)
    version = measure("ingest_upload (all of it)", ingest)
    print(
        f"\nIngested version {version.pk}: {version.width}x{version.height} {version.mode}, "
        f"{version.bit_depth}-bit, {version.bytes / 2**20:.0f} MiB, sha256 {version.sha256[:16]}..."
    )
    if args.keep:
        print(f"Kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

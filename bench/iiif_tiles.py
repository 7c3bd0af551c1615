"""Benchmark: IIIF tiles of a 100-megapixel image, from its access copy vs from the stored file.

Makes a photo-like 10000 x 10000 RGB TIFF with libvips (smooth shapes at three scales, film
grain; deflate-compressed strips, the kind of file that made every uncached tile decode the
whole image), ingests it through ``services.ingest_upload`` (which makes the tiled, pyramidal
access copy), then serves the same tile requests in two fresh web processes (Django's test
client, the real views), side by side:

- ``pyramid``: the service as configured (cut from the access copy);
- ``direct``: ``IIIF_ACCESS_COPIES=0``, every cut from the stored file itself (the old path).

Each process requests ``--tiles`` distinct 512 px tiles at full resolution (scale factor 1) and
as many at scale factor 8, all uncached (cold), then the same again (warm: from the disk cache),
then ``--burst`` distinct uncached tiles at once from as many threads (decode limit raised to
match). It prints p50 / p95 latency and the process's peak resident memory (VmHWM) after the
sequential requests and after the burst; and before that, the time and size of the access copy
made alone, lossy (JPEG at 90, the default) and lossless (deflate).

    IIIF_PYRAMID_COMPRESSION=deflate .venv/bin/python bench/iiif_tiles.py   # tiles from lossless copies

    .venv/bin/python bench/iiif_tiles.py                    # 100 MP, 12 + 12 tiles, burst of 8
    .venv/bin/python bench/iiif_tiles.py --megapixels 25 --tiles 6 --burst 4

Latencies are wall-clock on whatever else the machine is doing: compare the columns, which ran
in the same minute, rather than runs from different days.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TILE = 512


def write_source(path: Path, side: int) -> float:
    """A photo-like RGB TIFF of ``side`` x ``side`` (deflate, striped); returns seconds taken."""
    import pyvips

    started = time.perf_counter()
    shapes = (pyvips.Image.perlin(side, side, cell_size=1024, seed=1)
              + pyvips.Image.perlin(side, side, cell_size=128, seed=2) * 0.5
              + pyvips.Image.perlin(side, side, cell_size=16, seed=3) * 0.25)
    light = (shapes * 70 + 128).copy(interpretation="b-w")
    grain = pyvips.Image.gaussnoise(side, side, sigma=6, mean=0, seed=4)
    rgb = (light.bandjoin([light * 0.85 + 20, light * 0.7 + 30]) + grain).cast("uchar").copy(interpretation="srgb")
    rgb.tiffsave(str(path), compression="deflate", predictor="horizontal")
    return time.perf_counter() - started


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def current_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def tile_paths(side: int, count: int, factor: int, offset: int) -> list[str]:
    """``count`` distinct viewer tiles at ``factor``, spread over the image (deterministic)."""
    span = TILE * factor
    columns = max(1, side // span)
    paths = []
    for index in range(count):
        cell = (index * 7 + offset) % (columns * columns)
        x, y = (cell % columns) * span, (cell // columns) * span
        w, h = min(span, side - x), min(span, side - y)
        paths.append(f"{x},{y},{w},{h}/{math.ceil(w / factor)},/0/default.jpg")
    return paths


def environment(work: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "archive_site.settings",
        "ARCHIVE_VAR_DIR": str(work / "var"),
        "ARCHIVE_MEDIA_ROOT": str(work / "media"),
        "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}",
        "ARCHIVE_STORAGE": "local",
        "ARCHIVE_UPLOAD_TEMP_DIR": str(work),
        "ARCHIVE_LOG_LEVEL": os.environ.get("ARCHIVE_LOG_LEVEL", "WARNING"),
        "DJANGO_LOG_LEVEL": "ERROR",
    }


# --- One web process --------------------------------------------------------------------------------


def serve(args: argparse.Namespace) -> int:
    """Runs in a fresh process: the tile requests of one path, printed as one JSON line."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.test import Client

    client = Client()
    base = f"/iiif/3/{args.version_id}"
    info = client.get(f"{base}/info.json")
    assert info.status_code == 200, (info.status_code, info.content[:300])
    baseline = current_rss_mib()
    reset_peak_rss()
    cold_paths = tile_paths(args.side, args.tiles, 1, 0) + tile_paths(args.side, args.tiles, 8, 0)

    def timed(path: str) -> float:
        started = time.perf_counter()
        response = client.get(f"{base}/{path}")
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert response.status_code == 200 and body, (path, response.status_code)
        return time.perf_counter() - started

    cold = [timed(path) for path in cold_paths]
    warm = [timed(path) for path in cold_paths]
    sequential_peak = peak_rss_mib()

    reset_peak_rss()
    burst_paths = tile_paths(args.side, args.burst, 1, 3)
    burst_times: list[float] = []
    errors: list[str] = []

    def one(path: str) -> None:
        own = Client()
        started = time.perf_counter()
        response = own.get(f"{base}/{path}")
        if response.status_code != 200:
            errors.append(f"{path}: {response.status_code}")
        burst_times.append(time.perf_counter() - started)

    threads = [threading.Thread(target=one, args=(path,)) for path in burst_paths]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    burst_wall = time.perf_counter() - started
    print(json.dumps({
        "baseline": baseline, "cold": cold, "warm": warm, "sequential_peak": sequential_peak,
        "burst_wall": burst_wall, "burst_peak": peak_rss_mib(), "burst_max": max(burst_times), "errors": errors,
    }))
    return 0


# --- Main --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megapixels", type=float, default=100.0, help="Image size in megapixels (square).")
    parser.add_argument("--tiles", type=int, default=12, help="Distinct tiles per scale factor (1 and 8).")
    parser.add_argument("--burst", type=int, default=8, help="Uncached tiles requested at once.")
    parser.add_argument("--workdir", type=Path, help="Where to put the files (default: a temporary folder).")
    parser.add_argument("--keep", action="store_true", help="Keep the work folder.")
    parser.add_argument("--serve", choices=("pyramid", "direct"), help=argparse.SUPPRESS)
    parser.add_argument("--version-id", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--side", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args)

    side = int(math.sqrt(args.megapixels * 1_000_000))
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-iiif-"))
    work.mkdir(parents=True, exist_ok=True)
    source = work / "large.tif"
    seconds = write_source(source, side)
    print(f"Wrote {source} ({side} x {side} RGB, deflate strips, {source.stat().st_size / 2**20:.0f} MiB) "
          f"in {seconds:.1f} s")

    env = environment(work)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from restoration.core import services
    from restoration.core.models import AccessCopy

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    with open(source, "rb") as fh:
        version = services.ingest_upload(fh, filename=source.name, metadata={"title": "Benchmark", "is_public": True},
                                         collection=None, user=None, route="cli")
    ingest_seconds = time.perf_counter() - started
    copy = AccessCopy.objects.get(version=version)
    print(f"Ingested in {ingest_seconds:.1f} s (display images and access copy included); access copy "
          f"{copy.bytes / 2**20:.0f} MiB, {copy.compression}, {copy.levels} levels of {copy.tile_size} px tiles; "
          f"{os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}\n")

    from restoration.core import pyramid

    print(f"{'access copy alone (pyramid.build)':<44}{'seconds':>16}{'MiB':>16}")
    for compression in ("deflate", "jpeg"):
        target = work / f"copy-{compression}.tif"
        started = time.perf_counter()
        pyramid.build(source, target, pyramid.PyramidConfig(compression=compression))
        label = "deflate (lossless)" if compression == "deflate" else "jpeg, quality 90 (the default)"
        print(f"{label:<44}"
              f"{time.perf_counter() - started:>16.1f}{target.stat().st_size / 2**20:>16.0f}")
        target.unlink()
    print()

    results = {}
    for path in ("pyramid", "direct"):
        child_env = {**env, "IIIF_ACCESS_COPIES": "1" if path == "pyramid" else "0",
                     "IIIF_CACHE_DIR": str(work / f"cache-{path}"),
                     "IIIF_MAX_CONCURRENT_DECODES": str(args.burst), "IIIF_DECODE_WAIT": "600"}
        command = [sys.executable, __file__, "--serve", path, "--version-id", str(version.pk), "--side", str(side),
                   "--tiles", str(args.tiles), "--burst", str(args.burst)]
        done = subprocess.run(command, env=child_env, capture_output=True, text=True)
        if done.returncode:
            sys.stderr.write(done.stderr)
            raise SystemExit(f"the {path} process failed")
        results[path] = json.loads(done.stdout.strip().splitlines()[-1])

    def row(label: str, pick) -> None:
        print(f"{label:<44}" + "".join(f"{pick(results[p]):>16}" for p in ("pyramid", "direct")))

    count = 2 * args.tiles
    print(f"{'':<44}{'pyramid':>16}{'direct':>16}")
    row(f"cold tile p50 ({count} tiles, factors 1 and 8)", lambda r: f"{statistics.median(r['cold']) * 1000:.0f} ms")
    row("cold tile p95", lambda r: f"{percentile(r['cold'], 0.95) * 1000:.0f} ms")
    row("warm tile p50 (disk cache)", lambda r: f"{statistics.median(r['warm']) * 1000:.1f} ms")
    row("warm tile p95", lambda r: f"{percentile(r['warm'], 0.95) * 1000:.1f} ms")
    row("RSS before the tiles", lambda r: f"{r['baseline']:.0f} MiB")
    row("peak RSS, sequential tiles", lambda r: f"{r['sequential_peak']:.0f} MiB")
    row(f"burst of {args.burst} uncached tiles at once: wall", lambda r: f"{r['burst_wall']:.2f} s")
    row("burst: peak RSS", lambda r: f"{r['burst_peak']:.0f} MiB")
    row("burst: errors", lambda r: str(len(r["errors"])))
    if args.keep:
        print(f"\nKept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Load test: the production recipe (gunicorn, several workers) beside ``runserver``.

Seeds a temporary archive (SQLite or ``--database-url``, media and IIIF cache in a temporary
folder) with N public items made of real JPEG photographs-to-be (gradient plus noise, distinct
per item), starts each server on a free local port with the same settings (``DJANGO_DEBUG``
off), and drives four classes of request at each concurrency for a fixed number of requests:

    browse   item pages and grid pages (``/items/<identifier>/``, ``/items/?page=N``)
    search   the grid searched (``/items/?q=...``) and the API searched (``/api/items/?q=...``)
    tiles    IIIF Image API tiles of 512 px at two scales (``/iiif/3/<v>/<region>/512,/0/default.jpg``);
             the first request of a tile cuts it, later ones are served from the disk cache
    api      API lists and details (``/api/items/``, ``/api/versions/<id>/``, ``/api/collections/``)

Prints, per server, concurrency and class: requests answered, errors (HTTP status 400 or more
or a connection error, by kind; every seeded URL exists and is public), p50 and p95 latency in ms, and throughput. The client runs on the same
machine (threads, one connection per request, as a browser opening many at once would), so
on a small machine it competes with the server for the cores: compare rows, not absolutes.

    .venv/bin/python bench/load.py                                  # 40 items, 200 requests per cell
    .venv/bin/python bench/load.py --items 100 --requests 500 --gunicorn-workers 8
    .venv/bin/python bench/load.py --target http://archive.example.org   # an existing server (reads only)
"""

from __future__ import annotations

import argparse
import concurrent.futures
import io
import itertools
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLASSES = ("browse", "search", "tiles", "api")
SEARCH_WORDS = ("harbour", "quay", "portrait", "street", "1912", "glass", "print", "nothing-matches")


@dataclass(frozen=True)
class Seeded:
    """What the URL lists are made from."""

    identifiers: list[str]
    images: list[tuple[int, int, int]]  # (version id, width, height) of each original


@dataclass(frozen=True)
class Cell:
    server: str
    concurrency: int
    kind: str
    latencies_ms: list[float]
    errors: Counter  # error (HTTP status or exception name) -> count
    seconds: float

    def row(self) -> str:
        lat = sorted(self.latencies_ms)
        p50 = statistics.median(lat) if lat else float("nan")
        p95 = lat[round(0.95 * (len(lat) - 1))] if lat else float("nan")
        rate = len(lat) / self.seconds if self.seconds else float("nan")
        errors = ", ".join(f"{n} x {e}" for e, n in sorted(self.errors.items())) or "0"
        return (f"| {self.server} | {self.concurrency} | {self.kind} | {len(lat)} | {errors} | "
                f"{p50:.0f} | {p95:.0f} | {rate:.1f} |")


# --- The archive ------------------------------------------------------------------------------------


def _environment(var_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "archive_site.settings",
        "ARCHIVE_VAR_DIR": str(var_dir),
        "ARCHIVE_MEDIA_ROOT": str(var_dir / "media"),
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "ARCHIVE_LOG_LEVEL": "WARNING",
        "DJANGO_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    if database_url:
        env["DATABASE_URL"] = database_url
    else:
        env.pop("DATABASE_URL", None)
    return env


def _photo(width: int, height: int, seed: int) -> bytes:
    """A JPEG with smooth gradients and seeded noise (distinct per seed, like a scan)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
    tint = rng.uniform(0.4, 1.0, size=(1, 1, 3)).astype(np.float32)
    pixels = (0.55 * x + 0.45 * y) * tint + rng.normal(0, 0.04, size=(height, width, 3)).astype(np.float32)
    buffer = io.BytesIO()
    Image.fromarray((np.clip(pixels, 0, 1) * 255).astype(np.uint8), "RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def seed(env: dict[str, str], items: int, width: int, height: int) -> Seeded:
    """Migrates the temporary database and ingests ``items`` public items (in this process)."""
    os.environ.update(env)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from restoration.core import services
    from restoration.models import Collection

    call_command("migrate", verbosity=0)
    user, _ = get_user_model().objects.get_or_create(username="bench-curator", defaults={"is_staff": True})
    collection = Collection.objects.create(name="Harbour prints", slug="harbour", is_public=True)
    words = SEARCH_WORDS[:-1]
    identifiers, images = [], []
    for n in range(items):
        identifier = f"LOAD-{n:04d}"
        version = services.ingest_upload(
            io.BytesIO(_photo(width, height, n)), filename=f"{identifier}.jpg",
            metadata={"identifier": identifier, "title": f"{words[n % len(words)].title()} {n}",
                      "description": f"A {words[(n * 3) % len(words)]} photograph, number {n}.",
                      "is_public": True},
            collection=collection, user=user, route="cli",
        )
        identifiers.append(identifier)
        images.append((version.pk, version.width, version.height))
    return Seeded(identifiers, images)


# --- Servers ----------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(url: str, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/api/", timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise SystemExit(f"server at {url} did not answer within {timeout} s")


def start_server(kind: str, env: dict[str, str], var_dir: Path, workers: int, log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    # Each server cuts its own tiles: a cache warmed by the other would flatter the second.
    env = {**env, "IIIF_CACHE_DIR": str(var_dir / f"iiif-cache-{kind}")}
    if kind == "gunicorn":
        argv = [str(Path(sys.executable).parent / "gunicorn"), "archive_site.wsgi", "--workers", str(workers),
                "--bind", f"127.0.0.1:{port}", "--timeout", "120", "--log-level", "warning"]
    else:  # what a user runs without a production recipe: Django's development server (threaded)
        argv = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--insecure"]
    out = open(log, "ab")
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    _wait_until_up(url, process)
    return process, url


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


# --- Requests ---------------------------------------------------------------------------------------


def url_lists(seeded: Seeded, tile: int = 512) -> dict[str, list[str]]:
    grid_pages = max(1, -(-len(seeded.identifiers) // 24))
    tiles = []
    for vid, width, height in seeded.images:
        for x in range(0, width, tile):  # full resolution
            for y in range(0, height, tile):
                w, h = min(tile, width - x), min(tile, height - y)
                tiles.append(f"/iiif/3/{vid}/{x},{y},{w},{h}/{w},/0/default.jpg")
        tiles.append(f"/iiif/3/{vid}/full/{tile},/0/default.jpg")  # the overview
    return {
        "browse": [f"/items/{i}/" for i in seeded.identifiers] + [f"/items/?page={p}" for p in range(1, grid_pages + 1)],
        "search": [f"/items/?q={w}" for w in SEARCH_WORDS] + [f"/api/items/?q={w}" for w in SEARCH_WORDS],
        "tiles": tiles,
        "api": ["/api/items/", "/api/items/?page_size=10", "/api/collections/"]
               + [f"/api/versions/{v}/" for v, _, _ in seeded.images],
    }


def _get(url: str) -> tuple[float, str | None]:
    """(latency in ms, error or None) of one GET on a fresh connection; the body is read whole.
    Any status of 400 or more is an error: the seeded URLs all exist and are public."""
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            response.read()
            error = None
    except urllib.error.HTTPError as err:
        err.read()
        error = str(err.code)
    except OSError as err:
        error = type(err).__name__
    return (time.perf_counter() - start) * 1000, error


def drive(base: str, paths: list[str], concurrency: int, requests: int,
          rng: random.Random) -> tuple[list[float], Counter, float]:
    """``requests`` GETs of paths drawn at random, ``concurrency`` at a time."""
    chosen = [base + rng.choice(paths) for _ in range(requests)]
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(_get, chosen))
    seconds = time.perf_counter() - start
    return [ms for ms, error in results if error is None], Counter(e for _, e in results if e is not None), seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=40, help="items to seed (one JPEG each)")
    parser.add_argument("--size", default="1600x1200", help="pixels of each seeded image, WxH")
    parser.add_argument("--requests", type=int, default=200, help="requests per server, concurrency and class")
    parser.add_argument("--concurrency", default="10,50", help="comma-separated concurrent clients")
    parser.add_argument("--servers", default="gunicorn,runserver", help="comma-separated: gunicorn, runserver")
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--database-url", default=None, help="an empty database to seed (default: SQLite file)")
    parser.add_argument("--target", default=None, help="drive an existing server instead (its items are listed by the API)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the URL draws")
    args = parser.parse_args(argv)
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    width, height = (int(v) for v in args.size.lower().split("x"))

    work = Path(tempfile.mkdtemp(prefix="archive-load-"))
    try:
        if args.target:
            seeded = _listed(args.target.rstrip("/"))
            targets = [("target", None, args.target.rstrip("/"))]
        else:
            env = _environment(work, args.database_url)
            clock = time.perf_counter()
            seeded = seed(env, args.items, width, height)
            print(f"seeded {args.items} items of {width}x{height} in {time.perf_counter() - clock:.1f} s ({work})")
            targets = []
            for kind in args.servers.split(","):
                targets.append((kind, env, None))
        paths = url_lists(seeded)
        print(f"cpus: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}; "
              f"gunicorn workers: {args.gunicorn_workers}; requests per cell: {args.requests}")
        print("| server | clients | class | ok | errors | p50 ms | p95 ms | req/s |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        servers: list[tuple[str, str, subprocess.Popen | None]] = []
        try:
            # Every server is up for the whole run and the cells alternate between them, so the
            # load of other work on the machine falls on both alike.
            for name, env, url in targets:
                process = None
                if url is None:
                    process, url = start_server(name, env, work, args.gunicorn_workers, work / f"{name}.log")
                label = f"{name} ({args.gunicorn_workers} workers)" if name == "gunicorn" else name
                servers.append((label, url, process))
                # Warm-up, not measured: each gunicorn worker loads URLs and templates on its first
                # requests (no tiles: their cache would be warmed too).
                warm = [paths["browse"][0], paths["browse"][-1], paths["search"][0], paths["api"][0]]
                drive(url, warm, args.gunicorn_workers, 8 * args.gunicorn_workers, random.Random(0))
            for concurrency, kind in itertools.product(concurrencies, CLASSES):
                for label, url, _process in servers:
                    rng = random.Random(f"{args.seed}:{concurrency}:{kind}")  # the same draws for each server
                    ok, errors, seconds = drive(url, paths[kind], concurrency, args.requests, rng)
                    print(Cell(label, concurrency, kind, ok, errors, seconds).row(), flush=True)
        finally:
            for _label, _url, process in servers:
                if process is not None:
                    stop_server(process)
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _listed(base: str) -> Seeded:
    """The public items of an existing server (first API page), for ``--target``."""
    import json

    def get(path: str) -> dict:
        with urllib.request.urlopen(base + path, timeout=30) as response:
            return json.load(response)

    results = get("/api/items/?page_size=100")["results"]
    images = []
    for item in results:
        if item.get("original"):
            version = get(f"/api/versions/{item['original']['id']}/")
            images.append((version["id"], version["width"], version["height"]))
    return Seeded([item["identifier"] for item in results], images)


if __name__ == "__main__":
    main()

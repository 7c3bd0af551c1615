"""Helpers shared by the tests (plain functions and constants; fixtures are in conftest.py files).

Images are small real files made in memory, each with distinct pixels (no accidental duplicate).
``quadrants`` images have four coloured quarters (top left red, top right green, bottom left
blue, bottom right white), so a test can tell from a pixel's colour which part of the image a
response shows. The tiny U-Net checkpoint makes a job take a fraction of a second on a CPU.
"""

from __future__ import annotations

import io
import itertools
import os
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np
from PIL import Image

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
WEIGHTS_SHA256 = "3f2a9c01d4e5" + "ab" * 26
# A U-Net small enough for a CPU forward pass over a small image to take milliseconds.
TINY_UNET = {"base": 8, "mults": [1, 2], "enc_blocks": [0], "mid_blocks": 1, "dec_blocks": [0]}
ROOT = Path(__file__).resolve().parents[1]
_seeds = itertools.count(1)
_quadrant_seeds = itertools.count(1)


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (24, 16), mode: str = "RGB", seed: int | None = None) -> bytes:
    """A small real image whose pixels differ from every other call's (no accidental duplicate)."""
    rng = np.random.default_rng(next(_seeds) if seed is None else seed)
    width, height = size
    if mode == "I;16":
        pixels = rng.integers(0, 65535, (height, width), dtype=np.uint16)
        image = Image.fromarray(pixels)
    elif mode == "L":
        image = Image.fromarray(rng.integers(0, 255, (height, width), dtype=np.uint8), "L")
    else:
        image = Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), "RGB")
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()

def upload(data: bytes, name: str = "scan.png", content_type: str = "image/png"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type=content_type)

def post_raw_multipart(client, url: str, fields: dict[str, str], filename: str, data: bytes):
    """POST multipart with ``filename`` sent byte for byte as given (the test client's own encoder
    takes the basename and cannot send hostile names)."""
    boundary = "----archive-test-boundary-7MA4YWxkTrZu0gW"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")

def media_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in Path(root).rglob("*") if p.is_file()}

def archive_counts() -> tuple[int, int, int]:
    from restoration.models import Item, ProvenanceEvent, Version

    return Item.objects.count(), Version.objects.count(), ProvenanceEvent.objects.count()

def save_tiny_checkpoint(path: Path, *, seed: int = 0, name: str = "tiny-restore") -> Path:
    import torch

    from gan_engine import archs, checkpoints

    torch.manual_seed(seed)
    model = archs.build_generator("unet", **TINY_UNET)
    return checkpoints.save_checkpoint(path, model, {"task": "restore", "model_name": name})

def stored_path(version) -> Path:
    from django.core.files.storage import default_storage

    return Path(default_storage.path(version.file.name))

def png_bytes(size=(32, 24), seed: int = 0) -> bytes:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8), "RGB").save(buffer, "PNG")
    return buffer.getvalue()

def quadrants_array(width: int, height: int, *, seed: int | None = None) -> np.ndarray:
    """(H, W, 3) uint8: red, green / blue, white quarters; one pixel per call differs (no duplicates)."""
    data = np.zeros((height, width, 3), dtype=np.uint8)
    data[: height // 2, : width // 2] = RED
    data[: height // 2, width // 2 :] = GREEN
    data[height // 2 :, : width // 2] = BLUE
    data[height // 2 :, width // 2 :] = WHITE
    data[-1, -1] = (next(_quadrant_seeds) if seed is None else seed) % 250  # distinct content, same picture
    return data

def quadrants_bytes(width: int = 400, height: int = 300, fmt: str = "PNG", **save) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(quadrants_array(width, height)).save(buffer, fmt, **save)
    return buffer.getvalue()

def near(colour, expected, tolerance: int = 40) -> bool:
    return all(abs(int(a) - int(b)) <= tolerance for a, b in zip(colour, expected))


def token_client(user):
    """An API client authenticated with ``user``'s token (anonymous for None)."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


# --- A real qcluster subprocess (the slow tests of jobs and pages) -----------------------------


def database_url() -> str:
    """The URL of the database this test process uses (the test database, not the configured one)."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    if db["ENGINE"] == "django.db.backends.postgresql":
        auth = f"{quote(db['USER'] or '', safe='')}:{quote(db['PASSWORD'] or '', safe='')}@" if db["USER"] else ""
        host = db["HOST"] or "localhost"
        port = f":{db['PORT']}" if db["PORT"] else ""
        return f"postgres://{auth}{host}{port}/{quote(db['NAME'], safe='')}"
    raise AssertionError(f"no URL for {db['ENGINE']}")


class Cluster:
    """A qcluster subprocess in its own process group, with its output in a log file."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = open(log, "wb")
        self.process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True
        )

    def kill(self) -> None:
        """SIGKILL to the whole group: the sentinel and its forked workers, as a crash would.
        Returns once every process of the group has ended."""
        members = _group_members(self.process.pid)
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=30)
        for pid in members:
            wait_for_exit(pid)
        self._out.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]


def _group_members(pgid: int) -> list[int]:
    """The pids of process group ``pgid`` (from /proc)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp, ...
            members.append(int(stat.parent.name))
    return members


def wait_for_exit(pid: int, timeout: float = 30) -> bool:
    """Whether process ``pid`` (not necessarily our child) has ended within ``timeout`` (a hang
    guard): a pidfd becomes readable when the process ends."""
    import select

    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


def wait_for(job_id: int, cluster: Cluster, done, *, timeout: float = 90.0, allow_exit: bool = False):
    """The job once ``done(job)``; fails with the cluster's output when it exits (unless
    ``allow_exit``: a cluster being stopped) or ``timeout`` passes."""
    from restoration.models import RestorationJob

    deadline = time.monotonic() + timeout
    while True:
        job = RestorationJob.objects.get(pk=job_id)
        if done(job):
            return job
        if cluster.process.poll() is not None and not allow_exit:
            raise AssertionError(f"qcluster exited with {cluster.process.returncode}:\n{cluster.output()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} is {job.status} after {timeout} s; qcluster said:\n{cluster.output()}")
        time.sleep(0.1)

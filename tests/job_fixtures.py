"""Fixtures of the restoration job tests (imported by tests/test_jobs_*.py).

The model is a tiny untrained U-Net saved with gan_engine's own ``checkpoints`` into a temporary
folder once per session; ``gan_settings`` points ``GAN_WEIGHTS`` at it, so a job takes a
fraction of a second on a CPU. ``enqueued`` replaces the broker: it collects the ids that
would be sent, for tests that run ``jobs.execute_job`` in-process.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

# A U-Net small enough for a CPU forward pass over a small image to take milliseconds.
TINY_UNET = {"base": 8, "mults": [1, 2], "enc_blocks": [0], "mid_blocks": 1, "dec_blocks": [0]}


def save_tiny_checkpoint(path: Path, *, seed: int = 0, name: str = "tiny-restore") -> Path:
    import torch

    from gan_engine import archs, checkpoints

    torch.manual_seed(seed)
    model = archs.build_generator("unet", **TINY_UNET)
    return checkpoints.save_checkpoint(path, model, {"task": "restore", "model_name": name})


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    return save_tiny_checkpoint(tmp_path_factory.mktemp("weights") / "restore.safetensors")


@pytest.fixture
def gan_settings(settings, tiny_weights, tmp_path) -> Path:
    """Jobs use the tiny checkpoint on the CPU; the other tasks are off (style's colour transfer
    needs no weights, so missing weights alone would not turn it off)."""
    settings.GAN_TASKS = ("restore",)
    settings.GAN_WEIGHTS = {
        "restore": tiny_weights,
        "colorize": tmp_path / "none" / "colorize.safetensors",
        "upscale": tmp_path / "none" / "upscale.safetensors",
        "style": tmp_path / "none" / "style.safetensors",
    }
    settings.GAN_DEVICE = "cpu"
    settings.GAN_THREADS = 0  # leave the test process's own torch threads alone (see test_jobs_service)
    settings.GAN_TILE = 64
    settings.JOB_MAX_ATTEMPTS = 3
    settings.JOB_PROGRESS_INTERVAL = 0.0
    return tiny_weights


@pytest.fixture
def enqueued(monkeypatch) -> list[int]:
    """Job ids that would be sent to the broker, collected at once (nothing is sent).

    In a test's transaction ``on_commit`` never fires, so the hook is replaced; the test of
    submission checks the real ``on_commit`` path.
    """
    from restoration import jobs

    sent: list[int] = []
    monkeypatch.setattr(jobs, "_enqueue_on_commit", sent.append)
    return sent


@pytest.fixture
def original(db, curator, archive_dirs, make_image):
    """``original(name="scan.png", **make_image kwargs)``: ingests an image, returns its original version."""
    from restoration import services

    def make(name: str = "scan.png", identifier: str | None = None, **kwargs):
        path = make_image(name, **kwargs)
        with open(path, "rb") as fh:
            return services.ingest_upload(
                fh, filename=name, metadata={"identifier": identifier or Path(name).stem}, collection=None,
                user=curator, route="cli",
            )

    return make


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

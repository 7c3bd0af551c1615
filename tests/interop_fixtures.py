"""Fixtures of the interoperability tests (IIIF, OAI-PMH, BagIt): items with real image files.

``quadrants`` images have four coloured quarters (top left red, top right green, bottom left
blue, bottom right white), so a test can tell from a pixel's colour which part of the image a
response shows.
"""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restoration import services
from restoration.models import Collection, Version

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
WEIGHTS_SHA256 = "3f2a9c01d4e5" + "ab" * 26
_seeds = itertools.count(1)


def quadrants_array(width: int, height: int, *, seed: int | None = None) -> np.ndarray:
    """(H, W, 3) uint8: red, green / blue, white quarters; one pixel per call differs (no duplicates)."""
    data = np.zeros((height, width, 3), dtype=np.uint8)
    data[: height // 2, : width // 2] = RED
    data[: height // 2, width // 2 :] = GREEN
    data[height // 2 :, : width // 2] = BLUE
    data[height // 2 :, width // 2 :] = WHITE
    data[-1, -1] = (next(_seeds) if seed is None else seed) % 250  # distinct content, same picture
    return data


def quadrants_bytes(width: int = 400, height: int = 300, fmt: str = "PNG", **save) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(quadrants_array(width, height)).save(buffer, fmt, **save)
    return buffer.getvalue()


def near(colour, expected, tolerance: int = 40) -> bool:
    return all(abs(int(a) - int(b)) <= tolerance for a, b in zip(colour, expected))


@pytest.fixture
def store(db, curator, archive_dirs):
    """``store(data, identifier, filename=..., collection=None, **metadata)``: the original Version."""

    def _store(data: bytes, identifier: str, *, filename: str | None = None, collection: Collection | None = None,
               **metadata) -> Version:
        return services.ingest_upload(
            io.BytesIO(data), filename=filename or f"{identifier}.png",
            metadata={"identifier": identifier, **metadata}, collection=collection, user=curator, route="api",
        )

    return _store


@pytest.fixture
def restore(curator):
    """``restore(original, data=None)``: a derivative recorded as the jobs path records one."""

    def _restore(original: Version, data: bytes | None = None, *, kind: str = "restored",
                 model: str = "restore-unet-tiny") -> Version:
        data = data if data is not None else quadrants_bytes(original.width, original.height)
        software = {"name": "gan_engine", "version": "0.1.0", "model": model, "weights_sha256": WEIGHTS_SHA256}
        return services.add_derivative(
            original, io.BytesIO(data), kind=kind, filename=f"{Path(original.original_filename).stem}-restore.png",
            user=curator, software=software,
            detail={"job": 1, "task": "restore", "model": model, "weights_sha256": WEIGHTS_SHA256},
        )

    return _restore


@pytest.fixture
def public_collection(db) -> Collection:
    return Collection.objects.create(name="Harbour prints", slug="harbour", is_public=True,
                                     description="Prints of the harbour, 1900-1930.")


@pytest.fixture
def private_collection(db) -> Collection:
    return Collection.objects.create(name="Family album", slug="family", is_public=False)

"""Fixtures of the interoperability tests (IIIF, OAI-PMH, BagIt): items with real image files
(``tests.support.quadrants_bytes``), derivatives recorded as the jobs path records them, and
this folder's own public and private collections."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support import WEIGHTS_SHA256, quadrants_bytes

if TYPE_CHECKING:
    from restoration.models import Collection, Version


@pytest.fixture
def store(db, curator, archive_dirs):
    """``store(data, identifier, filename=..., collection=None, **metadata)``: the original Version."""
    from restoration.core import services

    def _store(data: bytes, identifier: str, *, filename: str | None = None, collection: Collection | None = None,
               **metadata) -> Version:
        return services.ingest_upload(
            io.BytesIO(data), filename=filename or f"{identifier}.png",
            metadata={"identifier": identifier, **metadata}, collection=collection, user=curator, route="api",
        )

    return _store


@pytest.fixture
def restore(curator):
    """``restore(original, data=None, review="accepted")``: a derivative recorded as the jobs path
    records one, then reviewed by the curator (``review=None``: left pending)."""
    from restoration.core import services

    def _restore(original: Version, data: bytes | None = None, *, kind: str = "restored",
                 model: str = "restore-unet-tiny", review: str | None = "accepted") -> Version:
        data = data if data is not None else quadrants_bytes(original.width, original.height)
        software = {"name": "gan_engine", "version": "0.1.0", "model": model, "weights_sha256": WEIGHTS_SHA256}
        version = services.add_derivative(
            original, io.BytesIO(data), kind=kind, filename=f"{Path(original.original_filename).stem}-restore.png",
            user=curator, software=software,
            detail={"job": 1, "task": "restore", "model": model, "weights_sha256": WEIGHTS_SHA256},
        )
        if review is not None:  # accepted by default, so that the public sees it (None: pending, as a job leaves it)
            services.review_version(version, review, reason="checked" if review == "accepted" else "test", user=curator)
        return version

    return _restore


@pytest.fixture
def public_collection(db) -> Collection:
    from restoration.models import Collection

    return Collection.objects.create(name="Harbour prints", slug="harbour", is_public=True,
                                     description="Prints of the harbour, 1900-1930.")


@pytest.fixture
def private_collection(db) -> Collection:
    from restoration.models import Collection

    return Collection.objects.create(name="Family album", slug="family", is_public=False)

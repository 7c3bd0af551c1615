"""Fixtures and helpers of the API tests (imported by tests/test_api_*.py).

Users come from tests/conftest.py (``curator``, ``staff``) plus ``reader`` (authenticated, no
permission at all). Clients authenticate with real tokens, as API clients do.
"""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from restoration import services
from restoration.models import Collection, Item, ProvenanceEvent, Version

_seeds = itertools.count(1)


# --- Images -----------------------------------------------------------------------------------


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


def upload(data: bytes, name: str = "scan.png", content_type: str = "image/png") -> SimpleUploadedFile:
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
    return Item.objects.count(), Version.objects.count(), ProvenanceEvent.objects.count()


# --- Storage and users -----------------------------------------------------------------------
# tests/conftest.py gives every test its own media, upload and var folders (autouse
# ``archive_dirs``), the ``curator`` (in the migrated "Curators" group) and ``staff`` users, and
# ``archive_state`` (row counts and files, for "nothing left behind").


@pytest.fixture(autouse=True)
def fast_password_hasher(settings) -> None:
    """Users are made with passwords in every test: the production hasher costs ~0.3 s each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def api_media(archive_dirs) -> Path:
    """The test's media folder; ``default_storage`` follows it."""
    from django.core.files.storage import default_storage

    assert Path(default_storage.location) == archive_dirs.media, "default_storage did not follow the settings"
    return archive_dirs.media


@pytest.fixture
def reader(django_user_model):
    """An authenticated account with no permission and no staff status."""
    return django_user_model.objects.create_user("reader", password="reader-pass-1234")


def token_client(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def curator_client(curator) -> APIClient:
    return token_client(curator)


@pytest.fixture
def staff_client(staff) -> APIClient:
    return token_client(staff)


@pytest.fixture
def reader_client(reader) -> APIClient:
    return token_client(reader)


# --- Archive content --------------------------------------------------------------------------


@pytest.fixture
def public_collection(db) -> Collection:
    return Collection.objects.create(name="Public prints", slug="public-prints", is_public=True)


@pytest.fixture
def private_collection(db) -> Collection:
    return Collection.objects.create(name="Family album", slug="family-album", is_public=False)


@pytest.fixture
def ingest_item(api_media, curator):
    """``ingest_item(identifier, **metadata)`` stores a fresh small PNG as a new item; returns the original."""

    def _ingest(identifier: str, *, data: bytes | None = None, filename: str | None = None, collection=None, **metadata):
        data = image_bytes() if data is None else data
        return services.ingest_upload(
            io.BytesIO(data),
            filename=filename or f"{identifier}.png",
            metadata={"identifier": identifier, **metadata},
            collection=collection,
            user=curator,
            route="api",
        )

    return _ingest

"""Shared fixtures: private storage and database per run, real image files, users, snapshots.

Every test gets its own media folder, upload temporary folder and ``VAR_DIR`` under its
``tmp_path`` (autouse), so no test writes into ``var/``. Images are real files written with
Pillow or OpenCV (16-bit colour, which Pillow cannot write), each with distinct pixels.
"""

from __future__ import annotations

import io
import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from tests.support import image_bytes, save_tiny_checkpoint, token_client

if TYPE_CHECKING:
    from rest_framework.test import APIClient

    from restoration.models import Collection

EXTENSION_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP"}
_distinct = itertools.count(1)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """On SQLite, test in a private database file in a temporary folder of this pytest process
    instead of ``var/test_archive.sqlite3``.

    Several people (and CI jobs) run the suite in one checkout at once; a shared file would be
    dropped and recreated under each other's feet. A file rather than memory, because the job
    tests start a real ``qcluster`` process that must open the same database. PostgreSQL keeps
    its ``test_<name>`` database.
    """
    import shutil
    import tempfile

    from django.conf import settings

    folder = tempfile.mkdtemp(prefix="archive-test-db-")
    for alias, db in settings.DATABASES.items():
        if db["ENGINE"] == "django.db.backends.sqlite3" and not os.environ.get("SQLITE_TEST_NAME"):
            db.setdefault("TEST", {})["NAME"] = str(Path(folder) / f"test_{alias}.sqlite3")
    yield
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def archive_dirs(settings, tmp_path) -> "ArchiveDirs":
    """Points default storage, upload temporary files and VAR_DIR at this test's tmp_path."""
    media = tmp_path / "media"
    uploads = tmp_path / "uploads"
    var = tmp_path / "var"
    for folder in (media, uploads, var):
        folder.mkdir()
    settings.MEDIA_ROOT = media
    # Assigning STORAGES fires setting_changed, which resets ``storages`` and ``default_storage``.
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(media), "base_url": "/media/"},
        },
    }
    settings.FILE_UPLOAD_TEMP_DIR = str(uploads)
    settings.VAR_DIR = var
    # A deliberately slow hash protects real passwords; tests create many users and need none of it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return ArchiveDirs(media=media, uploads=uploads, var=var, work=tmp_path / "work")


@dataclass(frozen=True)
class ArchiveDirs:
    media: Path
    uploads: Path
    var: Path
    work: Path  # where tests write their input files

    def media_files(self) -> list[str]:
        return sorted(str(p.relative_to(self.media)) for p in self.media.rglob("*") if p.is_file())

    def upload_files(self) -> list[str]:
        return sorted(str(p.relative_to(self.uploads)) for p in self.uploads.rglob("*"))


def _pattern(height: int, width: int, channels: int, maximum: int, seed: int) -> np.ndarray:
    """A smooth gradient with seeded noise: (H, W, C), values in [0, maximum], distinct per seed."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, height)[:, None, None]
    x = np.linspace(0, 1, width)[None, :, None]
    c = np.linspace(0.2, 1, channels)[None, None, :]
    base = (0.6 * x + 0.4 * y) * c
    noise = rng.uniform(-0.05, 0.05, size=(height, width, channels))
    return np.clip((base + noise) * maximum, 0, maximum)


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.fixture
def make_image(archive_dirs):
    """Factory: ``make_image("a.png", size=(w, h), mode="RGB", bits=8, alpha=False, pages=1,
    orientation=None, icc=None, value=None)`` writes a real image and returns its path.

    ``mode`` is "RGB" or "L"; ``bits`` 8 or 16; the format follows the extension. ``value``
    fills the image with one grey level (in the file's bit depth) instead of a gradient.
    """
    archive_dirs.work.mkdir(exist_ok=True)

    def make(
        name: str = "photo.png",
        *,
        size: tuple[int, int] = (64, 48),
        mode: str = "RGB",
        bits: int = 8,
        alpha: bool = False,
        pages: int = 1,
        orientation: int | None = None,
        icc: bytes | None = None,
        value: int | None = None,
        directory: Path | None = None,
    ) -> Path:
        path = (directory or archive_dirs.work) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        fmt = EXTENSION_FORMATS[path.suffix.lower()]
        width, height = size
        channels = (3 if mode == "RGB" else 1) + (1 if alpha else 0)
        maximum = 65535 if bits == 16 else 255
        dtype = np.uint16 if bits == 16 else np.uint8
        frames = []
        for _ in range(pages):
            if value is not None:
                data = np.full((height, width, channels), value, dtype=dtype)
            else:
                data = _pattern(height, width, channels, maximum, next(_distinct)).astype(dtype)
            if alpha:
                data[..., -1] = maximum  # opaque, except a transparent left quarter
                data[:, : width // 4, -1] = 0
            frames.append(data)

        if bits == 16 and channels > 1:
            # Pillow cannot write 16-bit colour; OpenCV writes PNG and TIFF (channels in BGR order).
            assert fmt in ("PNG", "TIFF") and pages == 1 and orientation is None and icc is None
            order = [2, 1, 0, 3][:channels]
            assert cv2.imwrite(str(path), frames[0][..., order])
            return path

        images = []
        for data in frames:
            # uint16 (H, W) -> "I;16"; uint8 (H, W) -> "L", (H, W, 2|3|4) -> "LA", "RGB", "RGBA"
            images.append(Image.fromarray(np.ascontiguousarray(data if channels > 1 else data[..., 0])))
        params: dict = {}
        if orientation is not None:
            exif = Image.Exif()
            exif[0x0112] = orientation
            params["exif"] = exif
        if icc is not None:
            params["icc_profile"] = icc
        if pages > 1:
            params.update(save_all=True, append_images=images[1:])
        images[0].save(path, fmt, **params)
        return path

    return make


# --- Users ------------------------------------------------------------------------------------


@pytest.fixture
def anonymous():
    from django.contrib.auth.models import AnonymousUser

    return AnonymousUser()


@pytest.fixture
def staff(django_user_model):
    """A staff account outside Curators: it may only view."""
    return django_user_model.objects.create_user("staff", password="staff-pass-1234", is_staff=True)


@pytest.fixture
def curator(django_user_model):
    """A staff account in the Curators group (created by migration 0002)."""
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user("curator", password="curator-pass-1234", is_staff=True)
    user.groups.add(Group.objects.filter(name="Curators").first() or _recreate_curators_group())
    return user


def _recreate_curators_group():
    """The group as migrations 0002 and 0004 make it.

    A transactional test (live server, real worker) ends with a flush of every table; Django
    recreates content types and permissions afterwards (post_migrate), but not rows written by
    data migrations, so a later test finds no group.
    """
    import importlib

    from django.contrib.auth.models import Group, Permission

    m2 = importlib.import_module("restoration.migrations.0002_curators_group")
    m4 = importlib.import_module("restoration.migrations.0004_job_permissions_and_reaper")
    group = Group.objects.create(name=m2.CURATORS)
    for model, codename in m2.CURATOR_PERMISSIONS:
        group.permissions.add(Permission.objects.get(content_type__app_label="restoration",
                                                     content_type__model=model, codename=codename))
    group.permissions.add(*Permission.objects.filter(content_type__app_label="restoration",
                                                     codename__in=m4.JOB_PERMISSIONS))
    return group


@pytest.fixture
def viewer(django_user_model):
    """A staff account in the read-only "Viewers" group (migration 0009): it sees non-public
    material and changes nothing."""
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user("viewer", password="viewer-pass-1234", is_staff=True)
    user.groups.add(Group.objects.filter(name="Viewers").first() or _recreate_viewers_group())
    return user


def _recreate_viewers_group():
    """The group as migration 0009 makes it (see ``_recreate_curators_group``)."""
    import importlib

    from django.contrib.auth.models import Group, Permission

    m9 = importlib.import_module("restoration.migrations.0009_viewers_and_access")
    group = Group.objects.create(name=m9.VIEWERS)
    group.permissions.add(*Permission.objects.filter(content_type__app_label="restoration",
                                                     codename__in=m9.VIEWER_PERMISSIONS))
    return group


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", password="root-pass-1234")


# --- Archive helpers ----------------------------------------------------------------------------


@pytest.fixture
def ingest(db, curator):
    """Ingests a file through the service: ``ingest(path, metadata=None, collection=None, user=curator)``."""
    from restoration.core import services

    def run(path: Path, metadata: dict | None = None, *, collection=None, user=curator, route: str = "cli"):
        with open(path, "rb") as fh:
            return services.ingest_upload(
                fh, filename=Path(path).name, metadata=metadata or {}, collection=collection, user=user, route=route
            )

    return run


@pytest.fixture
def archive_state(db, archive_dirs):
    """Snapshot of everything an ingest could leave behind: row counts and files."""
    from restoration.models import Agent, EventAgent, EventObject, Item, ProvenanceEvent, Version

    def snapshot() -> dict:
        return {
            "items": Item.objects.count(),
            "versions": Version.objects.count(),
            "events": ProvenanceEvent.objects.count(),
            "event_objects": EventObject.objects.count(),
            "event_agents": EventAgent.objects.count(),
            "agents": Agent.objects.count(),
            "media": archive_dirs.media_files(),
            "uploads": archive_dirs.upload_files(),
        }

    return snapshot


# --- Refused uploads ----------------------------------------------------------------------------


def png_chunk(kind: bytes, data: bytes) -> bytes:
    import struct
    import zlib

    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A well-formed PNG whose header claims ``width`` x ``height`` pixels (its data is tiny)."""
    import struct
    import zlib

    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def jpeg_claiming(jpeg: bytes, width: int, height: int) -> bytes:
    """A real JPEG with its frame header (SOF0) rewritten to claim ``width`` x ``height``."""
    import struct

    sof = jpeg.index(b"\xff\xc0")
    return jpeg[: sof + 5] + struct.pack(">HH", height, width) + jpeg[sof + 9 :]


@dataclass(frozen=True)
class BadUpload:
    path: Path
    filename: str  # the name the client sends
    code: str  # the IngestError code expected
    field: str = "file"


BAD_UPLOADS = (
    "empty",
    "text",
    "gif",
    "float_tiff",
    "garbage_png",
    "truncated_png",
    "truncated_jpeg",
    "truncated_tiff",
    "bomb_by_limit",
    "bomb_png_header",
    "bomb_jpeg_header",
    "too_large",
    "nul_name",
    "dots_name",
    "control_name",
)


@pytest.fixture(params=BAD_UPLOADS)
def bad_upload(request, make_image, archive_dirs, settings) -> BadUpload:
    """Each kind of upload the archive refuses (the test is run once per kind)."""
    case = request.param
    work = archive_dirs.work
    work.mkdir(exist_ok=True)

    def written(name: str, data: bytes) -> Path:
        path = work / name
        path.write_bytes(data)
        return path

    def truncated(path: Path) -> Path:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        return path

    if case == "empty":
        return BadUpload(written("empty.png", b""), "empty.png", "empty_file")
    if case == "text":
        return BadUpload(written("notes.png", b"Shelf list, box 12\n" * 20), "notes.png", "not_an_image")
    if case == "gif":
        path = work / "anim.gif"
        Image.new("P", (8, 8)).save(path, "GIF")
        return BadUpload(path, "anim.gif", "unsupported_format")
    if case == "float_tiff":
        path = work / "float.tif"
        Image.fromarray(np.ones((8, 8), dtype=np.float32)).save(path, "TIFF")
        return BadUpload(path, "float.tif", "unsupported_format")
    if case == "garbage_png":
        return BadUpload(written("garbage.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4), "garbage.png", "corrupt_image")
    if case == "truncated_png":
        return BadUpload(truncated(make_image("cut.png", size=(200, 150))), "cut.png", "corrupt_image")
    if case == "truncated_jpeg":
        return BadUpload(truncated(make_image("cut.jpg", size=(200, 150))), "cut.jpg", "corrupt_image")
    if case == "truncated_tiff":
        return BadUpload(truncated(make_image("cut.tif", size=(200, 150))), "cut.tif", "corrupt_image")
    if case == "bomb_by_limit":
        settings.ARCHIVE_MAX_IMAGE_PIXELS = 1000  # the image is 64 x 48 = 3072 pixels
        return BadUpload(make_image("big.png"), "big.png", "too_many_pixels")
    if case == "bomb_png_header":
        return BadUpload(written("bomb.png", png_claiming(100_000, 100_000)), "bomb.png", "too_many_pixels")
    if case == "bomb_jpeg_header":
        jpeg = make_image("small.jpg").read_bytes()
        return BadUpload(written("bomb.jpg", jpeg_claiming(jpeg, 60_000, 60_000)), "bomb.jpg", "too_many_pixels")
    if case == "too_large":
        path = make_image("large.png", size=(200, 150))
        settings.ARCHIVE_MAX_UPLOAD_BYTES = path.stat().st_size - 1
        return BadUpload(path, "large.png", "file_too_large")
    if case == "nul_name":
        return BadUpload(make_image("nul.png"), "photo\x00.png", "bad_filename")
    if case == "dots_name":
        return BadUpload(make_image("dots.png"), "../../..", "bad_filename")
    if case == "control_name":
        return BadUpload(make_image("control.png"), "\x1b\x07\u202e\t", "bad_filename")
    raise AssertionError(case)


# --- API clients, collections, job settings (the fixtures of the API, pages and jobs tests) -------


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


@pytest.fixture
def anon_client() -> APIClient:
    from rest_framework.test import APIClient

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


@pytest.fixture
def viewer_client(viewer) -> APIClient:
    return token_client(viewer)


@pytest.fixture
def public_collection(db) -> Collection:
    from restoration.models import Collection

    return Collection.objects.create(name="Public prints", slug="public-prints", is_public=True)


@pytest.fixture
def private_collection(db) -> Collection:
    from restoration.models import Collection

    return Collection.objects.create(name="Family album", slug="family-album", is_public=False)


@pytest.fixture
def ingest_item(api_media, curator):
    """``ingest_item(identifier, **metadata)`` stores a fresh small PNG as a new item; returns the original."""
    from restoration.core import services

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
    from restoration.jobs import submission

    sent: list[int] = []
    monkeypatch.setattr(submission, "enqueue_on_commit", sent.append)
    return sent


@pytest.fixture
def original(db, curator, archive_dirs, make_image):
    """``original(name="scan.png", **make_image kwargs)``: ingests an image, returns its original version."""
    from restoration.core import services

    def make(name: str = "scan.png", identifier: str | None = None, **kwargs):
        path = make_image(name, **kwargs)
        with open(path, "rb") as fh:
            return services.ingest_upload(
                fh, filename=name, metadata={"identifier": identifier or Path(name).stem}, collection=None,
                user=curator, route="cli",
            )

    return make


@pytest.fixture
def start_cluster(transactional_db, gan_settings, settings, archive_dirs, tmp_path):
    """``start_cluster(slow=False, **env)`` starts a qcluster on the test database (``env``: more
    environment variables, e.g. ``Q_QUEUE="long"``); all are killed at the end."""
    import sys

    from tests.support import Cluster, database_url

    clusters: list[Cluster] = []

    def start(*, slow: bool = False, **extra: str) -> Cluster:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "archive_site.settings",
            "DATABASE_URL": database_url(),
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
            "ARCHIVE_MEDIA_ROOT": str(archive_dirs.media),
            "ARCHIVE_UPLOAD_TEMP_DIR": str(archive_dirs.uploads),
            "ARCHIVE_VAR_DIR": str(archive_dirs.var),
            "GAN_WEIGHTS_RESTORE": str(settings.GAN_WEIGHTS["restore"]),
            "GAN_DEVICE": "cpu",
            "GAN_THREADS": "1",
            "GAN_TILE": str(settings.GAN_TILE),
            "JOB_PROGRESS_INTERVAL": "0",
            "Q_WORKERS": "1",
            "Q_POLL": "0.1",
            "Q_TIMEOUT": "120",
            "Q_RETRY": "180",
            "PYTHONUNBUFFERED": "1",
            "SLOW_ENGINE_DELAY": "0.3",
        }
        env.pop("SQLITE_TEST_NAME", None)
        env.update(extra)
        argv = [sys.executable, "-m", "tests.jobs.slow_qcluster"] if slow else [sys.executable, "manage.py", "qcluster"]
        cluster = Cluster(argv, env, tmp_path / f"qcluster-{len(clusters)}.log")
        clusters.append(cluster)
        return cluster

    yield start
    for cluster in clusters:
        cluster.kill()


@pytest.fixture
def replace_runner(monkeypatch):
    """``replace_runner(task, runner)``: the task's definition runs ``runner(ctx)`` for this test."""
    import dataclasses

    from restoration.jobs.tasks import TASKS

    def replace(task: str, runner) -> None:
        monkeypatch.setitem(TASKS, task, dataclasses.replace(TASKS[task], runner=runner))

    return replace

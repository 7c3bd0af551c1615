"""The IIIF image service under abuse: parameters it must refuse (400, never 500), the capped
disk cache, the limit on decodes at once, access copies made at ingest, on first use, by the
command, and the direct path when libvips cannot make one."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest
import pyvips
from django.core.management import call_command
from PIL import Image

from restoration.core import pyramid, services
from restoration.interop.iiif import cache as disk_cache
from restoration.interop.iiif import image as iiif
from restoration.interop.iiif import render as iiif_render
from restoration.interop.iiif import views as iiif_views
from tests.core.test_pyramid import photo_like
from tests.support import GREEN, near, quadrants_bytes

NO_LIMITS = iiif.Limits()
SOURCE = iiif.SourceInfo(width=400, height=300, is_color=True, format="PNG")
HUNDREDS = "9" * 300


@pytest.fixture
def public_version(store, public_collection):
    return store(quadrants_bytes(400, 300), "LIM-1", collection=public_collection, is_public=True)


def _get(client, version, path):
    return client.get(f"/iiif/3/{version.pk}/{path}")


def _decoded(response) -> Image.Image:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return Image.open(io.BytesIO(body))


# --- Parameters: every class refused with a reason ------------------------------------------------

REFUSALS = [
    # numbers with hundreds of digits, in every place a number goes
    (f"0,0,{HUNDREDS},10", "max", "0", "default.jpg", "region"),
    (f"{HUNDREDS},0,10,10", "max", "0", "default.jpg", "region"),
    (f"pct:0,0,{HUNDREDS},10", "max", "0", "default.jpg", "region"),
    (f"pct:0,0,50.{HUNDREDS},10", "max", "0", "default.jpg", "region"),
    ("full", f"{HUNDREDS},", "0", "default.jpg", "size"),
    ("full", f"^{HUNDREDS},", "0", "default.jpg", "size"),
    ("full", f"^!{HUNDREDS},{HUNDREDS}", "0", "default.jpg", "size"),
    ("full", f"^pct:{HUNDREDS}", "0", "default.jpg", "size"),
    ("full", "9" * 5000 + ",", "0", "default.jpg", "size"),  # past Python's int() digit limit
    ("full", "max", HUNDREDS, "default.jpg", "rotation"),
    # zero and negative
    ("0,0,0,0", "max", "0", "default.jpg", "region"),
    ("-1,0,10,10", "max", "0", "default.jpg", "region"),
    ("full", "0,", "0", "default.jpg", "size"),
    ("full", "^0,0", "0", "default.jpg", "size"),
    ("full", "!0,10", "0", "default.jpg", "size"),
    ("full", "-10,", "0", "default.jpg", "size"),
    ("full", "pct:0", "0", "default.jpg", "size"),
    ("full", "pct:0.0001", "0", "default.jpg", "size"),  # rounds to no pixels
    ("full", "max", "-90", "default.jpg", "rotation"),
    # larger than the format can hold
    ("0,0,10,1", "^65501,", "0", "default.jpg", "size"),
    ("0,0,1,10", "^,65501", "90", "default.jpg", "size"),
    ("0,0,10,1", "^16384,", "0", "default.webp", "size"),
    # upscaling without ^, and beyond the limits
    ("full", "800,", "0", "default.jpg", "size"),
    ("full", "^10000,10000", "0", "default.png", "size"),
]


@pytest.mark.parametrize(("region", "size", "rotation", "quality", "parameter"), REFUSALS)
def test_parameters_are_refused_with_a_reason(region, size, rotation, quality, parameter):
    limits = iiif.Limits(max_area=16_777_216)
    with pytest.raises(iiif.RequestError) as caught:
        iiif.parse_request(region, size, rotation, quality, SOURCE, limits)
    assert caught.value.status == 400 and caught.value.parameter == parameter and len(caught.value.message) > 10


def test_format_limits_leave_room_for_what_formats_hold():
    wide = iiif.parse_request("0,0,10,1", "^65500,", "0", "default.jpg", SOURCE, NO_LIMITS)
    assert (wide.width, wide.height) == (65500, 6550)
    assert iiif.parse_request("0,0,10,1", "^16383,", "0", "default.webp", SOURCE, NO_LIMITS).width == 16383
    assert iiif.parse_request("0,0,10,1", "^16384,", "0", "default.png", SOURCE, NO_LIMITS).width == 16384


@pytest.mark.parametrize(("region", "size", "rotation", "quality", "_parameter"), REFUSALS)
def test_the_service_answers_them_400_never_500(client, public_version, region, size, rotation, quality, _parameter):
    response = _get(client, public_version, f"{region}/{size}/{rotation}/{quality}")
    assert response.status_code == 400, response.content[:200]
    assert response["Content-Type"].startswith("text/plain") and response.content.startswith(b"Bad ")


def test_info_json_states_the_limits(client, public_version, settings):
    settings.IIIF_MAX_AREA, settings.IIIF_MAX_WIDTH, settings.IIIF_MAX_HEIGHT = 40_000, 300, 200
    info = json.loads(_get(client, public_version, "info.json").content)
    assert (info["maxArea"], info["maxWidth"], info["maxHeight"]) == (40_000, 300, 200)
    assert _get(client, public_version, "full/^301,/0/default.jpg").status_code == 400
    assert _get(client, public_version, "full/^,201/0/default.jpg").status_code == 400
    assert _decoded(_get(client, public_version, "full/max/0/default.jpg")).size == (230, 173)  # within the area


# --- Access copies ----------------------------------------------------------------------------------


def test_ingest_and_derivatives_make_access_copies(store, restore, public_collection, archive_dirs):
    from restoration.models import AccessCopy

    original = store(quadrants_bytes(700, 500), "AC-1", collection=public_collection, is_public=True)
    derivative = restore(original)
    for version in (original, derivative):
        copy = AccessCopy.objects.get(version=version)
        assert (copy.width, copy.height, copy.bands, copy.compression) == (700, 500, 3, "jpeg")
        stored = archive_dirs.media / copy.file.name
        assert stored.exists() and stored.stat().st_size == copy.bytes
        assert copy.file.name == version.file.name.rsplit(".", 1)[0] + ".pyramid.tif"
        assert copy.levels == len(iiif.scale_factors(700, 500, copy.tile_size))
    assert services.ensure_access_copy(original) == AccessCopy.objects.get(version=original)  # made once


@pytest.mark.parametrize("compression", ["jpeg", "deflate"])
def test_tiles_equal_the_region_cut_from_the_original(client, store, public_collection, settings, compression):
    """What a viewer asks for, at three scale factors, against Pillow's cut of the original."""
    settings.IIIF_TILE_SIZE = 256
    settings.IIIF_PYRAMID_COMPRESSION = compression
    array = photo_like(1200, 900)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    version = store(buffer.getvalue(), "AC-TILES", collection=public_collection, is_public=True)
    original = Image.fromarray(array)
    for region, width in (("256,256,256,256", 256), ("512,0,512,512", 256), ("1024,512,176,388", 44),
                          ("full", 150)):
        response = _get(client, version, f"{region}/{width},/0/default.jpg")
        assert response.status_code == 200, response.content
        x, y, w, h = (0, 0, 1200, 900) if region == "full" else map(int, region.split(","))
        tile = np.asarray(_decoded(response).convert("RGB"), dtype=int)
        assert tile.shape[:2] == (round(width * h / w), width)
        out = (tile.shape[1], tile.shape[0])
        expected = np.asarray(original.resize(out, Image.Resampling.LANCZOS, box=(x, y, x + w, y + h)), dtype=int)
        assert np.abs(tile - expected).mean() < 6, region  # JPEG at quality 85, and a different resampler
    png = np.asarray(_decoded(_get(client, version, "256,256,256,256/max/0/default.png")), dtype=int)
    if compression == "deflate":
        assert np.array_equal(png, array[256:512, 256:512])  # lossless access copy: exact at full size
    else:
        assert np.abs(png - array[256:512, 256:512]).mean() < 4


def test_a_version_without_an_access_copy_gets_one_on_first_use(client, public_version, archive_dirs, monkeypatch):
    from restoration.models import AccessCopy

    copy = AccessCopy.objects.get(version=public_version)
    (archive_dirs.media / copy.file.name).unlink()
    copy.delete()
    built = []
    real = pyramid.build
    monkeypatch.setattr(pyramid, "build", lambda *a, **k: built.append(a) or real(*a, **k))
    assert _get(client, public_version, "info.json").status_code == 200
    assert built == [] and not AccessCopy.objects.filter(version=public_version).exists()  # info.json builds nothing
    response = _get(client, public_version, "200,0,200,150/100,/0/default.jpg")
    assert response.status_code == 200 and near(_decoded(response).getpixel((50, 37)), GREEN)
    assert len(built) == 1 and AccessCopy.objects.filter(version=public_version).exists()
    _get(client, public_version, "0,0,200,150/100,/0/default.jpg")
    assert len(built) == 1


def test_an_unreadable_access_copy_is_made_again(client, public_version, archive_dirs):
    from restoration.models import AccessCopy

    broken = AccessCopy.objects.get(version=public_version)
    (archive_dirs.media / broken.file.name).write_bytes(b"II*\x00" + b"\x00" * 64)
    response = _get(client, public_version, "200,0,200,150/100,/0/default.jpg")
    assert response.status_code == 200 and near(_decoded(response).getpixel((50, 37)), GREEN)
    remade = AccessCopy.objects.get(version=public_version)
    assert remade.pk != broken.pk
    assert pyvips.Image.new_from_file(str(archive_dirs.media / remade.file.name)).width == 400
    assert len(list(archive_dirs.media.rglob("*.pyramid*"))) == 1  # the broken one is gone


def test_the_command_makes_missing_access_copies(public_version, store, public_collection, archive_dirs):
    from restoration.models import AccessCopy

    other = store(quadrants_bytes(300, 200), "AC-CMD", collection=public_collection, is_public=True)
    AccessCopy.objects.all().delete()
    out = io.StringIO()
    call_command("build_access_copies", stdout=out, stderr=io.StringIO())
    assert "Made 2 access copies; 0 failed." in out.getvalue()
    assert {c.version_id for c in AccessCopy.objects.all()} == {public_version.pk, other.pk}
    (archive_dirs.media / other.file.name).unlink()
    AccessCopy.objects.filter(version=other).delete()
    with pytest.raises(Exception, match="1 version"):
        call_command("build_access_copies", stdout=out, stderr=io.StringIO())
    assert "the stored file is missing" in out.getvalue()


def test_libvips_failure_falls_back_to_the_stored_file(client, store, public_collection, monkeypatch):
    """A file libvips cannot copy is still archived, and served by the direct (Pillow) path."""
    from restoration.models import AccessCopy

    def fail(*_args, **_kwargs):
        raise pyramid.PyramidError("unreadable")

    monkeypatch.setattr(pyramid, "build", fail)
    version = store(quadrants_bytes(400, 300), "AC-FAIL", collection=public_collection, is_public=True)
    assert not AccessCopy.objects.filter(version=version).exists()
    direct = []
    real = iiif_render.render
    monkeypatch.setattr(iiif_render, "render", lambda *a, **k: direct.append(1) or real(*a, **k))
    response = _get(client, version, "200,0,200,150/100,/0/default.jpg")
    assert response.status_code == 200 and near(_decoded(response).getpixel((50, 37)), GREEN) and direct == [1]
    assert _get(client, version, "200,0,200,150/50,/0/default.jpg").status_code == 200
    assert direct == [1, 1] and not AccessCopy.objects.filter(version=version).exists()  # not retried at once


def test_remote_storage_reads_a_local_copy_of_the_access_copy(client, public_version, archive_dirs, monkeypatch,
                                                             settings):
    """Storage without local paths (S3): the access copy is downloaded once into the capped folder."""
    from django.core.files import File
    from django.core.files.storage import FileSystemStorage

    real_path = FileSystemStorage.path
    opened = []

    def no_path(self, name):
        if not str(self.location).startswith(str(archive_dirs.media)):
            return real_path(self, name)  # static files (WhiteNoise's finders) stay on disk
        raise NotImplementedError("remote storage")

    def open_by_stream(self, name, mode="rb"):  # what a remote storage does: a stream, no path
        opened.append(name)
        return File(open(real_path(self, name), mode))

    monkeypatch.setattr(FileSystemStorage, "path", no_path)
    monkeypatch.setattr(FileSystemStorage, "_open", open_by_stream)
    settings.IIIF_ACCESS_CACHE_DIR = str(archive_dirs.var / "access")
    response = _get(client, public_version, "200,0,200,150/100,/0/default.jpg")
    assert response.status_code == 200 and near(_decoded(response).getpixel((50, 37)), GREEN)
    assert len(list((archive_dirs.var / "access").glob("*.tif"))) == 1 and opened[-1].endswith(".pyramid.tif")
    opened.clear()
    assert _get(client, public_version, "0,0,200,150/100,/0/default.jpg").status_code == 200
    assert opened == []  # the local copy served the second cut


# --- The disk cache ----------------------------------------------------------------------------------


def test_eviction_removes_the_least_recently_used_first(tmp_path):
    cache = disk_cache.DiskCache(tmp_path / "c", max_bytes=1000)
    paths = [tmp_path / "c" / "a" / f"{i}.jpg" for i in range(5)]
    for index, path in enumerate(paths):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 300)
        os.utime(path, (1_000_000 + index, 1_000_000))  # used in the order 0, 1, 2, 3, 4
    os.utime(paths[0], (2_000_000, 1_000_000))  # ... then 0 again: now the most recent
    assert cache.evict() == 600  # 1500 bytes -> at most 900 (LOW_WATER of the cap)
    assert [p.exists() for p in paths] == [True, False, False, True, True]
    assert cache.evict() == 0  # within the cap: nothing to do


def test_a_hit_marks_the_file_as_recently_used(tmp_path):
    cache = disk_cache.DiskCache(tmp_path, max_bytes=1000)
    path = tmp_path / "f.jpg"
    path.write_bytes(b"x")
    os.utime(path, (1_000, 1_000))
    assert cache.hit(path) and path.stat().st_atime > 1_000 and path.stat().st_mtime == 1_000
    assert not cache.hit(tmp_path / "absent.jpg")


def test_the_service_keeps_its_cache_under_the_cap(client, public_version, archive_dirs, settings, monkeypatch):
    settings.IIIF_CACHE_MAX_BYTES = 6000
    folder = archive_dirs.var / "cache" / "iiif"
    for width in range(100, 130):  # thirty distinct upscaled-size requests, as in the report
        assert _get(client, public_version, f"0,0,40,30/^{width},/0/default.jpg").status_code == 200
        total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        assert total <= settings.IIIF_CACHE_MAX_BYTES
    assert len(list(folder.rglob("*.jpg"))) < 30  # the least recently used went
    cuts = []
    real = iiif_render.render_pyramid
    monkeypatch.setattr(iiif_render, "render_pyramid", lambda *a, **k: cuts.append(1) or real(*a, **k))
    assert _get(client, public_version, "0,0,40,30/^129,/0/default.jpg").status_code == 200
    assert cuts == []  # the most recent one stayed
    assert _get(client, public_version, "0,0,40,30/^100,/0/default.jpg").status_code == 200
    assert cuts == [1]  # the oldest was removed and is cut again


# --- Decodes at once ------------------------------------------------------------------------------------


def test_requests_beyond_the_decode_limit_get_503_with_retry_after(client, public_version, settings):
    settings.IIIF_MAX_CONCURRENT_DECODES, settings.IIIF_DECODE_WAIT, settings.IIIF_RETRY_AFTER = 1, 0, 7
    assert _get(client, public_version, "full/50,/0/default.jpg").status_code == 200  # cached from now on
    with iiif_views.decode_slot():  # another request is decoding
        busy = _get(client, public_version, "full/60,/0/default.jpg")
        assert busy.status_code == 503 and busy["Retry-After"] == "7" and b"busy" in busy.content
        assert _get(client, public_version, "full/50,/0/default.jpg").status_code == 200  # the cache needs no slot
        assert _get(client, public_version, "info.json").status_code == 200  # nor does info.json
    assert _get(client, public_version, "full/60,/0/default.jpg").status_code == 200

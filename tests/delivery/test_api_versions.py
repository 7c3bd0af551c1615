"""Versions and their files: JSON, downloads, ETag / If-None-Match, Content-Disposition."""

from __future__ import annotations

import hashlib
import io
from urllib.parse import unquote

import pytest
from PIL import Image

from restoration.interop.http import content_disposition, safe_download_name
from restoration.models import Version
from tests.support import image_bytes

pytestmark = pytest.mark.django_db


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


def test_version_detail(viewer_client, ingest_item):
    version = ingest_item("VD-1")

    response = viewer_client.get(f"/api/versions/{version.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == version.pk
    assert body["item"] == version.item_id
    assert body["kind"] == "original"
    assert body["sha256"] == version.sha256
    assert body["created_by"] == "curator"
    assert body["file_url"] == f"http://testserver/api/versions/{version.pk}/file/"


def test_version_detail_created_by_is_null_without_a_user(viewer_client, api_media):
    from restoration.core import services

    version = services.ingest_upload(io.BytesIO(image_bytes()), filename="VD-2.png", metadata={"identifier": "VD-2"},
                                     collection=None, user=None, route="cli")  # e.g. manage.py ingest without --user

    assert viewer_client.get(f"/api/versions/{version.pk}/").json()["created_by"] is None


def test_file_download_streams_the_stored_bytes(viewer_client, ingest_item):
    data = image_bytes("PNG")
    version = ingest_item("DL-1", data=data, filename="harbour.png")

    response = viewer_client.get(f"/api/versions/{version.pk}/file/")

    assert response.status_code == 200
    assert body_of(response) == data
    assert response["Content-Type"] == "image/png"
    assert response["Content-Length"] == str(len(data))
    assert response["ETag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert response["Content-Disposition"].startswith("attachment; ")
    assert 'filename="DL-1_original.png"' in response["Content-Disposition"]


@pytest.mark.parametrize("accept", ["image/png", "text/html,application/xhtml+xml,*/*;q=0.8"])
def test_file_download_answers_any_accept_header(viewer_client, ingest_item, accept):
    version = ingest_item("DL-2")

    response = viewer_client.get(f"/api/versions/{version.pk}/file/", HTTP_ACCEPT=accept)
    missing = viewer_client.get("/api/versions/987654/file/", HTTP_ACCEPT=accept)

    assert response.status_code == 200
    assert missing.status_code == 404
    assert missing.json() == {"code": "not_found", "detail": "Not found."}


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("{etag}", id="exact"),
        pytest.param("W/{etag}", id="weak"),
        pytest.param('"other", {etag}', id="list"),
        pytest.param("*", id="star"),
    ],
)
def test_if_none_match_answers_304(viewer_client, ingest_item, header):
    version = ingest_item("INM-1")
    etag = f'"{version.sha256}"'

    response = viewer_client.get(f"/api/versions/{version.pk}/file/", HTTP_IF_NONE_MATCH=header.format(etag=etag))

    assert response.status_code == 304
    assert response["ETag"] == etag
    assert response.content == b""


def test_if_none_match_with_another_etag_answers_200(viewer_client, ingest_item):
    version = ingest_item("INM-2")

    response = viewer_client.get(f"/api/versions/{version.pk}/file/", HTTP_IF_NONE_MATCH='"' + "0" * 64 + '"')

    assert response.status_code == 200


def test_304_still_needs_visibility(anon_client, ingest_item):
    version = ingest_item("INM-3", is_public=False)

    response = anon_client.get(f"/api/versions/{version.pk}/file/", HTTP_IF_NONE_MATCH="*")

    assert response.status_code == 404


def test_unicode_identifier_gets_rfc6266_filename_star(viewer_client, ingest_item):
    version = ingest_item("Großvater am Hafen – 1920", filename="scan.png")

    header = viewer_client.get(f"/api/versions/{version.pk}/file/")["Content-Disposition"]

    assert header.startswith('attachment; filename="')
    ascii_part = header.split('filename="', 1)[1].split('"', 1)[0]
    assert ascii_part.isascii() and ascii_part.endswith("_original.png")
    assert "filename*=UTF-8''" in header
    assert unquote(header.split("filename*=UTF-8''", 1)[1]) == "Großvater am Hafen – 1920_original.png"
    assert header.isascii()


def test_display_images_download_as_jpeg(viewer_client, ingest_item):
    version = ingest_item("TH-1")

    thumb = viewer_client.get(f"/api/versions/{version.pk}/thumbnail/")
    access = viewer_client.get(f"/api/versions/{version.pk}/access/")

    for response in (thumb, access):
        assert response.status_code == 200
        assert response["Content-Type"] == "image/jpeg"
        assert Image.open(io.BytesIO(body_of(response))).format == "JPEG"
        assert response["ETag"].startswith('"') and response["ETag"] != f'"{version.sha256}"'
    assert thumb["ETag"] != access["ETag"]
    again = viewer_client.get(f"/api/versions/{version.pk}/thumbnail/", HTTP_IF_NONE_MATCH=thumb["ETag"])
    assert again.status_code == 304


def test_derivative_without_display_images_has_no_thumbnail(viewer_client, ingest_item, curator):
    original = ingest_item("TH-2")
    bare = Version.objects.create(
        item_id=original.item_id, kind="restored", parent=original, file=original.file.name, sha256="2" * 64,
        bytes=1, width=1, height=1, mode="RGB", bit_depth=8, mime_type="image/png", created_by=curator,
        review_status="accepted",
    )

    assert viewer_client.get(f"/api/versions/{bare.pk}/").json()["thumbnail_url"] is None
    response = viewer_client.get(f"/api/versions/{bare.pk}/thumbnail/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_missing_stored_file_answers_404_json(viewer_client, ingest_item):
    version = ingest_item("GONE-1")
    version.file.storage.delete(version.file.name)

    response = viewer_client.get(f"/api/versions/{version.pk}/file/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --- The header builders, on hostile names ----------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        'a"b.png',
        "evil\r\nSet-Cookie: x=1.png",
        "../../etc/passwd",
        "..\\..\\boot.ini",
        "semi;colon.png",
        "per%cent.png",
        "Ünïcödé 写真.tif",
        "\u202eecnalab.exe.png",  # right-to-left override
        "",
        "...",
    ],
)
def test_content_disposition_is_safe_for_hostile_names(name):
    safe = safe_download_name(name, "fallback.png")
    header = content_disposition(safe)

    assert header.isascii()
    assert "\r" not in header and "\n" not in header
    assert "/" not in safe and "\\" not in safe
    ascii_part = header.split('filename="', 1)[1].split('"', 1)[0]
    assert '"' not in ascii_part and ";" not in ascii_part and ascii_part
    assert not safe.startswith(".")
    if "filename*=" in header:
        assert unquote(header.split("filename*=UTF-8''", 1)[1]) == safe


def test_ascii_fallback_keeps_letters_and_marks_the_rest():
    assert content_disposition("Café Straße.png") == (
        "attachment; filename=\"Cafe Stra_e.png\"; filename*=UTF-8''Caf%C3%A9%20Stra%C3%9Fe.png"
    )


def test_safe_download_name_keeps_ordinary_names():
    assert safe_download_name("print 17 (recto).tif", "x") == "print 17 (recto).tif"
    assert content_disposition("print 17 (recto).tif") == 'attachment; filename="print 17 (recto).tif"'

"""Refused uploads: each answers with the error shape and a code, and leaves nothing behind
(no item, version or event row, no file in the media folder)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from restoration.models import Item
from tests.support import image_bytes, media_files, post_raw_multipart, upload

pytestmark = pytest.mark.django_db


def png_claiming_size(width: int, height: int) -> bytes:
    """A tiny, well-formed PNG whose header claims ``width x height`` pixels (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    # Rows of zeros compress to almost nothing; a few rows suffice, the header is what counts.
    data = zlib.compress(b"\x00" * (width + 1) * 4, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def truncated_png() -> bytes:
    data = image_bytes("PNG", size=(64, 64))
    return data[: len(data) // 2]


def corrupt_jpeg() -> bytes:
    data = bytearray(image_bytes("JPEG", size=(64, 64)))
    data[len(data) // 2 :] = b"\x00" * (len(data) - len(data) // 2)  # keep the header, wreck the scan
    return bytes(data[: len(data) * 3 // 4])


def post(client, files: dict, **fields):
    return client.post("/api/items/", {**files, **fields}, format="multipart")


@pytest.mark.parametrize(
    ("content", "name", "code"),
    [
        pytest.param(b"", "empty.png", "empty_file", id="empty-file"),
        pytest.param(b"Dear archivist,\nthis is not a photograph.\n" * 20, "letter.png", "not_an_image", id="text"),
        pytest.param(b"%PDF-1.4\n" + bytes(range(256)) * 4, "scan.pdf", "not_an_image", id="pdf-bytes"),
        pytest.param(truncated_png(), "truncated.png", "corrupt_image", id="truncated-png"),
        pytest.param(corrupt_jpeg(), "broken.jpg", "corrupt_image", id="corrupt-jpeg"),
        pytest.param(png_claiming_size(30000, 30000), "bomb.png", "too_many_pixels", id="decompression-bomb"),
    ],
)
def test_refused_file_answers_400_with_its_code_and_leaves_nothing(curator_client, archive_state, content, name, code):
    before = archive_state()

    response = post(curator_client, {"file": upload(content, name)}, identifier="REFUSED-1")

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == code
    assert body["detail"]
    assert list(body["errors"]) == ["file"] and body["errors"]["file"][0]
    assert archive_state() == before  # no row, event, agent, stored or temporary file


def test_missing_file_is_refused(curator_client, archive_state):
    before = archive_state()

    response = post(curator_client, {}, identifier="NOFILE-1", title="No file")

    assert response.status_code == 400
    assert response.json()["code"] == "required"
    assert response.json()["errors"]["file"] == ["No file was submitted."]
    assert archive_state() == before  # no row, event, agent, stored or temporary file


def test_json_body_without_file_is_refused(curator_client, archive_state):
    response = curator_client.post("/api/items/", {"identifier": "JSON-1"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["file"]


def test_file_over_the_size_limit_is_refused(curator_client, archive_state, settings):
    settings.ARCHIVE_MAX_UPLOAD_BYTES = 2_000
    data = image_bytes("PNG", size=(64, 64))
    assert len(data) > 2_000
    before = archive_state()

    response = post(curator_client, {"file": upload(data, "big.png")})

    assert response.status_code == 400
    assert response.json()["code"] == "file_too_large"
    assert archive_state() == before  # no row, event, agent, stored or temporary file


def test_oversized_request_is_refused_before_its_body_is_read(curator_client, archive_state, settings):
    settings.ARCHIVE_MAX_UPLOAD_BYTES = 1_000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    before = archive_state()

    # The body is never parsed: a request announcing too many bytes is refused from its headers.
    response = curator_client.post(
        "/api/items/", data=b"x" * 10, content_type="multipart/form-data; boundary=b", CONTENT_LENGTH="5000"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "file_too_large"
    assert response.json()["errors"]["file"]
    assert archive_state() == before


def test_pixel_limit_comes_from_settings(curator_client, archive_state, settings):
    settings.ARCHIVE_MAX_IMAGE_PIXELS = 100
    before = archive_state()

    response = post(curator_client, {"file": upload(image_bytes("PNG", size=(20, 20)), "small.png")})

    assert response.status_code == 400
    assert response.json()["code"] == "too_many_pixels"
    assert archive_state() == before  # no row, event, agent, stored or temporary file


@pytest.mark.parametrize(
    ("name", "code"),
    [
        pytest.param("...", "bad_filename", id="only-dots"),
        pytest.param(" .  . ", "bad_filename", id="dots-and-spaces"),
        pytest.param("../..", "required", id="parent-dirs"),  # Django's parser drops the file
        pytest.param("", "invalid", id="empty-name"),  # sent as a plain field, not a file
    ],
)
def test_hostile_file_name_is_refused(curator_client, archive_state, name, code):
    before = archive_state()

    response = post_raw_multipart(curator_client, "/api/items/", {"identifier": "NAME-1"}, name, image_bytes())

    assert response.status_code == 400, response.json()
    assert response.json()["code"] == code
    assert response.json()["errors"]["file"]
    assert archive_state() == before  # no row, event, agent, stored or temporary file


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        pytest.param("../../../../tmp/evil.png", "evil.png", id="relative-path"),
        pytest.param("C:\\Windows\\System32\\evil.png", "evil.png", id="windows-path"),
        pytest.param("/etc/passwd", "passwd", id="absolute-path"),
        pytest.param(".htaccess", "htaccess", id="hidden"),
        pytest.param("tab\there\u202e.png", "tabhere.png", id="control-and-bidi"),
        pytest.param("x" * 300 + ".png", "x" * 196 + ".png", id="too-long"),
    ],
)
def test_hostile_file_name_is_neutralised(curator_client, api_media, name, kept):
    response = post_raw_multipart(curator_client, "/api/items/", {}, name, image_bytes())

    assert response.status_code == 201, response.json()
    original = response.json()["original"]
    assert original["original_filename"] == kept
    stored = media_files(api_media)
    assert all(".." not in f and not f.startswith("/") for f in stored)
    assert all(Path(f).parts[0] == "items" for f in stored)


def test_duplicate_content_answers_409_with_the_existing_item(curator_client, archive_state):
    data = image_bytes()
    first = post(curator_client, {"file": upload(data, "first.png")}, identifier="DUP-1")
    assert first.status_code == 201
    before = archive_state()

    again = post(curator_client, {"file": upload(data, "again.png")}, identifier="DUP-2")

    assert again.status_code == 409
    body = again.json()
    assert body["code"] == "duplicate"
    assert body["existing_item"] == first.json()["id"]
    assert body["existing_version"] == first.json()["original"]["id"]
    assert body["detail"]
    assert archive_state() == before  # no row, event, agent, stored or temporary file
    assert not Item.objects.filter(identifier="DUP-2").exists()


def test_taken_identifier_is_refused(curator_client, archive_state):
    assert post(curator_client, {"file": upload(image_bytes(), "a.png")}, identifier="SAME-1").status_code == 201
    before = archive_state()

    response = post(curator_client, {"file": upload(image_bytes(), "b.png")}, identifier="SAME-1")

    assert response.status_code == 400
    assert response.json()["code"] == "identifier_taken"
    assert response.json()["errors"]["identifier"]
    assert archive_state() == before  # no row, event, agent, stored or temporary file


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        pytest.param({"title": "t" * 501}, "title", "max_length", id="title-too-long"),
        pytest.param({"collection": 999999}, "collection", "does_not_exist", id="unknown-collection"),
        pytest.param({"is_public": "perhaps"}, "is_public", "invalid", id="bad-boolean"),
    ],
)
def test_invalid_metadata_is_refused_before_any_file_is_stored(curator_client, archive_state, fields, field, code):
    before = archive_state()

    response = post(curator_client, {"file": upload(image_bytes(), "ok.png")}, **fields)

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert list(response.json()["errors"]) == [field]
    assert archive_state() == before  # no row, event, agent, stored or temporary file


def test_a_good_upload_after_refusals_still_works(curator_client, archive_state):
    assert post(curator_client, {"file": upload(b"", "empty.png")}).status_code == 400

    response = post(curator_client, {"file": upload(image_bytes(), "fine.png")}, identifier="FINE-1")

    assert response.status_code == 201


def test_image_bytes_helper_makes_real_images():
    assert Image.open(io.BytesIO(image_bytes("JPEG"))).format == "JPEG"

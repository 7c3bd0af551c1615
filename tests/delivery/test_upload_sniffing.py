"""A non-image upload is refused from its first bytes, before the rest is written anywhere:
a large body generated lazily goes through Django's request handler and multipart parser,
and the upload folder never holds more than the first chunks (issue 15)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.test.client import ClientHandler
from PIL import Image

from restoration.core import imaging
from restoration.models import Item
from tests.support import image_bytes

pytestmark = pytest.mark.django_db

BOUNDARY = "sniffboundary7f3a"
CHUNK = b"this is no image, just a long log file...\n" * 1560  # ~64 KiB of text


class LazyMultipart(io.RawIOBase):
    """A multipart body with one ``file`` part of ``size`` bytes generated on demand (never held
    whole), that records the largest total size of the upload folder seen while it is read."""

    def __init__(self, head: bytes, size: int, uploads: Path) -> None:
        self.prefix = (
            f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"identifier\"\r\n\r\nBIG-1\r\n"
            f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.tif\"\r\n"
            "Content-Type: image/tiff\r\n\r\n"
        ).encode() + head
        self.suffix = f"\r\n--{BOUNDARY}--\r\n".encode()
        self.body = size - len(head)
        self.length = len(self.prefix) + self.body + len(self.suffix)
        self.position = 0
        self.uploads = uploads
        self.peak_temp_bytes = 0
        self.reads = 0

    def readable(self) -> bool:
        return True

    def _byte_at(self, start: int, count: int) -> bytes:
        out = bytearray()
        end = start + count
        pieces = ((0, self.prefix), (len(self.prefix), None), (len(self.prefix) + self.body, self.suffix))
        for offset, data in pieces:
            length = len(data) if data is not None else self.body
            lo, hi = max(start, offset), min(end, offset + length)
            if lo >= hi:
                continue
            if data is not None:
                out += data[lo - offset:hi - offset]
            else:
                rel = lo - offset
                while rel < hi - offset:
                    i = rel % len(CHUNK)
                    take = min(len(CHUNK) - i, hi - offset - rel)
                    out += CHUNK[i:i + take]
                    rel += take
        return bytes(out)

    def readinto(self, buffer) -> int:
        count = min(len(buffer), self.length - self.position)
        data = self._byte_at(self.position, count)
        buffer[:count] = data
        self.position += count
        self.reads += 1
        if self.reads % 64 == 0:
            temp = sum(f.stat().st_size for f in self.uploads.iterdir() if f.is_file())
            self.peak_temp_bytes = max(self.peak_temp_bytes, temp)
        return count


def _post(stream: LazyMultipart, token: str) -> tuple[int, bytes]:
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/api/items/", "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "testserver", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http", "wsgi.input": io.BufferedReader(stream, 256 * 1024), "wsgi.errors": io.StringIO(),
        "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}", "CONTENT_LENGTH": str(stream.length),
        "HTTP_AUTHORIZATION": f"Token {token}",
    }
    # The test client's WSGI handler: the real middleware and multipart parser, without closing
    # the test's database connection at the end of the request.
    response = ClientHandler()(environ)
    return response.status_code, response.content


@pytest.fixture
def token(curator) -> str:
    from rest_framework.authtoken.models import Token

    return Token.objects.get_or_create(user=curator)[0].key


def test_a_large_non_image_is_refused_from_its_first_bytes(token, archive_dirs):
    size = 256 * 1024 * 1024  # 256 MiB generated lazily; none of it kept
    stream = LazyMultipart(b"", size, archive_dirs.uploads)

    status, body = _post(stream, token)

    assert status == 400, body
    assert b'"not_an_image"' in body
    assert stream.peak_temp_bytes <= 4 * imaging.HEAD_BYTES  # never the whole file on disk
    assert list(archive_dirs.uploads.iterdir()) == []
    assert not Item.objects.exists()


def test_another_image_format_is_refused_early_as_unsupported(token, archive_dirs):
    gif = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(gif, "GIF")
    stream = LazyMultipart(gif.getvalue(), 32 * 1024 * 1024, archive_dirs.uploads)

    status, body = _post(stream, token)

    assert status == 400 and b'"unsupported_format"' in body and b"GIF" in body
    assert stream.peak_temp_bytes <= 4 * imaging.HEAD_BYTES


def test_an_image_still_goes_through(token, archive_dirs):
    data = image_bytes("TIFF", size=(300, 200))
    stream = LazyMultipart(data, len(data), archive_dirs.uploads)

    status, body = _post(stream, token)

    assert status == 201, body
    assert Item.objects.get().identifier == "BIG-1"


@pytest.mark.parametrize(
    ("head", "code"),
    [
        (b"", None),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 60, None),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 60, None),
        (b"II*\x00" + b"\x00" * 60, None),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", None),
        (b"%PDF-1.7\n" + b"x" * 100, "not_an_image"),
        (b"PK\x03\x04" + b"\x00" * 100, "not_an_image"),
        (b"BM" + b"\x00" * 100, "not_an_image"),  # "BM" and zeros: no header Pillow can read
    ],
)
def test_refuse_head(head, code):
    rejected = imaging.refuse_head(head)
    assert (rejected.code if rejected else None) == code

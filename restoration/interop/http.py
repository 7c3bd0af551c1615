"""The one file-serving helper of the web doors (API downloads, IIIF images and documents):
ETag and ``If-None-Match`` (304), the body from a stored file or from bytes, and a safe
``Content-Disposition`` for downloads."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import BinaryIO
from urllib.parse import quote

from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.http import parse_etags

_UNSAFE_NAME_CHARS = re.compile(r'["\\/:*?<>|;%]')
_NON_TOKEN_ASCII = re.compile(r"[^A-Za-z0-9._ ()+-]")


def etag_matches(request: HttpRequest, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison, as RFC 9110 asks) or is ``*``."""
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    tags = parse_etags(header)
    return tags == ["*"] or any(tag.removeprefix("W/") == etag for tag in tags)


def safe_download_name(name: str, fallback: str) -> str:
    """A file name safe to offer: no path, no control, format (bidi) or quoting characters, not hidden."""
    name = unicodedata.normalize("NFC", name.replace("\\", "/")).rsplit("/", 1)[-1]
    name = "".join(c for c in name if not unicodedata.category(c).startswith("C"))
    name = _UNSAFE_NAME_CHARS.sub("_", name).strip(" .")
    return name[:200] or fallback


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII ``filename`` and, for other names, RFC 6266 ``filename*``."""
    # Accents fall off their letters ("é" -> "e"); other non-ASCII characters become "_".
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_name = "".join(c if c.isascii() else "_" for c in decomposed if unicodedata.category(c) != "Mn")
    ascii_name = _NON_TOKEN_ASCII.sub("_", ascii_name).strip(" .") or "download"
    header = f'attachment; filename="{ascii_name}"'
    if ascii_name != name:
        header += f"; filename*=UTF-8''{quote(name, safe='')}"
    return header


def serve(
    request: HttpRequest,
    *,
    etag: str,
    content_type: str,
    open_file: Callable[[], BinaryIO] | None = None,
    body: bytes | None = None,
    download_name: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    """304 when the client holds ``etag`` (a quoted string); else the bytes of ``open_file()``
    (streamed) or ``body``. ``download_name`` makes it an attachment with that name; ``headers``
    are added to either answer. ``open_file`` errors (``FileNotFoundError``) propagate: the caller
    says what a missing file means to its clients."""
    if etag_matches(request, etag):
        response: HttpResponse = HttpResponseNotModified()
    else:
        if open_file is not None:
            response = FileResponse(open_file(), content_type=content_type)
        else:
            response = HttpResponse(body if body is not None else b"", content_type=content_type)
        if download_name is not None:
            response["Content-Disposition"] = content_disposition(download_name)
    response["ETag"] = etag
    for key, value in (headers or {}).items():
        response[key] = value
    return response

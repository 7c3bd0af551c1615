"""The one file-serving helper of the web doors (API downloads, IIIF images and documents, the
admin): ETag and ``If-None-Match`` (304), the body from a stored file or from bytes, a safe
``Content-Disposition`` for downloads, and the name a version's download gets
(``version_download_name``: ``<identifier>_<kind>[_<task and parameters>].<ext>``)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import PurePosixPath
from typing import Any, BinaryIO
from urllib.parse import quote

from django.core.exceptions import ObjectDoesNotExist
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.http import parse_etags

from restoration.core.models import RestorationJob, Version
from restoration.jobs.params import recipe_params
from restoration.jobs.tasks import TASKS

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


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, "g")  # 0.5 -> "0.5", 4.0 -> "4"
    return str(value)


def _job_of(version: Version) -> RestorationJob | None:
    try:
        return version.produced_by_job
    except ObjectDoesNotExist:
        return None


def _version_stem(version: Version, job: RestorationJob | None) -> str:
    """``<identifier>_<kind>`` for an original (or a derivative no job made, such as a companion);
    ``<identifier>_<task>[_<param>-<value>...]`` for a job's result: the parameters that decide
    the result (those of its recipe), so two different upscales get two names."""
    parts = [version.item.identifier]
    definition = TASKS.get(job.task) if job is not None else None
    if definition is None:
        parts.append(version.kind)
    else:
        parts.append(definition.name)
        parts += [f"{name}-{_param_text(value)}" for name, value in recipe_params(definition, job.params or {}).items()
                  if value is not None and value != ""]
    # An identifier may hold "/" (a shelf mark): kept as "_" rather than read as a folder.
    return "_".join(parts).replace("/", "_").replace("\\", "_")


def version_download_name(version: Version, *, part: str | None = None) -> str:
    """The file name a download of ``version`` offers, e.g. ``ARC-1_original.tif``,
    ``ARC-1_restore_strength-0.5.png``, ``ARC-1_original_thumbnail.jpg`` (``part``: a display
    image, always JPEG). Two versions of one item never share a name: when the task and
    parameters are the same (new weights), the later one gets ``_v<version id>``.
    Sanitised by ``safe_download_name``; ``content_disposition`` adds ``filename*`` for
    non-ASCII identifiers."""
    stem = _version_stem(version, _job_of(version))
    siblings = (Version.objects.filter(item_id=version.item_id).exclude(pk=version.pk)
                .select_related("item", "produced_by_job").order_by("created_at", "id"))
    earlier_twin = any(_version_stem(other, _job_of(other)) == stem and (other.created_at, other.pk)
                       < (version.created_at, version.pk) for other in siblings)
    if earlier_twin:
        stem += f"_v{version.pk}"
    ext = ".jpg" if part else PurePosixPath(version.file.name).suffix.lower()
    name = f"{stem}_{part}{ext}" if part else f"{stem}{ext}"
    return safe_download_name(name, f"version-{version.pk}{ext}")


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


def attachment(fileobj: BinaryIO, *, content_type: str, name: str) -> FileResponse:
    """A one-off download made for this request (e.g. a zip of BagIt bags): streamed from
    ``fileobj`` (closed once sent), offered as ``name``, never cached."""
    response = FileResponse(fileobj, content_type=content_type)
    response["Content-Disposition"] = content_disposition(name)
    response["Cache-Control"] = "private, no-store"
    return response


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

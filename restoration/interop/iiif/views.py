"""IIIF endpoints: the Image API 3 service of every version, and Presentation 3 manifests.

Visibility follows the REST API (``restoration.interop``): a version, item or collection that
the caller may not see answers 404, as an unknown one does; a manifest lists the versions the
caller may see (no rejected or withdrawn derivative but for curators). Public resources carry
``Access-Control-Allow-Origin: *`` and a public ``Cache-Control``; others ``private``.

Images are cut from the version's access copy (``core.pyramid``, made at ingest; made here on
first use for a version that has none; the version's own file when libvips cannot make one).
At most ``IIIF_MAX_CONCURRENT_DECODES`` cuts run at once in a process; a request that waits
``IIIF_DECODE_WAIT`` seconds for its turn is answered 503 with ``Retry-After``. ``info.json``
never decodes: it reads the access copy's row (or the file's header).

Image responses are cached on disk (``IIIF_CACHE_DIR``, default ``var/cache/iiif``) under the
version's sha256 and the canonical form of the request: stored files never change, so a cached
image is valid for as long as its version exists. Their ETag is derived from the same key. The
folder is capped at ``IIIF_CACHE_MAX_BYTES`` (least recently used removed first, ``cache.py``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
)
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_safe
from PIL import Image

from restoration.interop import common as interop
from restoration.interop import http
from restoration.core import pyramid, services
from restoration.core.models import AccessCopy, Collection, Item, Version

from . import cache as disk_cache
from . import image as iiif_image
from . import render as iiif_render
from . import presentation

logger = logging.getLogger(__name__)

# Part of every cache key: bump it when rendering changes, so old cached images are not served.
RENDER_VERSION = "2"  # 2: cut from access copies (libvips resampling)
# How long a version whose access copy libvips could not make is served directly before trying again.
_NO_ACCESS_COPY_SECONDS = 3600
IMAGE_CONTEXT_JSONLD = f'application/ld+json;profile="{iiif_image.API_CONTEXT}"'
PRESENTATION_JSONLD = f'application/ld+json;profile="{presentation.CONTEXT}"'


def limits() -> iiif_image.Limits:
    return iiif_image.Limits(
        max_width=settings.IIIF_MAX_WIDTH or None,
        max_height=settings.IIIF_MAX_HEIGHT or settings.IIIF_MAX_WIDTH or None,
        max_area=settings.IIIF_MAX_AREA or None,
    )


def cache_dir() -> Path:
    return Path(settings.IIIF_CACHE_DIR) if settings.IIIF_CACHE_DIR else Path(settings.VAR_DIR) / "cache" / "iiif"


def image_cache() -> disk_cache.DiskCache:
    """The capped folder of cut images."""
    return disk_cache.DiskCache(cache_dir(), settings.IIIF_CACHE_MAX_BYTES)


def access_cache() -> disk_cache.DiskCache:
    """The capped folder of local copies of access copies (used when media storage is remote)."""
    root = Path(settings.IIIF_ACCESS_CACHE_DIR) if settings.IIIF_ACCESS_CACHE_DIR else (
        Path(settings.VAR_DIR) / "cache" / "access")
    return disk_cache.DiskCache(root, settings.IIIF_ACCESS_CACHE_MAX_BYTES)


def _access_copy(version: Version) -> AccessCopy | None:
    return AccessCopy.objects.filter(version=version).first()


def source_info(version: Version) -> iiif_image.SourceInfo:
    """Displayed size and colour of a version: from its access copy's row, else from its file's
    header (memoised by its sha256). Never decodes pixels."""
    copy = _access_copy(version)
    if copy is not None:
        return iiif_image.SourceInfo(width=copy.width, height=copy.height, is_color=copy.bands >= 3, format="TIFF")
    key = f"iiif-source:{RENDER_VERSION}:{version.sha256}"
    cached = cache.get(key)
    if cached is not None:
        return iiif_image.SourceInfo(**cached)
    with interop.local_path(version) as path:
        info = iiif_render.read_source(lambda: Image.open(path))
    cache.set(key, info.__dict__, None)
    return info


# --- Decoding: a limited number at once ------------------------------------------------------------


class Busy(Exception):
    """No decode slot became free within ``IIIF_DECODE_WAIT`` seconds."""


_slots_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


@contextmanager
def decode_slot() -> Iterator[None]:
    """Holds one of this process's ``IIIF_MAX_CONCURRENT_DECODES`` decode slots; raises ``Busy``
    after waiting ``IIIF_DECODE_WAIT`` seconds for one. (Per process: a server with several
    worker processes decodes at most that many per process.)"""
    count = max(1, settings.IIIF_MAX_CONCURRENT_DECODES)
    with _slots_lock:
        slots = _slots.setdefault(count, threading.BoundedSemaphore(count))
    if not slots.acquire(timeout=max(0.0, settings.IIIF_DECODE_WAIT)):
        raise Busy
    try:
        yield
    finally:
        slots.release()


def _local_access_copy(copy: AccessCopy) -> Path:
    """A local path to the access copy: its stored file on local storage, else a copy kept in
    the access cache folder (downloaded on first use). Raises FileNotFoundError when missing."""
    storage = copy.file.storage
    try:
        path = Path(storage.path(copy.file.name))
    except NotImplementedError:
        path = None
    if path is not None:
        if not path.exists():
            raise FileNotFoundError(path)
        return path
    folder = access_cache()
    local = folder.root / f"{hashlib.sha256(copy.file.name.encode()).hexdigest()[:40]}.tif"
    if not folder.hit(local):
        with storage.open(copy.file.name, "rb") as source:
            folder.put_file(local, lambda fh: shutil.copyfileobj(source, fh, 1024 * 1024))
    return local


def _cut(version: Version, parsed: iiif_image.ImageRequest):
    """(picture, ICC profile) for a parsed request; the caller holds a decode slot. Reads the
    access copy, making it first if the version has none (or its file is gone); the version's
    own file when libvips cannot make one."""
    failed_key = f"iiif-no-access-copy:{version.sha256}"
    if settings.IIIF_ACCESS_COPIES and not cache.get(failed_key):
        copy = _access_copy(version)
        for _attempt in range(2):
            if copy is None:
                copy = services.ensure_access_copy(version)  # FileNotFoundError: the original is gone too
                if copy is None:
                    cache.set(failed_key, True, _NO_ACCESS_COPY_SECONDS)
                    break
            try:
                return iiif_render.render_pyramid(_local_access_copy(copy), copy.levels, parsed)
            except (FileNotFoundError, pyramid.PyramidError):
                logger.exception("IIIF: the access copy of version %s (%s) is missing or unreadable; making it again",
                                 version.pk, copy.file.name)
                copy.file.storage.delete(copy.file.name)  # no-op when it is gone
                copy.delete()
                copy = None
    with interop.local_path(version) as stored:
        return iiif_render.render(lambda: Image.open(stored), parsed)


def service_url(version_id: int, base: str) -> str:
    return base + reverse("iiif:base", args=[version_id])


def _version_or_404(request: HttpRequest, version_id: int) -> tuple[Version, bool]:
    """(version, public) for a version the caller may see (``Version.objects.visible_to``: a
    rejected derivative answers 404 to all but curators); 404 otherwise. ``public``: anyone may
    see it, so it may be cached by shared caches."""
    user = interop.request_user(request)
    version = Version.objects.visible_to(user).select_related("item").filter(pk=version_id).first()
    if version is None:
        raise Http404("No such image.")
    public = not user.is_authenticated or interop.public_versions().filter(pk=version.pk).exists()
    return version, public


def _shared_headers(response: HttpResponse, public: bool) -> HttpResponse:
    if public:
        response["Access-Control-Allow-Origin"] = "*"
        response["Cache-Control"] = f"public, max-age={settings.IIIF_CACHE_MAX_AGE}"
    else:
        response["Cache-Control"] = f"private, max-age={settings.IIIF_CACHE_MAX_AGE}"
    return response


def _error(status: int, message: str, public: bool = True) -> HttpResponse:
    response = HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")
    if public:
        response["Access-Control-Allow-Origin"] = "*"
    return response


def _wants_jsonld(request: HttpRequest) -> bool:
    return "application/ld+json" in request.headers.get("Accept", "")


def json_response(request: HttpRequest, document: dict, *, public: bool, jsonld_type: str) -> HttpResponse:
    """JSON with the JSON-LD media type when the client asks for it (``Vary: Accept``)."""
    body = json.dumps(document, ensure_ascii=False, indent=2).encode()
    response = http.serve(
        request, etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"', body=body,
        content_type=jsonld_type if _wants_jsonld(request) else "application/json",
        headers={"Vary": "Accept, Cookie, Authorization"},
    )
    return _shared_headers(response, public)


# --- Image API ----------------------------------------------------------------------------------


@require_safe
def base_redirect(request: HttpRequest, version_id: int) -> HttpResponse:
    """The service's base URI redirects to its info.json (303, as the specification asks)."""
    _version, public = _version_or_404(request, version_id)
    response = HttpResponseRedirect(reverse("iiif:info", args=[version_id]), status=303)
    return _shared_headers(response, public)


@require_safe
def info(request: HttpRequest, version_id: int) -> HttpResponse:
    version, public = _version_or_404(request, version_id)
    try:
        source = source_info(version)
    except FileNotFoundError:
        logger.error("IIIF: the stored file of version %s (%s) is missing", version.pk, version.file.name)
        return _error(404, "The stored file is missing.", public)
    rights = presentation.rights_uri(version.item.rights)
    document = iiif_image.info_document(
        service_url(version.pk, interop.base_url(request)), source, limits(), tile=settings.IIIF_TILE_SIZE,
        rights=rights,
    )
    return json_response(request, document, public=public, jsonld_type=IMAGE_CONTEXT_JSONLD)


def _cache_path(version: Version, canonical: str) -> tuple[Path, str]:
    key = hashlib.sha256(
        f"{RENDER_VERSION}:{version.sha256}:{canonical}:{settings.IIIF_JPEG_QUALITY}".encode()
    ).hexdigest()[:40]
    ext = canonical.rsplit(".", 1)[1]
    return cache_dir() / version.sha256[:2] / version.sha256 / f"{key}.{ext}", key


@require_safe
def image(request: HttpRequest, version_id: int, region: str, size: str, rotation: str, quality_format: str):
    """``{region}/{size}/{rotation}/{quality}.{format}``: cut on demand, then served from the cache."""
    version, public = _version_or_404(request, version_id)
    try:
        source = source_info(version)
        bounds = limits()
        parsed = iiif_image.parse_request(region, size, rotation, quality_format, source, bounds)
    except iiif_image.RequestError as err:
        return _error(err.status, f"Bad {err.parameter}: {err.message}" if err.status == 400 else err.message, public)
    except FileNotFoundError:
        logger.error("IIIF: the stored file of version %s (%s) is missing", version.pk, version.file.name)
        return _error(404, "The stored file is missing.", public)
    canonical = iiif_image.canonical_path(parsed, source, bounds)
    path, key = _cache_path(version, canonical)
    etag = f'"{key}"'
    headers = {
        "Link": (
            f'<{iiif_image.PROFILE_URI}>;rel="profile", '
            f'<{service_url(version.pk, interop.base_url(request))}/{canonical}>;rel="canonical"'
        ),
    }
    cached = image_cache()
    if http.etag_matches(request, etag) or cached.hit(path):
        response = http.serve(request, etag=etag, content_type=parsed.media_type, open_file=lambda: open(path, "rb"),
                              headers=headers)
    else:
        try:
            with decode_slot():
                picture, icc = _cut(version, parsed)
                data = iiif_render.encode(picture, parsed.format, icc_profile=icc,
                                          jpeg_quality=settings.IIIF_JPEG_QUALITY)
        except Busy:
            response = _error(503, "The image service is busy; try again shortly.", public)
            response["Retry-After"] = str(settings.IIIF_RETRY_AFTER)
            return response
        except FileNotFoundError:
            logger.error("IIIF: the stored file of version %s (%s) is missing", version.pk, version.file.name)
            return _error(404, "The stored file is missing.", public)
        try:
            cached.write(path, data)
        except OSError:
            logger.exception("IIIF: could not cache %s", path)  # still serve it
        response = http.serve(request, etag=etag, content_type=parsed.media_type, body=data, headers=headers)
    return _shared_headers(response, public)


@require_safe
def not_an_image_request(request: HttpRequest, version_id: int, rest: str) -> HttpResponse:
    _version, public = _version_or_404(request, version_id)
    return _error(400, f"{rest!r} is not an image request: use {{region}}/{{size}}/{{rotation}}/{{quality}}.{{format}} "
                       "or info.json.", public)


# --- Presentation API -----------------------------------------------------------------------------


@require_safe
def manifest(request: HttpRequest, identifier: str) -> HttpResponse:
    user = interop.request_user(request)
    item = get_object_or_404(Item.objects.visible_to(user).select_related("collection"), identifier=identifier)
    public = interop.sees_the_public_view(user, item)
    versions = list(Version.objects.visible_to(user).filter(item=item).order_by("created_at", "id"))
    try:
        document = presentation.item_manifest(
            item, versions, base=interop.base_url(request), source_info=source_info, limits=limits(), public=public,
        )
    except FileNotFoundError as exc:
        logger.error("IIIF manifest of %s: a stored file is missing (%s)", item.identifier, exc)
        return _error(404, "A stored file of this item is missing.", public)
    return json_response(request, document, public=public, jsonld_type=PRESENTATION_JSONLD)


@require_safe
def collection(request: HttpRequest, slug: str) -> HttpResponse:
    user = interop.request_user(request)
    found = get_object_or_404(Collection.objects.visible_to(user), slug=slug)
    items = Item.objects.visible_to(user).filter(collection=found).order_by("identifier")
    document = presentation.collection_document(found, items, base=interop.base_url(request))
    # Signed-in callers also see the non-public items of a public collection: not for shared caches.
    public = found.is_public and not user.is_authenticated
    return json_response(request, document, public=public, jsonld_type=PRESENTATION_JSONLD)


@require_safe
def top_collection(request: HttpRequest) -> HttpResponse:
    user = interop.request_user(request)
    document = presentation.top_collection_document(
        Collection.objects.visible_to(user).order_by("name", "id"), base=interop.base_url(request)
    )
    return json_response(request, document, public=not user.is_authenticated, jsonld_type=PRESENTATION_JSONLD)

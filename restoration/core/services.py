"""Multi-step writes of the archive: ingest, derivatives, metadata edits, the preferred version,
reviews of derivatives and curators' notes.

Each function is all-or-nothing. Everything that can be checked is checked before the first
write: the file name, the metadata, the size, the digest (duplicates), the image headers and
the decoding of its pixels (the display images are made from a temporary copy). Only then are
the files stored and the rows written, inside ``transaction.atomic``; if that block fails, the
stored files are deleted again, so a refused or failed ingest leaves no row, file, event or
temporary file behind.

Files go to Django's default storage (local disk or S3, by settings alone) under the item's
``storage_prefix``, with names derived from their digest; the storage's ``save`` never
overwrites (it picks a free name), and stored files are never changed or deleted afterwards.

A caller that joins several of these writes (or adds its own) into one all-or-nothing block
uses ``atomic_with_files()``: a ``transaction.atomic`` block that also owns the files stored
inside it, so a rollback anywhere in it removes them too. Django has no hook for an outer
rollback, so a plain ``transaction.atomic`` around these functions would leave the files of
rolled-back rows in storage (``fixity_audit`` does not see them, as no row points to them).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import unicodedata
from contextvars import ContextVar
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from restoration.core import imaging, provenance, pyramid
from restoration.core.models import (
    DUBLIN_CORE_FIELDS,
    AccessCopy,
    Collection,
    HIDDEN_REVIEW_STATUSES,
    EventType,
    ImmutableError,
    Item,
    Note,
    ReviewStatus,
    Version,
    VersionKind,
)

logger = logging.getLogger(__name__)

ROUTES = ("api", "admin", "cli")
# Keys ``ingest_upload`` accepts in ``metadata``; ``is_public`` is a bool, the others text.
INGEST_METADATA_FIELDS = ("identifier", "title", *DUBLIN_CORE_FIELDS, "is_public")
# Fields ``update_item_metadata`` may change (the identifier never changes).
EDITABLE_ITEM_FIELDS = ("title", *DUBLIN_CORE_FIELDS, "collection", "is_public")
# Longest original file name kept (characters); longer names are shortened, keeping the extension.
MAX_FILENAME_LENGTH = 200
# Characters kept in an identifier derived from a file name: letters, digits, "_", "." and "-".
_IDENTIFIER_UNSAFE = re.compile(r"[^\w.-]+")


class IngestError(Exception):
    """An upload the archive refuses, with a stable ``code`` and the ``field`` it concerns.

    Codes: ``empty_file``, ``not_an_image``, ``corrupt_image``, ``unsupported_format``,
    ``too_many_pixels``, ``too_complex`` (a TIFF with absurd numbers of pages, tags, strips or tiles),
    ``file_too_large``, ``bad_filename``, ``duplicate`` (with
    ``existing_version_id``), ``invalid_metadata``, ``identifier_taken``.
    """

    def __init__(
        self, code: str, message: str, *, field: str = "file", existing_version_id: int | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.existing_version_id = existing_version_id

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


# --- Checks made before any write -------------------------------------------------------------


def sanitize_filename(name: str) -> str:
    """The name to record for an uploaded file: no directories, NFC, no control characters.

    Strips any directory part (``/`` or ``\\``), normalises Unicode to NFC, removes control,
    format (e.g. bidirectional overrides) and unassigned characters, collapses whitespace, strips
    leading and trailing dots and spaces, and shortens the name to ``MAX_FILENAME_LENGTH``
    characters keeping its extension. Refuses (``bad_filename``) a name with a NUL character or
    one that is empty after this. Stored files are named from their digest, never from this.
    """
    if not isinstance(name, str) or "\x00" in name:
        raise IngestError("bad_filename", "The file name contains a NUL character.")
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = " ".join(name.split()).strip(" .")
    if not name:
        raise IngestError("bad_filename", "The file name is empty once directories and control characters are removed.")
    if len(name) > MAX_FILENAME_LENGTH:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            name = stem[: MAX_FILENAME_LENGTH - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            name = name[:MAX_FILENAME_LENGTH].rstrip(" .")
    return name


def _clean_text(field: str, value: Any) -> str:
    """A metadata value as stored: text, stripped, within the field's length, without NUL."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{field} must be text.")
    value = value.strip()
    if "\x00" in value:
        raise ValueError(f"{field} contains a NUL character.")
    max_length = Item._meta.get_field(field).max_length
    if max_length is not None and len(value) > max_length:
        raise ValueError(f"{field} is longer than {max_length} characters.")
    return value


def _clean_ingest_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for field, value in (metadata or {}).items():
        if field not in INGEST_METADATA_FIELDS:
            raise IngestError("invalid_metadata", f"Unknown metadata field {field!r}.", field=field)
        if field == "is_public":
            if not isinstance(value, bool):
                raise IngestError("invalid_metadata", "is_public must be true or false.", field=field)
            cleaned[field] = value
            continue
        try:
            cleaned[field] = _clean_text(field, value)
        except ValueError as exc:
            raise IngestError("invalid_metadata", str(exc), field=field) from exc
    identifier = cleaned.get("identifier", "")
    if identifier and any(unicodedata.category(ch)[0] == "C" for ch in identifier):
        raise IngestError("invalid_metadata", "The identifier contains control characters.", field="identifier")
    return cleaned


def title_from_filename(filename: str) -> str:
    """A title for a file that came without one: its name's stem, ``_`` as spaces
    (``harbour_at_dawn-1920.tif`` -> ``harbour at dawn-1920``)."""
    stem = filename.rsplit(".", 1)[0] if "." in filename else filename
    return " ".join(stem.replace("_", " ").split())[: Item._meta.get_field("title").max_length]


def _derived_identifier(filename: str, sha256: str) -> str:
    """An identifier from the file name's stem, case and dots kept (scanner names often are
    identifiers, e.g. ``NL-HaNA_2.24.01_0001``); other runs of characters become ``-``. The
    content digest disambiguates a name already taken.
    """
    stem = filename.rsplit(".", 1)[0] if "." in filename else filename
    base = _IDENTIFIER_UNSAFE.sub("-", stem).strip("-.")[:150] or "item"
    if not Item.objects.filter(identifier=base).exists():
        return base
    return f"{base}-{sha256[:8]}"


@dataclass(frozen=True)
class _Received:
    """An upload copied to a temporary file, hashed, inspected and rendered for display."""

    path: str
    sha256: str
    size: int
    info: imaging.ImageInfo
    thumbnail: bytes
    access: bytes
    # The IIIF access copy, written to ``_pyramid_path(path)``; None when libvips could not make one
    # (the IIIF service then tries again on first use and falls back to the file itself).
    access_copy: pyramid.PyramidInfo | None = None


def _pyramid_path(spooled: str) -> str:
    """Where the access copy of a spooled upload is built (removed with the upload, by ``_spooled``)."""
    return spooled + ".pyramid.tif"


def pyramid_config() -> pyramid.PyramidConfig:
    """How access copies are written, from settings."""
    return pyramid.PyramidConfig(
        tile=settings.IIIF_PYRAMID_TILE, compression=settings.IIIF_PYRAMID_COMPRESSION,
        quality=settings.IIIF_PYRAMID_QUALITY,
    )


def _build_access_copy(source: str, destination: str) -> pyramid.PyramidInfo | None:
    """The access copy of ``source`` written to ``destination``; None (logged) when libvips fails:
    an archival file is not refused for want of an access copy."""
    try:
        return pyramid.build(source, destination, pyramid_config())
    except pyramid.PyramidError:
        logger.warning("No access copy for %s", source, exc_info=True)
        return None


@contextmanager
def _spooled(fileobj: BinaryIO) -> Iterator[tuple[str, str, int]]:
    """(temporary path, sha256, size) of ``fileobj``, copied in one streaming pass; removed at exit."""
    limit = settings.ARCHIVE_MAX_UPLOAD_BYTES
    declared = getattr(fileobj, "size", None)
    if isinstance(declared, int) and declared > limit:
        raise IngestError("file_too_large", f"The file is larger than the limit of {limit} bytes.")
    if getattr(fileobj, "seekable", lambda: False)():
        fileobj.seek(0)
    fd, path = tempfile.mkstemp(prefix="ingest-", suffix=".part", dir=settings.FILE_UPLOAD_TEMP_DIR or None)
    try:
        with os.fdopen(fd, "wb") as sink:
            try:
                sha256, size = imaging.sha256_stream(fileobj, sink=sink, max_bytes=limit)
            except imaging.ImageRejected as exc:
                raise IngestError(exc.code, exc.message) from exc
        if size == 0:
            raise IngestError("empty_file", "The file is empty.")
        yield path, sha256, size
    finally:
        os.unlink(path)
        if os.path.exists(_pyramid_path(path)):
            os.unlink(_pyramid_path(path))


def _inspect(path: str, sha256: str, size: int) -> _Received:
    """Header checks, then a full decode of the first page (for the display images), then the
    access copy (a second, streaming decode by libvips)."""
    tiff_limits = imaging.TiffLimits(
        max_tags=settings.ARCHIVE_MAX_TIFF_TAGS, max_chunks=settings.ARCHIVE_MAX_TIFF_CHUNKS,
        max_pages=settings.ARCHIVE_MAX_TIFF_PAGES,
    )
    try:
        info = imaging.inspect_image(path, max_pixels=settings.ARCHIVE_MAX_IMAGE_PIXELS, tiff_limits=tiff_limits)
        thumbnail, access = imaging.make_display_images(
            path,
            thumb_size=settings.ARCHIVE_THUMBNAIL_SIZE,
            access_size=settings.ARCHIVE_ACCESS_SIZE,
            quality=settings.ARCHIVE_ACCESS_QUALITY,
        )
    except imaging.ImageRejected as exc:
        raise IngestError(exc.code, exc.message) from exc
    access_copy = _build_access_copy(path, _pyramid_path(path))
    return _Received(path=path, sha256=sha256, size=size, info=info, thumbnail=thumbnail, access=access,
                     access_copy=access_copy)


# --- Writes -------------------------------------------------------------------------------------


# The files stored inside the innermost open ``atomic_with_files`` block (None outside any).
_stored_files: ContextVar[list[str] | None] = ContextVar("stored_files", default=None)


@contextmanager
def atomic_with_files() -> Iterator[None]:
    """``transaction.atomic()`` that also owns the files stored inside it (by these services).

    If the block raises, the files stored inside it are deleted and the error propagates. Nested
    blocks behave like atomic's savepoints: an inner block that fails removes its own files; an
    inner block that succeeds hands them to the outer one, which removes them if it fails later.
    """
    files: list[str] = []
    token = _stored_files.set(files)
    try:
        with transaction.atomic():
            yield
    except BaseException:
        for name in reversed(files):
            try:
                default_storage.delete(name)
            except Exception:  # keep the original error; the leftover is logged for an operator
                logger.exception("Could not delete %s after a failed write", name)
        raise
    finally:
        _stored_files.reset(token)
    outer = _stored_files.get()
    if outer is not None:
        outer.extend(files)


def _store(name: str, content) -> str:
    stored = default_storage.save(name, content, max_length=Version._meta.get_field("file").max_length)
    files = _stored_files.get()
    if files is None:
        raise RuntimeError("Stored files are written inside atomic_with_files() only.")
    files.append(stored)
    return stored


def _create_version(
    item: Item, received: _Received, *, kind: str, parent: Version | None, filename: str, user
) -> Version:
    """Stores the file and its display images under the item's prefix and writes the row."""
    base = f"{item.storage_prefix}/{kind}-{received.sha256[:16]}"
    with open(received.path, "rb") as fh:
        file_name = _store(base + received.info.extension, File(fh))
    thumbnail = _store(base + ".thumb.jpg", ContentFile(received.thumbnail))
    access = _store(base + ".access.jpg", ContentFile(received.access))
    info = received.info
    version = Version.objects.create(
        item=item,
        kind=kind,
        parent=parent,
        file=file_name,
        original_filename=filename,
        sha256=received.sha256,
        bytes=received.size,
        width=info.width,
        height=info.height,
        mode=info.mode,
        bit_depth=info.bit_depth,
        mime_type=info.mime_type,
        page_count=info.page_count,
        thumbnail=thumbnail,
        access_file=access,
        created_by=user if _is_user(user) else None,
        is_preferred=kind == VersionKind.ORIGINAL,
    )
    if received.access_copy is not None:
        _record_access_copy(version, _pyramid_path(received.path), received.access_copy)
    return version


def _record_access_copy(version: Version, path: str, built: pyramid.PyramidInfo) -> AccessCopy:
    """Stores the access copy built at ``path`` beside the version's files and writes its row
    (inside ``atomic_with_files``)."""
    base = os.path.splitext(version.file.name)[0]
    with open(path, "rb") as fh:
        name = _store(base + ".pyramid.tif", File(fh))
    return AccessCopy.objects.create(
        version=version, file=name, bytes=os.path.getsize(path), width=built.width, height=built.height,
        bands=built.bands, levels=built.levels, tile_size=built.tile, compression=built.compression,
    )


@contextmanager
def local_file(stored: FieldFile) -> Iterator[Path]:
    """A local path to a stored file (a version's file, an access copy): the file itself on local
    storage, else a temporary copy (streamed) removed at exit. Raises FileNotFoundError when it
    is missing."""
    storage = stored.storage
    try:
        path = storage.path(stored.name)
    except NotImplementedError:
        path = None
    if path is not None:
        if not os.path.exists(path):
            raise FileNotFoundError(path)
        yield Path(path)
        return
    suffix = Path(stored.name).suffix
    with tempfile.NamedTemporaryFile(suffix=suffix, dir=settings.FILE_UPLOAD_TEMP_DIR or None) as copy:
        with storage.open(stored.name, "rb") as source:
            shutil.copyfileobj(source, copy, imaging.CHUNK_SIZE)
        copy.flush()
        yield Path(copy.name)


def ensure_access_copy(version: Version) -> AccessCopy | None:
    """The version's access copy, made now if it has none (``manage.py build_access_copies``, or
    the IIIF service on first use). None when libvips cannot read the file (logged). Two callers
    racing for one version both build; the second row loses on the unique version and its file
    is removed. Raises FileNotFoundError when the version's stored file is missing."""
    existing = AccessCopy.objects.filter(version=version).first()
    if existing is not None:
        return existing
    with local_file(version.file) as source:
        fd, built_path = tempfile.mkstemp(suffix=".pyramid.tif", dir=settings.FILE_UPLOAD_TEMP_DIR or None)
        os.close(fd)
        try:
            built = _build_access_copy(source, built_path)
            if built is None:
                return None
            try:
                with atomic_with_files():
                    copy = _record_access_copy(version, built_path, built)
            except IntegrityError:
                return AccessCopy.objects.filter(version=version).first()
        finally:
            os.unlink(built_path)
    logger.info("Made the access copy of version %s (%d levels, %d bytes)", version.pk, copy.levels, copy.bytes)
    return copy


def _is_user(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False)


def _digest_event(version: Version, received: _Received, *, filename: str, route: str, user) -> None:
    provenance.record_digest(version, sha256=received.sha256, size=received.size, route=route, filename=filename,
                             file_format=received.info.format, user=user)


def ingest_upload(
    fileobj: BinaryIO,
    *,
    filename: str,
    metadata: Mapping[str, Any],
    collection: Collection | None,
    user,
    route: str,
) -> Version:
    """Creates an item from an uploaded image: its original version, display images and events.

    ``metadata`` holds ``identifier`` (else derived from the file name), ``title`` (else the file
    name's stem, ``title_from_filename``), any Dublin Core field and ``is_public``; ``format``
    defaults to the file's MIME type. ``route`` ("api",
    "admin" or "cli") is recorded in the events. Raises ``IngestError``; on any failure nothing
    remains (no row, stored file, event or temporary file).
    """
    if route not in ROUTES:
        raise ValueError(f"route must be one of {ROUTES}, not {route!r}")
    safe_name = sanitize_filename(filename)
    fields = _clean_ingest_metadata(metadata)
    explicit_identifier = fields.pop("identifier", "")
    if explicit_identifier and Item.objects.filter(identifier=explicit_identifier).exists():
        raise IngestError(
            "identifier_taken", f"The identifier {explicit_identifier!r} is already used.", field="identifier"
        )

    with _spooled(fileobj) as (path, sha256, size):
        existing = Version.objects.originals().filter(sha256=sha256).values_list("pk", flat=True).first()
        if existing is not None:
            raise _duplicate(sha256, existing)
        received = _inspect(path, sha256, size)
        identifier = explicit_identifier or _derived_identifier(safe_name, sha256)
        if not fields.get("format"):
            fields["format"] = received.info.mime_type
        if not fields.get("title"):
            fields["title"] = title_from_filename(safe_name)
        try:
            with atomic_with_files():
                item = Item.objects.create(identifier=identifier, collection=collection, **fields)
                version = _create_version(
                    item, received, kind=VersionKind.ORIGINAL, parent=None, filename=safe_name, user=user
                )
                _digest_event(version, received, filename=safe_name, route=route, user=user)
                provenance.record_ingestion(
                    version, sha256=sha256, size=size, route=route, filename=safe_name,
                    file_format=received.info.format, mime_type=received.info.mime_type, identifier=identifier,
                    collection=collection.slug if collection else None, user=user,
                )
        except IntegrityError as exc:
            # Another ingest won a race for the same identifier or the same content.
            if Item.objects.filter(identifier=identifier).exists():
                raise IngestError(
                    "identifier_taken", f"The identifier {identifier!r} is already used.", field="identifier"
                ) from exc
            existing = Version.objects.originals().filter(sha256=sha256).values_list("pk", flat=True).first()
            if existing is not None:
                raise _duplicate(sha256, existing) from exc
            raise
    logger.info("Ingested %s as %s (%s, %d bytes, via %s)", safe_name, identifier, sha256, size, route)
    return version


def _duplicate(sha256: str, existing_version_id: int) -> IngestError:
    return IngestError(
        "duplicate",
        f"This file is already archived (version {existing_version_id}, sha256 {sha256}).",
        existing_version_id=existing_version_id,
    )


def add_derivative(
    parent: Version,
    fileobj: BinaryIO,
    *,
    kind: str,
    filename: str,
    user,
    software: Mapping[str, Any],
    detail: Mapping[str, Any],
    event_type: str = EventType.MODIFICATION,
    also_from: Iterable[Version] = (),
    made_at: datetime | None = None,
) -> Version:
    """Adds a version derived from ``parent`` (e.g. a restoration), stored like an original.

    ``software`` (``{"name", "version", ...}``) is recorded as the executing program of the
    ``event_type`` event, with ``detail``; a ``message digest calculation`` event is written
    too. ``also_from``: other versions the result was made from (a style job's reference, of
    this item or another), linked to the event as sources beside ``parent``. ``made_at``: the
    event's time when the caller already stated it (the derivative's XMP label). Raises
    ``IngestError`` for a refused file and ``ValueError`` for a bad ``kind``.
    """
    if kind not in VersionKind.values or kind == VersionKind.ORIGINAL:
        raise ValueError(f"A derivative's kind must be one of the non-original kinds, not {kind!r}.")
    if event_type not in EventType.values:
        raise ValueError(f"Unknown PREMIS event type {event_type!r}.")
    safe_name = sanitize_filename(filename)
    with _spooled(fileobj) as (path, sha256, size):
        received = _inspect(path, sha256, size)
        with atomic_with_files():
            item = Item.objects.get(pk=parent.item_id)
            version = _create_version(item, received, kind=kind, parent=parent, filename=safe_name, user=user)
            _digest_event(version, received, filename=safe_name, route="derivative", user=user)
            provenance.record_derivation(
                version, sources=[parent, *(v for v in also_from if v.pk != parent.pk)], detail=detail, user=user,
                software=software, event_type=event_type, timestamp=made_at,
            )
    return version


def _json_value(value: Any) -> Any:
    if isinstance(value, Collection):
        return value.slug
    return value


def update_item_metadata(item: Item, changes: Mapping[str, Any], *, user) -> Item:
    """Applies metadata ``changes`` to ``item`` and records one ``metadata modification`` event.

    ``changes`` maps fields of ``EDITABLE_ITEM_FIELDS`` to new values (``collection`` a
    Collection or None). The event's detail lists each changed field's old and new value;
    nothing is written when nothing changes. Changing ``identifier`` raises ``ImmutableError``;
    an unknown field or an invalid value raises ``ValidationError``. ``item`` is updated in place
    and returned.
    """
    _apply_metadata(item, changes, user=user)
    return item


def _apply_metadata(item: Item, changes: Mapping[str, Any], *, user, route: str | None = None) -> dict[str, Any]:
    """``update_item_metadata``'s work; returns the diff it recorded (empty: nothing written).
    ``route`` ("admin batch", "cli") is recorded in the event's detail when given."""
    with transaction.atomic():
        current = Item.objects.select_for_update().get(pk=item.pk)
        diff: dict[str, dict[str, Any]] = {}
        errors: dict[str, str] = {}
        for field, new in changes.items():
            if field == "identifier":
                if new != current.identifier:
                    raise ImmutableError("An item's identifier cannot be changed once set.", code="identifier_immutable")
                continue
            if field not in EDITABLE_ITEM_FIELDS:
                errors[field] = "This field cannot be edited."
                continue
            if field not in ("collection", "is_public"):
                try:
                    new = _clean_text(field, new)
                except ValueError as exc:
                    errors[field] = str(exc)
                    continue
            elif field == "is_public" and not isinstance(new, bool):
                errors[field] = "is_public must be true or false."
                continue
            old = getattr(current, field)
            if old != new:
                diff[field] = {"old": _json_value(old), "new": _json_value(new)}
                setattr(current, field, new)
        if errors:
            raise ValidationError(errors)
        if not diff:
            return diff
        current.save(update_fields=[*diff, "updated_at"])
        provenance.record_metadata_change(current, diff, user=user, route=route)
    for field in (*diff, "updated_at"):
        setattr(item, field, getattr(current, field))
    return diff


def reapply_ingest_metadata(item: Item, metadata: Mapping[str, Any], *, user, route: str = "cli") -> dict[str, Any]:
    """Applies corrected ingest metadata (``ingest_upload``'s ``metadata``: title, Dublin Core,
    is_public) to an existing item, as ``manage.py ingest --update`` does with a corrected CSV.

    The fields present are set; fields left out stay as they are. One ``metadata modification``
    event lists every changed field (old and new value) with ``route``; nothing is written when
    nothing changes. Returns the changes (empty when none). ``identifier``, when given, must be
    the item's. Raises ``IngestError`` (``invalid_metadata``) for a bad value, before any write.
    """
    fields = _clean_ingest_metadata(metadata)
    identifier = fields.pop("identifier", item.identifier)
    if identifier != item.identifier:
        raise IngestError("invalid_metadata", f"The identifier of {item.identifier!r} cannot change to {identifier!r}.",
                          field="identifier")
    try:
        return _apply_metadata(item, fields, user=user, route=route)
    except ValidationError as exc:  # cleaned above already; kept as an IngestError for the caller
        raise IngestError("invalid_metadata", "; ".join(exc.messages)) from exc


@dataclass(frozen=True)
class BatchOutcome:
    """What a batch of metadata edits did: the items changed and those already as asked."""

    changed: tuple[Item, ...]
    unchanged: tuple[Item, ...]


def update_items_metadata(items: Iterable[Item], changes: Mapping[str, Any], *, user,
                          route: str = "admin batch") -> BatchOutcome:
    """The same ``changes`` applied to each of ``items`` (the admin's bulk actions: make public,
    move to a collection, set a field), all or nothing: one ``metadata modification`` event per
    item that changes, none for an item already as asked. Errors as ``update_item_metadata``;
    on any error no item is changed."""
    changed: list[Item] = []
    unchanged: list[Item] = []
    with transaction.atomic():
        for item in items:
            (changed if _apply_metadata(item, changes, user=user, route=route) else unchanged).append(item)
    return BatchOutcome(changed=tuple(changed), unchanged=tuple(unchanged))


def set_preferred_version(version: Version, *, user) -> Version:
    """Makes ``version`` its item's preferred version (the one shown first), clearing the previous.

    Records a ``metadata modification`` event with the old and new preferred version ids; does
    nothing when ``version`` is already the preferred one. A rejected or withdrawn derivative, or
    a damage mask, cannot be preferred: ``ReviewError`` (code ``not_preferable``).
    """
    with transaction.atomic():
        item = Item.objects.select_for_update().get(pk=version.item_id)
        status = Version.objects.filter(pk=version.pk).values_list("review_status", flat=True).first()
        if not version.is_original and status in HIDDEN_REVIEW_STATUSES:
            raise ReviewError(
                "not_preferable",
                f"Version {version.pk} is {status}: a rejected or withdrawn version cannot be the preferred one.",
                field="version",
            )
        if version.kind == VersionKind.DAMAGE_MASK:
            # A mask is a map of where the damage was, not a picture of the item.
            raise ReviewError(
                "not_preferable", f"Version {version.pk} is a damage mask: it cannot be the preferred version.",
                field="version",
            )
        previous = (
            Version.objects.filter(item=item, is_preferred=True).exclude(pk=version.pk).values_list("pk", flat=True).first()
        )
        already = Version.objects.filter(pk=version.pk, is_preferred=True).exists()
        if already and previous is None:
            version.is_preferred = True
            return version
        if previous is not None:
            Version.objects.filter(pk=previous).update(is_preferred=False)
        Version.objects.filter(pk=version.pk).update(is_preferred=True)
        provenance.record_metadata_change(
            item, {"preferred_version": {"old": previous, "new": version.pk}}, user=user, sources=[version]
        )
    version.is_preferred = True
    return version


# --- Review of derivatives and notes ------------------------------------------------------------

# Longest review reason and note, in characters: a paragraph or a few, not a document.
MAX_REASON_LENGTH = 2000
MAX_NOTE_LENGTH = 10000


class ReviewError(ValidationError):
    """A review, preference or note the archive refuses, with a stable ``code`` and the input
    ``field`` it concerns. Codes: ``not_reviewable`` (an original), ``invalid_status``,
    ``reason_required``, ``too_long``, ``not_preferable``, ``empty_note``."""

    def __init__(self, code: str, message: str, *, field: str) -> None:
        super().__init__(message, code=code)
        self.field = field
        self.message = message


def _clean_long_text(value: Any, *, field: str, limit: int) -> str:
    if not isinstance(value, str):
        raise ReviewError("invalid", f"{field} must be text.", field=field)
    text = value.replace("\x00", "").strip()
    if len(text) > limit:
        raise ReviewError("too_long", f"{field} is longer than {limit} characters.", field=field)
    return text


def review_version(version: Version, status: str, *, reason: str = "", user) -> Version:
    """Sets a derivative's review ``status`` (``ReviewStatus``) with ``reason``, and records one
    ``validation`` event (``provenance.record_review``).

    A reason is required to reject or withdraw. Rejecting or withdrawing the preferred version
    makes the original the preferred one again (said in the same event). Nothing is written
    when neither the status nor the reason changes. The item's ``updated_at`` moves on, so
    OAI-PMH harvesters fetch its record again (its derivatives' descriptions change). Refusals
    raise ``ReviewError``; ``version`` is updated in place and returned.
    """
    if version.is_original:
        raise ReviewError("not_reviewable", "Originals are not reviewed: only derivatives are.", field="version")
    if status not in ReviewStatus.values:
        raise ReviewError(
            "invalid_status", f"Unknown review status {status!r}; one of {', '.join(ReviewStatus.values)}.",
            field="status",
        )
    reason = _clean_long_text(reason if reason is not None else "", field="reason", limit=MAX_REASON_LENGTH)
    if status in HIDDEN_REVIEW_STATUSES and not reason:
        raise ReviewError("reason_required", f"Say why the version is {status}: a reason is required.", field="reason")
    with transaction.atomic():
        Item.objects.select_for_update().filter(pk=version.item_id).first()  # serialises with preference changes
        current = Version.objects.select_for_update().get(pk=version.pk)
        if current.review_status == status and current.review_reason == reason:
            return version
        cleared_to = None
        if status in HIDDEN_REVIEW_STATUSES and current.is_preferred:
            cleared_to = Version.objects.originals().filter(item_id=current.item_id).first()
            Version.objects.filter(pk=current.pk).update(is_preferred=False)
            if cleared_to is not None:
                Version.objects.filter(pk=cleared_to.pk).update(is_preferred=True)
        old = current.review_status
        now = timezone.now()
        Version.objects.filter(pk=current.pk).update(
            review_status=status, review_reason=reason, reviewed_at=now,
            reviewed_by=user if _is_user(user) else None,
        )
        Item.objects.filter(pk=current.item_id).update(updated_at=now)
        provenance.record_review(current, old=old, new=status, reason=reason, user=user,
                                 preferred_cleared_to=cleared_to)
    version.review_status, version.review_reason, version.reviewed_at = status, reason, now
    version.reviewed_by = user if _is_user(user) else None
    if cleared_to is not None:
        version.is_preferred = False
    return version


def add_note(item: Item, text: str, *, user, version: Version | None = None) -> Note:
    """A curator's dated note on ``item``, or on ``version`` (one of its versions), with its
    event in the item's provenance (``provenance.record_note``). Refuses an empty or too long
    text, and a version of another item (``ReviewError``)."""
    text = _clean_long_text(text, field="text", limit=MAX_NOTE_LENGTH)
    if not text:
        raise ReviewError("empty_note", "A note needs some text.", field="text")
    if version is not None and version.item_id != item.pk:
        raise ReviewError("invalid", "The version is not one of this item's.", field="version")
    return provenance.record_note(item, text, user=user, version=version)

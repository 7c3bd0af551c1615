"""BagIt (RFC 8493) export of items and collections, for preservation systems.

One bag per item (``export_item_bags``) or per collection (``export_collection_bags``), each a
folder inside the output folder::

    <bag>/bagit.txt
    <bag>/bag-info.txt               Source-Organization, Bagging-Date, Payload-Oxum, External-Identifier, ...
    <bag>/manifest-sha256.txt        every payload file
    <bag>/tagmanifest-sha256.txt     bagit.txt, bag-info.txt, manifest-sha256.txt
    <bag>/data/<item>/original/<version id>-original.<ext>
    <bag>/data/<item>/derivatives/<version id>-<kind>.<ext>
    <bag>/data/<item>/metadata/dc.xml       the item's Dublin Core (oai_dc, as OAI-PMH serves it)
    <bag>/data/<item>/metadata/premis.xml   PREMIS 3: the item's files (objects), events and agents
    <bag>/data/collection.xml               (collection bags) the collection's Dublin Core

Archival files are streamed from storage in 1 MiB chunks, never read whole, and hashed while
they are copied: a file whose sha256 differs from the one the archive recorded stops the
export (the bag's payload checksums are therefore exactly the stored ``Version.sha256``).

``export_zip`` serialises the bags of one export as a zip (the admin's download).

All or nothing: the bags are written into a temporary folder beside the output folder, which
is renamed into place only once every bag is complete. The output folder must not exist or be
empty, and its parent must exist and be writable; any failure removes the temporary folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db.models import Prefetch
from django.utils import timezone
from lxml import etree

from restoration.interop import common as interop
from restoration.core import fixity, imaging, provenance
from restoration.interop import oai
from restoration.core.models import (
    Collection,
    EventAgent,
    EventObject,
    Item,
    ProvenanceEvent,
    Version,
)

logger = logging.getLogger(__name__)

BAGIT_VERSION = "1.0"
NS_PREMIS = "http://www.loc.gov/premis/v3"
PREMIS_SCHEMA = "http://www.loc.gov/standards/premis/v3/premis.xsd"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class BagExportError(Exception):
    """An export refused or failed, with a stable ``code`` and a readable ``message``.

    Codes: ``unknown_item``, ``unknown_collection``, ``nothing_to_export``, ``not_a_directory``,
    ``not_empty``, ``no_parent``, ``not_writable``, ``missing_file``, ``fixity_mismatch``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass
class ExportResult:
    """What an export wrote: the output folder, its bags and their payload."""

    path: Path
    bags: list[Path] = field(default_factory=list)
    files: int = 0
    bytes: int = 0


# --- Choosing what to export ----------------------------------------------------------------------


def resolve_items(references: Sequence[str]) -> list[Item]:
    """Items by archival identifier (or, for a number no identifier matches, by database id),
    in the order given; ``unknown_item`` names every reference that matches nothing."""
    items, unknown = [], []
    for reference in references:
        item = Item.objects.filter(identifier=reference).first()
        if item is None and str(reference).isdigit():
            item = Item.objects.filter(pk=int(reference)).first()
        if item is None:
            unknown.append(reference)
        elif item not in items:
            items.append(item)
    if unknown:
        raise BagExportError("unknown_item", f"No item with the identifier or id {', '.join(map(repr, unknown))}.")
    if not items:
        raise BagExportError("nothing_to_export", "No item was named.")
    return items


def resolve_collection(slug: str) -> Collection:
    collection = Collection.objects.filter(slug=slug).first()
    if collection is None:
        known = ", ".join(Collection.objects.order_by("slug").values_list("slug", flat=True)[:20]) or "none"
        raise BagExportError("unknown_collection", f"No collection with the slug {slug!r} (collections: {known}).")
    return collection


# --- The output folder ----------------------------------------------------------------------------


def _check_output(out_dir: Path) -> None:
    if out_dir.exists():
        if not out_dir.is_dir():
            raise BagExportError("not_a_directory", f"{out_dir} exists and is not a folder.")
        if any(out_dir.iterdir()):
            raise BagExportError("not_empty", f"{out_dir} is not empty; name a new or empty folder.")
    parent = out_dir.parent
    if not parent.is_dir():
        raise BagExportError("no_parent", f"The folder {parent} does not exist.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BagExportError("not_writable", f"Cannot write into {parent}.")


def _export(out_dir: str | os.PathLike, write) -> ExportResult:
    """Runs ``write(temporary folder, result)`` and renames the folder to ``out_dir`` on success."""
    out_dir = Path(out_dir).absolute()
    _check_output(out_dir)
    try:
        temporary = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    except OSError as exc:
        raise BagExportError("not_writable", f"Cannot write into {out_dir.parent}: {exc}") from exc
    try:
        result = ExportResult(path=out_dir)
        write(temporary, result)
        os.chmod(temporary, 0o755)  # mkdtemp makes it private to its owner
        if out_dir.exists():
            out_dir.rmdir()  # empty (checked); fails, and so aborts, if something appeared meanwhile
        os.rename(temporary, out_dir)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    result.bags = [out_dir / bag.name for bag in result.bags]
    logger.info("Exported %d bag(s) to %s: %d payload files, %d bytes", len(result.bags), out_dir, result.files,
                result.bytes)
    return result


def export_zip(
    export: Callable[[Iterable, Path], ExportResult], selection: Iterable, *, name: str
) -> tuple[BinaryIO, ExportResult]:
    """The bags ``export(selection, folder)`` writes (``export_item_bags`` or
    ``export_collection_bags``), serialised as one zip (RFC 8493 section 4.2) with the bags under
    ``<name>/``: for the admin's download.

    The bags are written into a private temporary folder (removed before returning, whatever
    happens) and zipped into an anonymous temporary file, returned at its start: it has no name
    on disk and disappears when closed (the response closes it once sent, or on a dropped
    connection). Members are stored, not deflated: the payload is mostly image files.
    ``BagExportError`` as the export raises it."""
    work = Path(tempfile.mkdtemp(prefix="bag-export-", dir=settings.FILE_UPLOAD_TEMP_DIR or None))
    try:
        result = export(selection, work / name)
        archive = tempfile.TemporaryFile(prefix="bag-export-", suffix=".zip", dir=work.parent)
        try:
            with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as bundle:
                for path in sorted(result.path.rglob("*")):
                    if path.is_file():
                        bundle.write(path, path.relative_to(work).as_posix())
        except BaseException:
            archive.close()
            raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    archive.seek(0)
    return archive, result


def export_item_bags(items: Iterable[Item], out_dir: str | os.PathLike) -> ExportResult:
    """One bag per item, named after its identifier, inside ``out_dir``."""
    items = list(items)
    if not items:
        raise BagExportError("nothing_to_export", "No item was named.")

    def write(folder: Path, result: ExportResult) -> None:
        names: set[str] = set()
        for item in items:
            name = _unique(_safe_name(item.identifier, f"item-{item.pk}"), names)
            bag = _Bag(folder / name)
            bag.add_item(item, "data/" + _safe_name(item.identifier, f"item-{item.pk}"))
            bag.finish(
                external_identifiers=[item.identifier],
                description=f"Item {item.identifier}: {item.title}" if item.title else f"Item {item.identifier}",
                internal_sender=item.collection.slug if item.collection else None,
            )
            result.bags.append(bag.path)
            result.files += bag.count
            result.bytes += bag.octets

    return _export(out_dir, write)


def export_collection_bags(collections: Iterable[Collection], out_dir: str | os.PathLike) -> ExportResult:
    """One bag per collection, named after its slug, holding all its items (public or not)."""
    collections = list(collections)
    if not collections:
        raise BagExportError("nothing_to_export", "No collection was named.")

    def write(folder: Path, result: ExportResult) -> None:
        for collection in collections:
            bag = _Bag(folder / collection.slug)
            bag.add_bytes("data/collection.xml", _collection_dc(collection))
            items = list(Item.objects.filter(collection=collection).order_by("identifier"))
            names: set[str] = set()
            for item in items:
                bag.add_item(item, "data/" + _unique(_safe_name(item.identifier, f"item-{item.pk}"), names))
            bag.finish(
                external_identifiers=[collection.slug, *(item.identifier for item in items)],
                description=f"Collection {collection.name} ({len(items)} items)",
                internal_sender=collection.slug,
            )
            result.bags.append(bag.path)
            result.files += bag.count
            result.bytes += bag.octets

    return _export(out_dir, write)


def _safe_name(text: str, fallback: str) -> str:
    """A folder name: letters, digits, ".", "_" and "-" only (no path, no hidden name)."""
    return _UNSAFE.sub("_", text).strip("._")[:120] or fallback


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate.lower() in taken:
        candidate, n = f"{name}-{n}", n + 1
    taken.add(candidate.lower())
    return candidate


# --- Writing a bag --------------------------------------------------------------------------------


def _manifest_path(path: str) -> str:
    """A path as manifests write it (RFC 8493 section 2.1.3: CR, LF and % percent-encoded)."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _tag_value(text: str) -> str:
    return " ".join(str(text).split())


class _Bag:
    """A bag being written: payload files are added with their sha256, then ``finish`` writes
    the tag files."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.manifest: list[tuple[str, str]] = []  # (path in the bag, sha256)
        self.count = 0
        self.octets = 0
        (path / "data").mkdir(parents=True)

    def _record(self, relative: str, digest: str, size: int) -> None:
        self.manifest.append((relative, digest))
        self.count += 1
        self.octets += size

    def add_bytes(self, relative: str, data: bytes) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        self._record(relative, hashlib.sha256(data).hexdigest(), len(data))

    def add_version(self, version: Version, relative: str) -> None:
        """Streams the stored file into the bag, hashing it on the way; refuses a changed file."""
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        checked = fixity.verify(version, copy_to=target)
        if checked.missing:
            raise BagExportError("missing_file", checked.problem())
        if not checked.intact:
            raise BagExportError(
                "fixity_mismatch", f"{checked.problem()} Nothing was exported; run manage.py fixity_audit."
            )
        self._record(relative, checked.actual, checked.size)

    def add_item(self, item: Item, folder: str) -> None:
        versions = list(Version.objects.filter(item=item).order_by("created_at", "id"))
        for version in versions:
            ext = Path(version.file.name).suffix.lower()
            sub = "original" if version.is_original else "derivatives"
            self.add_version(version, f"{folder}/{sub}/{version.pk}-{version.kind}{ext}")
        dc = oai.dublin_core(item, base=interop.base_url(None))
        self.add_bytes(f"{folder}/metadata/dc.xml", etree.tostring(dc, xml_declaration=True, encoding="UTF-8",
                                                                  pretty_print=True))
        self.add_bytes(f"{folder}/metadata/premis.xml", premis_document(item, versions))

    def finish(self, *, external_identifiers: Sequence[str], description: str, internal_sender: str | None) -> None:
        self._write_tag("bagit.txt", f"BagIt-Version: {BAGIT_VERSION}\nTag-File-Character-Encoding: UTF-8\n")
        info = [
            ("Source-Organization", settings.ARCHIVE_ORGANIZATION),
            ("Bagging-Date", timezone.now().date().isoformat()),
            ("Bag-Software-Agent", f"{provenance.SOFTWARE_NAME} {provenance.SOFTWARE_VERSION}"),
            ("Payload-Oxum", f"{self.octets}.{self.count}"),
            *(("External-Identifier", identifier) for identifier in external_identifiers),
            ("External-Description", description),
        ]
        if internal_sender:
            info.append(("Internal-Sender-Identifier", internal_sender))
        self._write_tag("bag-info.txt", "".join(f"{label}: {_tag_value(value)}\n" for label, value in info))
        self._write_tag(
            "manifest-sha256.txt", "".join(f"{digest}  {_manifest_path(path)}\n" for path, digest in self.manifest)
        )
        tag_lines = []
        for name in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt"):
            with open(self.path / name, "rb") as fh:
                digest, _ = imaging.sha256_stream(fh)
            tag_lines.append(f"{digest}  {name}\n")
        self._write_tag("tagmanifest-sha256.txt", "".join(tag_lines))

    def _write_tag(self, name: str, text: str) -> None:
        (self.path / name).write_text(text, encoding="utf-8", newline="\n")


# --- Metadata documents ---------------------------------------------------------------------------


def _collection_dc(collection: Collection) -> bytes:
    root = etree.Element(f"{{{oai.NS_OAI_DC}}}dc", nsmap={"oai_dc": oai.NS_OAI_DC, "dc": oai.NS_DC})
    for tag, value in (("title", collection.name), ("identifier", collection.slug),
                       ("description", collection.description)):
        if value:
            etree.SubElement(root, f"{{{oai.NS_DC}}}{tag}").text = value
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _p(parent: etree._Element, tag: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NS_PREMIS}}}{tag}", attributes)
    if text is not None:
        element.text = oai._clean(str(text))
    return element


def _identifier(parent: etree._Element, prefix: str, kind: str, value: str, role: str | None = None) -> None:
    holder = _p(parent, prefix)
    _p(holder, f"{prefix}Type", kind)
    _p(holder, f"{prefix}Value", value)
    if role is not None:
        _p(holder, prefix.replace("Identifier", "Role"), role)


def premis_document(item: Item, versions: Sequence[Version]) -> bytes:
    """PREMIS 3 XML of an item's files (objects), all its events and their agents."""
    xsi = "http://www.w3.org/2001/XMLSchema-instance"
    root = etree.Element(f"{{{NS_PREMIS}}}premis", nsmap={"premis": NS_PREMIS, "xsi": xsi}, version="3.0")
    root.set(f"{{{xsi}}}schemaLocation", f"{NS_PREMIS} {PREMIS_SCHEMA}")
    for version in versions:
        obj = _p(root, "object")
        obj.set(f"{{{xsi}}}type", "premis:file")
        _identifier(obj, "objectIdentifier", "local", f"version:{version.pk}")
        for name, value in (("width", version.width), ("height", version.height), ("kind", version.kind)):
            properties = _p(obj, "significantProperties")
            _p(properties, "significantPropertiesType", name)
            _p(properties, "significantPropertiesValue", str(value))
        characteristics = _p(obj, "objectCharacteristics")
        _p(characteristics, "compositionLevel", "0")
        fixity = _p(characteristics, "fixity")
        _p(fixity, "messageDigestAlgorithm", "SHA-256")
        _p(fixity, "messageDigest", version.sha256)
        _p(characteristics, "size", str(version.bytes))
        designation = _p(_p(characteristics, "format"), "formatDesignation")
        _p(designation, "formatName", version.mime_type)
        if version.original_filename:
            _p(obj, "originalName", version.original_filename)
        if version.parent_id:
            relationship = _p(obj, "relationship")
            _p(relationship, "relationshipType", "derivation")
            _p(relationship, "relationshipSubType", "has source")
            related = _p(relationship, "relatedObjectIdentifier")
            _p(related, "relatedObjectIdentifierType", "local")
            _p(related, "relatedObjectIdentifierValue", f"version:{version.parent_id}")

    events = list(
        ProvenanceEvent.objects.filter(item=item)
        .prefetch_related(
            Prefetch("agent_links", queryset=EventAgent.objects.select_related("agent").order_by("id")),
            Prefetch("object_links", queryset=EventObject.objects.order_by("id")),
        )
        .order_by("timestamp", "id")
    )
    agents = {}
    for event in events:
        element = _p(root, "event")
        _identifier(element, "eventIdentifier", "UUID", str(event.identifier))
        _p(element, "eventType", event.event_type, valueURI=event.event_type_uri)
        _p(element, "eventDateTime", event.timestamp.astimezone(UTC).isoformat().replace("+00:00", "Z"))
        if event.detail:
            _p(_p(element, "eventDetailInformation"), "eventDetail",
               json.dumps(event.detail, sort_keys=True, ensure_ascii=False))
        _p(_p(element, "eventOutcomeInformation"), "eventOutcome", event.outcome)
        for link in event.agent_links.all():
            agents[link.agent.pk] = link.agent
            _identifier(element, "linkingAgentIdentifier", "local", f"agent:{link.agent_id}", link.role)
        for link in event.object_links.all():
            _identifier(element, "linkingObjectIdentifier", "local", f"version:{link.version_id}", link.role)
    for agent in sorted(agents.values(), key=lambda a: a.pk):
        element = _p(root, "agent")
        _identifier(element, "agentIdentifier", "local", f"agent:{agent.pk}")
        _p(element, "agentName", agent.name)
        _p(element, "agentType", agent.agent_type)
        if agent.version:
            _p(element, "agentVersion", agent.version)
        if agent.detail:
            _p(element, "agentNote", json.dumps(agent.detail, sort_keys=True, ensure_ascii=False))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)

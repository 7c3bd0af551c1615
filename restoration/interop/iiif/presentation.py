"""IIIF Presentation 3 documents built with ``iiif-prezi3``: a manifest per item, a collection
per archive collection, and a top collection listing the collections.

An item's manifest has one canvas (the size of the original as displayed). Its painting
annotation's body is a ``Choice`` of the item's versions, each an ``Image`` with its
``ImageService3``: the preferred version first (the default a viewer shows; the original unless
a curator chose another), then the others oldest first. Mirador and the Universal Viewer show
the choice as layers. Every derivative is labelled from its provenance by
``restoration.jobs.labels.label`` (the sentence of the item page, the XMP and OAI-PMH), e.g.
"Restored by model restore-unet, weights 3f2a9c01d4e5…, on 2026-11-24; not the original",
and the same sentence is repeated in the manifest's ``metadata``.

Dublin Core fields go to ``metadata`` (``description`` also to ``summary``). ``rights`` goes to
``rights`` when it is a Creative Commons or RightsStatements.org URI, in the ``http://`` form the
specification's schema accepts (``rights_uri``: ``https://`` and RightsStatements.org's
``/page/`` forms are mapped to it), else to ``requiredStatement``: never both.

Values a viewer would render as HTML (the specification: a value that starts with ``<`` and ends
with ``>``) are published escaped inside a ``<span>``, so catalogue text is shown as written and
never run as markup (``_html_safe``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from urllib.parse import quote

from django.urls import reverse
from iiif_prezi3 import (
    Annotation,
    AnnotationBody,
    AnnotationPage,
    Canvas,
    Choice,
    Class,
    Collection as IIIFCollection,
    CollectionRef,
    KeyValueString,
    LinkedResource,
    Manifest,
    ManifestRef,
    ServiceV3,
)

from restoration.jobs import labels
from restoration.core.models import DUBLIN_CORE_FIELDS, Collection, Item, Version, VersionKind

from . import image as iiif_image

CONTEXT = "http://iiif.io/api/presentation/3/context.json"
# What the Presentation 3 schema accepts in ``rights`` (http:// only).
_RIGHTS_URI = re.compile(
    r"http://(creativecommons\.org/(licenses|publicdomain/mark)/|rightsstatements\.org/vocab/)[A-Za-z0-9._~/-]+"
)
# Catalogue values carry no language tag: IIIF's "none".
NONE = "none"
EN = "en"


def rights_uri(value: str) -> str | None:
    """``value`` as a URI the ``rights`` property accepts, else None.

    Creative Commons and RightsStatements.org URIs are published under ``https://`` today, but
    the specification's schema names their ``http://`` forms: ``https://`` is mapped to
    ``http://``, and RightsStatements.org's human page (``/page/InC/1.0/?language=en``) to its
    vocabulary URI (``/vocab/InC/1.0/``).
    """
    text = (value or "").strip()
    if text.startswith("https://"):
        text = "http://" + text.removeprefix("https://")
    page = re.fullmatch(r"http://rightsstatements\.org/page/([A-Za-z-]+/[0-9.]+)/?(\?.*)?", text)
    if page:
        text = f"http://rightsstatements.org/vocab/{page.group(1)}/"
    return text if _RIGHTS_URI.fullmatch(text) else None


def _text(value: str, language: str = NONE) -> dict[str, list[str]]:
    return {language: [value]}


def _html_safe(value: str) -> str:
    """``value`` as a viewer will show it: text that would be taken for HTML (it starts with
    ``<`` and ends with ``>``) is escaped inside a ``<span>``; other text is plain already."""
    stripped = value.strip()
    if stripped.startswith("<") and stripped.endswith(">"):
        return f"<span>{html.escape(value, quote=False)}</span>"
    return value


def _pair(label: str, value: str) -> KeyValueString:
    return KeyValueString(label=_text(label, EN), value=_text(_html_safe(value)))


def manifest_url(item: Item, base: str) -> str:
    return base + reverse("iiif:manifest", args=[item.identifier])


def collection_url(collection: Collection, base: str) -> str:
    return base + reverse("iiif:collection", args=[collection.slug])


def version_label(version: Version, making: labels.Making | None) -> str:
    """"Original", or the derivative's label (``restoration.jobs.labels.label``)."""
    if version.kind == VersionKind.ORIGINAL:
        return "Original"
    return labels.label(making or labels.Making(version.kind, made_at=version.created_at))


def _body(version: Version, label: str, source: iiif_image.SourceInfo, base: str,
          limits: iiif_image.Limits) -> AnnotationBody:
    service = base + reverse("iiif:base", args=[version.pk])
    width, height, _ = iiif_image.parse_size("max", source.width, source.height, limits)
    return AnnotationBody(
        id=f"{service}/full/max/0/default.jpg",
        type="Image",
        format="image/jpeg",
        width=width,
        height=height,
        label=_text(label, EN),
        service=[ServiceV3(id=service, type="ImageService3", profile=iiif_image.PROFILE)],
    )


def _ordered(versions: list[Version]) -> list[Version]:
    """The preferred version first (else the original), then the others oldest first."""
    first = next((v for v in versions if v.is_preferred), None) or next((v for v in versions if v.is_original), None)
    rest = [v for v in versions if v is not first]
    return ([first] if first else []) + rest


def item_manifest(
    item: Item,
    versions: list[Version],
    *,
    base: str,
    source_info: Callable[[Version], iiif_image.SourceInfo],
    limits: iiif_image.Limits,
    public: bool,
) -> dict:
    """The manifest of ``item`` as a JSON-ready dict; ``limits`` are the image service's (the
    largest size a body may name)."""
    manifest_id = manifest_url(item, base)
    versions = _ordered(versions)
    made = labels.makings(versions)
    texts = {v.pk: version_label(v, made.get(v.pk)) for v in versions}
    sources = {v.pk: source_info(v) for v in versions}
    original = next((v for v in versions if v.is_original), versions[0] if versions else None)

    metadata = [_pair("Identifier", item.identifier)]
    for field in DUBLIN_CORE_FIELDS:
        value = getattr(item, field)
        if value and field != "rights":
            metadata.append(_pair(Item._meta.get_field(field).verbose_name.capitalize(), value))
    if item.collection is not None:
        metadata.append(_pair("Collection", item.collection.name))
    for version in versions:
        detail = texts[version.pk]
        if version.is_original:
            detail = f"Original scan, {version.width} x {version.height} pixels, sha256 {version.sha256}"
        metadata.append(_pair(f"Version {version.pk} ({version.get_kind_display().lower()})", detail))

    manifest = Manifest(id=manifest_id, label=_text(item.title or item.identifier), metadata=metadata)
    if item.description:
        manifest.summary = _text(_html_safe(item.description))
    if item.rights:
        uri = rights_uri(item.rights)
        if uri:
            manifest.rights = uri
        else:
            manifest.requiredStatement = _pair("Rights", item.rights)

    canvas_source = sources[original.pk] if original else iiif_image.SourceInfo(1, 1, True, "")
    canvas_id = f"{manifest_id.removesuffix('/manifest.json')}/canvas/1"
    canvas = Canvas(id=canvas_id, width=canvas_source.width, height=canvas_source.height, label=_text(item.title or item.identifier), items=[])
    if versions:
        bodies = [_body(v, texts[v.pk], sources[v.pk], base, limits) for v in versions]
        body = bodies[0] if len(bodies) == 1 else Choice(items=bodies)
        annotation = Annotation(
            id=f"{canvas_id}/annotation/1", motivation="painting", body=body, target=canvas_id,
        )
        canvas.items = [AnnotationPage(id=f"{canvas_id}/page/1", items=[annotation])]
        first = versions[0]
        service = base + reverse("iiif:base", args=[first.pk])
        thumb_w, thumb_h, _ = iiif_image.parse_size("!256,256", sources[first.pk].width, sources[first.pk].height, limits)
        manifest.thumbnail = [
            AnnotationBody(
                id=f"{service}/full/{thumb_w},{thumb_h}/0/default.jpg", type="Image", format="image/jpeg",
                width=thumb_w, height=thumb_h,
                service=[ServiceV3(id=service, type="ImageService3", profile=iiif_image.PROFILE)],
            )
        ]
    manifest.items = [canvas]
    if public:
        oai = base + reverse("oai") + "?" + "&".join(
            ["verb=GetRecord", "metadataPrefix=oai_dc", "identifier=" + quote(_oai_identifier(item), safe="")]
        )
        manifest.seeAlso = [
            LinkedResource(
                id=oai, type="Dataset", format="text/xml", profile="http://www.openarchives.org/OAI/2.0/oai_dc/",
                label=_text("Dublin Core (OAI-PMH)", EN),
            )
        ]
    if item.collection is not None and (not public or item.collection.is_public):
        manifest.partOf = [Class(id=collection_url(item.collection, base), type="Collection", label=_text(item.collection.name))]
    return _as_dict(manifest)


def _oai_identifier(item: Item) -> str:
    from restoration.interop.oai import oai_identifier

    return oai_identifier(item)


def _as_dict(resource) -> dict:
    import json

    return json.loads(resource.jsonld())


def collection_document(collection: Collection, items: Iterable[Item], *, base: str) -> dict:
    """A IIIF Collection listing the manifests of ``items`` (the caller filters visibility)."""
    document = IIIFCollection(
        id=collection_url(collection, base),
        label=_text(collection.name),
        items=[ManifestRef(id=manifest_url(item, base), type="Manifest", label=_text(item.title or item.identifier))
               for item in items],
    )
    if collection.description:
        document.summary = _text(_html_safe(collection.description))
    return _as_dict(document)


def top_collection_document(collections: Iterable[Collection], *, base: str) -> dict:
    """The archive's collections as one IIIF Collection."""
    document = IIIFCollection(
        id=base + reverse("iiif:top-collection"),
        label=_text("Collections", EN),
        items=[CollectionRef(id=collection_url(c, base), type="Collection", label=_text(c.name)) for c in collections],
    )
    return _as_dict(document)

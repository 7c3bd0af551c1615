"""Items through the API: ingest by upload, reading, metadata edits, filters, ordering, pages."""

from __future__ import annotations

import hashlib

import pytest
from PIL import Image

from restoration.models import DUBLIN_CORE_FIELDS, Item, ProvenanceEvent, Version
from tests.support import image_bytes, media_files, upload

pytestmark = pytest.mark.django_db

ITEM_FIELDS = {
    "id", "url", "identifier", "title", *DUBLIN_CORE_FIELDS, "collection", "is_public", "created_at",
    "updated_at", "original", "versions", "versions_url", "provenance_url", "notes",
}
VERSION_FIELDS = {
    "id", "url", "item", "kind", "parent", "original_filename", "sha256", "bytes", "width", "height", "mode",
    "bit_depth", "mime_type", "page_count", "is_preferred", "created_at", "created_by", "file_url",
    "thumbnail_url", "access_url", "review_status", "review_reason", "reviewed_at", "reviewed_by", "review_url",
    "notes",
}


# --- POST /api/items/ -------------------------------------------------------------------------


def test_post_item_ingests_the_upload_and_returns_item_with_original(curator_client, api_media, public_collection):
    data = image_bytes("PNG", size=(30, 20))
    response = curator_client.post(
        "/api/items/",
        {
            "file": upload(data, "print-001.png"),
            "identifier": "ARCH-0001",
            "title": "Harbour at dawn",
            "creator": "Unknown photographer",
            "date": "ca. 1920",
            "collection": public_collection.pk,
            "is_public": "true",
        },
        format="multipart",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == ITEM_FIELDS
    assert body["identifier"] == "ARCH-0001"
    assert body["title"] == "Harbour at dawn"
    assert body["date"] == "ca. 1920"
    assert body["collection"] == public_collection.pk
    assert body["is_public"] is True
    assert response["Location"] == body["url"]
    assert body["url"].endswith(f"/api/items/{body['id']}/")

    original = body["original"]
    assert set(original) == VERSION_FIELDS
    assert original["kind"] == "original"
    assert original["item"] == body["id"]
    assert original["parent"] is None
    assert original["sha256"] == hashlib.sha256(data).hexdigest()
    assert original["bytes"] == len(data)
    assert (original["width"], original["height"]) == (30, 20)
    assert original["mode"] == "RGB"
    assert original["bit_depth"] == 8
    assert original["mime_type"] == "image/png"
    assert original["page_count"] == 1
    assert original["created_by"] == "curator"
    assert original["file_url"].endswith(f"/api/versions/{original['id']}/file/")
    assert original["thumbnail_url"].endswith(f"/api/versions/{original['id']}/thumbnail/")
    assert original["access_url"].endswith(f"/api/versions/{original['id']}/access/")
    assert body["versions"] == [
        {
            "id": original["id"],
            "url": original["url"],
            "kind": "original",
            "parent": None,
            "is_preferred": original["is_preferred"],
            "review_status": None,  # originals are not reviewed
            "created_at": original["created_at"],
        }
    ]

    # The stored bytes are exactly the uploaded ones.
    version = Version.objects.get(pk=original["id"])
    with version.file.open("rb") as fh:
        assert fh.read() == data
    events = set(ProvenanceEvent.objects.filter(item_id=body["id"]).values_list("event_type", flat=True))
    assert {"ingestion", "message digest calculation"} <= events


def test_post_item_without_identifier_derives_one_from_the_file_name(curator_client, api_media):
    response = curator_client.post("/api/items/", {"file": upload(image_bytes(), "Box 3 print 17.png")}, format="multipart")

    assert response.status_code == 201, response.json()
    assert response.json()["identifier"]
    assert Item.objects.filter(identifier=response.json()["identifier"]).exists()


def test_post_item_stores_16_bit_greyscale_as_such(curator_client, api_media):
    response = curator_client.post(
        "/api/items/", {"file": upload(image_bytes("PNG", mode="I;16"), "deep.png"), "identifier": "DEEP-1"},
        format="multipart",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["original"]["bit_depth"] == 16


# --- GET /api/items/ and /api/items/{id}/ -----------------------------------------------------


def test_get_item_detail(viewer_client, ingest_item):
    version = ingest_item("ARCH-0002", title="Street scene", creator="A. Person")

    response = viewer_client.get(f"/api/items/{version.item_id}/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == ITEM_FIELDS
    assert body["title"] == "Street scene"
    assert body["creator"] == "A. Person"
    assert body["original"]["id"] == version.pk
    assert body["versions_url"].endswith(f"/api/items/{version.item_id}/versions/")
    assert body["provenance_url"].endswith(f"/api/items/{version.item_id}/provenance/")


def test_list_items_is_paginated(viewer_client, ingest_item):
    for n in range(3):
        ingest_item(f"P-{n}")

    first = viewer_client.get("/api/items/", {"page_size": 2}).json()
    second = viewer_client.get(first["next"]).json()

    assert first["count"] == 3
    assert [i["identifier"] for i in first["results"]] == ["P-0", "P-1"]
    assert [i["identifier"] for i in second["results"]] == ["P-2"]
    assert second["next"] is None and second["previous"]


def test_list_items_ordering(viewer_client, ingest_item):
    for identifier in ("B", "A", "C"):
        ingest_item(identifier)

    default = viewer_client.get("/api/items/").json()["results"]
    desc = viewer_client.get("/api/items/", {"ordering": "-identifier"}).json()["results"]
    newest_first = viewer_client.get("/api/items/", {"ordering": "-created_at,identifier"}).json()["results"]

    assert [i["identifier"] for i in default] == ["A", "B", "C"]
    assert [i["identifier"] for i in desc] == ["C", "B", "A"]
    assert [i["identifier"] for i in newest_first] == ["C", "A", "B"]


def test_list_items_filters_by_collection_q_and_kind(viewer_client, ingest_item, public_collection, private_collection, curator):
    harbour = ingest_item("H-1", title="Harbour", collection=public_collection)
    ingest_item("S-1", title="Street", description="A harbour in the background", collection=private_collection)
    ingest_item("F-1", title="Field")
    Version.objects.create(
        item_id=harbour.item_id, kind="restored", parent=harbour, file=harbour.file.name, sha256="0" * 64,
        bytes=1, width=1, height=1, mode="RGB", bit_depth=8, mime_type="image/png", created_by=curator,
        review_status="accepted",  # the kind filter counts only versions the caller may see
    )

    def identifiers(**params):
        response = viewer_client.get("/api/items/", params)
        assert response.status_code == 200, response.json()
        return [i["identifier"] for i in response.json()["results"]]

    assert identifiers(collection=public_collection.pk) == ["H-1"]
    assert identifiers(collection=private_collection.pk) == ["S-1"]
    assert identifiers(q="harbour") == ["H-1", "S-1"]  # title or description, any case
    assert identifiers(q="f-1") == ["F-1"]  # identifier
    assert identifiers(kind="restored") == ["H-1"]
    assert identifiers(kind="original") == ["F-1", "H-1", "S-1"]
    assert identifiers(kind="restored", q="street") == []


def test_list_items_rejects_an_unknown_kind(viewer_client):
    response = viewer_client.get("/api/items/", {"kind": "sepia"})

    assert response.status_code == 400
    assert response.json()["errors"]["kind"]


# --- PATCH /api/items/{id}/ -------------------------------------------------------------------


def test_patch_changes_metadata_through_the_service_and_records_an_event(curator_client, ingest_item, public_collection):
    version = ingest_item("M-1", title="Old title")

    response = curator_client.patch(
        f"/api/items/{version.item_id}/",
        {"title": "New title", "subject": "Harbours", "collection": public_collection.pk},
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["title"] == "New title"
    assert body["subject"] == "Harbours"
    assert body["collection"] == public_collection.pk
    assert body["original"]["id"] == version.pk
    event = ProvenanceEvent.objects.filter(item_id=version.item_id, event_type="metadata modification").get()
    assert "title" in str(event.detail) and "New title" in str(event.detail) and "Old title" in str(event.detail)


def test_patch_with_a_different_identifier_is_refused(curator_client, ingest_item):
    version = ingest_item("M-2", title="Kept")
    events = ProvenanceEvent.objects.count()

    response = curator_client.patch(
        f"/api/items/{version.item_id}/", {"identifier": "M-2-renamed", "title": "Changed"}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "identifier_immutable"
    assert "cannot be changed" in body["errors"]["identifier"][0]
    item = Item.objects.get(pk=version.item_id)
    assert (item.identifier, item.title) == ("M-2", "Kept")
    assert ProvenanceEvent.objects.count() == events


def test_patch_with_the_same_identifier_is_accepted(curator_client, ingest_item):
    version = ingest_item("M-3")

    response = curator_client.patch(
        f"/api/items/{version.item_id}/", {"identifier": "M-3", "title": "Fine"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["title"] == "Fine"


def test_patch_without_changes_writes_no_event(curator_client, ingest_item):
    version = ingest_item("M-4", title="Same")
    events = ProvenanceEvent.objects.count()

    response = curator_client.patch(f"/api/items/{version.item_id}/", {"title": "Same"}, format="json")

    assert response.status_code == 200
    assert ProvenanceEvent.objects.count() == events


def test_patch_validates_field_lengths(curator_client, ingest_item):
    version = ingest_item("M-5")

    response = curator_client.patch(f"/api/items/{version.item_id}/", {"date": "x" * 101}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "max_length"
    assert "date" in response.json()["errors"]


def test_put_is_not_allowed(curator_client, ingest_item):
    version = ingest_item("M-6")

    response = curator_client.put(f"/api/items/{version.item_id}/", {"title": "x"}, format="json")

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


# --- /api/items/{id}/versions/ and /provenance/ -----------------------------------------------


def test_item_versions_lists_every_version(viewer_client, ingest_item, curator):
    original = ingest_item("V-1")
    restored = Version.objects.create(
        item_id=original.item_id, kind="restored", parent=original, file=original.file.name, sha256="1" * 64,
        bytes=1, width=1, height=1, mode="RGB", bit_depth=8, mime_type="image/png", created_by=curator,
        review_status="accepted",  # a pending one is for curators only (tests/delivery/test_review_api.py)
    )

    response = viewer_client.get(f"/api/items/{original.item_id}/versions/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [v["id"] for v in body["results"]] == [original.pk, restored.pk]
    assert body["results"][1]["parent"] == original.pk
    assert body["results"][1]["kind"] == "restored"
    assert body["results"][1]["thumbnail_url"] is None


def test_item_provenance_lists_premis_events(viewer_client, ingest_item):
    original = ingest_item("E-1")

    response = viewer_client.get(f"/api/items/{original.item_id}/provenance/")

    assert response.status_code == 200
    events = response.json()["results"]
    assert {e["event_type"] for e in events} >= {"ingestion", "message digest calculation"}
    ingestion = next(e for e in events if e["event_type"] == "ingestion")
    assert set(ingestion) == {
        "identifier", "event_type", "event_type_uri", "timestamp", "outcome", "detail", "item", "agents", "objects",
    }
    assert ingestion["event_type_uri"] == "http://id.loc.gov/vocabulary/preservation/eventType/ing"
    assert ingestion["outcome"] == "success"
    assert ingestion["item"] == original.item_id
    assert {"version": original.pk, "role": "outcome"} in ingestion["objects"]
    for agent in ingestion["agents"]:
        assert set(agent) == {"name", "type", "version", "role"}
    assert {"name": "curator", "type": "person", "role": "implementer"} in [
        {k: a[k] for k in ("name", "type", "role")} for a in ingestion["agents"]
    ]
    assert any(a["type"] == "software" and a["role"] == "executing program" for a in ingestion["agents"])


def test_uploaded_image_is_a_real_file_on_storage(curator_client, api_media):
    response = curator_client.post("/api/items/", {"file": upload(image_bytes(), "x.png")}, format="multipart")

    version = Version.objects.get(pk=response.json()["original"]["id"])
    assert version.file.name in media_files(api_media)
    with version.thumbnail.open("rb") as fh:
        assert Image.open(fh).format == "JPEG"

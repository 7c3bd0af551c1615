"""The API of reviews, preferences and notes: ``POST /api/versions/{id}/review/``,
``/prefer/``, ``/notes/`` and ``POST /api/items/{id}/notes/``; who may call them; and rejected
(or withdrawn, or pending) derivatives on every API door (item detail and list, versions list,
version detail, file, thumbnail and access downloads, provenance) for anonymous visitors, plain
accounts and curators."""

from __future__ import annotations

import pytest

from restoration.core import services
from restoration.models import EventType, Note, ProvenanceEvent, Version
from tests.delivery.test_pages import add_restored

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(ingest_item, public_collection, curator):
    """A public item's original and a pending derivative."""
    original = ingest_item("API-REV-1", collection=public_collection, is_public=True)
    return original, add_restored(original, user=curator, review=None)


def review(client, version: Version, status: str, reason: str = ""):
    return client.post(f"/api/versions/{version.pk}/review/", {"status": status, "reason": reason}, format="json")


# --- POST /api/versions/{id}/review/ -----------------------------------------------------------------


def test_a_curator_reviews_a_derivative_and_sees_the_reason(curator_client, pair):
    _, derivative = pair

    response = review(curator_client, derivative, "rejected", "Faces smeared")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["review_status"], body["review_reason"], body["reviewed_by"]) == ("rejected", "Faces smeared", "curator")
    assert body["reviewed_at"] and body["review_url"].endswith(f"/api/versions/{derivative.pk}/review/")
    event = ProvenanceEvent.objects.get(event_type=EventType.VALIDATION)
    assert event.detail["review_status"] == {"old": "pending", "new": "rejected"}


@pytest.mark.parametrize(
    ("status", "reason", "code"),
    [("rejected", "", "reason_required"), ("withdrawn", "  ", "reason_required"), ("approved", "", "invalid_choice"),
     ("accepted", "x" * 2001, "too_long")],
)
def test_bad_reviews_are_400_with_a_code_and_change_nothing(curator_client, pair, status, reason, code):
    _, derivative = pair
    response = review(curator_client, derivative, status, reason)
    assert response.status_code == 400 and response.json()["code"] == code
    assert Version.objects.get(pk=derivative.pk).review_status == "pending"
    assert not ProvenanceEvent.objects.filter(event_type=EventType.VALIDATION).exists()


def test_originals_are_not_reviewable(curator_client, pair):
    original, _ = pair
    response = review(curator_client, original, "accepted")
    assert response.status_code == 400
    assert response.json()["code"] == "not_reviewable" and "Originals" in response.json()["detail"]


def test_a_review_without_a_body_is_400_not_500(curator_client, pair):
    _, derivative = pair
    response = curator_client.post(f"/api/versions/{derivative.pk}/review/", "not json", content_type="application/json")
    assert response.status_code == 400


def test_only_curators_review(anon_client, reader_client, staff_client, pair):
    _, derivative = pair
    assert review(anon_client, derivative, "accepted").status_code == 401
    assert review(reader_client, derivative, "accepted").status_code == 403
    assert review(staff_client, derivative, "accepted").status_code == 403
    assert Version.objects.get(pk=derivative.pk).review_status == "pending"


# --- POST /api/versions/{id}/prefer/ -----------------------------------------------------------------


def test_prefer_refuses_a_rejected_version_and_rejecting_clears_the_preference(curator_client, reader_client, pair):
    original, derivative = pair
    assert curator_client.post(f"/api/versions/{derivative.pk}/prefer/").json()["is_preferred"] is True
    assert reader_client.post(f"/api/versions/{derivative.pk}/prefer/").status_code == 403

    review(curator_client, derivative, "rejected", "Wrong crop")
    assert Version.objects.get(pk=original.pk).is_preferred

    response = curator_client.post(f"/api/versions/{derivative.pk}/prefer/")
    assert response.status_code == 400 and response.json()["code"] == "not_preferable"
    assert not Version.objects.get(pk=derivative.pk).is_preferred


# --- Notes -------------------------------------------------------------------------------------------


def test_curators_add_notes_to_items_and_versions_and_only_they_read_them(
        curator_client, reader_client, anon_client, pair):
    original, derivative = pair
    item_id = original.item_id

    on_item = curator_client.post(f"/api/items/{item_id}/notes/", {"text": "Donated in 1987"}, format="json")
    on_version = curator_client.post(f"/api/versions/{derivative.pk}/notes/", {"text": "Sky too blue"}, format="json")

    assert on_item.status_code == 201 and on_version.status_code == 201
    assert on_item.json()["version"] is None and on_version.json()["version"] == derivative.pk
    assert on_item.json()["author"] == "curator" and on_item.json()["created_at"]
    item = curator_client.get(f"/api/items/{item_id}/").json()
    assert [n["text"] for n in item["notes"]] == ["Donated in 1987", "Sky too blue"]
    assert [n["text"] for n in curator_client.get(f"/api/versions/{derivative.pk}/").json()["notes"]] == ["Sky too blue"]
    events = curator_client.get(f"/api/items/{item_id}/provenance/").json()["results"]
    assert [e["detail"]["note"] for e in events if "note" in e["detail"]] == ["Donated in 1987", "Sky too blue"]

    services.review_version(derivative, "accepted", user=None)  # the public may see the version now
    for client in (reader_client, anon_client):
        assert client.get(f"/api/items/{item_id}/").json()["notes"] is None
        assert client.get(f"/api/versions/{derivative.pk}/").json()["notes"] is None
        events = client.get(f"/api/items/{item_id}/provenance/").json()["results"]
        assert not any("note" in e["detail"] for e in events)


def test_bad_notes_and_strangers_are_refused(curator_client, reader_client, anon_client, pair):
    original, _ = pair
    url = f"/api/items/{original.item_id}/notes/"
    assert curator_client.post(url, {"text": " "}, format="json").json()["code"] == "empty_note"
    assert curator_client.post(url, {"text": "x" * 10001}, format="json").json()["code"] == "too_long"
    assert curator_client.post(url, {}, format="json").json()["code"] == "required"
    assert reader_client.post(url, {"text": "hi"}, format="json").status_code == 403
    assert anon_client.post(url, {"text": "hi"}, format="json").status_code == 401
    assert Note.objects.count() == 0


# --- Every API door, for anonymous, plain account and curator --------------------------------------------


@pytest.mark.parametrize("status", ["rejected", "withdrawn", "pending"])
def test_a_hidden_derivative_is_gone_from_every_api_door_but_for_curators(
        anon_client, reader_client, curator_client, pair, status):
    original, derivative = pair
    if status != "pending":
        services.review_version(derivative, status, reason="Not fit", user=None)
    item_id = original.item_id
    doors = [f"/api/versions/{derivative.pk}/", f"/api/versions/{derivative.pk}/file/",
             f"/api/versions/{derivative.pk}/thumbnail/", f"/api/versions/{derivative.pk}/access/"]

    for client in (anon_client, reader_client):
        for url in doors:
            response = client.get(url)
            assert response.status_code == 404 and response.json()["code"] == "not_found", url
        item = client.get(f"/api/items/{item_id}/").json()
        assert [v["id"] for v in item["versions"]] == [original.pk]
        listed = client.get("/api/items/").json()["results"]
        assert [v["id"] for i in listed if i["id"] == item_id for v in i["versions"]] == [original.pk]
        assert [v["id"] for v in client.get(f"/api/items/{item_id}/versions/").json()["results"]] == [original.pk]
        assert client.get("/api/items/", {"kind": "restored"}).json()["count"] == 0
        events = client.get(f"/api/items/{item_id}/provenance/").json()["results"]
        assert all(o["version"] == original.pk for e in events for o in e["objects"])

    for url in doors:
        assert curator_client.get(url).status_code == 200, url
    item = curator_client.get(f"/api/items/{item_id}/").json()
    assert [(v["id"], v["review_status"]) for v in item["versions"]] == [(original.pk, None), (derivative.pk, status)]
    assert curator_client.get("/api/items/", {"kind": "restored"}).json()["count"] == 1


def test_an_accepted_derivative_is_on_every_door_and_its_reason_stays_with_curators(
        anon_client, reader_client, pair):
    original, derivative = pair
    services.review_version(derivative, "accepted", reason="Matches the print", user=None)
    for client in (anon_client, reader_client):
        body = client.get(f"/api/versions/{derivative.pk}/").json()
        assert body["review_status"] == "accepted"
        assert (body["review_reason"], body["reviewed_by"], body["review_url"]) == (None, None, None)
        assert client.get(f"/api/versions/{derivative.pk}/file/").status_code == 200
        assert [v["id"] for v in client.get(f"/api/items/{original.item_id}/").json()["versions"]] == [
            original.pk, derivative.pk]


def test_pending_derivatives_are_public_when_the_setting_says_so(anon_client, pair, settings):
    _, derivative = pair
    assert anon_client.get(f"/api/versions/{derivative.pk}/").status_code == 404
    settings.ARCHIVE_PUBLIC_PENDING_DERIVATIVES = True
    assert anon_client.get(f"/api/versions/{derivative.pk}/").json()["review_status"] == "pending"
    services.review_version(derivative, "rejected", reason="Halo", user=None)
    assert anon_client.get(f"/api/versions/{derivative.pk}/").status_code == 404

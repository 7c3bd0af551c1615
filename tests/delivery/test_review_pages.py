"""Review and notes on the pages and in the admin: what anonymous visitors, plain accounts and
curators see of a rejected (withdrawn, pending) derivative on the item page and the grid; the
curators' review and note forms of the item page (``curation.py``) and their refusals; the
admin's review actions, preference refusals and notes inline.

The browser test (tests/delivery/browser/test_browser_review.py) drives the review form in Chromium.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from restoration.core import services
from restoration.models import EventType, Note, ProvenanceEvent, Version
from tests.delivery.test_pages import add_restored, client_for, page_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def shelf(ingest_item, public_collection, curator):
    """A public item with an accepted derivative and a rejected one that was the preferred one."""
    original = ingest_item("pg-1", title="Quay in fog", collection=public_collection, is_public=True)
    accepted = add_restored(original, user=curator, model="good-model")
    rejected = add_restored(original, kind="colorized", user=curator, model="garish-model", review=None)
    services.set_preferred_version(rejected, user=curator)
    services.review_version(rejected, "rejected", reason="Garish magenta sky", user=curator)
    return {"original": original, "accepted": accepted, "rejected": rejected}


def review_url(version: Version) -> str:
    return reverse("pages:review_version", args=[version.pk])


def note_url(version: Version) -> str:
    return reverse("pages:add_note", args=[version.item_id])


# --- What each visitor sees ---------------------------------------------------------------------------


def test_visitors_and_plain_accounts_do_not_see_a_rejected_derivative(client, reader, shelf):
    rejected = shelf["rejected"]
    for visitor in (client, client_for(reader)):
        body = visitor.get(page_url("pg-1")).content.decode()
        assert f'id="version-{shelf["accepted"].pk}"' in body
        assert f'id="version-{rejected.pk}"' not in body
        assert f"/api/versions/{rejected.pk}/" not in body and "garish-model" not in body
        assert "Garish magenta sky" not in body and 'class="review' not in body and 'id="notes"' not in body
        # asked for by id, the viewer falls back to a derivative the visitor may see
        compared = visitor.get(page_url("pg-1"), {"compare": rejected.pk}).content.decode()
        assert f'data-version="{rejected.pk}"' not in compared
        grid = visitor.get("/collections/public-prints/").content.decode()
        # the preference fell back to the original: the grid shows its thumbnail
        assert f"/api/versions/{shelf['original'].pk}/thumbnail/" in grid
        assert f"/api/versions/{rejected.pk}/" not in grid and 'badge-ai">Colorized' not in grid
        assert "pg-1" not in visitor.get("/items/", {"kind": "colorized"}).content.decode()
        assert "pg-1" in visitor.get("/items/", {"kind": "restored"}).content.decode()


def test_curators_see_it_with_its_review_and_the_viewer_never_opens_on_it(curator, shelf):
    rejected = shelf["rejected"]
    body = client_for(curator).get(page_url("pg-1")).content.decode()
    card = body[body.index(f'id="version-{rejected.pk}"'):]
    card = card[: card.index("</li>")]
    assert "Rejected" in card and "shown to curators only" in card and "Garish magenta sky" in card
    assert f'action="{review_url(rejected)}"' in card
    viewer = body[body.index('id="viewer"'):body.index("</section>", body.index('id="viewer"'))]
    # The original is preferred again: the viewer shows it alone (docs/viewer.md), the accepted
    # derivative offered for comparison, the rejected one never opened on.
    assert f'data-version="{rejected.pk}"' not in viewer and 'data-mode="single"' in viewer
    assert f'<option value="{shelf["accepted"].pk}"' in viewer
    # the review event is in the curator's timeline
    assert "Validation" in body and "Validator:" in body
    assert "pg-1" in client_for(curator).get("/items/", {"kind": "colorized"}).content.decode()


def test_pending_derivatives_follow_the_setting(client, curator, ingest_item, settings):
    original = ingest_item("pg-2", is_public=True)
    pending = add_restored(original, user=curator, review=None)
    assert f'id="version-{pending.pk}"' not in client.get(page_url("pg-2")).content.decode()
    settings.ARCHIVE_PUBLIC_PENDING_DERIVATIVES = True
    assert f'id="version-{pending.pk}"' in client.get(page_url("pg-2")).content.decode()


# --- The review form of the item page ---------------------------------------------------------------------


def test_a_curator_reviews_from_the_item_page(curator, shelf):
    accepted = shelf["accepted"]
    response = client_for(curator).post(review_url(accepted), {
        f"review-{accepted.pk}-status": "withdrawn", f"review-{accepted.pk}-reason": "Rights unclear"})

    assert response.status_code == 303
    assert response["Location"] == page_url("pg-1") + f"#version-{accepted.pk}"
    accepted.refresh_from_db()
    assert (accepted.review_status, accepted.review_reason) == ("withdrawn", "Rights unclear")
    assert any("withdrawn" in str(m) for m in get_messages(response.wsgi_request))


def test_a_refused_review_is_400_with_the_reason_on_the_page(curator, shelf):
    accepted = shelf["accepted"]
    client = client_for(curator)
    response = client.post(review_url(accepted), {f"review-{accepted.pk}-status": "rejected",
                                                  f"review-{accepted.pk}-reason": ""})
    assert response.status_code == 400
    assert "a reason is required" in response.content.decode()
    response = client.post(review_url(accepted), {f"review-{accepted.pk}-status": "bogus"})
    assert response.status_code == 400
    response = client.post(review_url(shelf["original"]), {f"review-{shelf['original'].pk}-status": "accepted"})
    assert response.status_code == 400 and "Originals are not reviewed" in response.content.decode()
    assert Version.objects.get(pk=accepted.pk).review_status == "accepted"


def test_only_curators_may_post_a_review(client, reader, staff, shelf):
    accepted, rejected = shelf["accepted"], shelf["rejected"]
    data = {f"review-{accepted.pk}-status": "rejected", f"review-{accepted.pk}-reason": "no"}
    assert client.post(review_url(accepted), data).status_code == 403
    for user in (reader, staff):
        assert client_for(user).post(review_url(accepted), data).status_code == 403
        # a version the account may not see answers 404, as an unknown one does
        assert client_for(user).post(review_url(rejected), {}).status_code == 404
    assert client.get(review_url(accepted)).status_code == 405
    assert Version.objects.get(pk=accepted.pk).review_status == "accepted"


# --- Notes on the item page ---------------------------------------------------------------------------------


def test_a_curator_adds_notes_that_only_curators_read(client, reader, curator, shelf):
    accepted = shelf["accepted"]
    curator_client = client_for(curator)
    assert curator_client.post(note_url(accepted), {"text": "From the 1923 album", "version": ""}).status_code == 303
    response = curator_client.post(note_url(accepted), {"text": "Slight halo", "version": str(accepted.pk)})
    assert response.status_code == 303 and response["Location"].endswith("#notes")

    body = curator_client.get(page_url("pg-1")).content.decode()
    notes = body[body.index('id="notes"'):]
    assert "From the 1923 album" in notes and "Slight halo" in notes and f"version {accepted.pk}" in notes
    assert body.count("Slight halo") == 2  # in the notes and in the provenance timeline
    for visitor in (client, client_for(reader)):
        assert "Slight halo" not in visitor.get(page_url("pg-1")).content.decode()


def test_bad_notes_are_400_and_strangers_403(client, reader, curator, shelf):
    accepted = shelf["accepted"]
    assert client_for(curator).post(note_url(accepted), {"text": "   "}).status_code == 400
    assert client_for(curator).post(note_url(accepted), {"text": "x", "version": "999999"}).status_code == 400
    assert client_for(reader).post(note_url(accepted), {"text": "hello"}).status_code == 403
    assert client.post(note_url(accepted), {"text": "hello"}).status_code == 403
    assert Note.objects.count() == 0


# --- Admin ----------------------------------------------------------------------------------------------------

VERSIONS = reverse("admin:restoration_version_changelist")


def admin_action(client, action: str, versions: list[Version], reason: str = ""):
    return client.post(VERSIONS, {"action": action, "_selected_action": [v.pk for v in versions], "reason": reason},
                       follow=True)


def test_admin_review_actions_take_the_reason_beside_the_menu(curator, shelf):
    client = client_for(curator)
    accepted, rejected, original = shelf["accepted"], shelf["rejected"], shelf["original"]

    response = admin_action(client, "review_rejected", [accepted, original], reason="Banding")
    text = " ".join(str(m) for m in response.context["messages"])
    assert "1 version(s) now rejected" in text and "Originals are not reviewed" in text
    assert Version.objects.get(pk=accepted.pk).review_reason == "Banding"

    response = admin_action(client, "review_withdrawn", [rejected])
    assert "a reason is required" in " ".join(str(m) for m in response.context["messages"])
    assert Version.objects.get(pk=rejected.pk).review_status == "rejected"

    admin_action(client, "review_accepted", [rejected])
    assert Version.objects.get(pk=rejected.pk).review_status == "accepted"
    page = client.get(VERSIONS, {"review_status__exact": "accepted"})
    assert [v.pk for v in page.context["cl"].result_list] == [rejected.pk]


def test_admin_refuses_to_prefer_a_rejected_version(curator, shelf):
    client = client_for(curator)
    rejected = shelf["rejected"]
    response = admin_action(client, "make_preferred", [rejected])
    assert "cannot be the preferred one" in " ".join(str(m) for m in response.context["messages"])
    url = reverse("admin:restoration_item_prefer_version", args=[rejected.item_id, rejected.pk])
    response = client.post(url, follow=True)
    assert "cannot be the preferred one" in " ".join(str(m) for m in response.context["messages"])
    assert not Version.objects.get(pk=rejected.pk).is_preferred
    # the side-by-side panel offers no "Mark as preferred" for it
    body = client.get(reverse("admin:restoration_item_change", args=[rejected.item_id])).content.decode()
    assert reverse("admin:restoration_item_prefer_version", args=[rejected.item_id, rejected.pk]) not in body
    assert "review: rejected" in body


def test_staff_without_the_curators_permission_get_no_review_actions(staff, curator, shelf):
    assert 'value="review_rejected"' in client_for(curator).get(VERSIONS).content.decode()
    body = client_for(staff).get(VERSIONS).content.decode()
    assert 'value="review_rejected"' not in body and 'value="review_accepted"' not in body
    admin_action(client_for(staff), "review_accepted", [shelf["rejected"]])
    assert Version.objects.get(pk=shelf["rejected"].pk).review_status == "rejected"


def _version_change_post(version: Version, text: str) -> dict:
    return {"notes-TOTAL_FORMS": "1", "notes-INITIAL_FORMS": "0", "notes-MIN_NUM_FORMS": "0",
            "notes-MAX_NUM_FORMS": "1000", "notes-0-text": text, "notes-0-version": str(version.pk), "_save": "Save"}


def test_admin_notes_inline_writes_through_the_service(curator, shelf):
    client = client_for(curator)
    accepted = shelf["accepted"]
    url = reverse("admin:restoration_version_change", args=[accepted.pk])
    assert "looks right" in client.get(url).content.decode()  # the review, read-only on the version's page
    response = client.post(url, _version_change_post(accepted, "Compared with the glass negative"))
    assert response.status_code == 302, response.content.decode()[:2000]
    note = Note.objects.get()
    assert (note.version, note.item, note.author, note.text) == (
        accepted, accepted.item, curator, "Compared with the glass negative")
    assert note.event.event_type == EventType.METADATA_MODIFICATION
    # listed read-only on the item's page too
    body = client.get(reverse("admin:restoration_item_change", args=[accepted.item_id])).content.decode()
    assert "Compared with the glass negative" in body
    assert re.search(r'name="notes-1-text"', body)  # the note is read-only, a fresh row adds the next one
    assert 'name="notes-0-text"' not in body
    assert ProvenanceEvent.objects.filter(note__isnull=False).count() == 1

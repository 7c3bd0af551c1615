"""Review of derivatives and curators' notes in the core: ``services.review_version``,
``services.add_note``, their PREMIS events, the write-once rule, and the review step of
``Version.objects.visible_to`` (and of events) for anonymous visitors, plain accounts and curators."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import AnonymousUser

from restoration.core import services
from restoration.models import (
    VERSION_IMMUTABLE_FIELDS,
    VERSION_REVIEW_FIELDS,
    EventAgent,
    EventType,
    ImmutableError,
    Note,
    ProvenanceEvent,
    ReviewStatus,
    Version,
)
from tests.support import WEIGHTS_SHA256, image_bytes

pytestmark = pytest.mark.django_db


def derive(original: Version, user, *, kind: str = "restored") -> Version:
    """A derivative stored as a job stores one (pending)."""
    return services.add_derivative(
        original, io.BytesIO(image_bytes(size=(24, 16), seed=original.pk * 10 + Version.objects.count())), kind=kind,
        filename="result.png", user=user,
        software={"name": "gan_engine", "version": "0.1.0", "model": "m", "weights_sha256": WEIGHTS_SHA256},
        detail={"task": "restore", "model": "m", "weights_sha256": WEIGHTS_SHA256},
    )


@pytest.fixture
def public_pair(ingest_item, curator):
    """A public item's original and a pending derivative of it."""
    original = ingest_item("REV-1", is_public=True)
    return original, derive(original, curator)


def review_events(version: Version) -> list[ProvenanceEvent]:
    return list(ProvenanceEvent.objects.filter(event_type=EventType.VALIDATION, object_links__version=version))


# --- The service and its event -------------------------------------------------------------------


def test_a_new_derivative_is_pending_and_a_review_is_one_validation_event(public_pair, curator):
    original, derivative = public_pair
    assert derivative.review_status == ReviewStatus.PENDING

    services.review_version(derivative, "rejected", reason="Garish colours", user=curator)

    derivative.refresh_from_db()
    assert (derivative.review_status, derivative.review_reason, derivative.reviewed_by) == (
        "rejected", "Garish colours", curator)
    assert derivative.reviewed_at is not None
    [event] = review_events(derivative)
    assert event.curators_only is True
    assert event.detail == {"review_status": {"old": "pending", "new": "rejected"}, "reason": "Garish colours"}
    roles = {(link.agent.name, link.role) for link in event.agent_links.select_related("agent")}
    assert ("curator", EventAgent.Role.VALIDATOR) in roles
    assert [link.role for link in event.object_links.all()] == ["source"]
    # the version's making is still what labels read: the review is not a "modification"
    assert ProvenanceEvent.objects.filter(event_type=EventType.MODIFICATION, object_links__version=derivative,
                                          object_links__role="outcome").count() == 1


def test_the_same_review_twice_writes_nothing_and_a_new_reason_is_a_change(public_pair, curator):
    _, derivative = public_pair
    services.review_version(derivative, "accepted", user=curator)
    services.review_version(derivative, "accepted", user=curator)
    assert len(review_events(derivative)) == 1
    services.review_version(derivative, "accepted", reason="Checked against the print", user=curator)
    assert len(review_events(derivative)) == 2


@pytest.mark.parametrize("status", ["rejected", "withdrawn"])
def test_rejecting_or_withdrawing_needs_a_reason(public_pair, curator, status):
    _, derivative = public_pair
    with pytest.raises(services.ReviewError) as refused:
        services.review_version(derivative, status, reason="   ", user=curator)
    assert (refused.value.code, refused.value.field) == ("reason_required", "reason")
    derivative.refresh_from_db()
    assert derivative.review_status == "pending" and review_events(derivative) == []


def test_originals_unknown_statuses_and_long_reasons_are_refused(public_pair, curator):
    original, derivative = public_pair
    cases = [
        (original, "accepted", "", "not_reviewable"),
        (derivative, "approved", "", "invalid_status"),
        (derivative, "rejected", "x" * (services.MAX_REASON_LENGTH + 1), "too_long"),
    ]
    for version, status, reason, code in cases:
        with pytest.raises(services.ReviewError) as refused:
            services.review_version(version, status, reason=reason, user=curator)
        assert refused.value.code == code
    assert ProvenanceEvent.objects.filter(event_type=EventType.VALIDATION).count() == 0


def test_rejecting_the_preferred_version_makes_the_original_preferred_and_says_so(public_pair, curator):
    original, derivative = public_pair
    services.set_preferred_version(derivative, user=curator)

    services.review_version(derivative, "withdrawn", reason="Wrong item", user=curator)

    assert Version.objects.get(pk=original.pk).is_preferred
    assert not Version.objects.get(pk=derivative.pk).is_preferred
    [event] = review_events(derivative)
    assert event.detail["preferred_version"] == {"old": derivative.pk, "new": original.pk}


def test_a_rejected_version_cannot_be_preferred(public_pair, curator):
    original, derivative = public_pair
    services.review_version(derivative, "rejected", reason="Blurred", user=curator)
    events = ProvenanceEvent.objects.count()

    with pytest.raises(services.ReviewError) as refused:
        services.set_preferred_version(derivative, user=curator)

    assert refused.value.code == "not_preferable"
    assert Version.objects.get(pk=original.pk).is_preferred and ProvenanceEvent.objects.count() == events
    services.review_version(derivative, "accepted", reason="Second look: fine", user=curator)
    services.set_preferred_version(derivative, user=curator)  # accepted again: it may be preferred
    assert Version.objects.get(pk=derivative.pk).is_preferred


def test_a_damage_mask_cannot_be_preferred(public_pair, curator):
    original, _ = public_pair
    mask = derive(original, curator, kind="damage_mask")
    services.review_version(mask, "accepted", user=curator)

    with pytest.raises(services.ReviewError) as refused:
        services.set_preferred_version(mask, user=curator)

    assert refused.value.code == "not_preferable"
    assert Version.objects.get(pk=original.pk).is_preferred and not Version.objects.get(pk=mask.pk).is_preferred


def test_a_review_moves_the_items_datestamp_for_harvesters(public_pair, curator):
    original, derivative = public_pair
    before = original.item.updated_at
    services.review_version(derivative, "accepted", user=curator)
    original.item.refresh_from_db()
    assert original.item.updated_at > before


def test_review_fields_are_apart_from_the_write_once_fields_which_still_hold(public_pair, curator):
    _, derivative = public_pair
    assert not set(VERSION_REVIEW_FIELDS) & {f.removesuffix("_id") for f in VERSION_IMMUTABLE_FIELDS}
    services.review_version(derivative, "accepted", user=curator)
    derivative.refresh_from_db()
    derivative.sha256 = "0" * 64
    with pytest.raises(ImmutableError):
        derivative.save()


# --- Notes ---------------------------------------------------------------------------------------------


def test_a_note_is_a_dated_row_with_its_curators_only_event(public_pair, curator):
    original, derivative = public_pair

    note = services.add_note(original.item, "  Verso: stamp of the studio.  ", user=curator, version=derivative)

    assert (note.text, note.author, note.version, note.item) == (
        "Verso: stamp of the studio.", curator, derivative, original.item)
    assert note.created_at == note.event.timestamp
    assert note.event.event_type == EventType.METADATA_MODIFICATION and note.event.curators_only
    assert note.event.detail == {"note": "Verso: stamp of the studio.", "on": f"version {derivative.pk}"}


def test_notes_are_append_only_and_bad_notes_are_refused(public_pair, curator, ingest_item):
    original, derivative = public_pair
    note = services.add_note(original.item, "First", user=curator)
    note.text = "Changed"
    with pytest.raises(ImmutableError):
        note.save()
    with pytest.raises(ImmutableError):
        note.delete()
    with pytest.raises(ImmutableError):
        Note.objects.create(item=original.item, text="behind the service", created_at=note.created_at,
                            event=note.event)
    other = ingest_item("REV-OTHER")
    for text, version, code in (("", None, "empty_note"), (" \n ", None, "empty_note"),
                                ("x" * (services.MAX_NOTE_LENGTH + 1), None, "too_long"),
                                ("On the wrong item", other, "invalid")):
        with pytest.raises(services.ReviewError) as refused:
            services.add_note(original.item, text, user=curator, version=version)
        assert refused.value.code == code
    assert Note.objects.count() == 1


# --- Who sees what: the review step of visible_to --------------------------------------------------------


def visible(user) -> set[int]:
    return set(Version.objects.visible_to(user).values_list("pk", flat=True))


def test_each_status_is_shown_to_curators_and_to_the_public_by_the_rules(ingest_item, curator, reader, settings):
    original = ingest_item("REV-2", is_public=True)
    by_status = {status: derive(original, curator) for status in ReviewStatus.values}
    for status, version in by_status.items():
        if status != "pending":
            services.review_version(version, status, reason="because", user=curator)
    everyone = {original.pk, *(v.pk for v in by_status.values())}

    assert visible(curator) == everyone
    public = {original.pk, by_status["accepted"].pk}
    assert visible(AnonymousUser()) == public and visible(reader) & everyone == public

    settings.ARCHIVE_PUBLIC_PENDING_DERIVATIVES = True
    public |= {by_status["pending"].pk}
    assert visible(AnonymousUser()) == public and visible(reader) & everyone == public
    assert visible(curator) == everyone


def test_the_review_step_does_not_open_non_public_items(ingest_item, curator):
    original = ingest_item("REV-3", is_public=False)
    derivative = derive(original, curator)
    services.review_version(derivative, "accepted", user=curator)
    assert visible(AnonymousUser()) & {original.pk, derivative.pk} == set()


def test_events_of_hidden_versions_notes_and_reviews_are_for_curators(public_pair, curator, reader):
    original, derivative = public_pair
    services.review_version(derivative, "rejected", reason="Artefacts", user=curator)
    services.add_note(original.item, "Check the negative", user=curator)
    events = ProvenanceEvent.objects.filter(item=original.item)

    def shown(user) -> set[str]:
        return set(events.visible_to(user).values_list("event_type", flat=True))

    assert len(events.visible_to(curator)) == len(events)
    for user in (AnonymousUser(), reader):
        public = events.visible_to(user)
        assert not public.filter(curators_only=True).exists()
        assert not public.filter(object_links__version=derivative).exists()
        assert shown(user) == {"ingestion", "message digest calculation"}  # the original's

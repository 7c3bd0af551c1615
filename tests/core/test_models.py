"""restoration.models: the rules that hold whatever path a write takes."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction

from restoration.core import provenance
from restoration.models import (
    EVENT_TYPE_URIS,
    Collection,
    EventAgent,
    EventObject,
    EventType,
    ImmutableError,
    Item,
    ProvenanceEvent,
    Version,
    VersionKind,
)

pytestmark = pytest.mark.django_db


def _version(item: Item, **overrides) -> Version:
    fields = dict(
        item=item, kind=VersionKind.ORIGINAL, file=f"items/{item.pk:08d}/original.png", sha256="a" * 64,
        bytes=10, width=1, height=1, mode="RGB", bit_depth=8, mime_type="image/png",
    )
    fields.update(overrides)
    return Version.objects.create(**fields)


def test_identifier_cannot_change_once_set():
    item = Item.objects.create(identifier="ID-1")
    item.identifier = "ID-2"
    with pytest.raises(ImmutableError):
        item.save()
    with pytest.raises(ImmutableError):
        Item.objects.filter(pk=item.pk).update(identifier="ID-2")
    assert Item.objects.get(pk=item.pk).identifier == "ID-1"
    Item.objects.filter(pk=item.pk).update(title="Other fields may change")


def test_items_are_not_deleted():
    item = Item.objects.create(identifier="ID-1")
    with pytest.raises(ImmutableError):
        item.delete()
    with pytest.raises(ImmutableError):
        Item.objects.all().delete()
    assert Item.objects.filter(pk=item.pk).exists()


def test_original_versions_are_write_once_and_never_deleted():
    item = Item.objects.create(identifier="ID-1")
    original = _version(item)
    for field, value in [("sha256", "b" * 64), ("bytes", 11), ("file", "items/other.png"), ("kind", "restored")]:
        changed = Version.objects.get(pk=original.pk)
        setattr(changed, field, value)
        with pytest.raises(ImmutableError):
            changed.save()
    with pytest.raises(ImmutableError):
        Version.objects.filter(pk=original.pk).update(sha256="b" * 64)
    with pytest.raises(ImmutableError):
        Version.objects.filter(pk=original.pk).update(file="x")
    with pytest.raises(ImmutableError):
        original.delete()
    with pytest.raises(ImmutableError):
        Version.objects.filter(item=item).delete()
    assert Version.objects.get(pk=original.pk).sha256 == "a" * 64
    Version.objects.filter(pk=original.pk).update(is_preferred=True)  # not a technical field


def test_derivatives_may_be_deleted_but_not_changed():
    item = Item.objects.create(identifier="ID-1")
    original = _version(item)
    derivative = _version(item, kind=VersionKind.RESTORED, parent=original, sha256="c" * 64, file="items/r.png")
    derivative.width = 2
    with pytest.raises(ImmutableError):
        derivative.save()
    Version.objects.get(pk=derivative.pk).delete()
    assert not Version.objects.filter(pk=derivative.pk).exists()


@pytest.mark.parametrize(
    "overrides",
    [
        {"file": "items/second-original.png", "sha256": "d" * 64},  # a second original
        {"kind": VersionKind.RESTORED, "file": "items/r.png"},  # a derivative without parent
    ],
)
def test_version_constraints(overrides):
    item = Item.objects.create(identifier="ID-1")
    _version(item)
    with pytest.raises(IntegrityError), transaction.atomic():
        _version(item, **overrides)


def test_the_same_content_is_one_original_only():
    first = Item.objects.create(identifier="ID-1")
    second = Item.objects.create(identifier="ID-2")
    _version(first)
    with pytest.raises(IntegrityError), transaction.atomic():
        _version(second)


def test_one_preferred_version_per_item():
    item = Item.objects.create(identifier="ID-1")
    original = _version(item, is_preferred=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        _version(item, kind=VersionKind.RESTORED, parent=original, sha256="e" * 64, file="r.png", is_preferred=True)


def test_events_are_written_only_through_provenance():
    item = Item.objects.create(identifier="ID-1")
    with pytest.raises(ImmutableError):
        ProvenanceEvent.objects.create(event_type=EventType.INGESTION, timestamp="2024-01-01T00:00Z", item=item)
    with pytest.raises(ImmutableError):
        ProvenanceEvent.objects.bulk_create([ProvenanceEvent(event_type=EventType.INGESTION, timestamp="2024-01-01T00:00Z")])
    assert ProvenanceEvent.objects.count() == 0


def test_events_and_their_links_are_append_only():
    item = Item.objects.create(identifier="ID-1")
    version = _version(item)
    event = provenance.record_event(EventType.VALIDATION, outcomes=[version], software=provenance.archive_software())
    event.outcome = "failure"
    with pytest.raises(ImmutableError):
        event.save()
    for queryset, change in [
        (ProvenanceEvent.objects.all(), {"outcome": "failure"}),
        (EventObject.objects.all(), {"role": "source"}),
        (EventAgent.objects.all(), {"role": "validator"}),
    ]:
        with pytest.raises(ImmutableError):
            queryset.update(**change)
        with pytest.raises(ImmutableError):
            queryset.delete()
    with pytest.raises(ImmutableError):
        event.delete()
    with pytest.raises(ImmutableError):
        EventObject.objects.get(event=event).delete()
    assert ProvenanceEvent.objects.get(pk=event.pk).outcome == "success"


def test_every_event_type_has_a_loc_uri():
    assert set(EVENT_TYPE_URIS) == set(EventType.values)
    assert all(uri.startswith("http://id.loc.gov/vocabulary/preservation/eventType/") for uri in EVENT_TYPE_URIS.values())


def test_visible_to_anonymous_only_public_items_in_public_or_no_collection(anonymous, staff, viewer, curator):
    public, private = Collection.objects.create(name="P", slug="p", is_public=True), Collection.objects.create(name="Q", slug="q")
    Item.objects.create(identifier="loose-public", is_public=True)
    Item.objects.create(identifier="in-public", is_public=True, collection=public)
    Item.objects.create(identifier="in-private", is_public=True, collection=private)
    Item.objects.create(identifier="not-public", collection=public)
    visible = set(Item.objects.visible_to(anonymous).values_list("identifier", flat=True))
    assert visible == {"loose-public", "in-public"}
    # Staff status, or any account, is not enough: the view permission is (Viewers, Curators).
    assert set(Item.objects.visible_to(staff).values_list("identifier", flat=True)) == visible
    assert Item.objects.visible_to(viewer).count() == 4
    assert Item.objects.visible_to(curator).count() == 4
    assert set(Collection.objects.visible_to(staff).values_list("slug", flat=True)) == {"p"}
    assert Collection.objects.visible_to(viewer).count() == 2
    viewer.is_active = False  # a deactivated account sees what anyone sees
    assert set(Item.objects.visible_to(viewer).values_list("identifier", flat=True)) == visible


def test_storage_prefix_is_per_item():
    item = Item.objects.create(identifier="ID-1")
    assert item.storage_prefix == f"items/{item.pk:08d}"


def test_curators_group_has_the_contract_permissions():
    codenames = set(Group.objects.get(name="Curators").permissions.values_list("codename", flat=True))
    assert codenames == {
        "add_collection", "change_collection", "view_collection",
        "add_item", "change_item", "view_item", "ingest_item",
        "add_version", "change_version", "view_version",
        "view_provenanceevent", "view_agent",
        "add_restorationjob", "change_restorationjob", "view_restorationjob",  # migration 0004
    }

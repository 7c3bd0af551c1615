"""Batch edits of items in the admin (restoration/delivery/admin/actions.py): make public / not
public, move to a collection and set a field through their intermediate pages, one metadata
modification event per changed item, all or nothing, and only for those who may change items."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from restoration.core import services
from restoration.models import Collection, EventType, Item, ProvenanceEvent

pytestmark = pytest.mark.django_db

ITEMS = reverse("admin:restoration_item_changelist")


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _post(client, action: str, items, **data):
    return client.post(ITEMS, {"action": action, "_selected_action": [str(i.pk) for i in items], **data}, follow=True)


def _events(item: Item) -> list[dict]:
    return [e.detail for e in ProvenanceEvent.objects.filter(item=item, event_type=EventType.METADATA_MODIFICATION)]


@pytest.fixture
def items(db, ingest_item):
    return [ingest_item(f"B-{n}").item for n in range(3)]


def test_make_public_and_not_public_write_one_event_per_changed_item(client, curator, items):
    Item.objects.filter(pk=items[0].pk).update(is_public=True)
    client.force_login(curator)

    response = _post(client, "make_public", items)

    assert _messages(response) == ["Made public: 2 item(s) changed, 1 already so."]
    assert set(Item.objects.values_list("is_public", flat=True)) == {True}
    assert _events(items[0]) == []  # already public: untouched
    for item in items[1:]:
        [detail] = _events(item)
        assert detail == {"changes": {"is_public": {"old": False, "new": True}}, "route": "admin batch"}
        event = ProvenanceEvent.objects.filter(item=item).last()
        assert event.agents.get(agent_type="person").user == curator

    _post(client, "make_not_public", items[:2])
    assert list(Item.objects.order_by("pk").values_list("is_public", flat=True)) == [False, False, True]
    assert len(_events(items[1])) == 2


def test_move_to_collection_shows_a_form_then_moves(client, curator, items):
    harbour = Collection.objects.create(name="Harbour", slug="harbour")
    client.force_login(curator)

    page = _post(client, "move_to_collection", items[:2])
    assert page.status_code == 200 and "admin/restoration/item/batch_form.html" in [t.name for t in page.templates]
    body = page.content.decode()
    assert 'name="collection"' in body and "Harbour" in body and 'value="move_to_collection"' in body
    assert body.count('name="_selected_action"') == 2
    assert not ProvenanceEvent.objects.filter(event_type=EventType.METADATA_MODIFICATION).exists()

    done = _post(client, "move_to_collection", items[:2], collection=harbour.pk, apply="Apply")
    assert done.redirect_chain[-1][0] == ITEMS or done.request["PATH_INFO"] == ITEMS
    assert "Move to a collection: 2 item(s) changed, 0 already so." in _messages(done)
    assert list(Item.objects.order_by("pk").values_list("collection__slug", flat=True)) == ["harbour", "harbour", None]
    assert _events(items[0])[0]["changes"] == {"collection": {"old": None, "new": "harbour"}}

    # "(no collection)" takes them out again.
    _post(client, "move_to_collection", items[:1], collection="", apply="Apply")
    assert Item.objects.get(pk=items[0].pk).collection is None


def test_move_to_an_unknown_collection_shows_the_form_again(client, curator, items):
    client.force_login(curator)
    page = _post(client, "move_to_collection", items, collection="99999", apply="Apply")
    assert page.status_code == 200 and "Select a valid choice" in page.content.decode()
    assert not ProvenanceEvent.objects.filter(event_type=EventType.METADATA_MODIFICATION).exists()


def test_set_a_field_offers_descriptive_fields_only_and_sets_it(client, curator, items):
    client.force_login(curator)
    page = _post(client, "set_field", items)
    choices = [name for name, _ in page.context["form"].fields["field"].choices]
    assert choices[0] == "title" and "creator" in choices and "rights" in choices
    assert not {"identifier", "is_public", "collection"} & set(choices)

    _post(client, "set_field", items, field="creator", value="  Léon Gimpel ", apply="Apply")
    assert set(Item.objects.values_list("creator", flat=True)) == {"Léon Gimpel"}
    for item in items:
        assert _events(item)[-1]["changes"] == {"creator": {"old": "", "new": "Léon Gimpel"}}

    refused = _post(client, "set_field", items, field="identifier", value="X", apply="Apply")
    assert "Select a valid choice" in refused.content.decode()
    assert sorted(Item.objects.values_list("identifier", flat=True)) == ["B-0", "B-1", "B-2"]


def test_a_value_refused_by_the_service_changes_no_item(client, curator, items):
    client.force_login(curator)
    too_long = "x" * (Item._meta.get_field("date").max_length + 1)
    page = _post(client, "set_field", items, field="date", value=too_long, apply="Apply")

    assert page.status_code == 200 and "longer than" in page.content.decode()
    assert set(Item.objects.values_list("date", flat=True)) == {""}
    assert not ProvenanceEvent.objects.filter(event_type=EventType.METADATA_MODIFICATION).exists()


def test_the_service_is_all_or_nothing(curator, items):
    """An error on the last item leaves the first ones unchanged too (one transaction)."""
    with pytest.raises(services.ValidationError):
        services.update_items_metadata(items, {"title": "ok", "no_such_field": "x"}, user=curator)
    assert set(Item.objects.values_list("title", flat=True)) == {"B-0", "B-1", "B-2"}  # from the file names


def test_only_users_who_may_change_items_get_batch_actions(client, viewer, items):
    client.force_login(viewer)  # viewers may look, not change
    form = client.get(ITEMS).context["action_form"]
    offered = [name for name, _ in form.fields["action"].choices] if form is not None else []
    assert not {"make_public", "make_not_public", "move_to_collection", "set_field"} & set(offered)

    for action, extra in (("make_public", {}), ("set_field", {"field": "title", "value": "x", "apply": "1"})):
        response = _post(client, action, items, **extra)
        assert response.status_code == 200
    assert set(Item.objects.values_list("is_public", "title")) == {(False, "B-0"), (False, "B-1"), (False, "B-2")}
    assert not ProvenanceEvent.objects.filter(event_type=EventType.METADATA_MODIFICATION).exists()

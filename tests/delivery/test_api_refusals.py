"""Every query parameter of the API is range-checked: a value it cannot use is a 400 in the
API's error shape, never a 500 and never silently ignored (issue 15)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

HUGE = "9" * 20  # past a signed 64-bit id: an OverflowError in SQLite before the checks
LIST_URLS = ["/api/items/", "/api/collections/", "/api/jobs/"]


@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        ("/api/items/", {"collection": HUGE}, "collection"),
        ("/api/items/", {"collection": "-1"}, "collection"),
        ("/api/items/", {"collection": "1.5"}, "collection"),
        ("/api/items/", {"collection": "abc"}, "collection"),
        ("/api/items/", {"q": "x" * 60_000}, "q"),
        ("/api/items/", {"q": "x" * 201}, "q"),
        ("/api/items/", {"is_public": "2437"}, "is_public"),
        ("/api/items/", {"is_public": "maybe"}, "is_public"),
        ("/api/items/", {"kind": "bogus"}, "kind"),
        ("/api/collections/", {"is_public": "2"}, "is_public"),
        ("/api/collections/", {"q": "x" * 60_000}, "q"),
        ("/api/collections/", {"slug": "x" * 60_000}, "slug"),
        ("/api/jobs/", {"item": HUGE}, "item"),
        ("/api/jobs/", {"item": "0"}, "item"),
        ("/api/jobs/", {"status": "bogus"}, "status"),
        ("/api/jobs/", {"task": "bogus"}, "task"),
        ("/api/items/", {"ordering": "password"}, "ordering"),
        ("/api/items/", {"ordering": "title,"}, "ordering"),
        ("/api/collections/", {"ordering": "-nope"}, "ordering"),
        ("/api/jobs/", {"ordering": "x" * 60_000}, "ordering"),
    ],
)
def test_filter_values_out_of_range_are_400(curator_client, url, params, field):
    response = curator_client.get(url, params)

    assert response.status_code == 400, response.content
    body = response.json()
    assert field in body["errors"]
    assert body["code"] and body["detail"]


@pytest.mark.parametrize("url", LIST_URLS)
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page_size": "true"}, "page_size"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "201"}, "page_size"),
        ({"page_size": HUGE}, "page_size"),
        ({"page": "0"}, "page"),
        ({"page": "-3"}, "page"),
        ({"page": "1e400"}, "page"),
        ({"page": "9" * 400}, "page"),
    ],
)
def test_pagination_values_out_of_range_are_400(curator_client, url, params, field):
    response = curator_client.get(url, params)

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


@pytest.mark.parametrize("url", LIST_URLS)
def test_a_page_past_the_end_is_404_json(curator_client, url):
    response = curator_client.get(url, {"page": "999999"})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_anonymous_overflowing_collection_filter_is_400(anon_client):
    response = anon_client.get("/api/items/", {"collection": HUGE})

    assert response.status_code == 400
    assert response.json()["errors"]["collection"]


def test_valid_filters_still_filter(curator_client, ingest_item, public_collection):
    ingest_item("F-1", collection=public_collection, is_public=True)
    ingest_item("F-2")

    def identifiers(params: dict) -> list[str]:
        response = curator_client.get("/api/items/", params)
        assert response.status_code == 200, response.content
        return [row["identifier"] for row in response.json()["results"]]

    assert identifiers({"is_public": "true"}) == ["F-1"]
    assert identifiers({"is_public": "False"}) == ["F-2"]
    assert identifiers({"is_public": "0"}) == ["F-2"]
    assert identifiers({"collection": str(public_collection.pk)}) == ["F-1"]
    assert identifiers({"q": "f-", "page_size": "1", "page": "2"}) == ["F-2"]
    assert identifiers({"q": "x" * 200}) == []
    assert identifiers({"ordering": "-identifier,id"}) == ["F-2", "F-1"]


@pytest.mark.parametrize("value", [HUGE, -1, "abc", 10**400])
def test_ids_in_request_bodies_out_of_range_are_400(curator_client, ingest_item, value):
    original = ingest_item("B-1")
    item_url = f"/api/items/{original.item_id}/"

    patched = curator_client.patch(item_url, {"collection": value}, format="json")
    queued = curator_client.post(f"{item_url}jobs/", {"task": "restore", "source_version": value}, format="json")

    assert patched.status_code == 400, patched.content
    assert "collection" in patched.json()["errors"]
    assert queued.status_code == 400, queued.content


def _generated_filterset():
    """A filter set whose filters are all generated from ``Meta.fields`` (a foreign key, a
    boolean, a text field): the base class checks filters nobody declared by hand."""
    from restoration.delivery.api.filters import StrictFilterSet
    from restoration.models import Item

    class Generated(StrictFilterSet):
        class Meta:
            model = Item
            fields = ["collection", "is_public", "identifier"]

    return Generated


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"collection": HUGE}, "collection"),
        ({"collection": "-5"}, "collection"),
        ({"collection": "x"}, "collection"),
        ({"is_public": "2437"}, "is_public"),
        ({"identifier": "x" * 201}, "identifier"),
    ],
)
def test_generated_filters_are_checked_too(params, field):
    from restoration.models import Item

    filterset = _generated_filterset()(params, queryset=Item.objects.all())

    assert not filterset.is_valid()
    assert field in filterset.errors


def test_generated_filters_accept_good_values(public_collection):
    from restoration.models import Item

    filterset = _generated_filterset()(
        {"collection": str(public_collection.pk), "is_public": "true", "identifier": "A-1"}, queryset=Item.objects.all()
    )

    assert filterset.is_valid(), filterset.errors
    assert list(filterset.qs) == []

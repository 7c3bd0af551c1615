"""A list page costs the same number of SQL queries for 2 rows as for 20."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from restoration.core import provenance
from restoration.models import Collection, Version

pytestmark = pytest.mark.django_db


def queries_for(client, url: str, expected_rows: int) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, {"page_size": 100})
    assert response.status_code == 200, response.json()
    assert len(response.json()["results"]) == expected_rows
    return len(captured.captured_queries)


def add_derivative_row(original: Version, user, n: int) -> Version:
    """A derivative row (no file needed to list it): what a restoration job would leave, accepted
    by a curator (so that every reader lists it; written directly, no review event needed here)."""
    return Version.objects.create(
        item_id=original.item_id, kind="restored", parent=original, file=original.file.name,
        sha256=f"{n:064x}", bytes=1, width=1, height=1, mode="RGB", bit_depth=8, mime_type="image/png",
        created_by=user, review_status="accepted",
    )


def test_item_list_queries_do_not_grow_with_the_page(viewer_client, ingest_item, curator):
    collection = Collection.objects.create(name="C", slug="c")
    for n in range(2):
        original = ingest_item(f"A-{n:02d}", collection=collection)
        add_derivative_row(original, curator, n)
    small = queries_for(viewer_client, "/api/items/", 2)

    for n in range(2, 20):
        original = ingest_item(f"A-{n:02d}", collection=collection)
        add_derivative_row(original, curator, n)
    large = queries_for(viewer_client, "/api/items/", 20)
    filtered = queries_for(viewer_client, f"/api/items/?kind=restored&collection={collection.pk}&q=a-", 20)

    assert small == large == filtered
    # token user, the view permission and the review permission (the user's and its groups'
    # permissions, read once per request), count, items, versions (+ users joined)
    assert large <= 6


def test_anonymous_item_list_queries_do_not_grow_with_the_page(client, ingest_item):
    for n in range(2):
        ingest_item(f"B-{n:02d}", is_public=True)
    small = queries_for(client, "/api/items/", 2)
    for n in range(2, 20):
        ingest_item(f"B-{n:02d}", is_public=True)

    assert queries_for(client, "/api/items/", 20) == small


def test_version_list_queries_do_not_grow_with_the_page(viewer_client, ingest_item, curator):
    original = ingest_item("V-1")
    add_derivative_row(original, curator, 1)
    small = queries_for(viewer_client, f"/api/items/{original.item_id}/versions/", 2)

    for n in range(2, 20):
        add_derivative_row(original, curator, n)

    assert queries_for(viewer_client, f"/api/items/{original.item_id}/versions/", 20) == small


def test_provenance_list_queries_do_not_grow_with_the_page(viewer_client, ingest_item, curator):
    original = ingest_item("E-1")
    url = f"/api/items/{original.item_id}/provenance/"
    ingest_events = original.item.events.count()  # ingestion, message digest calculation
    small = queries_for(viewer_client, url, ingest_events)

    for n in range(20):
        provenance.record_event(
            "fixity check", item=original.item, sources=[original], user=curator,
            software={"name": "fixity-test", "version": str(n)}, detail={"n": n},
        )

    assert queries_for(viewer_client, url, ingest_events + 20) == small


def test_collection_list_queries_do_not_grow_with_the_page(viewer_client):
    for n in range(2):
        Collection.objects.create(name=f"C{n}", slug=f"c{n}")
    with CaptureQueriesContext(connection) as small:
        viewer_client.get("/api/collections/")
    for n in range(2, 20):
        Collection.objects.create(name=f"C{n}", slug=f"c{n}")
    with CaptureQueriesContext(connection) as large:
        assert len(viewer_client.get("/api/collections/").json()["results"]) == 20

    assert len(small.captured_queries) == len(large.captured_queries)

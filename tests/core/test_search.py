"""Accent- and case-folding search (restoration/core/search.py) through the API ``q`` filter and
the page search, on the suite's database: SQLite by default, PostgreSQL with ``DATABASE_URL``
(``.ci/run``); the PostgreSQL-only test is skipped on SQLite and the other way round."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from restoration.core.search import fold, folded_contains
from restoration.models import Collection, Item
from tests.support import token_client

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="needs DATABASE_URL=postgres://...")
on_sqlite = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite only")


@pytest.fixture
def catalogue(db):
    Item.objects.create(identifier="ARC-1", title="Autochrome by Léon Gimpel", is_public=True)
    Item.objects.create(identifier="ARC-2", title="Leon Gimpel at the harbour", is_public=True)
    Item.objects.create(identifier="ARC-3", title="Straße in Zürich", description="ÉCOLE 100% _x_", is_public=True)
    Item.objects.create(identifier="ARC-4", title="Paris street", is_public=True)


def test_fold_drops_accents_and_case():
    assert fold("Léon GIMPEL") == "leon gimpel"
    assert fold("ÉCOLE Zürich") == "ecole zurich"
    assert fold("") == "" and fold(None) == ""


def _identifiers(queryset) -> set[str]:
    return set(queryset.values_list("identifier", flat=True))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Leon Gimpel", {"ARC-1", "ARC-2"}),
        ("Léon Gimpel", {"ARC-1", "ARC-2"}),
        ("LÉON", {"ARC-1", "ARC-2"}),
        ("leon gimpel", {"ARC-1", "ARC-2"}),
        ("zurich", {"ARC-3"}),
        ("ZÜRICH", {"ARC-3"}),
        ("ecole", {"ARC-3"}),
        ("100%", {"ARC-3"}),  # LIKE wildcards in the search text are literal
        ("%", {"ARC-3"}),
        ("_x_", {"ARC-3"}),
        ("Léonard", set()),
    ],
)
def test_folded_contains_on_this_database(catalogue, text, expected):
    assert _identifiers(Item.objects.filter(folded_contains(("title", "description"), text))) == expected


def test_api_q_folds_case_and_accents(catalogue, reader):
    client = token_client(reader)
    for query in ("leon gimpel", "LÉON GIMPEL", "Léon"):
        body = client.get("/api/items/", {"q": query}).json()
        assert {row["identifier"] for row in body["results"]} == {"ARC-1", "ARC-2"}, query
    assert [r["identifier"] for r in client.get("/api/items/", {"q": "ecole"}).json()["results"]] == ["ARC-3"]


def test_api_collection_q_folds_accents(db, viewer):
    Collection.objects.create(name="Fonds Léon Gimpel", slug="gimpel")
    Collection.objects.create(name="Harbour", slug="harbour")
    body = token_client(viewer).get("/api/collections/", {"q": "LEON"}).json()
    assert [row["slug"] for row in body["results"]] == ["gimpel"]


def test_page_search_folds_case_and_accents(catalogue):
    client = Client()
    for query in ("Leon Gimpel", "LÉON", "léon gimpel"):
        body = client.get("/items/", {"q": query}).content.decode()
        assert "ARC-1" in body and "ARC-2" in body and "ARC-4" not in body, query
    body = client.get("/items/", {"q": "zurich"}).content.decode()
    assert "ARC-3" in body and "ARC-1" not in body


@on_sqlite
def test_sqlite_has_the_fold_function(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT archive_fold(%s)", ["Léon GIMPEL"])
        assert cursor.fetchone()[0] == "leon gimpel"


@on_postgresql
def test_postgresql_folds_with_unaccent(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT extname FROM pg_extension WHERE extname = 'unaccent'")
        assert cursor.fetchone() == ("unaccent",)
        cursor.execute("SELECT LOWER(UNACCENT(%s))", ["Léon GIMPEL"])
        assert cursor.fetchone()[0] == "leon gimpel"

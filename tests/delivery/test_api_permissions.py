"""Who sees and who writes: anonymous, authenticated (plain and staff without permissions),
viewers, curators; token and session authentication. (Every other door: tests/delivery/test_access.py.)"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.utils.crypto import get_random_string
from rest_framework.test import APIClient

from restoration.models import Collection, Item, ProvenanceEvent
from tests.support import archive_counts, image_bytes, token_client, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def mixed_items(ingest_item, public_collection, private_collection):
    """One item of each visibility case, by identifier."""
    return {
        "public-loose": ingest_item("PUB-LOOSE", is_public=True),
        "public-in-public": ingest_item("PUB-IN-PUB", is_public=True, collection=public_collection),
        "public-in-private": ingest_item("PUB-IN-PRIV", is_public=True, collection=private_collection),
        "private-in-public": ingest_item("PRIV-IN-PUB", is_public=False, collection=public_collection),
        "private": ingest_item("PRIV", is_public=False),
    }


def listed(client, url="/api/items/") -> list[str]:
    response = client.get(url)
    assert response.status_code == 200, response.json()
    return [row.get("identifier") or row.get("slug") for row in response.json()["results"]]


# --- Reading ----------------------------------------------------------------------------------


def test_anonymous_sees_only_public_items_in_public_or_no_collection(anon_client, mixed_items):
    assert listed(anon_client) == ["PUB-IN-PUB", "PUB-LOOSE"]


@pytest.mark.parametrize("who", ["reader_client", "staff_client"])
def test_accounts_without_the_view_permission_see_what_anonymous_visitors_see(request, who, mixed_items):
    client = request.getfixturevalue(who)

    assert listed(client) == ["PUB-IN-PUB", "PUB-LOOSE"]


@pytest.mark.parametrize("who", ["viewer_client", "curator_client"])
def test_viewers_and_curators_see_every_item(request, who, mixed_items):
    client = request.getfixturevalue(who)

    assert listed(client) == ["PRIV", "PRIV-IN-PUB", "PUB-IN-PRIV", "PUB-IN-PUB", "PUB-LOOSE"]


@pytest.mark.parametrize("who", ["anon_client", "reader_client", "staff_client"])
@pytest.mark.parametrize("case", ["public-in-private", "private-in-public", "private"])
def test_everything_of_a_hidden_item_is_404_without_the_view_permission(request, who, mixed_items, case):
    anon_client = request.getfixturevalue(who)
    version = mixed_items[case]

    for url in (
        f"/api/items/{version.item_id}/",
        f"/api/items/{version.item_id}/versions/",
        f"/api/items/{version.item_id}/provenance/",
        f"/api/versions/{version.pk}/",
        f"/api/versions/{version.pk}/file/",
        f"/api/versions/{version.pk}/thumbnail/",
        f"/api/versions/{version.pk}/access/",
    ):
        response = anon_client.get(url)
        assert response.status_code == 404, url
        assert response.json() == {"code": "not_found", "detail": "Not found."}


def test_anonymous_reads_everything_of_a_public_item(anon_client, mixed_items):
    version = mixed_items["public-in-public"]

    for url in (
        f"/api/items/{version.item_id}/",
        f"/api/items/{version.item_id}/versions/",
        f"/api/items/{version.item_id}/provenance/",
        f"/api/versions/{version.pk}/",
        f"/api/versions/{version.pk}/file/",
    ):
        assert anon_client.get(url).status_code == 200, url


def test_only_viewers_and_curators_see_private_collections(anon_client, reader_client, viewer_client,
                                                          public_collection, private_collection):
    assert listed(anon_client, "/api/collections/") == ["public-prints"]
    assert listed(reader_client, "/api/collections/") == ["public-prints"]
    assert listed(viewer_client, "/api/collections/") == ["family-album", "public-prints"]
    assert anon_client.get(f"/api/collections/{private_collection.pk}/").status_code == 404
    assert reader_client.get(f"/api/collections/{private_collection.pk}/").status_code == 404
    assert viewer_client.get(f"/api/collections/{private_collection.pk}/").status_code == 200


# --- Writing ----------------------------------------------------------------------------------


def post_item(client, identifier="W-1"):
    return client.post(
        "/api/items/", {"file": upload(image_bytes(), f"{identifier}.png"), "identifier": identifier}, format="multipart"
    )


def test_anonymous_post_item_is_401(anon_client, api_media):
    before = archive_counts()

    response = post_item(anon_client)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"
    assert archive_counts() == before


@pytest.mark.parametrize("who", ["reader_client", "staff_client"])
def test_post_item_without_curator_permissions_is_403(request, who, api_media):
    before = archive_counts()

    response = post_item(request.getfixturevalue(who))

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert archive_counts() == before


def test_post_item_needs_ingest_permission_besides_add(django_user_model, api_media):
    user = django_user_model.objects.create_user("adder", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="add_item", content_type__app_label="restoration"))

    assert post_item(token_client(user)).status_code == 403

    user.user_permissions.add(Permission.objects.get(codename="ingest_item", content_type__app_label="restoration"))
    user = django_user_model.objects.get(pk=user.pk)  # fresh permission cache
    assert post_item(token_client(user)).status_code == 201


def test_curator_post_item_is_201(curator_client, api_media):
    assert post_item(curator_client).status_code == 201


@pytest.mark.parametrize(("who", "status"), [("anon_client", 401), ("reader_client", 403), ("staff_client", 403)])
def test_patch_item_without_change_permission_is_refused(request, who, status, ingest_item):
    version = ingest_item("PATCH-1", title="Unchanged", is_public=True)
    events = ProvenanceEvent.objects.count()

    response = request.getfixturevalue(who).patch(f"/api/items/{version.item_id}/", {"title": "Hacked"}, format="json")

    assert response.status_code == status
    assert Item.objects.get(pk=version.item_id).title == "Unchanged"
    assert ProvenanceEvent.objects.count() == events


def test_patch_of_unknown_item_is_404_for_curators(curator_client, db):
    response = curator_client.patch("/api/items/987654/", {"title": "x"}, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(("who", "status"), [("anon_client", 401), ("reader_client", 403), ("staff_client", 403)])
def test_create_collection_needs_add_collection(request, who, status):
    response = request.getfixturevalue(who).post("/api/collections/", {"name": "X", "slug": "x"}, format="json")

    assert response.status_code == status
    assert not Collection.objects.filter(slug="x").exists()


def test_curator_creates_a_collection(curator_client):
    response = curator_client.post(
        "/api/collections/", {"name": "Glass plates", "slug": "glass-plates", "is_public": True}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "name", "slug", "description", "is_public", "created_at", "updated_at"}
    assert body["slug"] == "glass-plates" and body["is_public"] is True


def test_duplicate_collection_slug_is_400(curator_client, public_collection):
    response = curator_client.post("/api/collections/", {"name": "Again", "slug": public_collection.slug}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "unique"
    assert response.json()["errors"]["slug"]


def test_versions_cannot_be_written_through_the_api(curator_client, ingest_item):
    version = ingest_item("RO-1")

    assert curator_client.patch(f"/api/versions/{version.pk}/", {"kind": "styled"}, format="json").status_code == 405
    assert curator_client.delete(f"/api/versions/{version.pk}/").status_code == 405
    assert curator_client.delete(f"/api/items/{version.item_id}/").status_code == 405


# --- Authentication ---------------------------------------------------------------------------


def test_token_endpoint_gives_a_token_that_authenticates(curator, api_media):
    client = APIClient()

    response = client.post("/api/token/", {"username": "curator", "password": "curator-pass-1234"}, format="json")

    assert response.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert post_item(client, "TOKEN-1").status_code == 201


def test_token_endpoint_refuses_a_wrong_password(curator):
    response = APIClient().post("/api/token/", {"username": "curator", "password": "wrong"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "authorization"
    assert response.json()["errors"]["non_field_errors"]


def test_bad_token_is_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")

    response = client.get("/api/items/")

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_session_authentication_sees_private_items_and_writes_with_csrf(curator, mixed_items, api_media):
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="curator", password="curator-pass-1234")

    assert "PRIV" in listed(client)
    refused = post_item(client, "SESSION-1")
    assert refused.status_code == 403  # no CSRF token
    secret = get_random_string(32)  # what a page of the site would have set as the CSRF cookie
    client.cookies[settings.CSRF_COOKIE_NAME] = secret
    response = client.post(
        "/api/items/",
        {"file": upload(image_bytes(), "s.png"), "identifier": "SESSION-1"},
        format="multipart",
        HTTP_X_CSRFTOKEN=secret,
    )
    assert response.status_code == 201, response.json()

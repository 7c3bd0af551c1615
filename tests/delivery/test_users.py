"""Accounts are deactivated, never deleted: append-only provenance keeps its link to the person
(``Agent.user``), versions keep who stored them and jobs who asked (issue 15)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db.models import ProtectedError
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from restoration.models import Agent, Version
from tests.support import token_client

pytestmark = pytest.mark.django_db

User = get_user_model()
USERS = reverse("admin:auth_user_changelist")


def test_the_admin_offers_no_delete_and_a_deactivate_action(client, superuser, curator):
    client.force_login(superuser)

    assert client.get(reverse("admin:auth_user_delete", args=[curator.pk])).status_code == 403
    actions = [name for name, _ in client.get(USERS).context["action_form"].fields["action"].choices]
    assert "deactivate" in actions and "delete_selected" not in actions
    change = client.get(reverse("admin:auth_user_change", args=[curator.pk])).content.decode()
    assert reverse("admin:auth_user_delete", args=[curator.pk]) not in change
    response = client.post(USERS, {"action": "delete_selected", "_selected_action": [str(curator.pk)], "post": "yes"})
    assert response.status_code in (200, 302) and User.objects.filter(pk=curator.pk).exists()


def test_deactivating_keeps_the_account_and_closes_its_doors(client, superuser, curator, ingest_item):
    version = ingest_item("U-1")  # stored by the curator: a person agent and created_by link it
    key = Token.objects.create(user=curator).key
    client.force_login(superuser)

    response = client.post(USERS, {"action": "deactivate", "_selected_action": [str(curator.pk), str(superuser.pk)]},
                           follow=True)

    assert response.status_code == 200
    curator.refresh_from_db()
    superuser.refresh_from_db()
    assert not curator.is_active and superuser.is_active  # never oneself
    assert [str(m) for m in response.context["messages"]] == [
        "1 account deactivated.", "Your own account was left active."]
    assert Version.objects.get(pk=version.pk).created_by == curator
    assert Agent.objects.filter(user=curator).exists()
    # It can no longer log in, and its token no longer works.
    login = APIClient().post("/api/token/", {"username": "curator", "password": "curator-pass-1234"}, format="json")
    assert login.status_code == 400
    stale = APIClient()
    stale.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert stale.get("/api/items/").status_code == 401


def test_viewers_may_not_change_accounts(client, viewer, curator):
    client.force_login(viewer)
    assert client.get(USERS).status_code == 403


def test_deleting_an_account_that_made_provenance_fails_and_loses_nothing(curator, ingest_item):
    version = ingest_item("U-2")
    agent = Agent.objects.get(user=curator)

    with pytest.raises(ProtectedError):
        curator.delete()

    assert User.objects.filter(pk=curator.pk).exists()
    agent.refresh_from_db()
    assert agent.user_id == curator.pk and Version.objects.get(pk=version.pk).created_by_id == curator.pk
    assert token_client(curator).get(f"/api/versions/{version.pk}/").json()["created_by"] == "curator"

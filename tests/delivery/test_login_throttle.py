"""Failed logins are throttled on every login door (django-axes; restoration/delivery/auth.py):
per account and address, per address, per account; the lock holds against the right password
and lifts after the cool-off or an admin's reset. No sleeps: the cool-off is passed by moving
the recorded attempts back in time, as the clock would."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from axes.utils import reset
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

PASSWORD = "curator-pass-1234"
HERE, ELSEWHERE = "203.0.113.7", "198.51.100.9"


def token(username: str, password: str, address: str = HERE):
    return APIClient().post("/api/token/", {"username": username, "password": password}, format="json",
                            REMOTE_ADDR=address)


def page_login(username: str, password: str, address: str = HERE):
    client = Client(REMOTE_ADDR=address)
    return client, client.post("/accounts/login/", {"username": username, "password": password})


def fail_token(username: str, times: int, address: str = HERE) -> list[int]:
    return [token(username, "wrong", address).status_code for _ in range(times)]


def test_the_api_locks_an_account_at_the_fifth_failure_and_refuses_even_the_right_password(curator, settings):
    assert settings.AXES_FAILURE_LIMIT == 5

    assert fail_token("curator", 5) == [400, 400, 400, 400, 429]

    refused = token("curator", PASSWORD)
    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_login_failures" and "token" not in refused.json()
    assert refused["Retry-After"] == str(15 * 60)
    assert refused.json()["detail"] == "Too many failed logins: try again in 15 minutes."


def test_another_account_and_another_address_are_not_affected(curator, viewer):
    fail_token("curator", 5)

    assert token("viewer", "viewer-pass-1234").status_code == 200  # same address, another account
    assert token("curator", PASSWORD, ELSEWHERE).status_code == 200  # same account, another address
    assert token("curator", PASSWORD).status_code == 429


def test_the_lock_lifts_after_the_cool_off(curator, settings):
    fail_token("curator", 5)
    assert token("curator", PASSWORD).status_code == 429

    # As if the 15 minutes had passed: the failures were recorded that long ago.
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))

    assert token("curator", PASSWORD).status_code == 200


def test_an_admin_reset_lifts_the_lock(curator):
    fail_token("curator", 5)

    reset(username="curator")  # what `manage.py axes_reset_username curator` does

    assert token("curator", PASSWORD).status_code == 200


def test_a_success_clears_the_failures_before_the_limit(curator):
    fail_token("curator", 4)
    assert token("curator", PASSWORD).status_code == 200

    assert fail_token("curator", 4) == [400] * 4  # counted from zero again


def test_one_address_is_locked_after_failures_on_many_accounts(curator, settings):
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 6
    for n in range(3):
        fail_token(f"guess-{n}", 2)  # 6 failures from one address, no account at its own limit

    assert token("curator", PASSWORD).status_code == 429
    assert token("curator", PASSWORD, ELSEWHERE).status_code == 200


def test_one_account_is_locked_after_failures_from_many_addresses(curator, settings):
    settings.LOGIN_FAILURE_LIMIT_PER_ACCOUNT = 6
    for n in range(3):
        fail_token("curator", 2, address=f"192.0.2.{n + 1}")

    assert token("curator", PASSWORD, ELSEWHERE).status_code == 429


def test_the_login_page_locks_out_with_a_page(curator):
    for _ in range(4):
        _client, response = page_login("curator", "wrong")
        assert response.status_code == 200 and 'role="alert"' in response.content.decode()
    _client, fifth = page_login("curator", "wrong")
    assert fifth.status_code == 429

    client, response = page_login("curator", PASSWORD)

    assert response.status_code == 429
    body = response.content.decode()
    assert "Too many failed logins" in body and "<html" in body and "try again in 15 minutes" in body
    assert "_auth_user_id" not in client.session  # not logged in
    assert token("curator", PASSWORD).status_code == 429  # the same account and address on the API


def test_the_admin_login_is_throttled_too(curator):
    client = Client(REMOTE_ADDR=HERE)
    for _ in range(5):
        client.post("/admin/login/", {"username": "curator", "password": "wrong"})

    response = client.post("/admin/login/", {"username": "curator", "password": PASSWORD})

    assert response.status_code == 429 and "_auth_user_id" not in client.session

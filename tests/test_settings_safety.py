"""Safe by default: debug off unless asked for, static files served with debug off, secrets
masked on the debug page, JSON 404s under /api/ and /iiif/ (issue 15)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import RequestFactory
from django.views.debug import ExceptionReporter

from archive_site.errors import SecretMaskingFilter, mask_url_passwords

ROOT = Path(__file__).resolve().parents[1]
DB_PASSWORD = "db-pw-3f9a"
REDIS_PASSWORD = "redis-pw-77c1"
S3_SECRET = "s3-secret-0b2e"


def _debug_setting(env: dict[str, str], tmp_path: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_DEBUG"} | env | {"ARCHIVE_VAR_DIR": str(tmp_path)}
    code = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "archive_site.settings"},
        capture_output=True, text=True, check=True,
    )
    return result.stdout.strip()


def test_debug_is_off_unless_asked_for(tmp_path):
    assert _debug_setting({}, tmp_path) == "False"
    assert _debug_setting({"DJANGO_DEBUG": "1"}, tmp_path) == "True"
    assert _debug_setting({"DJANGO_DEBUG": "0"}, tmp_path) == "False"
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0  # generated once, private


@pytest.mark.parametrize(
    "path", ["/static/restoration/pages.css", "/static/admin/css/base.css", "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"]
)
def test_static_files_are_served_with_debug_off(client, settings, path):
    assert settings.DEBUG is False
    response = client.get(path)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) if response.streaming else response.content


def _technical_page(settings, meta: dict[str, str]) -> str:
    """Django's debug 500 page for an exception raised with a DSN in a local variable."""
    request = RequestFactory().get("/api/items/", **meta)
    dsn = f"postgres://archive:{DB_PASSWORD}@db.example.org:5432/archive"  # noqa: F841 - a local the page lists
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        reporter = ExceptionReporter(request, *sys.exc_info())
        return reporter.get_traceback_html()


def test_debug_page_masks_connection_strings_and_url_passwords(settings):
    settings.DEBUG = True
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "redis": f"redis://:{REDIS_PASSWORD}@cache.example.org:6379/0"}
    settings.SENTRY_LIKE_ENDPOINT = f"https://user:{S3_SECRET}@errors.example.org/7"
    page = _technical_page(settings, {
        "DATABASE_URL": f"postgres://archive:{DB_PASSWORD}@db.example.org:5432/archive",
        "Q_REDIS_URL": f"redis://:{REDIS_PASSWORD}@cache.example.org:6379/0",
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "CACHE_LOCATION": f"redis://default:{REDIS_PASSWORD}@cache.example.org",
    })

    assert "boom" in page and "DATABASE_URL" in page and "Q_REDIS_URL" in page
    for secret in (DB_PASSWORD, REDIS_PASSWORD, S3_SECRET, "AKIAEXAMPLE"):
        assert secret not in page


def test_the_masking_filter_is_the_default(settings):
    from django.views.debug import get_default_exception_reporter_filter

    assert isinstance(get_default_exception_reporter_filter(), SecretMaskingFilter)
    assert mask_url_passwords("postgres://archive:pw@db/archive and redis://:pw2@r:6379/0", "*") == (
        "postgres://archive:*@db/archive and redis://:*@r:6379/0"
    )
    assert mask_url_passwords("https://example.org/a:b@c", "*") == "https://example.org/a:b@c"  # a path, no userinfo


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    ["/api/items/1.5/", "/api/items/abc/versions/", "/api/items/1.5/provenance/", "/api/versions/x.y/file/",
     "/api/nothing-here/", "/api/items/99999999999999999999/", "/api/items/99999999999999999999/versions/",
     "/api/jobs/abc/"],
)
def test_api_404s_are_json(client, path):
    response = client.get(path)
    assert response.status_code in (401, 403, 404)
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "cors"), [("/api/items/", False), ("/iiif/3/collection.json", True)])
def test_a_server_error_under_api_and_iiif_is_json(client, monkeypatch, path, cors):
    """With debug off, a bug answers 500 in JSON (logged with its traceback), not an HTML page."""
    from restoration.delivery.api.views import ItemViewSet
    from restoration.interop.iiif import presentation

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(ItemViewSet, "list", broken)
    monkeypatch.setattr(presentation, "top_collection_document", broken)
    client.raise_request_exception = False

    response = client.get(path)

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "server_error" and "a bug" not in response.content.decode()
    assert (response.get("Access-Control-Allow-Origin") == "*") is cors


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "json_body"),
    [("/items/A%00B/", False), ("/iiif/3/items/A%00B/manifest.json", True), ("/api/items/%00/", True)],
)
def test_a_nul_in_the_path_is_400_before_any_view(client, path, json_body):
    response = client.get(path)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json") is json_body

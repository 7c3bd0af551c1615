"""Error answers and error reports of the whole site.

- ``not_found`` / ``server_error`` (``handler404`` / ``handler500`` in ``urls.py``): JSON under
  ``/api/`` (the API's error shape) and under ``/iiif/`` (readable cross-origin), the HTML pages
  elsewhere. They serve requests that reach no view (``/api/items/1.5/``) or fail outside DRF.
- ``RefuseNulMiddleware``: a NUL in the path is a 400 before any view (PostgreSQL would raise).
- ``SecretMaskingFilter`` (``DEFAULT_EXCEPTION_REPORTER_FILTER``): what the debug page and the
  error e-mails show of settings and of the request's environment, with connection strings
  masked too. Django masks names matching API, KEY, PASS, SECRET, TOKEN, ...; it shows
  ``DATABASE_URL`` and ``Q_REDIS_URL`` (their passwords inside the URL) in full, and the dev
  server puts every environment variable in ``request.META``.
"""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.debug import SafeExceptionReporterFilter

from restoration.interop.iiif import cors

API_PREFIX = "/api/"
IIIF_PREFIX = "/iiif/"


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)
    if request.path.startswith(IIIF_PREFIX):
        return cors.not_found()
    return defaults.page_not_found(request, exception)


def _json_error(request: HttpRequest, body: dict, status: int) -> HttpResponse | None:
    """``body`` as JSON for the API and IIIF (with the CORS header viewers need), else None."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse(body, status=status)
    if request.path.startswith(IIIF_PREFIX):
        response = JsonResponse(body, status=status)
        response["Access-Control-Allow-Origin"] = "*"
        return response
    return None


def server_error(request: HttpRequest) -> HttpResponse:
    body = {"code": "server_error", "detail": "A server error occurred; it has been logged."}
    return _json_error(request, body, 500) or defaults.server_error(request)


class RefuseNulMiddleware:
    """400 for a request whose path holds a NUL character (``%00``), before any view.

    Identifiers come from the path (``/items/<path:identifier>/``, IIIF manifests); PostgreSQL
    refuses NUL in a text parameter with an exception (a 500), SQLite silently finds nothing.
    Query-string filters and request bodies are refused by their own validation.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path:
            body = {"code": "invalid", "detail": "The path holds a NUL character."}
            return _json_error(request, body, 400) or HttpResponse(
                body["detail"] + "\n", status=400, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


# user:password@ in any URL (postgres://archive:pw@db/archive, redis://:pw@cache:6379/0).
_URL_PASSWORD = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:/?#@\s]*):(?P<password>[^@/?#\s]*)@")


def mask_url_passwords(text: str, substitute: str = "********************") -> str:
    """``text`` with the password of every URL in it replaced (the user name is kept)."""
    return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{substitute}@", text)


class SecretMaskingFilter(SafeExceptionReporterFilter):
    """Django's filter, also masking connection-string names (``DATABASE_URL``, ``Q_REDIS_URL``,
    ``*_DSN``, broker and credential names) and the password inside any URL, in settings, the
    request's environment and the local variables of the traceback."""

    hidden_settings = re.compile(
        r"API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|DATABASE_URL|REDIS|DSN|BROKER|CREDENTIAL",
        flags=re.IGNORECASE,
    )

    def cleanse_setting(self, key, value):
        cleansed = super().cleanse_setting(key, value)
        if not isinstance(cleansed, str):
            return cleansed
        # str(): lazy strings (a JSONSerializableLazyObject from a setting) pass isinstance but
        # not re.sub.
        return mask_url_passwords(str(cleansed), self.cleansed_substitute)

    def get_traceback_frame_variables(self, request, tb_frame):
        # A local string, dict, list or tuple is cleansed as a setting without a name would be:
        # URL passwords masked, and dict entries under secret-looking keys hidden.
        return [
            (name, self.cleanse_setting("", value) if isinstance(value, (str, dict, list, tuple)) else value)
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]

"""One JSON shape for every error the API returns.

Every 4xx answer has this body::

    {
      "code": "corrupt_image",             # machine-readable, stable
      "detail": "The file is not ...",     # one human sentence
      "errors": {"file": ["The file ..."]} # only for input errors: field -> messages
    }

plus, for some codes, extra keys naming the thing the error refers to (a ``409 duplicate``
carries ``existing_item`` and ``existing_version``). ``code`` is the code of the error when
the request had one problem (``required``, ``not_found``, ``permission_denied``, an ingest
code such as ``not_an_image``), else ``invalid``. Non-field errors sit under
``errors["non_field_errors"]``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class Conflict(exceptions.APIException):
    """409: the request repeats something the archive already holds."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with what the archive holds."
    default_code = "conflict"

    def __init__(self, detail: str, *, code: str = "conflict", extra: dict[str, Any] | None = None):
        super().__init__(detail, code)
        self.extra = extra or {}


class TooManyRequests(exceptions.APIException):
    """429: the caller has as much work queued as the archive allows one account."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = "Too much work queued for this account."
    default_code = "too_many_requests"

    def __init__(self, detail: str, *, code: str = "too_many_requests"):
        super().__init__(detail, code)


class InputError(exceptions.ValidationError):
    """400 for one field, with a code chosen by the archive (e.g. ``corrupt_image``)."""

    def __init__(self, field: str, message: str, *, code: str):
        super().__init__({field: [message]}, code=code)
        self.top_code = code


def _flatten_codes(codes: Any) -> set[str]:
    if isinstance(codes, dict):
        return set().union(*(_flatten_codes(v) for v in codes.values())) if codes else set()
    if isinstance(codes, (list, tuple)):
        return set().union(*(_flatten_codes(v) for v in codes)) if codes else set()
    return {str(codes)}


def _first_message(errors: Any) -> str:
    if isinstance(errors, dict):
        for key, value in errors.items():
            message = _first_message(value)
            if message:
                return message if key == "non_field_errors" else f"{key}: {message}"
        return ""
    if isinstance(errors, (list, tuple)):
        return _first_message(errors[0]) if errors else ""
    return str(errors)


def _django_to_drf(exc: DjangoValidationError) -> exceptions.ValidationError:
    """Model and service refusals (``ImmutableError``, ``ValidationError``) become 400s, not 500s."""
    code = getattr(exc, "code", None) or "invalid"
    if hasattr(exc, "error_dict"):
        errors = {field: DjangoValidationError(errs).messages for field, errs in exc.error_dict.items()}
        return exceptions.ValidationError(errors, code=code)
    return exceptions.ValidationError({"non_field_errors": exc.messages}, code=code)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DjangoValidationError):  # ImmutableError included
        exc = _django_to_drf(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real server error: let Django log it and answer 500

    if isinstance(exc, Http404) or isinstance(exc, exceptions.NotFound):
        body = {"code": "not_found", "detail": "Not found."}
    elif isinstance(exc, DjangoPermissionDenied):
        body = {"code": "permission_denied", "detail": str(response.data.get("detail", ""))}
    elif isinstance(exc, exceptions.ValidationError):
        errors = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        codes = _flatten_codes(exc.get_codes())
        code = getattr(exc, "top_code", None) or (codes.pop() if len(codes) == 1 else "invalid")
        body = {"code": code, "detail": _first_message(errors) or "Invalid input.", "errors": errors}
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        detail = response.data.get("detail", exc.detail) if isinstance(response.data, dict) else exc.detail
        body = {"code": code, "detail": str(detail)}
    else:  # pragma: no cover - DRF only handles the kinds above
        body = {"code": "error", "detail": str(exc)}
    body.update(getattr(exc, "extra", {}))
    response.data = body
    return response

"""Logging in: failed logins are throttled (django-axes) on every login door.

The doors are ``POST /api/token/``, the pages' ``/accounts/login/`` and the admin's login; all
three call ``django.contrib.auth.authenticate`` with the request, which axes watches. Three limits,
counted over the cool-off period (``AXES_COOLOFF_TIME``, settings):

- one account from one address: ``AXES_FAILURE_LIMIT`` failures (axes' own lockout parameter,
  username and address together, so a stranger cannot lock a curator out from elsewhere);
- one address, whatever the accounts (password spraying): ``LOGIN_FAILURE_LIMIT_PER_ADDRESS``;
- one account, whatever the addresses (a distributed guess): ``LOGIN_FAILURE_LIMIT_PER_ACCOUNT``.

Once locked, even the right password is refused until the cool-off has passed (or an admin
resets the attempts: the admin's "Access attempts", or ``manage.py axes_reset``). The API answers
429 with the JSON error shape and ``Retry-After``; the login pages answer 429 with a page.
"""

from __future__ import annotations

import logging

from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.attempts import get_cool_off_threshold
from axes.helpers import get_client_ip_address, get_client_username, get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from axes.utils import reset as reset_attempts
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response

from restoration.delivery.api.serializers import ErrorSerializer

logger = logging.getLogger(__name__)

LOCKED_CODE = "too_many_login_failures"
LOCKED_TEMPLATE = "restoration/locked_out.html"


class LoginThrottleBackend(AxesStandaloneBackend):
    """axes' check before any password is compared: a locked-out caller is refused.

    A call without a request is no login from the network (the test client's ``login()``, a
    shell): there is no address to count, so it is left to the next backend rather than raising
    as axes does.
    """

    def authenticate(self, request: HttpRequest | None, username: str | None = None, password: str | None = None,
                     **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class LoginThrottleHandler(AxesDatabaseHandler):
    """axes' database handler with the two wider limits of the module docstring (per address,
    per account) beside its own per account-and-address one."""

    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> int:
        failures = super().get_failures(request, credentials)
        limit = get_failure_limit(request, credentials)
        if failures >= limit:
            return failures
        recent = AccessAttempt.objects.all()
        if get_cool_off(request) is not None:
            recent = recent.filter(attempt_time__gte=get_cool_off_threshold(request))
        wider = (
            ("ip_address", getattr(request, "axes_ip_address", None), settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS),
            ("username", get_client_username(request, credentials), settings.LOGIN_FAILURE_LIMIT_PER_ACCOUNT),
        )
        for field, value, wider_limit in wider:
            if value is None:
                continue
            counted = recent.filter(**{field: value}).aggregate(n=Sum("failures_since_start"))["n"] or 0
            if counted >= wider_limit:
                logger.warning("Login throttle: %s failures for one %s (limit %s)", counted, field, wider_limit)
                return max(failures, limit)  # locked: axes compares with its own limit
        return failures


def lockout_response(request: HttpRequest, original_response: HttpResponse | None = None,
                     credentials: dict | None = None) -> HttpResponse:
    """What a locked-out login gets (``AXES_LOCKOUT_CALLABLE``): 429, JSON under ``/api/``, else a page."""
    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off is not None else None
    message = "Too many failed logins: try again later." if seconds is None else (
        f"Too many failed logins: try again in {max(1, round(seconds / 60))} minutes."
    )
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"code": LOCKED_CODE, "detail": message}, status=429)
    else:
        response = render(request, LOCKED_TEMPLATE, {"message": message}, status=429)
    if seconds is not None:
        response["Retry-After"] = str(seconds)
    return response


class TokenView(ObtainAuthToken):
    """``POST /api/token/``: DRF's token view, authenticating with the Django request itself.

    DRF hands ``authenticate`` its own ``Request`` wrapper; axes would mark that wrapper as locked
    out and ``AxesMiddleware`` (which reads the Django request) would never see it, so a locked
    caller got the ordinary 400. With the Django request, a lockout answers 429.
    """

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "request": self.request._request}

    @extend_schema(
        summary="Get the API token of an account",
        description=(
            "Send `username` and `password`; use the token as `Authorization: Token <token>`. Failed "
            "logins are throttled: after 5 failures of one account from one address (or 20 from one "
            "address, or 50 of one account) every attempt, even with the right password, gets 429 until "
            "the cool-off (15 minutes by default) has passed."
        ),
        auth=[{}],  # no credentials needed (the empty requirement)
        responses={
            200: inline_serializer("AuthToken", {"token": serializers.CharField()}),
            400: OpenApiResponse(ErrorSerializer, description="Wrong username or password."),
            429: OpenApiResponse(ErrorSerializer, description=(
                f"Too many failed logins (`code` `{LOCKED_CODE}`); `Retry-After` gives the seconds to wait.")),
        },
    )
    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        # DRF gives a token without Django's user_logged_in signal, on which axes forgets the
        # account's failures from this address (AXES_RESET_ON_SUCCESS): forget them here alike.
        reset_attempts(ip=get_client_ip_address(request._request), username=user.get_username())
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})

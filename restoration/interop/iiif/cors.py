"""Cross-origin access to the IIIF doors: preflight answers and JSON 404s.

Viewers (Mirador, the Universal Viewer) load manifests and images from other origins and may
send headers that make the browser ask first (``OPTIONS`` with ``Access-Control-Request-
Headers``, e.g. ``Accept`` carrying the JSON-LD profile). ``cors`` wraps every IIIF view (in
``urls.py``) so that the preflight is answered, and so that a 404 is JSON the viewer can read
(with ``Access-Control-Allow-Origin``) rather than an HTML page its script cannot see.
Unmatched URLs under ``/iiif/`` get the same 404 from ``archive_site.errors``.

The answers disclose nothing: a preflight is the same for every URL, and a 404 for a resource
the caller may not see is the 404 of one that does not exist.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse

ALLOWED_METHODS = "GET, HEAD, OPTIONS"
# Headers a viewer may send: Accept with a profile, Authorization for tokens, If-None-Match.
DEFAULT_ALLOWED_HEADERS = "Accept, Authorization, If-None-Match"
PREFLIGHT_MAX_AGE = 86400
# A comma-separated list of header names (RFC 9110 tokens): anything else is not echoed back.
_HEADER_LIST = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+(\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*")


def preflight(request: HttpRequest) -> HttpResponse:
    """204 allowing any origin to GET with the headers it asked for (when they are header names)."""
    response = HttpResponse(status=204)
    asked = request.headers.get("Access-Control-Request-Headers", "").strip()
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Methods"] = ALLOWED_METHODS
    response["Access-Control-Allow-Headers"] = asked if asked and _HEADER_LIST.fullmatch(asked) else DEFAULT_ALLOWED_HEADERS
    response["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
    response["Allow"] = ALLOWED_METHODS
    return response


def not_found(message: str = "Not found.") -> HttpResponse:
    """A JSON 404 any origin may read."""
    response = JsonResponse({"error": "not_found", "detail": message}, status=404)
    response["Access-Control-Allow-Origin"] = "*"
    return response


def cors(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Answers ``OPTIONS`` before ``view`` (which allows only safe methods), and turns its
    ``Http404`` into ``not_found``."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method == "OPTIONS":
            return preflight(request)
        try:
            return view(request, *args, **kwargs)
        except Http404:
            return not_found()

    return wrapped

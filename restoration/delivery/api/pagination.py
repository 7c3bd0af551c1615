"""Page-number pagination: ``?page=2&page_size=20`` (at most 200 a page).

A page is ``{"count", "next", "previous", "results"}``. Both parameters are checked strictly:
anything but a whole number from 1 (``page_size`` up to ``max_page_size``) is a 400, where DRF
would silently use the default size or answer 404; a page past the last one is still a 404.
"""

from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

# A page number longer than this many digits cannot name a page of any archive.
MAX_PAGE_DIGITS = 18


def _whole_number(request: Request, name: str, maximum: int | None) -> int | None:
    """The parameter as an int in [1, maximum], None when absent; a 400 otherwise."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > MAX_PAGE_DIGITS or int(raw) < 1:
        bound = f" from 1 to {maximum}" if maximum else " from 1"
        raise ValidationError({name: [f"Must be a whole number{bound}."]}, code="invalid")
    value = int(raw)
    if maximum is not None and value > maximum:
        raise ValidationError({name: [f"Must be a whole number from 1 to {maximum}."]}, code="invalid")
    return value


class ArchivePagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request: Request) -> int:
        return _whole_number(request, self.page_size_query_param, self.max_page_size) or self.page_size

    def get_page_number(self, request: Request, paginator) -> int | str:
        number = request.query_params.get(self.page_query_param)
        if number in self.last_page_strings:
            return number
        return _whole_number(request, self.page_query_param, None) or 1

    def get_schema_operation_parameters(self, view) -> list[dict]:
        """``page`` and ``page_size`` with the bounds enforced above."""
        return page_parameters(self.max_page_size)


def page_parameters(max_page_size: int = ArchivePagination.max_page_size) -> list[dict]:
    """The OpenAPI query parameters of a paginated list (also for the item's nested lists)."""
    return [
        {
            "name": "page", "required": False, "in": "query",
            "description": "A page number within the paginated result set (400 unless a whole number from 1).",
            "schema": {"type": "integer", "minimum": 1, "maximum": 10**MAX_PAGE_DIGITS - 1},
        },
        {
            "name": "page_size", "required": False, "in": "query",
            "description": f"Number of results to return per page (1 to {max_page_size}).",
            "schema": {"type": "integer", "minimum": 1, "maximum": max_page_size},
        },
    ]

"""Page-number pagination: ``?page=2&page_size=20`` (at most 200 a page).

A page is ``{"count", "next", "previous", "results"}``.
"""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination


class ArchivePagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200

"""Query-string filters of the list endpoints."""

from __future__ import annotations

import django_filters
from django.db.models import Exists, OuterRef, QuerySet

from restoration.core.models import Collection, Item, Version, VersionKind
from restoration.core.search import folded_contains


class ItemFilter(django_filters.FilterSet):
    """``?collection=<id>``, ``?q=<text>``, ``?kind=<version kind>``, ``?is_public=true``."""

    collection = django_filters.NumberFilter(field_name="collection_id", help_text="Collection id.")
    q = django_filters.CharFilter(
        method="filter_q", help_text="Search in identifier, title and description, ignoring case and accents."
    )
    kind = django_filters.ChoiceFilter(
        choices=VersionKind.choices, method="filter_kind",
        help_text="Items having a version of this kind (that the caller may see)."
    )
    is_public = django_filters.BooleanFilter()

    class Meta:
        model = Item
        fields = ["collection", "q", "kind", "is_public"]

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(folded_contains(("identifier", "title", "description"), value))

    def filter_kind(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # EXISTS rather than a join: no duplicate rows, no DISTINCT needed. Only versions the
        # caller may see count: a rejected derivative must not show through a filter.
        user = getattr(self.request, "user", None)
        versions = Version.objects.visible_to(user).filter(item_id=OuterRef("pk"), kind=value)
        return queryset.filter(Exists(versions))


class CollectionFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", help_text="Search in name and slug, ignoring case and accents.")
    is_public = django_filters.BooleanFilter()

    class Meta:
        model = Collection
        fields = ["q", "is_public", "slug"]

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        return queryset.filter(folded_contains(("name", "slug"), value)) if value else queryset

"""Query-string filters of the list endpoints, all strict.

Every filter refuses a value it cannot use with a 400 (``DjangoFilterBackend`` raises the
form's errors as a ``ValidationError``) instead of ignoring it or passing it to the database:
``StrictFilterSet`` bounds every integer and foreign-key filter to the range of an id column
(a 20-digit id used to reach SQLite as an ``OverflowError``, a 500), caps every text filter at
``MAX_TEXT_LENGTH`` characters, and accepts only ``true``/``false`` (or ``1``/``0``) for a
boolean (``is_public=2437`` used to be read as "no filter"). ``StrictOrderingFilter`` does the
same for ``?ordering=``: a field the view does not offer is a 400, not silently ignored.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter

from restoration.core.models import Collection, Item, JobStatus, JobTask, RestorationJob, Version, VersionKind
from restoration.core.search import folded_contains

# Ids are BigAutoField: positive, at most the largest signed 64-bit integer.
MIN_ID = 1
MAX_ID = 2**63 - 1
# Longest text filter value (a search term, a slug); longer is refused, not searched.
MAX_TEXT_LENGTH = 200


class StrictBooleanField(forms.Field):
    """``true``/``false`` (any case) or ``1``/``0``; empty means "no filter"; anything else is a 400."""

    TRUE = frozenset({"true", "1"})
    FALSE = frozenset({"false", "0"})

    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).strip().lower()
        if text in self.TRUE:
            return True
        if text in self.FALSE:
            return False
        raise forms.ValidationError("Must be true or false.", code="invalid")


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class IdField(forms.IntegerField):
    """An id: a whole number in the range of the id columns."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", MIN_ID)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


@extend_schema_field({"type": "integer", "format": "int64", "minimum": MIN_ID, "maximum": MAX_ID})
class IdFilter(django_filters.NumberFilter):
    """Equality on an id column (``?collection=3``), range-checked before any query."""

    field_class = IdField


@extend_schema_field({"type": "string", "maxLength": MAX_TEXT_LENGTH})
class TextFilter(django_filters.CharFilter):
    """A text filter, documented with the length limit ``StrictFilterSet`` enforces."""


class BoundedModelChoiceField(django_filters.fields.ModelChoiceField):
    """A foreign key given by id: refused with 400 when it is not an id at all, before the lookup."""

    def to_python(self, value):
        if value not in self.empty_values:
            IdField(required=False).clean(value)
        return super().to_python(value)


class StrictFilterSet(django_filters.FilterSet):
    """The base of every filter set of the API: range and length checks on every filter.

    Applied to each instance's filters (declared or generated from ``Meta.fields``), so a filter
    added later is checked without anyone remembering to.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for filter_ in self.filters.values():
            _bound(filter_)


def _bound(filter_: django_filters.Filter) -> None:
    """Adds the range, length and strictness checks to one filter instance, by its kind."""
    if isinstance(filter_, django_filters.BooleanFilter) and not isinstance(filter_, StrictBooleanFilter):
        filter_.field_class = StrictBooleanField
    elif isinstance(filter_, django_filters.ModelChoiceFilter):
        filter_.field_class = BoundedModelChoiceField
    elif isinstance(filter_, django_filters.NumberFilter) and not isinstance(filter_, IdFilter):
        # Every number filter of this API compares an id; a non-id one would declare its own bounds.
        filter_.extra.setdefault("min_value", MIN_ID)
        filter_.extra.setdefault("max_value", MAX_ID)
    elif isinstance(filter_, django_filters.CharFilter):
        filter_.extra.setdefault("max_length", MAX_TEXT_LENGTH)


class ItemFilter(StrictFilterSet):
    """``?collection=<id>``, ``?q=<text>``, ``?kind=<version kind>``, ``?is_public=true``."""

    collection = IdFilter(field_name="collection_id", help_text="Collection id.")
    q = TextFilter(
        method="filter_q",
        help_text=f"Search in identifier, title and description, ignoring case and accents (at most {MAX_TEXT_LENGTH} characters).",
    )
    kind = django_filters.ChoiceFilter(
        choices=VersionKind.choices, method="filter_kind",
        help_text="Items having a version of this kind (that the caller may see)."
    )
    is_public = StrictBooleanFilter()

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


class CollectionFilter(StrictFilterSet):
    slug = TextFilter(help_text="Exact slug.")
    q = TextFilter(
        method="filter_q", help_text=f"Search in name and slug, ignoring case and accents (at most {MAX_TEXT_LENGTH} characters)."
    )
    is_public = StrictBooleanFilter()

    class Meta:
        model = Collection
        fields = ["q", "is_public", "slug"]

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        return queryset.filter(folded_contains(("name", "slug"), value)) if value else queryset


class JobFilter(StrictFilterSet):
    """``?status=``, ``?task=``, ``?item=<id>``."""

    status = django_filters.ChoiceFilter(choices=JobStatus.choices)
    task = django_filters.ChoiceFilter(choices=JobTask.choices)
    item = IdFilter(field_name="item_id", help_text="Item id.")

    class Meta:
        model = RestorationJob
        fields = ["status", "task", "item"]


class StrictOrderingFilter(OrderingFilter):
    """``?ordering=a,-b``: only the view's ``ordering_fields``, each optionally with ``-``."""

    def remove_invalid_fields(self, queryset, fields, view, request) -> list[str]:
        valid = super().remove_invalid_fields(queryset, fields, view, request)
        if len(valid) != len(fields):
            allowed = ", ".join(self._allowed(view))
            raise ValidationError({self.ordering_param: [f"Order by one or more of {allowed} (comma-separated; "
                                                         "- for descending)."]}, code="invalid")
        return valid

    def get_schema_operation_parameters(self, view) -> list[dict]:
        names = "|".join(self._allowed(view))
        return [{
            "name": self.ordering_param, "required": False, "in": "query",
            "description": f"Fields to order by, comma-separated, - for descending: {', '.join(self._allowed(view))}.",
            "schema": {"type": "string", "pattern": f"^-?({names})(,-?({names}))*$"},
        }]

    @staticmethod
    def _allowed(view) -> list[str]:
        return list(getattr(view, "ordering_fields", None) or [])

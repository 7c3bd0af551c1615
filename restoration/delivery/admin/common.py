"""What the admin classes share: who may view, read-only tables, thumbnails, agents."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from restoration.core.models import EventAgent, ProvenanceEvent, can_view_nonpublic


THUMBNAIL_PX = 64
# A list's item column is cut at this many characters (in full in its title attribute), so that
# the jobs and versions lists fit a 1366 px screen.
ITEM_CHARS = 28


class StaffMayViewMixin:
    """Staff who may see non-public material (``can_view_nonpublic``: Curators, Viewers) may view
    every archive table (and find the app in the index); changes need permissions. Staff status
    alone opens nothing: the admin shows non-public items too."""

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        user = request.user
        return (user.is_staff and can_view_nonpublic(user)) or super().has_view_permission(request, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return (user.is_staff and can_view_nonpublic(user)) or super().has_module_permission(request)


class ReadOnlyMixin(StaffMayViewMixin):
    """Browsable and never editable from the admin, whatever the account's permissions."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


def display_url(version_id: int, which: str) -> str:
    return reverse("admin:restoration_version_display", args=[version_id, which])


def thumbnail_tag(version_id: int | None, size: int = THUMBNAIL_PX) -> str:
    if version_id is None:
        return "-"
    return format_html(
        '<img src="{}" alt="" loading="lazy" style="max-width:{}px;max-height:{}px">',
        display_url(version_id, "thumbnail"),
        size,
        size,
    )


def item_cell(item) -> str:
    """An item in a list: its identifier cut short, identifier and title in full on hover."""
    return format_html('<span title="{}">{}</span>', str(item), Truncator(item.identifier).chars(ITEM_CHARS))


def agents_text(event: ProvenanceEvent) -> str:
    return format_html_join(
        ", ", "{} ({})", ((str(link.agent), link.role) for link in event.agent_links.all())
    ) or "-"


def events_with_agents(queryset: QuerySet) -> QuerySet:
    return queryset.prefetch_related(Prefetch("agent_links", queryset=EventAgent.objects.select_related("agent")))

"""Provenance in the admin: events and agents, browsable and never editable."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html_join

from restoration.core.models import Agent, ProvenanceEvent
from restoration.delivery.admin.common import ReadOnlyMixin, agents_text, events_with_agents


# --- Provenance -----------------------------------------------------------------------------------


@admin.register(ProvenanceEvent)
class ProvenanceEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("timestamp", "event_type", "outcome", "item", "agent_list")
    list_filter = ("event_type", "outcome")
    list_select_related = ("item",)
    search_fields = ("item__identifier", "identifier")
    date_hierarchy = "timestamp"
    fields = ("identifier", "event_type", "event_type_uri", "timestamp", "outcome", "item", "agent_list",
              "object_list", "detail")
    readonly_fields = fields

    def get_queryset(self, request):
        return events_with_agents(super().get_queryset(request)).prefetch_related("object_links")

    @admin.display(description="agents")
    def agent_list(self, event: ProvenanceEvent) -> str:
        return agents_text(event)

    @admin.display(description="objects")
    def object_list(self, event: ProvenanceEvent) -> str:
        return format_html_join(
            ", ",
            '<a href="{}">version {}</a> ({})',
            (
                (reverse("admin:restoration_version_change", args=[link.version_id]), link.version_id, link.role)
                for link in event.object_links.all()
            ),
        ) or "-"


@admin.register(Agent)
class AgentAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("name", "version", "agent_type", "user")
    list_filter = ("agent_type",)
    search_fields = ("name", "version")
    fields = ("agent_type", "name", "version", "user", "detail")
    readonly_fields = fields

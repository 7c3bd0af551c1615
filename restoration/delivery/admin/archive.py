"""The archive's admin: items with their versions and provenance, collections, read-only events,
and restoration jobs.

Every staff account may view; Curators (migrations 0002 and 0004) add, ingest, edit and queue
jobs. Items are created only by ingesting an image (the add form's upload goes through
``services.ingest_upload``), metadata edits go through ``services.update_item_metadata``
(recording an event), and nothing archival is deleted. Provenance is browsable and never
editable. Restoration actions on items and versions hand the work to ``restoration.jobs``; an
item's page shows its original and derivatives side by side.

Curators review derivatives with the versions' actions (accept, reject, withdraw, back to
pending; the reason is the field beside the action menu), each through
``services.review_version``, and add notes to items and versions in the "Notes" inline
(``services.add_note``; notes are never edited or deleted).
"""

from __future__ import annotations

import hashlib

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db.models import Count, Exists, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from restoration.core import services
from restoration.interop import http
from restoration.delivery.forms import ItemChangeForm, ItemIngestForm
from restoration.core.models import (
    DUBLIN_CORE_FIELDS,
    Collection,
    Item,
    Note,
    ProvenanceEvent,
    RestorationJob,
    ReviewStatus,
    Version,
    VersionKind,
    can_review,
)
from restoration.delivery.admin.common import (
    ReadOnlyMixin, StaffMayViewMixin, agents_text, display_url, events_with_agents, item_cell,
    thumbnail_tag,
)
from restoration.delivery.admin.actions import BATCH_ACTIONS, BagExportMixin, BatchEditMixin, JobActionsMixin, JOB_ACTIONS


# --- Items --------------------------------------------------------------------------------------


class VersionKindFilter(admin.SimpleListFilter):
    title = "kind of versions"
    parameter_name = "has_kind"

    def lookups(self, request, model_admin):
        return VersionKind.choices

    def queryset(self, request, queryset):
        if self.value() in VersionKind.values:
            return queryset.filter(Exists(Version.objects.filter(item=OuterRef("pk"), kind=self.value())))
        return queryset


class VersionInline(StaffMayViewMixin, admin.TabularInline):
    model = Version
    fk_name = "item"
    extra = 0
    can_delete = False
    show_change_link = True
    fields = (
        "thumbnail_preview", "kind", "is_preferred", "review_status", "bytes", "sha256", "width", "height", "mode",
        "bit_depth", "mime_type", "page_count", "original_filename", "created_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # versions come from ingest and derivative services

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="thumbnail")
    def thumbnail_preview(self, version: Version) -> str:
        return thumbnail_tag(version.pk)


class ProvenanceEventInline(ReadOnlyMixin, admin.TabularInline):
    model = ProvenanceEvent
    fk_name = "item"
    extra = 0
    fields = ("timestamp", "event_type", "outcome", "agent_list", "detail")
    readonly_fields = fields
    ordering = ("timestamp", "id")

    def get_queryset(self, request):
        return events_with_agents(super().get_queryset(request))

    @admin.display(description="agents")
    def agent_list(self, event: ProvenanceEvent) -> str:
        return agents_text(event)


class NoteInline(StaffMayViewMixin, admin.TabularInline):
    """Notes of an item (or of a version): listed read-only, added one per row by curators.

    The rows are saved by ``NotesAdminMixin.save_formset`` through ``services.add_note`` (which
    writes the note's provenance event), never by the formset: notes are append-only."""

    model = Note
    fk_name = "item"
    extra = 1
    can_delete = False
    fields = ("text", "version", "author", "created_at")
    readonly_fields = ("version", "author", "created_at")
    ordering = ("created_at", "id")

    def has_add_permission(self, request, obj=None) -> bool:
        return can_review(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # existing notes are shown, never edited

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class VersionNoteInline(NoteInline):
    fk_name = "version"
    fields = ("text", "author", "created_at")
    readonly_fields = ("author", "created_at")


class NotesAdminMixin:
    """Saves the new rows of a ``NoteInline`` through ``services.add_note``."""

    def save_formset(self, request, form, formset, change: bool) -> None:
        if not issubclass(formset.model, Note):
            return super().save_formset(request, form, formset, change)
        parent = form.instance
        item, version = (parent.item, parent) if isinstance(parent, Version) else (parent, None)
        for note_form in formset.extra_forms:
            text = note_form.cleaned_data.get("text") if note_form.has_changed() else None
            if text:
                services.add_note(item, text, user=request.user, version=version)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []


@admin.register(Item)
class ItemAdmin(NotesAdminMixin, BatchEditMixin, BagExportMixin, JobActionsMixin, StaffMayViewMixin, admin.ModelAdmin):
    list_display = ("thumbnail", "identifier", "title", "collection", "version_count", "last_event_at")
    list_display_links = ("identifier",)
    list_select_related = ("collection",)
    list_filter = ("collection", VersionKindFilter)
    search_fields = ("identifier", "title", "description")
    # Restoration, BagIt download and batch edits (each an event per item); nothing archival is deleted.
    actions = [*JOB_ACTIONS, "export_bags", *BATCH_ACTIONS]
    add_fieldsets = (
        (None, {"fields": ("upload", "identifier", "title", "collection", "is_public")}),
        ("Dublin Core", {"fields": DUBLIN_CORE_FIELDS, "classes": ("collapse",)}),
    )
    change_fieldsets = (
        (None, {"fields": ("identifier", "title", "collection", "is_public", "created_at", "updated_at")}),
        ("Dublin Core", {"fields": DUBLIN_CORE_FIELDS}),
    )

    def get_queryset(self, request):
        versions = Version.objects.filter(item=OuterRef("pk"))
        return (
            super()
            .get_queryset(request)
            .annotate(
                version_count=Coalesce(
                    Subquery(versions.order_by().values("item").annotate(n=Count("pk")).values("n")),
                    Value(0),
                    output_field=IntegerField(),
                ),
                last_event_at=Subquery(
                    ProvenanceEvent.objects.filter(item=OuterRef("pk")).order_by("-timestamp").values("timestamp")[:1]
                ),
                shown_version_id=Subquery(versions.order_by("-is_preferred", "created_at", "id").values("pk")[:1]),
            )
        )

    @admin.display(description="")
    def thumbnail(self, item: Item) -> str:
        return thumbnail_tag(item.shown_version_id)

    @admin.display(description="versions", ordering="version_count")
    def version_count(self, item: Item) -> int:
        return item.version_count

    @admin.display(description="last event", ordering="last_event_at")
    def last_event_at(self, item: Item):
        return item.last_event_at

    def get_fieldsets(self, request, obj=None):
        return self.change_fieldsets if obj is not None else self.add_fieldsets

    def get_readonly_fields(self, request, obj=None):
        return ("identifier", "created_at", "updated_at") if obj is not None else ()

    def get_inlines(self, request, obj):
        return [VersionInline, NoteInline, ProvenanceEventInline] if obj is not None else []

    def get_urls(self):
        prefer = self.admin_site.admin_view(require_POST(self.prefer_version_view))
        return [
            path("<int:pk>/prefer/<int:version_id>/", prefer, name="restoration_item_prefer_version"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """Adds the item's versions side by side and its latest jobs (a panel above the form, not an
        inline: the form posts no formset for it; template admin/restoration/item/change_form.html)."""
        pk = int(object_id) if str(object_id).isdigit() else None
        versions = Version.objects.filter(item_id=pk).select_related("produced_by_job").order_by("created_at", "id")
        recent_jobs = RestorationJob.objects.filter(item_id=pk).select_related("requested_by")[:10]
        extra_context = {
            **(extra_context or {}),
            "versions_side_by_side": list(versions),
            "recent_jobs": list(recent_jobs),
            "can_prefer_version": request.user.has_perm("restoration.change_version"),
        }
        return super().change_view(request, object_id, form_url, extra_context=extra_context)

    def prefer_version_view(self, request, pk: int, version_id: int) -> HttpResponseRedirect:
        """POST: makes the version its item's preferred one (``services.set_preferred_version``)."""
        if not request.user.has_perm("restoration.change_version"):
            raise PermissionDenied
        version = get_object_or_404(Version, pk=version_id, item_id=pk)
        try:
            services.set_preferred_version(version, user=request.user)
        except services.ReviewError as err:
            self.message_user(request, err.message, messages.ERROR)
        else:
            self.message_user(request, f"Version {version.pk} ({version.kind}) is now the preferred version.",
                              messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:restoration_item_change", args=[pk]))

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = ItemChangeForm if obj is not None else ItemIngestForm
        form = super().get_form(request, obj, change=change, **kwargs)
        form.user = request.user  # a fresh class per request: read by ItemIngestForm
        form.request = request
        return form

    def has_add_permission(self, request) -> bool:
        return super().has_add_permission(request) and request.user.has_perm("restoration.ingest_item")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj: Item, form, change: bool) -> None:
        if not change:
            return  # ItemIngestForm has ingested the upload: the item, its version and events exist
        changes = {field: form.cleaned_data[field] for field in form.changed_data if field in services.EDITABLE_ITEM_FIELDS}
        if changes:
            services.update_item_metadata(Item.objects.get(pk=obj.pk), changes, user=request.user)
            obj.refresh_from_db()


# --- Versions -------------------------------------------------------------------------------------


class ReviewActionForm(ActionForm):
    """The action bar of the versions list, with the reason a review action records."""

    reason = forms.CharField(
        required=False, max_length=services.MAX_REASON_LENGTH, label="Reason",
        widget=forms.TextInput(attrs={"placeholder": "Reason (required to reject or withdraw)", "size": 40}),
    )


def _review_action(status: str, title: str):
    def action(modeladmin: "VersionAdmin", request, queryset) -> None:
        modeladmin.review(request, queryset, status)

    action.__name__ = f"review_{status}"
    return admin.action(permissions=["review"], description=title)(action)


# One action per review status; the reason comes from ``ReviewActionForm``.
REVIEW_ACTIONS = [
    _review_action(ReviewStatus.ACCEPTED, "Accept the selected derivatives (shown to the public)"),
    _review_action(ReviewStatus.REJECTED, "Reject the selected derivatives (curators only; give a reason)"),
    _review_action(ReviewStatus.WITHDRAWN, "Withdraw the selected derivatives (curators only; give a reason)"),
    _review_action(ReviewStatus.PENDING, "Set the selected derivatives back to pending review"),
]


@admin.register(Version)
class VersionAdmin(NotesAdminMixin, JobActionsMixin, StaffMayViewMixin, admin.ModelAdmin):
    # A thumbnail, never a storage path: the column is not named "thumbnail", which Django would
    # take for the model's file field (it showed the path). The digest is cut short (in full in
    # its title attribute).
    list_display = ("thumbnail_image", "item_short", "kind", "is_preferred", "review_status", "bytes", "sha256_short", "created_at")
    list_display_links = ("item_short",)
    list_select_related = ("item",)
    list_filter = ("kind", "review_status", "is_preferred", "mime_type")
    search_fields = ("item__identifier", "sha256", "original_filename")
    actions = ["make_preferred", *REVIEW_ACTIONS, *JOB_ACTIONS]
    action_form = ReviewActionForm
    inlines = [VersionNoteInline]
    fields = (
        "thumbnail_large", "item", "kind", "parent", "is_preferred", "review_status", "review_reason", "reviewed_at",
        "reviewed_by", "file_link", "original_filename", "sha256", "bytes", "width", "height", "mode", "bit_depth",
        "mime_type", "page_count", "access_link", "created_by", "created_at",
    )
    readonly_fields = fields

    def has_review_permission(self, request) -> bool:
        return can_review(request.user)

    def review(self, request, queryset, status: str) -> None:
        """Applies one review ``status`` (with the action bar's reason) to each selected derivative,
        through ``services.review_version``; says what changed and what was refused."""
        reason = request.POST.get("reason", "")
        done = 0
        for version in queryset.select_related("item").order_by("pk"):
            try:
                services.review_version(version, status, reason=reason, user=request.user)
            except services.ReviewError as err:
                self.message_user(request, f"{version}: {err.message}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} version(s) now {ReviewStatus(status).label.lower()}.", messages.SUCCESS)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="")
    def thumbnail_image(self, version: Version) -> str:
        return thumbnail_tag(version.pk)

    @admin.display(description="item", ordering="item__identifier")
    def item_short(self, version: Version) -> str:
        return item_cell(version.item)

    @admin.display(description="sha256", ordering="sha256")
    def sha256_short(self, version: Version) -> str:
        return format_html('<code title="{}">{}…</code>', version.sha256, version.sha256[:12])

    @admin.display(description="thumbnail")
    def thumbnail_large(self, version: Version) -> str:
        return thumbnail_tag(version.pk, size=256)

    @admin.display(description="archival file")
    def file_link(self, version: Version) -> str:
        return format_html('<a href="{}">{}</a>', display_url(version.pk, "file"), version.file.name)

    @admin.display(description="access copy")
    def access_link(self, version: Version) -> str:
        if not version.access_file:
            return "-"
        return format_html('<a href="{}">{}</a>', display_url(version.pk, "access"), version.access_file.name)

    @admin.action(permissions=["change"], description="Make the preferred version of its item")
    def make_preferred(self, request, queryset) -> None:
        versions = list(queryset.select_related("item"))
        if len({v.item_id for v in versions}) != len(versions):
            self.message_user(request, "Choose at most one version per item.", messages.ERROR)
            return
        done = 0
        for version in versions:
            try:
                services.set_preferred_version(version, user=request.user)
            except services.ReviewError as err:
                self.message_user(request, err.message, messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} preferred version(s) set.", messages.SUCCESS)

    def get_urls(self):
        display = self.admin_site.admin_view(self.display_view)
        return [
            path("<int:pk>/display/<str:which>/", display, name="restoration_version_display"),
            *super().get_urls(),
        ]

    def display_view(self, request, pk: int, which: str) -> HttpResponse:
        """Streams a version's thumbnail, access copy or archival file from storage to staff
        (``interop.http.serve``: ETag and 304 as in the API; the archival file as an attachment)."""
        version = get_object_or_404(Version, pk=pk)
        if not self.has_view_permission(request, version):
            raise PermissionDenied
        fields = {"thumbnail": version.thumbnail, "access": version.access_file, "file": version.file}
        field = fields.get(which)
        if field is None or not field.name:
            raise Http404("No such file.")
        if which == "file":
            etag = version.sha256
            name = http.version_download_name(version)
            content_type = version.mime_type or "application/octet-stream"
        else:
            etag = hashlib.sha256(f"{version.sha256}:{field.name}".encode()).hexdigest()
            name, content_type = None, "image/jpeg"
        try:
            return http.serve(request, etag=f'"{etag}"', content_type=content_type, download_name=name,
                              open_file=lambda: default_storage.open(field.name, "rb"),
                              headers={"Cache-Control": "private, no-cache"})
        except FileNotFoundError as exc:
            raise Http404("The file is missing from storage.") from exc


# --- Collections ---------------------------------------------------------------------------------


@admin.register(Collection)
class CollectionAdmin(BagExportMixin, StaffMayViewMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "is_public", "item_count", "updated_at")
    actions = ["export_bags"]
    list_filter = ("is_public",)
    search_fields = ("name", "slug", "description")
    prepopulated_fields = {"slug": ("name",)}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(item_count=Count("items"))

    @admin.display(description="items", ordering="item_count")
    def item_count(self, collection: Collection) -> int:
        return collection.item_count

"""The archive's admin: items with their versions and provenance, collections, read-only events,
and restoration jobs.

Every staff account may view; Curators (migrations 0002 and 0004) add, ingest, edit and queue
jobs. Items are created only by ingesting an image (the add form's upload goes through
``services.ingest_upload``), metadata edits go through ``services.update_item_metadata``
(recording an event), and nothing archival is deleted. Provenance is browsable and never
editable. Restoration actions on items and versions hand the work to ``restoration.jobs``; an
item's page shows its original and derivatives side by side.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db.models import Count, Exists, IntegerField, OuterRef, Prefetch, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import FileResponse, Http404, HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from restoration.interop import bagit as bagit_export
from restoration import jobs
from restoration.jobs import engine
from restoration.jobs.tasks import TASKS
from restoration.core import services
from restoration.delivery.forms import ItemChangeForm, ItemIngestForm
from restoration.core.models import (
    DUBLIN_CORE_FIELDS,
    Agent,
    Collection,
    EventAgent,
    Item,
    JobStatus,
    ProvenanceEvent,
    RestorationJob,
    Version,
    VersionKind,
)

THUMBNAIL_PX = 64


class StaffMayViewMixin:
    """Any active staff account may view (and find the app in the index); changes need permissions."""

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        user = request.user
        return (user.is_active and user.is_staff) or super().has_view_permission(request, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return (user.is_active and user.is_staff) or super().has_module_permission(request)


class ReadOnlyMixin(StaffMayViewMixin):
    """Browsable and never editable from the admin, whatever the account's permissions."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


def _display_url(version_id: int, which: str) -> str:
    return reverse("admin:restoration_version_display", args=[version_id, which])


def _thumbnail_tag(version_id: int | None, size: int = THUMBNAIL_PX) -> str:
    if version_id is None:
        return "-"
    return format_html(
        '<img src="{}" alt="" loading="lazy" style="max-width:{}px;max-height:{}px">',
        _display_url(version_id, "thumbnail"),
        size,
        size,
    )


def _agents(event: ProvenanceEvent) -> str:
    return format_html_join(
        ", ", "{} ({})", ((str(link.agent), link.role) for link in event.agent_links.all())
    ) or "-"


def _events_with_agents(queryset: QuerySet) -> QuerySet:
    return queryset.prefetch_related(Prefetch("agent_links", queryset=EventAgent.objects.select_related("agent")))


# --- Restoration actions (items and versions) -------------------------------------------------------


def _queue_jobs(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, task: str) -> None:
    """Queues one ``task`` job per selected item (on its original) or version, and says what happened."""
    sources = queryset.select_related("item") if queryset.model is Version else queryset
    # An action has no form: it queues with the task's ``action_params`` when the defaults
    # cannot do (style's default method needs a reference version; the trained model does not).
    definition = TASKS[task]
    params = dict(definition.action_params) if definition.action_params is not None else None
    outcome = jobs.submit_many(sources, task=task, user=request.user, params=params)
    label = definition.title
    counts = (
        f"{label}: {len(outcome['queued'])} job(s) queued, {len(outcome['reused'])} reused "
        f"(already done), {len(outcome['in_progress'])} already queued or running."
    )
    modeladmin.message_user(request, counts, messages.SUCCESS if not outcome["refused"] else messages.WARNING)
    for source, message in outcome["refused"]:
        modeladmin.message_user(request, f"{source}: {message}", messages.ERROR)


def _job_action(task: str):
    def action(modeladmin, request, queryset) -> None:
        _queue_jobs(modeladmin, request, queryset, task)

    action.__name__ = f"queue_{task}"
    label = TASKS[task].action_title or TASKS[task].title
    return admin.action(permissions=["run_jobs"], description=f"{label} (one job per selected %(verbose_name)s)")(action)


# One action per task; ``JobActionsMixin.get_actions`` keeps those the engine can run now.
JOB_ACTIONS = [_job_action(task) for task in TASKS]


def _action_can_run(task: str) -> bool:
    """Whether the task's action parameters name a variant whose weights are there."""
    params = TASKS[task].action_params
    return params is None or any(all(v.get(k) == params[k] for k in v) for v in engine.available_variants(task))


class JobActionsMixin:
    """Restoration actions for Curators (``add_restorationjob``), for the tasks available now."""

    def has_run_jobs_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("restoration.add_restorationjob")

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        available = set(engine.available_tasks())
        for task in TASKS:
            if task not in available or not _action_can_run(task):
                actions.pop(f"queue_{task}", None)
        return actions


# --- BagIt export (items and collections) -------------------------------------------------------


class BagExportMixin:
    """"Export BagIt bags": bags of the selection written into the export folder
    (``ARCHIVE_EXPORT_DIR``, default var/exports) by ``restoration.interop.bagit``; Curators only
    (``change_item``), as a bag holds every file and event of non-public items too."""

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("restoration.change_item")

    @admin.action(permissions=["export"], description="Export BagIt bag(s) of the selected %(verbose_name_plural)s")
    def export_bags(self, request: HttpRequest, queryset: QuerySet) -> None:
        folder = bagit_export.new_export_folder(f"{queryset.model._meta.model_name}s", request.user.get_username())
        try:
            if queryset.model is Collection:
                result = bagit_export.export_collection_bags(queryset.order_by("slug"), folder)
            else:
                result = bagit_export.export_item_bags(queryset.select_related("collection").order_by("identifier"),
                                                       folder)
        except bagit_export.BagExportError as err:
            self.message_user(request, f"Nothing exported: {err.message}", messages.ERROR)
            return
        self.message_user(
            request, f"{len(result.bags)} bag(s) ({result.files} files, {result.bytes} bytes) written to {result.path}.",
            messages.SUCCESS,
        )


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
        "thumbnail_preview", "kind", "is_preferred", "bytes", "sha256", "width", "height", "mode", "bit_depth",
        "mime_type", "page_count", "original_filename", "created_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # versions come from ingest and derivative services

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="thumbnail")
    def thumbnail_preview(self, version: Version) -> str:
        return _thumbnail_tag(version.pk)


class ProvenanceEventInline(ReadOnlyMixin, admin.TabularInline):
    model = ProvenanceEvent
    fk_name = "item"
    extra = 0
    fields = ("timestamp", "event_type", "outcome", "agent_list", "detail")
    readonly_fields = fields
    ordering = ("timestamp", "id")

    def get_queryset(self, request):
        return _events_with_agents(super().get_queryset(request))

    @admin.display(description="agents")
    def agent_list(self, event: ProvenanceEvent) -> str:
        return _agents(event)


@admin.register(Item)
class ItemAdmin(BagExportMixin, JobActionsMixin, StaffMayViewMixin, admin.ModelAdmin):
    list_display = ("thumbnail", "identifier", "title", "collection", "version_count", "last_event_at")
    list_display_links = ("identifier",)
    list_select_related = ("collection",)
    list_filter = ("collection", VersionKindFilter)
    search_fields = ("identifier", "title", "description")
    # Restoration and BagIt export only: nothing archival is deleted, and edits go one item at a time.
    actions = [*JOB_ACTIONS, "export_bags"]
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
        return _thumbnail_tag(item.shown_version_id)

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
        return [VersionInline, ProvenanceEventInline] if obj is not None else []

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
        services.set_preferred_version(version, user=request.user)
        self.message_user(request, f"Version {version.pk} ({version.kind}) is now the preferred version.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:restoration_item_change", args=[pk]))

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = ItemChangeForm if obj is not None else ItemIngestForm
        form = super().get_form(request, obj, change=change, **kwargs)
        form.user = request.user  # a fresh class per request: read by ItemIngestForm
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


@admin.register(Version)
class VersionAdmin(JobActionsMixin, StaffMayViewMixin, admin.ModelAdmin):
    list_display = ("thumbnail", "item", "kind", "is_preferred", "bytes", "sha256", "created_at")
    list_display_links = ("item",)
    list_select_related = ("item",)
    list_filter = ("kind", "is_preferred", "mime_type")
    search_fields = ("item__identifier", "sha256", "original_filename")
    actions = ["make_preferred", *JOB_ACTIONS]
    fields = (
        "thumbnail_large", "item", "kind", "parent", "is_preferred", "file_link", "original_filename", "sha256",
        "bytes", "width", "height", "mode", "bit_depth", "mime_type", "page_count", "access_link", "created_by",
        "created_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="")
    def thumbnail(self, version: Version) -> str:
        return _thumbnail_tag(version.pk)

    @admin.display(description="thumbnail")
    def thumbnail_large(self, version: Version) -> str:
        return _thumbnail_tag(version.pk, size=256)

    @admin.display(description="archival file")
    def file_link(self, version: Version) -> str:
        return format_html('<a href="{}">{}</a>', _display_url(version.pk, "file"), version.file.name)

    @admin.display(description="access copy")
    def access_link(self, version: Version) -> str:
        if not version.access_file:
            return "-"
        return format_html('<a href="{}">{}</a>', _display_url(version.pk, "access"), version.access_file.name)

    @admin.action(permissions=["change"], description="Make the preferred version of its item")
    def make_preferred(self, request, queryset) -> None:
        versions = list(queryset.select_related("item"))
        if len({v.item_id for v in versions}) != len(versions):
            self.message_user(request, "Choose at most one version per item.", messages.ERROR)
            return
        for version in versions:
            services.set_preferred_version(version, user=request.user)
        self.message_user(request, f"{len(versions)} preferred version(s) set.", messages.SUCCESS)

    def get_urls(self):
        display = self.admin_site.admin_view(self.display_view)
        return [
            path("<int:pk>/display/<str:which>/", display, name="restoration_version_display"),
            *super().get_urls(),
        ]

    def display_view(self, request, pk: int, which: str) -> FileResponse:
        """Streams a version's thumbnail, access copy or archival file from storage to staff."""
        version = get_object_or_404(Version, pk=pk)
        if not self.has_view_permission(request, version):
            raise PermissionDenied
        fields = {"thumbnail": version.thumbnail, "access": version.access_file, "file": version.file}
        field = fields.get(which)
        if field is None or not field.name:
            raise Http404("No such file.")
        try:
            handle = default_storage.open(field.name, "rb")
        except FileNotFoundError as exc:
            raise Http404("The file is missing from storage.") from exc
        if which == "file":
            return FileResponse(
                handle, as_attachment=True, filename=version.original_filename or None, content_type=version.mime_type
            )
        return FileResponse(handle, content_type="image/jpeg")


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
        return _events_with_agents(super().get_queryset(request)).prefetch_related("object_links")

    @admin.display(description="agents")
    def agent_list(self, event: ProvenanceEvent) -> str:
        return _agents(event)

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


# --- Restoration jobs ------------------------------------------------------------------------------


@admin.register(RestorationJob)
class RestorationJobAdmin(StaffMayViewMixin, admin.ModelAdmin):
    """Jobs are read-only here (they are written by ``restoration.jobs``); Curators may retry failed
    ones and cancel queued ones."""

    list_display = ("id", "item", "task", "status", "progress_bar", "requested_by", "created_at", "run_time",
                    "result")
    list_display_links = ("id",)
    list_filter = ("status", "task")
    list_select_related = ("item", "requested_by")
    search_fields = ("item__identifier", "recipe_key")
    actions = ["retry_failed", "cancel_queued"]
    fields = (
        "item", "source_version", "task", "params", "status", "progress", "error", "attempts", "requested_by",
        "created_at", "started_at", "finished_at", "heartbeat_at", "worker_host", "device", "result_version",
        "model_name", "weights_sha256", "recipe_key", "timings",
    )
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False  # jobs come from the restoration actions and the API

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_manage_permission(self, request) -> bool:
        return request.user.has_perm("restoration.change_restorationjob")

    @admin.display(description="progress", ordering="progress")
    def progress_bar(self, job: RestorationJob) -> str:
        return format_html('<progress value="{}" max="1"></progress> {}%', job.progress, round(job.progress * 100))

    @admin.display(description="duration")
    def run_time(self, job: RestorationJob) -> str:
        duration = job.duration
        return f"{duration.total_seconds():.1f} s" if duration is not None else "-"

    @admin.display(description="result")
    def result(self, job: RestorationJob) -> str:
        if job.result_version_id is None:
            return "-"
        return format_html(
            '<a href="{}">version {}</a>',
            reverse("admin:restoration_version_change", args=[job.result_version_id]),
            job.result_version_id,
        )

    @admin.action(permissions=["manage"], description="Retry selected failed jobs")
    def retry_failed(self, request, queryset) -> None:
        queued = reused = skipped = 0
        for job in queryset.select_related("item", "source_version"):
            if job.status != JobStatus.FAILED:
                skipped += 1
                continue
            try:
                submission = jobs.retry_job(job, user=request.user)
            except jobs.JobError as exc:
                self.message_user(request, f"Job {job.pk}: {exc.message}", messages.ERROR)
                continue
            queued += submission.created
            reused += not submission.created
        self.message_user(
            request,
            f"{queued} job(s) queued again, {reused} already queued, running or done; {skipped} not failed (skipped).",
            messages.SUCCESS,
        )

    @admin.action(permissions=["manage"], description="Cancel selected queued jobs")
    def cancel_queued(self, request, queryset) -> None:
        cancelled = skipped = 0
        for job in queryset:
            try:
                jobs.cancel_job(job, user=request.user)
                cancelled += 1
            except jobs.JobError:
                skipped += 1
        self.message_user(request, f"{cancelled} job(s) cancelled; {skipped} not queued (skipped).", messages.SUCCESS)

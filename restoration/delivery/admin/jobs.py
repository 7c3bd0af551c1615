"""Restoration jobs in the admin: their state, and cancel / retry for Curators."""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from restoration import jobs
from restoration.core.models import JobStatus, RestorationJob
from restoration.delivery.admin.common import StaffMayViewMixin, item_cell, thumbnail_tag
from restoration.delivery.pages.display import eta_text

# The list's thumbnails: small enough that the list fits a 1366 px screen beside the other columns.
LIST_THUMBNAIL_PX = 48


# --- Restoration jobs ------------------------------------------------------------------------------


@admin.register(RestorationJob)
class RestorationJobAdmin(StaffMayViewMixin, admin.ModelAdmin):
    """Jobs are read-only here (they are written by ``restoration.jobs``); Curators may retry failed
    ones and cancel queued or running ones (a running one stops at its next tile)."""

    # Fits 1366 px: thumbnails of source and result, the item cut short (in full in its title
    # attribute), status and progress in one column, short dates.
    list_display = ("id", "source", "result", "item_short", "task", "status_progress", "requested_by", "created",
                    "run_time")
    list_display_links = ("id",)
    list_filter = ("status", "task")
    list_select_related = ("item", "requested_by")
    search_fields = ("item__identifier", "recipe_key")
    actions = ["retry_failed", "cancel_selected"]
    fields = (
        "item", "source_version", "task", "params", "status", "progress", "time_left", "error", "attempts",
        "requested_by", "created_at", "started_at", "finished_at", "heartbeat_at", "worker_host", "device",
        "queue", "cancel_requested_at", "cancel_requested_by", "result_version", "model_name", "weights_sha256",
        "recipe_key", "timings",
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

    @admin.display(description="source")
    def source(self, job: RestorationJob) -> str:
        return self._version_thumbnail(job.source_version_id, "source")

    @admin.display(description="result")
    def result(self, job: RestorationJob) -> str:
        return self._version_thumbnail(job.result_version_id, "result")

    @staticmethod
    def _version_thumbnail(version_id: int | None, role: str) -> str:
        if version_id is None:
            return "-"
        return format_html(
            '<a href="{}" title="{}: version {}">{}</a>',
            reverse("admin:restoration_version_change", args=[version_id]), role, version_id,
            thumbnail_tag(version_id, size=LIST_THUMBNAIL_PX),
        )

    @admin.display(description="item", ordering="item__identifier")
    def item_short(self, job: RestorationJob) -> str:
        return item_cell(job.item)

    @admin.display(description="status", ordering="status")
    def status_progress(self, job: RestorationJob) -> str:
        left = eta_text(job.eta_seconds())
        return format_html('{}<br><progress value="{}" max="1" style="width:5em"></progress> {}%{}',
                           job.get_status_display(), job.progress, round(job.progress * 100),
                           f", {left}" if left else "")

    @admin.display(description="time left")
    def time_left(self, job: RestorationJob) -> str:
        return eta_text(job.eta_seconds()) or "-"

    @admin.display(description="created", ordering="created_at")
    def created(self, job: RestorationJob) -> str:
        return format_html('<span title="{}">{}</span>', job.created_at.isoformat(),
                           timezone.localtime(job.created_at).strftime("%Y-%m-%d %H:%M"))

    @admin.display(description="duration")
    def run_time(self, job: RestorationJob) -> str:
        duration = job.duration
        return f"{duration.total_seconds():.1f} s" if duration is not None else "-"

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

    @admin.action(permissions=["manage"], description="Cancel selected queued or running jobs")
    def cancel_selected(self, request, queryset) -> None:
        cancelled = stopping = skipped = 0
        for job in queryset:
            try:
                job = jobs.cancel_job(job, user=request.user)
            except jobs.JobError:
                skipped += 1
                continue
            cancelled += job.status == JobStatus.CANCELLED
            stopping += job.status == JobStatus.RUNNING
        self.message_user(
            request,
            f"{cancelled} job(s) cancelled; {stopping} running job(s) stop at their next tile; "
            f"{skipped} already finished (skipped).",
            messages.SUCCESS,
        )

"""Restoration jobs in the admin: their state, and cancel / retry for Curators."""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from restoration import jobs
from restoration.core.models import JobStatus, RestorationJob
from restoration.delivery.admin.common import StaffMayViewMixin
from restoration.delivery.pages.display import eta_text


# --- Restoration jobs ------------------------------------------------------------------------------


@admin.register(RestorationJob)
class RestorationJobAdmin(StaffMayViewMixin, admin.ModelAdmin):
    """Jobs are read-only here (they are written by ``restoration.jobs``); Curators may retry failed
    ones and cancel queued or running ones (a running one stops at its next tile)."""

    list_display = ("id", "item", "task", "status", "progress_bar", "requested_by", "created_at", "run_time",
                    "result")
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

    @admin.display(description="progress", ordering="progress")
    def progress_bar(self, job: RestorationJob) -> str:
        left = eta_text(job.eta_seconds())
        return format_html('<progress value="{}" max="1"></progress> {}%{}', job.progress, round(job.progress * 100),
                           f", {left}" if left else "")

    @admin.display(description="time left")
    def time_left(self, job: RestorationJob) -> str:
        return eta_text(job.eta_seconds()) or "-"

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

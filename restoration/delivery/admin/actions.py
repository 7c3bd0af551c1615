"""Admin actions that hand work elsewhere: restoration jobs (one per task in ``TASKS``, for the
tasks that can run now) and BagIt exports."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from restoration.interop import bagit as bagit_export
from restoration import jobs
from restoration.jobs import engine
from restoration.jobs.tasks import TASKS
from restoration.core.models import Collection, Version


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

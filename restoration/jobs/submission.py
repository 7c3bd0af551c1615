"""Submitting, cancelling and retrying restoration jobs: the web side of the jobs layer.

A request is checked (task, source, parameters, reference, weights) before anything is written;
the job row is committed first and its id sent to the broker from ``transaction.on_commit``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from restoration.core.models import LIVE_JOB_STATUSES, Item, JobStatus, JobTask, RestorationJob, Version
from restoration.jobs import engine
from restoration.jobs import params as job_params
from restoration.jobs.tasks import TASKS

logger = logging.getLogger(__name__)

TASK_FUNCTION = "restoration.tasks.run_job"


class JobError(Exception):
    """A request the archive refuses: ``code`` (stable), ``message`` (one sentence), ``field``."""

    def __init__(self, code: str, message: str, *, field: str = "non_field_errors") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True)
class Submission:
    job: RestorationJob
    created: bool  # a new job was queued

    @property
    def reused(self) -> bool:
        """An earlier job already produced this recipe's derivative."""
        return not self.created and self.job.status == JobStatus.SUCCEEDED


def recipe_key(*, source_version_id: int, task: str, params: Mapping[str, Any], weights_sha256: str,
               reference_sha256: str | None = None, references: Mapping[str, str] | None = None) -> str:
    """sha256 of the canonical JSON (sorted keys, no spaces, ASCII) of what decides the result.

    ``weights_sha256`` is the weights file's checksum, or for a method without weights the
    checksum of its description (``engine.WeightsInfo``). ``reference_sha256`` (the content of a
    reference version) is part of the recipe only when the job names a reference, so the keys of
    jobs without one are those they always were. ``references`` (``{parameter: sha256}``) is the
    general form: ``reference_version`` is recorded as ``reference_sha256``, any other reference
    parameter ``p`` as ``p_sha256``.
    """
    recipe = {
        "source_version": source_version_id,
        "task": task,
        "params": engine.recipe_params(task, params),
        "weights_sha256": weights_sha256,
    }
    if reference_sha256 is not None:
        recipe["reference_sha256"] = reference_sha256
    for name, sha256 in (references or {}).items():
        recipe["reference_sha256" if name == "reference_version" else f"{name}_sha256"] = sha256
    canonical = json.dumps(recipe, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _check_task(task: Any) -> str:
    if task not in JobTask.values or task not in TASKS:
        known = ", ".join(JobTask.values)
        raise JobError("unknown_task", f"Unknown task {task!r}; tasks are {known}.", field="task")
    if task not in engine.available_tasks():
        available = ", ".join(engine.available_tasks()) or "none"
        raise JobError(
            "task_unavailable", f"The engine cannot {task} yet (available: {available}).", field="task"
        )
    return task


def _check_references(task: str, params: Mapping[str, Any], user) -> dict[str, Version]:
    """The versions a job's reference parameters name (``{parameter: version}``): each of the same
    item or another one, which ``user`` may read (``Version.objects.visible_to``). A version the
    user may not read gets the same answer as one that does not exist, so the refusal reveals
    nothing."""
    found: dict[str, Version] = {}
    for name, pk in job_params.references(TASKS[task], params).items():
        version = Version.objects.visible_to(user).filter(pk=pk).select_related("item").first()
        if version is None:
            raise JobError(
                "invalid_parameters", f"{name} {pk}: there is no version {pk} that you may read.", field="params",
            )
        found[name] = version
    return found


def submit_job(
    item: Item, *, task: str, params: Mapping[str, Any] | None = None, source_version: Version | int | None = None,
    user,
) -> Submission:
    """Queues ``task`` on ``source_version`` (default: the item's original) for ``user``.

    Returns the existing job instead when the same recipe already succeeded (its derivative is
    reused) or is queued or running. Raises ``JobError`` (codes ``unknown_task``,
    ``task_unavailable``, ``invalid_parameters``, ``invalid_source``) before writing anything.
    The worker is sent the job once the surrounding transaction commits.
    """
    task = _check_task(task)
    if source_version is None:
        source = Version.objects.originals().filter(item=item).first()
        if source is None:
            raise JobError("invalid_source", f"Item {item.identifier!r} has no original version.", field="source_version")
    else:
        pk = source_version.pk if isinstance(source_version, Version) else source_version
        source = Version.objects.filter(pk=pk).first() if isinstance(pk, int) and not isinstance(pk, bool) else None
        if source is None:
            raise JobError("invalid_source", f"There is no version {source_version!r}.", field="source_version")
        if source.item_id != item.pk:
            raise JobError(
                "invalid_source",
                f"Version {source.pk} belongs to another item, not to {item.identifier!r}.",
                field="source_version",
            )
    try:
        cleaned = engine.validate_params(task, params)
        engine.check_size(task, cleaned, source.width, source.height)
    except engine.ParameterError as exc:
        raise JobError("invalid_parameters", exc.message, field="params") from exc
    references = _check_references(task, cleaned, user)
    try:
        weights = engine.weights_info(task, cleaned)
    except engine.EngineUnavailable as exc:
        raise JobError("task_unavailable", str(exc), field=exc.field) from exc

    key = recipe_key(source_version_id=source.pk, task=task, params=cleaned, weights_sha256=weights.sha256,
                     references={name: version.sha256 for name, version in references.items()})
    existing = _live_job(key)
    if existing is not None:
        return Submission(existing, created=False)
    try:
        with transaction.atomic():
            job = RestorationJob.objects.create(
                item=item, source_version=source, task=task, params=cleaned, recipe_key=key,
                requested_by=user if getattr(user, "is_authenticated", False) else None,
                weights_sha256=weights.sha256, model_name=weights.model_name, heartbeat_at=timezone.now(),
            )
            enqueue_on_commit(job.pk)
    except IntegrityError:
        existing = _live_job(key)  # a concurrent request inserted the same recipe first
        if existing is None:
            raise
        return Submission(existing, created=False)
    logger.info("Queued job %s: %s of version %s (%s)", job.pk, task, source.pk, key[:12])
    return Submission(job, created=True)


def submit_many(sources: Iterable[Item | Version], *, task: str, user,
                params: Mapping[str, Any] | None = None) -> dict[str, list]:
    """One job per item (on its original) or version, with the same ``params``, as admin actions do.

    Returns ``{"queued": [...], "reused": [...], "in_progress": [...], "refused": [(source, message)]}``.
    """
    outcome: dict[str, list] = {"queued": [], "reused": [], "in_progress": [], "refused": []}
    for source in sources:
        item = source if isinstance(source, Item) else source.item
        version = source if isinstance(source, Version) else None
        try:
            submission = submit_job(item, task=task, params=params, source_version=version, user=user)
        except JobError as exc:
            outcome["refused"].append((source, exc.message))
            continue
        key = "queued" if submission.created else "reused" if submission.reused else "in_progress"
        outcome[key].append(submission.job)
    return outcome


def _live_job(key: str) -> RestorationJob | None:
    return RestorationJob.objects.filter(recipe_key=key, status__in=LIVE_JOB_STATUSES).first()


def enqueue_on_commit(job_id: int) -> None:
    transaction.on_commit(lambda: enqueue(job_id), robust=True)


def enqueue(job_id: int) -> None:
    """Sends the job's id to the django-q2 broker (plain id: the worker reads the row)."""
    from django_q.tasks import async_task

    async_task(TASK_FUNCTION, job_id, task_name=f"restoration-job-{job_id}", group="restoration-jobs")


def cancel_job(job: RestorationJob, *, user) -> RestorationJob:
    """Cancels a queued job (a worker that picks it up later does nothing). Raises
    ``JobError("not_cancellable")`` for a job that is running or finished."""
    now = timezone.now()
    if not RestorationJob.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
        status=JobStatus.CANCELLED, finished_at=now, heartbeat_at=now,
        error=f"Cancelled by {user.get_username() if getattr(user, 'is_authenticated', False) else 'the system'}.",
    ):
        job.refresh_from_db()
        raise JobError("not_cancellable", f"Only queued jobs can be cancelled; job {job.pk} is {job.status}.")
    job.refresh_from_db()
    logger.info("Job %s cancelled by %s", job.pk, user)
    return job


def retry_job(job: RestorationJob, *, user) -> Submission:
    """Submits a failed or cancelled job's recipe again, as a new job (the old one keeps its
    history); returns the live job when the recipe is already queued, running or done."""
    if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise JobError("not_retryable", f"Only failed or cancelled jobs can be retried; job {job.pk} is {job.status}.")
    params = {k: v for k, v in job.params.items() if v is not None}
    return submit_job(job.item, task=job.task, params=params, source_version=job.source_version, user=user)

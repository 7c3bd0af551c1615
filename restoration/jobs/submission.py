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

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from restoration.core.models import (
    ACTIVE_JOB_STATUSES,
    LIVE_JOB_STATUSES,
    Item,
    JobQueue,
    JobStatus,
    JobTask,
    RestorationJob,
    Version,
)
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


def queue_for(task: str, params: Mapping[str, Any], width: int | None, height: int | None) -> str:
    """The queue of a job: ``long`` when its predicted work (the task's ``predicted_work``: source
    megapixels times the task's cost) reaches ``JOB_LONG_WORK`` (0: one queue for all)."""
    threshold = settings.JOB_LONG_WORK
    if threshold <= 0 or not width or not height:
        return JobQueue.DEFAULT
    return JobQueue.LONG if TASKS[task].predicted_work(params, width, height) >= threshold else JobQueue.DEFAULT


def broker_queue(queue: str) -> str | None:
    """The django-q2 queue (cluster) name of a job queue: None for the default one (the cluster's
    own), ``<Q_CLUSTER name>-long`` for long jobs (served by ``Q_QUEUE=long manage.py qcluster``)."""
    if queue == JobQueue.LONG:
        return settings.JOB_LONG_QUEUE_NAME
    return None


def _check_user_limit(user) -> None:
    """Refuses a new job for ``user`` who already has ``JOB_MAX_ACTIVE_PER_USER`` jobs queued or
    running (0: no limit). Counted before the insert, so two racing requests may pass one over the
    limit: it bounds the queue a curator can fill, it is not a quota to the job."""
    limit = settings.JOB_MAX_ACTIVE_PER_USER
    if limit <= 0 or not getattr(user, "is_authenticated", False):
        return
    active = RestorationJob.objects.filter(requested_by=user, status__in=ACTIVE_JOB_STATUSES).count()
    if active >= limit:
        raise JobError(
            "too_many_jobs",
            f"You have {active} jobs queued or running, the most one account may have (JOB_MAX_ACTIVE_PER_USER "
            f"= {limit}); wait for some to finish, or cancel some, then ask again.",
        )


def submit_job(
    item: Item, *, task: str, params: Mapping[str, Any] | None = None, source_version: Version | int | None = None,
    user,
) -> Submission:
    """Queues ``task`` on ``source_version`` (default: the item's original) for ``user``.

    Returns the existing job instead when the same recipe already succeeded (its derivative is
    reused) or is queued or running. Raises ``JobError`` (codes ``unknown_task``,
    ``task_unavailable``, ``invalid_parameters``, ``invalid_source``, ``too_many_jobs``) before
    writing anything. The worker is sent the job once the surrounding transaction commits, on the
    queue its predicted work chooses (``queue_for``).
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
    _check_user_limit(user)
    try:
        with transaction.atomic():
            job = RestorationJob.objects.create(
                item=item, source_version=source, task=task, params=cleaned, recipe_key=key,
                queue=queue_for(task, cleaned, source.width, source.height),
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
    """Sends the job's id to the django-q2 broker (plain id: the worker reads the row), on the
    queue the job was given (``broker_queue``)."""
    from django_q.tasks import async_task

    queue = RestorationJob.objects.filter(pk=job_id).values_list("queue", flat=True).first()
    extra = {"cluster": name} if (name := broker_queue(queue)) else {}
    async_task(TASK_FUNCTION, job_id, task_name=f"restoration-job-{job_id}", group="restoration-jobs", **extra)


def who(user) -> str:
    """How a job's messages name the account that acted (its username, else "the system")."""
    return user.get_username() if getattr(user, "is_authenticated", False) else "the system"


def cancel_job(job: RestorationJob, *, user) -> RestorationJob:
    """Cancels a job: a queued one at once (a worker that picks it up later does nothing); for a
    running one, records the request (``cancel_requested_at``/``_by``), and its worker stops at
    its next progress report (between tiles), stores nothing and marks it cancelled. Asking again
    for a running job changes nothing. Raises ``JobError("not_cancellable")`` for a finished job."""
    now = timezone.now()
    acting = user if getattr(user, "is_authenticated", False) else None
    if RestorationJob.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
        status=JobStatus.CANCELLED, finished_at=now, heartbeat_at=now, cancel_requested_at=now,
        cancel_requested_by=acting, error=f"Cancelled by {who(user)}.",
    ):
        logger.info("Job %s cancelled by %s", job.pk, who(user))
    elif RestorationJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING, cancel_requested_at__isnull=True).update(
        cancel_requested_at=now, cancel_requested_by=acting,
    ):
        logger.info("Job %s: %s asked to cancel it while it runs", job.pk, who(user))
    elif not RestorationJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).exists():
        job.refresh_from_db()
        raise JobError("not_cancellable", f"Only queued or running jobs can be cancelled; job {job.pk} is {job.status}.")
    job.refresh_from_db()
    return job


def retry_job(job: RestorationJob, *, user) -> Submission:
    """Submits a failed or cancelled job's recipe again, as a new job (the old one keeps its
    history); returns the live job when the recipe is already queued, running or done."""
    if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise JobError("not_retryable", f"Only failed or cancelled jobs can be retried; job {job.pk} is {job.status}.")
    params = {k: v for k, v in job.params.items() if v is not None}
    return submit_job(job.item, task=job.task, params=params, source_version=job.source_version, user=user)

"""Restoration jobs: submitting, running, cancelling and reaping them (the only writer of
``RestorationJob`` rows).

Life of a job::

    submit_job ──► queued ──(worker claims it)──► running ──► succeeded (result_version set)
                     │  ▲                            │
             cancel_job│  └─ transient error, or ────┤
                     ▼     worker died (reaper)      ▼
                 cancelled                         failed (error, failure event)

- **Recipe.** ``recipe_key`` = sha256 of the canonical JSON of (source version id, task, the
  parameters that change the result, weights sha256, and the reference version's sha256 when the
  job names one). A partial unique constraint allows one
  queued, running or succeeded job per key: a request for a recipe that succeeded reuses its
  derivative; one for a recipe queued or running gets that job back; two racing requests
  cannot both insert (the loser reads the winner's row).
- **Queue.** The job row is committed first, then ``async_task`` is sent with its id from
  ``transaction.on_commit``, so a worker never looks for a row that is not there yet.
  ``execute_job`` claims the row with one conditional UPDATE (queued -> running): a cancelled
  job, or a second delivery of the same message, does nothing.
- **Fixity.** The original's stored bytes are hashed before the run and again once the
  derivative is written; any difference fails the job and stores nothing.
- **Failures.** Every exception fails the job with a readable ``error`` and a PREMIS
  ``modification`` event with outcome ``failure`` linked to the source version; nothing is
  stored (the derivative and its version are written last, in one transaction, and their files
  are removed if that fails). Transient errors (``is_transient``: out of memory, I/O errors
  other than a missing or forbidden file) re-queue the job until ``JOB_MAX_ATTEMPTS`` runs.
- **Heartbeat and reaper.** A running job writes its progress (and ``heartbeat_at``) at most
  every ``JOB_PROGRESS_INTERVAL`` seconds. ``reap_stale_jobs`` (a django-q2 schedule every
  minute and ``manage.py reap_jobs``) re-queues a running job silent for ``JOB_STALE_SECONDS``
  (its worker died: kill -9, OOM killer, lost machine), or fails it when out of attempts; it
  also re-sends queued jobs whose message may have been lost. Each run writes only while it
  still owns the row (status running, same attempt number), so a reaped run that wakes up
  discards its result instead of overwriting the new attempt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from restoration import engine, imaging, provenance, services, xmp
from restoration.models import (
    ACTIVE_JOB_STATUSES,
    LIVE_JOB_STATUSES,
    TASK_VERSION_KINDS,
    EventOutcome,
    EventType,
    Item,
    JobStatus,
    JobTask,
    RestorationJob,
    Version,
)

logger = logging.getLogger(__name__)

TASK_FUNCTION = "restoration.tasks.run_job"
MAX_ERROR_LENGTH = 2000


class JobError(Exception):
    """A request the archive refuses: ``code`` (stable), ``message`` (one sentence), ``field``."""

    def __init__(self, code: str, message: str, *, field: str = "non_field_errors") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class JobFailed(Exception):
    """A run that cannot succeed (e.g. the original no longer matches its checksum)."""


class JobLost(Exception):
    """The run no longer owns its job (the reaper re-queued or failed it): stop, write nothing."""


@dataclass(frozen=True)
class Submission:
    job: RestorationJob
    created: bool  # a new job was queued

    @property
    def reused(self) -> bool:
        """An earlier job already produced this recipe's derivative."""
        return not self.created and self.job.status == JobStatus.SUCCEEDED


# --- Submitting -------------------------------------------------------------------------------


def recipe_key(*, source_version_id: int, task: str, params: Mapping[str, Any], weights_sha256: str,
               reference_sha256: str | None = None) -> str:
    """sha256 of the canonical JSON (sorted keys, no spaces, ASCII) of what decides the result.

    ``weights_sha256`` is the weights file's checksum, or for a method without weights the
    checksum of its description (``engine.WeightsInfo``). ``reference_sha256`` (the content of a
    reference version) is part of the recipe only when the job names a reference, so the keys of
    jobs without one are those they always were.
    """
    recipe = {
        "source_version": source_version_id,
        "task": task,
        "params": engine.recipe_params(task, params),
        "weights_sha256": weights_sha256,
    }
    if reference_sha256 is not None:
        recipe["reference_sha256"] = reference_sha256
    canonical = json.dumps(recipe, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _check_task(task: Any) -> str:
    if task not in JobTask.values:
        known = ", ".join(JobTask.values)
        raise JobError("unknown_task", f"Unknown task {task!r}; tasks are {known}.", field="task")
    if task not in engine.available_tasks():
        available = ", ".join(engine.available_tasks()) or "none"
        raise JobError(
            "task_unavailable", f"The engine cannot {task} yet (available: {available}).", field="task"
        )
    return task


def _check_reference(params: Mapping[str, Any], user) -> Version | None:
    """The reference version a job names: of the same item or another one, which ``user`` may
    read (the API's rule, ``Item.objects.visible_to``). A version the user may not read gets the
    same answer as one that does not exist, so the refusal reveals nothing."""
    reference = params.get("reference_version")
    if reference is None:
        return None
    found = (
        Version.objects.filter(pk=reference, item__in=Item.objects.visible_to(user)).select_related("item").first()
    )
    if found is None:
        raise JobError(
            "invalid_parameters", f"reference_version {reference}: there is no version {reference} that you may read.",
            field="params",
        )
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
    reference = _check_reference(cleaned, user)
    try:
        weights = engine.weights_info(task, cleaned)
    except engine.EngineUnavailable as exc:
        raise JobError("task_unavailable", str(exc), field=exc.field) from exc

    key = recipe_key(source_version_id=source.pk, task=task, params=cleaned, weights_sha256=weights.sha256,
                     reference_sha256=reference.sha256 if reference is not None else None)
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
            _enqueue_on_commit(job.pk)
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


def _enqueue_on_commit(job_id: int) -> None:
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


# --- Running (in a django-q2 worker) -----------------------------------------------------------


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class _ProgressWriter:
    """``progress(fraction)`` for the engine: writes progress and heartbeat at most every
    ``interval`` seconds, and raises ``JobLost`` when the run no longer owns its job."""

    def __init__(self, job_id: int, attempt: int, interval: float, *, clock=time.monotonic) -> None:
        self.job_id, self.attempt, self.interval, self.clock = job_id, attempt, interval, clock
        self.last = clock()
        self.writes = 0

    def __call__(self, fraction: float) -> None:
        now = self.clock()
        if now - self.last < self.interval:
            return
        self.last = now
        self.writes += 1
        owned = _owned(self.job_id, self.attempt).update(
            progress=min(max(float(fraction), 0.0), 1.0), heartbeat_at=timezone.now()
        )
        if not owned:
            raise JobLost(f"Job {self.job_id} was taken back while it ran.")


def _owned(job_id: int, attempt: int):
    """The job's row while this run (attempt ``attempt``) still owns it."""
    return RestorationJob.objects.filter(pk=job_id, status=JobStatus.RUNNING, attempts=attempt)


def _claim(job_id: int) -> bool:
    now = timezone.now()
    return bool(
        RestorationJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
            status=JobStatus.RUNNING, attempts=F("attempts") + 1, started_at=now, heartbeat_at=now,
            finished_at=None, progress=0.0, worker_host=worker_name()[:200], error="",
        )
    )


def _verify_original(version: Version, *, copy_to: Path | None = None) -> None:
    """Hashes the stored file (copying it to ``copy_to`` in the same pass) against ``version.sha256``."""
    try:
        with default_storage.open(version.file.name, "rb") as fh:
            if copy_to is None:
                digest, _ = imaging.sha256_stream(fh)
            else:
                with open(copy_to, "wb") as sink:
                    digest, _ = imaging.sha256_stream(fh, sink=sink)
    except FileNotFoundError as exc:
        raise JobFailed(f"The stored file of version {version.pk} ({version.file.name}) is missing.") from exc
    if digest != version.sha256:
        raise JobFailed(
            f"Fixity check failed: the stored file of version {version.pk} has sha256 {digest}, "
            f"the archive recorded {version.sha256}. Nothing was derived from it."
        )


def _delete_files(version: Version) -> None:
    for field in (version.file, version.thumbnail, version.access_file):
        if field and field.name:
            try:
                default_storage.delete(field.name)
            except Exception:  # noqa: BLE001 - keep the original error; an operator sees the log
                logger.exception("Could not delete %s of a discarded derivative", field.name)


def _derivative_filename(job: RestorationJob) -> str:
    stem = Path(job.source_version.original_filename or job.item.identifier).stem or "image"
    return f"{stem}-{job.task}.png"


def _reference(job: RestorationJob) -> Version | None:
    """The job's reference version (style), if it names one."""
    pk = (job.params or {}).get("reference_version")
    if pk is None:
        return None
    reference = Version.objects.select_related("item").filter(pk=pk).first()
    if reference is None:
        raise JobFailed(f"The reference version {pk} of the job no longer exists.")
    return reference


def _digital_source_type(job: RestorationJob) -> str:
    """IPTC digital source type of the result: per task (``xmp.DIGITAL_SOURCE_TYPES``), except the
    style method color, a global colour and tone map that no trained model takes part in."""
    if job.task == JobTask.STYLE and (job.params or {}).get("method") == "color":
        return xmp.ALGORITHMICALLY_ENHANCED
    return xmp.DIGITAL_SOURCE_TYPES[job.task]


def _description(job: RestorationJob, result: engine.RunResult, reference: Version | None) -> str:
    """The derivative's ``dc:description``: task, source, model and weights, reference, parameters."""
    source = job.source_version
    if result.weights is None or result.weights.has_weights:
        by = f"by the model {result.model_name}, weights sha256 {result.weights_sha256}"
    else:
        card = result.weights.card
        by = (f"by {card.get('algorithm', result.model_name)} (no trained generator; method sha256 "
              f"{result.weights_sha256})")
        features = card.get("feature_network")
        if features:
            by += f", feature network {features.get('kind')}"
            if features.get("weights_sha256"):
                by += f" (weights sha256 {features['weights_sha256']})"
    text = f"{JobTask(job.task).label} of {job.item.identifier} (version {source.pk}) {by}"
    if reference is not None:
        text += f", reference {reference.item.identifier} (version {reference.pk}, sha256 {reference.sha256})"
    shown = {k: v for k, v in engine.recipe_params(job.task, job.params).items()
             if v is not None and k != "reference_version"}
    if shown:
        text += ", parameters " + " ".join(f"{k}={v}" for k, v in sorted(shown.items()))
    return f"{text}, {engine.ENGINE_NAME} {result.engine_version}."


def _run(job: RestorationJob, attempt: int) -> Version:
    """Verify, run the engine, label, verify again, store: returns the new version."""
    timings: dict[str, float] = {}
    clock = time.monotonic()
    source = job.source_version
    reference = _reference(job)
    with tempfile.TemporaryDirectory(prefix=f"job-{job.pk}-", dir=settings.FILE_UPLOAD_TEMP_DIR or None) as tmp:
        source_path = Path(tmp) / ("source" + Path(source.file.name).suffix.lower())
        _verify_original(source, copy_to=source_path)
        reference_path = None
        if reference is not None:  # a checked copy: the engine reads exactly the recorded bytes
            reference_path = Path(tmp) / ("reference" + Path(reference.file.name).suffix.lower())
            _verify_original(reference, copy_to=reference_path)
        timings["fetch_and_verify"] = round(time.monotonic() - clock, 4)

        output = Path(tmp) / "derivative.png"
        progress = _ProgressWriter(job.pk, attempt, settings.JOB_PROGRESS_INTERVAL)
        result = engine.run(job.task, source_path, output, job.params, expected_sha256=job.weights_sha256,
                            progress=progress, reference=reference_path)
        timings.update(load_model=result.load_seconds, inference=result.inference_seconds)

        clock = time.monotonic()
        xmp.write_labels(
            output,
            digital_source_type=_digital_source_type(job),
            source_identifier=job.item.identifier,
            description=_description(job, result, reference),
            creator_tool=f"{engine.ENGINE_NAME} {result.engine_version}",
        )
        _verify_original(source)
        timings["label_and_verify"] = round(time.monotonic() - clock, 4)

        clock = time.monotonic()
        duration = (timezone.now() - job.started_at).total_seconds() if job.started_at else None
        detail = {
            "job": job.pk,
            "task": job.task,
            "parameters": job.params,
            "recipe_key": job.recipe_key,
            "device": result.device,
            "seed": result.seed,
            "duration_seconds": round(duration, 3) if duration is not None else None,
            "inference_seconds": result.inference_seconds,
            "model": result.model_name,
            "weights_sha256": result.weights_sha256,
            "worker": worker_name(),
            "source_sha256": source.sha256,
            **_weights_detail(result.weights),
            **_reference_detail(reference),
        }
        weights_sha = detail["weights_sha256"]
        version = None
        try:
            with open(output, "rb") as fh, transaction.atomic():
                version = services.add_derivative(
                    source, fh,
                    kind=TASK_VERSION_KINDS[job.task],
                    filename=_derivative_filename(job),
                    user=job.requested_by,
                    software=engine.software(model_name=result.model_name, weights_sha256=weights_sha),
                    detail=detail,
                    also_from=[reference] if reference is not None else (),
                )
                timings["store"] = round(time.monotonic() - clock, 4)
                now = timezone.now()
                if not _owned(job.pk, attempt).update(
                    status=JobStatus.SUCCEEDED, progress=1.0, result_version=version, finished_at=now,
                    heartbeat_at=now, device=result.device[:40], model_name=result.model_name[:200],
                    timings=timings,
                ):
                    raise JobLost(f"Job {job.pk} was taken back while it ran; its result is discarded.")
        except BaseException:
            if version is not None:
                _delete_files(version)  # the rows were rolled back; their files must go too
            raise
    return version


def _weights_detail(weights: engine.WeightsInfo | None) -> dict[str, Any]:
    """Event detail of what ran: the weights file's name, or for a method without weights, its
    description and that description's checksum (``weights_sha256`` is then None)."""
    if weights is None:
        return {}
    if weights.has_weights:
        return {"weights_file": weights.path.name}
    return {"weights_sha256": None, "weights_file": None, "method": weights.card, "method_sha256": weights.sha256}


def _reference_detail(reference: Version | None) -> dict[str, Any]:
    if reference is None:
        return {}
    return {"reference_version": reference.pk, "reference_item": reference.item.identifier,
            "reference_sha256": reference.sha256}


def is_transient(exc: BaseException) -> bool:
    """Worth another attempt: out of memory (host or GPU), or an I/O error that is not a missing
    or forbidden file (a full disk, a storage or network hiccup)."""
    if engine.is_out_of_memory(exc):
        return True
    return isinstance(exc, OSError) and not isinstance(
        exc, (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
    )


def _message(exc: BaseException) -> str:
    if isinstance(exc, (JobFailed, engine.WeightsChanged, engine.EngineUnavailable)):
        text = str(exc)
    elif isinstance(exc, MemoryError):
        text = "Out of memory."
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:MAX_ERROR_LENGTH]


def _record_failure(job: RestorationJob, message: str) -> None:
    has_weights = engine.uses_weights(job.task, job.params)
    weights_sha = (job.weights_sha256 or None) if has_weights else None
    software = engine.software(model_name=job.model_name or None, weights_sha256=weights_sha)
    sources = [job.source_version]
    reference_pk = (job.params or {}).get("reference_version")
    reference = Version.objects.filter(pk=reference_pk).first() if reference_pk is not None else None
    if reference is not None and reference.pk != job.source_version_id:
        sources.append(reference)
    extra = {} if has_weights else {"method_sha256": job.weights_sha256}
    provenance.record_event(
        EventType.MODIFICATION,
        item=job.item,
        outcome=EventOutcome.FAILURE,
        sources=sources,
        detail={
            "job": job.pk,
            "task": job.task,
            "parameters": job.params,
            "error": message,
            "attempts": job.attempts,
            "worker": job.worker_host,
            "weights_sha256": weights_sha,
            **extra,
        },
        user=job.requested_by,
        software=software,
    )


def _fail(job: RestorationJob, attempt: int, message: str) -> bool:
    """Marks the job failed (if this run still owns it) and records the failure event."""
    with transaction.atomic():
        if not _owned(job.pk, attempt).update(
            status=JobStatus.FAILED, error=message, finished_at=timezone.now(), heartbeat_at=timezone.now()
        ):
            return False
        job.refresh_from_db()
        _record_failure(job, message)
    logger.warning("Job %s failed: %s", job.pk, message)
    return True


def _requeue(job: RestorationJob, attempt: int, message: str) -> bool:
    with transaction.atomic():
        if not _owned(job.pk, attempt).update(
            status=JobStatus.QUEUED, progress=0.0, heartbeat_at=timezone.now(),
            error=f"Attempt {attempt} failed ({message}); queued again."[:MAX_ERROR_LENGTH],
        ):
            return False
        _enqueue_on_commit(job.pk)
    logger.warning("Job %s: attempt %s failed (%s); queued again", job.pk, attempt, message)
    return True


def execute_job(job_id: int) -> str:
    """The worker's side: claim the job, run it, store the result or record the failure.

    Returns a one-line summary (kept in django-q2's task result). Never raises for a failed
    run (the job carries the error); a django-q2 timeout fails the job and is re-raised so the
    worker process is recycled.
    """
    from django_q.exceptions import TimeoutException

    if not _claim(job_id):
        status = RestorationJob.objects.filter(pk=job_id).values_list("status", flat=True).first()
        logger.info("Job %s not run: it is %s", job_id, status or "gone")
        return f"job {job_id}: not run ({status or 'gone'})"
    job = RestorationJob.objects.select_related("item", "source_version", "requested_by").get(pk=job_id)
    attempt = job.attempts
    try:
        version = _run(job, attempt)
    except JobLost as exc:
        logger.warning("%s", exc)
        return f"job {job_id}: lost"
    except TimeoutException:
        _fail(job, attempt, f"The job took longer than the worker's timeout ({settings.Q_CLUSTER.get('timeout')} s).")
        raise
    except Exception as exc:
        message = _message(exc)
        if is_transient(exc) and attempt < settings.JOB_MAX_ATTEMPTS:
            _requeue(job, attempt, message)
            return f"job {job_id}: attempt {attempt} failed, queued again"
        logger.error("Job %s failed", job_id, exc_info=not isinstance(exc, (JobFailed, engine.WeightsChanged)))
        _fail(job, attempt, message)
        return f"job {job_id}: failed"
    logger.info("Job %s succeeded: version %s", job_id, version.pk)
    return f"job {job_id}: version {version.pk}"


# --- Reaping ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReapReport:
    requeued: list[int]
    failed: list[int]
    resent: list[int]

    def __str__(self) -> str:
        return (f"{len(self.requeued)} re-queued, {len(self.failed)} failed, "
                f"{len(self.resent)} queued job(s) sent again")


def reap_stale_jobs(*, stale_seconds: float | None = None, now=None) -> ReapReport:
    """Jobs whose worker stopped giving signs of life for ``stale_seconds`` (default
    ``JOB_STALE_SECONDS``): a running one is re-queued, or failed when it has had
    ``JOB_MAX_ATTEMPTS`` runs; a queued one is sent to the broker again (a lost message; a
    duplicate does nothing, as only one worker can claim the job)."""
    now = now or timezone.now()
    stale = settings.JOB_STALE_SECONDS if stale_seconds is None else stale_seconds
    cutoff = now - timedelta(seconds=stale)
    requeued, failed, resent = [], [], []
    stale_jobs = RestorationJob.objects.filter(status__in=ACTIVE_JOB_STATUSES, heartbeat_at__lt=cutoff)
    for job in stale_jobs.select_related("item", "source_version", "requested_by").order_by("pk"):
        if job.status == JobStatus.QUEUED:
            with transaction.atomic():
                if RestorationJob.objects.filter(pk=job.pk, status=JobStatus.QUEUED, heartbeat_at=job.heartbeat_at).update(
                    heartbeat_at=now
                ):
                    _enqueue_on_commit(job.pk)
                    resent.append(job.pk)
            continue
        silent = int((now - job.heartbeat_at).total_seconds())
        message = f"The worker {job.worker_host or '?'} stopped responding (no progress for {silent} s)"
        if job.attempts < settings.JOB_MAX_ATTEMPTS and _requeue(job, job.attempts, message):
            requeued.append(job.pk)
        elif job.attempts >= settings.JOB_MAX_ATTEMPTS and _fail(
            job, job.attempts, f"{message}; no attempts left ({job.attempts} of {settings.JOB_MAX_ATTEMPTS})."
        ):
            failed.append(job.pk)
    report = ReapReport(requeued, failed, resent)
    if requeued or failed or resent:
        logger.warning("Reaper: %s", report)
    return report

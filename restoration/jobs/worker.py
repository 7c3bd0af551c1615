"""Running a restoration job in a django-q2 worker: claim, verify, run the engine, label, store.

Each run writes only while it still owns the row (status running, same attempt number); every
exception fails the job with a readable error and a PREMIS failure event, or re-queues it when
it is transient (``is_transient``).

Between tiles (each progress report) a run also learns that a curator asked to cancel it
(``JobCancelled``: nothing stored, the job ``cancelled``, an event naming who asked). A worker
process stopped with SIGTERM puts its running job back in the queue at once (``WorkerStopping``,
see ``restoration.jobs.lifecycle``), and temporary folders are named after the job and the
process (``job-<id>-<pid>-``) so a starting worker can remove those of dead processes.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from restoration.core import fixity, provenance, services, xmp
from restoration.core.models import JobStatus, RestorationJob, Version
from restoration.jobs import engine, labels, lifecycle, params, submission
from restoration.jobs.tasks import TASKS

logger = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 2000


class JobFailed(Exception):
    """A run that cannot succeed (e.g. the original no longer matches its checksum)."""


class JobLost(Exception):
    """The run no longer owns its job (the reaper re-queued or failed it): stop, write nothing."""


class JobCancelled(Exception):
    """A curator asked to cancel the running job: stop, store nothing, mark it cancelled."""


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
        # One UPDATE both reports progress and asks whether to go on: it changes no row when the
        # run lost its job or a cancel was asked for.
        owned = _owned(self.job_id, self.attempt).filter(cancel_requested_at__isnull=True).update(
            progress=min(max(float(fraction), 0.0), 1.0), heartbeat_at=timezone.now()
        )
        if not owned:
            raise _stopped(self.job_id, self.attempt)


def _stopped(job_id: int, attempt: int) -> Exception:
    """Why a run may not go on: ``JobCancelled`` when a cancel was asked for, else ``JobLost``."""
    if _owned(job_id, attempt).filter(cancel_requested_at__isnull=False).exists():
        return JobCancelled(f"Job {job_id} was cancelled while it ran.")
    return JobLost(f"Job {job_id} was taken back while it ran.")


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
    """Re-hashes the stored file (copying it to ``copy_to`` in the same pass) against its record."""
    checked = fixity.verify(version, copy_to=copy_to)
    if checked.missing:
        raise JobFailed(checked.problem())
    if not checked.intact:
        raise JobFailed(f"Fixity check failed: {checked.problem()} Nothing was derived from it.")


def _derivative_filename(job: RestorationJob, suffix: str = "") -> str:
    stem = Path(job.source_version.original_filename or job.item.identifier).stem or "image"
    return f"{stem}-{job.task}{'-' + suffix if suffix else ''}.png"


def _references(job: RestorationJob) -> dict[str, Version]:
    """The versions the job's reference parameters name (``{parameter: version}``)."""
    found: dict[str, Version] = {}
    for name, pk in params.references(TASKS[job.task], job.params).items():
        reference = Version.objects.select_related("item").filter(pk=pk).first()
        if reference is None:
            raise JobFailed(f"The reference version {pk} of the job no longer exists.")
        found[name] = reference
    return found


def _making(job: RestorationJob, result: engine.RunResult, made_at,
            references: dict[str, Version] | None = None) -> labels.Making:
    """How the result was made, for its label (the same facts the provenance event records)."""
    weights = result.weights
    has_weights = weights is None or weights.has_weights
    ref = (references or {}).get("reference_version")
    return labels.Making(
        TASKS[job.task].version_kind, model=result.model_name, made_at=made_at,
        weights_sha256=result.weights_sha256 if has_weights else None,
        method_sha256=None if has_weights else result.weights_sha256,
        reference=labels.reference_text(ref.item.identifier, ref.pk) if ref is not None else None,
    )


def _description(job: RestorationJob, result: engine.RunResult, references: dict[str, Version], label: str) -> str:
    """The derivative's ``dc:description``: its label, then task, source, model and weights,
    references and parameters."""
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
    text = f"{label}. {TASKS[job.task].title} of {job.item.identifier} (version {source.pk}) {by}"
    for name, reference in references.items():
        what = "reference" if name == "reference_version" else name.replace("_", " ")
        text += f", {what} {reference.item.identifier} (version {reference.pk}, sha256 {reference.sha256})"
    shown = {k: v for k, v in engine.recipe_params(job.task, job.params).items()
             if v is not None and k not in references}
    if shown:
        text += ", parameters " + " ".join(f"{k}={v}" for k, v in sorted(shown.items()))
    return f"{text}, {engine.ENGINE_NAME} {result.engine_version}."


def _check_labels(job: RestorationJob, references: dict[str, Version]) -> None:
    """Refuses, before the model runs, a job whose labels could not be written into its result:
    the identifiers (the item's and the references') are the values a curator chose; the rest of
    the label is the archive's own text."""
    task = TASKS[job.task]
    identifiers = " ".join(reference.item.identifier for reference in references.values())
    try:
        xmp.check_labels(
            digital_source_type=task.source_type(job.params), source_identifier=job.item.identifier,
            description=f"{task.title} of {job.item.identifier} {identifiers}", creator_tool=engine.ENGINE_NAME,
        )
    except xmp.XmpError as exc:
        raise JobFailed(f"The derivative's XMP label cannot be written: {exc} Nothing was run.") from exc


def _run(job: RestorationJob, attempt: int) -> Version:
    """Verify, run the engine, label, verify again, store: returns the new version."""
    task = TASKS[job.task]
    timings: dict[str, float] = {}
    clock = time.monotonic()
    source = job.source_version
    references = _references(job)
    _check_labels(job, references)
    with tempfile.TemporaryDirectory(prefix=lifecycle.temp_prefix(job.pk), dir=lifecycle.temp_root()) as tmp:
        source_path = Path(tmp) / ("source" + Path(source.file.name).suffix.lower())
        _verify_original(source, copy_to=source_path)
        reference_paths = {}
        for name, reference in references.items():  # checked copies: the engine reads the recorded bytes
            reference_paths[name] = Path(tmp) / (name + Path(reference.file.name).suffix.lower())
            _verify_original(reference, copy_to=reference_paths[name])
        timings["fetch_and_verify"] = round(time.monotonic() - clock, 4)

        output = Path(tmp) / "derivative.png"
        companions_dir = Path(tmp) / "companions"
        companions_dir.mkdir()
        progress = _ProgressWriter(job.pk, attempt, settings.JOB_PROGRESS_INTERVAL)
        result = engine.run(job.task, source_path, output, job.params, expected_sha256=job.weights_sha256,
                            progress=progress, references=reference_paths, workdir=companions_dir)
        timings.update(load_model=result.load_seconds, inference=result.inference_seconds)

        clock = time.monotonic()
        made_at = timezone.now()
        label = labels.label(_making(job, result, made_at, references))
        xmp.write_labels(
            output,
            digital_source_type=task.source_type(job.params),
            source_identifier=job.item.identifier,
            description=_description(job, result, references, label),
            creator_tool=f"{engine.ENGINE_NAME} {result.engine_version}",
        )
        _verify_original(source)
        timings["label_and_verify"] = round(time.monotonic() - clock, 4)

        clock = time.monotonic()
        duration = (made_at - job.started_at).total_seconds() if job.started_at else None
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
            **_reference_detail(references),
        }
        software = engine.software(model_name=result.model_name, weights_sha256=detail["weights_sha256"])
        # Rows and stored files together: a failure anywhere below (a lost job included) removes both.
        with open(output, "rb") as fh, services.atomic_with_files():
            version = services.add_derivative(
                source, fh, kind=task.version_kind, filename=_derivative_filename(job), user=job.requested_by,
                software=software, detail=detail, also_from=references.values(), made_at=made_at,
            )
            for companion in task.companions:
                path = (result.companions or {}).get(companion.name)
                if path is None:
                    continue
                with open(path, "rb") as companion_fh:
                    services.add_derivative(
                        source, companion_fh, kind=companion.version_kind,
                        filename=_derivative_filename(job, companion.filename_suffix or companion.name),
                        user=job.requested_by, software=software, made_at=made_at, also_from=[version],
                        detail={"job": job.pk, "task": job.task, "companion": companion.name,
                                "companion_of": version.pk, "model": result.model_name,
                                "weights_sha256": detail["weights_sha256"], "recipe_key": job.recipe_key},
                    )
            timings["store"] = round(time.monotonic() - clock, 4)
            now = timezone.now()
            if not _owned(job.pk, attempt).filter(cancel_requested_at__isnull=True).update(
                status=JobStatus.SUCCEEDED, progress=1.0, result_version=version, finished_at=now,
                heartbeat_at=now, device=result.device[:40], model_name=result.model_name[:200],
                timings=timings,
            ):
                raise _stopped(job.pk, attempt)  # cancelled or lost: the rows and files roll back
    return version


def _weights_detail(weights: engine.WeightsInfo | None) -> dict[str, Any]:
    """Event detail of what ran: the weights file's name, or for a method without weights, its
    description and that description's checksum (``weights_sha256`` is then None)."""
    if weights is None:
        return {}
    if weights.has_weights:
        return {"weights_file": weights.path.name}
    return {"weights_sha256": None, "weights_file": None, "method": weights.card, "method_sha256": weights.sha256}


def _reference_detail(references: dict[str, Version]) -> dict[str, Any]:
    """Event detail of the versions the job's reference parameters name (``<name>``,
    ``<stem>_item``, ``<stem>_sha256``; ``reference_version`` gives ``reference_item`` ...)."""
    found: dict[str, Any] = {}
    for name, reference in references.items():
        stem = name.removesuffix("_version")
        found.update({name: reference.pk, f"{stem}_item": reference.item.identifier, f"{stem}_sha256": reference.sha256})
    return found


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


def _unfinished_run(job: RestorationJob, message: str) -> dict[str, Any]:
    """What the event of a run that made nothing (failed or cancelled) records: its sources,
    software and detail."""
    has_weights = engine.uses_weights(job.task, job.params)
    weights_sha = (job.weights_sha256 or None) if has_weights else None
    software = engine.software(model_name=job.model_name or None, weights_sha256=weights_sha)
    sources = [job.source_version]
    reference_ids = set(params.references(TASKS[job.task], job.params).values()) - {job.source_version_id}
    sources += list(Version.objects.filter(pk__in=reference_ids).order_by("pk"))
    extra = {} if has_weights else {"method_sha256": job.weights_sha256}
    detail = {
        "job": job.pk,
        "task": job.task,
        "parameters": job.params,
        "error": message,
        "attempts": job.attempts,
        "worker": job.worker_host,
        "weights_sha256": weights_sha,
        **extra,
    }
    return {"sources": sources, "detail": detail, "user": job.requested_by, "software": software}


def _record_failure(job: RestorationJob, message: str) -> None:
    provenance.record_failed_derivation(job.item, **_unfinished_run(job, message))


def fail(job: RestorationJob, attempt: int, message: str) -> bool:
    """Marks the job failed (if this run still owns it) and records the failure event; a job whose
    cancel was asked for is cancelled instead."""
    if cancel_run(job, attempt):
        return True
    with transaction.atomic():
        if not _owned(job.pk, attempt).update(
            status=JobStatus.FAILED, error=message, finished_at=timezone.now(), heartbeat_at=timezone.now()
        ):
            return False
        job.refresh_from_db()
        _record_failure(job, message)
    logger.warning("Job %s failed: %s", job.pk, message)
    return True


def cancel_run(job: RestorationJob, attempt: int) -> bool:
    """Ends a run whose cancel was asked for (if this run still owns the job): the job becomes
    ``cancelled`` and a ``modification`` event with outcome failure says who cancelled it."""
    with transaction.atomic():
        row = _owned(job.pk, attempt).filter(cancel_requested_at__isnull=False).select_related(
            "cancel_requested_by").first()
        if row is None:
            return False
        by = submission.who(row.cancel_requested_by)
        message = f"Cancelled by {by} while running ({round(row.progress * 100)}% done); nothing was stored."
        now = timezone.now()
        if not _owned(job.pk, attempt).update(status=JobStatus.CANCELLED, error=message, finished_at=now,
                                              heartbeat_at=now):
            return False
        job.refresh_from_db()
        provenance.record_cancelled_derivation(job.item, cancelled_by=row.cancel_requested_by,
                                               **_unfinished_run(job, message))
    logger.info("Job %s cancelled by %s while running", job.pk, by)
    return True


def requeue(job: RestorationJob, attempt: int, message: str, *, charge: bool = True) -> bool:
    """Puts a running job back in the queue (if this run still owns it), or cancels it when a
    cancel was asked for. ``charge=False`` (a worker that was stopped, not the job's fault) gives
    the attempt back."""
    if cancel_run(job, attempt):
        return True
    with transaction.atomic():
        reason = f"Attempt {attempt} failed ({message})" if charge else message
        if not _owned(job.pk, attempt).update(
            status=JobStatus.QUEUED, progress=0.0, heartbeat_at=timezone.now(),
            attempts=F("attempts") - (0 if charge else 1),
            error=f"{reason}; queued again."[:MAX_ERROR_LENGTH],
        ):
            return False
        submission.enqueue_on_commit(job.pk)
    logger.warning("Job %s: %s; queued again", job.pk, reason)
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
        with lifecycle.running(job_id):
            version = _run(job, attempt)
    except lifecycle.WorkerStopping:
        requeue(job, attempt, f"The worker {worker_name()} was stopped (SIGTERM) while it ran the job", charge=False)
        raise SystemExit(0)  # the process was asked to end: end it (django-q2 starts another if it must)
    except JobCancelled:
        cancel_run(job, attempt)
        return f"job {job_id}: cancelled"
    except JobLost as exc:
        logger.warning("%s", exc)
        return f"job {job_id}: lost"
    except TimeoutException:
        fail(job, attempt, f"The job took longer than the worker's timeout ({settings.Q_CLUSTER.get('timeout')} s).")
        raise
    except Exception as exc:
        message = _message(exc)
        if is_transient(exc) and attempt < settings.JOB_MAX_ATTEMPTS:
            requeue(job, attempt, message)
            return f"job {job_id}: attempt {attempt} failed, queued again"
        logger.error("Job %s failed", job_id, exc_info=not isinstance(exc, (JobFailed, engine.WeightsChanged)))
        fail(job, attempt, message)
        return f"job {job_id}: failed"
    logger.info("Job %s succeeded: version %s", job_id, version.pk)
    return f"job {job_id}: version {version.pk}"

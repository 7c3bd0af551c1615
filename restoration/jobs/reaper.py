"""The reaper: jobs whose worker died are re-queued or failed; lost queue messages are re-sent.

Run every minute by a django-q2 schedule (``restoration.tasks.reap_stale_jobs``, made by
migration 0004) and by ``manage.py reap_jobs``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from restoration.core.models import ACTIVE_JOB_STATUSES, JobStatus, RestorationJob
from restoration.jobs import submission
from restoration.jobs.worker import fail, requeue

logger = logging.getLogger(__name__)


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
                    submission.enqueue_on_commit(job.pk)
                    resent.append(job.pk)
            continue
        silent = int((now - job.heartbeat_at).total_seconds())
        message = f"The worker {job.worker_host or '?'} stopped responding (no progress for {silent} s)"
        if job.attempts < settings.JOB_MAX_ATTEMPTS and requeue(job, job.attempts, message):
            requeued.append(job.pk)
        elif job.attempts >= settings.JOB_MAX_ATTEMPTS and fail(
            job, job.attempts, f"{message}; no attempts left ({job.attempts} of {settings.JOB_MAX_ATTEMPTS})."
        ):
            failed.append(job.pk)
    report = ReapReport(requeued, failed, resent)
    if requeued or failed or resent:
        logger.warning("Reaper: %s", report)
    return report

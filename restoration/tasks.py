"""Functions django-q2 workers call, by dotted name, with plain ids (the work is in ``jobs``)."""

from __future__ import annotations

from restoration import jobs


def run_job(job_id: int) -> str:
    """Runs one restoration job (``jobs.execute_job``)."""
    return jobs.execute_job(job_id)


def reap_stale_jobs() -> str:
    """Re-queues or fails jobs whose worker died (scheduled every minute by migration 0004)."""
    return str(jobs.reap_stale_jobs())

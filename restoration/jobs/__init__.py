"""The jobs layer: restoration jobs submitted (``submission``), run (``worker``) and reaped
(``reaper``); the only writer of ``RestorationJob`` rows and the only importer of ``gan_engine``
(through ``engine``).

Life of a job::

    submit_job ──► queued ──(worker claims it)──► running ──► succeeded (result_version set)
                     │  ▲                            │  │
             cancel_job│  └─ transient error, worker ─┤  │ cancel_job: stops between tiles
                     │     died (reaper), SIGTERM    │  ▼
                     ▼                               │  cancelled (cancellation event)
                 cancelled                           ▼
                                                   failed (error, failure event)

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
- **Control.** ``cancel_job`` cancels a queued job, or marks a running one, whose next progress
  write (between tiles) raises ``JobCancelled``: nothing stored, a cancellation event. Jobs
  predicted long go to their own queue (``submission.queue_for``); an account may have
  ``JOB_MAX_ACTIVE_PER_USER`` jobs queued or running; SIGTERM re-queues a worker's job at once
  (``lifecycle``).
"""

from restoration.jobs.reaper import ReapReport, reap_stale_jobs
from restoration.jobs.submission import (
    JobError,
    Submission,
    cancel_job,
    enqueue,
    recipe_key,
    retry_job,
    submit_job,
    submit_many,
)
from restoration.jobs.worker import JobCancelled, JobFailed, JobLost, execute_job, is_transient

__all__ = [
    "JobCancelled", "JobError", "JobFailed", "JobLost", "ReapReport", "Submission", "cancel_job", "enqueue", "execute_job",
    "is_transient", "reap_stale_jobs", "recipe_key", "retry_job", "submit_job", "submit_many",
]

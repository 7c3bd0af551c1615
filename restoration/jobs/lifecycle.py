"""A worker process's life around its jobs: what it does when it starts and when it is stopped.

django-q2 forks its worker processes from the cluster's sentinel and sends ``post_spawn`` in
each new one; ``connect()`` (from ``RestorationConfig.ready``, before the fork) hooks
``worker_started`` to it, which

- removes the temporary folders of jobs whose process is gone (``remove_stale_temp_dirs``):
  a worker killed with SIGKILL (or the OOM killer) leaves its copy of the original behind;
- installs a SIGTERM handler: while the process runs a job (``running``), SIGTERM raises
  ``WorkerStopping`` in it, and the worker puts the job back in the queue at once (without
  counting the attempt) and ends; an idle process just ends. Without it, SIGTERM would end the
  process where it stood and leave its job ``running`` until the reaper's ``JOB_STALE_SECONDS``.

SIGKILL cannot be caught: then the reaper re-queues the job after ``JOB_STALE_SECONDS`` and the
next worker to start on the machine removes the folder (docs/jobs.md, "Faults").
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)

TEMP_PREFIX = "job-"

_current_job: int | None = None  # the job this process is running, if any
_stopping = False


class WorkerStopping(BaseException):
    """The worker process was asked to stop (SIGTERM) while it ran a job: the job goes back to
    the queue. A BaseException, as KeyboardInterrupt is, so no ``except Exception`` swallows it."""


@contextmanager
def running(job_id: int) -> Iterator[None]:
    """Marks this process as running ``job_id`` (SIGTERM then raises ``WorkerStopping``)."""
    global _current_job
    _current_job = job_id
    try:
        yield
    finally:
        _current_job = None


def on_sigterm(signum, frame) -> None:
    """SIGTERM in a worker process: stop the running job (``WorkerStopping``), or end at once when
    idle. A second signal while stopping is ignored: the job is being put back."""
    global _stopping
    if _stopping:
        return
    _stopping = True
    if _current_job is not None:
        logger.warning("SIGTERM: job %s goes back to the queue", _current_job)
        raise WorkerStopping(f"SIGTERM while running job {_current_job}")
    raise SystemExit(0)


def temp_root() -> Path:
    """Where runs make their temporary folders (``FILE_UPLOAD_TEMP_DIR``, else the system's)."""
    return Path(settings.FILE_UPLOAD_TEMP_DIR or tempfile.gettempdir())


def temp_prefix(job_id: int) -> str:
    """The name of a run's temporary folder begins with the job and this process's pid."""
    return f"{TEMP_PREFIX}{job_id}-{os.getpid()}-"


def remove_stale_temp_dirs(root: Path | None = None) -> list[Path]:
    """Removes the temporary folders of runs (``job-<id>-<pid>-...``) whose process is gone from
    this machine; those of live processes (another worker, another cluster here) stay. Returns
    the folders removed. The pid is this machine's: give each machine its own temporary folder."""
    removed = []
    for path in sorted((root or temp_root()).glob(f"{TEMP_PREFIX}*-*-*")):
        parts = path.name.split("-")
        if not path.is_dir() or not (parts[1].isdigit() and parts[2].isdigit()):
            continue
        pid = int(parts[2])
        if pid != os.getpid() and _process_alive(pid):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    if removed:
        logger.warning("Removed %d temporary folder(s) of stopped workers: %s", len(removed),
                       ", ".join(p.name for p in removed))
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def worker_started(**kwargs) -> None:
    """``post_spawn`` receiver, in each new worker process."""
    global _stopping, _current_job
    _stopping, _current_job = False, None
    signal.signal(signal.SIGTERM, on_sigterm)
    remove_stale_temp_dirs()


def connect() -> None:
    """Hooks ``worker_started`` to django-q2's ``post_spawn`` (once; from the app's ``ready``)."""
    from django_q.signals import post_spawn

    post_spawn.connect(worker_started, dispatch_uid="restoration.jobs.lifecycle.worker_started")

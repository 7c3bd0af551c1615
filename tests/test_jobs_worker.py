"""Jobs through a real django-q2 cluster: ``manage.py qcluster`` in a subprocess, on the test database.

The data must be committed for the worker to see it, hence ``transaction=True`` (with
``serialized_rollback``, so the rows of data migrations, such as the Curators group and the
reaper's schedule, are there for every test). The subprocess gets the test database
(``connection.settings_dict``: a file on SQLite, see tests/conftest.py; ``test_<name>`` on
PostgreSQL), this test's media, upload and var folders, the secret key (django-q2 signs its
queue messages with it) and the tiny checkpoint; it is always killed at the end.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from restoration import jobs, xmp
from restoration.models import EventObject, JobStatus, ProvenanceEvent, RestorationJob, Version
from tests.api_fixtures import api_media, curator_client, fast_password_hasher, image_bytes, ingest_item  # noqa: F401
from tests.job_fixtures import gan_settings, stored_path, tiny_weights  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.slow]


def database_url() -> str:
    """The URL of the database this test process uses (the test database, not the configured one)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    if db["ENGINE"] == "django.db.backends.postgresql":
        auth = f"{quote(db['USER'] or '', safe='')}:{quote(db['PASSWORD'] or '', safe='')}@" if db["USER"] else ""
        host = db["HOST"] or "localhost"
        port = f":{db['PORT']}" if db["PORT"] else ""
        return f"postgres://{auth}{host}{port}/{quote(db['NAME'], safe='')}"
    raise AssertionError(f"no URL for {db['ENGINE']}")


class Cluster:
    """A qcluster subprocess in its own process group, with its output in a log file."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = open(log, "wb")
        self.process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True
        )

    def kill(self) -> None:
        """SIGKILL to the whole group: the sentinel and its forked workers, as a crash would."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=30)
        self._out.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]


@pytest.fixture
def start_cluster(transactional_db, gan_settings, settings, archive_dirs, tmp_path):
    """``start_cluster(slow=False)`` starts a qcluster on the test database; all are killed at the end."""
    clusters: list[Cluster] = []

    def start(*, slow: bool = False) -> Cluster:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "archive_site.settings",
            "DATABASE_URL": database_url(),
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
            "ARCHIVE_MEDIA_ROOT": str(archive_dirs.media),
            "ARCHIVE_UPLOAD_TEMP_DIR": str(archive_dirs.uploads),
            "ARCHIVE_VAR_DIR": str(archive_dirs.var),
            "GAN_WEIGHTS_RESTORE": str(settings.GAN_WEIGHTS["restore"]),
            "GAN_DEVICE": "cpu",
            "GAN_THREADS": "1",
            "GAN_TILE": str(settings.GAN_TILE),
            "JOB_PROGRESS_INTERVAL": "0",
            "Q_WORKERS": "1",
            "Q_POLL": "0.1",
            "Q_TIMEOUT": "120",
            "Q_RETRY": "180",
            "PYTHONUNBUFFERED": "1",
            "SLOW_ENGINE_DELAY": "0.3",
        }
        env.pop("SQLITE_TEST_NAME", None)
        argv = [sys.executable, "-m", "tests.slow_qcluster"] if slow else [sys.executable, "manage.py", "qcluster"]
        cluster = Cluster(argv, env, tmp_path / f"qcluster-{len(clusters)}.log")
        clusters.append(cluster)
        return cluster

    yield start
    for cluster in clusters:
        cluster.kill()


def wait_for(job_id: int, cluster: Cluster, done, *, timeout: float = 90.0) -> RestorationJob:
    deadline = time.monotonic() + timeout
    while True:
        job = RestorationJob.objects.get(pk=job_id)
        if done(job):
            return job
        if cluster.process.poll() is not None:
            raise AssertionError(f"qcluster exited with {cluster.process.returncode}:\n{cluster.output()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} is {job.status} after {timeout} s; qcluster said:\n{cluster.output()}")
        time.sleep(0.1)


def test_a_job_submitted_through_the_api_is_run_by_a_real_worker(start_cluster, ingest_item, curator_client, curator):
    source = ingest_item("glass-plate-12")
    original_path = stored_path(source)
    original_bytes = original_path.read_bytes()
    cluster = start_cluster()

    response = curator_client.post(f"/api/items/{source.item_id}/jobs/", {"task": "restore"}, format="json")
    assert response.status_code == 202, response.content
    job = wait_for(response.json()["id"], cluster, lambda j: j.status not in (JobStatus.QUEUED, JobStatus.RUNNING))

    assert job.status == JobStatus.SUCCEEDED, (job.error, cluster.output())
    assert job.worker_host and job.worker_host.split(":")[1] != str(os.getpid()) and job.device == "cpu"
    derivative = Version.objects.get(pk=job.result_version_id)
    assert (derivative.kind, derivative.parent_id, derivative.created_by) == ("restored", source.pk, curator)
    labels = xmp.read_labels(stored_path(derivative))
    assert labels["Xmp.iptcExt.DigitalSourceType"] == xmp.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
    assert labels["Xmp.dc.source"] == "glass-plate-12"
    event = ProvenanceEvent.objects.get(event_type="modification", outcome="success")
    assert {(link.version_id, link.role) for link in event.object_links.all()} == {
        (source.pk, EventObject.Role.SOURCE), (derivative.pk, EventObject.Role.OUTCOME)}
    program = event.agent_links.get(role="executing program").agent
    assert program.detail["weights_sha256"] == job.weights_sha256 == event.detail["weights_sha256"]
    assert stored_path(source).read_bytes() == original_bytes
    assert hashlib.sha256(original_bytes).hexdigest() == Version.objects.get(pk=source.pk).sha256

    body = curator_client.get(f"/api/jobs/{job.pk}/").json()
    assert body["status"] == "succeeded" and body["result_version"]["id"] == derivative.pk


def test_a_killed_worker_does_not_leave_its_job_running(start_cluster, ingest_item, curator, archive_state, settings):
    source = ingest_item("glass-plate-13", data=image_bytes(size=(96, 64)))  # ~80 tiles of 16 px: ~25 s slowed
    cluster = start_cluster(slow=True)
    job = jobs.submit_job(source.item, task="restore", params={"tile": 16}, user=curator).job
    before = archive_state()

    running = wait_for(job.pk, cluster, lambda j: j.status == JobStatus.RUNNING and j.progress > 0)
    cluster.kill()  # kill -9, mid-run
    time.sleep(0.2)
    running.refresh_from_db()
    assert running.status == JobStatus.RUNNING and running.progress < 1  # what a crash leaves behind

    report = jobs.reap_stale_jobs(stale_seconds=0)

    assert report.requeued == [job.pk]
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 1) and "stopped responding" in job.error
    from django_q.models import OrmQ

    assert any(message.task["args"] == (job.pk,) for message in OrmQ.objects.all())  # sent again
    after = archive_state()
    assert (after["versions"], after["media"]) == (before["versions"], before["media"])

    settings.JOB_MAX_ATTEMPTS = 1  # had it been the last attempt, it would fail instead
    assert jobs._claim(job.pk)
    assert jobs.reap_stale_jobs(stale_seconds=0).failed == [job.pk]
    assert RestorationJob.objects.get(pk=job.pk).status == JobStatus.FAILED

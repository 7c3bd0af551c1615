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

import pytest

from restoration import jobs
from restoration.jobs import worker
from restoration.core import xmp
from restoration.models import EventObject, JobStatus, ProvenanceEvent, RestorationJob, Version
from tests.support import image_bytes, stored_path, wait_for

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.slow]


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
    cluster.kill()  # kill -9, mid-run; returns once the sentinel and its workers are gone
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
    assert worker._claim(job.pk)
    assert jobs.reap_stale_jobs(stale_seconds=0).failed == [job.pk]
    assert RestorationJob.objects.get(pk=job.pk).status == JobStatus.FAILED


def test_a_running_job_cancelled_through_the_api_stops_in_the_worker(
    start_cluster, ingest_item, curator, curator_client, archive_state
):
    source = ingest_item("glass-plate-14", data=image_bytes(size=(96, 64)))  # many 16 px tiles, slowed
    cluster = start_cluster(slow=True)
    job = jobs.submit_job(source.item, task="restore", params={"tile": 16}, user=curator).job
    before = archive_state()
    wait_for(job.pk, cluster, lambda j: j.status == JobStatus.RUNNING and j.progress > 0)

    response = curator_client.post(f"/api/jobs/{job.pk}/cancel/")
    assert response.status_code == 202 and response.json()["cancel_requested"] is True

    job = wait_for(job.pk, cluster, lambda j: j.status != JobStatus.RUNNING, timeout=60)
    assert job.status == JobStatus.CANCELLED and job.progress < 1, (job.error, cluster.output())
    assert job.error.startswith("Cancelled by curator while running")
    after = archive_state()
    assert (after["versions"], after["media"], after["uploads"]) == (before["versions"], before["media"], [])
    event = ProvenanceEvent.objects.get(event_type="modification")
    assert event.detail["cancelled"] is True and event.detail["cancelled_by"] == "curator"


def test_sigterm_puts_the_running_job_back_at_once_and_a_new_worker_clears_stale_folders(
    start_cluster, ingest_item, curator, archive_dirs, archive_state
):
    import signal
    import subprocess

    from django_q.models import OrmQ

    gone = subprocess.Popen(["true"])
    gone.wait()
    stale = archive_dirs.uploads / f"job-77-{gone.pid}-left_behind"  # what a kill -9 leaves
    stale.mkdir()
    (stale / "source.png").write_bytes(b"a copy of an original")
    source = ingest_item("glass-plate-15", data=image_bytes(size=(96, 64)))
    cluster = start_cluster(slow=True)
    job = jobs.submit_job(source.item, task="restore", params={"tile": 16}, user=curator).job
    before = archive_state()
    running = wait_for(job.pk, cluster, lambda j: j.status == JobStatus.RUNNING and j.progress > 0)
    assert not stale.exists()  # the worker removed it when it started
    assert [p.name.split("-")[1] for p in archive_dirs.uploads.iterdir()] == [str(job.pk)]  # its own copy
    OrmQ.objects.all().delete()  # the message was delivered; what follows must send it again

    os.killpg(cluster.process.pid, signal.SIGTERM)  # as systemd stops a service: every process of the group

    job = wait_for(job.pk, cluster, lambda j: j.status != JobStatus.RUNNING, timeout=60, allow_exit=True)
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 0), (job.error, cluster.output())
    assert f"The worker {running.worker_host} was stopped (SIGTERM)" in job.error
    assert any(message.task["args"] == (job.pk,) for message in OrmQ.objects.all())  # sent again
    after = archive_state()
    assert (after["versions"], after["media"], after["uploads"]) == (before["versions"], before["media"], [])


@pytest.fixture
def redis_url(tmp_path):
    """A private ``redis-server`` (Debian's package) on a free port, stopped at the end; skipped
    where it is not installed."""
    import shutil
    import socket
    import subprocess

    from tests.support import wait_for_exit

    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    for _ in range(100):  # a hang guard: the server answers within moments
        try:
            if client.ping():
                break
        except redis.ConnectionError:
            wait_for_exit(process.pid, timeout=0.1)
    else:
        process.kill()
        pytest.fail("redis-server did not answer")
    yield url
    process.terminate()
    process.wait(timeout=30)


def test_a_long_job_goes_through_redis_to_the_long_queues_cluster(
    start_cluster, ingest_item, curator, redis_url, settings, monkeypatch
):
    """With the Redis broker, a job predicted long is pushed on the long queue's list and run by
    a cluster started with ``Q_QUEUE=long``; nothing is left on the default queue's list."""
    import redis
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "ORM", None)  # this process sends through Redis, as the web server would
    monkeypatch.setattr(Conf, "REDIS", redis_url)
    settings.JOB_LONG_WORK = 0.001  # restore-megapixels: this 96 x 64 image (0.006) is long
    source = ingest_item("glass-plate-16", data=image_bytes(size=(96, 64)))
    cluster = start_cluster(Q_REDIS_URL=redis_url, Q_QUEUE="long")
    job = jobs.submit_job(source.item, task="restore", user=curator).job
    assert job.queue == "long"  # sent on commit (at once: this test's database commits), through Redis

    job = wait_for(job.pk, cluster, lambda j: j.status not in (JobStatus.QUEUED, JobStatus.RUNNING))
    assert job.status == JobStatus.SUCCEEDED, (job.error, cluster.output())
    client = redis.Redis.from_url(redis_url)
    assert client.llen(f"django_q:{settings.Q_CLUSTER['name']}:q") == 0  # nothing went to the default queue

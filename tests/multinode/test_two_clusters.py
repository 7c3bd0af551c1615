"""Several worker machines, for real: two ``qcluster`` processes share one PostgreSQL, one Redis
broker and one S3 bucket (the moto server of this test run), as two worker machines would.

Run by ``.ci/run`` against the Redis and PostgreSQL it starts (``Q_REDIS_URL`` and
``DATABASE_URL`` set); skipped elsewhere, since the embedded defaults (SQLite, ORM broker) are
not what several machines use. The clusters get this test's database, bucket and tiny
checkpoint through their environment (``start_cluster`` in tests/conftest.py, plus the
variables set here with ``monkeypatch.setenv``: the fixture passes the test process's
environment on).

With Redis, django-q2 hands each message to one worker (``BLPOP``) and never re-delivers it;
a message may still be sent twice (the reaper re-sends a queued job's message it takes for
lost). Exactly once rests on the job row's claim (queued -> running, one conditional UPDATE), and a job
whose worker machine died is the reaper's to re-queue (jobs/reaper.py, a django-q2 schedule run
by whichever cluster's scheduler gets it first).
"""

from __future__ import annotations

import os
import time
from collections import Counter

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from restoration import jobs
from restoration.jobs import submission
from restoration.models import EventOutcome, EventType, JobStatus, ProvenanceEvent, RestorationJob, Version
from tests.support import Cluster, wait_for

REDIS = bool(django_settings.Q_CLUSTER.get("redis"))
POSTGRES = django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

if os.environ.get("CI_REQUIRE_MULTINODE") == "1" and not (REDIS and POSTGRES):
    # .ci/run sets it: there a skip would hide a broken set-up.
    raise pytest.UsageError("CI_REQUIRE_MULTINODE=1 but Q_REDIS_URL or a PostgreSQL DATABASE_URL is missing")

pytestmark = [
    pytest.mark.skipif(not (REDIS and POSTGRES), reason="needs Q_REDIS_URL and a PostgreSQL DATABASE_URL (.ci/run)"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.slow,
]

JOBS = 20
FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


@pytest.fixture
def empty_queue():
    """The broker's list for this cluster name starts and ends empty (CI's private Redis)."""
    from django_q.brokers import get_broker

    broker = get_broker()
    broker.purge_queue()
    yield broker
    broker.purge_queue()


@pytest.fixture
def two_clusters(start_cluster, s3_media, empty_queue, monkeypatch):
    """``two_clusters(slow=False, **environment)``: two qclusters on the shared database, broker
    and bucket, each up and waiting for work."""

    def start(*, slow: bool = False, **environment: str) -> tuple[Cluster, Cluster]:
        for name, value in {**s3_media.env(), **environment}.items():
            monkeypatch.setenv(name, value)
        clusters = start_cluster(slow=slow), start_cluster(slow=slow)
        for cluster in clusters:
            _wait_until_running(cluster)
        return clusters

    return start


def _wait_until_running(cluster: Cluster, timeout: float = 120.0) -> None:
    """Polls the cluster's log for django-q2's "Q Cluster ... running." line."""
    deadline = time.monotonic() + timeout
    while "running." not in cluster.output():
        if cluster.process.poll() is not None:
            raise AssertionError(f"qcluster exited with {cluster.process.returncode}:\n{cluster.output()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"qcluster not running after {timeout} s:\n{cluster.output()}")
        time.sleep(0.1)


def _wait_for_all(job_ids: list[int], clusters: tuple[Cluster, ...], timeout: float = 300.0) -> list[RestorationJob]:
    deadline = time.monotonic() + timeout
    while True:
        found = list(RestorationJob.objects.filter(pk__in=job_ids).order_by("pk"))
        if all(job.status in FINISHED for job in found):
            return found
        if time.monotonic() > deadline:
            waiting = Counter(job.status for job in found)
            raise AssertionError(f"jobs still {dict(waiting)} after {timeout} s:\n"
                                 + "\n".join(cluster.output()[-2000:] for cluster in clusters))
        time.sleep(0.2)


def _cluster_of(job: RestorationJob, clusters: tuple[Cluster, ...]) -> Cluster:
    """The cluster whose process group holds the worker named in ``job.worker_host`` (host:pid)."""
    pid = int(job.worker_host.rsplit(":", 1)[1])
    owners = [cluster for cluster in clusters if os.getpgid(pid) == cluster.process.pid]
    assert len(owners) == 1, (job.worker_host, [cluster.process.pid for cluster in clusters])
    return owners[0]


def _modifications(job: RestorationJob):
    return ProvenanceEvent.objects.filter(event_type=EventType.MODIFICATION, detail__job=job.pk)


def test_twenty_jobs_on_two_clusters_are_each_done_exactly_once(two_clusters, s3_ingest, curator, s3_media,
                                                                 archive_dirs, empty_queue):
    clusters = two_clusters()
    sources = [s3_ingest(f"two-clusters-{n}") for n in range(JOBS)]

    job_ids = []
    for source in sources:
        job_ids.append(jobs.submit_job(source.item, task="restore", params={}, user=curator).job.pk)
        # Every message twice in a row, so both clusters may take the same job at once (the
        # reaper re-sends a queued job's message it takes for lost): one run may claim it.
        submission.enqueue(job_ids[-1])
    finished = _wait_for_all(job_ids, clusters)

    assert [job.status for job in finished] == [JobStatus.SUCCEEDED] * JOBS, [job.error for job in finished]
    assert [job.attempts for job in finished] == [1] * JOBS  # no job was started twice
    for job, source in zip(finished, sources, strict=True):
        versions = Version.objects.filter(item=source.item)
        assert sorted(versions.values_list("kind", flat=True)) == ["original", "restored"], job.pk
        assert versions.get(kind="restored").pk == job.result_version_id
        events = _modifications(job)
        assert [event.outcome for event in events] == [EventOutcome.SUCCESS], job.pk
    # Both machines took work, and every stored file went to the shared bucket.
    assert {_cluster_of(job, clusters) for job in finished} == set(clusters)
    # Each version: its file, two display images and its IIIF access copy (the tiled pyramid).
    stored = {
        f.name for v in Version.objects.select_related("access_copy")
        for f in (v.file, v.thumbnail, v.access_file, v.access_copy.file) if f
    }
    assert s3_media.keys() == stored and len(stored) == 2 * JOBS * 4
    assert archive_dirs.media_files() == []
    assert empty_queue.queue_size() == 0  # no message left over, none duplicated and waiting


def test_a_job_whose_worker_machine_is_killed_is_finished_by_the_other(two_clusters, s3_ingest, curator, s3_media):
    from django_q.models import Schedule

    from tests.support import image_bytes

    # Slowed runners (tests/jobs/slow_qcluster.py): a 64 x 48 image in 16 px tiles takes seconds.
    # A running job silent for 3 s is taken as dead (JOB_STALE_SECONDS): its live worker writes
    # a heartbeat with every tile, every 0.3 s.
    clusters = two_clusters(slow=True, JOB_STALE_SECONDS="3")
    source = s3_ingest("killed-mid-job", data=image_bytes(size=(64, 48)))
    job = jobs.submit_job(source.item, task="restore", params={"tile": 16}, user=curator).job

    running = wait_for(job.pk, clusters[0], lambda j: j.status == JobStatus.RUNNING and j.progress > 0)
    victim = _cluster_of(running, clusters)
    survivor = clusters[1] if victim is clusters[0] else clusters[0]
    victim.kill()  # kill -9 of the whole machine's qcluster: sentinel, pusher, worker
    running.refresh_from_db()
    assert running.status == JobStatus.RUNNING and running.progress < 1  # what the crash left

    # The reaper's schedule is due at once (it runs every minute; the scheduler looks every 30 s).
    Schedule.objects.filter(func="restoration.tasks.reap_stale_jobs").update(next_run=timezone.now())
    finished = wait_for(job.pk, survivor, lambda j: j.status in FINISHED, timeout=180)

    assert finished.status == JobStatus.SUCCEEDED, (finished.error, survivor.output())
    assert finished.attempts == 2 and _cluster_of(finished, clusters) is survivor
    assert sorted(Version.objects.filter(item=source.item).values_list("kind", flat=True)) == ["original", "restored"]
    assert [event.outcome for event in _modifications(finished)] == [EventOutcome.SUCCESS]
    assert s3_media.read(finished.result_version.file.name)  # stored in the shared bucket

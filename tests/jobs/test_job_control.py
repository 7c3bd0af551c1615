"""Control over running jobs, in-process with the real worker function (``jobs.execute_job``),
the tiny checkpoint and real tiled inference: cancelling a running job between tiles, the
estimate of time left, the long-job queue, the per-user limit, float parameters normalised,
SIGTERM and stale temporary folders (``jobs.lifecycle``), identifiers that exiv2 would parse.

tests/jobs/test_jobs_worker.py does the same through a real ``qcluster`` subprocess.
"""

from __future__ import annotations

import os
import signal
import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone

from restoration import jobs
from restoration.core import xmp
from restoration.jobs import lifecycle, params, worker
from restoration.jobs import submission as submission_module
from restoration.models import (
    EventAgent,
    EventOutcome,
    JobQueue,
    JobStatus,
    ProvenanceEvent,
    RestorationJob,
    Version,
)
from tests.support import stored_path

pytestmark = pytest.mark.django_db


def _cancel_at_first_tile(replace_runner, job_id: int, user, calls: list[float]) -> None:
    """The restore runner, real, whose first progress report (the first tile done) first asks
    to cancel the job, as a curator's request arriving mid-run would."""
    from restoration.jobs.tasks import TASKS

    real = TASKS["restore"].runner

    def run(ctx):
        def progress(fraction: float) -> None:
            calls.append(fraction)
            if len(calls) == 1:
                jobs.cancel_job(RestorationJob.objects.get(pk=job_id), user=user)
            ctx.progress(fraction)

        import dataclasses

        return real(dataclasses.replace(ctx, progress=progress))

    replace_runner("restore", run)


# --- Cancelling a running job ----------------------------------------------------------------------


def test_a_running_job_cancelled_between_tiles_stops_and_stores_nothing(
    replace_runner, gan_settings, original, curator, enqueued, archive_state
):
    source = original("print.png", size=(96, 64))
    job = jobs.submit_job(source.item, task="restore", params={"tile": 16}, user=curator).job
    before = archive_state()
    calls: list[float] = []
    _cancel_at_first_tile(replace_runner, job.pk, curator, calls)

    assert jobs.execute_job(job.pk) == f"job {job.pk}: cancelled"

    assert len(calls) == 1 and calls[0] < 0.2  # stopped after its first tile, of many
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.finished_at and job.result_version is None
    assert job.cancel_requested_by == curator and job.attempts == 1
    assert job.error == "Cancelled by curator while running (0% done); nothing was stored."
    after = archive_state()
    # No version, no stored file, no temporary folder left; one event more: the cancellation.
    assert (after["versions"], after["media"], after["uploads"]) == (before["versions"], before["media"], [])
    event = ProvenanceEvent.objects.get(event_type="modification")
    assert event.outcome == EventOutcome.FAILURE
    assert event.detail["cancelled"] is True and event.detail["cancelled_by"] == "curator"
    assert event.detail["error"] == job.error and event.detail["job"] == job.pk
    assert [(link.version_id, link.role) for link in event.object_links.all()] == [(source.pk, "source")]
    roles = {link.role: link.agent.name for link in event.agent_links.select_related("agent")}
    assert roles["authorizer"] == "curator" and roles["implementer"] == "curator"
    assert roles[EventAgent.Role.EXECUTING_PROGRAM] == "gan_engine"
    assert enqueued == [job.pk]  # not sent again
    assert jobs.submit_job(source.item, task="restore", user=curator).created  # the recipe is free again


def test_a_cancel_that_arrives_after_the_last_tile_still_stores_nothing(
    replace_runner, gan_settings, original, curator, enqueued, archive_state
):
    from restoration.jobs.tasks import TASKS

    source = original()
    job = jobs.submit_job(source.item, task="restore", user=curator).job
    before = archive_state()
    real = TASKS["restore"].runner

    def run_then_cancel(ctx):
        outcome = real(ctx)  # the whole image is done, the PNG written
        jobs.cancel_job(RestorationJob.objects.get(pk=job.pk), user=curator)
        return outcome

    replace_runner("restore", run_then_cancel)
    assert jobs.execute_job(job.pk) == f"job {job.pk}: cancelled"
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.result_version is None
    after = archive_state()
    assert (after["versions"], after["media"], after["uploads"]) == (before["versions"], before["media"], [])


def test_cancel_of_a_running_job_is_recorded_once_and_a_finished_job_refuses(gan_settings, original, curator, staff):
    job = jobs.submit_job(original().item, task="restore", user=curator).job
    assert worker._claim(job.pk)

    first = jobs.cancel_job(job, user=curator)
    again = jobs.cancel_job(job, user=staff)

    assert first.status == again.status == JobStatus.RUNNING  # the worker ends it at its next tile
    assert again.cancel_requested_by == curator and again.cancel_requested_at == first.cancel_requested_at
    RestorationJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, finished_at=timezone.now())
    with pytest.raises(jobs.JobError) as caught:
        jobs.cancel_job(job, user=curator)
    assert caught.value.code == "not_cancellable"


def test_the_reaper_cancels_a_dead_workers_job_whose_cancel_was_asked(gan_settings, original, curator, enqueued):
    job = jobs.submit_job(original().item, task="restore", user=curator).job
    assert worker._claim(job.pk)
    jobs.cancel_job(job, user=curator)
    RestorationJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))

    assert jobs.reap_stale_jobs(stale_seconds=60).requeued == [job.pk]  # taken back from the dead worker ...

    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and enqueued == [job.pk]  # ... as cancelled, not queued again
    assert ProvenanceEvent.objects.get(event_type="modification").detail["cancelled"] is True


# --- Time left -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status,progress,elapsed,expected", [
    (JobStatus.RUNNING, 0.25, 30, 90.0),
    (JobStatus.RUNNING, 0.5, 10, 10.0),
    (JobStatus.RUNNING, 0.0, 30, None),  # no progress yet: unknown
    (JobStatus.QUEUED, 0.0, 30, None),
    (JobStatus.SUCCEEDED, 1.0, 30, None),
])
def test_time_left_is_estimated_from_progress_and_elapsed_time(status, progress, elapsed, expected):
    started = timezone.now()
    job = RestorationJob(status=status, progress=progress, started_at=started)
    assert job.eta_seconds(now=started + timedelta(seconds=elapsed)) == expected


def test_the_job_json_carries_eta_seconds(gan_settings, original, curator, curator_client):
    job = jobs.submit_job(original().item, task="restore", user=curator).job
    assert curator_client.get(f"/api/jobs/{job.pk}/").json()["eta_seconds"] is None
    assert worker._claim(job.pk)
    RestorationJob.objects.filter(pk=job.pk).update(progress=0.5, started_at=timezone.now() - timedelta(seconds=20))
    body = curator_client.get(f"/api/jobs/{job.pk}/").json()
    assert 19 <= body["eta_seconds"] <= 21 and body["queue"] == "default" and body["cancel_requested"] is False


# --- Long jobs have their own queue ------------------------------------------------------------------


def test_jobs_predicted_long_go_to_the_long_queue(settings, gan_settings, original, curator, monkeypatch):
    from django_q import tasks as q_tasks

    sent = []
    monkeypatch.setattr(q_tasks, "async_task", lambda *args, **kwargs: sent.append((args, kwargs)))
    settings.JOB_LONG_WORK = 0.004  # restore-megapixels: a 64 x 48 restore is 0.003, its x4 upscale 0.0074
    assert submission_module.queue_for("restore", {}, 64, 48) == JobQueue.DEFAULT
    assert submission_module.queue_for("upscale", {"scale": 4}, 64, 48) == JobQueue.LONG
    assert submission_module.queue_for("style", {"method": "optimize", "steps": 200}, 64, 48) == JobQueue.LONG
    assert submission_module.queue_for("style", {"method": "color"}, 64, 48) == JobQueue.DEFAULT

    short = jobs.submit_job(original("a.png", size=(64, 48)).item, task="restore", user=curator).job
    long = jobs.submit_job(original("b.png", size=(80, 60)).item, task="restore", user=curator).job
    assert (short.queue, long.queue) == (JobQueue.DEFAULT, JobQueue.LONG)
    jobs.enqueue(short.pk)
    jobs.enqueue(long.pk)
    assert [kwargs.get("cluster") for _, kwargs in sent] == [None, f"{settings.Q_CLUSTER['name']}-long"]
    assert [args for args, _ in sent] == [("restoration.tasks.run_job", short.pk), ("restoration.tasks.run_job", long.pk)]

    settings.JOB_LONG_WORK = 0  # one queue for all
    assert submission_module.queue_for("upscale", {"scale": 4}, 64, 48) == JobQueue.DEFAULT


def test_a_qcluster_started_with_q_queue_long_serves_the_long_queue(tmp_path, settings):
    """The settings a ``Q_QUEUE=long`` process reads: django-q2's queue (cluster) name and no scheduler."""
    import sys
    from pathlib import Path

    code = ("import django; django.setup(); from django_q.conf import Conf; "
            "print(Conf.CLUSTER_NAME, Conf.PREFIX, Conf.SCHEDULER)")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "archive_site.settings", "ARCHIVE_VAR_DIR": str(tmp_path),
           "DJANGO_SECRET_KEY": settings.SECRET_KEY, "Q_CLUSTER_NAME": "site"}
    root = Path(__file__).resolve().parents[2]
    for queue, expected in (("default", "site site True"), ("long", "site-long site False")):
        out = subprocess.run([sys.executable, "-c", code], cwd=root, env={**env, "Q_QUEUE": queue},
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == expected


# --- A limit per user, and float parameters normalised --------------------------------------------------


def test_a_user_may_have_a_limited_number_of_jobs_queued_or_running(
    settings, gan_settings, original, curator, staff, enqueued
):
    settings.JOB_MAX_ACTIVE_PER_USER = 2
    first = jobs.submit_job(original("a.png").item, task="restore", user=curator).job
    jobs.submit_job(original("b.png").item, task="restore", user=curator)
    assert worker._claim(first.pk)  # running jobs count too
    third = original("c.png")

    with pytest.raises(jobs.JobError) as caught:
        jobs.submit_job(third.item, task="restore", user=curator)
    assert caught.value.code == "too_many_jobs" and "JOB_MAX_ACTIVE_PER_USER = 2" in caught.value.message
    assert RestorationJob.objects.count() == 2
    # Asking again for a recipe already queued is no new work: it gets that job back.
    assert not jobs.submit_job(first.item, task="restore", user=curator).created
    # Another account has its own count; a finished job frees a place.
    assert jobs.submit_job(third.item, task="restore", params={"seed": 1}, user=staff).created
    jobs.cancel_job(RestorationJob.objects.get(pk=first.pk), user=curator)
    worker.cancel_run(first, 1)
    assert jobs.submit_job(third.item, task="restore", user=curator).created
    settings.JOB_MAX_ACTIVE_PER_USER = 0  # no limit
    assert jobs.submit_job(original("d.png").item, task="restore", user=curator).created


def test_the_api_answers_429_and_the_page_says_why(settings, gan_settings, ingest_item, curator, curator_client, client,
                                                  enqueued):
    settings.JOB_MAX_ACTIVE_PER_USER = 1
    first, second = ingest_item("plate-1").item, ingest_item("plate-2").item
    assert curator_client.post(f"/api/items/{first.pk}/jobs/", {"task": "restore"}, format="json").status_code == 202

    response = curator_client.post(f"/api/items/{second.pk}/jobs/", {"task": "restore"}, format="json")
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "too_many_jobs" and "1 jobs queued or running" in body["detail"]

    client.force_login(curator)
    form = {"task": "restore", "source_version": second.versions.get().pk}
    page = client.post(f"/items/{second.identifier}/", form, HTTP_ACCEPT="application/json")
    assert page.status_code == 429 and page.json()["code"] == "too_many_jobs"
    page = client.post(f"/items/{second.identifier}/", form)
    assert page.status_code == 400 and "JOB_MAX_ACTIVE_PER_USER" in page.content.decode()
    assert RestorationJob.objects.count() == 1


@pytest.mark.parametrize("given,stored", [
    (0.1000000001, 0.1), (0.30000000000000004, 0.3), (0.123456789, 0.123457), (1e-9, 1e-9), (1, 1.0),
    (0.9999999999, 1.0),  # rounded before the range check: inside [0, 1]
])
def test_float_parameters_are_rounded_to_six_significant_digits(given, stored):
    assert params.FLOAT_SIGNIFICANT_DIGITS == 6
    assert params.normalise_float(float(given)) == stored
    assert params.Param("strength", float, 1.0, 0.0, 1.0).clean(given) == stored


def test_floats_that_differ_by_noise_are_one_recipe(gan_settings, original, curator, enqueued):
    source = original()
    first = jobs.submit_job(source.item, task="restore", params={"strength": 0.1}, user=curator)
    second = jobs.submit_job(source.item, task="restore", params={"strength": 0.1000000001}, user=curator)
    assert first.created and not second.created and second.job.pk == first.job.pk
    assert first.job.params["strength"] == 0.1
    other = jobs.submit_job(source.item, task="restore", params={"strength": 0.1001}, user=curator)
    assert other.created


# --- Worker processes: SIGTERM and stale temporary folders -------------------------------------------


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_starting_worker_removes_the_temporary_folders_of_dead_workers(archive_dirs, settings):
    from django_q.signals import post_spawn

    stale = archive_dirs.uploads / f"job-12-{_dead_pid()}-abc_1"
    (stale / "companions").mkdir(parents=True)
    (stale / "source.png").write_bytes(b"a copy of an original")
    alive = archive_dirs.uploads / f"job-13-{os.getppid()}-def_2"  # a live process: another worker's
    alive.mkdir()
    upload = archive_dirs.uploads / "job-notes"  # not a job's folder
    upload.mkdir()
    previous = signal.getsignal(signal.SIGTERM)
    try:
        post_spawn.send(sender="django_q", proc_name="Process-test")  # what django-q2 sends in a new worker
        assert signal.getsignal(signal.SIGTERM) is lifecycle.on_sigterm
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert not stale.exists() and alive.exists() and upload.exists()


def test_sigterm_while_a_job_runs_puts_it_back_in_the_queue_at_once(
    replace_runner, gan_settings, original, curator, enqueued, archive_state, monkeypatch
):
    source = original()
    job = jobs.submit_job(source.item, task="restore", params={"tile": 16}, user=curator).job
    before = archive_state()
    monkeypatch.setattr(lifecycle, "_stopping", False)

    def stopped_mid_run(ctx):
        ctx.output.write_bytes(b"half a file")
        lifecycle.on_sigterm(signal.SIGTERM, None)  # as the signal would, between two tiles
        raise AssertionError("not reached")

    replace_runner("restore", stopped_mid_run)
    with pytest.raises(SystemExit):
        jobs.execute_job(job.pk)

    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 0)  # the stop is not the job's fault
    assert "was stopped (SIGTERM)" in job.error and enqueued == [job.pk, job.pk]
    after = archive_state()
    assert (after["versions"], after["media"], after["uploads"]) == (before["versions"], before["media"], [])
    assert not ProvenanceEvent.objects.filter(event_type="modification").exists()


def test_sigterm_in_an_idle_worker_ends_it(monkeypatch):
    monkeypatch.setattr(lifecycle, "_stopping", False)
    with pytest.raises(SystemExit):
        lifecycle.on_sigterm(signal.SIGTERM, None)
    lifecycle.on_sigterm(signal.SIGTERM, None)  # a second signal while stopping changes nothing


# --- Identifiers exiv2 would parse -------------------------------------------------------------------

HOSTILE_IDENTIFIERS = [
    "type=Bogus x",  # exiv2: "Invalid XmpText type `Bogus'", after the whole model had run
    "type=Bag ARC-1",  # exiv2: an empty dc:source bag
    'type="Seq" a',
    'lang="x-default" b',
    'quote " and apostrophe \'',
    "<dc:source>x</dc:source> & ]]>",
    "charset=Ascii c",  # (newlines, tabs: refused at ingest; tests/core/test_xmp.py writes them)
    "é ☃ 𝄞",
    "L" * 200,
]


@pytest.mark.parametrize("identifier", HOSTILE_IDENTIFIERS)
def test_hostile_identifiers_are_written_as_they_are(identifier, gan_settings, original, curator, enqueued):
    source = original("scan.png", identifier=identifier)
    job = jobs.submit_job(source.item, task="restore", user=curator).job

    jobs.execute_job(job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    labels = xmp.parse_packet(xmp.read_packet(stored_path(job.result_version)))
    assert labels["Xmp.dc.source"] == identifier
    assert f"Restore of {identifier} (version {source.pk})" in labels["Xmp.dc.description"]
    assert labels["Xmp.iptcExt.DigitalSourceType"] == xmp.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA


def test_an_identifier_xmp_cannot_carry_fails_the_job_before_the_model_runs(
    replace_runner, gan_settings, original, curator, enqueued, archive_state
):

    from django.db import connection

    source = original()
    # Ingest refuses control characters in identifiers; an item stored before that check could hold one.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE restoration_item SET identifier = %s WHERE id = %s", ["bell\x07", source.item_id])
    source.item.refresh_from_db()
    job = jobs.submit_job(source.item, task="restore", user=curator).job
    before = archive_state()

    def never(ctx):
        raise AssertionError("the model must not run")

    replace_runner("restore", never)
    assert jobs.execute_job(job.pk) == f"job {job.pk}: failed"

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.attempts == 1
    assert job.error.startswith("The derivative's XMP label cannot be written: The identifier 'bell\\x07' holds "
                                "the character U+0007")
    assert job.error.endswith("Nothing was run.")
    after = archive_state()
    assert (after["versions"], after["media"], after["uploads"]) == (before["versions"], before["media"], [])


def test_exiv2_reads_the_packet_of_an_ordinary_identifier(gan_settings, original, curator, enqueued):
    """The packet is written by the archive; exiv2 (pyexiv2), an independent reader, reads it."""
    source = original("scan.png", identifier="glass-plate/12 <b>")
    job = jobs.submit_job(source.item, task="restore", user=curator).job
    jobs.execute_job(job.pk)
    path = stored_path(Version.objects.get(pk=RestorationJob.objects.get(pk=job.pk).result_version_id))
    read = xmp.read_labels(path)
    assert read["Xmp.dc.source"] == "glass-plate/12 <b>"
    assert read["Xmp.dc.description"]['lang="x-default"'] == xmp.parse_packet(xmp.read_packet(path))["Xmp.dc.description"]

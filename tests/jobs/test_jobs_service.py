"""restoration.jobs in-process: submission, recipe reuse, cancellation, running, failures, reaper.

The worker's function (``jobs.execute_job``) runs here in the test process with the tiny
checkpoint; tests/test_jobs_worker.py runs it in a real qcluster.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone
from PIL import Image

from restoration.jobs import engine
from restoration import jobs
from restoration.jobs import submission as submission_module
from restoration.jobs import runtime, worker
from restoration.core import xmp
from restoration.models import (
    EventObject,
    EventOutcome,
    JobStatus,
    ProvenanceEvent,
    RestorationJob,
    Version,
    VersionKind,
)
from tests.support import stored_path

pytestmark = pytest.mark.django_db


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- Submission -------------------------------------------------------------------------------


def test_submit_queues_one_job_sent_after_commit(
    gan_settings, original, curator, monkeypatch, django_capture_on_commit_callbacks
):
    source = original()
    sent = []
    monkeypatch.setattr(submission_module, "enqueue", sent.append)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        submission = jobs.submit_job(source.item, task="restore", params={"strength": 1}, user=curator)
        assert sent == []  # nothing is sent before the row is committed
    job = submission.job
    assert submission.created and not submission.reused
    assert len(callbacks) == 1 and sent == [job.pk]
    assert (job.status, job.source_version, job.requested_by, job.attempts) == (JobStatus.QUEUED, source, curator, 0)
    assert job.params == {"tile": None, "strength": 1.0, "repair_damage": False, "seed": 0}
    assert job.weights_sha256 == engine.weights_info("restore").sha256 and len(job.recipe_key) == 64


def test_second_request_for_a_queued_recipe_returns_that_job(gan_settings, original, curator, enqueued):
    source = original()
    first = jobs.submit_job(source.item, task="restore", params={"strength": 0.5, "seed": 3}, user=curator)
    # Same recipe: parameters in another order, and a tile size (which never changes the result).
    second = jobs.submit_job(
        source.item, task="restore", params={"seed": 3, "strength": 0.5, "tile": 128}, source_version=source.pk,
        user=curator,
    )
    assert not second.created and second.job.pk == first.job.pk
    assert RestorationJob.objects.count() == 1
    other = jobs.submit_job(source.item, task="restore", params={"strength": 0.4, "seed": 3}, user=curator)
    assert other.created and other.job.recipe_key != first.job.recipe_key


def test_the_unique_constraint_stops_a_racing_duplicate(gan_settings, original, curator):
    from django.db import IntegrityError, transaction

    job = jobs.submit_job(original().item, task="restore", user=curator).job
    with pytest.raises(IntegrityError), transaction.atomic():
        RestorationJob.objects.create(
            item=job.item, source_version=job.source_version, task=job.task, params=job.params,
            recipe_key=job.recipe_key, weights_sha256=job.weights_sha256,
        )


@pytest.mark.parametrize(
    "task,params,code,field",
    [
        ("repaint", {}, "unknown_task", "task"),
        ("colorize", {}, "task_unavailable", "task"),  # the engine has no colorizer (yet)
        ("restore", {"sharpness": 2}, "invalid_parameters", "params"),
        ("restore", {"strength": 1.5}, "invalid_parameters", "params"),
        ("restore", {"strength": "strong"}, "invalid_parameters", "params"),
        ("restore", {"tile": 8}, "invalid_parameters", "params"),
        ("restore", {"tile": 64.5}, "invalid_parameters", "params"),
        ("restore", {"seed": True}, "invalid_parameters", "params"),
        ("restore", ["strength", 1], "invalid_parameters", "params"),
    ],
)
def test_bad_requests_are_refused_before_any_write(gan_settings, original, curator, task, params, code, field):
    source = original()
    with pytest.raises(jobs.JobError) as caught:
        jobs.submit_job(source.item, task=task, params=params, user=curator)
    assert (caught.value.code, caught.value.field) == (code, field)
    assert caught.value.message
    assert not RestorationJob.objects.exists()


def test_a_version_of_another_item_is_refused(gan_settings, original, curator):
    mine, other = original("a.png"), original("b.png")
    with pytest.raises(jobs.JobError) as caught:
        jobs.submit_job(mine.item, task="restore", source_version=other, user=curator)
    assert caught.value.code == "invalid_source" and "another item" in caught.value.message


def test_no_weights_means_the_task_is_unavailable(gan_settings, settings, original, curator, tmp_path):
    settings.GAN_WEIGHTS = {**settings.GAN_WEIGHTS, "restore": tmp_path / "missing.safetensors"}
    assert engine.available_tasks() == ()
    with pytest.raises(jobs.JobError) as caught:
        jobs.submit_job(original().item, task="restore", user=curator)
    assert caught.value.code == "task_unavailable"


# --- Running ---------------------------------------------------------------------------------


def test_a_run_stores_a_labelled_derivative_beside_the_untouched_original(gan_settings, original, curator, enqueued):
    source = original("print.png", size=(40, 30), mode="L", bits=16)
    original_path = stored_path(source)
    before = original_path.read_bytes()
    job = jobs.submit_job(source.item, task="restore", params={"seed": 7}, user=curator).job

    assert jobs.execute_job(job.pk).startswith(f"job {job.pk}: version")

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.progress == 1.0 and job.attempts == 1
    assert job.started_at <= job.finished_at and job.device == "cpu" and job.worker_host
    assert job.model_name == "tiny-restore" and set(job.timings) >= {"inference", "store"}
    derivative = job.result_version
    assert (derivative.kind, derivative.parent, derivative.item, derivative.created_by) == (
        VersionKind.RESTORED, source, source.item, curator)
    assert derivative.thumbnail and derivative.access_file and not derivative.is_preferred
    # Beside the original, in the item's folder; a 16-bit grey PNG like its source.
    path = stored_path(derivative)
    assert path.parent == original_path.parent and path.suffix == ".png"
    assert _sha256(path) == derivative.sha256
    with Image.open(path) as image:
        assert image.mode == "I;16" and image.size == (40, 30)
    assert (derivative.bit_depth, derivative.mode) == (16, "I;16")
    # The original is byte-identical and keeps its checksum.
    assert original_path.read_bytes() == before and _sha256(original_path) == source.sha256

    labels = xmp.read_labels(path)
    assert labels["Xmp.iptcExt.DigitalSourceType"] == xmp.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
    assert labels["Xmp.dc.source"] == source.item.identifier
    assert job.weights_sha256 in labels["Xmp.dc.description"]['lang="x-default"']
    assert labels["Xmp.xmp.CreatorTool"] == f"gan_engine {engine.engine_version()}"

    event = ProvenanceEvent.objects.get(event_type="modification", outcome=EventOutcome.SUCCESS)
    roles = {(link.version_id, link.role) for link in event.object_links.all()}
    assert roles == {(source.pk, EventObject.Role.SOURCE), (derivative.pk, EventObject.Role.OUTCOME)}
    agents = {link.role: link.agent for link in event.agent_links.select_related("agent")}
    assert agents["implementer"].user == curator
    program = agents["executing program"]
    assert (program.name, program.version) == ("gan_engine", engine.engine_version())
    assert program.detail == {"model": "tiny-restore", "weights_sha256": job.weights_sha256}
    assert event.detail["parameters"] == job.params and event.detail["seed"] == 7
    assert event.detail["device"] == "cpu" and event.detail["duration_seconds"] >= 0


def test_strength_zero_gives_back_the_input_pixels(gan_settings, original, curator, enqueued):
    source = original("colour.png", size=(24, 20))
    job = jobs.submit_job(source.item, task="restore", params={"strength": 0}, user=curator).job
    jobs.execute_job(job.pk)
    job.refresh_from_db()
    with Image.open(stored_path(source)) as a, Image.open(stored_path(job.result_version)) as b:
        assert np.array_equal(np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB")))


def test_a_succeeded_recipe_is_reused_not_recomputed(gan_settings, original, curator, enqueued):
    source = original()
    job = jobs.submit_job(source.item, task="restore", user=curator).job
    jobs.execute_job(job.pk)
    again = jobs.submit_job(source.item, task="restore", params={"tile": 32}, user=curator)
    assert again.reused and again.job.pk == job.pk and again.job.result_version_id is not None
    assert RestorationJob.objects.count() == 1 and Version.objects.derivatives().count() == 1
    assert enqueued == [job.pk]


def test_a_cancelled_job_is_not_run(gan_settings, original, curator, enqueued, archive_state):
    job = jobs.submit_job(original().item, task="restore", user=curator).job
    before = archive_state()
    cancelled = jobs.cancel_job(job, user=curator)
    assert cancelled.status == JobStatus.CANCELLED and cancelled.finished_at

    assert jobs.execute_job(job.pk) == f"job {job.pk}: not run (cancelled)"
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.CANCELLED, 0)
    assert archive_state() == before
    with pytest.raises(jobs.JobError) as caught:
        jobs.cancel_job(job, user=curator)
    assert caught.value.code == "not_cancellable"
    # The recipe is free again: a new request queues a new job.
    assert jobs.submit_job(job.item, task="restore", user=curator).created


def test_a_second_delivery_of_a_finished_job_does_nothing(gan_settings, original, curator, enqueued):
    job = jobs.submit_job(original().item, task="restore", user=curator).job
    jobs.execute_job(job.pk)
    assert jobs.execute_job(job.pk) == f"job {job.pk}: not run (succeeded)"
    assert Version.objects.derivatives().count() == 1


# --- Failures -----------------------------------------------------------------------------------


def _failing_runner(exc: BaseException):
    def run(ctx):
        ctx.output.write_bytes(b"half a file")
        ctx.progress(0.5)
        raise exc

    return run


def test_a_failing_job_leaves_nothing_behind_but_its_failure_event(replace_runner, 
    gan_settings, original, curator, enqueued, monkeypatch, archive_state
):
    source = original()
    job = jobs.submit_job(source.item, task="restore", user=curator).job
    before = archive_state()
    replace_runner("restore", _failing_runner(RuntimeError("the generator diverged")))

    assert jobs.execute_job(job.pk) == f"job {job.pk}: failed"

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error == "RuntimeError: the generator diverged"
    assert job.result_version is None and job.finished_at
    after = archive_state()
    assert (after["versions"], after["media"], after["uploads"]) == (before["versions"], before["media"], before["uploads"])
    event = ProvenanceEvent.objects.get(event_type="modification")
    assert event.outcome == EventOutcome.FAILURE and event.detail["error"] == job.error
    assert [(link.version_id, link.role) for link in event.object_links.all()] == [(source.pk, "source")]
    assert {link.role for link in event.agent_links.all()} == {"implementer", "executing program"}
    assert enqueued == [job.pk]  # not retried: a RuntimeError is not transient


def test_transient_errors_are_retried_up_to_the_limit(replace_runner, gan_settings, settings, original, curator, enqueued, monkeypatch):
    settings.JOB_MAX_ATTEMPTS = 2
    job = jobs.submit_job(original().item, task="restore", user=curator).job
    replace_runner("restore", _failing_runner(OSError(28, "No space left on device")))

    jobs.execute_job(job.pk)
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 1) and "queued again" in job.error
    assert enqueued == [job.pk, job.pk]

    jobs.execute_job(job.pk)
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.FAILED, 2) and "No space left" in job.error
    assert ProvenanceEvent.objects.filter(event_type="modification", outcome="failure").count() == 1


@pytest.mark.parametrize(
    "exc,transient",
    [(MemoryError(), True), (OSError(5, "I/O error"), True), (FileNotFoundError("x"), False),
     (PermissionError("x"), False), (ValueError("bad image"), False), (RuntimeError("x"), False)],
)
def test_which_errors_are_transient(exc, transient):
    assert jobs.is_transient(exc) is transient


def test_a_changed_original_fails_the_fixity_check(gan_settings, original, curator, enqueued, archive_state):
    source = original()
    job = jobs.submit_job(source.item, task="restore", user=curator).job
    path = stored_path(source)
    path.write_bytes(path.read_bytes() + b"\0")  # bit rot, or someone editing the archive's files
    before = archive_state()
    jobs.execute_job(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error.startswith("Fixity check failed")
    assert archive_state()["media"] == before["media"] and archive_state()["versions"] == before["versions"]


def test_weights_replaced_after_queueing_fail_the_job(gan_settings, settings, original, curator, enqueued, tmp_path):
    from tests.support import save_tiny_checkpoint

    job = jobs.submit_job(original().item, task="restore", user=curator).job
    settings.GAN_WEIGHTS = {**settings.GAN_WEIGHTS, "restore": save_tiny_checkpoint(tmp_path / "new.safetensors", seed=1)}
    jobs.execute_job(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "weights changed since the job was queued" in job.error


# --- Progress and the reaper ---------------------------------------------------------------------


def test_progress_writes_are_throttled(gan_settings, original, curator):
    job = jobs.submit_job(original().item, task="restore", user=curator).job
    assert worker._claim(job.pk)
    clock = iter([100.0, 100.1, 100.5, 102.5, 102.6, 105.0])
    writer = worker._ProgressWriter(job.pk, attempt=1, interval=2.0, clock=lambda: next(clock))  # created at t = 100
    for fraction in (0.1, 0.2, 0.3, 0.4, 0.5):  # at t = 100.1, 100.5, 102.5, 102.6, 105
        writer(fraction)
    assert writer.writes == 2
    job.refresh_from_db()
    assert job.progress == 0.5


def test_progress_of_a_run_that_lost_its_job_stops_the_run(gan_settings, original, curator):
    job = jobs.submit_job(original().item, task="restore", user=curator).job
    assert worker._claim(job.pk)
    RestorationJob.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED)  # the reaper took it back
    with pytest.raises(jobs.JobLost):
        worker._ProgressWriter(job.pk, attempt=1, interval=0.0)(0.5)


def test_the_reaper_requeues_then_fails_a_silent_running_job(gan_settings, settings, original, curator, enqueued):
    settings.JOB_MAX_ATTEMPTS = 2
    job = jobs.submit_job(original().item, task="restore", user=curator).job
    long_ago = timezone.now() - timedelta(hours=1)

    assert worker._claim(job.pk)
    RestorationJob.objects.filter(pk=job.pk).update(heartbeat_at=long_ago)
    report = jobs.reap_stale_jobs(stale_seconds=60)
    job.refresh_from_db()
    assert report.requeued == [job.pk] and job.status == JobStatus.QUEUED and "stopped responding" in job.error
    assert enqueued == [job.pk, job.pk]

    assert worker._claim(job.pk)  # the second attempt dies too
    RestorationJob.objects.filter(pk=job.pk).update(heartbeat_at=long_ago)
    report = jobs.reap_stale_jobs(stale_seconds=60)
    job.refresh_from_db()
    assert report.failed == [job.pk] and job.status == JobStatus.FAILED and "no attempts left" in job.error
    assert ProvenanceEvent.objects.filter(outcome="failure").count() == 1


def test_the_reaper_leaves_live_jobs_alone_and_resends_stale_queued_ones(gan_settings, original, curator, enqueued):
    running = jobs.submit_job(original("a.png").item, task="restore", user=curator).job
    queued = jobs.submit_job(original("b.png").item, task="restore", user=curator).job
    assert worker._claim(running.pk)
    assert str(jobs.reap_stale_jobs(stale_seconds=60)) == "0 re-queued, 0 failed, 0 queued job(s) sent again"
    RestorationJob.objects.filter(pk=queued.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert jobs.reap_stale_jobs(stale_seconds=60).resent == [queued.pk]
    assert enqueued[-1] == queued.pk


def test_reap_jobs_command(gan_settings, original, curator, enqueued):
    from io import StringIO

    from django.core.management import call_command

    job = jobs.submit_job(original().item, task="restore", user=curator).job
    assert worker._claim(job.pk)
    RestorationJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=30))
    out = StringIO()
    call_command("reap_jobs", "--stale-seconds", "10", stdout=out)
    assert out.getvalue().strip() == "1 re-queued, 0 failed, 0 queued job(s) sent again"


def test_retry_submits_a_failed_recipe_as_a_new_job(replace_runner, gan_settings, original, curator, enqueued, monkeypatch):
    job = jobs.submit_job(original().item, task="restore", params={"seed": 4}, user=curator).job
    replace_runner("restore", _failing_runner(RuntimeError("boom")))
    jobs.execute_job(job.pk)
    monkeypatch.undo()
    retried = jobs.retry_job(RestorationJob.objects.get(pk=job.pk), user=curator)
    assert retried.created and retried.job.pk != job.pk and retried.job.recipe_key == job.recipe_key
    with pytest.raises(jobs.JobError):
        jobs.retry_job(retried.job, user=curator)


# --- Worker processes -----------------------------------------------------------------------------


def test_the_reaper_is_scheduled_every_minute_by_a_migration():
    from django_q.models import Schedule

    from restoration import tasks

    schedule = Schedule.objects.get(func="restoration.tasks.reap_stale_jobs")
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)
    assert tasks.reap_stale_jobs() == "0 re-queued, 0 failed, 0 queued job(s) sent again"


def test_loading_the_app_does_not_import_torch(tmp_path, settings):
    """qcluster sets Django up in its parent process, then forks its workers: PyTorch must not
    be there before the fork (the worker imports it with its first job)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys, django; django.setup(); "
        "import restoration.delivery.admin, restoration.jobs, restoration.tasks, restoration.delivery.api.urls, django_q.cluster; "
        "from django.urls import get_resolver; get_resolver().url_patterns; "
        "print(sorted(m for m in ('torch', 'gan_engine.inference', 'gan_engine.checkpoints') if m in sys.modules))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "archive_site.settings", "ARCHIVE_VAR_DIR": str(tmp_path),
           "DJANGO_SECRET_KEY": settings.SECRET_KEY}
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_torch_threads_come_from_settings_once_per_process(settings, monkeypatch):
    import torch

    calls = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    monkeypatch.setattr(runtime, "_torch_configured", False)
    settings.GAN_THREADS = 3
    runtime.configure_torch()
    runtime.configure_torch()
    assert calls == [3]

"""One definition per task (``restoration.jobs.tasks.TASKS``): it agrees with the database's
choices, and its two extension points work: a parameter that references another version, and
a companion output stored beside the result."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
from django.contrib.auth.models import AnonymousUser
from PIL import Image

from restoration import jobs
from restoration.jobs import engine, params
from restoration.jobs.tasks import TASKS, Companion, RunOutput, TaskDefinition
from restoration.models import EventObject, JobStatus, JobTask, Version, VersionKind

pytestmark = pytest.mark.django_db


def test_every_task_of_the_database_has_one_definition_and_back():
    assert list(TASKS) == list(JobTask.values)
    assert all(isinstance(task, TaskDefinition) and task.name == name for name, task in TASKS.items())
    made = {task.version_kind for task in TASKS.values()} | {c.version_kind for t in TASKS.values() for c in t.companions}
    assert made == set(VersionKind.values) - {VersionKind.ORIGINAL}
    with pytest.raises(dataclasses.FrozenInstanceError):
        TASKS["restore"].verb = "Fixed"  # type: ignore[misc]


def test_the_api_schema_documents_every_parameter_of_every_task():
    for name, task in TASKS.items():
        schema = engine.params_schema(name)
        assert set(schema["properties"]) == {p.name for p in task.params}
        params.validate(task, task.example)  # the documented example is a valid request


def _png(seed: int) -> bytes:
    buffer = io.BytesIO()
    pixels = np.random.default_rng(seed).integers(0, 255, (12, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def _copy_source(ctx) -> RunOutput:
    ctx.output.write_bytes(ctx.source.read_bytes())
    return RunOutput(device="cpu")


def test_a_reference_parameter_is_checked_recorded_and_handed_to_the_runner(
    gan_settings, monkeypatch, original, curator, django_user_model, enqueued
):
    """What colorize's coming ``reference_version`` needs: declaring the parameter is enough."""
    reference_param = params.Param("reference_version", int, None, 1, reference=True, help="A version.")
    seen = {}

    def run(ctx) -> RunOutput:
        seen.update({name: path.read_bytes() for name, path in ctx.references.items()})
        return _copy_source(ctx)

    restore = TASKS["restore"]
    monkeypatch.setitem(TASKS, "restore", dataclasses.replace(restore, params=(*restore.params, reference_param),
                                                              runner=run))
    source, reference = original("a.png"), original("b.png")
    with pytest.raises(jobs.JobError, match="no version"):  # visibility, as for style's reference
        jobs.submit_job(source.item, task="restore", params={"reference_version": reference.pk},
                        user=AnonymousUser())
    job = jobs.submit_job(source.item, task="restore", params={"reference_version": reference.pk}, user=curator).job
    assert job.recipe_key == jobs.recipe_key(source_version_id=source.pk, task="restore", params=job.params,
                                             weights_sha256=job.weights_sha256, reference_sha256=reference.sha256)
    jobs.execute_job(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    with reference.file.open("rb") as fh:
        assert seen["reference_version"] == fh.read()  # a verified copy of the reference's bytes
    event = job.result_version.events.get(event_type="modification")
    assert {(link.version_id, link.role) for link in event.object_links.all()} >= {
        (reference.pk, EventObject.Role.SOURCE)}


def test_a_companion_output_is_stored_beside_the_result_and_linked_in_provenance(
    gan_settings, monkeypatch, original, curator, enqueued
):
    """What restore's coming damage mask needs: a declared companion, written by the runner."""

    def run(ctx) -> RunOutput:
        _copy_source(ctx)
        mask = ctx.workdir / "mask.png"
        mask.write_bytes(_png(3))
        return RunOutput(device="cpu", companions={"mask": mask})

    restore = TASKS["restore"]
    monkeypatch.setitem(TASKS, "restore", dataclasses.replace(
        restore, runner=run, companions=(Companion("mask", VersionKind.RESTORED, "mask"),)))
    source = original()
    job = jobs.submit_job(source.item, task="restore", user=curator).job
    jobs.execute_job(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    result = job.result_version
    companion = Version.objects.exclude(pk__in=[source.pk, result.pk]).get()
    assert companion.parent == source and companion.original_filename.endswith("-restore-mask.png")
    event = companion.events.get(event_type="modification")
    assert event.detail["companion"] == "mask" and event.detail["companion_of"] == result.pk
    assert {(link.version_id, link.role) for link in event.object_links.all()} == {
        (source.pk, EventObject.Role.SOURCE), (result.pk, EventObject.Role.SOURCE),
        (companion.pk, EventObject.Role.OUTCOME)}


def test_a_runner_cannot_return_an_undeclared_companion(gan_settings, replace_runner, original, curator, enqueued,
                                                        archive_state):
    def run(ctx) -> RunOutput:
        _copy_source(ctx)
        return RunOutput(device="cpu", companions={"mask": ctx.source})

    replace_runner("restore", run)
    source = original()
    job = jobs.submit_job(source.item, task="restore", user=curator).job
    jobs.execute_job(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "does not declare" in job.error
    assert Version.objects.count() == 1

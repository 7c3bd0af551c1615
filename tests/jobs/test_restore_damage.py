"""restore with ``repair_damage``: the damage stage runs before the model and its mask is stored
as a companion version beside the result, linked in the same provenance; without it nothing
changes (no companion, the recipe keys of older jobs stay valid).

The worker's function (``jobs.execute_job``) runs in this process with the tiny restore
checkpoint and gan_engine's shipped damage detector and inpainter, on small images made here.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from restoration import jobs
from restoration.jobs import engine
from restoration.models import (
    EventObject,
    JobStatus,
    RestorationJob,
    Version,
    VersionKind,
)
from tests.support import stored_path

pytestmark = pytest.mark.django_db


def _scratched(make_image):
    """A grey gradient print with a bright scratch across it (the kind of damage the stage repaints)."""
    path = make_image("scratched.png", size=(72, 56))
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB")).copy()
    pixels[20:22, 5:67] = 250
    Image.fromarray(pixels).save(path)
    return path


def test_repair_damage_stores_the_mask_as_a_companion_linked_to_the_result(
    gan_settings, original, make_image, curator, enqueued
):
    path = _scratched(make_image)
    source = original(path.name, identifier="SCR-1")
    before = stored_path(source).read_bytes()
    job = jobs.submit_job(source.item, task="restore", params={"repair_damage": True}, user=curator).job
    assert job.params["repair_damage"] is True

    jobs.execute_job(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    result = job.result_version
    mask = Version.objects.get(item=source.item, kind=VersionKind.DAMAGE_MASK)
    assert mask.parent == source and not mask.is_preferred
    assert mask.original_filename.endswith("-damage-mask.png")
    with Image.open(stored_path(mask)) as image:
        assert image.mode == "L" and image.size == (source.width, source.height)
        assert set(np.unique(np.asarray(image))) <= {0, 255}  # 255 = repainted

    event = EventObject.objects.get(version=mask, role=EventObject.Role.OUTCOME, event__event_type="modification").event
    assert event.detail["companion"] == "damage_mask" and event.detail["companion_of"] == result.pk
    assert event.detail["recipe_key"] == job.recipe_key
    assert {(link.version_id, link.role) for link in event.object_links.all()} == {
        (source.pk, EventObject.Role.SOURCE), (result.pk, EventObject.Role.SOURCE), (mask.pk, EventObject.Role.OUTCOME)}
    made = EventObject.objects.get(version=result, role=EventObject.Role.OUTCOME, event__event_type="modification").event
    assert made.detail["parameters"]["repair_damage"] is True
    assert stored_path(source).read_bytes() == before  # the original is untouched


def test_without_repair_damage_no_mask_and_the_recipe_key_is_the_one_older_jobs_have(
    gan_settings, original, curator, enqueued
):
    source = original()
    job = jobs.submit_job(source.item, task="restore", user=curator).job
    assert job.params["repair_damage"] is False
    # The recipe as it was before the parameter existed: the key of a job recorded then.
    recipe = {"source_version": source.pk, "task": "restore", "params": {"strength": 1.0, "seed": 0},
              "weights_sha256": job.weights_sha256}
    canonical = json.dumps(recipe, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert job.recipe_key == hashlib.sha256(canonical.encode("ascii")).hexdigest()
    repaired = jobs.submit_job(source.item, task="restore", params={"repair_damage": True}, user=curator).job
    assert repaired.pk != job.pk and repaired.recipe_key != job.recipe_key  # a different result

    jobs.execute_job(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert not Version.objects.filter(kind=VersionKind.DAMAGE_MASK).exists()


@pytest.mark.parametrize("value", [1, "true", "yes", 0])
def test_repair_damage_takes_only_true_or_false(gan_settings, original, curator, enqueued, archive_state, value):
    source = original()
    before = archive_state()
    with pytest.raises(jobs.JobError) as caught:
        jobs.submit_job(source.item, task="restore", params={"repair_damage": value}, user=curator)
    assert caught.value.code == "invalid_parameters" and "repair_damage must be true or false" in caught.value.message
    assert archive_state() == before and enqueued == []


def test_the_api_schema_documents_repair_damage_as_a_boolean():
    schema = engine.params_schema("restore")["properties"]["repair_damage"]
    assert schema["type"] == "boolean" and schema["default"] is False


def test_the_api_queues_a_restore_with_repair_damage(gan_settings, original, curator_client, enqueued):
    source = original()
    response = curator_client.post(f"/api/items/{source.item.pk}/jobs/",
                                   {"task": "restore", "params": {"repair_damage": True}}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["params"]["repair_damage"] is True
    response = curator_client.post(f"/api/items/{source.item.pk}/jobs/",
                                   {"task": "restore", "params": {"repair_damage": "on"}}, format="json")
    assert response.status_code == 400 and "repair_damage" in response.content.decode()


def test_the_item_page_form_offers_repair_damage_as_a_checkbox(gan_settings, original, curator, client, enqueued):
    source = original(identifier="FORM-1")
    client.force_login(curator)
    url = f"/items/{source.item.identifier}/"
    body = client.get(url).content.decode()
    assert 'type="checkbox" name="restore-repair_damage"' in body
    response = client.post(url, {"task": "restore", "source_version": source.pk, "restore-repair_damage": "on"})
    assert response.status_code == 303
    unchecked = client.post(url, {"task": "restore", "source_version": source.pk})
    assert unchecked.status_code == 303
    assert sorted(job.params["repair_damage"] for job in RestorationJob.objects.all()) == [False, True]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_stores_the_damage_mask_beside_the_result(start_cluster, ingest_item, curator_client):
    """The same through the API and a real ``qcluster`` (as tests/jobs/test_jobs_worker.py runs jobs)."""
    from tests.support import wait_for

    source = ingest_item("scratched-plate")
    cluster = start_cluster()
    response = curator_client.post(f"/api/items/{source.item_id}/jobs/",
                                   {"task": "restore", "params": {"repair_damage": True}}, format="json")
    assert response.status_code == 202, response.content
    job = wait_for(response.json()["id"], cluster, lambda j: j.status not in (JobStatus.QUEUED, JobStatus.RUNNING))
    assert job.status == JobStatus.SUCCEEDED, (job.error, cluster.output())
    mask = Version.objects.get(item_id=source.item_id, kind=VersionKind.DAMAGE_MASK)
    event = EventObject.objects.get(version=mask, role=EventObject.Role.OUTCOME, event__event_type="modification").event
    assert event.detail["companion_of"] == job.result_version_id
    with Image.open(stored_path(mask)) as image:
        assert image.mode == "L" and image.size == (source.width, source.height)

"""The job endpoints: POST /api/items/{id}/jobs/, GET /api/jobs/, GET /api/jobs/{id}/, cancel."""

from __future__ import annotations

import pytest

from restoration import jobs
from restoration.models import JobStatus, RestorationJob

pytestmark = pytest.mark.django_db


@pytest.fixture
def item(ingest_item, gan_settings, enqueued):
    return ingest_item("plate-7").item


def _queue(client, item, **body):
    return client.post(f"/api/items/{item.pk}/jobs/", {"task": "restore", **body}, format="json")


# --- Who may ------------------------------------------------------------------------------


@pytest.mark.parametrize("who,expected", [("anon", 401), ("reader", 403), ("staff", 403), ("curator", 202)])
def test_only_curators_queue_jobs(item, who, expected, anon_client, reader_client, staff_client, curator_client):
    client = {"anon": anon_client, "reader": reader_client, "staff": staff_client, "curator": curator_client}[who]
    response = _queue(client, item)
    assert response.status_code == expected
    assert RestorationJob.objects.count() == (1 if expected == 202 else 0)
    if expected != 202:
        assert response.json()["code"] in ("not_authenticated", "permission_denied")


@pytest.mark.parametrize("who,expected", [("anon", 401), ("staff", 403), ("curator", 200)])
def test_only_curators_read_and_cancel_jobs(item, curator, who, expected, anon_client, staff_client, curator_client):
    client = {"anon": anon_client, "staff": staff_client, "curator": curator_client}[who]
    job = jobs.submit_job(item, task="restore", user=curator).job
    assert client.get("/api/jobs/").status_code == expected
    assert client.get(f"/api/jobs/{job.pk}/").status_code == expected
    assert client.post(f"/api/jobs/{job.pk}/cancel/").status_code == expected
    job.refresh_from_db()
    assert job.status == (JobStatus.CANCELLED if who == "curator" else JobStatus.QUEUED)


# --- Queueing ------------------------------------------------------------------------------


def test_queue_returns_202_and_the_job(item, curator_client, enqueued):
    response = _queue(curator_client, item, params={"strength": 0.75})

    assert response.status_code == 202
    body = response.json()
    job = RestorationJob.objects.get()
    assert response["Location"] == body["url"] == f"http://testserver/api/jobs/{job.pk}/"
    assert body["status"] == "queued" and body["task"] == "restore" and body["progress"] == 0
    assert body["source_version"] == item.versions.get().pk and body["item_identifier"] == "plate-7"
    assert body["params"] == {"tile": None, "strength": 0.75, "repair_damage": False, "seed": 0}
    assert body["requested_by"] == "curator" and body["result_version"] is None
    assert body["cancel_url"] == f"http://testserver/api/jobs/{job.pk}/cancel/"
    assert enqueued == [job.pk]


def test_a_duplicate_request_gets_the_queued_job(item, curator_client):
    first = _queue(curator_client, item).json()
    again = _queue(curator_client, item, params={"tile": 256})
    assert again.status_code == 202 and again.json()["id"] == first["id"]
    assert RestorationJob.objects.count() == 1


def test_a_done_recipe_answers_200_with_the_existing_result(item, curator_client):
    job_id = _queue(curator_client, item).json()["id"]
    jobs.execute_job(job_id)

    response = _queue(curator_client, item)

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == job_id and body["status"] == "succeeded" and body["progress"] == 1
    result = body["result_version"]
    assert result["kind"] == "restored" and result["parent"] == body["source_version"]
    assert result["file_url"] == f"http://testserver/api/versions/{result['id']}/file/"
    assert RestorationJob.objects.count() == 1
    download = curator_client.get(result["file_url"])
    assert download.status_code == 200 and download["ETag"] == f'"{result["sha256"]}"'


def test_a_derived_version_can_be_the_source(item, curator_client):
    job_id = _queue(curator_client, item).json()["id"]
    jobs.execute_job(job_id)
    restored = RestorationJob.objects.get(pk=job_id).result_version_id
    response = _queue(curator_client, item, source_version=restored)
    assert response.status_code == 202 and response.json()["source_version"] == restored


@pytest.mark.parametrize(
    "body,code,field",
    [
        ({"task": "repaint"}, "unknown_task", "task"),
        ({"task": "colorize"}, "task_unavailable", "task"),
        ({"params": {"strength": 2}}, "invalid_parameters", "params"),
        ({"params": {"tile": "big"}}, "invalid_parameters", "params"),
        ({"params": {"radius": 3}}, "invalid_parameters", "params"),
        ({"params": [1, 2]}, "invalid_parameters", "params"),
        ({"source_version": 999999}, "invalid_source", "source_version"),
        ({"source_version": "two"}, "invalid", "source_version"),
        ({"task": None}, "null", "task"),
    ],
)
def test_bad_requests_answer_400_in_the_error_shape(item, curator_client, body, code, field):
    response = curator_client.post(f"/api/items/{item.pk}/jobs/", {"task": "restore", **body}, format="json")

    assert response.status_code == 400
    error = response.json()
    assert error["code"] == code and list(error["errors"]) == [field]
    assert error["detail"] and error["errors"][field][0]
    assert not RestorationJob.objects.exists()


def test_a_version_of_another_item_answers_400(item, ingest_item, curator_client):
    other = ingest_item("plate-8")
    response = _queue(curator_client, item, source_version=other.pk)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_source"
    assert "another item" in response.json()["errors"]["source_version"][0]


def test_queueing_on_an_unknown_item_answers_404(item, curator_client):
    assert curator_client.post("/api/items/999999/jobs/", {"task": "restore"}, format="json").status_code == 404


# --- Reading and cancelling ---------------------------------------------------------------------


def test_list_filters_by_status_and_task(item, ingest_item, curator, curator_client):
    queued = jobs.submit_job(item, task="restore", user=curator).job
    done = jobs.submit_job(ingest_item("plate-9").item, task="restore", user=curator).job
    jobs.execute_job(done.pk)

    page = curator_client.get("/api/jobs/").json()
    assert page["count"] == 2 and [j["id"] for j in page["results"]] == [done.pk, queued.pk]
    assert [j["id"] for j in curator_client.get("/api/jobs/", {"status": "queued"}).json()["results"]] == [queued.pk]
    assert curator_client.get("/api/jobs/", {"task": "restore", "item": item.pk}).json()["count"] == 1
    assert curator_client.get("/api/jobs/", {"status": "lost"}).status_code == 400

    detail = curator_client.get(f"/api/jobs/{done.pk}/").json()
    assert detail["status"] == "succeeded" and detail["duration_seconds"] >= 0 and detail["device"] == "cpu"
    assert detail["weights_sha256"] == done.weights_sha256 and detail["result_version"]["file_url"]
    assert detail["cancel_url"] is None


def test_cancel_a_queued_job_then_refuse_a_second_cancel(item, curator, curator_client):
    job = jobs.submit_job(item, task="restore", user=curator).job

    response = curator_client.post(f"/api/jobs/{job.pk}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"

    again = curator_client.post(f"/api/jobs/{job.pk}/cancel/")
    assert again.status_code == 409
    assert again.json() == {"code": "not_cancellable", "detail": f"Only queued or running jobs can be cancelled; job {job.pk} is cancelled."}


def test_cancel_a_running_job_answers_202_and_the_worker_ends_it(item, curator, curator_client):
    from restoration.jobs import worker

    job = jobs.submit_job(item, task="restore", user=curator).job
    assert worker._claim(job.pk)
    assert curator_client.get(f"/api/jobs/{job.pk}/").json()["cancel_url"] == f"http://testserver/api/jobs/{job.pk}/cancel/"

    response = curator_client.post(f"/api/jobs/{job.pk}/cancel/")

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "running" and body["cancel_requested"] is True and body["cancel_url"] is None
    assert curator_client.post(f"/api/jobs/{job.pk}/cancel/").status_code == 202  # asked already: the same answer
    worker.cancel_run(job, 1)  # what the worker does at its next tile (tests/jobs/test_job_control.py runs it)
    assert curator_client.get(f"/api/jobs/{job.pk}/").json()["status"] == "cancelled"
    assert curator_client.post(f"/api/jobs/{job.pk}/cancel/").status_code == 409


def test_unknown_job_answers_404(curator_client):
    assert curator_client.get("/api/jobs/999999/").json() == {"code": "not_found", "detail": "Not found."}

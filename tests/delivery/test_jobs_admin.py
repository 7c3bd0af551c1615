"""Restoration in the admin: actions on items and versions, the job list and its actions, and the
item page's side-by-side versions with "mark as preferred"."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from restoration.jobs import engine
from restoration import jobs
from restoration.models import JobStatus, RestorationJob, Version

pytestmark = pytest.mark.django_db

ITEMS = reverse("admin:restoration_item_changelist")
VERSIONS = reverse("admin:restoration_version_changelist")
JOBS = reverse("admin:restoration_restorationjob_changelist")


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _action(client, url, action, pks):
    return client.post(url, {"action": action, "_selected_action": [str(pk) for pk in pks]}, follow=True)


def test_only_curators_are_offered_the_available_tasks(client, curator, viewer, gan_settings, original):
    original()
    client.force_login(curator)
    actions = client.get(ITEMS).context["action_form"].fields["action"].choices
    names = [name for name, _ in actions]
    assert "queue_restore" in names and "queue_colorize" not in names  # the engine has no colorizer yet
    assert dict(actions)["queue_restore"] == "Restore (one job per selected item)"
    assert "queue_restore" in [n for n, _ in client.get(VERSIONS).context["action_form"].fields["action"].choices]

    client.force_login(viewer)
    assert client.get(ITEMS).context["action_form"] is None or "queue_restore" not in [
        n for n, _ in client.get(ITEMS).context["action_form"].fields["action"].choices
    ]
    _action(client, ITEMS, "queue_restore", [Version.objects.get().item_id])
    assert not RestorationJob.objects.exists()


def test_no_weights_no_restore_action(client, curator, settings, gan_settings, original, tmp_path):
    original()
    settings.GAN_WEIGHTS = {**settings.GAN_WEIGHTS, "restore": tmp_path / "missing.safetensors"}
    assert engine.available_tasks() == ()
    client.force_login(curator)
    form = client.get(ITEMS).context["action_form"]
    assert form is None or "queue_restore" not in [n for n, _ in form.fields["action"].choices]


def test_restore_action_queues_one_job_per_item_and_reports_reuse(client, curator, gan_settings, original, enqueued):
    items = [original("a.png").item, original("b.png").item]
    client.force_login(curator)

    response = _action(client, ITEMS, "queue_restore", [i.pk for i in items])

    assert response.status_code == 200
    assert _messages(response) == ["Restore: 2 job(s) queued, 0 reused (already done), 0 already queued or running."]
    assert sorted(RestorationJob.objects.values_list("item_id", flat=True)) == sorted(i.pk for i in items)
    assert all(job.requested_by == curator for job in RestorationJob.objects.all())
    jobs.execute_job(RestorationJob.objects.get(item=items[0]).pk)

    again = _action(client, ITEMS, "queue_restore", [i.pk for i in items])
    assert _messages(again) == ["Restore: 0 job(s) queued, 1 reused (already done), 1 already queued or running."]
    assert RestorationJob.objects.count() == 2


def test_the_restore_action_names_the_items_refused_by_the_per_user_limit(
    client, curator, settings, gan_settings, original, enqueued
):
    settings.JOB_MAX_ACTIVE_PER_USER = 1
    items = [original("a.png").item, original("b.png").item]
    client.force_login(curator)

    response = _action(client, ITEMS, "queue_restore", [i.pk for i in items])

    shown = _messages(response)
    assert shown[0].startswith("Restore: 1 job(s) queued")
    assert len(shown) == 2 and shown[1].startswith(f"{items[1]}: You have 1 jobs queued or running")
    assert "JOB_MAX_ACTIVE_PER_USER = 1" in shown[1]
    assert RestorationJob.objects.count() == 1


def test_restore_action_on_versions_uses_each_version_as_source(client, curator, gan_settings, original, enqueued):
    source = original()
    job = jobs.submit_job(source.item, task="restore", user=curator).job
    jobs.execute_job(job.pk)
    derivative = RestorationJob.objects.get(pk=job.pk).result_version
    client.force_login(curator)

    _action(client, VERSIONS, "queue_restore", [derivative.pk])

    assert RestorationJob.objects.filter(source_version=derivative, status=JobStatus.QUEUED).count() == 1


def test_job_list_filters_and_columns(client, viewer, curator, gan_settings, original, enqueued):
    done = jobs.submit_job(original("a.png").item, task="restore", user=curator).job
    jobs.execute_job(done.pk)
    done.refresh_from_db()
    queued = jobs.submit_job(original("b.png").item, task="restore", user=curator).job
    client.force_login(viewer)  # a viewer may look

    page = client.get(JOBS)
    assert page.status_code == 200
    assert {j.pk for j in page.context["cl"].result_list} == {done.pk, queued.pk}
    content = page.content.decode()
    assert "<progress" in content and "curator" in content and f"result: version {done.result_version_id}" in content
    assert [j.pk for j in client.get(JOBS, {"status__exact": "queued"}).context["cl"].result_list] == [queued.pk]
    assert client.get(JOBS, {"task__exact": "restore"}).context["cl"].result_count == 2
    assert client.get(reverse("admin:restoration_restorationjob_change", args=[done.pk])).status_code == 200
    assert page.context["action_form"] is None or not page.context["action_form"].fields["action"].choices[1:]


def test_curators_cancel_queued_and_retry_failed_jobs(replace_runner, client, curator, gan_settings, original, enqueued, monkeypatch):
    queued = jobs.submit_job(original("a.png").item, task="restore", user=curator).job
    failing = jobs.submit_job(original("b.png").item, task="restore", user=curator).job

    def broken(*args):
        raise RuntimeError("no luck")

    replace_runner("restore", broken)
    jobs.execute_job(failing.pk)
    monkeypatch.undo()
    client.force_login(curator)

    response = _action(client, JOBS, "cancel_selected", [queued.pk, failing.pk])
    assert _messages(response) == ["1 job(s) cancelled; 0 running job(s) stop at their next tile; "
                                   "1 already finished (skipped)."]
    assert RestorationJob.objects.get(pk=queued.pk).status == JobStatus.CANCELLED

    from restoration.jobs import worker

    running = jobs.submit_job(original("c.png").item, task="restore", user=curator).job
    assert worker._claim(running.pk)
    response = _action(client, JOBS, "cancel_selected", [running.pk])
    assert _messages(response) == ["0 job(s) cancelled; 1 running job(s) stop at their next tile; "
                                   "0 already finished (skipped)."]
    assert RestorationJob.objects.get(pk=running.pk).cancel_requested_by == curator

    response = _action(client, JOBS, "retry_failed", [failing.pk, queued.pk])
    assert _messages(response) == ["1 job(s) queued again, 0 already queued, running or done; 1 not failed (skipped)."]
    retried = RestorationJob.objects.exclude(pk__in=[queued.pk, failing.pk, running.pk]).get()
    assert retried.status == JobStatus.QUEUED and retried.recipe_key == failing.recipe_key


def test_item_page_shows_versions_side_by_side_and_marks_one_preferred(
    client, curator, viewer, gan_settings, original, enqueued
):
    source = original()
    job = jobs.submit_job(source.item, task="restore", user=curator).job
    jobs.execute_job(job.pk)
    derivative = RestorationJob.objects.get(pk=job.pk).result_version
    change = reverse("admin:restoration_item_change", args=[source.item_id])
    prefer = reverse("admin:restoration_item_prefer_version", args=[source.item_id, derivative.pk])
    client.force_login(curator)

    content = client.get(change).content.decode()

    assert 'id="versions-side-by-side"' in content
    for version in (source, derivative):
        assert reverse("admin:restoration_version_display", args=[version.pk, "access"]) in content
    assert prefer in content and "tiny-restore" in content and 'id="item-jobs"' in content
    assert client.get(reverse("admin:restoration_version_display", args=[derivative.pk, "access"])).status_code == 200

    response = client.post(prefer, follow=True)
    assert response.status_code == 200
    assert Version.objects.get(is_preferred=True) == derivative
    assert _messages(response) == [f"Version {derivative.pk} (restored) is now the preferred version."]

    client.force_login(viewer)
    assert prefer not in client.get(change).content.decode()
    back = reverse("admin:restoration_item_prefer_version", args=[source.item_id, source.pk])
    assert client.post(back).status_code == 403
    assert client.get(back).status_code == 405
    assert Version.objects.get(is_preferred=True) == derivative

"""A curator cancels a running job from the item page, in a real headless Chromium, while a real
``qcluster`` (slowed: each tile's progress report waits, tests/jobs/slow_qcluster.py) runs it."""

from __future__ import annotations

import io

import pytest

from restoration.core import services
from restoration.models import JobStatus, RestorationJob, Version
from tests.support import image_bytes, wait_for

from .test_browser_pages import log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_a_curator_sees_the_time_left_and_cancels_a_running_job(pages, curator, gan_settings, start_cluster):
    from restoration import jobs

    source = services.ingest_upload(
        io.BytesIO(image_bytes(size=(96, 64))), filename="plate.png", metadata={"identifier": "PLATE-3"},
        collection=None, user=curator, route="cli",
    )
    cluster = start_cluster(slow=True)
    job = jobs.submit_job(source.item, task="restore", params={"tile": 16}, user=curator).job
    wait_for(job.pk, cluster, lambda j: j.status == JobStatus.RUNNING and j.progress > 0)

    page = pages.open("/accounts/login/?next=/items/PLATE-3/")
    log_in(page, "curator", "curator-pass-1234")
    page.wait_for_url("**/items/PLATE-3/")
    entry = f"#job-{job.pk}"
    page.wait_for_function(f"() => /left$/.test(document.querySelector('{entry} .job-eta').textContent)")
    page.evaluate("() => { window.__samePage = true; }")

    page.click(f"{entry} .job-cancel")

    page.wait_for_selector(f"{entry}.job-cancelled", timeout=60_000)  # followed in place until the worker stops
    assert page.evaluate("() => window.__samePage === true")
    assert page.locator(f"{entry} .job-cancel").count() == 0
    assert "Cancelled by curator while running" in page.inner_text(f"{entry} .job-error")
    assert page.inner_text(f"{entry} .job-eta") == ""
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.cancel_requested_by == curator
    assert not Version.objects.derivatives().exists()
    assert not pages.errors
    assert RestorationJob.objects.count() == 1

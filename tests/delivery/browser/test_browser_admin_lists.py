"""The admin's jobs and versions lists in Chromium at 1366 x 768: every column fits, no
horizontal scrolling, thumbnails drawn (with Django's navigation sidebar open, as it opens)."""

from __future__ import annotations

import io

import pytest

from restoration.core import services
from restoration.models import JobStatus, RestorationJob
from tests.support import image_bytes

# Like the other browser tests: the database comes back as migrations left it (the Curators
# group), and a following serialized test does not find content types recreated twice.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

LAPTOP = {"width": 1366, "height": 768}


def _jobs(curator) -> None:
    """Four jobs of items with long identifiers and titles: two done, one running, one queued."""
    for n in range(4):
        original = services.ingest_upload(
            io.BytesIO(image_bytes(size=(64, 48))), filename=f"{n}.png",
            metadata={"identifier": f"NL-HaNA_2.24.01_GLASS-NEGATIVE-BOX-{n:04d}-RECTO",
                      "title": "Harbour at dawn with fishing boats returning, seen from the lighthouse " * 2},
            collection=None, user=curator, route="cli",
        )
        result = None
        if n < 2:
            result = services.add_derivative(
                original, io.BytesIO(image_bytes(size=(64, 48))), kind="restored", filename="r.png", user=curator,
                software={"name": "gan_engine", "version": "0.1.0"}, detail={"task": "restore"},
            )
        RestorationJob.objects.create(
            item=original.item, source_version=original, task="restore", params={"strength": 0.5}, recipe_key=f"k{n}",
            status=JobStatus.SUCCEEDED if result else (JobStatus.RUNNING if n == 2 else JobStatus.QUEUED),
            progress=1.0 if result else 0.4 * (n == 2), result_version=result, requested_by=curator,
        )


def _overflow(page) -> dict:
    return page.evaluate("""() => {
        const table = document.querySelector('#result_list');
        return {page: document.documentElement.scrollWidth, viewport: window.innerWidth,
                table: Math.round(table.getBoundingClientRect().right),
                thumbnails: [...table.querySelectorAll('img[src*="/display/thumbnail/"]')]
                    .filter(img => img.complete && img.naturalWidth > 0).length};
    }""")


@pytest.mark.parametrize("path, thumbnails", [("/admin/restoration/restorationjob/", 6),
                                              ("/admin/restoration/version/", 6)])
def test_admin_lists_fit_1366_pixels(pages, curator, path, thumbnails):
    _jobs(curator)
    page = pages.open(f"/admin/login/?next={path}", viewport=LAPTOP)
    page.fill("#id_username", "curator")
    page.fill("#id_password", "curator-pass-1234")
    page.click("input[type=submit]")
    page.wait_for_selector("#result_list")
    page.wait_for_function("() => [...document.images].every(img => img.complete)")

    sizes = _overflow(page)
    assert sizes["page"] <= sizes["viewport"] == 1366, sizes
    assert sizes["table"] <= 1366, sizes
    assert sizes["thumbnails"] == thumbnails, sizes
    assert pages.errors == []

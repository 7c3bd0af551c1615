"""The admin's jobs and versions lists: thumbnails of source and result, no storage paths,
truncated cells with their full text in a title attribute."""

from __future__ import annotations

import io
import re

import pytest
from django.urls import reverse

from restoration.core import services
from restoration.models import JobStatus, RestorationJob
from tests.support import image_bytes

pytestmark = pytest.mark.django_db

JOBS = reverse("admin:restoration_restorationjob_changelist")
VERSIONS = reverse("admin:restoration_version_changelist")


@pytest.fixture
def finished_job(ingest_item):
    """A succeeded job and its result, as the worker leaves them; the item has a long identifier."""
    original = ingest_item("LONG-IDENTIFIER-OF-A-GLASS-NEGATIVE-0001", title="Harbour at dawn")
    result = services.add_derivative(
        original, io.BytesIO(image_bytes(size=(20, 14))), kind="restored", filename="r.png", user=None,
        software={"name": "gan_engine", "version": "0.1.0"}, detail={"task": "restore"},
    )
    job = RestorationJob.objects.create(item=original.item, source_version=original, task="restore",
                                        params={"strength": 0.5}, recipe_key="k", status=JobStatus.SUCCEEDED,
                                        progress=1.0, result_version=result)
    return job, original, result


def _thumbnail_srcs(html: str) -> set[str]:
    return set(re.findall(r'<img src="(/admin/[^"]+)"', html))


def test_job_list_shows_source_and_result_thumbnails(client, viewer, finished_job):
    job, original, result = finished_job
    client.force_login(viewer)
    html = client.get(JOBS).content.decode()

    assert _thumbnail_srcs(html) == {reverse("admin:restoration_version_display", args=[v.pk, "thumbnail"])
                                     for v in (original, result)}
    assert f'title="source: version {original.pk}"' in html and f'title="result: version {result.pk}"' in html
    # The identifier is cut short; the whole of it (and the title) is in the title attribute.
    assert 'title="LONG-IDENTIFIER-OF-A-GLASS-NEGATIVE-0001: Harbour at dawn"' in html
    assert ">LONG-IDENTIFIER-OF-A-GLASS-…<" in html
    for src in _thumbnail_srcs(html):
        response = client.get(src)
        assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"


def test_queued_job_has_no_result_thumbnail(client, viewer, ingest_item):
    original = ingest_item("Q-1")
    RestorationJob.objects.create(item=original.item, source_version=original, task="restore", recipe_key="q")
    client.force_login(viewer)
    html = client.get(JOBS).content.decode()
    assert _thumbnail_srcs(html) == {reverse("admin:restoration_version_display", args=[original.pk, "thumbnail"])}
    assert "Queued" in html and "<progress" in html


def test_version_list_shows_thumbnails_not_file_paths(client, viewer, finished_job):
    _, original, result = finished_job
    client.force_login(viewer)
    html = client.get(VERSIONS).content.decode()

    assert _thumbnail_srcs(html) == {reverse("admin:restoration_version_display", args=[v.pk, "thumbnail"])
                                     for v in (original, result)}
    assert original.file.name not in html and "items/" not in html
    assert f'<code title="{original.sha256}">{original.sha256[:12]}…</code>' in html

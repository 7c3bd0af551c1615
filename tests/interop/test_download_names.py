"""Download names (``interop.http.version_download_name``):
``<identifier>_<kind>[_<task and parameters>].<ext>`` on the API and the admin, unique per item."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse

from restoration.core import services
from restoration.interop.http import version_download_name
from restoration.models import JobStatus, RestorationJob, Version
from tests.support import image_bytes

pytestmark = pytest.mark.django_db


def _job_result(source: Version, task: str, kind: str, params: dict, *, weights: str = "a" * 64) -> Version:
    """A derivative and the succeeded job that made it, as the worker leaves them."""
    version = services.add_derivative(
        source, io.BytesIO(image_bytes(size=(20, 14))), kind=kind, filename="result.png", user=None,
        software={"name": "gan_engine", "version": "0.1.0"}, detail={"task": task, "parameters": params},
    )
    RestorationJob.objects.create(
        item=source.item, source_version=source, task=task, params=params, recipe_key=f"{task}-{version.pk}",
        status=JobStatus.SUCCEEDED, progress=1.0, result_version=version, weights_sha256=weights,
    )
    return Version.objects.select_related("item").get(pk=version.pk)


def _disposition_name(response) -> str:
    return response["Content-Disposition"].split('filename="', 1)[1].split('"', 1)[0]


def test_original_and_display_images(viewer_client, ingest_item):
    original = ingest_item("ARC-1", filename="scan 001 (recto).png")

    assert version_download_name(original) == "ARC-1_original.png"
    assert _disposition_name(viewer_client.get(f"/api/versions/{original.pk}/file/")) == "ARC-1_original.png"
    assert _disposition_name(viewer_client.get(f"/api/versions/{original.pk}/thumbnail/")) == "ARC-1_original_thumbnail.jpg"
    assert _disposition_name(viewer_client.get(f"/api/versions/{original.pk}/access/")) == "ARC-1_original_access.jpg"


def test_job_results_are_named_by_task_and_recipe_parameters(viewer_client, ingest_item):
    original = ingest_item("ARC-1")
    restored = _job_result(original, "restore", "restored", {"strength": 0.5, "seed": 0, "tile": 256})
    twice = _job_result(original, "upscale", "upscaled", {"scale": 2, "variant": "faithful", "tile": 512})
    four = _job_result(original, "upscale", "upscaled", {"scale": 4, "variant": "faithful"})

    # The tile size never changes a result: it is not in the name.
    assert version_download_name(restored) == "ARC-1_restore_strength-0.5_seed-0.png"
    assert version_download_name(twice) == "ARC-1_upscale_scale-2_variant-faithful.png"
    assert version_download_name(four) == "ARC-1_upscale_scale-4_variant-faithful.png"
    names = {_disposition_name(viewer_client.get(f"/api/versions/{v.pk}/file/")) for v in (original, twice, four)}
    assert len(names) == 3


def test_same_recipe_with_new_weights_gets_a_distinct_name(ingest_item):
    original = ingest_item("ARC-2")
    first = _job_result(original, "upscale", "upscaled", {"scale": 4, "variant": "faithful"}, weights="a" * 64)
    second = _job_result(original, "upscale", "upscaled", {"scale": 4, "variant": "faithful"}, weights="b" * 64)

    assert version_download_name(first) == "ARC-2_upscale_scale-4_variant-faithful.png"
    assert version_download_name(second) == f"ARC-2_upscale_scale-4_variant-faithful_v{second.pk}.png"


def test_derivative_without_a_job_is_named_by_its_kind(ingest_item):
    original = ingest_item("ARC-3")
    added = services.add_derivative(
        original, io.BytesIO(image_bytes(size=(20, 14))), kind="colorized", filename="x.png", user=None,
        software={"name": "elsewhere", "version": "1"}, detail={},
    )
    assert version_download_name(Version.objects.get(pk=added.pk)) == "ARC-3_colorized.png"


def test_hostile_identifier_is_safe_in_the_header(viewer_client, ingest_item):
    original = ingest_item('box 1/"a";b\\c')
    header = viewer_client.get(f"/api/versions/{original.pk}/file/")["Content-Disposition"]

    assert header.isascii() and "\r" not in header and "\n" not in header
    name = _disposition_name(viewer_client.get(f"/api/versions/{original.pk}/file/"))
    assert "/" not in name and "\\" not in name and ";" not in name and name.endswith("_original.png")
    assert name.startswith("box 1_")  # the whole identifier, its "/" not taken for a folder


def test_admin_archival_download_uses_the_same_name(client, viewer, ingest_item):
    original = ingest_item("ARC-4")
    client.force_login(viewer)
    response = client.get(reverse("admin:restoration_version_display", args=[original.pk, "file"]))
    assert response.status_code == 200 and _disposition_name(response) == "ARC-4_original.png"

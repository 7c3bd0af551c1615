"""Media on S3-compatible storage: every path that reads or writes stored files, against a real
S3 endpoint (moto in server mode, started by the test run; tests/multinode/conftest.py).

Ingest through the API, a derivative through the worker's own function, IIIF info.json and
tiles, the file downloads, a BagIt export and the fixity audit, each with ``ARCHIVE_STORAGE=s3``
as settings.py configures it. The objects are checked in the bucket with boto3, and nothing may
land in the local media folder (a worker machine has none).
"""

from __future__ import annotations

import hashlib
import io

import bagit
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image

from restoration import jobs
from restoration.core import xmp
from restoration.interop import bagit as bagit_export
from restoration.models import EventType, JobStatus, ProvenanceEvent, Version
from tests.support import RED, WHITE, image_bytes, near, quadrants_bytes, upload

pytestmark = pytest.mark.django_db


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _stored_keys(version: Version) -> set[str]:
    """The objects a version owns: its file, display images and IIIF access copy (the tiled
    pyramid, made when the version is stored)."""
    version = Version.objects.select_related("access_copy").get(pk=version.pk)
    assert version.access_copy.file  # made at ingest and for derivatives, stored in the bucket too
    return {f.name for f in (version.file, version.thumbnail, version.access_file, version.access_copy.file) if f}


@pytest.fixture
def public_original(s3_media, s3_ingest, public_collection):
    """A public item's original (400 x 300 quadrants PNG), stored in the bucket."""
    return s3_ingest("s3-quay", data=quadrants_bytes(400, 300), collection=public_collection, is_public=True)


def test_an_api_upload_is_stored_in_the_bucket_and_nowhere_else(s3_media, curator_client, archive_dirs):
    data = image_bytes(size=(64, 48))
    response = curator_client.post("/api/items/", {"file": upload(data, "Box 3 print 17.png")}, format="multipart")

    assert response.status_code == 201, response.content
    version = Version.objects.get(pk=response.json()["original"]["id"])
    assert version.thumbnail and version.access_file
    assert s3_media.keys() == _stored_keys(version)
    assert s3_media.read(version.file.name) == data
    assert version.sha256 == hashlib.sha256(data).hexdigest()
    assert archive_dirs.media_files() == [] and archive_dirs.upload_files() == []

    download = curator_client.get(f"/api/versions/{version.pk}/file/")
    assert download.status_code == 200 and _body(download) == data
    thumbnail = curator_client.get(f"/api/versions/{version.pk}/thumbnail/")
    assert thumbnail.status_code == 200
    assert _body(thumbnail) == s3_media.read(version.thumbnail.name)


def test_a_derivative_made_by_the_worker_is_stored_beside_its_original_in_the_bucket(
    s3_media, gan_settings, s3_ingest, curator, enqueued, archive_dirs
):
    data = image_bytes(size=(40, 30))
    source = s3_ingest("s3-plate", data=data)
    job = jobs.submit_job(source.item, task="restore", params={"seed": 3}, user=curator).job

    jobs.execute_job(job.pk)  # the function django-q2 calls in a worker

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    derivative = job.result_version
    assert s3_media.keys() == _stored_keys(source) | _stored_keys(derivative)
    assert derivative.file.name.rsplit("/", 1)[0] == source.file.name.rsplit("/", 1)[0]
    stored = s3_media.read(derivative.file.name)
    assert hashlib.sha256(stored).hexdigest() == derivative.sha256
    assert s3_media.read(source.file.name) == data  # the original is untouched
    archive_dirs.work.mkdir(exist_ok=True)
    labels_file = archive_dirs.work / "derivative.png"  # exiv2 reads a local file
    labels_file.write_bytes(stored)
    assert xmp.read_labels(labels_file)["Xmp.dc.source"] == "s3-plate"
    assert archive_dirs.media_files() == [] and archive_dirs.upload_files() == []  # temporary copies removed


def test_iiif_info_and_tiles_are_cut_from_the_stored_object(s3_media, public_original, client, archive_dirs):
    info = client.get(f"/iiif/3/{public_original.pk}/info.json")
    assert info.status_code == 200, info.content
    assert (info.json()["width"], info.json()["height"]) == (400, 300)

    top_left = client.get(f"/iiif/3/{public_original.pk}/0,0,200,150/100,/0/default.png")
    bottom_right = client.get(f"/iiif/3/{public_original.pk}/200,150,200,150/max/0/default.jpg")

    assert top_left.status_code == bottom_right.status_code == 200
    with Image.open(io.BytesIO(_body(top_left))) as tile:
        assert tile.size == (100, 75) and near(tile.convert("RGB").getpixel((50, 37)), RED)
    with Image.open(io.BytesIO(_body(bottom_right))) as tile:
        assert tile.size == (200, 150) and near(tile.convert("RGB").getpixel((100, 75)), WHITE)
    assert archive_dirs.media_files() == [] and archive_dirs.upload_files() == []


def test_a_bag_exported_from_the_bucket_is_valid_and_holds_the_stored_bytes(s3_media, public_original, tmp_path):
    result = bagit_export.export_item_bags([public_original.item], tmp_path / "out")

    bag = bagit.Bag(str(result.bags[0]))
    bag.validate()
    copy = result.bags[0] / f"data/s3-quay/original/{public_original.pk}-original.png"
    assert copy.read_bytes() == s3_media.read(public_original.file.name)


def test_the_fixity_audit_reads_the_bucket_and_catches_a_changed_and_a_missing_object(
    s3_media, s3_ingest, archive_dirs
):
    first, second, third = (s3_ingest(f"s3-audit-{n}") for n in range(3))
    out = io.StringIO()
    call_command("fixity_audit", stdout=out, stderr=io.StringIO())
    assert "Checked 3 file(s): 3 intact, 0 changed, 0 missing." in out.getvalue()

    changed = bytearray(s3_media.read(second.file.name))
    changed[len(changed) // 2] ^= 0xFF
    s3_media.write(second.file.name, bytes(changed))
    s3_media.client.delete_object(Bucket=s3_media.bucket, Key=third.file.name)
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 changed, 1 missing"):
        call_command("fixity_audit", stdout=out, stderr=io.StringIO())

    assert f"CHANGED {second.file.name}" in out.getvalue()
    failures = ProvenanceEvent.objects.filter(event_type=EventType.FIXITY_CHECK, outcome="failure")
    assert {event.item_id for event in failures} == {second.item_id, third.item_id}
    assert archive_dirs.media_files() == []

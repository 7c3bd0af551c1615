"""``manage.py fixity_audit``: recompute digests, record fixity check events, fail loudly."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from restoration.models import EventObject, EventType, ProvenanceEvent

pytestmark = pytest.mark.django_db


def audit() -> str:
    out = io.StringIO()
    call_command("fixity_audit", stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def versions(make_image, ingest):
    return [ingest(make_image(name)) for name in ("a.png", "b.tif", "c.jpg")]


def _fixity_events():
    return ProvenanceEvent.objects.filter(event_type=EventType.FIXITY_CHECK)


def test_intact_files_pass_and_each_gets_a_success_event(versions):
    out = audit()

    assert "Checked 3 file(s): 3 intact, 0 changed, 0 missing." in out
    events = _fixity_events()
    assert events.count() == 3 and set(events.values_list("outcome", flat=True)) == {"success"}
    for version in versions:
        event = events.get(object_links__version=version)
        assert event.item_id == version.item_id
        assert event.detail["expected"] == event.detail["actual"] == version.sha256
        assert event.detail["algorithm"] == "sha256"
        assert EventObject.objects.get(event=event).role == "source"


def test_a_changed_file_fails_the_audit(versions, archive_dirs):
    corrupted = versions[1]
    path = archive_dirs.media / corrupted.file.name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    path.write_bytes(bytes(data))
    out = io.StringIO()

    with pytest.raises(CommandError, match="1 changed, 0 missing"):
        call_command("fixity_audit", stdout=out, stderr=io.StringIO())

    assert f"CHANGED {corrupted.file.name}" in out.getvalue()
    failure = _fixity_events().get(outcome="failure")
    assert failure.item_id == corrupted.item_id
    assert failure.detail["expected"] == corrupted.sha256 and failure.detail["actual"] not in (corrupted.sha256, "missing")
    assert _fixity_events().filter(outcome="success").count() == 2


def test_a_deleted_file_fails_the_audit_as_missing(versions, archive_dirs):
    gone = versions[0]
    (archive_dirs.media / gone.file.name).unlink()
    out = io.StringIO()

    with pytest.raises(CommandError, match="0 changed, 1 missing"):
        call_command("fixity_audit", stdout=out, stderr=io.StringIO())

    assert f"MISSING {gone.file.name}" in out.getvalue()
    failure = _fixity_events().get(outcome="failure")
    assert failure.detail == {"algorithm": "sha256", "expected": gone.sha256, "actual": "missing", "file": gone.file.name}


def test_an_empty_archive_passes(db):
    assert "Checked 0 file(s)" in audit()

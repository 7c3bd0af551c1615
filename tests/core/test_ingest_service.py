"""restoration.core.services: ingest, derivatives, metadata edits and the preferred version."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from PIL import Image

from restoration.core import provenance, services
from restoration.models import (
    Collection,
    EventAgent,
    EventObject,
    EventType,
    ImmutableError,
    Item,
    ProvenanceEvent,
    Version,
    VersionKind,
)
from restoration.core.services import IngestError, ingest_upload, sanitize_filename

pytestmark = pytest.mark.django_db

FORMATS = [
    # name, make_image options, expected (format, mime, mode, bit depth, pages, alpha)
    ("photo.jpg", {}, ("JPEG", "image/jpeg", "RGB", 8, 1, False)),
    ("photo.png", {}, ("PNG", "image/png", "RGB", 8, 1, False)),
    ("alpha.png", {"alpha": True}, ("PNG", "image/png", "RGBA", 8, 1, True)),
    ("grey16.png", {"mode": "L", "bits": 16}, ("PNG", "image/png", "I;16", 16, 1, False)),
    ("rgb16.png", {"bits": 16}, ("PNG", "image/png", "RGB", 16, 1, False)),
    ("rgba16.png", {"bits": 16, "alpha": True}, ("PNG", "image/png", "RGBA", 16, 1, True)),
    ("scan.tif", {}, ("TIFF", "image/tiff", "RGB", 8, 1, False)),
    ("grey16.tif", {"mode": "L", "bits": 16}, ("TIFF", "image/tiff", "I;16", 16, 1, False)),
    ("rgb16.tif", {"bits": 16}, ("TIFF", "image/tiff", "RGB", 16, 1, False)),
    ("pages.tif", {"pages": 3}, ("TIFF", "image/tiff", "RGB", 8, 3, False)),
    ("photo.webp", {}, ("WEBP", "image/webp", "RGB", 8, 1, False)),
]


@pytest.mark.parametrize("name, options, expected", FORMATS, ids=[f[0] for f in FORMATS])
def test_ingest_stores_original_byte_identical_with_display_images(name, options, expected, make_image, ingest, curator):
    path = make_image(name, size=(120, 90), **options)
    data = path.read_bytes()

    version = ingest(path, {"title": "A street in 1920"})

    fmt, mime, mode, bits, pages, alpha = expected
    item = version.item
    assert version.kind == VersionKind.ORIGINAL and version.parent is None and version.is_preferred
    assert (version.mime_type, version.mode, version.bit_depth, version.page_count) == (mime, mode, bits, pages)
    assert (version.width, version.height) == (120, 90)
    assert version.sha256 == hashlib.sha256(data).hexdigest() and version.bytes == len(data)
    assert version.original_filename == name and version.created_by == curator
    assert item.title == "A street in 1920" and item.format == mime
    # the archival file, whole (all pages), exactly as received, under the item's prefix
    for field in (version.file, version.thumbnail, version.access_file):
        assert field.name.startswith(item.storage_prefix + "/")
    with default_storage.open(version.file.name, "rb") as fh:
        assert fh.read() == data
    # display images: JPEG, never larger than the configured long sides
    with default_storage.open(version.access_file.name, "rb") as fh:
        access = Image.open(io.BytesIO(fh.read()))
    with default_storage.open(version.thumbnail.name, "rb") as fh:
        thumbnail = Image.open(io.BytesIO(fh.read()))
    assert access.format == thumbnail.format == "JPEG"
    assert access.size == (120, 90)  # smaller than the access size: never enlarged
    assert thumbnail.size == (120, 90) or max(thumbnail.size) == 256


def test_ingest_records_digest_and_ingestion_events_with_agents(make_image, ingest, curator):
    path = make_image("scan.png")
    version = ingest(path, route="admin")

    events = list(ProvenanceEvent.objects.filter(item=version.item).order_by("timestamp", "id"))
    assert [e.event_type for e in events] == [EventType.MESSAGE_DIGEST_CALCULATION, EventType.INGESTION]
    for event in events:
        assert event.outcome == "success"
        assert event.detail["algorithm"] == "sha256" and event.detail["value"] == version.sha256
        assert event.detail["route"] == "admin"
        assert event.detail["original_filename"] == "scan.png" and event.detail["format"] == "PNG"
        assert list(EventObject.objects.filter(event=event).values_list("version_id", "role")) == [
            (version.pk, "outcome")
        ]
        agents = {(link.agent.agent_type, link.agent.name, link.role) for link in EventAgent.objects.filter(event=event)}
        assert agents == {
            ("person", "curator", "implementer"),
            ("software", "photo-archive", "executing program"),
        }
    software = EventAgent.objects.filter(event=events[0], agent__agent_type="software").get().agent
    assert software.version == provenance.SOFTWARE_VERSION and software.version not in ("", "unknown")


def test_ingest_accepts_a_django_upload_and_a_collection(make_image, curator):
    collection = Collection.objects.create(name="Harbour", slug="harbour")
    path = make_image("harbour.jpg")
    upload = SimpleUploadedFile("harbour.jpg", path.read_bytes(), content_type="image/jpeg")
    upload.read(10)  # a caller may have peeked: the service reads from the start

    version = ingest_upload(
        upload, filename=upload.name, metadata={"identifier": "HB-0001", "is_public": True},
        collection=collection, user=curator, route="api",
    )

    assert version.item.identifier == "HB-0001" and version.item.collection == collection
    assert version.item.is_public is True
    assert version.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_identifier_is_derived_from_the_file_name_and_disambiguated_by_digest(make_image, ingest, archive_dirs):
    first = ingest(make_image("IMG 0001.jpg"))
    second = ingest(make_image("IMG 0001.jpg", directory=archive_dirs.work / "other"))
    archival = ingest(make_image("NL-HaNA_2.24.01_0001 (verso).tif"))

    assert first.item.identifier == "IMG-0001"
    assert second.item.identifier == f"IMG-0001-{second.sha256[:8]}"
    assert archival.item.identifier == "NL-HaNA_2.24.01_0001-verso"


def test_duplicate_content_is_refused_with_the_existing_version(make_image, ingest, archive_state):
    path = make_image("scan.png")
    original = ingest(path)
    before = archive_state()

    with pytest.raises(IngestError) as caught:
        ingest(path, {"identifier": "another"})

    assert caught.value.code == "duplicate" and caught.value.existing_version_id == original.pk
    assert archive_state() == before


def test_identifier_taken_is_refused(make_image, ingest, archive_state):
    ingest(make_image("a.png"), {"identifier": "ID-1"})
    before = archive_state()

    with pytest.raises(IngestError) as caught:
        ingest(make_image("b.png"), {"identifier": "ID-1"})

    assert (caught.value.code, caught.value.field) == ("identifier_taken", "identifier")
    assert archive_state() == before


@pytest.mark.parametrize(
    "metadata, field",
    [
        ({"shelfmark": "x"}, "shelfmark"),
        ({"title": "x" * 501}, "title"),
        ({"title": 12}, "title"),
        ({"description": "nul\x00byte"}, "description"),
        ({"is_public": "yes"}, "is_public"),
        ({"identifier": "bad\nid"}, "identifier"),
    ],
)
def test_invalid_metadata_is_refused(metadata, field, make_image, ingest, archive_state):
    before = archive_state()
    with pytest.raises(IngestError) as caught:
        ingest(make_image("a.png"), metadata)
    assert (caught.value.code, caught.value.field) == ("invalid_metadata", field)
    assert archive_state() == before


def test_refused_upload_leaves_nothing_behind(bad_upload, archive_state, curator):
    before = archive_state()

    with open(bad_upload.path, "rb") as fh, pytest.raises(IngestError) as caught:
        ingest_upload(fh, filename=bad_upload.filename, metadata={}, collection=None, user=curator, route="cli")

    assert caught.value.code == bad_upload.code, caught.value.message
    assert caught.value.message
    assert archive_state() == before


def test_size_limit_stops_reading_early(make_image, curator, settings, archive_state):
    settings.ARCHIVE_MAX_UPLOAD_BYTES = 3 * 1024 * 1024

    class Endless(io.RawIOBase):
        """An upload of unknown length that never ends: only the limit stops the read."""

        served = 0

        def readable(self):
            return True

        def readinto(self, buffer):
            buffer[:] = b"\x89PNG\r\n\x1a\n".ljust(len(buffer), b"\0")
            self.served += len(buffer)
            return len(buffer)

    before = archive_state()
    stream = Endless()
    with pytest.raises(IngestError) as caught:
        ingest_upload(stream, filename="endless.png", metadata={}, collection=None, user=curator, route="api")
    assert caught.value.code == "file_too_large"
    assert stream.served <= settings.ARCHIVE_MAX_UPLOAD_BYTES + 2 * 1024 * 1024
    assert archive_state() == before


def test_pixel_limit_follows_the_setting(make_image, ingest, archive_state):
    path = make_image("a.png", size=(100, 50))
    before = archive_state()
    with override_settings(ARCHIVE_MAX_IMAGE_PIXELS=4999), pytest.raises(IngestError) as caught:
        ingest(path)
    assert caught.value.code == "too_many_pixels" and archive_state() == before
    with override_settings(ARCHIVE_MAX_IMAGE_PIXELS=5000):
        assert ingest(path).width == 100


def test_stored_files_never_overwrite_existing_ones(make_image, ingest, curator, archive_dirs):
    original = ingest(make_image("a.png"))
    restored = make_image("restored.png")
    digest = hashlib.sha256(restored.read_bytes()).hexdigest()
    # a file already sits where the derivative would be stored (say, left by a crashed run)
    squatter = archive_dirs.media / original.item.storage_prefix / f"restored-{digest[:16]}.png"
    squatter.write_bytes(b"keep me")

    with open(restored, "rb") as fh:
        version = services.add_derivative(
            original, fh, kind=VersionKind.RESTORED, filename="restored.png", user=curator,
            software={"name": "x", "version": "1"}, detail={},
        )

    assert squatter.read_bytes() == b"keep me"
    assert version.file.name != str(squatter.relative_to(archive_dirs.media))
    assert default_storage.open(version.file.name).read() == restored.read_bytes()


def test_declared_size_over_the_limit_is_refused_before_reading(curator, settings, archive_state):
    settings.ARCHIVE_MAX_UPLOAD_BYTES = 100

    class Declared:
        """An upload that announces its size (as Django's UploadedFile does) and must not be read."""

        size = 101

        def read(self, *args):
            raise AssertionError("read although the declared size is over the limit")

    upload = Declared()

    with pytest.raises(IngestError) as caught:
        ingest_upload(upload, filename="big.png", metadata={}, collection=None, user=curator, route="api")
    assert caught.value.code == "file_too_large"


def test_failure_inside_the_transaction_deletes_stored_files(make_image, ingest, archive_state, monkeypatch):
    before = archive_state()

    def fail(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(provenance, "record_event", fail)
    with pytest.raises(RuntimeError):
        ingest(make_image("a.png"))

    assert archive_state() == before


def test_losing_a_race_for_the_identifier_is_identifier_taken_and_leaves_nothing(
    make_image, ingest, archive_state, monkeypatch
):
    ingest(make_image("first.png"), {"identifier": "RACE"})
    before = archive_state()
    # the checks before writing saw the identifier free; another ingest took it in between
    monkeypatch.setattr(services, "_derived_identifier", lambda filename, sha256: "RACE")

    with pytest.raises(IngestError) as caught:
        ingest(make_image("second.png"))

    assert caught.value.code == "identifier_taken"
    assert archive_state() == before


@pytest.mark.parametrize(
    "sent, kept",
    [
        ("../../x.png", "x.png"),
        ("..\\..\\windows\\x.png", "x.png"),
        ("/etc/passwd.png", "passwd.png"),
        ("Ame\u0301lie.png", "Am\u00e9lie.png"),
        ("a\x1b[31mb\u202e.png", "a[31mb.png"),
        ("  spaced   out .png ", "spaced out .png"),
        (".hidden.png", "hidden.png"),
    ],
)
def test_hostile_file_names_are_sanitised(sent, kept):
    assert sanitize_filename(sent) == kept


def test_long_file_names_are_capped_keeping_the_extension():
    name = sanitize_filename("x" * 300 + ".png")
    assert len(name) == services.MAX_FILENAME_LENGTH and name.endswith(".png")


def test_sanitised_name_is_recorded_and_never_used_in_storage(make_image, curator):
    path = make_image("a.png")
    with open(path, "rb") as fh:
        version = ingest_upload(
            fh, filename="../../" + "\u00e9" * 300 + ".png", metadata={}, collection=None, user=curator, route="api"
        )
    assert version.original_filename.endswith(".png") and ".." not in version.original_filename
    assert len(version.original_filename) == services.MAX_FILENAME_LENGTH
    assert version.file.name == f"{version.item.storage_prefix}/original-{version.sha256[:16]}.png"


def test_ingest_without_a_user_records_only_the_software_agent(make_image, ingest, anonymous):
    version = ingest(make_image("a.png"), user=anonymous)
    assert version.created_by is None
    roles = set(EventAgent.objects.filter(event__item=version.item).values_list("role", flat=True))
    assert roles == {"executing program"}


def test_unknown_route_is_a_programming_error(make_image, ingest):
    with pytest.raises(ValueError):
        ingest(make_image("a.png"), route="ftp")


# --- Originals are write-once through the service's results ---------------------------------------


def test_stored_original_cannot_be_changed_or_deleted(make_image, ingest):
    version = ingest(make_image("a.png"))
    stored = version.file.name

    with pytest.raises(ImmutableError):
        version.delete()
    with pytest.raises(ImmutableError):
        version.file.delete()
    with pytest.raises(ImmutableError):
        version.file.save("other.png", io.BytesIO(b"x"))
    version.refresh_from_db()
    version.sha256 = "0" * 64
    with pytest.raises(ImmutableError):
        version.save()
    assert default_storage.exists(stored)
    assert Version.objects.get(pk=version.pk).sha256 != "0" * 64


# --- Derivatives ----------------------------------------------------------------------------------


def test_add_derivative_stores_beside_the_original_and_links_provenance(make_image, ingest, curator):
    original = ingest(make_image("a.png"))
    restored = make_image("restored.png")

    with open(restored, "rb") as fh:
        version = services.add_derivative(
            original, fh, kind=VersionKind.RESTORED, filename="restored.png", user=curator,
            software={"name": "gan_engine", "version": "0.1", "weights_sha256": "ab" * 32},
            detail={"task": "restore", "tile": 512},
        )

    assert version.parent == original and version.kind == "restored" and not version.is_preferred
    assert version.file.name.startswith(original.item.storage_prefix + "/restored-")
    event = ProvenanceEvent.objects.get(item=original.item, event_type=EventType.MODIFICATION)
    assert event.detail["task"] == "restore"
    assert set(EventObject.objects.filter(event=event).values_list("version_id", "role")) == {
        (original.pk, "source"),
        (version.pk, "outcome"),
    }
    software = EventAgent.objects.get(event=event, role="executing program").agent
    assert (software.name, software.detail) == ("gan_engine", {"weights_sha256": "ab" * 32})


def test_add_derivative_refuses_the_original_kind_and_bad_files(make_image, ingest, curator, archive_state):
    original = ingest(make_image("a.png"))
    before = archive_state()
    with pytest.raises(ValueError):
        services.add_derivative(
            original, io.BytesIO(b""), kind=VersionKind.ORIGINAL, filename="x.png", user=curator,
            software={"name": "x", "version": "1"}, detail={},
        )
    with pytest.raises(IngestError) as caught:
        services.add_derivative(
            original, io.BytesIO(b"not an image"), kind=VersionKind.RESTORED, filename="x.png", user=curator,
            software={"name": "x", "version": "1"}, detail={},
        )
    assert caught.value.code == "not_an_image"
    assert archive_state() == before


# --- Metadata and preferred version ---------------------------------------------------------------


def test_update_item_metadata_records_old_and_new_values(make_image, ingest, curator):
    item = ingest(make_image("a.png"), {"title": "Old"}).item
    collection = Collection.objects.create(name="Port", slug="port")

    returned = services.update_item_metadata(
        item, {"title": "New", "creator": "A. Photographer", "collection": collection, "identifier": item.identifier},
        user=curator,
    )

    assert returned is item and item.title == "New"
    stored = Item.objects.get(pk=item.pk)
    assert (stored.title, stored.creator, stored.collection) == ("New", "A. Photographer", collection)
    event = ProvenanceEvent.objects.get(item=item, event_type=EventType.METADATA_MODIFICATION)
    assert event.detail == {
        "changes": {
            "title": {"old": "Old", "new": "New"},
            "creator": {"old": "", "new": "A. Photographer"},
            "collection": {"old": None, "new": "port"},
        }
    }
    assert EventAgent.objects.filter(event=event, agent__user=curator, role="implementer").exists()


def test_update_item_metadata_without_changes_writes_nothing(make_image, ingest, curator):
    item = ingest(make_image("a.png"), {"title": "Same"}).item
    count = ProvenanceEvent.objects.count()
    services.update_item_metadata(item, {"title": "Same"}, user=curator)
    assert ProvenanceEvent.objects.count() == count


def test_update_item_metadata_refuses_identifier_changes_and_bad_values(make_image, ingest, curator):
    item = ingest(make_image("a.png"), {"identifier": "ID-1"}).item
    count = ProvenanceEvent.objects.count()

    with pytest.raises(ImmutableError):
        services.update_item_metadata(item, {"identifier": "ID-2"}, user=curator)
    with pytest.raises(ValidationError) as caught:
        services.update_item_metadata(item, {"title": "x" * 501, "sha256": "0"}, user=curator)

    assert set(caught.value.message_dict) == {"title", "sha256"}
    assert Item.objects.get(pk=item.pk).identifier == "ID-1"
    assert ProvenanceEvent.objects.count() == count


def test_set_preferred_version_moves_the_flag_and_records_it(make_image, ingest, curator):
    original = ingest(make_image("a.png"))
    with open(make_image("b.png"), "rb") as fh:
        derivative = services.add_derivative(
            original, fh, kind=VersionKind.COLORIZED, filename="b.png", user=curator,
            software={"name": "x", "version": "1"}, detail={},
        )

    services.set_preferred_version(derivative, user=curator)

    assert list(Version.objects.filter(item=original.item, is_preferred=True)) == [derivative]
    event = ProvenanceEvent.objects.filter(item=original.item, event_type=EventType.METADATA_MODIFICATION).get()
    assert event.detail == {"changes": {"preferred_version": {"old": original.pk, "new": derivative.pk}}}
    # choosing it again changes nothing and records nothing
    services.set_preferred_version(derivative, user=curator)
    assert ProvenanceEvent.objects.filter(event_type=EventType.METADATA_MODIFICATION).count() == 1

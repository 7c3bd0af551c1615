"""restoration.delivery.admin: ingest from the Item add form, read-only provenance, permissions."""

from __future__ import annotations

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from restoration.core import services
from restoration.models import Collection, EventType, Item, ProvenanceEvent, Version, VersionKind
from tests.support import image_bytes

pytestmark = pytest.mark.django_db

ITEMS = reverse("admin:restoration_item_changelist")
ADD_ITEM = reverse("admin:restoration_item_add")


def _change(item: Item) -> str:
    return reverse("admin:restoration_item_change", args=[item.pk])


def _named(name: str, data: bytes) -> io.BytesIO:
    """A file the test client sends under ``name``, whatever that name is."""
    upload = io.BytesIO(data)
    upload.name = name
    return upload


def _add_form(path, **fields) -> dict:
    data = {"identifier": "", "title": "", "collection": "", "type": "StillImage", "_save": "Save"}
    data.update(fields)
    data["upload"] = open(path, "rb")
    return data


# --- Ingest from the add form ---------------------------------------------------------------------


def test_curator_ingests_from_the_add_form(client, curator, make_image):
    collection = Collection.objects.create(name="Harbour", slug="harbour")
    path = make_image("quay.tif")
    client.force_login(curator)
    page = client.get(ADD_ITEM)
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.content.decode()

    response = client.post(ADD_ITEM, _add_form(path, identifier="HB-7", title="The quay", collection=collection.pk))

    item = Item.objects.get(identifier="HB-7")
    assert response.status_code == 302 and response.url == ITEMS
    assert (item.title, item.collection, item.format) == ("The quay", collection, "image/tiff")
    version = item.versions.get()
    assert version.kind == VersionKind.ORIGINAL and version.created_by == curator
    assert version.file.read() == path.read_bytes()
    routes = set(ProvenanceEvent.objects.filter(item=item).values_list("detail__route", flat=True))
    assert routes == {"admin"}


def test_refused_upload_is_a_form_error_and_leaves_nothing(client, curator, bad_upload, archive_state):
    if bad_upload.filename == "photo\x00.png":
        pytest.skip("Django's multipart parser strips the NUL before the form sees the name (see the next test)")
    client.force_login(curator)
    before = archive_state()
    data = _add_form(bad_upload.path)
    data["upload"] = _named(bad_upload.filename, bad_upload.path.read_bytes())

    response = client.post(ADD_ITEM, data)

    # Names Django's parser cannot use at all are dropped by it: the form then misses its file.
    assert response.status_code == 200
    assert "upload" in response.context["adminform"].form.errors
    assert archive_state() == before


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"Shelf list, box 12\n" * 5000, "The file is not an image."), (image_bytes("GIF", size=(8, 8)), "GIF images are not accepted")],
)
def test_an_upload_stopped_at_its_first_bytes_says_why(client, curator, data, message, archive_state, archive_dirs):
    client.force_login(curator)
    before = archive_state()
    form = {
        "identifier": "X-1", "title": "", "collection": "", "type": "StillImage", "_save": "Save",
        "upload": _named("scan.tif", data),
    }

    response = client.post(ADD_ITEM, form)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["upload"]
    assert len(errors) == 1 and message in errors[0]  # the reason, not "This field is required."
    assert archive_state() == before


def test_upload_name_is_sanitised_on_the_way_in(client, curator, make_image):
    client.force_login(curator)
    data = _add_form(make_image("a.png"))
    data["upload"] = _named("../../ph\x00oto\u202e.png", make_image("b.png").read_bytes())

    assert client.post(ADD_ITEM, data).status_code == 302
    assert Version.objects.get().original_filename == "photo.png"


@pytest.mark.parametrize(
    "fields, error_field",
    [({"identifier": "TAKEN"}, "identifier"), ({"title": "x" * 501}, "title")],
)
def test_invalid_metadata_on_the_add_form_leaves_nothing(fields, error_field, client, curator, make_image, archive_state, ingest):
    ingest(make_image("first.png"), {"identifier": "TAKEN"})
    client.force_login(curator)
    before = archive_state()

    response = client.post(ADD_ITEM, _add_form(make_image("second.png"), **fields))

    assert response.status_code == 200 and error_field in response.context["adminform"].form.errors
    assert archive_state() == before


def test_duplicate_upload_is_a_form_error(client, curator, make_image, ingest, archive_state):
    path = make_image("a.png")
    ingest(path)
    client.force_login(curator)
    before = archive_state()

    response = client.post(ADD_ITEM, _add_form(path))

    assert "already archived" in str(response.context["adminform"].form.errors["upload"])
    assert archive_state() == before


# --- Editing --------------------------------------------------------------------------------------


def test_metadata_edit_goes_through_the_service_and_identifier_is_read_only(client, curator, make_image, ingest):
    item = ingest(make_image("a.png"), {"identifier": "ID-1", "title": "Old"}).item
    client.force_login(curator)

    page = client.get(_change(item))
    assert "identifier" not in page.context["adminform"].form.fields
    response = client.post(
        _change(item),
        {"identifier": "HACKED", "title": "New", "collection": "", "type": "StillImage", "format": "image/png",
         "versions-TOTAL_FORMS": "1", "versions-INITIAL_FORMS": "1", "versions-MIN_NUM_FORMS": "0",
         "versions-MAX_NUM_FORMS": "1000", "versions-0-id": str(item.versions.get().pk), "versions-0-item": str(item.pk),
         "events-TOTAL_FORMS": "0", "events-INITIAL_FORMS": "0", "events-MIN_NUM_FORMS": "0",
         "events-MAX_NUM_FORMS": "0", "notes-TOTAL_FORMS": "0", "notes-INITIAL_FORMS": "0",
         "notes-MIN_NUM_FORMS": "0", "notes-MAX_NUM_FORMS": "1000", "_save": "Save"},
    )

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    item.refresh_from_db()
    assert (item.identifier, item.title) == ("ID-1", "New")
    event = ProvenanceEvent.objects.get(item=item, event_type=EventType.METADATA_MODIFICATION)
    assert event.detail["changes"] == {"title": {"old": "Old", "new": "New"}}


def test_change_page_shows_versions_and_provenance_inline(client, viewer, make_image, ingest):
    version = ingest(make_image("a.png"))
    client.force_login(viewer)

    response = client.get(_change(version.item))

    content = response.content.decode()
    assert response.status_code == 200
    assert version.sha256 in content and "message digest calculation" in content and "ingestion" in content
    assert reverse("admin:restoration_version_display", args=[version.pk, "thumbnail"]) in content


# --- The list -------------------------------------------------------------------------------------


def test_item_list_annotates_counts_and_last_event_without_n_plus_one(client, curator, make_image, ingest):
    client.force_login(curator)

    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(ITEMS).status_code == 200
        return len(captured)

    ingest(make_image("a.png"))
    few = queries_for_list()
    for index in range(4):
        ingest(make_image(f"more-{index}.png"))
    assert queries_for_list() == few

    response = client.get(ITEMS)
    rows = {item.identifier: item for item in response.context["cl"].result_list}
    item = Item.objects.get(identifier="a")
    assert rows["a"].version_count == 1
    assert rows["a"].last_event_at == ProvenanceEvent.objects.filter(item=item).latest("timestamp").timestamp


def test_item_list_filters_and_search(client, curator, make_image, ingest):
    port = Collection.objects.create(name="Port", slug="port")
    plain = ingest(make_image("plain.png"), {"title": "Plain"})
    in_port = ingest(make_image("port.png"), {"description": "boats at dawn"}, collection=port)
    with open(make_image("restored.png"), "rb") as fh:
        services.add_derivative(
            plain, fh, kind=VersionKind.RESTORED, filename="restored.png", user=curator,
            software={"name": "x", "version": "1"}, detail={},
        )
    client.force_login(curator)

    def listed(query: str) -> set[str]:
        return {i.identifier for i in client.get(ITEMS + query).context["cl"].result_list}

    assert listed(f"?collection__id__exact={port.pk}") == {in_port.item.identifier}
    assert listed("?has_kind=restored") == {plain.item.identifier}
    assert listed("?has_kind=original") == {plain.item.identifier, in_port.item.identifier}
    assert listed("?q=dawn") == {in_port.item.identifier}
    assert listed("?q=Plain") == {plain.item.identifier}


# --- Permissions ----------------------------------------------------------------------------------


def test_staff_without_the_view_permission_see_nothing(client, staff, make_image, ingest):
    version = ingest(make_image("a.png"))
    client.force_login(staff)

    assert client.get(ITEMS).status_code == 403
    assert client.get(_change(version.item)).status_code == 403
    assert client.get(reverse("admin:restoration_provenanceevent_changelist")).status_code == 403
    assert client.get(reverse("admin:restoration_version_display", args=[version.pk, "thumbnail"])).status_code == 403
    assert "restoration" not in [app["app_label"] for app in client.get(reverse("admin:index")).context["app_list"]]


def test_viewers_may_view_but_not_add_or_change(client, viewer, make_image, ingest):
    item = ingest(make_image("a.png")).item
    client.force_login(viewer)

    assert client.get(ITEMS).status_code == 200
    assert client.get(reverse("admin:restoration_collection_changelist")).status_code == 200
    assert client.get(reverse("admin:restoration_provenanceevent_changelist")).status_code == 200
    assert client.get(ADD_ITEM).status_code == 403
    page = client.get(_change(item))
    assert page.status_code == 200 and not page.context["has_change_permission"]
    response = client.post(_change(item), {"title": "Changed"})
    assert response.status_code == 403
    assert Item.objects.get(pk=item.pk).title == "a"  # from the file name, unchanged


def test_anonymous_is_sent_to_login(client, make_image, ingest):
    version = ingest(make_image("a.png"))
    for url in (ITEMS, ADD_ITEM, reverse("admin:restoration_version_display", args=[version.pk, "file"])):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response.url


def test_nobody_deletes_items_or_edits_provenance(client, superuser, make_image, ingest):
    item = ingest(make_image("a.png")).item
    event = ProvenanceEvent.objects.filter(item=item).first()
    client.force_login(superuser)

    assert client.get(reverse("admin:restoration_item_delete", args=[item.pk])).status_code == 403
    assert client.get(reverse("admin:restoration_provenanceevent_add")).status_code == 403
    assert client.post(reverse("admin:restoration_provenanceevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    page = client.get(reverse("admin:restoration_provenanceevent_change", args=[event.pk]))
    assert page.status_code == 200 and not page.context["has_change_permission"]
    client.post(reverse("admin:restoration_provenanceevent_change", args=[event.pk]), {"outcome": "failure"})
    assert ProvenanceEvent.objects.get(pk=event.pk).outcome == "success"
    assert Item.objects.filter(pk=item.pk).exists()


# --- Versions ------------------------------------------------------------------------------------


def test_display_view_streams_thumbnail_access_copy_and_original(client, viewer, make_image, ingest):
    path = make_image("a.png")
    version = ingest(path)
    client.force_login(viewer)

    thumbnail = client.get(reverse("admin:restoration_version_display", args=[version.pk, "thumbnail"]))
    assert thumbnail.status_code == 200 and thumbnail["Content-Type"] == "image/jpeg"
    assert b"".join(thumbnail.streaming_content)[:3] == b"\xff\xd8\xff"
    original = client.get(reverse("admin:restoration_version_display", args=[version.pk, "file"]))
    assert b"".join(original.streaming_content) == path.read_bytes()
    assert 'filename="a_original.png"' in original["Content-Disposition"]
    assert client.get(reverse("admin:restoration_version_display", args=[version.pk, "other"])).status_code == 404


def test_make_preferred_action(client, curator, make_image, ingest):
    original = ingest(make_image("a.png"))
    with open(make_image("b.png"), "rb") as fh:
        derivative = services.add_derivative(
            original, fh, kind=VersionKind.UPSCALED, filename="b.png", user=curator,
            software={"name": "x", "version": "1"}, detail={},
        )
    client.force_login(curator)

    response = client.post(
        reverse("admin:restoration_version_changelist"),
        {"action": "make_preferred", "_selected_action": [derivative.pk]},
    )

    assert response.status_code == 302
    assert Version.objects.get(item=original.item, is_preferred=True) == derivative

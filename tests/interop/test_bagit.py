"""BagIt export: bags validated with the ``bagit`` package, checksums equal to the stored ones."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import bagit
import pytest
from django.core.management import CommandError, call_command
from lxml import etree

from tests.support import quadrants_bytes
from restoration.interop import bagit as bagit_export
from restoration.core import imaging
from restoration.models import Version

NS = {"premis": bagit_export.NS_PREMIS, "dc": "http://purl.org/dc/elements/1.1/"}


@pytest.fixture
def archive(store, restore, public_collection):
    """Two items of the public collection (one restored) and one hidden item elsewhere."""
    first = store(quadrants_bytes(120, 80), "ARC-1", collection=public_collection, is_public=True,
                  title="Quay", creator="J. Smith", filename="quay scan.png")
    restored = restore(first)
    second = store(quadrants_bytes(60, 40, fmt="JPEG"), "ARC-2", collection=public_collection, filename="b.jpg")
    return first, restored, second


def _manifest(bag_dir: Path) -> dict[str, str]:
    lines = (bag_dir / "manifest-sha256.txt").read_text().splitlines()
    return {path: digest for digest, path in (line.split("  ", 1) for line in lines)}


def test_item_bag_is_valid_and_holds_the_stored_checksums(archive, tmp_path):
    first, restored, _ = archive
    result = bagit_export.export_item_bags([first.item], tmp_path / "out")
    assert result.bags == [tmp_path / "out" / "ARC-1"]
    bag = bagit.Bag(str(result.bags[0]))
    bag.validate()  # checksums, Payload-Oxum, completeness, tag manifest
    assert bag.version_info == (1, 0)
    manifest = _manifest(result.bags[0])
    assert manifest[f"data/ARC-1/original/{first.pk}-original.png"] == first.sha256
    assert manifest[f"data/ARC-1/derivatives/{restored.pk}-restored.png"] == restored.sha256
    assert set(manifest) == {
        f"data/ARC-1/original/{first.pk}-original.png", f"data/ARC-1/derivatives/{restored.pk}-restored.png",
        "data/ARC-1/metadata/dc.xml", "data/ARC-1/metadata/premis.xml",
    }
    info = bag.info
    assert info["Source-Organization"] == "Photo archive"
    assert info["External-Identifier"] == "ARC-1" and info["Internal-Sender-Identifier"] == "harbour"
    assert len(info["Bagging-Date"]) == 10 and info["Payload-Oxum"].endswith(".4")
    tags = (result.bags[0] / "tagmanifest-sha256.txt").read_text()
    assert {"bagit.txt", "bag-info.txt", "manifest-sha256.txt"} == {line.split("  ")[1] for line in tags.splitlines()}
    # the copies are byte for byte the stored files
    with open(result.bags[0] / f"data/ARC-1/original/{first.pk}-original.png", "rb") as fh:
        assert imaging.sha256_stream(fh) == (first.sha256, first.bytes)


def test_dublin_core_and_premis_files(archive, tmp_path):
    first, restored, _ = archive
    bag_dir = bagit_export.export_item_bags([first.item], tmp_path / "out").bags[0]
    dc = etree.parse(str(bag_dir / "data/ARC-1/metadata/dc.xml"))
    assert dc.findtext("dc:title", namespaces=NS) == "Quay" and dc.findtext("dc:creator", namespaces=NS) == "J. Smith"
    schema = etree.XMLSchema(etree.parse(str(Path(__file__).parents[1] / "schemas" / "oai_dc.xsd")))
    schema.assertValid(dc)

    premis = etree.parse(str(bag_dir / "data/ARC-1/metadata/premis.xml"))
    objects = premis.findall("premis:object", NS)
    assert [o.findtext(".//premis:messageDigest", namespaces=NS) for o in objects] == [first.sha256, restored.sha256]
    assert objects[0].findtext("premis:originalName", namespaces=NS) == "quay scan.png"
    assert objects[1].findtext(".//premis:relatedObjectIdentifierValue", namespaces=NS) == f"version:{first.pk}"
    events = premis.findall("premis:event", NS)
    types = [e.findtext("premis:eventType", namespaces=NS) for e in events]
    assert types[:2] == ["message digest calculation", "ingestion"] and "modification" in types
    modification = events[types.index("modification")]
    assert modification.find("premis:eventType", NS).get("valueURI").endswith("/eventType/mod")
    assert "restore-unet-tiny" in modification.findtext(".//premis:eventDetail", namespaces=NS)
    roles = {(e.findtext("premis:linkingObjectIdentifierValue", namespaces=NS),
              e.findtext("premis:linkingObjectRole", namespaces=NS))
             for e in modification.findall("premis:linkingObjectIdentifier", NS)}
    assert roles == {(f"version:{first.pk}", "source"), (f"version:{restored.pk}", "outcome")}
    agents = {a.findtext("premis:agentName", namespaces=NS): a for a in premis.findall("premis:agent", NS)}
    assert agents["gan_engine"].findtext("premis:agentType", namespaces=NS) == "software"
    assert agents["curator"].findtext("premis:agentType", namespaces=NS) == "person"


def test_collection_bag_holds_every_item(archive, tmp_path, public_collection):
    first, restored, second = archive
    result = bagit_export.export_collection_bags([public_collection], tmp_path / "out")
    bag_dir = result.bags[0]
    assert bag_dir.name == "harbour"
    bag = bagit.Bag(str(bag_dir))
    bag.validate()
    manifest = _manifest(bag_dir)
    for version, folder in ((first, "ARC-1/original"), (restored, "ARC-1/derivatives"), (second, "ARC-2/original")):
        ext = Path(version.file.name).suffix
        assert manifest[f"data/{folder}/{version.pk}-{version.kind}{ext}"] == version.sha256
    assert "data/collection.xml" in manifest
    assert bag.info["External-Identifier"] == ["harbour", "ARC-1", "ARC-2"]  # non-public ARC-2 included
    assert result.files == 8 and result.bytes == sum(
        (bag_dir / path).stat().st_size for path in manifest
    )


def test_files_are_streamed_not_read_whole(archive, tmp_path, monkeypatch):
    first, _, _ = archive
    reads = []
    real = imaging.sha256_stream

    def spy(fileobj, chunk=imaging.CHUNK_SIZE, **kwargs):
        reads.append(chunk)
        return real(fileobj, chunk, **kwargs)

    monkeypatch.setattr(imaging, "sha256_stream", spy)
    bagit_export.export_item_bags([first.item], tmp_path / "out")
    assert reads and all(chunk == imaging.CHUNK_SIZE for chunk in reads)


def test_a_changed_file_stops_the_export_and_leaves_nothing(archive, tmp_path, archive_dirs):
    first, _, second = archive
    stored = archive_dirs.media / second.file.name
    stored.write_bytes(stored.read_bytes()[:-1] + b"\x00")
    destination = tmp_path / "transfer"
    destination.mkdir()
    with pytest.raises(bagit_export.BagExportError) as caught:
        bagit_export.export_item_bags([first.item, second.item], destination / "out")
    assert caught.value.code == "fixity_mismatch" and second.sha256 in caught.value.message
    assert os.listdir(destination) == []  # no half bag, no temporary folder, not even the output folder


def test_missing_file_is_reported(archive, tmp_path, archive_dirs):
    first, _, _ = archive
    (archive_dirs.media / first.file.name).unlink()
    with pytest.raises(bagit_export.BagExportError) as caught:
        bagit_export.export_item_bags([first.item], tmp_path / "out")
    assert caught.value.code == "missing_file" and not (tmp_path / "out").exists()


def test_output_folder_checks(archive, tmp_path):
    items = [archive[0].item]
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    (tmp_path / "a-file").write_text("x")
    cases = {
        tmp_path / "full": "not_empty",
        tmp_path / "a-file": "not_a_directory",
        tmp_path / "no" / "such" / "parent": "no_parent",
    }
    for out, code in cases.items():
        with pytest.raises(bagit_export.BagExportError) as caught:
            bagit_export.export_item_bags(items, out)
        assert caught.value.code == code
    assert (tmp_path / "full" / "keep.txt").read_text() == "x"
    (tmp_path / "empty").mkdir()
    assert bagit_export.export_item_bags(items, tmp_path / "empty").bags == [tmp_path / "empty" / "ARC-1"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_parent(archive, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(bagit_export.BagExportError) as caught:
            bagit_export.export_item_bags([archive[0].item], locked / "out")
        assert caught.value.code == "not_writable"
    finally:
        locked.chmod(0o700)


# --- The command --------------------------------------------------------------------------------


def test_command_exports_items_by_identifier_or_id(archive, tmp_path, capsys):
    first, _, second = archive
    call_command("export_bag", "--item", "ARC-1", str(second.item.pk), str(tmp_path / "out"))
    out = capsys.readouterr()
    assert out.out.splitlines() == [str(tmp_path / "out" / "ARC-1"), str(tmp_path / "out" / "ARC-2")]
    assert "2 bag(s)" in out.err
    for name in ("ARC-1", "ARC-2"):
        bagit.Bag(str(tmp_path / "out" / name)).validate()


def test_command_exports_a_collection(archive, tmp_path):
    call_command("export_bag", "--collection", "harbour", str(tmp_path / "out"))
    bagit.Bag(str(tmp_path / "out" / "harbour")).validate()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--item", "NOPE", "ARC-1", "999999"], "'NOPE', '999999'"),
        (["--collection", "nope"], "No collection with the slug 'nope'"),
    ],
)
def test_command_errors(archive, tmp_path, arguments, message):
    with pytest.raises(CommandError) as caught:
        call_command("export_bag", *arguments, str(tmp_path / "out"))
    assert message in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_command_needs_items_or_a_collection(archive, tmp_path):
    with pytest.raises(CommandError):
        call_command("export_bag", str(tmp_path / "out"))
    with pytest.raises(CommandError):
        call_command("export_bag", "--item", "ARC-1", "--collection", "harbour", str(tmp_path / "out"))


def test_command_refuses_a_non_empty_folder(archive, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old").mkdir()
    with pytest.raises(CommandError, match="not empty"):
        call_command("export_bag", "--item", "ARC-1", str(tmp_path / "out"))


# --- The admin action ---------------------------------------------------------------------------


def _run_action(client, url, pks):
    return client.post(url, {"action": "export_bags", "_selected_action": [str(pk) for pk in pks]}, follow=True)


def _unzipped(response, into: Path) -> list[Path]:
    """The bags of a downloaded zip, extracted into ``into``."""
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as bundle:
        assert all(not name.startswith("/") and ".." not in name.split("/") for name in bundle.namelist())
        bundle.extractall(into)
    [top] = list(into.iterdir())
    return sorted(top.iterdir())


def test_admin_action_downloads_a_zip_of_valid_bags(client, curator, archive, archive_dirs, tmp_path):
    first, restored, second = archive
    client.force_login(curator)
    response = _run_action(client, "/admin/restoration/item/", [first.item.pk, second.item.pk])

    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="bags-items-')
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    bags = _unzipped(response, tmp_path / "items")
    assert [bag.name for bag in bags] == ["ARC-1", "ARC-2"]
    for bag_dir in bags:
        bagit.Bag(str(bag_dir)).validate()
    assert _manifest(bags[0])["data/ARC-1/original/" + f"{first.pk}-original.png"] == first.sha256
    # Nothing stays on the server: no export folder, no temporary file or folder.
    assert not (archive_dirs.var / "exports").exists()
    assert os.listdir(archive_dirs.uploads) == []

    collection = _run_action(client, "/admin/restoration/collection/", [first.item.collection_id])
    [bag_dir] = _unzipped(collection, tmp_path / "collections")
    bagit.Bag(str(bag_dir)).validate()
    assert bag_dir.name == "harbour" and os.listdir(archive_dirs.uploads) == []


def test_admin_download_of_a_damaged_file_is_an_error_and_leaves_nothing(client, curator, archive, archive_dirs):
    first, _, _ = archive
    (archive_dirs.media / first.file.name).write_bytes(b"not what was stored")
    client.force_login(curator)
    response = _run_action(client, "/admin/restoration/item/", [first.item.pk])

    assert response["Content-Type"].startswith("text/html")
    assert any("Nothing exported" in str(m) for m in response.context["messages"])
    assert os.listdir(archive_dirs.uploads) == []


def test_admin_action_needs_curator_rights(client, viewer, archive):
    client.force_login(viewer)  # may look at every item, may not export
    page = client.get("/admin/restoration/item/")
    form = page.context["action_form"]
    assert form is None or "export_bags" not in [name for name, _ in form.fields["action"].choices]
    response = _run_action(client, "/admin/restoration/item/", [archive[0].item.pk])
    assert response["Content-Type"].startswith("text/html")  # the list again, no zip
    assert Version.objects.count() == 3  # nothing else happened either


def test_command_takes_out_dir_before_or_after_the_items(archive, tmp_path):
    call_command("export_bag", str(tmp_path / "first"), "--item", "ARC-1", "ARC-2")
    assert sorted(p.name for p in (tmp_path / "first").iterdir()) == ["ARC-1", "ARC-2"]
    call_command("export_bag", "--item", "ARC-2", str(tmp_path / "second"))
    assert [p.name for p in (tmp_path / "second").iterdir()] == ["ARC-2"]
    with pytest.raises(CommandError, match="OUT_DIR is required"):
        call_command("export_bag", "--item", "ARC-1")

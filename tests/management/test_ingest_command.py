"""``manage.py ingest``: folders, metadata CSV, duplicates, failures and the summary."""

from __future__ import annotations

import io
import unicodedata

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from restoration.models import Collection, EventType, Item, ProvenanceEvent, Version

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("ingest", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def folder(archive_dirs, make_image):
    root = archive_dirs.work / "scans"
    make_image("a.tif", directory=root)
    make_image("b.png", directory=root / "box1")
    make_image("c.jpg", directory=root / "box1" / "deeper", bits=8)
    make_image("hidden.png", directory=root / ".thumbs")
    make_image(".DS_Store.png", directory=root)
    return root


def test_ingests_a_folder_recursively_with_metadata_and_a_collection(folder, archive_dirs, curator):
    collection = Collection.objects.create(name="Port", slug="port")
    csv_path = archive_dirs.work / "meta.csv"
    csv_path.write_text(
        "filename,identifier,title,creator,is_public\n"
        "a.tif,PORT-1,Quay,A. Smith,yes\n"
        "box1/b.png,PORT-2,Boats,,no\n",
        encoding="utf-8-sig",
    )

    out, err = run(folder, "--collection", "port", "--metadata", csv_path, "--user", "curator")

    assert "Ingested: 3" in out and "Skipped duplicates: 0" in out and "Failed: 0" in out
    assert "Ingesting" in err  # the tqdm progress bar
    quay = Item.objects.get(identifier="PORT-1")
    assert (quay.title, quay.creator, quay.is_public, quay.collection) == ("Quay", "A. Smith", True, collection)
    assert Item.objects.get(identifier="PORT-2").is_public is False
    assert Item.objects.filter(identifier="c").exists()  # no row: identifier from the file name
    assert Item.objects.count() == 3  # hidden files and folders are left out
    assert set(ProvenanceEvent.objects.values_list("detail__route", flat=True)) == {"cli"}
    assert ProvenanceEvent.objects.filter(event_type=EventType.INGESTION, agents__user=curator).count() == 3


def test_second_run_skips_duplicates(folder):
    run(folder)
    before = Version.objects.count()

    out, _ = run(folder)

    assert "Ingested: 0" in out and "Skipped duplicates: 3" in out and "already archived as version" in out
    assert Version.objects.count() == before


def test_failures_are_listed_and_exit_non_zero_while_good_files_are_ingested(folder, archive_dirs):
    (folder / "notes.txt").write_text("not an image")
    (folder / "empty.png").write_bytes(b"")
    cut = folder / "box1" / "cut.png"
    cut.write_bytes((folder / "box1" / "b.png").read_bytes()[:200])
    out = io.StringIO()

    with pytest.raises(CommandError) as caught:
        call_command("ingest", str(folder), stdout=out, stderr=io.StringIO())

    text = out.getvalue()
    assert "3 file(s) failed" in str(caught.value)
    assert "Ingested: 3" in text and "Failed: 3" in text
    assert "notes.txt: not_an_image" in text and "empty.png: empty_file" in text and "box1/cut.png: corrupt_image" in text
    assert Item.objects.count() == 3
    # nothing of the refused files is left: three originals, each with its two display images and access copy
    assert len(archive_dirs.media_files()) == 12 and archive_dirs.upload_files() == []


def test_every_refused_upload_is_a_failure_that_leaves_nothing(bad_upload, archive_state, archive_dirs):
    if bad_upload.code == "bad_filename":
        pytest.skip("file names on disk come from the file system; the service tests cover hostile names")
    before = archive_state()

    with pytest.raises(CommandError):
        call_command("ingest", str(bad_upload.path), stdout=io.StringIO(), stderr=io.StringIO())

    assert archive_state() == before


def test_missing_path_exits_non_zero(archive_dirs):
    with pytest.raises(CommandError, match="does not exist"):
        run(archive_dirs.work / "nowhere")


@pytest.mark.parametrize(
    "args, message",
    [(["--collection", "nope"], "No collection"), (["--user", "nobody"], "No user")],
)
def test_unknown_collection_or_user_exits_before_ingesting(args, message, folder):
    with pytest.raises(CommandError, match=message):
        run(folder, *args)
    assert Item.objects.count() == 0


@pytest.mark.parametrize(
    "content, message",
    [
        ("name,title\na.tif,x\n", "needs a 'filename' column"),
        ("filename,shelfmark\na.tif,x\n", "Unknown metadata column"),
        ("filename,title\na.tif,x\na.tif,y\n", "appears twice"),
        ("filename,is_public\na.tif,maybe\n", "is_public must be true or false"),
        ("filename,title\na.tif,x,extra\n", "more cells than the header"),
    ],
)
def test_bad_metadata_csv_exits_before_ingesting(content, message, folder, archive_dirs):
    csv_path = archive_dirs.work / "meta.csv"
    csv_path.write_text(content)
    with pytest.raises(CommandError, match=message):
        run(folder, "--metadata", csv_path)
    assert Item.objects.count() == 0


def test_invalid_metadata_value_fails_that_file_only(folder, archive_dirs):
    csv_path = archive_dirs.work / "meta.csv"
    csv_path.write_text("filename,title\na.tif," + "x" * 600 + "\n")
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("ingest", str(folder), "--metadata", str(csv_path), stdout=out, stderr=io.StringIO())
    assert "a.tif: invalid_metadata" in out.getvalue() and Item.objects.count() == 2


def test_csv_rows_without_a_file_are_reported(folder, archive_dirs):
    csv_path = archive_dirs.work / "meta.csv"
    csv_path.write_text("filename,title\nmissing.tif,x\n")
    out, _ = run(folder, "--metadata", csv_path)
    assert "CSV rows matching no file: missing.tif" in out


def test_help_documents_the_csv_columns():
    from restoration.management.commands.ingest import Command

    parser = Command().create_parser("manage.py", "ingest")
    text = parser.format_help()
    for column in ("filename", "identifier", "title", "creator", "rights", "is_public"):
        assert f"  {column}" in text



def test_hostile_names_on_disk_are_recorded_sanitised(archive_dirs, make_image):
    # Given file names with an escape sequence and a bell, decomposed Unicode, and 230 bytes
    root = archive_dirs.work / "hostile"
    make_image("scan\x1b[31mre\u0301d\x07.png", directory=root, size=(64, 48))
    make_image("e\u0301" * 76 + ".png", directory=root, size=(48, 64))

    out, _ = run(root)

    # Then both are ingested under names free of control characters, in NFC, within the limit
    assert "Ingested: 2" in out
    names = sorted(Version.objects.values_list("original_filename", flat=True))
    assert "scan[31mr\u00e9d.png" in names
    assert ("\u00e9" * 76 + ".png") in names
    assert all(unicodedata.is_normalized("NFC", name) and len(name) <= 200 for name in names)
    assert not any(ord(ch) < 32 or ord(ch) == 127 for name in names for ch in name)

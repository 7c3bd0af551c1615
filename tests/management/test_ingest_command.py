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


# --- Titles from file names, and --update with a corrected CSV -------------------------------------


def test_a_file_without_a_row_gets_its_file_name_as_title(archive_dirs, make_image):
    root = archive_dirs.work / "named"
    make_image("harbour_at_dawn_1920.png", directory=root)
    make_image("quay.png", directory=root)
    csv_path = archive_dirs.work / "meta.csv"
    csv_path.write_text("filename,title\nquay.png,The quay\n")

    run(root, "--metadata", csv_path)

    assert dict(Item.objects.values_list("identifier", "title")) == {
        "harbour_at_dawn_1920": "harbour at dawn 1920", "quay": "The quay",
    }


def _metadata_events(identifier: str) -> list[dict]:
    return list(ProvenanceEvent.objects.filter(item__identifier=identifier, event_type=EventType.METADATA_MODIFICATION)
                .values_list("detail", flat=True))


def _write_csv(archive_dirs, text: str):
    path = archive_dirs.work / "meta.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_without_update_an_existing_identifier_still_fails(folder, archive_dirs):
    first = _write_csv(archive_dirs, "filename,identifier,title\na.tif,PORT-1,Quay\n")
    run(folder, "--metadata", first)
    out = io.StringIO()
    again = _write_csv(archive_dirs, "filename,identifier,title\nb.png,PORT-1,Boats\n")
    with pytest.raises(CommandError):
        call_command("ingest", str(folder / "box1"), "--metadata", str(again), stdout=out, stderr=io.StringIO())
    assert "identifier_taken" in out.getvalue()
    assert Item.objects.get(identifier="PORT-1").title == "Quay"


def test_update_applies_a_corrected_csv_one_event_per_changed_item(folder, archive_dirs, curator):
    original = _write_csv(archive_dirs, (
        "filename,identifier,title,creator,is_public\n"
        "a.tif,PORT-1,Quay,A. Smith,no\n"
        "box1/b.png,PORT-2,Boats,,no\n"
        "box1/deeper/c.jpg,PORT-3,Crane,B. Jones,yes\n"
    ))
    run(folder, "--metadata", original)
    before = {i: _metadata_events(i) for i in ("PORT-1", "PORT-2", "PORT-3")}
    assert before == {"PORT-1": [], "PORT-2": [], "PORT-3": []}
    versions = Version.objects.count()
    corrected = _write_csv(archive_dirs, (
        "filename,identifier,title,creator,is_public\n"
        "a.tif,PORT-1,Quay at dawn,Léon Gimpel,yes\n"   # three fields change
        "box1/b.png,PORT-2,Boats,,no\n"                 # as before: untouched
        "box1/deeper/c.jpg,PORT-3,Crane,B. Jones,\n"    # an empty cell leaves is_public as it is
    ))

    out, _ = run(folder, "--metadata", corrected, "--update", "--user", "curator")

    assert "Ingested: 0" in out and "Updated: 1" in out and "Unchanged: 2" in out
    assert "a.tif -> PORT-1: creator, is_public, title" in out
    quay = Item.objects.get(identifier="PORT-1")
    assert (quay.title, quay.creator, quay.is_public) == ("Quay at dawn", "Léon Gimpel", True)
    [detail] = _metadata_events("PORT-1")
    assert detail == {"route": "cli", "changes": {
        "title": {"old": "Quay", "new": "Quay at dawn"},
        "creator": {"old": "A. Smith", "new": "Léon Gimpel"},
        "is_public": {"old": False, "new": True},
    }}
    assert _metadata_events("PORT-2") == [] and _metadata_events("PORT-3") == []
    assert Item.objects.get(identifier="PORT-3").is_public is True
    assert Version.objects.count() == versions  # no file stored again
    assert ProvenanceEvent.objects.filter(event_type=EventType.METADATA_MODIFICATION, agents__user=curator).count() == 1

    # Applying the same CSV again changes nothing.
    out, _ = run(folder, "--metadata", corrected, "--update")
    assert "Updated: 0" in out and "Unchanged: 3" in out and len(_metadata_events("PORT-1")) == 1


def test_update_finds_items_by_content_when_the_row_has_no_identifier(folder, archive_dirs):
    run(folder)  # identifiers from the file names, titles too
    assert Item.objects.get(identifier="b").title == "b"
    corrected = _write_csv(archive_dirs, "filename,title\nbox1/b.png,Boats in the harbour\n")

    out, _ = run(folder, "--metadata", corrected, "--update")

    assert "Updated: 1" in out and Item.objects.get(identifier="b").title == "Boats in the harbour"
    assert Item.objects.count() == 3


def test_update_reports_unknown_identifiers_and_still_ingests_new_files(folder, archive_dirs, make_image):
    run(folder / "box1")  # b and c are archived; a.tif is new
    corrected = _write_csv(archive_dirs, (
        "filename,identifier,title\n"
        "a.tif,PORT-9,A new quay\n"          # a new file: ingested as usual
        "gone.tif,NOPE-1,Lost\n"             # no file, no item: unknown
        "elsewhere.tif,b,Boats (corrected)\n"  # no file here, but the item exists: updated
    ))

    with pytest.raises(CommandError, match="1 unknown identifier"):
        call_command("ingest", str(folder), "--metadata", str(corrected), "--update",
                     stdout=(out := io.StringIO()), stderr=io.StringIO())

    text = out.getvalue()
    assert "Ingested: 1" in text and "Updated: 1" in text
    assert "Unknown identifiers (rows matching no file and no item): gone.tif (NOPE-1)" in text
    assert Item.objects.get(identifier="PORT-9").title == "A new quay"
    assert Item.objects.get(identifier="b").title == "Boats (corrected)"
    assert not Item.objects.filter(identifier="NOPE-1").exists()


def test_update_refuses_a_row_whose_identifier_holds_another_file(folder, archive_dirs):
    run(folder / "box1")
    corrected = _write_csv(archive_dirs, "filename,identifier,title\na.tif,b,Not this one\n")

    with pytest.raises(CommandError):
        call_command("ingest", str(folder), "--metadata", str(corrected), "--update",
                     stdout=(out := io.StringIO()), stderr=io.StringIO())

    assert "a.tif: identifier_taken" in out.getvalue()
    assert Item.objects.get(identifier="b").title == "b" and not _metadata_events("b")


def test_update_with_an_invalid_value_fails_that_row_and_changes_nothing_of_it(folder, archive_dirs):
    run(folder)
    corrected = _write_csv(archive_dirs, "filename,title,date\nbox1/b.png,Boats," + "9" * 200 + "\n")

    with pytest.raises(CommandError):
        call_command("ingest", str(folder), "--metadata", str(corrected), "--update",
                     stdout=(out := io.StringIO()), stderr=io.StringIO())

    assert "box1/b.png: invalid_metadata" in out.getvalue()
    assert Item.objects.get(identifier="b").title == "b" and not _metadata_events("b")

"""``manage.py ingest PATH``: ingest a folder of images (or one image) as new archival items;
with ``--update``, apply a corrected metadata CSV to the items that exist already."""

from __future__ import annotations

import csv
from argparse import RawDescriptionHelpFormatter
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm.contrib.logging import logging_redirect_tqdm

from restoration.core import imaging, services
from restoration.management.commands._progress import progress
from restoration.core.models import DUBLIN_CORE_FIELDS, Collection, Item, Version

FILENAME_COLUMN = "filename"
METADATA_COLUMNS = ("identifier", "title", *DUBLIN_CORE_FIELDS, "is_public")
TRUE_WORDS, FALSE_WORDS = {"1", "true", "yes", "y"}, {"", "0", "false", "no", "n"}

COLUMNS_HELP = "\n".join(
    [
        f"  {FILENAME_COLUMN:<12} required: the file's path relative to PATH (e.g. box1/scan-001.tif),",
        "               or just its name (matched wherever the file is under PATH)",
        "  identifier   the archival identifier (default: derived from the file name)",
        "  title        the title",
        *(f"  {name:<12} Dublin Core {name}" for name in DUBLIN_CORE_FIELDS),
        "  is_public    true/false, yes/no or 1/0 (default: false)",
    ]
)

HELP = f"""\
Ingest every file under PATH (searched recursively; hidden files and folders are left out) as a
new archival item with its original version, display images and PREMIS events. A file whose
content (sha256) is already archived as an original is skipped. Files the archive refuses (not
an image, corrupt, too large, ...) are reported with the reason, and the command then exits
with a non-zero status. PATH may also be a single file.

--metadata CSV is a UTF-8 CSV file with a header row and these columns:
{COLUMNS_HELP}
Empty cells are left unset; files without a row get metadata derived from the file (the title
from the file name: its stem, "_" as spaces).

--update applies a corrected CSV to items archived before: a row whose identifier is an existing
item's, or whose file's content is an existing original (rows without an identifier), sets the
row's non-empty cells on that item (one "metadata modification" event per item, listing every
changed field with its old and new value); an item already as the row says is left untouched.
The file need not be under PATH then; if it is, it must be the item's original. --collection
applies to new items only. Rows that match neither a file nor an item are reported as unknown
identifiers (and the command exits non-zero). Without --update an existing identifier fails
with identifier_taken.
"""


class Command(BaseCommand):
    help = HELP

    def create_parser(self, prog_name, subcommand, **kwargs):
        return super().create_parser(prog_name, subcommand, formatter_class=RawDescriptionHelpFormatter, **kwargs)

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", help="A folder (searched recursively) or a single image file.")
        parser.add_argument("--collection", metavar="SLUG", help="Put the new items in this existing collection.")
        parser.add_argument("--metadata", metavar="CSV", help="Metadata per file (see the columns above).")
        parser.add_argument("--user", metavar="USERNAME", help="The account recorded as the events' implementer.")
        parser.add_argument("--update", action="store_true",
                            help="Apply the CSV to existing items (see above) instead of refusing their identifiers.")

    def handle(self, *args, path: str, collection: str | None, metadata: str | None, user: str | None,
               update: bool = False, **options):
        root = Path(path).expanduser()
        if not root.exists():
            raise CommandError(f"{root} does not exist.")
        target = self._collection(collection)
        account = self._user(user)
        csv_path = Path(metadata).expanduser() if metadata else None
        rows = read_metadata(csv_path) if csv_path else {}
        files = find_files(root, exclude=csv_path)

        ingested: list[tuple[str, str]] = []
        skipped: list[tuple[str, int | None]] = []
        failed: list[tuple[str, str]] = []
        self.updated: list[tuple[str, str, list[str]]] = []  # (row, identifier, changed fields)
        self.unchanged: list[tuple[str, str]] = []
        used_rows: set[str] = set()
        base = root if root.is_dir() else root.parent
        bar = progress(files, stderr=self.stderr, desc="Ingesting", verbosity=options["verbosity"])
        with logging_redirect_tqdm(), bar:
            for file in bar:
                relative = file.relative_to(base).as_posix()
                key = relative if relative in rows else file.name if file.name in rows else None
                fields = rows.get(key, {}) if key else {}
                if key:
                    used_rows.add(key)
                if update and key:
                    try:
                        existing = self._existing_item(file, fields)
                    except OSError as exc:
                        failed.append((relative, f"unreadable: {exc.strerror or exc}"))
                        continue
                    if isinstance(existing, str):
                        failed.append((relative, existing))
                        continue
                    if existing is not None:
                        self._update(relative, existing, fields, account, failed)
                        continue
                try:
                    with open(file, "rb") as fh:
                        version = services.ingest_upload(
                            fh, filename=file.name, metadata=fields, collection=target, user=account, route="cli"
                        )
                except services.IngestError as exc:
                    if exc.code == "duplicate":
                        skipped.append((relative, exc.existing_version_id))
                    else:
                        failed.append((relative, f"{exc.code}: {exc.message}"))
                except OSError as exc:
                    failed.append((relative, f"unreadable: {exc.strerror or exc}"))
                else:
                    ingested.append((relative, version.item.identifier))

        unused = sorted(set(rows) - used_rows)
        unknown: list[str] = []
        if update:
            # Rows without their file under PATH: an existing identifier is enough to update.
            for key in unused:
                identifier = rows[key].get("identifier")
                item = Item.objects.filter(identifier=identifier).first() if identifier else None
                if item is None:
                    unknown.append(f"{key} ({identifier})" if identifier else key)
                else:
                    self._update(key, item, rows[key], account, failed)
            unused = []
        self._summary(ingested, skipped, failed, unused, options["verbosity"], update=update, unknown=unknown)
        if failed or unknown:
            raise CommandError(f"{len(failed)} file(s) failed, {len(unknown)} unknown identifier(s).")

    def _existing_item(self, file: Path, fields: dict) -> Item | str | None:
        """The archived item a row of a corrected CSV is about (``--update``): by the row's
        identifier, else by the file's content; None for a new file; a failure message when the
        identifier's item holds another file."""
        identifier = fields.get("identifier")
        item = Item.objects.filter(identifier=identifier).first() if identifier else None
        with open(file, "rb") as fh:
            sha256, _ = imaging.sha256_stream(fh)
        original = Version.objects.originals().filter(sha256=sha256).select_related("item").first()
        if item is None:
            return original.item if original is not None and not identifier else None
        if original is None or original.item_id != item.pk:
            return (f"identifier_taken: {identifier!r} is an item whose original is another file "
                    "(--update changes metadata, never files).")
        return item

    def _update(self, row: str, item: Item, fields: dict, account, failed: list) -> None:
        try:
            changes = services.reapply_ingest_metadata(item, fields, user=account, route="cli")
        except services.IngestError as exc:
            failed.append((row, f"{exc.code}: {exc.message}"))
            return
        if changes:
            self.updated.append((row, item.identifier, sorted(changes)))
        else:
            self.unchanged.append((row, item.identifier))

    def _collection(self, slug: str | None) -> Collection | None:
        if not slug:
            return None
        try:
            return Collection.objects.get(slug=slug)
        except Collection.DoesNotExist:
            raise CommandError(f"No collection with the slug {slug!r}.") from None

    def _user(self, username: str | None):
        if not username:
            return None
        User = get_user_model()
        try:
            return User.objects.get(**{User.USERNAME_FIELD: username})
        except User.DoesNotExist:
            raise CommandError(f"No user {username!r}.") from None

    def _summary(self, ingested, skipped, failed, unused_rows, verbosity: int, *, update: bool = False,
                 unknown: list[str] = ()) -> None:
        write = self.stdout.write
        write(f"Ingested: {len(ingested)}")
        if verbosity > 1:
            for relative, identifier in ingested:
                write(f"  {relative} -> {identifier}")
        if update:
            write(f"Updated: {len(self.updated)}")
            for row, identifier, fields in self.updated:
                write(f"  {row} -> {identifier}: {', '.join(fields)}")
            write(f"Unchanged: {len(self.unchanged)}")
            if verbosity > 1:
                for row, identifier in self.unchanged:
                    write(f"  {row} -> {identifier}")
        write(f"Skipped duplicates: {len(skipped)}")
        for relative, version_id in skipped:
            write(f"  {relative} (already archived as version {version_id})")
        write(f"Failed: {len(failed)}")
        for relative, reason in failed:
            write(self.style.ERROR(f"  {relative}: {reason}"))
        if unused_rows:
            write(self.style.WARNING(f"CSV rows matching no file: {', '.join(unused_rows)}"))
        if unknown:
            write(self.style.ERROR(f"Unknown identifiers (rows matching no file and no item): {', '.join(unknown)}"))


def find_files(root: Path, *, exclude: Path | None = None) -> list[Path]:
    """Regular files under ``root`` (or ``root`` itself), sorted, hidden files and folders left out."""
    if root.is_file():
        return [root]
    excluded = exclude.resolve() if exclude else None
    found = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and path.resolve() != excluded:
            found.append(path)
    return sorted(found)


def _is_public(value: str, line: int) -> bool:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise CommandError(f"Metadata line {line}: is_public must be true or false, not {value!r}.")


def read_metadata(path: Path) -> dict[str, dict]:
    """Rows of the metadata CSV keyed by their ``filename`` cell; empty cells are left out."""
    try:
        fh = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise CommandError(f"Cannot read the metadata file {path}: {exc.strerror or exc}") from exc
    with fh:
        reader = csv.DictReader(fh)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        if FILENAME_COLUMN not in columns:
            raise CommandError(f"The metadata file needs a {FILENAME_COLUMN!r} column.")
        unknown = sorted(set(columns) - {FILENAME_COLUMN, *METADATA_COLUMNS})
        if unknown:
            raise CommandError(
                f"Unknown metadata column(s) {', '.join(unknown)}; known: {FILENAME_COLUMN}, {', '.join(METADATA_COLUMNS)}."
            )
        reader.fieldnames = columns
        rows: dict[str, dict] = {}
        try:
            for row in reader:
                line = reader.line_num
                if None in row:
                    raise CommandError(f"Metadata line {line} has more cells than the header.")
                key = (row.pop(FILENAME_COLUMN) or "").strip().replace("\\", "/").removeprefix("./")
                if not key:
                    raise CommandError(f"Metadata line {line}: the {FILENAME_COLUMN} cell is empty.")
                if key in rows:
                    raise CommandError(f"Metadata line {line}: {key!r} appears twice.")
                fields = {k: v.strip() for k, v in row.items() if k and v and v.strip()}
                if fields.get("is_public"):  # an empty cell leaves it unset (new items: not public)
                    fields["is_public"] = _is_public(fields["is_public"], line)
                rows[key] = fields
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CommandError(f"The metadata file {path} is not a valid UTF-8 CSV file: {exc}") from exc
    return rows

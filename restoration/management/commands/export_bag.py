"""``manage.py export_bag (--item ID... | --collection SLUG) OUT_DIR``: BagIt bags for preservation."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from restoration.interop import bagit as bagit_export


class Command(BaseCommand):
    help = (
        "Write BagIt (RFC 8493) bags into OUT_DIR (a new or empty folder): one bag per item with --item, or one "
        "bag holding a whole collection with --collection. Each bag holds the archival files (originals and "
        "derivatives, copied byte for byte and checked against their recorded sha256), each item's Dublin Core "
        "(dc.xml) and PREMIS provenance (premis.xml), manifest-sha256.txt, tagmanifest-sha256.txt and "
        "bag-info.txt. Nothing is left in OUT_DIR if the export fails. See docs/interop.md."
    )

    def add_arguments(self, parser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument(
            "--item", nargs="+", metavar="ID", dest="items",
            help="Archival identifiers (or database ids) of the items: one bag each.",
        )
        which.add_argument("--collection", metavar="SLUG", help="A collection's slug: one bag with all its items.")
        # Optional for argparse only: after "--item A B" it cannot tell the items from OUT_DIR, so
        # the last value of --item is OUT_DIR when none follows (handle() requires one).
        parser.add_argument("out_dir", metavar="OUT_DIR", nargs="?", help="A new or empty folder to write the bags into.")

    def handle(self, *args, items: list[str] | None, collection: str | None, out_dir: str | None, **options) -> None:
        if out_dir is None and items and len(items) > 1:
            out_dir = items.pop()
        if not out_dir:
            raise CommandError("OUT_DIR is required: export_bag (--item ID... | --collection SLUG) OUT_DIR")
        try:
            if items:
                result = bagit_export.export_item_bags(bagit_export.resolve_items(items), out_dir)
            else:
                result = bagit_export.export_collection_bags([bagit_export.resolve_collection(collection)], out_dir)
        except bagit_export.BagExportError as err:
            raise CommandError(err.message) from err
        for bag in result.bags:
            self.stdout.write(str(bag))
        self.stderr.write(
            f"{len(result.bags)} bag(s), {result.files} payload file(s), {result.bytes} bytes in {result.path}"
        )

"""``manage.py build_access_copies``: make the IIIF access copy of every version that has none."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm.contrib.logging import logging_redirect_tqdm

from restoration.core import services
from restoration.core.models import Version
from restoration.management.commands._progress import progress


class Command(BaseCommand):
    help = (
        "Make the tiled, pyramidal TIFF access copy (what the IIIF image service reads) of every version "
        "that has none: versions stored before access copies existed, or whose copy libvips could not make "
        "at ingest. Versions' own files are only read. Exits non-zero if a file is missing or unreadable."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--version-id", dest="version_ids", type=int, action="append", default=[],
                            help="Only this version (repeatable).")

    def handle(self, *args, **options) -> None:
        versions = Version.objects.filter(access_copy__isnull=True).select_related("item").order_by("pk")
        if options["version_ids"]:
            versions = versions.filter(pk__in=options["version_ids"])
        made, failed = 0, []
        bar = progress(versions.iterator(chunk_size=200), total=versions.count(), stderr=self.stderr,
                       desc="Access copies", verbosity=options["verbosity"])
        with logging_redirect_tqdm(), bar:
            for version in bar:
                try:
                    copy = services.ensure_access_copy(version)
                except FileNotFoundError:
                    failed.append((version, "the stored file is missing"))
                    continue
                if copy is None:
                    failed.append((version, "libvips cannot read it (the IIIF service serves it from the file)"))
                else:
                    made += 1
        self.stdout.write(f"Made {made} access cop{'y' if made == 1 else 'ies'}; {len(failed)} failed.")
        for version, reason in failed:
            self.stdout.write(self.style.ERROR(f"  {version.file.name} (version {version.pk}): {reason}"))
        if failed:
            raise CommandError(f"{len(failed)} version(s) have no access copy.")

"""``manage.py fixity_audit``: recompute every stored version's sha256 and record the result."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm.contrib.logging import logging_redirect_tqdm

from restoration.core import fixity, provenance
from restoration.core.models import Version
from restoration.management.commands._progress import progress


class Command(BaseCommand):
    help = (
        "Recompute the sha256 of every version's archival file (streaming from storage), record a "
        "PREMIS 'fixity check' event per version (success or failure, with the expected and actual "
        "digest, or 'missing'), print a summary, and exit non-zero if any file is missing or changed."
    )

    def handle(self, *args, **options) -> None:
        versions = Version.objects.select_related("item").order_by("pk")
        changed: list[tuple[Version, str]] = []
        missing: list[Version] = []
        checked = 0
        software = provenance.archive_software()
        bar = progress(
            versions.iterator(chunk_size=500), total=versions.count(), stderr=self.stderr, desc="Fixity",
            verbosity=options["verbosity"],
        )
        with logging_redirect_tqdm(), bar:
            for version in bar:
                checked_file = fixity.verify(version)
                provenance.record_fixity_check(checked_file, software=software)
                checked += 1
                if checked_file.missing:
                    missing.append(version)
                elif not checked_file.intact:
                    changed.append((version, checked_file.actual))

        intact_count = checked - len(changed) - len(missing)
        self.stdout.write(f"Checked {checked} file(s): {intact_count} intact, {len(changed)} changed, {len(missing)} missing.")
        for version, actual in changed:
            self.stdout.write(self.style.ERROR(
                f"  CHANGED {version.file.name} ({version.item.identifier}, version {version.pk}): "
                f"expected {version.sha256}, found {actual}"
            ))
        for version in missing:
            self.stdout.write(self.style.ERROR(
                f"  MISSING {version.file.name} ({version.item.identifier}, version {version.pk})"
            ))
        if changed or missing:
            raise CommandError(f"Fixity audit failed: {len(changed)} changed, {len(missing)} missing.")

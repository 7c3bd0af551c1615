"""The one fixity verifier: a stored version's file re-hashed (streamed) against its record.

Used by ``manage.py fixity_audit`` (which records the outcome as a PREMIS event), by the job
worker (before and after a run: nothing is derived from a changed original) and by the BagIt
export (a bag's payload checksums are exactly the recorded ones). ``copy_to`` copies the bytes
in the same pass, so the copy is exactly what was verified.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.core.files.storage import default_storage

from restoration.core import imaging
from restoration.core.models import Version

MISSING = "missing"


@dataclass(frozen=True)
class Fixity:
    """The outcome of one check: ``actual`` is the file's sha256, or ``MISSING``."""

    version: Version
    actual: str
    size: int | None

    @property
    def missing(self) -> bool:
        return self.actual == MISSING

    @property
    def intact(self) -> bool:
        return self.actual == self.version.sha256 and (self.size is None or self.size == self.version.bytes)

    def detail(self) -> dict:
        """The facts of a ``fixity check`` event."""
        found = {"algorithm": "sha256", "expected": self.version.sha256, "actual": self.actual,
                 "file": self.version.file.name}
        if self.size is not None:
            found["bytes"] = self.size
        return found

    def problem(self) -> str:
        """One sentence for an operator ('' when intact)."""
        version = self.version
        if self.missing:
            return f"The stored file of version {version.pk} ({version.file.name}) is missing."
        if self.intact:
            return ""
        return (f"The stored file of version {version.pk} has sha256 {self.actual} ({self.size} bytes); the archive "
                f"recorded {version.sha256} ({version.bytes} bytes).")


def verify(version: Version, *, copy_to: str | Path | BinaryIO | None = None) -> Fixity:
    """Re-hash the version's stored file (copying it to ``copy_to``, a path or a binary file, in
    the same pass). A missing file is reported, not raised."""
    name = version.file.name
    try:
        if not default_storage.exists(name):
            return Fixity(version, MISSING, None)
        with default_storage.open(name, "rb") as fh:
            if copy_to is None:
                actual, size = imaging.sha256_stream(fh)
            elif isinstance(copy_to, (str, Path)):
                with open(copy_to, "wb") as sink:
                    actual, size = imaging.sha256_stream(fh, sink=sink)
            else:
                actual, size = imaging.sha256_stream(fh, sink=copy_to)
    except FileNotFoundError:
        return Fixity(version, MISSING, None)
    return Fixity(version, actual, size)

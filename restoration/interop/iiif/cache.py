"""A folder of files with a size cap and least-recently-used eviction, for the IIIF service's
cut images and for the local copies of access copies kept when media storage is remote (S3).
No Django import: the views pass in the folder and the cap from settings.

Recency is each file's access time, set explicitly on every hit (``os.utime``): Linux mounts
with ``relatime`` update it at most once a day, which would make every file look equally old.

Eviction walks the folder, so it is not done on every write: a process walks it on its first
write and then whenever it has written another tenth of the cap since its last walk. Past the
cap, the least recently used files are removed until the folder holds at most ``LOW_WATER``
of the cap, so the next walk is not due at once. Several processes share the folder; between
walks it can exceed the cap by what they write, a tenth of the cap per process at most.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

LOW_WATER = 0.9  # after an eviction, the folder holds at most this share of the cap
_RESCAN_SHARE = 0.1  # a walk is due once a tenth of the cap has been written since the last
_PARTIAL_PREFIX = ".part-"

_written_lock = threading.Lock()
_written_since_walk: dict[Path, int] = {}  # per folder, in this process; absent: never walked


@dataclass(frozen=True)
class DiskCache:
    """``root``: the folder; ``max_bytes``: the cap (0: none)."""

    root: Path
    max_bytes: int

    def hit(self, path: Path) -> bool:
        """Whether ``path`` is cached; if so, marks it as just used."""
        try:
            stat = path.stat()
            os.utime(path, (time.time(), stat.st_mtime))
        except FileNotFoundError:
            return False
        return True

    def write(self, path: Path, data: bytes) -> None:
        """Writes ``data`` under a temporary name and renames it (readers never see half a
        file), then evicts if a walk is due."""
        self._place(path, lambda fh: fh.write(data))
        self._written(len(data))

    def put_file(self, path: Path, copy) -> None:
        """Like ``write``, with ``copy(binary file)`` writing the content (a download, say)."""
        self._place(path, copy)
        self._written(path.stat().st_size)

    def _place(self, path: Path, fill) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=_PARTIAL_PREFIX)
        try:
            with os.fdopen(fd, "wb") as fh:
                fill(fh)
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise

    def _written(self, size: int) -> None:
        if not self.max_bytes:
            return
        with _written_lock:
            written = _written_since_walk.get(self.root)
            due = written is None or written + size >= self.max_bytes * _RESCAN_SHARE
            _written_since_walk[self.root] = 0 if due else written + size
        if due:
            self.evict()

    def evict(self) -> int:
        """Removes the least recently used files until the folder is within ``LOW_WATER`` of the
        cap (nothing while it is within the cap). Returns the bytes removed."""
        if not self.max_bytes:
            return 0
        entries: list[tuple[float, int, str]] = []
        total = 0
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                full = os.path.join(folder, name)
                try:
                    stat = os.stat(full)
                except FileNotFoundError:  # removed by another process meanwhile
                    continue
                total += stat.st_size
                if not name.startswith(_PARTIAL_PREFIX):  # a write in progress is not a candidate
                    entries.append((stat.st_atime, stat.st_size, full))
        if total <= self.max_bytes:
            return 0
        target = self.max_bytes * LOW_WATER
        removed = 0
        for _atime, size, full in sorted(entries):
            if total - removed <= target:
                break
            try:
                os.unlink(full)
            except FileNotFoundError:
                continue
            removed += size
        logger.info("IIIF cache %s: removed %d bytes of least recently used files", self.root, removed)
        return removed

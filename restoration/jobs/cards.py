"""Model cards and checksums, read without torch (the web process reads them too), cached
until their files change; the engine's name and version as provenance records them."""

from __future__ import annotations

import threading
from pathlib import Path

ENGINE_NAME = "gan_engine"


class EngineUnavailable(Exception):
    """The task cannot run here: the engine does not provide it, or its weights are missing.

    ``field`` is "task" when the task cannot run at all, "params" when only the variant the
    parameters ask for cannot (an upscaler for another scale may be there)."""

    def __init__(self, message: str, *, field: str = "task") -> None:
        super().__init__(message)
        self.field = field


_cards: dict[tuple[str, int, int], dict] = {}
_cards_lock = threading.Lock()
_file_digests: dict[tuple[str, int, int], str] = {}


def engine_version() -> str:
    from gan_engine import __version__

    return __version__


def read_card(path: Path) -> dict:
    """The model card beside ``path``, cached until the card file changes."""
    from gan_engine import cards  # no torch: the web process reads cards too

    card_path = path.with_suffix(".json")
    try:
        stat = card_path.stat()
    except OSError:
        stat = None
    key = (str(card_path), stat.st_mtime_ns if stat else 0, stat.st_size if stat else 0)
    with _cards_lock:
        if key in _cards:
            return _cards[key]
    try:
        card = cards.read_card(path)
    except cards.CheckpointError as exc:
        raise EngineUnavailable(str(exc)) from exc
    with _cards_lock:
        _cards[key] = card
    return card


def file_sha256(path: Path) -> str:
    """sha256 of a file, cached until it changes (a VGG19 file is half a gigabyte)."""
    from gan_engine import cards

    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    with _cards_lock:
        if key in _file_digests:
            return _file_digests[key]
    digest = cards.sha256_file(path)
    with _cards_lock:
        _file_digests[key] = digest
    return digest


def clear_cache() -> None:
    """Forget cached cards and file checksums (tests that swap weights)."""
    with _cards_lock:
        _cards.clear()
        _file_digests.clear()

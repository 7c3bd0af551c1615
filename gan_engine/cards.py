"""Model cards: the JSON beside each weights file, readable without PyTorch.

Kept apart from ``checkpoints`` so that a process that only needs to know which weights it
would use (the web process of the archive, a catalogue export) reads the card and its
checksum without importing torch.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from gan_engine.errors import GanEngineError

__all__ = ["CheckpointError", "FORMAT_VERSION", "REQUIRED_CARD_KEYS", "read_card", "sha256_file"]

FORMAT_VERSION = 1
REQUIRED_CARD_KEYS = ("format_version", "architecture", "config", "weights_sha256")


class CheckpointError(GanEngineError, ValueError):
    """A checkpoint is missing, malformed or does not match its card."""


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _weights_path(path: str | os.PathLike) -> Path:
    """Accept the .safetensors path, the .json card path, or a stem."""
    path = Path(path)
    return path if path.suffix == ".safetensors" else path.with_suffix(".safetensors")



def read_card(path: str | os.PathLike) -> dict:
    """The model card beside a weights file, validated for the required keys."""
    card_path = _weights_path(path).with_suffix(".json")
    if not card_path.is_file():
        raise CheckpointError(f"model card not found: {card_path}")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"model card {card_path} is not valid JSON: {exc}") from None
    if not isinstance(card, dict):
        raise CheckpointError(f"model card {card_path} is not a JSON object")
    missing = [key for key in REQUIRED_CARD_KEYS if key not in card]
    if missing:
        raise CheckpointError(f"model card {card_path} lacks {', '.join(missing)}")
    if card["format_version"] != FORMAT_VERSION:
        raise CheckpointError(f"model card {card_path} has format_version {card['format_version']!r};"
                              f" this gan_engine reads {FORMAT_VERSION}")
    if not isinstance(card["config"], dict):
        raise CheckpointError(f"model card {card_path}: config is not a JSON object")
    return card

"""Checkpoints: safetensors weights plus a JSON model card beside them.

``restore.safetensors`` holds the state dict (no pickle, nothing executes on load);
``restore.json`` is the model card: ``format_version``, ``architecture`` (a key of
``GENERATORS`` or ``DISCRIMINATORS``), ``config`` (the keyword arguments that rebuild it),
``weights_sha256`` (of the .safetensors file), ``gan_engine_version``, and whatever the trainer
adds (data folders, command, steps, seed, losses, validation metrics, feature network).

Loading refuses, with a one-line :class:`CheckpointError`, a missing file, a missing or
malformed card, a weights file that is truncated or was changed after the card was written
(sha256), an unknown architecture, and weights whose keys or shapes do not fit the rebuilt
model (``load_state_dict(strict=True)``).

Resumable training state (optimizers, step, RNG...) goes through :func:`save_training_state` /
:func:`load_training_state`: ``torch.save`` and ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gan_engine import __version__
from gan_engine.archs import DISCRIMINATORS, GENERATORS, arch_name
from gan_engine.cards import FORMAT_VERSION, REQUIRED_CARD_KEYS, CheckpointError, _weights_path, read_card, sha256_file
from gan_engine.devices import resolve_device

__all__ = ["CheckpointError", "FORMAT_VERSION", "REQUIRED_CARD_KEYS", "save_checkpoint", "load_checkpoint",
           "read_card", "sha256_file", "save_training_state", "load_training_state"]



def _atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename: never a half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(path: str | os.PathLike, model: nn.Module, card: dict | None = None) -> Path:
    """Write ``path`` (.safetensors; the suffix is added if missing) and its .json card.

    ``card`` is the trainer's part of the model card; it must be JSON-serialisable. The keys
    ``format_version``, ``architecture``, ``config``, ``weights_sha256`` and
    ``gan_engine_version`` are set here (a conflicting value in ``card`` is an error).
    Returns the weights path.
    """
    from safetensors.torch import save_file

    path = _weights_path(path)
    card = dict(card or {})
    name = arch_name(model)
    fixed = {"format_version": FORMAT_VERSION, "architecture": name, "config": model.config,
             "gan_engine_version": __version__}
    for key, value in fixed.items():
        if key in card and card[key] != value:
            raise ValueError(f"card[{key!r}] = {card[key]!r} contradicts the model ({value!r})")
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    _atomic_write(path, lambda tmp: save_file(state, tmp, metadata={"architecture": name,
                                                                     "format_version": str(FORMAT_VERSION)}))
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    full = {**fixed, "created_utc": created, **card, "weights_file": path.name, "weights_sha256": sha256_file(path)}
    try:
        text = json.dumps(full, indent=2, sort_keys=False, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise ValueError(f"model card is not JSON-serialisable: {exc}") from None
    _atomic_write(path.with_suffix(".json"), lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path


def load_checkpoint(path: str | os.PathLike, *, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild the model named by the card, load and verify its weights -> (model, card).

    The model is returned in eval mode on ``device``, with 4-D weights in channels_last (the
    fast layout for oneDNN and cuDNN alike). ``path`` is the .safetensors file (or its card).
    """
    from safetensors.torch import load as load_safetensors

    device = resolve_device(device)
    weights = _weights_path(path)
    if not weights.is_file():
        raise CheckpointError(f"weights file not found: {weights}")
    card = read_card(weights)
    data = weights.read_bytes()
    if hashlib.sha256(data).hexdigest() != card["weights_sha256"]:
        try:
            load_safetensors(data)
        except Exception:  # noqa: BLE001 - only tells "truncated" from "modified" for the message
            raise CheckpointError(f"weights file {weights} is truncated or corrupt (sha256 differs from the card)") from None
        raise CheckpointError(f"weights file {weights} does not match its card (sha256 differs: modified after saving?)")
    name = card["architecture"]
    table = GENERATORS if name in GENERATORS else DISCRIMINATORS if name in DISCRIMINATORS else None
    if table is None:
        raise CheckpointError(f"unknown architecture {name!r} in {weights.with_suffix('.json').name};"
                              f" known: {', '.join(sorted(GENERATORS) + sorted(DISCRIMINATORS))}")
    try:
        model = table[name](**card["config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"cannot build {name} from the card's config: {exc}") from None
    try:
        state = load_safetensors(data)
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"weights file {weights} is not a valid safetensors file: {exc}") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())
        raise CheckpointError(f"weights in {weights.name} do not fit {name} {card['config']}: {detail[:400]}") from None
    model.eval().to(device)
    model.to(memory_format=torch.channels_last)
    return model, card


def save_training_state(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """torch.save a dict of tensors, numbers, strings, lists and dicts (optimizer states, step...).

    Only types that ``torch.load(weights_only=True)`` accepts can be read back.
    """
    path = Path(path)
    _atomic_write(path, lambda tmp: torch.save(state, tmp))
    return path


def load_training_state(path: str | os.PathLike, *, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read what :func:`save_training_state` wrote, with ``weights_only=True`` (no code runs)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"training state not found: {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickle, zip and EOF errors all mean "unusable file"
        raise CheckpointError(f"cannot read training state {path}: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"training state {path} is not a dict")
    return state

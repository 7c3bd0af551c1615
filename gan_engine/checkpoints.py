"""Checkpoints (stub: signatures of docs/dev/contracts.md)."""

from __future__ import annotations

from pathlib import Path

from torch import nn


class CheckpointError(ValueError):
    """A checkpoint is missing, malformed or does not match its card."""


def save_checkpoint(path, model: nn.Module, card: dict) -> Path: raise NotImplementedError
def load_checkpoint(path, *, device="cpu") -> tuple[nn.Module, dict]: raise NotImplementedError
def save_training_state(path, state: dict) -> Path: raise NotImplementedError
def load_training_state(path) -> dict: raise NotImplementedError

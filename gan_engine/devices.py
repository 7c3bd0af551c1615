"""Device selection."""

from __future__ import annotations

import torch


def resolve_device(spec: str = "auto") -> torch.device:
    """"auto" | "cpu" | "cuda" | "cuda:N" -> torch.device; ValueError when unknown/unavailable."""
    raise NotImplementedError

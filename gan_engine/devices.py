"""Device selection: one place that turns a user's string into a usable torch.device."""

from __future__ import annotations

import re

import torch

from gan_engine.errors import InvalidInputError

__all__ = ["resolve_device"]

_CUDA_INDEX = re.compile(r"cuda:(\d+)")


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """"auto" | "cpu" | "cuda" | "cuda:N" -> torch.device.

    "auto" picks the first CUDA device when one is usable, else the CPU. An unknown spec, or a
    CUDA device that this machine or this PyTorch build does not have, raises ValueError with
    a message saying what is available.
    """
    if isinstance(spec, torch.device):
        spec = str(spec)
    if not isinstance(spec, str):
        raise InvalidInputError(f"device must be a string such as 'auto', 'cpu', 'cuda' or 'cuda:0', not {spec!r}")
    text = spec.strip().lower()
    if text == "auto":
        return torch.device("cuda:0") if torch.cuda.is_available() else torch.device("cpu")
    if text == "cpu":
        return torch.device("cpu")
    match = _CUDA_INDEX.fullmatch(text)
    if text == "cuda" or match:
        if not torch.cuda.is_available():
            build = "a CPU-only PyTorch build" if torch.version.cuda is None else "no visible CUDA device"
            raise InvalidInputError(f"device {spec!r} is not available: {build}; use 'cpu' or 'auto'")
        index = int(match.group(1)) if match else 0
        count = torch.cuda.device_count()
        if index >= count:
            raise InvalidInputError(f"device {spec!r} is not available: this machine has {count} CUDA device(s)"
                             f" (cuda:0 .. cuda:{count - 1})")
        return torch.device("cuda", index)
    raise InvalidInputError(f"unknown device {spec!r}; expected 'auto', 'cpu', 'cuda' or 'cuda:N'")

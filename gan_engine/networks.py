"""Generators and discriminators (stub: signatures of docs/dev/contracts.md)."""

from __future__ import annotations

from torch import nn

GENERATORS: dict[str, type[nn.Module]] = {}
DISCRIMINATORS: dict[str, type[nn.Module]] = {}


def build_generator(name: str, **config) -> nn.Module:
    raise NotImplementedError


def build_discriminator(name: str, **config) -> nn.Module:
    raise NotImplementedError

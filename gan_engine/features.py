"""VGG19-shaped feature network (stub: signatures of docs/dev/contracts.md)."""

from __future__ import annotations

from torch import nn


class FeatureNetwork(nn.Module):
    def __init__(self, weights_path: str | None = None, layers=("relu1_1", "relu2_1", "relu3_1")):
        super().__init__()
        raise NotImplementedError

    def describe(self) -> dict:
        raise NotImplementedError

"""What runners share in a worker process: torch configured once, one loaded model per weights.

``gan_engine`` (and with it PyTorch) is imported lazily, inside the functions that need it:
``qcluster`` imports the app in its parent process before forking its workers, and a model
(or an OpenMP thread pool) created before a fork is not safe to use after it. Each worker
process loads a model on its first job and keeps it for the next ones (``_MODELS``), reloading
only when the weights' checksum changes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings

log = logging.getLogger(__name__)


class WeightsChanged(Exception):
    """The weights on disk are not the ones the job was queued for (its recipe would lie)."""


# (task, weights path, device setting) -> (weights sha256, loaded model), per worker process.
_MODELS: dict[tuple[str, str, str, str], tuple[str, Any]] = {}
_torch_configured = False


def configure_torch() -> None:
    """Once per process: the thread count from settings (0 keeps PyTorch's default)."""
    global _torch_configured
    if _torch_configured:
        return
    import torch

    if settings.GAN_THREADS > 0:
        torch.set_num_threads(settings.GAN_THREADS)
    _torch_configured = True
    log.info("torch %s in this worker process: %d threads", torch.__version__, torch.get_num_threads())


def cached_model(weights, load: Callable[[], Any], *, variant: str = "") -> tuple[Any, float]:
    """The process's model for these weights (``load()`` now if needed: a Restorer, Upscaler,
    Colorizer or Stylizer, which all expose ``.card``) and the seconds loading took. Reloaded only
    when the weights' checksum changes. ``variant`` keeps apart models built differently from
    the same weights (a Restorer with the damage stage and one without)."""
    key = (weights.task, str(weights.path), settings.GAN_DEVICE, variant)
    cached = _MODELS.get(key)
    if cached is not None and cached[0] == weights.sha256:
        return cached[1], 0.0
    configure_torch()
    started = time.monotonic()
    model = load()
    if model.card["weights_sha256"] != weights.sha256:
        raise WeightsChanged(f"The weights file {weights.path} changed while it was being loaded.")
    _MODELS[key] = (weights.sha256, model)
    return model, time.monotonic() - started


def tile(params: Mapping[str, Any]) -> int:
    """The tile side of a run: the job's ``tile`` parameter, else ``GAN_TILE``."""
    return int(params.get("tile") or settings.GAN_TILE)


def strength(params: Mapping[str, Any]) -> float:
    return float(params.get("strength", 1.0))


def clear() -> None:
    """Forget loaded models (tests that swap weights)."""
    _MODELS.clear()

"""The archive's door to ``gan_engine``: what the jobs layer asks of a task by its name.

Each task is one definition in ``restoration.jobs.tasks.TASKS`` (parameters, variants and
weights, size check, version kind, IPTC source type, label verb, runner); this module answers
for a task name: its parameters validated (``validate_params``), its weights (``weights_info``,
from ``restoration.jobs.weights``), and ``run`` (the runner, in a worker process). The API, the
admin and the pages accept exactly the available tasks (``available_tasks``).

``gan_engine`` (and with it PyTorch) is imported lazily, inside ``run`` and the runners (see
``restoration.jobs.runtime``); the web process reads model cards without torch.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from restoration.jobs import cards, params, runtime
from restoration.jobs.cards import ENGINE_NAME, EngineUnavailable, engine_version
from restoration.jobs.params import Param, ParameterError
from restoration.jobs.runtime import WeightsChanged
from restoration.jobs.tasks import TASKS, RunContext
from restoration.jobs.tasks.base import Progress
from restoration.jobs.weights import (
    WeightsInfo,
    available_tasks,
    available_variants,
    enabled_tasks,
    software,
    uses_weights,
    weights_info,
    weights_key,
)


def validate_params(task: str, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The task's parameters with defaults filled in (``params.validate``)."""
    return params.validate(TASKS[task], given)


def recipe_params(task: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters that decide the result (those in the recipe key)."""
    return params.recipe_params(TASKS[task], given)


def params_schema(task: str) -> dict[str, Any]:
    """The task's parameters as an OpenAPI object schema (for the API's documentation)."""
    return params.schema(TASKS[task])


def check_size(task: str, given: Mapping[str, Any], width: int | None, height: int | None) -> None:
    """Refuses (``ParameterError``) a request whose result would be too large to make (the
    task's ``size_check``), when it is submitted rather than after a worker loaded the model."""
    size_check = TASKS[task].size_check
    if size_check is not None and width and height:
        size_check(given, width, height)


@dataclass(frozen=True)
class RunResult:
    model_name: str
    weights_sha256: str
    engine_version: str
    device: str
    seed: int
    load_seconds: float
    inference_seconds: float
    weights: WeightsInfo | None = None  # what ran (a weights file, or a method without one)
    companions: Mapping[str, Path] | None = None  # second outputs the runner wrote, by name


def run(task: str, source: Path, output: Path, given: Mapping[str, Any], *, expected_sha256: str,
        progress: Progress | None = None, references: Mapping[str, Path] | None = None,
        workdir: Path | None = None) -> RunResult:
    """Run ``task`` on the image file ``source`` and write the PNG ``output``.

    ``expected_sha256`` is the weights checksum the job was queued with (for a method without
    weights, its description's): other weights raise ``WeightsChanged`` (the result would not be
    what the recipe says). ``references`` are the files of the versions its reference parameters
    name; companions are written into ``workdir`` (default: beside ``output``).
    ``progress(fraction)`` is called as tiles are done. Errors propagate (gan_engine's
    ImageReadError, CheckpointError, MemoryError, ...).
    """
    definition = TASKS[task]
    started = time.monotonic()  # the first job of a worker process pays for the imports: counted as loading
    weights = weights_info(task, given)
    if weights.sha256 != expected_sha256:
        what = "weights" if weights.has_weights else "method (engine or feature network)"
        raise WeightsChanged(
            f"The {task} {what} changed since the job was queued (queued for {expected_sha256[:12]}, "
            f"now {weights.sha256[:12]}); submit it again."
        )
    import torch

    for module in ("gan_engine.data.imageio", "gan_engine.inference.wrappers", *definition.engine_modules):
        importlib.import_module(module)
    imports = time.monotonic() - started
    seed = int(given.get("seed") or 0)
    torch.manual_seed(seed)
    context = RunContext(weights=weights, source=source, output=output, params=given,
                         workdir=workdir or output.parent, references=dict(references or {}), progress=progress)
    outcome = definition.runner(context)
    unknown = set(outcome.companions) - {c.name for c in definition.companions}
    if unknown:
        raise ValueError(f"The {task} runner wrote companions its definition does not declare: {sorted(unknown)}.")
    load_seconds = outcome.load_seconds + imports
    return RunResult(
        model_name=weights.model_name,
        weights_sha256=weights.sha256,
        engine_version=engine_version(),
        device=outcome.device,
        seed=seed,
        load_seconds=round(load_seconds, 4),
        inference_seconds=round(time.monotonic() - started - load_seconds, 4),
        weights=weights,
        companions=dict(outcome.companions),
    )


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is PyTorch running out of (GPU) memory: worth another attempt later."""
    if isinstance(exc, MemoryError):
        return True
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return isinstance(exc, torch.OutOfMemoryError)


def clear_cache() -> None:
    """Forget loaded models, cards and file checksums (tests that swap weights)."""
    runtime.clear()
    cards.clear_cache()


__all__ = [
    "ENGINE_NAME", "TASKS", "EngineUnavailable", "Param", "ParameterError", "RunResult", "WeightsChanged",
    "WeightsInfo", "available_tasks", "available_variants", "check_size", "clear_cache", "enabled_tasks",
    "engine_version", "is_out_of_memory", "params_schema", "recipe_params", "run", "software", "uses_weights",
    "validate_params", "weights_info", "weights_key",
]

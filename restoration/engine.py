"""The archive's door to ``gan_engine``: the only module of the app that imports it.

What the engine can do is an explicit dictionary (``ENGINE_TASKS``: task name -> runner); a
task is *available* when it has a runner and its weights file is present
(``settings.GAN_WEIGHTS[task]``). The API and the admin accept exactly the available tasks, so
``colorize``, ``upscale`` and ``style`` appear once gan_engine provides them and a runner is
added here. Their parameters are described already (``TASK_PARAMETERS``).

``gan_engine`` (and with it PyTorch) is imported lazily, inside the functions that need it:
``qcluster`` imports the app in its parent process before forking its workers, and a model
(or an OpenMP thread pool) created before a fork is not safe to use after it. Each worker
process loads a model on its first job and keeps it for the next ones (``_MODELS``), reloading
only when the weights file changes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

log = logging.getLogger(__name__)

ENGINE_NAME = "gan_engine"
Progress = Callable[[float], None]


class EngineUnavailable(Exception):
    """The task cannot run here: the engine does not provide it, or its weights are missing."""


class ParameterError(ValueError):
    """A job parameter is unknown, of the wrong type or out of range (``field`` names it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class WeightsChanged(Exception):
    """The weights on disk are not the ones the job was queued for (its recipe would lie)."""


# --- Parameters -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One parameter of a task: its type, default and bounds.

    ``in_recipe`` is False for parameters that change how the work is done but not its result
    (the tile size: tiled inference equals untiled inference, gan_engine tests it); those are
    left out of the recipe key, so a different tile size reuses an existing result.
    """

    name: str
    kind: type  # int or float
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple = ()
    required: bool = False
    in_recipe: bool = True
    help: str = ""

    def clean(self, value: Any) -> Any:
        # bool is an int to Python; as a parameter it is a mistake.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParameterError(self.name, f"{self.name} must be a number, not {value!r}.")
        if self.kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ParameterError(self.name, f"{self.name} must be a whole number, not {value!r}.")
            value = int(value)
        else:
            value = float(value)
            if value != value or value in (float("inf"), float("-inf")):
                raise ParameterError(self.name, f"{self.name} must be a finite number.")
        if self.choices and value not in self.choices:
            allowed = ", ".join(str(c) for c in self.choices)
            raise ParameterError(self.name, f"{self.name} must be one of {allowed}, not {value}.")
        if self.minimum is not None and value < self.minimum:
            raise ParameterError(self.name, f"{self.name} must be at least {self.minimum}, not {value}.")
        if self.maximum is not None and value > self.maximum:
            raise ParameterError(self.name, f"{self.name} must be at most {self.maximum}, not {value}.")
        return value


TILE = Param("tile", int, None, 16, 4096, in_recipe=False,
             help="Tile side in pixels (memory and speed only; the result is the same). Default: GAN_TILE.")
STRENGTH = Param("strength", float, 1.0, 0.0, 1.0,
                 help="Blend of the model's output with the input: 1 = the model's output, 0 = the input.")
SEED = Param("seed", int, 0, 0, 2**31 - 1, help="Seed of PyTorch's generators, recorded in the provenance.")
SCALE = Param("scale", int, 4, choices=(2, 4), help="Upscaling factor.")
REFERENCE = Param("reference_version", int, None, 1, help="Id of a version of the same item used as reference.")
STYLE_REFERENCE = Param("reference_version", int, None, 1, required=True,
                        help="Id of a version of the same item whose style is transferred.")

TASK_PARAMETERS: dict[str, tuple[Param, ...]] = {
    "restore": (TILE, STRENGTH, SEED),
    "colorize": (TILE, REFERENCE, STRENGTH, SEED),
    "upscale": (TILE, SCALE, SEED),
    "style": (TILE, STYLE_REFERENCE, STRENGTH, SEED),
}


def validate_params(task: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The task's parameters with defaults filled in (``None`` for an unset optional one).

    Raises ``ParameterError`` for an unknown name, a wrong type or a value out of range.
    """
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise ParameterError("params", "params must be a JSON object.")
    specs = {p.name: p for p in TASK_PARAMETERS[task]}
    unknown = sorted(set(params) - set(specs))
    if unknown:
        raise ParameterError(
            unknown[0], f"Unknown parameter {unknown[0]!r} for {task}; known: {', '.join(sorted(specs))}."
        )
    cleaned: dict[str, Any] = {}
    for name, spec in specs.items():
        value = params.get(name)
        if value is None:
            if spec.required:
                raise ParameterError(name, f"{name} is required for {task}.")
            cleaned[name] = spec.default
        else:
            cleaned[name] = spec.clean(value)
    return cleaned


def recipe_params(task: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters that decide the result (those in the recipe key)."""
    return {p.name: params.get(p.name) for p in TASK_PARAMETERS[task] if p.in_recipe}


# --- Weights ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeightsInfo:
    """A task's weights file as its model card describes it."""

    task: str
    path: Path
    sha256: str
    model_name: str
    card: dict


_cards: dict[tuple[str, int, int], dict] = {}
_cards_lock = threading.Lock()


def _read_card(path: Path) -> dict:
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


def _model_name(task: str, card: Mapping[str, Any]) -> str:
    name = card.get("model_name") or card.get("name")
    return str(name) if name else f"{task}-{card.get('architecture', 'model')}"


def weights_info(task: str) -> WeightsInfo:
    """The weights the task would use now. Raises ``EngineUnavailable`` when there are none."""
    if task not in ENGINE_TASKS:
        raise EngineUnavailable(f"The engine does not provide {task!r} yet.")
    path = Path(settings.GAN_WEIGHTS[task])
    if not path.is_file():
        raise EngineUnavailable(f"No weights for {task!r}: {path} does not exist.")
    card = _read_card(path)
    return WeightsInfo(task=task, path=path, sha256=str(card["weights_sha256"]), model_name=_model_name(task, card),
                       card=card)


def available_tasks() -> tuple[str, ...]:
    """Tasks that can run now: provided by the engine, with weights present."""
    return tuple(task for task in ENGINE_TASKS if Path(settings.GAN_WEIGHTS[task]).is_file())


def engine_version() -> str:
    from gan_engine import __version__

    return __version__


def software(*, model_name: str | None = None, weights_sha256: str | None = None) -> dict[str, Any]:
    """The ``software`` argument of ``provenance.record_event`` for work the engine does."""
    info: dict[str, Any] = {"name": ENGINE_NAME, "version": engine_version()}
    if model_name is not None:
        info.update(model=model_name, weights_sha256=weights_sha256)
    return info


# --- Running (in a worker process) -------------------------------------------------------------


@dataclass(frozen=True)
class RunResult:
    model_name: str
    weights_sha256: str
    engine_version: str
    device: str
    seed: int
    load_seconds: float
    inference_seconds: float


# (task, weights path, device setting) -> (weights sha256, loaded model), per worker process.
_MODELS: dict[tuple[str, str, str], tuple[str, Any]] = {}
_torch_configured = False


def _configure_torch() -> None:
    """Once per process: the thread count from settings (0 keeps PyTorch's default)."""
    global _torch_configured
    if _torch_configured:
        return
    import torch

    if settings.GAN_THREADS > 0:
        torch.set_num_threads(settings.GAN_THREADS)
    _torch_configured = True
    log.info("torch %s in this worker process: %d threads", torch.__version__, torch.get_num_threads())


def _restorer(weights: WeightsInfo) -> tuple[Any, float]:
    """The process's Restorer for these weights (loaded now if needed) and the seconds loading took."""
    key = (weights.task, str(weights.path), settings.GAN_DEVICE)
    cached = _MODELS.get(key)
    if cached is not None and cached[0] == weights.sha256:
        return cached[1], 0.0
    _configure_torch()
    from gan_engine.inference import Restorer

    started = time.monotonic()
    restorer = Restorer(weights.path, device=settings.GAN_DEVICE, tile=settings.GAN_TILE)
    if restorer.card["weights_sha256"] != weights.sha256:
        raise WeightsChanged(f"The weights file {weights.path} changed while it was being loaded.")
    _MODELS[key] = (weights.sha256, restorer)
    return restorer, time.monotonic() - started


def _run_restore(weights: WeightsInfo, source: Path, output: Path, params: Mapping[str, Any],
                 progress: Progress | None) -> tuple[str, float]:
    """Restore ``source`` into the PNG ``output``: 16-bit stays 16-bit, grey stays grey, alpha and
    ICC kept. Returns (device, seconds spent loading the model)."""
    import torch

    restorer, load_seconds = _restorer(weights)
    with torch.inference_mode():
        restorer.restore_file(source, output, tile=params.get("tile") or settings.GAN_TILE, progress=progress,
                              strength=float(params.get("strength", 1.0)))
    return str(restorer.device), load_seconds


# What gan_engine provides: task -> runner(weights, source, output, params, progress).
ENGINE_TASKS: dict[str, Callable[..., tuple[str, float]]] = {
    "restore": _run_restore,
}


def run(task: str, source: Path, output: Path, params: Mapping[str, Any], *, expected_sha256: str,
        progress: Progress | None = None) -> RunResult:
    """Run ``task`` on the image file ``source`` and write the PNG ``output``.

    ``expected_sha256`` is the weights checksum the job was queued with: other weights raise
    ``WeightsChanged`` (the result would not be what the recipe says). ``progress(fraction)``
    is called as tiles are done. Errors propagate (gan_engine's ImageReadError, CheckpointError,
    MemoryError, ...).
    """
    started = time.monotonic()  # the first job of a worker process pays for the imports: counted as loading
    weights = weights_info(task)
    if weights.sha256 != expected_sha256:
        raise WeightsChanged(
            f"The {task} weights changed since the job was queued (queued for {expected_sha256[:12]}, "
            f"now {weights.sha256[:12]}); submit it again."
        )
    import torch

    from gan_engine import imageio, inference  # noqa: F401

    imports = time.monotonic() - started
    seed = int(params.get("seed") or 0)
    torch.manual_seed(seed)
    device, load_seconds = ENGINE_TASKS[task](weights, source, output, params, progress)
    load_seconds += imports
    return RunResult(
        model_name=weights.model_name,
        weights_sha256=weights.sha256,
        engine_version=engine_version(),
        device=device,
        seed=seed,
        load_seconds=round(load_seconds, 4),
        inference_seconds=round(time.monotonic() - started - load_seconds, 4),
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
    """Forget loaded models and cards (tests that swap weights)."""
    _MODELS.clear()
    with _cards_lock:
        _cards.clear()


__all__ = [
    "ENGINE_TASKS", "TASK_PARAMETERS", "EngineUnavailable", "ParameterError", "WeightsChanged", "WeightsInfo",
    "RunResult", "available_tasks", "validate_params", "recipe_params", "weights_info", "software", "run",
    "is_out_of_memory", "engine_version",
]

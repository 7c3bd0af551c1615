"""The archive's door to ``gan_engine``: the only module of the app that imports it.

What the engine can do is an explicit dictionary (``ENGINE_TASKS``: task name -> runner):
restore, colorize, upscale (x2 or x4, faithful or gan) and style (methods color, optimize,
feedforward). A task is *available* when it has a runner, the installation offers it
(``settings.GAN_TASKS``) and at least one of its variants can run: its weights file is present
(``settings.GAN_WEIGHTS[key]``, the key chosen by the parameters: ``weights_key``), or it needs
none (style's colour transfer and optimisation). The API, the admin and the pages accept
exactly the available tasks; the parameters of each are ``TASK_PARAMETERS``.

``gan_engine`` (and with it PyTorch) is imported lazily, inside the functions that need it:
``qcluster`` imports the app in its parent process before forking its workers, and a model
(or an OpenMP thread pool) created before a fork is not safe to use after it. Each worker
process loads a model on its first job and keeps it for the next ones (``_MODELS``), reloading
only when the weights file changes.
"""

from __future__ import annotations

import hashlib
import json
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
    """The task cannot run here: the engine does not provide it, or its weights are missing.

    ``field`` is "task" when the task cannot run at all, "params" when only the variant the
    parameters ask for cannot (an upscaler for another scale may be there)."""

    def __init__(self, message: str, *, field: str = "task") -> None:
        super().__init__(message)
        self.field = field


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

    ``kind`` is ``int``, ``float`` or ``str``; a ``str`` parameter takes one of its ``choices``.
    ``in_recipe`` is False for parameters that change how the work is done but not its result
    (the tile size: tiled inference equals untiled inference, gan_engine tests it); those are
    left out of the recipe key, so a different tile size reuses an existing result.
    ``required`` makes the parameter mandatory for every request of the task; a requirement that
    depends on another parameter (style's reference) is checked by the task's cross-check.
    """

    name: str
    kind: type  # int, float or str
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple = ()
    required: bool = False
    in_recipe: bool = True
    help: str = ""

    def clean(self, value: Any) -> Any:
        if self.kind is str:
            return self._clean_str(value)
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

    def _clean_str(self, value: Any) -> str:
        allowed = ", ".join(repr(c) for c in self.choices)
        if not isinstance(value, str):
            expected = f"one of {allowed}" if self.choices else "a string"
            raise ParameterError(self.name, f"{self.name} must be {expected}, not {value!r}.")
        if self.choices and value not in self.choices:
            raise ParameterError(self.name, f"{self.name} must be one of {allowed}, not {value!r}.")
        return value

    def schema(self) -> dict[str, Any]:
        """This parameter as an OpenAPI 3 schema (the API's documentation of ``params``)."""
        out: dict[str, Any] = {"type": {int: "integer", float: "number", str: "string"}[self.kind]}
        if self.choices:
            out["enum"] = list(self.choices)
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.default is not None:
            out["default"] = self.default
        else:
            out["nullable"] = True
        out["description"] = self.help + ("" if self.in_recipe else " Not part of the recipe.")
        return out


TILE = Param("tile", int, None, 16, 4096, in_recipe=False,
             help="Tile side in pixels (memory and speed only; the result is the same). Default: GAN_TILE.")
STRENGTH = Param("strength", float, 1.0, 0.0, 1.0,
                 help="Blend of the model's output with the input: 1 = the model's output, 0 = the input.")
SEED = Param("seed", int, 0, 0, 2**31 - 1, help="Seed of PyTorch's generators, recorded in the provenance.")
SCALE = Param("scale", int, 4, choices=(2, 4), help="Upscaling factor: 2 or 4.")
UPSCALE_VARIANTS = ("faithful", "gan")
VARIANT = Param("variant", str, "faithful", choices=UPSCALE_VARIANTS,
                help="Which upscaler: 'faithful' (trained on L1: no invented detail, the archive's default) or "
                     "'gan' (fine-tuned with adversarial and feature losses: sharper, invents fine texture).")
COLOR_STRENGTH = Param("strength", float, 1.0, 0.0, 1.0,
                       help="Saturation of the predicted colours: 1 = the model's colours, 0 = the grey image. "
                            "The lightness of the input is kept at any strength.")
STYLE_METHODS = ("color", "optimize", "feedforward")
METHOD = Param("method", str, "color", choices=STYLE_METHODS,
               help="'color': colour and tone of the reference (Lab statistics; seconds, no texture moved); "
                    "'optimize': Gatys optimisation of the image against the reference's feature statistics "
                    "(textures too; minutes); 'feedforward': the trained style model (GAN_WEIGHTS['style']), "
                    "whose reference is built into its weights.")
STYLE_REFERENCE = Param("reference_version", int, None, 1,
                        help="Id of a version (of this item or another one you may read) whose style is "
                             "transferred. Required by the methods color and optimize; refused by feedforward.")
STYLE_STRENGTH = Param("strength", float, 1.0, 0.0, 1.0,
                       help="Blend of the styled image with the input: 1 = fully styled, 0 = the input.")
# gan_engine.style.StyleOptimizeConfig().steps (a test checks they agree; importing it here would
# import torch in the web process).
STYLE_STEPS_DEFAULT = 200
STEPS = Param("steps", int, None, 1, 1000,
              help=f"Optimiser steps of the method optimize (default {STYLE_STEPS_DEFAULT}); refused by the "
                   f"other methods.")

TASK_PARAMETERS: dict[str, tuple[Param, ...]] = {
    "restore": (TILE, STRENGTH, SEED),
    "colorize": (TILE, COLOR_STRENGTH, SEED),
    "upscale": (TILE, SCALE, VARIANT, SEED),
    "style": (TILE, METHOD, STYLE_REFERENCE, STYLE_STRENGTH, STEPS, SEED),
}


def _check_style(params: dict[str, Any]) -> dict[str, Any]:
    method = params["method"]
    if method in ("color", "optimize") and params["reference_version"] is None:
        raise ParameterError(
            "reference_version",
            f"reference_version is required for the style method {method}: the id of the version whose "
            f"style is transferred.",
        )
    if method == "feedforward" and params["reference_version"] is not None:
        raise ParameterError(
            "reference_version",
            "The style method feedforward takes no reference_version: its reference is built into the "
            "trained style model. Leave it out, or use the method color or optimize.",
        )
    if method == "optimize":
        if params["steps"] is None:
            params["steps"] = STYLE_STEPS_DEFAULT
    elif params["steps"] is not None:
        raise ParameterError("steps", f"steps applies to the style method optimize only, not to {method}.")
    return params


# Checks across a task's parameters, after each one is cleaned (they may fill conditional defaults).
_CROSS_CHECKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {"style": _check_style}


def validate_params(task: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The task's parameters with defaults filled in (``None`` for an unset optional one).

    Raises ``ParameterError`` for an unknown name, a wrong type, a value out of range or
    parameters that do not go together (style: a reference for feedforward, steps without optimize).
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
    check = _CROSS_CHECKS.get(task)
    return check(cleaned) if check else cleaned


def recipe_params(task: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters that decide the result (those in the recipe key)."""
    return {p.name: params.get(p.name) for p in TASK_PARAMETERS[task] if p.in_recipe}


def params_schema(task: str) -> dict[str, Any]:
    """The task's parameters as an OpenAPI object schema (for the API's documentation)."""
    return {
        "type": "object",
        "title": f"{task} parameters",
        "properties": {p.name: p.schema() for p in TASK_PARAMETERS[task]},
        "additionalProperties": False,
    }


def check_size(task: str, params: Mapping[str, Any], width: int | None, height: int | None) -> None:
    """Refuses (``ParameterError``) a request whose result would be too large to make: an upscale
    beyond ``GAN_UPSCALE_MAX_PIXELS``. Checked when the job is submitted, not after a worker has
    loaded the model."""
    if task != "upscale" or not width or not height:
        return
    scale = int(params.get("scale") or SCALE.default)
    pixels = width * height * scale * scale
    limit = settings.GAN_UPSCALE_MAX_PIXELS
    if pixels > limit:
        raise ParameterError(
            "scale",
            f"Upscaled x{scale}, this {width} x {height} image would have {pixels / 1e6:.0f} MP, more than the "
            f"limit of {limit / 1e6:.0f} MP (GAN_UPSCALE_MAX_PIXELS)."
            + (" Choose scale 2." if scale > 2 and width * height * 4 <= limit else ""),
        )


# --- Weights ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeightsInfo:
    """What a task's variant runs with, as its model card describes it.

    For a variant with a weights file, ``path`` is the file and ``sha256`` its checksum (from the
    card). A variant that uses no weights file (the style methods ``color`` and ``optimize``)
    has ``path`` None, ``card`` the description of the method (method, feature network and its
    weights' checksum, gan_engine version) and ``sha256`` the checksum of that description's
    canonical JSON: it stands for the weights in the recipe key and in the job's
    ``weights_sha256``, so new feature weights or a new engine make new recipes, and a job
    queued for other ones fails instead of misdescribing its result.
    """

    task: str
    path: Path | None
    sha256: str
    model_name: str
    card: dict

    @property
    def has_weights(self) -> bool:
        return self.path is not None


_cards: dict[tuple[str, int, int], dict] = {}
_cards_lock = threading.Lock()
_file_digests: dict[tuple[str, int, int], str] = {}


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


def _file_sha256(path: Path) -> str:
    """sha256 of a file, cached until it changes (a VGG19 file is half a gigabyte)."""
    from gan_engine import cards

    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    with _cards_lock:
        if key in _file_digests:
            return _file_digests[key]
    digest = cards.sha256_file(path)
    with _cards_lock:
        _file_digests[key] = digest
    return digest


def _model_name(task: str, card: Mapping[str, Any]) -> str:
    name = card.get("model_name") or card.get("name")
    return str(name) if name else f"{task}-{card.get('architecture', 'model')}"


def _with_defaults(task: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Parameters as given, defaults for the missing ones (no validation: callers validated)."""
    params = params or {}
    return {p.name: p.default if params.get(p.name) is None else params[p.name] for p in TASK_PARAMETERS[task]}


def weights_key(task: str, params: Mapping[str, Any] | None = None) -> str | None:
    """The ``GAN_WEIGHTS`` key the task uses with these parameters; None when it uses no weights
    file (style methods color and optimize)."""
    p = _with_defaults(task, params)
    if task == "upscale":
        return f"upscale_x{p['scale']}_{p['variant']}"
    if task == "style":
        return "style" if p["method"] == "feedforward" else None
    return task


def _variant_label(task: str, params: Mapping[str, Any]) -> str:
    p = _with_defaults(task, params)
    if task == "upscale":
        return f"upscale x{p['scale']} {p['variant']}"
    if task == "style":
        return f"style ({p['method']})"
    return task


def _weights_path(key: str) -> Path | None:
    path = settings.GAN_WEIGHTS.get(key)
    return Path(path) if path else None


def enabled_tasks() -> tuple[str, ...]:
    """Tasks this installation offers (``GAN_TASKS``) that the engine provides."""
    enabled = set(getattr(settings, "GAN_TASKS", ENGINE_TASKS))
    return tuple(task for task in ENGINE_TASKS if task in enabled)


def _feature_network() -> dict[str, Any]:
    """The feature network the style method optimize would use now (no torch needed)."""
    path = settings.GAN_VGG19_WEIGHTS
    if not path:
        return {"kind": "random-multiscale", "seed": 0}
    path = Path(path)
    if not path.is_file():
        raise EngineUnavailable(f"No feature network for style (optimize): GAN_VGG19_WEIGHTS {path} does not exist.",
                                field="params")
    return {"kind": "vgg19", "weights_file": path.name, "weights_sha256": _file_sha256(path)}


METHOD_NAMES = {
    "color": "Lab colour and tone transfer (Reinhard et al. 2001)",
    "optimize": "Gatys et al. 2016 optimisation of the image",
}


def _method_info(task: str, params: Mapping[str, Any]) -> WeightsInfo:
    """WeightsInfo of a variant without a weights file: the method described, and its checksum."""
    method = params["method"]
    card: dict[str, Any] = {
        "task": task, "method": method, "algorithm": METHOD_NAMES[method], "weights": None,
        "engine": f"{ENGINE_NAME} {engine_version()}",
    }
    if method == "optimize":
        card["feature_network"] = _feature_network()
    canonical = json.dumps(card, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return WeightsInfo(task=task, path=None, sha256=hashlib.sha256(canonical.encode("ascii")).hexdigest(),
                       model_name=f"{task}-{method}", card=card)


def _check_card(task: str, params: Mapping[str, Any], path: Path, card: Mapping[str, Any]) -> None:
    """The card must describe a model for this task (and this scale): a misnamed file would
    otherwise be found out only by the worker, after the job was queued."""
    found = card.get("task")
    if found is not None and found != task:
        raise EngineUnavailable(f"The weights {path} hold a {found!r} model, not a {task!r} model.", field="params")
    if task == "upscale":
        scale = (card.get("config") or {}).get("scale")
        if scale is not None and int(scale) != int(params["scale"]):
            raise EngineUnavailable(f"The weights {path} upscale x{scale}, not x{params['scale']}.", field="params")


def weights_info(task: str, params: Mapping[str, Any] | None = None) -> WeightsInfo:
    """The weights the task would use now with these (validated) parameters; defaults when
    ``params`` is None. Raises ``EngineUnavailable`` when there are none (``field`` "task" when
    the task cannot run at all, "params" when only the variant asked for cannot)."""
    if task not in ENGINE_TASKS:
        raise EngineUnavailable(f"The engine does not provide {task!r} yet.")
    if task not in enabled_tasks():
        raise EngineUnavailable(f"This archive does not offer {task!r} (GAN_TASKS).")
    p = _with_defaults(task, params)
    key = weights_key(task, p)
    if key is None:
        return _method_info(task, p)
    path = _weights_path(key)
    if path is None or not path.is_file():
        where = f"{path} does not exist" if path is not None else f"GAN_WEIGHTS has no {key!r} entry"
        field = "task" if task not in available_tasks() else "params"
        raise EngineUnavailable(f"No weights for {_variant_label(task, p)}: {where}.", field=field)
    card = _read_card(path)
    _check_card(task, p, path, card)
    return WeightsInfo(task=task, path=path, sha256=str(card["weights_sha256"]), model_name=_model_name(task, card),
                       card=card)


# Each task's variants that need different weights (their parameters); a task is available when
# one of them can run.
TASK_VARIANTS: dict[str, tuple[dict[str, Any], ...]] = {
    "restore": ({},),
    "colorize": ({},),
    "upscale": tuple({"scale": s, "variant": v} for s in SCALE.choices for v in UPSCALE_VARIANTS),
    "style": tuple({"method": m} for m in STYLE_METHODS),
}


def _variant_ready(task: str, variant: Mapping[str, Any]) -> bool:
    """Whether the variant's files are present (no card is read: cheap enough for every page)."""
    key = weights_key(task, variant)
    if key is not None:
        path = _weights_path(key)
        return path is not None and path.is_file()
    if variant.get("method") == "optimize" and settings.GAN_VGG19_WEIGHTS:
        return Path(settings.GAN_VGG19_WEIGHTS).is_file()
    return True


def available_variants(task: str) -> tuple[dict[str, Any], ...]:
    """The variants of ``task`` that can run now (e.g. ``{"scale": 2, "variant": "faithful"}``)."""
    if task not in enabled_tasks():
        return ()
    return tuple(dict(v) for v in TASK_VARIANTS[task] if _variant_ready(task, v))


def available_tasks() -> tuple[str, ...]:
    """Tasks that can run now: provided by the engine, offered (``GAN_TASKS``), and with at least
    one variant whose weights are present (style's colour transfer needs none)."""
    return tuple(task for task in enabled_tasks() if any(_variant_ready(task, v) for v in TASK_VARIANTS[task]))


def uses_weights(task: str, params: Mapping[str, Any] | None = None) -> bool:
    """Whether the task runs a weights file with these parameters."""
    return weights_key(task, params) is not None


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
    weights: WeightsInfo | None = None  # what ran (a weights file, or a method without one)


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


def _cached_model(weights: WeightsInfo, load: Callable[[], Any]) -> tuple[Any, float]:
    """The process's model for these weights (``load()`` now if needed: a Restorer, Upscaler,
    Colorizer or Stylizer, which all expose ``.card``) and the seconds loading took. Reloaded only
    when the weights' checksum changes."""
    key = (weights.task, str(weights.path), settings.GAN_DEVICE)
    cached = _MODELS.get(key)
    if cached is not None and cached[0] == weights.sha256:
        return cached[1], 0.0
    _configure_torch()
    started = time.monotonic()
    model = load()
    if model.card["weights_sha256"] != weights.sha256:
        raise WeightsChanged(f"The weights file {weights.path} changed while it was being loaded.")
    _MODELS[key] = (weights.sha256, model)
    return model, time.monotonic() - started


def _tile(params: Mapping[str, Any]) -> int:
    return int(params.get("tile") or settings.GAN_TILE)


def _restorer(weights: WeightsInfo) -> tuple[Any, float]:
    """The process's Restorer for these weights (loaded now if needed) and the seconds loading took."""
    from gan_engine.inference.wrappers import Restorer

    return _cached_model(weights, lambda: Restorer(weights.path, device=settings.GAN_DEVICE, tile=settings.GAN_TILE))


def _run_restore(weights: WeightsInfo, source: Path, output: Path, params: Mapping[str, Any],
                 progress: Progress | None) -> tuple[str, float]:
    """Restore ``source`` into the PNG ``output``: 16-bit stays 16-bit, grey stays grey, alpha and
    ICC kept. Returns (device, seconds spent loading the model)."""
    import torch

    restorer, load_seconds = _restorer(weights)
    with torch.inference_mode():
        restorer.restore_file(source, output, tile=_tile(params), progress=progress,
                              strength=float(params.get("strength", 1.0)))
    return str(restorer.device), load_seconds


def _run_upscale(weights: WeightsInfo, source: Path, output: Path, params: Mapping[str, Any],
                 progress: Progress | None) -> tuple[str, float]:
    """Upscale ``source`` x2 or x4 into the PNG ``output`` (bit depth, grey, alpha and ICC kept)."""
    import torch

    from gan_engine.inference.wrappers import Upscaler

    upscaler, load_seconds = _cached_model(weights, lambda: Upscaler(
        weights.path, device=settings.GAN_DEVICE, tile=settings.GAN_TILE,
        max_output_pixels=settings.GAN_UPSCALE_MAX_PIXELS,
    ))
    upscaler.max_output_pixels = settings.GAN_UPSCALE_MAX_PIXELS
    if upscaler.scale != int(params["scale"]):
        raise EngineUnavailable(f"The weights {weights.path} upscale x{upscaler.scale}, not x{params['scale']}.")
    with torch.inference_mode():
        upscaler.upscale_file(source, output, tile=_tile(params), progress=progress)
    return str(upscaler.device), load_seconds


def _run_colorize(weights: WeightsInfo, source: Path, output: Path, params: Mapping[str, Any],
                  progress: Progress | None) -> tuple[str, float]:
    """Colourise ``source`` into an RGB PNG ``output`` keeping the input's CIE lightness."""
    import torch

    from gan_engine.inference.wrappers import Colorizer

    colorizer, load_seconds = _cached_model(
        weights, lambda: Colorizer(weights.path, device=settings.GAN_DEVICE, tile=settings.GAN_TILE)
    )
    with torch.inference_mode():
        colorizer.colorize_file(source, output, tile=_tile(params), strength=float(params.get("strength", 1.0)),
                                progress=progress)
    return str(colorizer.device), load_seconds


def _run_style(weights: WeightsInfo, source: Path, output: Path, params: Mapping[str, Any],
               progress: Progress | None, *, reference: Path | None = None) -> tuple[str, float]:
    """Give ``source`` the style of the reference (color, optimize) or of the trained style model
    (feedforward), into the PNG ``output``."""
    import torch

    from gan_engine.devices import resolve_device
    from gan_engine.inference import style

    method = params["method"]
    strength = float(params.get("strength", 1.0))
    if method == "feedforward":
        stylizer, load_seconds = _cached_model(
            weights, lambda: style.Stylizer(weights.path, device=settings.GAN_DEVICE, tile=settings.GAN_TILE)
        )
        with torch.inference_mode():
            stylizer.stylize_file(source, output, strength=strength, tile=_tile(params), progress=progress)
        return str(stylizer.device), load_seconds
    if reference is None:
        raise ValueError(f"The style method {method} needs a reference image.")
    if method == "color":  # numpy only: no model, no device
        style.stylize_file(source, output, method="color", reference=reference, strength=strength,
                           progress=progress)
        return "cpu", 0.0
    _configure_torch()
    device = str(resolve_device(settings.GAN_DEVICE))
    vgg = settings.GAN_VGG19_WEIGHTS
    config = style.StyleOptimizeConfig(steps=int(params["steps"]), device=device, progress=False,
                                       seed=int(params.get("seed") or 0), feature_weights=str(vgg) if vgg else None)
    style.stylize_file(source, output, method="optimize", reference=reference, config=config, strength=strength,
                       device=device, progress=progress)
    return device, 0.0


# What gan_engine provides: task -> runner(weights, source, output, params, progress[, reference=path]).
# ``reference`` (an image file) is passed only to jobs that name a reference version.
ENGINE_TASKS: dict[str, Callable[..., tuple[str, float]]] = {
    "restore": _run_restore,
    "colorize": _run_colorize,
    "upscale": _run_upscale,
    "style": _run_style,
}

_TASK_MODULES = {"style": "gan_engine.inference.style"}


def run(task: str, source: Path, output: Path, params: Mapping[str, Any], *, expected_sha256: str,
        progress: Progress | None = None, reference: Path | None = None) -> RunResult:
    """Run ``task`` on the image file ``source`` and write the PNG ``output``.

    ``expected_sha256`` is the weights checksum the job was queued with (for a method without
    weights, its description's): other weights raise ``WeightsChanged`` (the result would not be
    what the recipe says). ``reference`` is the reference image file of a job that names one.
    ``progress(fraction)`` is called as tiles are done. Errors propagate (gan_engine's
    ImageReadError, CheckpointError, MemoryError, ...).
    """
    import importlib

    started = time.monotonic()  # the first job of a worker process pays for the imports: counted as loading
    weights = weights_info(task, params)
    if weights.sha256 != expected_sha256:
        what = "weights" if weights.has_weights else "method (engine or feature network)"
        raise WeightsChanged(
            f"The {task} {what} changed since the job was queued (queued for {expected_sha256[:12]}, "
            f"now {weights.sha256[:12]}); submit it again."
        )
    import torch

    from gan_engine.data import imageio  # noqa: F401
    from gan_engine.inference import wrappers  # noqa: F401

    if task in _TASK_MODULES:
        importlib.import_module(_TASK_MODULES[task])
    imports = time.monotonic() - started
    seed = int(params.get("seed") or 0)
    torch.manual_seed(seed)
    extra = {"reference": reference} if reference is not None else {}
    device, load_seconds = ENGINE_TASKS[task](weights, source, output, params, progress, **extra)
    load_seconds += imports
    return RunResult(
        model_name=weights.model_name,
        weights_sha256=weights.sha256,
        engine_version=engine_version(),
        device=device,
        seed=seed,
        load_seconds=round(load_seconds, 4),
        inference_seconds=round(time.monotonic() - started - load_seconds, 4),
        weights=weights,
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
    _MODELS.clear()
    with _cards_lock:
        _cards.clear()
        _file_digests.clear()


__all__ = [
    "ENGINE_TASKS", "TASK_PARAMETERS", "TASK_VARIANTS", "EngineUnavailable", "ParameterError", "WeightsChanged",
    "WeightsInfo", "RunResult", "available_tasks", "available_variants", "enabled_tasks", "validate_params",
    "recipe_params", "params_schema", "check_size", "weights_info", "weights_key", "uses_weights", "software",
    "run", "is_out_of_memory", "engine_version",
]

"""Which weights a task's variant runs with, and whether it can run here.

A task is *available* when the installation offers it (``settings.GAN_TASKS``) and at least one
of its variants can run: its weights file is present (``settings.GAN_WEIGHTS[key]``, the key
chosen by the parameters: the definition's ``weights_key``), or it needs none (style's colour
transfer and optimisation, whose method description stands for the weights). Model cards are
read without torch (the web process reads them too).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from restoration.jobs.cards import ENGINE_NAME, EngineUnavailable, engine_version, read_card
from restoration.jobs.params import with_defaults
from restoration.jobs.tasks import TASKS, TaskDefinition

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


def software(*, model_name: str | None = None, weights_sha256: str | None = None) -> dict[str, Any]:
    """The ``software`` argument of ``provenance.record_event`` for work the engine does."""
    info: dict[str, Any] = {"name": ENGINE_NAME, "version": engine_version()}
    if model_name is not None:
        info.update(model=model_name, weights_sha256=weights_sha256)
    return info


def _model_name(task: str, card: Mapping[str, Any]) -> str:
    name = card.get("model_name") or card.get("name")
    return str(name) if name else f"{task}-{card.get('architecture', 'model')}"


def weights_key(task: str, params: Mapping[str, Any] | None = None) -> str | None:
    """The ``GAN_WEIGHTS`` key the task uses with these parameters; None when it uses no weights
    file (style methods color and optimize)."""
    definition = TASKS[task]
    return definition.weights_key(definition, with_defaults(definition, params))


def uses_weights(task: str, params: Mapping[str, Any] | None = None) -> bool:
    """Whether the task runs a weights file with these parameters."""
    return weights_key(task, params) is not None


def _weights_path(key: str) -> Path | None:
    path = settings.GAN_WEIGHTS.get(key)
    return Path(path) if path else None


def enabled_tasks() -> tuple[str, ...]:
    """Tasks this installation offers (``GAN_TASKS``), in ``TASKS`` order."""
    enabled = set(getattr(settings, "GAN_TASKS", TASKS))
    return tuple(task for task in TASKS if task in enabled)


def _method_info(task: TaskDefinition, params: Mapping[str, Any]) -> WeightsInfo:
    """WeightsInfo of a variant without a weights file: the method described, and its checksum."""
    if task.method_card is None:
        raise EngineUnavailable(f"The {task.name} variant {task.describe_variant(params)} has no weights key and no method.")
    card = task.method_card(task, params)
    canonical = json.dumps(card, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return WeightsInfo(task=task.name, path=None, sha256=hashlib.sha256(canonical.encode("ascii")).hexdigest(),
                       model_name=f"{task.name}-{params.get('method')}", card=card)


def _check_card(task: TaskDefinition, params: Mapping[str, Any], path: Path, card: Mapping[str, Any]) -> None:
    """The card must describe a model for this task (and this variant): a misnamed file would
    otherwise be found out only by the worker, after the job was queued."""
    found = card.get("task")
    if found is not None and found != task.name:
        raise EngineUnavailable(f"The weights {path} hold a {found!r} model, not a {task.name!r} model.",
                                field="params")
    if task.check_card is not None:
        task.check_card(task, params, path, card)


def weights_info(task: str, params: Mapping[str, Any] | None = None) -> WeightsInfo:
    """The weights the task would use now with these (validated) parameters; defaults when
    ``params`` is None. Raises ``EngineUnavailable`` when there are none (``field`` "task" when
    the task cannot run at all, "params" when only the variant asked for cannot)."""
    if task not in TASKS:
        raise EngineUnavailable(f"The engine does not provide {task!r} yet.")
    if task not in enabled_tasks():
        raise EngineUnavailable(f"This archive does not offer {task!r} (GAN_TASKS).")
    definition = TASKS[task]
    p = with_defaults(definition, params)
    key = definition.weights_key(definition, p)
    if key is None:
        return _method_info(definition, p)
    path = _weights_path(key)
    if path is None or not path.is_file():
        where = f"{path} does not exist" if path is not None else f"GAN_WEIGHTS has no {key!r} entry"
        field = "task" if task not in available_tasks() else "params"
        raise EngineUnavailable(f"No weights for {definition.describe_variant(p)}: {where}.", field=field)
    card = read_card(path)
    _check_card(definition, p, path, card)
    return WeightsInfo(task=task, path=path, sha256=str(card["weights_sha256"]), model_name=_model_name(task, card),
                       card=card)


def _variant_ready(task: TaskDefinition, variant: Mapping[str, Any]) -> bool:
    """Whether the variant's files are present (no card is read: cheap enough for every page)."""
    params = with_defaults(task, variant)
    key = task.weights_key(task, params)
    if key is not None:
        path = _weights_path(key)
        return path is not None and path.is_file()
    return task.method_ready(params) if task.method_ready else True


def available_variants(task: str) -> tuple[dict[str, Any], ...]:
    """The variants of ``task`` that can run now (e.g. ``{"scale": 2, "variant": "faithful"}``)."""
    if task not in enabled_tasks():
        return ()
    definition = TASKS[task]
    return tuple(dict(v) for v in definition.variants if _variant_ready(definition, v))


def available_tasks() -> tuple[str, ...]:
    """Tasks that can run now: offered (``GAN_TASKS``), and with at least one variant whose
    weights are present (style's colour transfer needs none)."""
    return tuple(task for task in enabled_tasks() if any(_variant_ready(TASKS[task], v) for v in TASKS[task].variants))

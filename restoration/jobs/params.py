"""Job parameters: their types, defaults, bounds and schema, and their validation.

A task's parameters are a tuple of ``Param`` in its definition (``restoration.jobs.tasks``);
``validate`` cleans a request against them, ``recipe_params`` keeps those that decide the
result, ``schema`` documents them for the API. No Django, no torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from restoration.jobs.tasks.base import TaskDefinition


# Float parameters are rounded to this many significant digits before they are checked, stored
# and put in a recipe, so requests that differ only by float noise (0.1 and 0.1000000001, or
# 0.30000000000000004 from a client's arithmetic) are one recipe and reuse one result. Six digits
# are finer than any parameter's effect on an 8- or 16-bit image (a strength step of 1e-6 moves
# a 16-bit pixel by at most 0.07 of a level).
FLOAT_SIGNIFICANT_DIGITS = 6


def normalise_float(value: float) -> float:
    """``value`` rounded to ``FLOAT_SIGNIFICANT_DIGITS`` significant digits (finite input)."""
    return float(f"{value:.{FLOAT_SIGNIFICANT_DIGITS}g}")


class ParameterError(ValueError):
    """A job parameter is unknown, of the wrong type or out of range (``field`` names it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message



@dataclass(frozen=True)
class Param:
    """One parameter of a task: its type, default and bounds.

    ``kind`` is ``int``, ``float``, ``str`` or ``bool``; a ``str`` parameter takes one of its
    ``choices``; a ``bool`` one takes only JSON ``true`` / ``false`` (never 0, 1 or "yes").
    ``in_recipe`` is False for parameters that change how the work is done but not its result
    (the tile size: tiled inference equals untiled inference, gan_engine tests it); those are
    left out of the recipe key, so a different tile size reuses an existing result.
    ``recipe_at_default`` False leaves the parameter out of the recipe while it has its default
    value: for a parameter added to a task after jobs were recorded (restore's
    ``repair_damage``), so the recipe keys of the jobs made without it stay what they were.
    ``required`` makes the parameter mandatory for every request of the task; a requirement that
    depends on another parameter (style's reference) is checked by the task's cross-check.
    ``reference`` marks an ``int`` parameter whose value is the id of another version (of this
    item or another one the requester may read): submission checks it with ``visible_to``, the
    recipe holds that version's sha256, and the runner gets a verified copy of its file.
    """

    name: str
    kind: type  # int, float, str or bool
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple = ()
    required: bool = False
    in_recipe: bool = True
    reference: bool = False
    recipe_at_default: bool = True
    help: str = ""

    def clean(self, value: Any) -> Any:
        if self.kind is str:
            return self._clean_str(value)
        if self.kind is bool:
            if not isinstance(value, bool):
                raise ParameterError(self.name, f"{self.name} must be true or false, not {value!r}.")
            return value
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
            value = normalise_float(value)
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
        out: dict[str, Any] = {"type": {int: "integer", float: "number", str: "string", bool: "boolean"}[self.kind]}
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


# Parameters several tasks share.
TILE = Param("tile", int, None, 16, 4096, in_recipe=False,
             help="Tile side in pixels (memory and speed only; the result is the same). Default: GAN_TILE.")
SEED = Param("seed", int, 0, 0, 2**31 - 1, help="Seed of PyTorch's generators, recorded in the provenance.")


def with_defaults(task: TaskDefinition, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Parameters as given, defaults for the missing ones (no validation: callers validated)."""
    params = params or {}
    return {p.name: p.default if params.get(p.name) is None else params[p.name] for p in task.params}


def validate(task: TaskDefinition, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The task's parameters with defaults filled in (``None`` for an unset optional one).

    Raises ``ParameterError`` for an unknown name, a wrong type, a value out of range or
    parameters that do not go together (the task's ``cross_check``).
    """
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise ParameterError("params", "params must be a JSON object.")
    specs = {p.name: p for p in task.params}
    unknown = sorted(set(params) - set(specs))
    if unknown:
        raise ParameterError(
            unknown[0], f"Unknown parameter {unknown[0]!r} for {task.name}; known: {', '.join(sorted(specs))}."
        )
    cleaned: dict[str, Any] = {}
    for name, spec in specs.items():
        value = params.get(name)
        if value is None:
            if spec.required:
                raise ParameterError(name, f"{name} is required for {task.name}.")
            cleaned[name] = spec.default
        else:
            cleaned[name] = spec.clean(value)
    return task.cross_check(cleaned) if task.cross_check else cleaned


def recipe_params(task: TaskDefinition, params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters that decide the result (those in the recipe key)."""
    return {
        p.name: params.get(p.name)
        for p in task.params
        if p.in_recipe and (p.recipe_at_default or params.get(p.name, p.default) != p.default)
    }


def references(task: TaskDefinition, params: Mapping[str, Any] | None) -> dict[str, int]:
    """``{parameter name: version id}`` of the reference parameters that are set."""
    params = params or {}
    return {p.name: params[p.name] for p in task.params if p.reference and params.get(p.name) is not None}


def schema(task: TaskDefinition) -> dict[str, Any]:
    """The task's parameters as an OpenAPI object schema (for the API's documentation)."""
    return {
        "type": "object",
        "title": f"{task.name} parameters",
        "properties": {p.name: p.schema() for p in task.params},
        "additionalProperties": False,
    }

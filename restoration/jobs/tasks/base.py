"""What a task is: one frozen ``TaskDefinition`` per task, and what its runner is given and returns.

Everything the archive says or does about a task comes from its definition: the API schema and
its help, the admin action, the item page's form (its parameters), the weights it needs (its
variants), the size check before queueing, the kind of version it makes, the IPTC digital
source type and the verb of the label (XMP, item page, IIIF manifest, OAI), and the runner that
calls ``gan_engine``. No Django import; ``gan_engine`` only inside runners.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from restoration.core.xmp import COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
from restoration.jobs.params import Param

Progress = Callable[[float], None]


@dataclass(frozen=True)
class RunContext:
    """What a runner works with (in a worker process).

    ``weights`` is the ``WeightsInfo`` the job was queued for; ``source`` a verified copy of the
    source version's file; ``output`` the PNG to write; ``references`` verified copies of the
    files of the versions that reference parameters name (``{parameter name: path}``);
    ``workdir`` a private folder for companion outputs; ``progress(fraction)`` reports progress.
    """

    weights: Any
    source: Path
    output: Path
    params: Mapping[str, Any]
    workdir: Path
    references: Mapping[str, Path] = field(default_factory=dict)
    progress: Progress | None = None


@dataclass(frozen=True)
class Companion:
    """A second output a task may store beside its result (e.g. a damage mask): a version of
    ``version_kind`` derived from the same source, linked as an outcome of the same event, its
    role in the event detail's ``companions``."""

    name: str
    version_kind: str
    filename_suffix: str = ""


@dataclass(frozen=True)
class RunOutput:
    """What a runner did: the device, the seconds spent loading its model, and the files of the
    companions it wrote (``{companion name: path}``, names from the definition's ``companions``)."""

    device: str
    load_seconds: float = 0.0
    companions: Mapping[str, Path] = field(default_factory=dict)


Runner = Callable[[RunContext], RunOutput]


def _default_weights_key(task: "TaskDefinition", params: Mapping[str, Any]) -> str | None:
    return task.name


@dataclass(frozen=True)
class TaskDefinition:
    """One task, all of it.

    - ``name``: the ``JobTask`` value; ``title``: the action ("Restore"); ``verb``: the label's
      verb ("Restored by model X, ..."); ``version_kind``: the ``VersionKind`` of its result.
    - ``params``: its parameters (``Param``); ``cross_check``: checks across them after each is
      cleaned (may fill conditional defaults); ``size_check(params, width, height)`` refuses a
      request whose result would be too large, before it is queued.
    - ``variants``: the parameter sets that need different weights; ``weights_key(task, params)``
      the ``GAN_WEIGHTS`` key of a variant, None for one that needs no weights file (then
      ``method_card(task, params)`` describes the method, and its checksum stands for weights);
      ``check_card(task, params, path, card)`` refuses weights made for another variant;
      ``method_ready(params)`` says cheaply whether a variant without weights can run.
    - ``source_type(params)``: the IPTC digital source type of a result.
    - ``runner``: runs it (imports ``gan_engine`` lazily); ``engine_modules`` are imported before
      the run starts (their import time is counted as loading); ``companions``: the second
      outputs its runner may write.
    - ``work(params, width, height)``: the predicted work of a run in restore-megapixels (the
      work of restoring one megapixel: about 3 s on a 2-core CPU; default: the source's
      megapixels), which sends a job to the long queue when it reaches ``JOB_LONG_WORK``
      (``predicted_work``).
    - ``action_params`` / ``action_title``: what the admin action (which has no form) queues with.
    - ``example``: example parameters for the API's documentation.
    """

    name: str
    title: str
    verb: str
    version_kind: str
    params: tuple[Param, ...]
    runner: Runner
    digital_source_type: str = COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
    # How the label names a reference version the job used ("colours from reference X (version N)").
    reference_phrase: str = "reference"
    variants: tuple[Mapping[str, Any], ...] = ({},)
    weights_key: Callable[["TaskDefinition", Mapping[str, Any]], str | None] = _default_weights_key
    variant_label: Callable[[Mapping[str, Any]], str] | None = None
    cross_check: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    size_check: Callable[[Mapping[str, Any], int, int], None] | None = None
    source_type_for: Callable[[Mapping[str, Any]], str] | None = None
    method_card: Callable[["TaskDefinition", Mapping[str, Any]], dict[str, Any]] | None = None
    check_card: Callable[["TaskDefinition", Mapping[str, Any], Path, Mapping[str, Any]], None] | None = None
    method_ready: Callable[[Mapping[str, Any]], bool] | None = None
    engine_modules: tuple[str, ...] = ()
    companions: tuple[Companion, ...] = ()
    work: Callable[[Mapping[str, Any], int, int], float] | None = None
    action_params: Mapping[str, Any] | None = None
    action_title: str = ""
    example: Mapping[str, Any] = field(default_factory=dict)

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def source_type(self, params: Mapping[str, Any] | None) -> str:
        """The IPTC digital source type of a result made with these parameters."""
        if self.source_type_for is not None:
            return self.source_type_for(params or {})
        return self.digital_source_type

    def predicted_work(self, params: Mapping[str, Any], width: int, height: int) -> float:
        """Megapixel units of work a run on a ``width`` x ``height`` source is predicted to take."""
        if self.work is not None:
            return self.work(params, width, height)
        return width * height / 1e6

    def describe_variant(self, params: Mapping[str, Any]) -> str:
        return self.variant_label(params) if self.variant_label else self.name

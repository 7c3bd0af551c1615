"""How a derivative was made, and the one sentence that says so.

``label(making)`` is the only writer of a derivative's label: the item page, the IIIF manifest,
the XMP in the file and the OAI-PMH record all show its text, e.g.
"Restored by model restore-unet, weights 3f2a9c01d4e5…, on 2026-11-24; not the original".
The verb comes from the task definition of the version's kind; a method that runs no trained
model (style's colour transfer) is named as a method, with its description's checksum; the
date is the day the derivative was made, in the archive's time zone (``TIME_ZONE``).

``makings(versions)`` reads the facts from provenance: the first successful event that has the
version as its outcome (its detail, else its executing program's agent detail), else the job
that produced it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone

from restoration.core.models import (
    EventAgent,
    EventObject,
    EventOutcome,
    EventType,
    ProvenanceEvent,
    RestorationJob,
    Version,
    VersionKind,
)
from restoration.jobs.tasks import by_version_kind

WEIGHTS_SHOWN = 12  # hex digits of a checksum in a label (the full value is in the provenance)
# Events that check a version rather than make it (ingest writes a digest event beside the
# creating one): not where a derivative's model is recorded.
CHECK_EVENT_TYPES = (EventType.MESSAGE_DIGEST_CALCULATION, EventType.FIXITY_CHECK, EventType.VALIDATION)


@dataclass(frozen=True)
class Making:
    """How a derivative was made: its kind, the model (or method) and its checksum, and when."""

    kind: str
    model: str | None = None
    weights_sha256: str | None = None  # the weights file's checksum
    method_sha256: str | None = None  # a method without weights: its description's checksum
    made_at: datetime | None = None
    software: str | None = None  # the executing program, when no model is recorded
    reference: str | None = None  # the reference version a job used: "ITEM-ID (version N)"

    @property
    def is_ai(self) -> bool:
        return bool(self.model or self.weights_sha256 or self.method_sha256)


def verb(kind: str) -> str:
    """The label's verb of a kind of version, from the task that makes it."""
    task = by_version_kind(kind)
    return task.verb if task is not None else "Derived"


def made_on(moment: datetime) -> str:
    """The day of ``moment`` in the archive's time zone, ISO 8601 (``2026-11-24``)."""
    return timezone.localdate(moment).isoformat() if timezone.is_aware(moment) else moment.date().isoformat()


def label(making: Making) -> str:
    """The one sentence that labels a derivative (see the module docstring)."""
    if making.weights_sha256:
        by = f"model {making.model or '(unnamed)'}, weights {making.weights_sha256[:WEIGHTS_SHOWN]}…"
    elif making.method_sha256:
        by = (f"the method {making.model or '(unnamed)'} (no trained model), "
              f"method sha256 {making.method_sha256[:WEIGHTS_SHOWN]}…")
    elif making.model:
        by = f"model {making.model}"
    elif making.software:
        by = making.software
    else:
        by = "a model that was not recorded"
    when = f", on {made_on(making.made_at)}" if making.made_at else ""
    ref = ""
    if making.reference:
        task = by_version_kind(making.kind)
        ref = f", {task.reference_phrase if task is not None else 'reference'} {making.reference}"
    return f"{verb(making.kind)} by {by}{ref}{when}; not the original"


def reference_text(item_identifier: str, version_pk: int) -> str:
    """How a label names a reference version."""
    return f"{item_identifier} (version {version_pk})"


def _program_detail(event: ProvenanceEvent) -> tuple[Mapping[str, Any], str | None]:
    for link in event.agent_links.all():
        if link.role == EventAgent.Role.EXECUTING_PROGRAM:
            agent = link.agent
            return agent.detail or {}, f"{agent.name} {agent.version}".strip()
    return {}, None


def making_of(version: Version, event: ProvenanceEvent | None, job: RestorationJob | None) -> Making:
    """The facts of one derivative from its making event (if any) and its job (if any)."""
    if event is None:
        return Making(version.kind, model=job.model_name or None if job else None,
                      weights_sha256=job.weights_sha256 or None if job else None, made_at=version.created_at)
    detail = dict(event.detail or {})
    program, software = _program_detail(event)
    model = detail.get("model") or program.get("model") or (job.model_name if job else None) or None
    method_sha = detail.get("method_sha256")
    if "weights_sha256" in detail:  # recorded as None for a method without weights
        weights = detail["weights_sha256"]
    else:
        weights = program.get("weights_sha256") or (job.weights_sha256 if job else None)
    if method_sha:
        weights = None
    reference = (reference_text(detail["reference_item"], detail["reference_version"])
                 if detail.get("reference_item") and detail.get("reference_version") else None)
    return Making(version.kind, model=model, weights_sha256=weights or None, method_sha256=method_sha or None,
                  made_at=event.timestamp, software=software, reference=reference)


def makings(versions: Iterable[Version]) -> dict[int, Making]:
    """``{version id: Making}`` for the derivatives among ``versions`` (three queries for all)."""
    derivatives = {v.pk: v for v in versions if v.kind != VersionKind.ORIGINAL}
    links = (
        EventObject.objects.filter(version_id__in=list(derivatives), role=EventObject.Role.OUTCOME,
                                   event__outcome=EventOutcome.SUCCESS)
        .exclude(event__event_type__in=CHECK_EVENT_TYPES)
        .select_related("event")
        .prefetch_related(Prefetch("event__agent_links", queryset=EventAgent.objects.select_related("agent")))
        .order_by("event__timestamp", "event_id")
    )
    events: dict[int, ProvenanceEvent] = {}
    for link in links:
        events.setdefault(link.version_id, link.event)  # the first event that made it
    jobs = {job.result_version_id: job for job in RestorationJob.objects.filter(result_version_id__in=list(derivatives))}
    return {pk: making_of(v, events.get(pk), jobs.get(pk)) for pk, v in derivatives.items()}


def labels(versions: Iterable[Version]) -> dict[int, str]:
    """``{version id: label}`` for the derivatives among ``versions``."""
    return {pk: label(making) for pk, making in makings(versions).items()}

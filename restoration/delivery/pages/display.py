"""What an item's page says about its versions and its provenance.

Every derivative is made by a model (restoration jobs are the only writer of derivatives), so
every one carries a visible label: "Restored by model X, weights abc123…, on 2026-11-24; not the
original". The model and the weights' sha256 come from the PREMIS event that created the
version (its ``detail``, else its executing program's agent detail), else from the job that
produced it. The timeline lists the item's events oldest first, with their agents, the versions
they concern and the facts of their detail (checksums, model, parameters).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone

from restoration.core.models import (
    Agent,
    EventAgent,
    EventObject,
    EventOutcome,
    EventType,
    Item,
    ProvenanceEvent,
    RestorationJob,
    Version,
    VersionKind,
)

# The verb of a label, per kind of derivative.
KIND_VERBS: dict[str, str] = {
    VersionKind.RESTORED: "Restored",
    VersionKind.COLORIZED: "Colorized",
    VersionKind.UPSCALED: "Upscaled",
    VersionKind.STYLED: "Styled",
}
# Events that check a version rather than make it (ingest writes a digest event beside the
# creating one): not where a derivative's model is recorded.
CHECK_EVENT_TYPES = (EventType.MESSAGE_DIGEST_CALCULATION, EventType.FIXITY_CHECK, EventType.VALIDATION)
WEIGHTS_SHOWN = 12  # hex digits of the weights' sha256 in a label (the full value is in the timeline)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def ai_label(kind: str, *, model: str | None, weights_sha256: str | None, made_at: datetime) -> str:
    """``"Restored by model X, weights abc123…, on 2026-11-24; not the original"``."""
    verb = KIND_VERBS.get(kind, "Made")
    by = f"model {model}" if model else "a model that was not recorded"
    weights = f", weights {weights_sha256[:WEIGHTS_SHOWN]}…" if weights_sha256 else ""
    return f"{verb} by {by}{weights}, on {timezone.localdate(made_at).isoformat()}; not the original"


@dataclass(frozen=True)
class ShownVersion:
    """A version as the item page shows it; ``ai_label`` is empty for the original."""

    version: Version
    model: str | None = None
    weights_sha256: str | None = None
    made_at: datetime | None = None
    ai_label: str = ""

    @property
    def is_ai_made(self) -> bool:
        return not self.version.is_original


def _program_detail(event: ProvenanceEvent) -> Mapping[str, Any]:
    for link in event.agent_links.all():
        if link.role == EventAgent.Role.EXECUTING_PROGRAM:
            return link.agent.detail or {}
    return {}


def shown_versions(item: Item) -> list[ShownVersion]:
    """The item's versions, oldest first, each derivative with its model, weights and label."""
    versions = list(Version.objects.filter(item=item).select_related("created_by").order_by("created_at", "id"))
    derivative_ids = [v.pk for v in versions if not v.is_original]
    creating: dict[int, ProvenanceEvent] = {}
    links = (
        EventObject.objects.filter(version_id__in=derivative_ids, role=EventObject.Role.OUTCOME,
                                   event__outcome=EventOutcome.SUCCESS)
        .exclude(event__event_type__in=CHECK_EVENT_TYPES)
        .select_related("event")
        .prefetch_related(Prefetch("event__agent_links", queryset=EventAgent.objects.select_related("agent")))
        .order_by("event__timestamp", "event_id")
    )
    for link in links:
        creating.setdefault(link.version_id, link.event)  # the first event that made it
    jobs = {job.result_version_id: job for job in RestorationJob.objects.filter(result_version_id__in=derivative_ids)}

    shown = []
    for version in versions:
        if version.is_original:
            shown.append(ShownVersion(version, made_at=version.created_at))
            continue
        event, job = creating.get(version.pk), jobs.get(version.pk)
        detail = dict(event.detail) if event else {}
        program = _program_detail(event) if event else {}
        model = detail.get("model") or program.get("model") or (job.model_name if job else None) or None
        weights = (detail.get("weights_sha256") or program.get("weights_sha256")
                   or (job.weights_sha256 if job else None) or None)
        made_at = event.timestamp if event else version.created_at
        shown.append(ShownVersion(
            version, model=model, weights_sha256=weights, made_at=made_at,
            ai_label=ai_label(version.kind, model=model, weights_sha256=weights, made_at=made_at),
        ))
    return shown


# --- Provenance timeline ------------------------------------------------------------------------


@dataclass(frozen=True)
class Fact:
    """One line of an event's or agent's detail; ``code`` for checksums and identifiers."""

    name: str
    value: str
    code: bool = False


@dataclass(frozen=True)
class TimelineAgent:
    agent: Agent
    role: str
    facts: list[Fact] = field(default_factory=list)


@dataclass(frozen=True)
class TimelineObject:
    version_id: int
    kind: str
    role: str


@dataclass(frozen=True)
class TimelineEntry:
    event: ProvenanceEvent
    agents: list[TimelineAgent]
    objects: list[TimelineObject]
    facts: list[Fact]


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))


def facts(detail: Mapping[str, Any] | None) -> list[Fact]:
    """An event's (or agent's) detail as readable lines: empty values left out, changes as
    ``old → new``, checksums as code."""
    lines = []
    for key, value in (detail or {}).items():
        if value is None or value == "" or value == {} or value == []:
            continue
        name = key.replace("_", " ")
        if key == "changes" and isinstance(value, Mapping):
            for changed, diff in value.items():
                if isinstance(diff, Mapping) and {"old", "new"} <= set(diff):
                    lines.append(Fact(f"changed {changed.replace('_', ' ')}", f"{_text(diff['old'])} → {_text(diff['new'])}"))
                else:
                    lines.append(Fact(f"changed {changed.replace('_', ' ')}", _text(diff)))
            continue
        if isinstance(value, Mapping):
            text = ", ".join(f"{k} {_text(v)}" for k, v in value.items() if v is not None)
        else:
            text = _text(value)
        lines.append(Fact(name, text, code=bool(_SHA256.match(text)) or key in ("recipe_key", "value", "sha256")))
    return lines


def timeline(item: Item) -> list[TimelineEntry]:
    """The item's PREMIS events, oldest first (the same events the API lists for the item)."""
    events = (
        ProvenanceEvent.objects.filter(item=item)
        .prefetch_related(
            Prefetch("agent_links", queryset=EventAgent.objects.select_related("agent").order_by("id")),
            Prefetch("object_links", queryset=EventObject.objects.select_related("version").order_by("id")),
        )
        .order_by("timestamp", "id")
    )
    return [_entry(event) for event in events]


def _entry(event: ProvenanceEvent) -> TimelineEntry:
    agents = [TimelineAgent(link.agent, link.role, facts(link.agent.detail)) for link in event.agent_links.all()]
    objects = [TimelineObject(link.version_id, link.version.kind, link.role) for link in event.object_links.all()]
    return TimelineEntry(event, agents, objects, facts(event.detail))


def derivative_kinds() -> list[tuple[str, str]]:
    """(value, label) of the kinds a derivative can be, for the grid's filter."""
    return [(value, label) for value, label in VersionKind.choices if value != VersionKind.ORIGINAL]

"""What an item's page says about its versions and its provenance.

Every derivative carries a visible label, the one sentence ``restoration.jobs.labels.label``
writes for the page, the IIIF manifest, the file's XMP and OAI-PMH alike, e.g. "Restored by
model X, weights abc123…, on 2026-11-24; not the original". The timeline lists the item's
events oldest first, with their agents, the versions they concern and the facts of their detail
(checksums, model, parameters).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Prefetch

from restoration.core.disclosure import Audience
from restoration.core.models import EventAgent, EventObject, Item, ProvenanceEvent, Version, VersionKind
from restoration.jobs import labels

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ShownVersion:
    """A version as the item page shows it; ``ai_label`` is empty for the original."""

    version: Version
    model: str | None = None
    weights_sha256: str | None = None
    made_at: datetime | None = None
    ai_label: str = ""
    stored_by: str | None = None  # who stored it, as the reader may see it (core.disclosure)
    ai_marker: str = ""  # the AI badge's text, e.g. "Preferred version made by model X"

    @property
    def is_ai_made(self) -> bool:
        return not self.version.is_original


def ai_marker(making: labels.Making | None, *, preferred: bool) -> str:
    """The text of the "AI" badge of a derivative (grid and version list): what made it, in a
    few words, e.g. "Preferred version made by model restore-unet"."""
    if making is not None and making.method_sha256:
        by = f"the method {making.model or '(unnamed)'}"
    elif making is not None and making.model:
        by = f"model {making.model}"
    else:
        by = "a model"
    return f"{'Preferred version' if preferred else 'Version'} made by {by}"


def shown_versions(item: Item, user) -> list[ShownVersion]:
    """The item's versions ``user`` may see (``Version.objects.visible_to``: a rejected derivative
    for curators only), oldest first, each derivative with its model, checksum and label; who
    stored each is told as ``Audience.of(user)`` may read it (a role for the public)."""
    audience = Audience.of(user)
    versions = list(
        Version.objects.visible_to(user).filter(item=item).select_related("created_by", "reviewed_by")
        .order_by("created_at", "id")
    )
    made = labels.makings(versions)
    shown = []
    for version in versions:
        stored_by = audience.account(version.created_by)
        making = made.get(version.pk)
        if making is None:
            shown.append(ShownVersion(version, made_at=version.created_at, stored_by=stored_by))
            continue
        shown.append(ShownVersion(
            version, model=making.model, weights_sha256=making.weights_sha256 or making.method_sha256,
            made_at=making.made_at, ai_label=labels.label(making), stored_by=stored_by,
            ai_marker=ai_marker(making, preferred=version.is_preferred),
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
    """An event's agent as the reader may see it (``core.disclosure``)."""

    name: str
    version: str
    agent_type: str
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


def timeline(item: Item, user) -> list[TimelineEntry]:
    """The item's PREMIS events ``user`` may read, oldest first (the same events the API lists
    for the item: ``ProvenanceEvent.objects.visible_to``; notes and reviews for curators), as
    ``Audience.of(user)`` may read them: for the public, people by role, no worker host, no error text."""
    audience = Audience.of(user)
    events = (
        ProvenanceEvent.objects.visible_to(user).filter(item=item)
        .prefetch_related(
            Prefetch("agent_links", queryset=EventAgent.objects.select_related("agent").order_by("id")),
            Prefetch("object_links", queryset=EventObject.objects.select_related("version").order_by("id")),
        )
        .order_by("timestamp", "id")
    )
    return [_entry(event, audience) for event in events]


def _entry(event: ProvenanceEvent, audience: Audience) -> TimelineEntry:
    agents = [
        TimelineAgent(audience.agent_name(link.agent), link.agent.version, link.agent.agent_type, link.role,
                      facts(audience.detail(link.agent.detail)))
        for link in event.agent_links.all()
    ]
    objects = [TimelineObject(link.version_id, link.version.kind, link.role) for link in event.object_links.all()]
    return TimelineEntry(event, agents, objects, facts(audience.detail(event.detail)))


def derivative_kinds() -> list[tuple[str, str]]:
    """(value, label) of the kinds a derivative can be, for the grid's filter."""
    return [(value, label) for value, label in VersionKind.choices if value != VersionKind.ORIGINAL]


def eta_text(seconds: float | None) -> str:
    """``about 40 s left``, ``about 3 min left``, ``about 1 h 5 min left`` ("" when unknown); the
    page's script (jobs.js) and the admin's job list word it the same way."""
    if seconds is None:
        return ""
    seconds = max(round(seconds), 1)
    if seconds < 60:
        return f"about {seconds} s left"
    minutes = -(-seconds // 60)
    if minutes < 60:
        return f"about {minutes} min left"
    return f"about {minutes // 60} h {minutes % 60} min left"

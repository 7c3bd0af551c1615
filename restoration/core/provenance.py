"""The only writer of PREMIS provenance: events, their agents and the versions they concern.

Every event links its agents with a PREMIS role: the person who asked for the work as
``implementer`` and the software that did it as ``executing program``. Versions the event acted
on are ``source`` objects; versions it produced are ``outcome`` objects. Events are append-only
(see ``restoration.core.models``): nothing here updates or deletes one.
"""

from __future__ import annotations

import importlib.metadata
import tomllib
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from restoration.core.models import (
    PROVENANCE_WRITER,
    Agent,
    AgentType,
    EventAgent,
    EventObject,
    EventOutcome,
    EventType,
    Item,
    ProvenanceEvent,
    Version,
)

if TYPE_CHECKING:
    from restoration.core.fixity import Fixity

SOFTWARE_NAME = "photo-archive"
_DISTRIBUTION = "photo-archive-restoration"


def _software_version() -> str:
    """The archive's version: from the installed distribution, else from the checkout's pyproject."""
    try:
        return importlib.metadata.version(_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        with open(Path(__file__).resolve().parent.parent / "pyproject.toml", "rb") as fh:
            return str(tomllib.load(fh)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


SOFTWARE_VERSION = _software_version()


def archive_software() -> dict[str, str]:
    """The ``software`` argument of ``record_event`` for work the archive itself does."""
    return {"name": SOFTWARE_NAME, "version": SOFTWARE_VERSION}


@contextmanager
def _writing():
    token = PROVENANCE_WRITER.set(True)
    try:
        yield
    finally:
        PROVENANCE_WRITER.reset(token)


def software_agent(name: str, version: str, **detail: Any) -> Agent:
    """The software agent with this name, version and detail, created on first use."""
    for agent in Agent.objects.filter(agent_type=AgentType.SOFTWARE, name=name, version=version):
        if agent.detail == detail:
            return agent
    return Agent.objects.create(agent_type=AgentType.SOFTWARE, name=name, version=version, detail=detail)


def person_agent(user) -> Agent:
    """The person agent of a user account, created on first use (named by its username)."""
    agent = Agent.objects.filter(agent_type=AgentType.PERSON, user=user).order_by("pk").first()
    if agent is None:
        agent = Agent.objects.create(agent_type=AgentType.PERSON, name=user.get_username(), user=user)
    return agent


def record_event(
    event_type: str,
    *,
    item: Item | None = None,
    outcome: str = EventOutcome.SUCCESS,
    detail: Mapping[str, Any] | None = None,
    sources: Iterable[Version] = (),
    outcomes: Iterable[Version] = (),
    user=None,
    software: Mapping[str, Any] | None = None,
    extra_agents: Iterable[tuple[Agent, str]] = (),
    timestamp: datetime | None = None,
) -> ProvenanceEvent:
    """Write one PREMIS event with its links, atomically, and return it.

    ``software`` is ``{"name": ..., "version": ..., **detail}`` (e.g. ``archive_software()``),
    linked as executing program; ``user`` (an authenticated user, else ignored) is linked as
    implementer; ``extra_agents`` are ``(agent, EventAgent.Role)`` pairs. ``item`` defaults to the
    item of the first source or outcome version. ``timestamp`` (default: now) is when the event
    happened, for work that stated its time elsewhere first (a derivative's XMP label).
    """
    if event_type not in EventType.values:
        raise ValueError(f"Unknown PREMIS event type {event_type!r}.")
    if outcome not in EventOutcome.values:
        raise ValueError(f"Unknown event outcome {outcome!r}.")
    sources, outcomes = list(sources), list(outcomes)
    if item is None and (sources or outcomes):
        item = (sources or outcomes)[0].item

    agents: list[tuple[Agent, str]] = []
    if user is not None and getattr(user, "is_authenticated", False):
        agents.append((person_agent(user), EventAgent.Role.IMPLEMENTER))
    if software:
        fields = dict(software)
        name, version = fields.pop("name"), str(fields.pop("version", ""))
        agents.append((software_agent(name, version, **fields), EventAgent.Role.EXECUTING_PROGRAM))
    agents.extend(extra_agents)

    with transaction.atomic(), _writing():
        event = ProvenanceEvent.objects.create(
            event_type=event_type,
            timestamp=timestamp or timezone.now(),
            outcome=outcome,
            detail=dict(detail or {}),
            item=item,
        )
        links = [EventObject(event=event, version=v, role=EventObject.Role.SOURCE) for v in sources]
        links += [EventObject(event=event, version=v, role=EventObject.Role.OUTCOME) for v in outcomes]
        if links:
            EventObject.objects.bulk_create(links)
        unique_agents = dict.fromkeys((agent.pk, str(role)) for agent, role in agents)
        if unique_agents:
            EventAgent.objects.bulk_create(
                EventAgent(event=event, agent_id=agent_id, role=role) for agent_id, role in unique_agents
            )
    return event


# --- Event builders: the events the archive writes, each in one place -----------------------------
#
# Each builder names the facts of one kind of event as keyword arguments and writes it through
# ``record_event``; the services, the worker and the audit call these rather than compose
# details themselves, so an event of a kind always has the same shape.


def record_digest(version: Version, *, sha256: str, size: int, route: str, filename: str, file_format: str,
                  user) -> ProvenanceEvent:
    """``message digest calculation`` of a newly stored version (original or derivative)."""
    return record_event(
        EventType.MESSAGE_DIGEST_CALCULATION,
        item=version.item,
        outcomes=[version],
        detail={"algorithm": "sha256", "value": sha256, "bytes": size, "route": route,
                "original_filename": filename, "format": file_format},
        user=user,
        software=archive_software(),
    )


def record_ingestion(version: Version, *, sha256: str, size: int, route: str, filename: str, file_format: str,
                     mime_type: str, identifier: str, collection: str | None, user) -> ProvenanceEvent:
    """``ingestion`` of an original: how it came in, and as which item."""
    return record_event(
        EventType.INGESTION,
        item=version.item,
        outcomes=[version],
        detail={"algorithm": "sha256", "value": sha256, "bytes": size, "route": route,
                "original_filename": filename, "format": file_format, "mime_type": mime_type,
                "identifier": identifier, "collection": collection},
        user=user,
        software=archive_software(),
    )


def record_derivation(version: Version, *, sources: Iterable[Version], detail: Mapping[str, Any], user,
                      software: Mapping[str, Any], event_type: str = EventType.MODIFICATION,
                      timestamp: datetime | None = None) -> ProvenanceEvent:
    """The event that made a derivative (``modification`` by default): its sources (the parent
    first, then e.g. a reference), the software that ran (model and weights in its detail), and
    the facts of the run (kind and sha256 of the result first)."""
    return record_event(
        event_type,
        item=version.item,
        sources=sources,
        outcomes=[version],
        detail={"kind": version.kind, "sha256": version.sha256, **dict(detail)},
        user=user,
        software=software,
        timestamp=timestamp,
    )


def record_metadata_change(item: Item, changes: Mapping[str, Any], *, user,
                           sources: Iterable[Version] = ()) -> ProvenanceEvent:
    """``metadata modification``: ``changes`` maps each changed field to ``{"old", "new"}``."""
    return record_event(
        EventType.METADATA_MODIFICATION,
        item=item,
        sources=sources,
        detail={"changes": dict(changes)},
        user=user,
        software=archive_software(),
    )


def record_failed_derivation(item: Item, *, sources: Iterable[Version], detail: Mapping[str, Any], user,
                             software: Mapping[str, Any]) -> ProvenanceEvent:
    """A ``modification`` that failed (a job's run): its sources and why, no outcome version."""
    return record_event(
        EventType.MODIFICATION,
        item=item,
        outcome=EventOutcome.FAILURE,
        sources=sources,
        detail=detail,
        user=user,
        software=software,
    )


def record_cancelled_derivation(item: Item, *, sources: Iterable[Version], detail: Mapping[str, Any], user,
                                software: Mapping[str, Any], cancelled_by) -> ProvenanceEvent:
    """A ``modification`` stopped on request (a job cancelled while it ran): outcome failure (it
    made nothing), ``cancelled`` and ``cancelled_by`` in its detail, and the account that
    cancelled it linked as ``authorizer``."""
    by = cancelled_by if getattr(cancelled_by, "is_authenticated", False) else None
    return record_event(
        EventType.MODIFICATION,
        item=item,
        outcome=EventOutcome.FAILURE,
        sources=sources,
        detail={**detail, "cancelled": True, "cancelled_by": by.get_username() if by else None},
        user=user,
        software=software,
        extra_agents=[(person_agent(by), EventAgent.Role.AUTHORIZER)] if by else [],
    )


def record_fixity_check(checked: "Fixity", *, software: Mapping[str, Any] | None = None) -> ProvenanceEvent:
    """A ``fixity check`` event of one version (``restoration.core.fixity.verify``'s outcome):
    success when intact, failure (with the actual digest, or ``missing``) otherwise."""
    version = checked.version
    return record_event(
        EventType.FIXITY_CHECK,
        item=version.item,
        outcome=EventOutcome.SUCCESS if checked.intact else EventOutcome.FAILURE,
        detail=checked.detail(),
        sources=[version],
        software=software or archive_software(),
    )

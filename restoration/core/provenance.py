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
    Note,
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
    curators_only: bool = False,
) -> ProvenanceEvent:
    """Write one PREMIS event with its links, atomically, and return it.

    ``software`` is ``{"name": ..., "version": ..., **detail}`` (e.g. ``archive_software()``),
    linked as executing program; ``user`` (an authenticated user, else ignored) is linked as
    implementer; ``extra_agents`` are ``(agent, EventAgent.Role)`` pairs. ``item`` defaults to the
    item of the first source or outcome version. ``timestamp`` (default: now) is when the event
    happened, for work that stated its time elsewhere first (a derivative's XMP label).
    ``curators_only`` keeps the event out of what the public reads
    (``ProvenanceEvent.objects.visible_to``).
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
            curators_only=curators_only,
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
                           sources: Iterable[Version] = (), route: str | None = None) -> ProvenanceEvent:
    """``metadata modification``: ``changes`` maps each changed field to ``{"old", "new"}``;
    ``route`` (e.g. "admin batch", "cli") says which door a batch edit came through."""
    return record_event(
        EventType.METADATA_MODIFICATION,
        item=item,
        sources=sources,
        detail={"changes": dict(changes), **({"route": route} if route else {})},
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


# Reviews are PREMIS ``validation`` events: "comparing an object with a standard and noting
# compliance or exceptions" (id.loc.gov) is what a curator does when judging a derivative against
# the archive's standard for what it shows. The curator is linked as ``validator`` (a PREMIS
# agent role), the version as the event's source object. ``modification`` was not chosen: the
# file is not modified, and the making of a derivative is already a ``modification`` (read by
# ``restoration.jobs.labels``).
def record_review(version: Version, *, old: str, new: str, reason: str, user,
                  preferred_cleared_to: Version | None = None) -> ProvenanceEvent:
    """``validation``: a curator set ``version``'s review status from ``old`` to ``new``, with
    ``reason``; ``preferred_cleared_to``: the version (the original) that became preferred
    because the reviewed one was the preferred one and may no longer be. Curators only: the
    reason is the curators' word, not the public's."""
    detail: dict[str, Any] = {"review_status": {"old": old, "new": new}, "reason": reason}
    if preferred_cleared_to is not None:
        detail["preferred_version"] = {"old": version.pk, "new": preferred_cleared_to.pk}
    agents = [(person_agent(user), EventAgent.Role.VALIDATOR)] if getattr(user, "is_authenticated", False) else []
    return record_event(
        EventType.VALIDATION,
        item=version.item,
        sources=[version],
        detail=detail,
        software=archive_software(),
        extra_agents=agents,
        curators_only=True,
    )


# A note is recorded as ``metadata modification``: it adds to what the archive says about the
# item or version (PREMIS has no "annotation" event type), and leaves every file unchanged.
def record_note(item: Item, text: str, *, user, version: Version | None = None) -> Note:
    """A curator's note on ``item`` (or on ``version``, one of its versions): the ``Note`` row and
    its ``metadata modification`` event (curators only), written together."""
    with transaction.atomic():
        event = record_event(
            EventType.METADATA_MODIFICATION,
            item=item,
            sources=[version] if version is not None else [],
            detail={"note": text, "on": f"version {version.pk}" if version is not None else "item"},
            user=user,
            software=archive_software(),
            curators_only=True,
        )
        with _writing():
            return Note.objects.create(
                item=item, version=version, text=text, author=user if getattr(user, "is_authenticated", False) else None,
                created_at=event.timestamp, event=event,
            )

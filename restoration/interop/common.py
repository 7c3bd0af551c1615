"""What the standard doors into the archive (IIIF, OAI-PMH, BagIt) share: who is asking, what
they may see, absolute URLs, the AI label of a derivative, and a local path to a stored file.

Visibility is the API's: anonymous requests see ``Item.objects.visible_to(AnonymousUser)``
(public items outside any collection or in public collections), authenticated users see
everything. Requests authenticate with the session cookie (the curator pages) or with an API
token (``Authorization: Token ...``).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from restoration.core.models import EventObject, EventType, Item, Version, VersionKind

logger = logging.getLogger(__name__)

# Labels of the kinds of derivative, as the AI label starts.
KIND_VERBS = {
    VersionKind.RESTORED: "Restored",
    VersionKind.COLORIZED: "Colorized",
    VersionKind.UPSCALED: "Upscaled",
    VersionKind.STYLED: "Styled",
}
# Events that make a derivative (``services.add_derivative`` records ``modification`` by default).
_MAKING_EVENTS = (EventType.MODIFICATION, EventType.CREATION, EventType.MIGRATION)


def request_user(request: HttpRequest):
    """The session's user, else the user of a valid API token, else anonymous."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user
    try:
        found = TokenAuthentication().authenticate(request)
    except AuthenticationFailed:
        found = None
    return found[0] if found else AnonymousUser()


def public_items() -> QuerySet[Item]:
    """Items anonymous visitors (and harvesters) may see."""
    return Item.objects.visible_to(AnonymousUser())


def visible_versions(user) -> QuerySet[Version]:
    versions = Version.objects.select_related("item")
    if user is None or not user.is_authenticated:
        versions = versions.filter(item__in=public_items())
    return versions


def is_public(item: Item) -> bool:
    return public_items().filter(pk=item.pk).exists()


def base_url(request: HttpRequest | None) -> str:
    """Scheme and host of absolute URLs: ``ARCHIVE_BASE_URL`` when set, else the request's."""
    configured = (settings.ARCHIVE_BASE_URL or "").rstrip("/")
    if configured or request is None:
        return configured or "http://localhost"
    return request.build_absolute_uri("/").rstrip("/")


# --- The label of an AI-made version ------------------------------------------------------------


@dataclass(frozen=True)
class Making:
    """How a derivative was made, from its provenance (the event whose outcome it is)."""

    kind: str
    model: str | None
    weights_sha256: str | None
    software: str | None
    timestamp: datetime | None

    @property
    def is_ai(self) -> bool:
        return bool(self.model or self.weights_sha256)

    def label(self) -> str:
        """"Restored by model X, weights abc123def456, on 2026-11-24; not the original"."""
        verb = KIND_VERBS.get(self.kind, "Derived")
        if self.is_ai:
            parts = [f"{verb} by model {self.model or '(unnamed)'}"]
            if self.weights_sha256:
                parts.append(f"weights {self.weights_sha256[:12]}")
        else:
            parts = [f"{verb} by {self.software}" if self.software else verb]
        if self.timestamp:
            parts.append(f"on {self.timestamp:%Y-%m-%d}")
        return ", ".join(parts) + "; not the original"


def makings(versions: Iterable[Version]) -> dict[int, Making]:
    """``{version id: Making}`` for the derivatives among ``versions`` (one query for all)."""
    derivatives = {v.pk: v for v in versions if v.kind != VersionKind.ORIGINAL}
    links = (
        EventObject.objects.filter(
            version_id__in=list(derivatives), role=EventObject.Role.OUTCOME, event__event_type__in=_MAKING_EVENTS
        )
        .select_related("event")
        .prefetch_related("event__agent_links__agent")
        .order_by("event__timestamp", "event_id")
    )
    found: dict[int, Making] = {}
    for link in links:
        if link.version_id in found:
            continue
        event = link.event
        detail = event.detail or {}
        model, weights, software = detail.get("model"), detail.get("weights_sha256"), None
        for agent_link in event.agent_links.all():
            if agent_link.role == "executing program":
                agent = agent_link.agent
                software = f"{agent.name} {agent.version}".strip()
                model = model or (agent.detail or {}).get("model")
                weights = weights or (agent.detail or {}).get("weights_sha256")
        found[link.version_id] = Making(derivatives[link.version_id].kind, model, weights, software, event.timestamp)
    for pk, version in derivatives.items():
        if pk not in found:  # no recorded event: say at least that it is not the original
            found[pk] = Making(version.kind, None, None, None, version.created_at)
    return found


# --- Stored files -------------------------------------------------------------------------------


@contextmanager
def local_path(version: Version) -> Iterator[Path]:
    """A local path to the version's stored file: the file itself on local storage, else a
    temporary copy (streamed) removed at exit. Raises FileNotFoundError when it is missing."""
    storage = version.file.storage
    try:
        path = storage.path(version.file.name)
    except NotImplementedError:
        path = None
    if path is not None:
        if not os.path.exists(path):
            raise FileNotFoundError(path)
        yield Path(path)
        return
    suffix = Path(version.file.name).suffix
    with tempfile.NamedTemporaryFile(suffix=suffix, dir=settings.FILE_UPLOAD_TEMP_DIR or None) as copy:
        with storage.open(version.file.name, "rb") as source:
            shutil.copyfileobj(source, copy, 1024 * 1024)
        copy.flush()
        yield Path(copy.name)

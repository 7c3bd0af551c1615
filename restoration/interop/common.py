"""What the standard doors into the archive (IIIF, OAI-PMH, BagIt) share: who is asking, what
they may see, absolute URLs, and a local path to a stored file. (The label of a derivative is
``restoration.jobs.labels``; file serving is ``restoration.interop.http``.)

Visibility is the API's: anonymous requests see ``Item.objects.visible_to(AnonymousUser)``
(public items outside any collection or in public collections), accounts with the view
permission (``core.models.can_view_nonpublic``: Curators, Viewers) see everything, other
accounts what anonymous requests see; the versions of an item shown are
``Version.objects.visible_to(user)`` (no rejected or withdrawn derivative, and pending ones only by
setting, except for curators). Requests authenticate with the session cookie (the curator pages) or with an API
token (``Authorization: Token ...``).
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from restoration.core import services
from restoration.core.models import Item, Version

logger = logging.getLogger(__name__)



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


def is_public(item: Item) -> bool:
    return public_items().filter(pk=item.pk).exists()


def public_versions() -> QuerySet[Version]:
    """Versions anonymous visitors (and harvesters) may see: of public items, not hidden by review."""
    return Version.objects.visible_to(AnonymousUser())


def sees_the_public_view(user, item: Item) -> bool:
    """Whether ``user`` sees of ``item`` exactly what the public does (then a response may be
    cached publicly): the item is public and ``user`` is shown the same versions of it."""
    if not user.is_authenticated:
        return True
    if not is_public(item):
        return False
    mine = set(Version.objects.visible_to(user).filter(item=item).values_list("pk", flat=True))
    return mine == set(public_versions().filter(item=item).values_list("pk", flat=True))


def base_url(request: HttpRequest | None) -> str:
    """Scheme and host of absolute URLs: ``ARCHIVE_BASE_URL`` when set, else the request's."""
    configured = (settings.ARCHIVE_BASE_URL or "").rstrip("/")
    if configured or request is None:
        return configured or "http://localhost"
    return request.build_absolute_uri("/").rstrip("/")


# --- Stored files -------------------------------------------------------------------------------


def local_path(version: Version) -> AbstractContextManager[Path]:
    """A local path to the version's stored file (``core.services.local_file``): the file itself on
    local storage, else a temporary copy removed at exit. Raises FileNotFoundError when missing."""
    return services.local_file(version.file)

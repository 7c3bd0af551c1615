"""What the item page's viewer opens on, and what its script (``static/restoration/viewer.js``,
on OpenSeadragon) is given: each version's IIIF Image service, size, labels, and for a restored
version the damage mask stored beside it.

The viewer opens on the item's preferred version: a preferred derivative is compared with the
original; a preferred original is shown alone (the page offers the derivatives to compare). A
derivative whose review status is "rejected" or "withdrawn" is never opened on by default.
Damage masks are companions, not results: never compared, only overlaid.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.urls import get_script_prefix, reverse

from restoration.core.models import EventObject, Item, Version, VersionKind

from .display import ShownVersion

# Review statuses (see the review of derivatives) the viewer never opens on by itself. Read with
# getattr: versions without a review status open as before.
NOT_OPENED_ON = ("rejected", "withdrawn")


def comparable(versions: Iterable[ShownVersion]) -> list[ShownVersion]:
    """The derivatives the viewer can set against the original (every one but damage masks)."""
    return [s for s in versions if not s.version.is_original and s.version.kind != VersionKind.DAMAGE_MASK]


def opening(derivatives: list[ShownVersion], asked: str | None) -> ShownVersion | None:
    """The derivative to compare with: the one asked for (``?compare=``) when it is among
    ``derivatives``; else the preferred one, unless it was rejected or withdrawn; else None (the
    preferred version is the original: it is shown alone)."""
    if asked and asked.isdigit():
        for shown in derivatives:
            if shown.version.pk == int(asked):
                return shown
    return next(
        (s for s in derivatives
         if s.version.is_preferred and getattr(s.version, "review_status", None) not in NOT_OPENED_ON),
        None,
    )


def damage_masks(versions: Iterable[ShownVersion]) -> dict[int, Version]:
    """``{restored version id: its damage mask}``: each mask's making event names the result it
    accompanies (``companion_of``, written by the worker)."""
    masks = {s.version.pk: s.version for s in versions if s.version.kind == VersionKind.DAMAGE_MASK}
    if not masks:
        return {}
    links = EventObject.objects.filter(
        version_id__in=list(masks), role=EventObject.Role.OUTCOME, event__event_type="modification",
    ).select_related("event")
    found: dict[int, Version] = {}
    for link in links:
        result = (link.event.detail or {}).get("companion_of")
        if isinstance(result, int):
            found.setdefault(result, masks[link.version_id])
    return found


def _iiif_info(version: Version) -> str:
    return f"{get_script_prefix()}iiif/3/{version.pk}/info.json"


def alt_text(item: Item, shown: ShownVersion) -> str:
    """The text alternative of a version in the viewer."""
    name = item.title or item.identifier
    if shown.version.is_original:
        return f"Original scan of {name}"
    return f"{shown.version.get_kind_display()} version of {name}. {shown.ai_label}"


def config(item: Item, versions: list[ShownVersion], compare: ShownVersion | None) -> dict[str, Any]:
    """What viewer.js needs: the original, the derivative opened on, and per version its size,
    IIIF info.json, access copy (the fallback when the service does not answer), labels, and
    its damage mask when it has one."""
    masks = damage_masks(versions)
    original = next((s for s in versions if s.version.is_original), None)
    return {
        "original": original.version.pk if original else None,
        "compare": compare.version.pk if compare else None,
        "versions": {
            str(shown.version.pk): {
                "id": shown.version.pk,
                "kind": shown.version.get_kind_display(),
                "width": shown.version.width,
                "height": shown.version.height,
                "access": reverse("version-access", args=[shown.version.pk]) if shown.version.access_file else None,
                "iiif": _iiif_info(shown.version),
                "label": shown.ai_label,
                "alt": alt_text(item, shown),
                "mask": ({"id": masks[shown.version.pk].pk, "iiif": _iiif_info(masks[shown.version.pk])}
                         if shown.version.pk in masks else None),
            }
            for shown in versions
        },
    }

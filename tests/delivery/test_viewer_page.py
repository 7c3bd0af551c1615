"""The item page's viewer, server side: which version it opens on, and the damage mask it is
given (restoration/delivery/pages/viewer.py). The browser tests (tests/delivery/browser/
test_browser_viewer.py) drive it in Chromium."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.urls import reverse

from restoration.core import services
from restoration.delivery.pages import display, viewer
from restoration.models import VersionKind
from tests.delivery import test_pages
from tests.delivery.test_pages import add_restored
from tests.support import image_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def archive(ingest_item, public_collection, private_collection, curator):
    """The item pages' archive (tests/delivery/test_pages.py): pub-1 has a restored version."""
    return test_pages.archive.__wrapped__(ingest_item, public_collection, private_collection, curator)


def add_mask(restored, *, user=None, data: bytes | None = None):
    """A damage mask recorded as the worker records a companion (``companion_of`` the result),
    then accepted by a curator (pending derivatives are for staff only)."""
    mask = services.add_derivative(
        restored.parent, io.BytesIO(data or image_bytes(size=(24, 16))), kind=VersionKind.DAMAGE_MASK,
        filename=f"{restored.item.identifier}-damage-mask.png", user=user, also_from=[restored],
        software={"name": "gan_engine", "version": "0.1.0", "model": "m", "weights_sha256": "0" * 64},
        detail={"task": "restore", "companion": "damage_mask", "companion_of": restored.pk},
    )
    if user is not None:
        services.review_version(mask, "accepted", user=user)
    return mask


def config_of(body: str) -> dict:
    return json.loads(re.search(r'<script id="viewer-config" type="application/json">(.*?)</script>', body, re.DOTALL).group(1))


def page(client, identifier: str, **query) -> str:
    return client.get(reverse("pages:item", args=[identifier]), query).content.decode()


def test_the_viewer_opens_on_the_preferred_derivative(client, archive, curator):
    newer = add_restored(archive["harbour"], kind="colorized", user=curator)
    services.set_preferred_version(archive["restored"], user=curator)  # older than `newer`
    config = config_of(page(client, "pub-1"))
    assert config["compare"] == archive["restored"].pk != newer.pk


def test_a_preferred_original_is_shown_alone_with_the_derivatives_offered(client, archive):
    body = page(client, "pub-1")
    config = config_of(body)
    assert archive["harbour"].is_preferred and config["compare"] is None
    assert 'data-mode="single"' in body and "nothing (the original alone)" in body
    assert f'<option value="{archive["restored"].pk}"' in body  # still offered for comparison


def test_a_rejected_or_withdrawn_preferred_derivative_is_never_opened_on(archive, curator):
    services.set_preferred_version(archive["restored"], user=curator)
    derivatives = viewer.comparable(display.shown_versions(archive["harbour"].item, curator))
    assert viewer.opening(derivatives, None).version.pk == archive["restored"].pk
    for status in ("rejected", "withdrawn"):
        derivatives[0].version.review_status = status  # the review's field, when it is there
        assert viewer.opening(derivatives, None) is None
    derivatives[0].version.review_status = "accepted"
    assert viewer.opening(derivatives, None).version.pk == archive["restored"].pk


def test_a_restored_version_carries_its_damage_mask_and_the_mask_is_not_compared(client, archive, curator):
    restored = archive["restored"]
    mask = add_mask(restored, user=curator)
    body = page(client, "pub-1", compare=restored.pk)
    config = config_of(body)
    assert config["compare"] == restored.pk
    assert config["versions"][str(restored.pk)]["mask"] == {"id": mask.pk, "iiif": f"/iiif/3/{mask.pk}/info.json"}
    assert config["versions"][str(archive["harbour"].pk)]["mask"] is None
    assert 'id="viewer-mask"' in body
    assert f'<option value="{mask.pk}"' not in body and f"?compare={mask.pk}" not in body
    assert config_of(page(client, "pub-1", compare=mask.pk))["compare"] is None  # a mask is overlaid, never compared
    # The mask is served by the IIIF image service like any version of the item.
    assert client.get(f"/iiif/3/{mask.pk}/info.json").status_code == 200

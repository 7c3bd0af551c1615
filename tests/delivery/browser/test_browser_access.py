"""What a visitor sees in a real headless Chromium (see conftest.py): the "AI" marker drawn on a
grid cover made by a model, and an item page whose provenance names no login and no worker host.
"""

from __future__ import annotations

import pytest

from restoration.core import services
from restoration.models import Collection
from tests.delivery.test_pages import MODEL, add_restored

from .test_browser_pages import ingest, made_up_photo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_a_visitor_sees_the_ai_marker_on_the_cover_and_no_login_in_the_provenance(pages, curator):
    public = Collection.objects.create(name="Harbour prints", slug="harbour-prints", is_public=True)
    shown = ingest(made_up_photo(), "HP-001", collection=public, user=curator, title="Harbour at dawn", is_public=True)
    restored = add_restored(shown, user=curator, data=made_up_photo(seed=10))
    services.set_preferred_version(restored, user=curator)
    ingest(made_up_photo(seed=8), "HP-002", collection=public, user=curator, title="Market square", is_public=True)

    page = pages.open("/collections/harbour-prints/")

    markers = page.locator(".item-card .ai-marker")
    assert markers.count() == 1 and markers.first.is_visible()
    assert markers.first.get_attribute("title") == f"Preferred version made by model {MODEL}"
    badge = markers.first.bounding_box()
    thumb = page.locator(".item-card", has_text="Harbour at dawn").locator(".thumb").bounding_box()
    assert badge["width"] > 10 and badge["height"] > 10  # drawn, not collapsed
    assert thumb["x"] <= badge["x"] and badge["x"] + badge["width"] <= thumb["x"] + thumb["width"]
    assert thumb["y"] <= badge["y"] and badge["y"] + badge["height"] <= thumb["y"] + thumb["height"]
    assert page.locator(".item-card", has_text="Market square").locator(".ai-marker").count() == 0

    page.goto("/items/HP-001/")
    provenance = page.inner_text(".provenance")
    assert "Archive staff" in provenance and "curator" not in provenance
    assert "curator" not in page.inner_text(".versions")
    assert page.locator(".versions .ai-marker").first.is_visible()
    assert not pages.errors

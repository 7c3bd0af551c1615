"""Review from the item page in a real headless Chromium (see conftest.py): a curator rejects a
derivative with a reason from its version card, and it is then gone for an anonymous visitor
(the page, its viewer, the API and the IIIF image service), while the curator still sees it."""

from __future__ import annotations

import pytest

from restoration.models import Collection, EventType, ProvenanceEvent, Version
from tests.delivery.test_pages import add_restored

from .test_browser_pages import ingest, log_in, made_up_photo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_a_curator_rejects_a_derivative_which_then_disappears_for_visitors(pages, curator, screenshot_dir):
    collection = Collection.objects.create(name="Harbour prints", slug="harbour-prints", is_public=True)
    original = ingest(made_up_photo(), "HP-010", collection=collection, user=curator, title="Quay", is_public=True)
    bad = add_restored(original, kind="colorized", user=curator, data=made_up_photo(seed=21), model="garish-model")
    kept = add_restored(original, user=curator, data=made_up_photo(seed=22))

    visitor = pages.open("/items/HP-010/")
    assert visitor.locator(f"#version-{bad.pk}").count() == 1  # accepted: everyone sees it
    assert visitor.locator(".review-form").count() == 0 and visitor.locator("#notes").count() == 0

    page = pages.open("/accounts/login/")
    log_in(page, "curator", "curator-pass-1234")
    page.wait_for_url("**/")
    page.goto("/items/HP-010/")
    card = page.locator(f"#version-{bad.pk}")
    card.locator("select").select_option("rejected")
    card.locator("input[name$='-reason']").fill("Garish magenta sky, faces smeared")
    card.get_by_role("button", name="Save review").click()
    page.wait_for_url(f"**/items/HP-010/#version-{bad.pk}")

    card = page.locator(f"#version-{bad.pk}")
    assert "Rejected" in card.inner_text() and "shown to curators only" in card.inner_text()
    assert "Garish magenta sky, faces smeared" in card.inner_text()
    assert "now rejected" in page.inner_text(".messages")
    card.screenshot(path=str(screenshot_dir / "review_card.png"))
    assert Version.objects.get(pk=bad.pk).review_status == "rejected"
    reviews = ProvenanceEvent.objects.filter(event_type=EventType.VALIDATION, object_links__version=bad)
    assert [e.detail["review_status"]["new"] for e in reviews.order_by("timestamp", "id")] == ["accepted", "rejected"]

    visitor = pages.open("/items/HP-010/")
    assert visitor.locator(f"#version-{bad.pk}").count() == 0
    assert visitor.locator(f"#version-{kept.pk}").count() == 1
    assert visitor.locator(f"[data-version='{bad.pk}']").count() == 0  # nor in the viewer
    assert "garish-model" not in visitor.content() and "magenta" not in visitor.content()
    assert visitor.goto(f"/items/HP-010/?compare={bad.pk}").status == 200
    assert visitor.locator(f"[data-version='{bad.pk}']").count() == 0
    assert visitor.goto(f"/api/versions/{bad.pk}/").status == 404
    assert visitor.goto(f"/api/versions/{bad.pk}/access/").status == 404
    assert visitor.goto(f"/iiif/3/{bad.pk}/info.json").status == 404

    page.goto("/items/HP-010/")
    assert page.locator(f"#version-{bad.pk}").count() == 1  # stored, and shown to curators
    assert pages.errors == []

"""The pages in a real headless Chromium (see conftest.py): a visitor, and a curator who queues a
restoration that a real django-q2 worker runs.

The curator's test starts ``manage.py qcluster`` on the test database as the worker tests do
(``tests/test_jobs_worker.py``: the live server and the worker share the SQLite file or the
PostgreSQL test database), with the shipped restore weights when they are there (else the tiny
test checkpoint). Its image is a real old photograph from ``../shared/data/real/old/`` when
that folder exists, else a made-up one; with ``SAVE_SCREENSHOTS=1`` its screenshots of the
item page at desktop and phone width are written to ``docs/screenshots/``.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

from restoration.core import services
from restoration.models import Collection, JobStatus, RestorationJob, Version
from tests.delivery.test_pages import add_restored

from .conftest import DESKTOP, PHONE, ROOT

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SHIPPED_WEIGHTS = ROOT / "gan_engine" / "weights" / "restore.safetensors"
REAL_PHOTO = ROOT.parent / "shared" / "data" / "real" / "old" / "g.png"
TILE_REQUEST = re.compile(r"/iiif/3/\d+/\d+,\d+,\d+,\d+/\d+,\d*/0/default\.jpg$")


def made_up_photo(size: tuple[int, int] = (640, 480), seed: int = 7) -> bytes:
    """A sepia-ish picture with shapes and grain: something to look at when no real photo is there."""
    width, height = size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    tone = 0.55 + 0.25 * np.sin(x / 37.0) * np.cos(y / 53.0)
    for cx, cy, r in ((0.3, 0.45, 0.18), (0.68, 0.55, 0.24)):
        tone += 0.25 * (((x - cx * width) ** 2 + (y - cy * height) ** 2) < (r * height) ** 2)
    tone = np.clip(tone + rng.normal(0, 0.06, tone.shape), 0, 1)
    rgb = np.stack([tone * 0.95, tone * 0.8, tone * 0.6], axis=-1)
    buffer = io.BytesIO()
    Image.fromarray((rgb * 255).astype(np.uint8), "RGB").save(buffer, "PNG")
    return buffer.getvalue()


def ingest(data: bytes, identifier: str, *, collection, user, filename: str | None = None, **metadata) -> Version:
    return services.ingest_upload(
        io.BytesIO(data), filename=filename or f"{identifier}.png", metadata={"identifier": identifier, **metadata},
        collection=collection, user=user, route="cli",
    )


def divider_state(page) -> tuple[int, float]:
    """(aria-valuenow, the left inset in % of the derivative's clip)."""
    value = int(page.get_attribute("#viewer-divider", "aria-valuenow"))
    clip = page.eval_on_selector(".viewer-after", "pane => pane.style.clipPath")
    inset = float(re.search(r"inset\(0(?:px)? 0(?:px)? 0(?:px)? ([\d.]+)%\)", clip).group(1))
    return value, inset


def canvas_painted(page, name: str) -> bool:
    """Whether the pane's viewer (``window.itemViewer[name]``, OpenSeadragon) has drawn opaque
    pixels at its centre, once its image is loaded."""
    page.wait_for_function(
        "name => { const v = window.itemViewer && window.itemViewer[name];"
        " return v && v.world.getItemCount() === 1 && v.world.getItemAt(0).getFullyLoaded(); }", arg=name)
    return page.evaluate(
        "name => { const c = window.itemViewer[name].drawer.canvas;"
        " return c.getContext('2d').getImageData(c.width >> 1, c.height >> 1, 1, 1).data[3] > 0; }", name)


def wait_until_iiif_known(page) -> dict[str, str]:
    page.wait_for_function(
        "() => [...document.querySelectorAll('.viewer-pane')].every(p => p.dataset.iiif)"
    )
    return page.eval_on_selector_all(".viewer-pane", "panes => Object.fromEntries(panes.map(p => [p.dataset.version, p.dataset.iiif]))")


def log_in(page, username: str, password: str) -> None:
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("form.login-form button[type=submit]")


# --- A visitor ---------------------------------------------------------------------------------------


def test_a_visitor_sees_public_items_only_and_no_controls(pages, curator, settings, archive_dirs):
    settings.ARCHIVE_ACCESS_SIZE = 160  # a small access copy: zooming in asks the IIIF service for tiles
    public = Collection.objects.create(name="Harbour prints", slug="harbour-prints", is_public=True)
    private = Collection.objects.create(name="Family album", slug="family-album", is_public=False)
    shown = ingest(made_up_photo(), "HP-001", collection=public, user=curator, title="Harbour at dawn", is_public=True)
    services.set_preferred_version(add_restored(shown, user=curator, data=made_up_photo(seed=10)), user=curator)
    ingest(made_up_photo(seed=8), "HP-002", collection=public, user=curator, title="Secret quay", is_public=False)
    ingest(made_up_photo(seed=9), "FA-001", collection=private, user=curator, title="Picnic", is_public=True)

    page = pages.open("/")
    assert page.is_visible("text=Harbour prints") and not page.is_visible("text=Family album")
    page.click("text=Harbour prints")
    page.wait_for_url("**/collections/harbour-prints/")
    assert page.locator(".item-card").count() == 1 and "Secret quay" not in page.content()
    assert page.eval_on_selector_all("img", "imgs => imgs.every(i => i.alt.trim().length > 0)")

    assert page.goto("/items/HP-002/").status == 404  # hidden, not forbidden: its existence does not leak
    assert page.goto("/items/FA-001/").status == 404
    assert page.goto("/collections/family-album/").status == 404

    tiles: list[str] = []
    page.on("request", lambda request: TILE_REQUEST.search(request.url) and tiles.append(request.url))
    page.goto("/items/HP-001/")
    assert page.locator("#queue-form").count() == 0 and page.locator("#jobs").count() == 0
    assert "not the original" in page.inner_text("#viewer-ai-label")
    assert canvas_painted(page, "before") and canvas_painted(page, "after")
    assert page.eval_on_selector_all(  # each image has its text alternative
        ".openseadragon-canvas", "cs => cs.length === 2 && cs.every(c => c.getAttribute('aria-label'))"
    )

    # The divider by keyboard only.
    page.focus("#viewer-divider")
    page.keyboard.press("ArrowRight")
    assert divider_state(page) == (51, 51.0)
    page.keyboard.press("Home")
    assert divider_state(page) == (0, 0.0)
    page.keyboard.press("End")
    assert divider_state(page) == (100, 100.0)
    page.keyboard.press("PageDown")
    assert divider_state(page) == (90, 90.0)

    # Zoom; with the IIIF service there, tiles (the access copies are small) on both panes.
    services_found = wait_until_iiif_known(page)
    page.click("[data-zoom=in]")
    page.wait_for_function("() => Number(document.getElementById('viewer-stage').dataset.zoom) > 1.4")
    assert set(services_found.values()) == {"available"}
    page.wait_for_function("() => ['before', 'after'].every(n => window.itemViewer[n].world.getItemAt(0).getFullyLoaded())")
    assert {re.search(r"/iiif/3/(\d+)/", url).group(1) for url in tiles} == set(services_found)
    page.click("[data-zoom=fit]")
    page.wait_for_function("() => Number(document.getElementById('viewer-stage').dataset.zoom) === 1")

    phone = pages.open("/items/HP-001/", viewport=PHONE, touch=True)
    assert phone.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    assert phone.locator("#viewer-divider").is_visible()
    assert pages.errors == []


# --- A curator ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_curator_compares_queues_a_restoration_and_watches_it_finish(
    pages, curator, gan_settings, settings, start_cluster, screenshot_dir
):
    if SHIPPED_WEIGHTS.is_file():
        settings.GAN_WEIGHTS = {**settings.GAN_WEIGHTS, "restore": SHIPPED_WEIGHTS}
    settings.GAN_TILE = 256
    collection = Collection.objects.create(
        name="Autochromes", slug="autochromes", is_public=True,
        description="Colour glass plates, 1907-1930.",
    )
    photo = REAL_PHOTO.read_bytes() if REAL_PHOTO.is_file() else made_up_photo()
    original = ingest(
        photo, "AUT-0007", collection=collection, user=curator, filename="AUT-0007.png",
        title="Girl with a wreath of roses", creator="Unknown photographer", date="ca. 1910",
        description="Autochrome plate, faded; colour cast towards green.", subject="Portraits; Flowers",
        rights="Public domain", is_public=True,
    )
    cluster = start_cluster()

    page = pages.open("/accounts/login/?next=/items/AUT-0007/")
    log_in(page, "curator", "curator-pass-1234")
    page.wait_for_url("**/items/AUT-0007/")
    assert page.locator("#viewer-divider").count() == 0  # nothing to compare yet
    assert "no jobs yet" in page.inner_text("#jobs").lower()

    # Queue a restoration; follow it without reloading.
    page.evaluate("""() => {
        window.__samePage = true;
        window.__statuses = [];
        new MutationObserver(() => document.querySelectorAll('#job-list li.job')
            .forEach(li => window.__statuses.push(li.dataset.status)))
            .observe(document.getElementById('job-list'), {subtree: true, attributes: true, childList: true});
    }""")
    assert page.input_value("#id_task") == "restore"
    page.click("#queue-form button[type=submit]")
    page.wait_for_selector("#job-list li.job")
    assert "queued" in page.inner_text("#queue-message").lower()
    page.wait_for_selector("#job-list li.job-succeeded, #job-list li.job-failed", timeout=240_000)
    job = RestorationJob.objects.get()
    assert job.status == JobStatus.SUCCEEDED, (job.error, cluster.output())
    assert page.evaluate("() => window.__samePage === true")  # updated in place, never reloaded
    statuses = page.evaluate("() => window.__statuses")
    assert statuses[-1] == "succeeded" and set(statuses) & {"queued", "running"}
    assert page.get_attribute("#job-list li.job progress", "value") == "1"

    # The result, against the original.
    page.click("#job-list li.job-succeeded .job-result")
    page.wait_for_selector("#viewer-divider")
    assert f"compare={job.result_version_id}" in page.url
    label = page.inner_text("#viewer-ai-label")
    assert label.startswith(f"Restored by model {job.model_name}, weights {job.weights_sha256[:12]}…, on ")
    assert label.endswith("; not the original")
    wait_until_iiif_known(page)
    assert canvas_painted(page, "before") and canvas_painted(page, "after")

    # Drag the divider with the mouse.
    stage = page.locator("#viewer-stage").bounding_box()
    handle = page.locator("#viewer-divider .divider-handle").bounding_box()
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(stage["x"] + stage["width"] * 0.3, handle["y"] + handle["height"] / 2, steps=8)
    page.mouse.up()
    value, inset = divider_state(page)
    assert value == 30 and abs(inset - 30) < 0.5
    assert page.evaluate("() => document.activeElement.id") == "viewer-divider"

    # And with the keyboard.
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    assert divider_state(page)[0] == 35
    page.keyboard.press("Home")
    assert divider_state(page) == (0, 0.0)
    page.keyboard.press("End")
    assert divider_state(page) == (100, 100.0)

    # Side by side, then back.
    page.check("input[name=viewer-mode][value=side]")
    assert page.get_attribute("#viewer-stage", "data-mode") == "side"
    assert not page.locator("#viewer-divider").is_visible()
    page.check("input[name=viewer-mode][value=slider]")
    page.focus("#viewer-divider")
    page.keyboard.press("Home")
    for _ in range(5):
        page.keyboard.press("PageUp")
    assert divider_state(page) == (50, 50.0)

    # Zoom in and out by the wheel; both panes stay in register (tests/delivery/browser/test_browser_viewer.py).
    box = page.locator("#viewer-stage").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.4)
    page.mouse.wheel(0, -400)  # one notch: x1.25 (OpenSeadragon's zoomPerScroll here)
    page.wait_for_function("() => Number(document.getElementById('viewer-stage').dataset.zoom) > 1.2")
    page.click("[data-zoom=fit]")
    page.wait_for_function("() => Number(document.getElementById('viewer-stage').dataset.zoom) === 1")

    # Screenshots: desktop (from the title down to the label under the viewer), then phone width.
    page.evaluate("() => window.scrollTo(0, document.querySelector('main .breadcrumbs').offsetTop - 8)")
    page.wait_for_timeout(300)
    page.screenshot(path=str(screenshot_dir / "item_desktop.png"))
    page.set_viewport_size(PHONE)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.wait_for_timeout(300)
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    # The view resized with the window: still no smaller than the image fits.
    page.wait_for_function("() => Number(document.getElementById('viewer-stage').dataset.zoom) >= 1")
    page.screenshot(path=str(screenshot_dir / "item_phone.png"))
    for name in ("item_desktop.png", "item_phone.png"):
        with Image.open(screenshot_dir / name) as shot:
            assert shot.size == ((DESKTOP if "desktop" in name else PHONE)["width"],
                                 (DESKTOP if "desktop" in name else PHONE)["height"])
    assert Version.objects.get(pk=original.pk).sha256 == original.sha256
    assert pages.errors == []

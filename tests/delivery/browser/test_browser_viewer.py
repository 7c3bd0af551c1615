"""The item page's viewer (OpenSeadragon) in a real headless Chromium (see conftest.py): zoom in
three steps keeps the image filling the centre and both panes in register, before/after and side
by side, at 1366x900 and 1920x1080; it opens on the preferred derivative; the damage mask toggle
overlays the mask stored beside a restored version.

The viewers are reached through ``window.itemViewer`` (``before``, ``after``, ``mask``: the
OpenSeadragon viewers; viewer.js sets it).
"""

from __future__ import annotations

import io

import numpy as np
from playwright.sync_api import TimeoutError as PlaywrightTimeout
import pytest
from PIL import Image

from restoration.core import services
from restoration.models import Collection, VersionKind
from tests.delivery.test_pages import add_restored

from .test_browser_pages import ingest, made_up_photo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SCREENS = [{"width": 1366, "height": 900}, {"width": 1920, "height": 1080}]
SIZE = (1600, 1200)  # large enough that three zoom steps stay under OpenSeadragon's maximum zoom
BACKGROUND = (43, 43, 46)  # the stage's colour (#2b2b2e), where no image is drawn

# --- What the page's viewers say ------------------------------------------------------------------

OPENED = """names => names.every(name => {
    const v = window.itemViewer && window.itemViewer[name];
    return v && v.world.getItemCount() === 1 && v.world.getItemAt(0).getFullyLoaded();
})"""
SETTLED = """names => names.every(name => {
    const vp = window.itemViewer[name].viewport;
    return Math.abs(vp.getZoom(true) - vp.getZoom()) < 1e-9
        && vp.getCenter(true).distanceTo(vp.getCenter()) < 1e-9;
}) && names.every(name => window.itemViewer[name].world.getItemAt(0).getFullyLoaded())"""
BOUNDS = "name => { const b = window.itemViewer[name].viewport.getBounds(true); return [b.x, b.y, b.width, b.height]; }"
CENTRE_PIXEL = """name => {
    const c = window.itemViewer[name].drawer.canvas;
    return Array.from(c.getContext('2d').getImageData(c.width >> 1, c.height >> 1, 1, 1).data);
}"""
IMAGE_CENTRE = """name => {
    const v = window.itemViewer[name], size = v.world.getItemAt(0).getContentSize();
    const c = v.viewport.getCenter(true);
    return {x: c.x, y: c.y, aspect: size.y / size.x};
}"""


STEADY_ZOOM = """name => {
    const zoom = window.itemViewer[name].viewport.getZoom(true);
    const seen = window.__steadyZoom && window.__steadyZoom.name === name
        ? window.__steadyZoom : (window.__steadyZoom = {name, zoom: null, frames: 0});
    if (seen.zoom === zoom) seen.frames += 1; else { seen.zoom = zoom; seen.frames = 0; }
    return seen.frames >= 30;
}"""


def settle(page, *names: str) -> None:
    page.wait_for_function(SETTLED, arg=list(names))


IN_REGISTER = """names => {
    const all = names.map(name => window.itemViewer[name].viewport.getBounds(true));
    return all.every(b => ['x', 'y', 'width', 'height'].every(
        k => Math.abs(b[k] - all[0][k]) <= 1e-4 * all[0].width));
}"""


def assert_in_register(page, *names: str) -> list[float]:
    # The followers copy the leader's view in the leader's frame, and a new layout (side by side)
    # reaches each pane at its own next resize check; on a loaded machine (CI on 2 cores) that
    # took longer than 5 s once, so wait (bounded, 15 s) for the register, then check it: panes
    # that never come back into register still fail here.
    try:
        page.wait_for_function(IN_REGISTER, arg=list(names), timeout=15000)
    except PlaywrightTimeout:
        pass  # the assertion below reports the bounds
    first, *others = [page.evaluate(BOUNDS, name) for name in names]
    for bounds in others:
        assert np.allclose(bounds, first, atol=1e-4 * first[2], rtol=0), (names, first, bounds)
    return first


def assert_fills_the_centre(page, *names: str) -> None:
    for name in names:
        centre = page.evaluate(IMAGE_CENTRE, name)
        # Zoomed about the middle: the view's centre is the image's (world: width 1, height aspect).
        assert abs(centre["x"] - 0.5) < 1e-3 and abs(centre["y"] - centre["aspect"] / 2) < 1e-3, centre
        red, green, blue, alpha = page.evaluate(CENTRE_PIXEL, name)
        assert alpha == 255 and (red, green, blue) != BACKGROUND, (name, red, green, blue, alpha)


def zoom_in_three_steps(page) -> None:
    for _ in range(3):
        page.click("[data-zoom=in]")
    page.wait_for_function("() => Number(document.getElementById('viewer-stage').dataset.zoom) > 3.3")


@pytest.fixture
def restored_item(curator, settings, archive_dirs):
    """A public item (1600 x 1200) with a preferred restored version."""
    settings.ARCHIVE_ACCESS_SIZE = 320  # small access copies: the viewers must read the IIIF tiles
    collection = Collection.objects.create(name="Harbour prints", slug="harbour-prints", is_public=True)
    original = ingest(made_up_photo(SIZE), "HP-001", collection=collection, user=curator, title="Harbour at dawn",
                      is_public=True)
    restored = add_restored(original, user=curator, data=made_up_photo(SIZE, seed=10))
    services.set_preferred_version(restored, user=curator)
    return original, restored


# --- Zoom and register ----------------------------------------------------------------------------


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: f"{s['width']}x{s['height']}")
def test_three_zoom_steps_keep_the_image_in_the_centre_and_both_panes_in_register(pages, restored_item, screen):
    page = pages.open("/items/HP-001/", viewport=screen)
    page.wait_for_function(OPENED, arg=["before", "after"])
    assert page.get_attribute("#viewer-stage", "data-mode") == "slider"
    home = assert_in_register(page, "before", "after")

    # Before/after: three steps by the buttons.
    zoom_in_three_steps(page)
    settle(page, "before", "after")
    bounds = assert_in_register(page, "before", "after")
    assert bounds[2] == pytest.approx(home[2] / 1.5 ** 3, rel=1e-3)  # three steps of x1.5
    assert_fills_the_centre(page, "before", "after")
    assert page.inner_text("#viewer-zoom-level") == "×3.4"

    # Keyboard on the divider: one more step and back, still in register.
    page.focus("#viewer-divider")
    page.keyboard.press("+")
    page.wait_for_function("() => Number(document.getElementById('viewer-stage').dataset.zoom) > 5")
    page.keyboard.press("-")
    page.wait_for_function("() => Number(document.getElementById('viewer-stage').dataset.zoom) < 3.5")
    settle(page, "before", "after")
    assert_in_register(page, "before", "after")

    # The wheel over the divider zooms too (it lies over the image).
    handle = page.locator("#viewer-divider").bounding_box()
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] * 0.3)
    page.mouse.wheel(0, 200)
    page.wait_for_function("() => Number(document.getElementById('viewer-stage').dataset.zoom) < 3")
    settle(page, "before", "after")
    page.click("[data-zoom=fit]")
    zoom_in_three_steps(page)
    settle(page, "before", "after")
    assert_in_register(page, "before", "after")

    # Pan by dragging the image (the derivative's side of the divider): both follow.
    box = page.locator("#viewer-stage").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.4, steps=6)
    page.mouse.up()
    settle(page, "before", "after")
    moved = assert_in_register(page, "before", "after")
    assert moved[0] > bounds[0] and moved[1] > bounds[1], (bounds, moved)  # dragged left and up: the view moved right and down

    # Side by side: fit, three steps again; then a key on the image itself, and the wheel.
    page.check("input[name=viewer-mode][value=side]")
    assert page.get_attribute("#viewer-stage", "data-mode") == "side"
    assert not page.locator("#viewer-divider").is_visible()
    page.click("[data-zoom=fit]")
    page.wait_for_function("() => Number(document.getElementById('viewer-stage').dataset.zoom) === 1")
    settle(page, "before", "after")
    zoom_in_three_steps(page)
    settle(page, "before", "after")
    assert_in_register(page, "before", "after")
    assert_fills_the_centre(page, "before", "after")
    page.focus("#viewer-osd-after .openseadragon-canvas")
    page.keyboard.press("Minus")  # OpenSeadragon's own keys, on the derivative
    page.wait_for_function("() => Number(document.getElementById('viewer-stage').dataset.zoom) < 3.3")
    # OpenSeadragon 6 zooms by key for several frames after the key is released (immediate steps,
    # so "settled" holds all along): wait until the zoom stops changing before the wheel.
    page.wait_for_function(STEADY_ZOOM, arg="after", polling="raf")
    assert_in_register(page, "before", "after")
    after = page.locator(".viewer-after").bounding_box()
    page.mouse.move(after["x"] + after["width"] * 0.5, after["y"] + after["height"] * 0.5)
    page.mouse.wheel(0, -300)
    settle(page, "before", "after")
    assert_in_register(page, "before", "after")
    assert pages.errors == []


def test_the_viewer_reads_the_iiif_service(pages, restored_item):
    original, restored = restored_item
    tiles: list[str] = []
    page = pages.open("/items/HP-001/", viewport=SCREENS[0])
    page.on("request", lambda request: "/iiif/3/" in request.url and tiles.append(request.url))
    page.wait_for_function(OPENED, arg=["before", "after"])
    zoom_in_three_steps(page)
    settle(page, "before", "after")
    cut = {url.split("/iiif/3/")[1].split("/")[0] for url in tiles if url.endswith("/default.jpg")}
    assert cut == {str(original.pk), str(restored.pk)}  # tiles of both versions, from the archive's service
    assert page.get_attribute(".viewer-before", "data-iiif") == "available"
    assert page.get_attribute(".viewer-after", "data-iiif") == "available"


# --- What it opens on ------------------------------------------------------------------------------


def test_it_opens_on_the_preferred_derivative_and_a_preferred_original_alone(pages, restored_item, curator):
    original, restored = restored_item
    newer = add_restored(original, kind="colorized", user=curator, data=made_up_photo(SIZE, seed=11))
    page = pages.open("/items/HP-001/", viewport=SCREENS[0])
    page.wait_for_function(OPENED, arg=["before", "after"])
    assert page.get_attribute(".viewer-after", "data-opened") == str(restored.pk) != str(newer.pk)
    source = page.evaluate("() => { const s = window.itemViewer.after.world.getItemAt(0).source; return s.id || s['@id']; }")
    assert source.endswith(f"/iiif/3/{restored.pk}")

    services.set_preferred_version(original, user=curator)
    page = pages.open("/items/HP-001/", viewport=SCREENS[0])
    page.wait_for_function(OPENED, arg=["before"])
    assert page.get_attribute("#viewer-stage", "data-mode") == "single"
    assert page.evaluate("() => window.itemViewer.after === null")
    assert not page.locator("#viewer-divider").is_visible() and not page.locator("#viewer-modes").is_visible()
    # Choosing a derivative compares it, in register with the original.
    page.select_option("#viewer-compare", str(newer.pk))
    page.wait_for_function(OPENED, arg=["before", "after"])
    assert page.get_attribute("#viewer-stage", "data-mode") == "slider" and f"compare={newer.pk}" in page.url
    settle(page, "before", "after")
    assert_in_register(page, "before", "after")
    assert "not the original" in page.inner_text("#viewer-ai-label")
    assert pages.errors == []


# --- The damage mask -------------------------------------------------------------------------------


def _mask_png(size: tuple[int, int]) -> bytes:
    """A mask with its right half repainted (255), as restore's damage stage writes them."""
    width, height = size
    pixels = np.zeros((height, width), np.uint8)
    pixels[:, width // 2:] = 255
    buffer = io.BytesIO()
    Image.fromarray(pixels, "L").save(buffer, "PNG")
    return buffer.getvalue()


def _pixel(page, x: float, y: float) -> np.ndarray:
    box = page.locator("#viewer-stage").bounding_box()
    shot = page.screenshot(clip={"x": box["x"] + box["width"] * x, "y": box["y"] + box["height"] * y,
                                 "width": 4, "height": 4})
    with Image.open(io.BytesIO(shot)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float64).reshape(-1, 3).mean(axis=0)


def test_the_mask_toggle_overlays_the_damage_mask_of_a_restored_version(pages, restored_item, curator, screenshot_dir):
    original, restored = restored_item
    mask = services.add_derivative(
        original, io.BytesIO(_mask_png(SIZE)), kind=VersionKind.DAMAGE_MASK, filename="HP-001-damage-mask.png",
        user=curator, also_from=[restored],
        software={"name": "gan_engine", "version": "0.1.0", "model": "m", "weights_sha256": "0" * 64},
        detail={"task": "restore", "companion": "damage_mask", "companion_of": restored.pk},
    )
    services.review_version(mask, "accepted", user=curator)  # a pending one is for staff only
    page = pages.open("/items/HP-001/", viewport=SCREENS[0])
    page.wait_for_function(OPENED, arg=["before", "after"])
    assert page.locator("#viewer-mask-toggle").is_visible()
    page.focus("#viewer-divider")
    page.keyboard.press("Home")  # the derivative over the whole stage
    settle(page, "before", "after")
    plain = {x: _pixel(page, x, 0.5) for x in (0.05, 0.3, 0.7)}

    page.check("#viewer-mask")
    page.wait_for_function(OPENED, arg=["before", "after", "mask"])
    assert page.get_attribute("#viewer-stage", "data-mask") == "on"
    source = page.evaluate("() => { const s = window.itemViewer.mask.world.getItemAt(0).source; return s.id || s['@id']; }")
    assert source.endswith(f"/iiif/3/{mask.pk}")
    settle(page, "before", "after", "mask")
    assert_in_register(page, "before", "after", "mask")
    shown = {x: _pixel(page, x, 0.5) for x in (0.05, 0.3, 0.7)}
    assert np.abs(shown[0.05] - BACKGROUND).max() < 3  # no image there (the stage is wider): no tint
    assert np.abs(shown[0.3] - plain[0.3]).max() < 6  # not repainted: unchanged
    assert shown[0.7][0] - plain[0.7][0] > 40 and shown[0.7][0] - shown[0.7][1] > 60  # repainted: tinted red
    page.focus("#viewer-divider")
    page.keyboard.press("PageUp")  # the divider at 10%: the mask is clipped with the derivative
    page.screenshot(path=str(screenshot_dir / "viewer_mask_1366.png"))

    # Zoomed, the mask stays on the pixels it marks.
    zoom_in_three_steps(page)
    settle(page, "before", "after", "mask")
    assert_in_register(page, "before", "after", "mask")
    page.uncheck("#viewer-mask")
    assert page.get_attribute("#viewer-stage", "data-mask") == "off"
    settle(page, "before", "after")
    assert np.abs(_pixel(page, 0.7, 0.5) - _pixel(page, 0.7, 0.5)).max() == 0
    assert pages.errors == []


def test_a_look_at_the_zoomed_viewer(pages, restored_item, screenshot_dir):
    """A screenshot of the item page at 1366 x 900 after three zoom steps (docs/screenshots/ with
    SAVE_SCREENSHOTS=1), and the same view checked: in register, the centre drawn."""
    page = pages.open("/items/HP-001/", viewport=SCREENS[0])
    page.wait_for_function(OPENED, arg=["before", "after"])
    page.evaluate("() => window.scrollTo(0, document.getElementById('viewer').offsetTop - 8)")
    zoom_in_three_steps(page)
    settle(page, "before", "after")
    assert_in_register(page, "before", "after")
    assert_fills_the_centre(page, "before", "after")
    path = screenshot_dir / "viewer_zoomed_1366.png"
    page.screenshot(path=str(path))
    with Image.open(path) as shot:
        assert shot.size == (1366, 900)
    page.check("input[name=viewer-mode][value=side]")
    settle(page, "before", "after")
    assert_in_register(page, "before", "after")
    page.screenshot(path=str(screenshot_dir / "viewer_side_1366.png"))

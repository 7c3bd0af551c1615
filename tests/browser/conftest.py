"""Browser tests: the pages in a real headless Chromium, driven by Playwright.

The browser is Debian's ``chromium`` (``/usr/bin/chromium``, or ``$CHROMIUM``), launched by
path: Playwright's own browser downloads are never used (``.ci/run`` installs the package).
Without the browser or the ``playwright`` package, every test here is skipped with the reason.

Pages are served by pytest-django's ``live_server`` (a thread of this process, on the test
database). Playwright's synchronous API keeps an asyncio loop in this thread, which makes
Django refuse ORM calls as "async unsafe"; the tests call the ORM only between browser steps,
never concurrently, so ``DJANGO_ALLOW_ASYNC_UNSAFE`` is set while the browser is up.

Screenshots go to the test's temporary folder, or to ``docs/screenshots/`` when
``SAVE_SCREENSHOTS=1``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# A quiet, sandbox-free headless browser that asks nothing of the network by itself.
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def chromium():
    """The system Chromium, launched once per session."""
    if not CHROMIUM.is_file():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium); it is not installed")
    sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class BrowserPages:
    """Opens pages of the live server in fresh browser contexts (closed at the end of the test);
    collects the scripts' uncaught errors in ``errors``."""

    def __init__(self, browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.contexts: list = []
        self.errors: list[str] = []

    def open(self, path: str = "/", *, viewport: dict = DESKTOP, touch: bool = False):
        context = self.browser.new_context(viewport=viewport, base_url=self.base_url, has_touch=touch,
                                           is_mobile=touch)
        context.set_default_timeout(20_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.goto(path)
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(chromium, live_server):
    opened = BrowserPages(chromium, live_server.url)
    yield opened
    opened.close()


@pytest.fixture
def screenshot_dir(tmp_path) -> Path:
    if os.environ.get("SAVE_SCREENSHOTS") == "1":
        folder = ROOT / "docs" / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return tmp_path

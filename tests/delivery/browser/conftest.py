"""Browser tests: the pages in a real headless Chromium, driven by Playwright.

The browser is Debian's ``chromium`` (``/usr/bin/chromium``, or ``$CHROMIUM``), launched by
path: Playwright's own browser downloads are never used (``.ci/run`` installs the package).
Without the browser or the ``playwright`` package, every test here is skipped with the reason.

Pages are served by pytest-django's ``live_server`` (a thread of this process, on the test
database). Playwright's synchronous API runs an asyncio loop in this thread while it is
started, and so (1) Django refuses ORM calls as "async unsafe": the tests call the ORM only
between browser steps, never concurrently, so ``DJANGO_ALLOW_ASYNC_UNSAFE`` is set meanwhile;
(2) ``django.db.connections`` is context-local and hands out other connection objects while the
loop runs. Playwright is therefore started per test, after the test database is set up, and
stopped before its teardown, the connections opened in its context closed first; no later
test runs inside its loop.

Screenshots go to the test's temporary folder, or to ``docs/screenshots/`` when
``SAVE_SCREENSHOTS=1``.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
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


@contextmanager
def _async_unsafe_allowed():
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def chromium(transactional_db):
    """The system Chromium, for one test (the database is set up before Playwright's loop starts)."""
    if not CHROMIUM.is_file():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium); it is not installed")
    sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
    from django.db import connections

    with _async_unsafe_allowed():
        playwright = sync_api.sync_playwright().start()
        try:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
            try:
                yield browser
            finally:
                browser.close()
        finally:
            connections.close_all()  # those opened in Playwright's context (see the module's docstring)
            playwright.stop()


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
def pages(live_server, chromium):
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

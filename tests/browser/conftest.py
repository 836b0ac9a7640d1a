"""A real Chromium (Debian's `chromium` package) driven by Playwright, for the analysts' pages.

Playwright drives the browser from an asyncio loop in the test's thread; the
test itself only touches the database before the browser starts and after it
closes, and the live server answers from its own thread. Django's async-safety
guard is lifted for these tests because of that loop, not because any ORM call
runs inside it.
"""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / "var" / "screenshots"))


@pytest.fixture
def browser_page(monkeypatch):
    """A fresh headless Chromium page; fails (never skips) under CI=true when Chromium is missing."""
    if not CHROMIUM:
        message = "Chromium is not installed (apt-get install chromium); .ci/run installs it"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        context = browser.new_context(locale="fr-FR", viewport={"width": 1366, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()


@pytest.fixture
def screenshot(browser_page):
    """Save a full-page screenshot as var/screenshots/<name>.png and return its path."""

    def take(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        browser_page.screenshot(path=str(path), full_page=True)
        return path

    return take

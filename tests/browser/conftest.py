"""The admin console in a real browser: Playwright drives Debian's Chromium against the local stack.

``make test`` installs the ``chromium`` package (``scripts/ensure-chromium.sh``); Playwright never
downloads a browser here, it starts ``/usr/bin/chromium`` through ``executable_path``. One stack per
module, ``serial`` and pumped in the background while the browser works (``local.pump_thread``), so
webhooks, queues and the stream move as they do on AWS while a person clicks.

Every journey saves a screenshot of each screen it visits under ``artifacts/console/`` (the CI keeps
the folder) and checks the screen with axe-core (labels, names, contrast, landmarks: no violation).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect, sync_playwright

from local.stack import LocalStack
from tests.e2e.conftest import Tenant

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "console"
CHROMIUM = os.environ.get("CRMSYNC_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    # As root in a container there is no user namespace for Chromium's sandbox; the pages are our own.
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # This machine's network is closed: no background calls to Google's services.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = Axe()


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """One serial stack per module: the gateway answers the browser while a thread pumps."""
    with LocalStack(serial=True) as local:
        yield local


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run scripts/ensure-chromium.sh (make test does)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context per test: no session, no storage carried over."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(20_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not errors, f"the console threw in the browser: {errors}"


@dataclass
class Console:
    """The console as a person sees it: sign in, go to a screen, look, check."""

    page: Page
    base_url: str
    test_name: str

    def sign_in(self, tenant: Tenant) -> None:
        """Sign in with the keyboard only: the form must be usable without a mouse."""
        self.page.goto(f"{self.base_url}/console")  # redirected to /console/index.html
        expect(self.page.get_by_role("heading", name="crmsync console")).to_be_visible()
        self.page.get_by_label("Tenant id").focus()
        self.page.keyboard.type(tenant.id)
        self.page.keyboard.press("Tab")
        expect(self.page.get_by_label("API token")).to_be_focused()
        self.page.keyboard.type(tenant.token)
        self.page.keyboard.press("Enter")
        expect(self.page.get_by_role("heading", name="Health", level=1)).to_be_visible()

    def go(self, screen: str) -> None:
        """Open a screen from the navigation."""
        self.page.get_by_role("navigation", name="Screens").get_by_role("link", name=screen).click()
        expect(self.page.get_by_role("heading", level=1)).to_have_text(re.compile(screen, re.IGNORECASE))

    def look(self, name: str) -> Path:
        """Screenshot of the whole page (an artifact) and the axe-core check of what it shows."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.test_name}--{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        results = AXE.run(self.page)
        assert results.violations_count == 0, f"{name}: accessibility violations\n{results.generate_report()}"
        return path


@pytest.fixture
def console(page: Page, stack: LocalStack, request: pytest.FixtureRequest) -> Console:
    return Console(page, stack.gateway_url, re.sub(r"[^A-Za-z0-9_-]", "_", request.node.name))

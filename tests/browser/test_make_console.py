"""``make console`` (``python -m local.console``): starts the stack, prints the console's URL and the
tenants' tokens, and a person can sign in and find what the seed promised (issue 18, done-when)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import Console

ROOT = Path(__file__).resolve().parents[2]


def test_make_console_prints_its_url_and_the_console_works(page: Page):
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'sync'}:{ROOT}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "local.console", "--seconds", "120"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 90
        while not any("tenant review" in line for line in lines):
            assert time.monotonic() < deadline and process.poll() is None, "".join(lines)
            lines.append(process.stdout.readline())
        (url,) = [
            m.group(1)
            for line in lines
            if (m := re.match(r"console: (http://\S+/console/index\.html)$", line.strip()))
        ]
        tokens = dict(re.findall(r"tenant (\w+): API token (\S+)", "".join(lines)))
        assert set(tokens) == {"shop", "review"}
        assert "1 open conflicts, 1 parked" in next(line for line in lines if "tenant shop" in line)

        console = Console(page, url.removesuffix("/console/index.html"), "make_console")
        console.page.goto(url)
        console.page.get_by_label("Tenant id").fill("shop")
        console.page.get_by_label("API token").fill(tokens["shop"])
        console.page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Health", level=1)).to_be_visible()
        expect(page.get_by_text(re.compile("Tenant state:"))).to_contain_text("degraded")
        console.look("health")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            out, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0 and "console: stopped" in out, out

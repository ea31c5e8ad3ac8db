"""Journey: read health, then again after a connection breaks (issue 18 items 3 and 6).

The tenant's environment is switched to production, whose secrets were never stored: the next
scheduled pull cannot read either side, both connections go to needs_attention with the reason, and
the console shows it on its next refresh, without a reload and without anything else changing.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from crmsync.config import Environment
from crmsync.models import SyncMode
from local.pump_thread import pumping
from local.stack import LocalStack
from local.vendors import ECONOMIC_CONNECTION, VendorAccount
from tests.browser.conftest import Console
from tests.e2e.conftest import add_seeded_tenant


def seed(account: VendorAccount) -> None:
    account.economic.seed(4, contacts_per_customer=1, seed=18)


def test_health_shows_a_broken_connection(stack: LocalStack, console: Console):
    tenant = add_seeded_tenant(stack, "health-ui", mode=SyncMode.AUTOMATIC, seed_vendors=seed)
    page = console.page
    with pumping(stack):
        console.sign_in(tenant)
        eco = page.get_by_role("article", name=f"Connection {ECONOMIC_CONNECTION}")
        expect(eco).to_contain_text("ok")
        expect(page.locator("[data-count=records]")).to_have_text("8")  # 4 customers, 4 contacts
        expect(page.locator("[data-count=in_sync]")).to_have_text("8")
        console.look("health-ok")

        config = stack.store.get_config(tenant.id)
        assert config is not None
        stack.store.put_config(config.model_copy(update={"environment": Environment.PRODUCTION}))
        pulled = stack.run_pull()
        assert tenant.id in {name.split("/")[0] for name in pulled["needs_attention"]}

        page.get_by_role("button", name="Refresh").click()
        expect(page.get_by_text(re.compile("Tenant state:"))).to_contain_text("needs attention")
        expect(eco).to_contain_text("needs attention")
        expect(eco.locator(".reason")).not_to_be_empty()
        console.look("health-needs-attention")


def test_the_console_and_the_api_it_calls_keep_nothing_in_the_browser(stack: LocalStack, console: Console):
    """Same origin for pages and API; pages revalidate, API answers (refusals too) are never stored."""
    tenant = add_seeded_tenant(stack, "headers-ui", mode=SyncMode.MANUAL)
    page_answer = stack.http.get("/console/", headers={"Accept-Encoding": "gzip"})
    assert page_answer.status_code == 200 and page_answer.headers["content-encoding"] == "gzip"
    assert "script-src 'self' 'sha256-" in page_answer.headers["content-security-policy"]
    for token in (tenant.token, "not-a-token"):
        answer = stack.http.get(f"/tenants/{tenant.id}/health", headers={"Authorization": f"Bearer {token}"})
        assert answer.headers["cache-control"] == "no-store", answer.status_code
    # Signing out forgets the token: the page asks for it again, and nothing is left in the tab's storage.
    with pumping(stack):
        console.sign_in(tenant)
        assert console.page.evaluate("() => Object.keys(sessionStorage)") == ["crmsync.session"]
        assert console.page.evaluate("() => Object.keys(localStorage)") == []
        console.page.get_by_role("button", name="Sign out").click()
        expect(console.page.get_by_label("API token")).to_be_visible()
        assert console.page.evaluate("() => Object.keys(sessionStorage)") == []
        console.look("signed-out")

"""The vendor side of the local stack: accounts on the fakes and tenants provisioned against them.

An *account* is one company's e-conomic agreement and HubSpot portal. The primary account is the
stack's ``economic``/``hubspot``; ``VendorAccounts.add`` makes more behind the same two fake hosts,
told apart by their credentials as the real APIs do (``local.fakes.accounts``), so a multi-tenant test
gives every tenant its own data, rate limits and webhooks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import BaseWSGIServer

from crmsync.models import SyncMode
from crmsync.store import SyncStore
from local.fakes.accounts import AccountRouter, economic_credential, hubspot_credential
from local.fakes.economic import EconomicFake
from local.fakes.hubspot import HubSpotFake
from local.fakes.serving import serve_in_thread, stop_server
from scripts.admin import provision

ECONOMIC_APP_SECRET = "local-app-secret"
ECONOMIC_GRANT = "local-grant-token"
HUBSPOT_TOKEN = "pat-local-token"
HUBSPOT_CLIENT_SECRET = "local-hubspot-client-secret"


DEFAULT_ACCOUNT = "default"
ECONOMIC_CONNECTION = "eco"
HUBSPOT_CONNECTION = "hs"


def provision_tenant(
    store: SyncStore,
    secrets_client: Any,
    tenant_id: str,
    *,
    mode: SyncMode,
    hubspot: HubSpotFake,
    webhook_secret: str,
    economic_grant: str = ECONOMIC_GRANT,
) -> str:
    """A tenant with one e-conomic and one HubSpot connection against the fakes (the operator CLI's path)."""
    return provision(
        store,
        secrets_client,
        tenant_id,
        mode=mode,
        economic_secret={
            "app_secret_token": ECONOMIC_APP_SECRET,
            "agreement_grant_token": economic_grant,
            "webhook_secret": webhook_secret,
        },
        hubspot_secret={"access_token": hubspot.access_token, "client_secret": hubspot.client_secret},
        hubspot_portal_id=hubspot.portal_id,
        secret_prefix=os.environ.get("SECRET_PREFIX", "crmsync/"),
        economic_connection=ECONOMIC_CONNECTION,
        hubspot_connection=HUBSPOT_CONNECTION,
    )


@dataclass
class VendorAccount:
    """One company's own e-conomic agreement and HubSpot portal (``LocalStack.add_account``)."""

    name: str
    economic: EconomicFake
    hubspot: HubSpotFake

    @property
    def economic_grant(self) -> str:
        return self.economic.agreement_grant_token


class VendorAccounts:
    """The accounts of a stack and the two fake hosts that serve them (one router per vendor)."""

    def __init__(self, economic: EconomicFake, hubspot: HubSpotFake) -> None:
        self.accounts: dict[str, VendorAccount] = {
            DEFAULT_ACCOUNT: VendorAccount(DEFAULT_ACCOUNT, economic, hubspot)
        }
        self._routers = (
            AccountRouter(economic, economic_credential, economic.agreement_grant_token),
            AccountRouter(hubspot, hubspot_credential, hubspot.access_token),
        )
        self._servers: list[BaseWSGIServer] = []

    def serve(self) -> tuple[str, str]:
        """Serve both vendors' hosts; returns the e-conomic and HubSpot base URLs."""
        eco_server, eco_url = serve_in_thread(self._routers[0], "economic-fake")
        hs_server, hs_url = serve_in_thread(self._routers[1], "hubspot-fake")
        self._servers = [eco_server, hs_server]
        return eco_url, hs_url

    def shutdown(self) -> None:
        for server in self._servers:
            stop_server(server)
        self._servers = []
        for account in self.accounts.values():
            account.economic.shutdown()
            account.hubspot.shutdown()

    def add(self, name: str) -> VendorAccount:
        """Another company's agreement and portal, with the primary account's rate limits."""
        if name in self.accounts:
            raise ValueError(f"account {name!r} exists")
        primary = self.accounts[DEFAULT_ACCOUNT]
        number = len(self.accounts)
        economic = EconomicFake(
            app_secret_token=ECONOMIC_APP_SECRET,  # the same integration app, another agreement
            agreement_grant_token=f"{ECONOMIC_GRANT}-{name}",
            rate_limit=primary.economic.rate_limit,
        )
        hubspot = HubSpotFake(
            f"{HUBSPOT_TOKEN}-{name}",
            portal_id=primary.hubspot.portal_id + number,
            app_id=primary.hubspot.app_id + number,
            client_secret=f"{HUBSPOT_CLIENT_SECRET}-{name}",
            rate_limit_per_10s=primary.hubspot.rate_limit_per_10s,
            search_rate_limit_per_s=primary.hubspot.search_rate_limit_per_s,
        )
        self._routers[0].add(economic.agreement_grant_token, economic)
        self._routers[1].add(hubspot.access_token, hubspot)
        self.accounts[name] = VendorAccount(name, economic, hubspot)
        return self.accounts[name]

    def flush_webhooks(self) -> None:
        for account in self.accounts.values():
            account.economic.flush_webhooks(timeout=30)
            account.hubspot.flush_webhooks(timeout=30)

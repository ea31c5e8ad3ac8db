"""The vendor side of the local stack: accounts on the fakes and tenants provisioned against them.

An *account* is one company's e-conomic agreement and HubSpot portal. The primary account is the
stack's ``economic``/``hubspot``; ``VendorAccounts.add`` makes more behind the same two fake hosts,
told apart by their credentials as the real APIs do (``local.fakes.accounts``), so a multi-tenant test
gives every tenant its own data, rate limits and webhooks. An account may also have a Dynamics 365
organisation (``VendorAccounts.enable_dynamics``): a Dataverse fake of its own under ``/<account>`` of
a third host, its Entra ID directory under ``/login`` of the same host (``OrgRouter``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from werkzeug.serving import BaseWSGIServer

from crmsync.config import ConnectionConfig, DynamicsSettings
from crmsync.dataverse_webhooks import WEBHOOK_KEY_HEADER
from crmsync.models import ConnectionKind, SyncMode
from crmsync.store import SyncStore
from local.crm_side import CrmSide, DynamicsSide, HubSpotSide
from local.fakes.accounts import AccountRouter, OrgRouter, economic_credential, hubspot_credential
from local.fakes.dataverse import DataverseFake
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
DYNAMICS_CONNECTION = "dyn"
DYNAMICS_CLIENT_ID = "local-dynamics-app"
DYNAMICS_CLIENT_SECRET = "local-dynamics-client-secret"
CrmKind = Literal["hubspot", "dynamics"]
DYNAMICS_FACT_COLUMNS: dict[str, str] = {
    "open_balance": "crmsync_openbalance",
    "overdue_amount": "crmsync_overdueamount",
    "unpaid_invoices": "crmsync_unpaidinvoices",
    "overdue_invoices": "crmsync_overdueinvoices",
    "last_invoice_date": "crmsync_lastinvoicedate",
    "last_invoice_number": "crmsync_lastinvoicenumber",
    "revenue": "crmsync_revenue",
    "group_open_balance": "crmsync_groupopenbalance",
    "group_overdue_amount": "crmsync_groupoverdueamount",
    "group_revenue": "crmsync_grouprevenue",
}
"""The account columns a local organisation has for the accounting facts (docs/dynamics.md's types)."""
_FACT_COLUMN_TYPES = {"unpaid_invoices": "Integer", "overdue_invoices": "Integer", "last_invoice_number": "Integer",
                      "last_invoice_date": "DateOnly"}  # fmt: skip


def provision_tenant(
    store: SyncStore,
    secrets_client: Any,
    tenant_id: str,
    *,
    mode: SyncMode,
    account: VendorAccount,
    webhook_secret: str,
    crm: CrmKind = "hubspot",
) -> str:
    """A tenant with one e-conomic and one CRM connection (HubSpot, or the account's Dynamics
    organisation) against the fakes, through the operator CLI's path."""
    if crm == "dynamics":
        assert account.dynamics is not None, "VendorAccounts.enable_dynamics first"
        crm_conn = ConnectionConfig(
            connection_id=DYNAMICS_CONNECTION,
            kind=ConnectionKind.DYNAMICS,
            dynamics=DynamicsSettings(
                org_url=account.dynamics.org_url,
                application_user_id=account.dynamics.application_user_id,
                columns=account.dynamics_columns,
                fact_columns=DYNAMICS_FACT_COLUMNS,
            ),
        )
        crm_secret = {
            "tenant_id": account.dynamics.tenant,
            "client_id": account.dynamics.client_id,
            "client_secret": account.dynamics.client_secret,
            "webhook_key": webhook_secret,
        }
    else:
        crm_conn = ConnectionConfig(
            connection_id=HUBSPOT_CONNECTION,
            kind=ConnectionKind.HUBSPOT,
            hubspot_portal_id=account.hubspot.portal_id,
        )
        crm_secret = {
            "access_token": account.hubspot.access_token,
            "client_secret": account.hubspot.client_secret,
        }
    return provision(
        store,
        secrets_client,
        tenant_id,
        mode=mode,
        economic_secret={
            "app_secret_token": ECONOMIC_APP_SECRET,
            "agreement_grant_token": account.economic_grant,
            "webhook_secret": webhook_secret,
        },
        crm=crm_conn,
        crm_secret=crm_secret,
        secret_prefix=os.environ.get("SECRET_PREFIX", "crmsync/"),
        economic_connection=ECONOMIC_CONNECTION,
    )


def point_webhooks(account: VendorAccount, base_url: str, tenant_id: str, key: str, crm: CrmKind) -> None:
    """Point the account's webhooks at the tenant's endpoints under ``base_url`` (the gateway's
    ``/webhooks``), as an operator registers them: e-conomic's "Customer updated" URL with the key and
    the renumbering placeholders and its "Invoice booked" URL with ``[INVOICENO]``, HubSpot's app target URL, Dynamics' service endpoint with "HttpHeader" auth."""
    economic = f"{base_url}/economic/{tenant_id}/{ECONOMIC_CONNECTION}?key={key}"
    account.economic.set_webhook(f"{economic}&old=[OLDNUMBER]&new=[NEWNUMBER]")
    account.economic.set_invoice_webhook(f"{economic}&invoice=[INVOICENO]")
    account.hubspot.target_url = f"{base_url}/hubspot/{tenant_id}/{HUBSPOT_CONNECTION}"
    if account.dynamics is not None and crm == "dynamics":
        url = f"{base_url}/dynamics/{tenant_id}/{DYNAMICS_CONNECTION}"
        for table in ("account", "contact"):
            account.dynamics.add_webhook(url, table, auth=("header", {WEBHOOK_KEY_HEADER: key}))


@dataclass
class VendorAccount:
    """One company's own e-conomic agreement and HubSpot portal (``LocalStack.add_account``)."""

    name: str
    economic: EconomicFake
    hubspot: HubSpotFake
    dynamics: DataverseFake | None = None
    """The account's Dynamics 365 organisation, once ``VendorAccounts.enable_dynamics`` made it."""
    dynamics_columns: dict[str, str] = field(default_factory=dict)
    """Its custom account columns per customer field (``DynamicsSettings.columns`` of its tenants)."""

    @property
    def economic_grant(self) -> str:
        return self.economic.agreement_grant_token

    def crm(self, kind: CrmKind) -> CrmSide:
        """The account's CRM of that kind, in canonical terms (``local.crm_side``)."""
        if kind == "dynamics":
            assert self.dynamics is not None, "VendorAccounts.enable_dynamics first"
            return DynamicsSide(self.dynamics, DYNAMICS_CONNECTION, self.dynamics_columns)
        return HubSpotSide(self.hubspot, HUBSPOT_CONNECTION)


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
        self._orgs = OrgRouter()
        self._webhook_client: httpx.Client | None = None
        """One client for every Dynamics organisation's webhook deliveries (a client per delivery costs
        a connection set-up each: ~20 ms)."""
        self.dataverse_url = ""
        """The Dynamics host (organisations under ``/<account>``, Entra ID under ``/login``), once served."""
        self._servers: list[BaseWSGIServer] = []

    def serve(self) -> tuple[str, str]:
        """Serve the vendors' hosts; returns the e-conomic and HubSpot base URLs (``dataverse_url`` is set)."""
        eco_server, eco_url = serve_in_thread(self._routers[0], "economic-fake")
        hs_server, hs_url = serve_in_thread(self._routers[1], "hubspot-fake")
        dv_server, self.dataverse_url = serve_in_thread(self._orgs, "dataverse-fake")
        self._servers = [eco_server, hs_server, dv_server]
        return eco_url, hs_url

    def enable_dynamics(self, name: str, columns: Mapping[str, str] | None = None) -> DataverseFake:
        """The account's Dynamics organisation (made once): served under ``/<name>`` of the Dynamics host.
        ``columns``: customer field -> a custom account column the organisation has (and its tenant maps)."""
        account = self.accounts[name]
        if account.dynamics is None:
            account.dynamics_columns = dict(columns or {})
            assert self.dataverse_url, "serve() first"
            self._webhook_client = self._webhook_client or httpx.Client(timeout=60.0)
            account.dynamics = DataverseFake(
                webhook_client=self._webhook_client,
                org_url=f"{self.dataverse_url}/{name}",
                client_id=DYNAMICS_CLIENT_ID,
                client_secret=DYNAMICS_CLIENT_SECRET,
                tenant=f"entra-{name}",
                application_user_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"crmsync-app-user/{name}")),
                custom_columns={
                    "account": {
                        **{column: 100 for column in account.dynamics_columns.values()},
                        **{c: _FACT_COLUMN_TYPES.get(f, "Money") for f, c in DYNAMICS_FACT_COLUMNS.items()},
                    }
                },
            )
            # Delivered when the stack pumps (Dataverse delivers asynchronously, as a system job).
            account.dynamics.hold_webhooks = True
            self._orgs.add(name, account.dynamics.tenant, account.dynamics)
        return account.dynamics

    def shutdown(self) -> None:
        for server in self._servers:
            stop_server(server)
        self._servers = []
        for account in self.accounts.values():
            account.economic.shutdown()
            account.hubspot.shutdown()
            if account.dynamics is not None:
                account.dynamics.shutdown()
        if self._webhook_client is not None:
            self._webhook_client.close()
            self._webhook_client = None

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
            if account.dynamics is not None:
                account.dynamics.flush_webhooks()

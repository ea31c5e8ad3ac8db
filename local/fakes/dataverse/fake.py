"""``DataverseFake``: one in-memory Dataverse environment with one application user (state, test control)."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlparse

import httpx
from werkzeug.serving import BaseWSGIServer

from local.fakes.dataverse.actions import ActionsMixin
from local.fakes.dataverse.app import AppMixin
from local.fakes.dataverse.auth import AuthMixin
from local.fakes.dataverse.batch import BatchMixin
from local.fakes.dataverse.crud import CrudMixin
from local.fakes.dataverse.entities import TABLES, with_custom_columns
from local.fakes.dataverse.faults import DataverseFaults
from local.fakes.dataverse.ratelimit import RateLimitMixin
from local.fakes.dataverse.records import RecordsMixin
from local.fakes.dataverse.tracking import TrackingMixin
from local.fakes.dataverse.webhooks import SIZE_LIMIT, WebhookMixin, WebhookRegistration
from local.fakes.serving import serve_in_thread, stop_server

PERSON_USER_ID = "5a1e5a1e-0000-4000-8000-00000000d365"


class DataverseFake(
    AppMixin,
    AuthMixin,
    RateLimitMixin,
    RecordsMixin,
    CrudMixin,
    TrackingMixin,
    BatchMixin,
    ActionsMixin,
    WebhookMixin,
):
    """In-memory Dataverse Web API v9.2 (account, contact, lead, systemuser). Thread-safe.

    Keyword arguments: ``org_url`` (links, ``OData-EntityId``, token scope), ``client_id``/``client_secret``/
    ``tenant`` (token endpoint), ``application_user_id`` (the user of every API call), ``clock`` (epoch
    seconds), ``requests_per_300s``/``execution_ms_per_300s``/``concurrent_requests`` (service protection,
    ``None`` = off), ``execution_ms_per_request`` (the modelled cost of one request), ``change_tracking_expiry_days``,
    ``alternate_keys`` (``{"account": ["accountnumber"]}`` or a list of keys per table), ``webhook_client``
    (httpx client for URL targets), ``faults``, ``seed`` (token-lifetime rng).
    """

    def __init__(
        self,
        *,
        org_url: str = "https://contoso.crm4.dynamics.com",
        client_id: str = "app-id",
        client_secret: str = "secret",
        tenant: str = "entra-tenant-id",
        application_user_id: str = "a9911ca7-0000-4000-8000-0000000000a9",
        clock: Callable[[], float] | None = None,
        requests_per_300s: int | None = None,
        execution_ms_per_300s: int | None = None,
        concurrent_requests: int | None = None,
        execution_ms_per_request: int = 20,
        change_tracking_expiry_days: float = 7,
        alternate_keys: Mapping[str, Iterable[str] | Iterable[Iterable[str]]] | None = None,
        custom_columns: Mapping[str, Mapping[str, int | str]] | None = None,
        webhook_client: httpx.Client | None = None,
        faults: DataverseFaults | None = None,
        seed: int = 0,
    ) -> None:
        self.tables = with_custom_columns(TABLES, custom_columns or {})
        """The tables this organisation serves: the fact sheet's plus its custom columns."""
        self.org_url = org_url.rstrip("/")
        self.client_id, self.client_secret, self.tenant = client_id, client_secret, tenant
        self.application_user_id = application_user_id.lower()
        self.person_user_id = PERSON_USER_ID
        self.clock: Callable[[], float] = clock or time.time
        self.requests_per_300s = requests_per_300s
        self.execution_ms_per_300s = execution_ms_per_300s
        self.concurrent_requests = concurrent_requests
        self.execution_ms_per_request = execution_ms_per_request
        self.change_tracking_expiry_days = change_tracking_expiry_days
        self.alternate_keys = {t: self._keys(k) for t, k in (alternate_keys or {}).items()}
        for table in self.alternate_keys:
            self._known_table(table)
        self.webhook_client = webhook_client
        self.organization_id = str(uuid.uuid5(uuid.NAMESPACE_URL, self.org_url))
        self.organization_name = urlparse(self.org_url).netloc.split(".")[0] or "org"
        self.business_unit_id = str(uuid.uuid5(uuid.NAMESPACE_URL, self.org_url + "/bu"))
        self._seed = seed
        self._initial_faults = faults or DataverseFaults()
        self._lock = threading.RLock()
        self._server: BaseWSGIServer | None = None
        self.reset()

    @staticmethod
    def _keys(spec: Iterable[Any]) -> list[tuple[str, ...]]:
        items = list(spec)
        if all(isinstance(i, str) for i in items):
            return [tuple(items)]
        return [tuple(i) for i in items]

    # ------------------------------------------------------------------------------- state

    def reset(self) -> None:
        """Forget rows, tokens, counters, webhooks registrations and deliveries; re-seed the two users."""
        with self._lock:
            self._rows: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in self.tables}
            self._deleted: dict[str, list[tuple[int, str]]] = {t: [] for t in self.tables}
            self._version = 1000
            self._events: list[dict[str, Any]] = []
            self._held: list[dict[str, Any]] = []
            self._tokens: dict[str, dict[str, Any]] = {}
            self._token_rng = random.Random(self._seed)
            self._req_windows: dict[str, Any] = {}
            self._exec_windows: dict[str, Any] = {}
            self._in_flight: dict[str, int] = {}
            self._calls: Counter[str] = Counter()
            self._statuses: Counter[str] = Counter()
            self._rate_limited = 0
            self._faults = DataverseFaults(**vars(self._initial_faults))
            self.token_count = 0
            self.hold_webhooks = False
            self.webhook_size_limit = SIZE_LIMIT  # 256 KB; tests may lower it
            self.webhook_targets: list[WebhookRegistration] = []
            self.webhook_deliveries: list[dict[str, Any]] = []
            users = self.tables["systemuser"]
            app_user = {"systemuserid": self.application_user_id, "firstname": "#", "lastname": "crmsync",
                        "internalemailaddress": f"{self.client_id}@app.invalid", "applicationid": None}  # fmt: skip
            person = {"systemuserid": self.person_user_id, "firstname": "Dana", "lastname": "Dynamics",
                      "internalemailaddress": "dana@contoso.example", "isdisabled": False}  # fmt: skip
            for values in (app_user, person):
                self._create(users, dict(values), self.application_user_id, event=False)

    @property
    def faults(self) -> DataverseFaults:
        return self._faults

    @faults.setter
    def faults(self, value: DataverseFaults) -> None:
        with self._lock:
            self._faults = value

    def seed(self, table: str, rows: list[dict[str, Any]]) -> list[str]:
        """Insert rows as stored (logical names, lookups as ``_x_value``); no webhooks. Returns their ids."""
        self._known_table(table)
        spec = self.tables[table]
        ids = []
        with self._lock:
            for values in rows:
                unknown = set(values) - spec.readable
                if unknown:
                    raise ValueError(f"unknown {table} columns: {sorted(unknown)}")
                changes = {
                    k: v for k, v in values.items() if k not in ("versionnumber", "createdon", "modifiedon")
                }
                ids.append(self._create(spec, changes, self.person_user_id, event=False)[spec.pk])
        return ids

    def row(self, table: str, row_id: str) -> dict[str, Any] | None:
        self._known_table(table)
        with self._lock:
            row = self._rows[table].get(row_id.lower())
            return None if row is None else dict(row)

    def rows(self, table: str) -> list[dict[str, Any]]:
        self._known_table(table)
        with self._lock:
            return [dict(r) for r in self._rows[table].values()]

    def _person_changes(self, table: str, changes: Mapping[str, Any], creating: bool) -> dict[str, Any]:
        spec = self.tables[table]
        direct = {k: v for k, v in changes.items() if k.startswith("_") and k in spec.readable}
        rest = {k: v for k, v in changes.items() if k not in direct}
        return {**self._convert(spec, rest, creating=creating), **direct}

    def person_edit(self, table: str, row_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """A person editing in the Dynamics UI: an Update by ``person_user_id`` (fires webhooks)."""
        self._known_table(table)
        with self._lock:
            row = self._update(
                self.tables[table],
                row_id.lower(),
                self._person_changes(table, changes, False),
                self.person_user_id,
            )
            out = dict(row)
        self._dispatch_events()
        return out

    def person_create(self, table: str, values: Mapping[str, Any]) -> str:
        self._known_table(table)
        with self._lock:
            row = self._create(
                self.tables[table], self._person_changes(table, values, True), self.person_user_id
            )
        self._dispatch_events()
        return str(row[self.tables[table].pk])

    def person_delete(self, table: str, row_id: str) -> None:
        self._known_table(table)
        with self._lock:
            self._delete(self.tables[table], row_id.lower(), self.person_user_id)
        self._dispatch_events()

    def person_merge(self, table: str, target_id: str, subordinate_id: str) -> None:
        """A person merges two rows in the Dynamics UI (no columns chosen from the subordinate)."""
        self._known_table(table)
        with self._lock:
            self.merge_rows(
                table, target_id, subordinate_id, {}, parenting_checks=False, user=self.person_user_id
            )
        self._dispatch_events()

    @property
    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": dict(self._calls),
                "statuses": dict(self._statuses),
                "token_requests": self.token_count,
                "rate_limited": self._rate_limited,
                "webhook_deliveries": len(self.webhook_deliveries),
                "held_webhooks": len(self._held),
            }

    # ------------------------------------------------------------------------------- serving

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> tuple[BaseWSGIServer, str]:
        """Serve ``app`` from a daemon thread; links still use ``org_url`` (pass the served URL if needed)."""
        self._server, base_url = serve_in_thread(self.app, "dataverse-fake", host, port)
        return self._server, base_url

    def shutdown(self) -> None:
        stop_server(self._server)
        self._server = None

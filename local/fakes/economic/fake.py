"""``EconomicFake``: one in-memory e-conomic agreement (state, test control, serving)."""

from __future__ import annotations

import random
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

import httpx
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer

from local.fakes.economic.app import _ROUTES, AppMixin
from local.fakes.economic.bookkeeper import BookkeeperMixin
from local.fakes.economic.customers_api import CustomersApiMixin
from local.fakes.economic.faults import EconomicFaults, FakeClock, ScheduledFault
from local.fakes.economic.invoices_api import InvoicesApiMixin
from local.fakes.economic.legacy import LegacyRestMixin
from local.fakes.economic.model import (
    ReferenceData,
    WebhookDelivery,
    WebhookEvent,
    _BookedInvoiceRow,
    _ContactRow,
    _CustomerRow,
    _EmployeeRow,
)
from local.fakes.economic.ratelimit import _TokenBucket
from local.fakes.economic.rendering import RenderingMixin
from local.fakes.economic.store import StoreMixin
from local.fakes.economic.webhooks import WebhookMixin
from local.fakes.serving import serve_in_thread, stop_server


class EconomicFake(
    AppMixin,
    BookkeeperMixin,
    WebhookMixin,
    StoreMixin,
    InvoicesApiMixin,
    RenderingMixin,
    LegacyRestMixin,
    CustomersApiMixin,
):
    """An in-memory e-conomic agreement. ``fake.app`` is the WSGI app; ``serve()`` runs it on localhost.

    Test control (Python; bookkeeper-style writes bump ``lastUpdated``/``objectVersion`` and fire the
    webhook but are not API calls): ``reset``, ``seed``, ``add_customer``, ``update_customer``,
    ``delete_customer``, ``renumber``, ``add_contact``, ``update_contact``, ``delete_contact``,
    ``book_invoice``, ``get_customer``, ``get_contact``, ``contacts_of``, ``customer_numbers``, ``stats``,
    ``reset_stats``, ``set_webhook``, ``flush_webhooks``, ``set_faults`` (or assign ``faults``), ``inject``,
    ``on_request``, ``clock``; invoices and employees (``invoices_api``): ``register_payment``,
    ``seed_booked_invoices``, ``get_booked_invoice``, ``add_employee``, ``seed_employees``,
    ``set_invoice_webhook``.

    Test control (HTTP, free and unauthenticated): ``GET /_fake/stats``, ``POST /_fake/reset``,
    ``GET|PUT /_fake/webhook`` (``{"url", "body", "contentType"}``), ``POST /_fake/webhooks/flush``,
    ``GET|PUT /_fake/faults`` (PUT an object of ``EconomicFaults`` fields; omitted ones are off),
    ``POST /_fake/seed`` (``{"customers", "contactsPerCustomer", "seed", "fireWebhooks"}``),
    ``POST /_fake/customers`` (legacy body), ``PATCH|DELETE /_fake/customers/{n}`` and
    ``POST /_fake/customers/{n}/renumber`` (``{"newNumber"}``).
    """

    def __init__(
        self,
        *,
        app_secret_token: str = "test-app-secret",
        agreement_grant_token: str = "test-grant-token",
        rate_limit: tuple[int, float] = (1_000_000, 60.0),
        call_costs: Mapping[str, int] | None = None,
        faults: EconomicFaults | None = None,
        clock: FakeClock | None = None,
        reference: ReferenceData | None = None,
        webhook_url: str | None = None,
        webhook_body: str | None = None,
        webhook_content_type: str = "application/json",
        webhook_client: httpx.Client | None = None,
        webhook_sink: Callable[[WebhookDelivery], int | None] | None = None,
        webhook_max_attempts: int = 3,
        webhook_retry_delay: float = 0.05,
        cursor_page_size: int = 1000,
        link_base: str | None = None,
        idempotency_ttl: float = 3600.0,
        reuse_deleted_numbers: bool = True,
    ) -> None:
        """``link_base`` pins the host in legacy ``self``/paging links (default: the request's host).

        ``reuse_deleted_numbers``: a customer created without a number gets the lowest number freed by a
        delete or renumber (anywhere in the range, not only the highest), else highest + 1. ``False``:
        always highest + 1 (which still reuses a deleted highest number)."""
        self.app_secret_token = app_secret_token
        self.agreement_grant_token = agreement_grant_token
        self.rate_limit = rate_limit
        self.call_costs = dict(call_costs or {})
        self.clock = clock or FakeClock()
        self.reference = reference or ReferenceData()
        self.cursor_page_size = cursor_page_size
        self.link_base = link_base.rstrip("/") if link_base else None
        self.idempotency_ttl = idempotency_ttl
        self.reuse_deleted_numbers = reuse_deleted_numbers
        self.webhook_url = webhook_url
        self.webhook_body = webhook_body
        self.webhook_content_type = webhook_content_type
        self.invoice_webhook_url: str | None = None  # "Invoice booked" (set_invoice_webhook)
        self.invoice_webhook_body: str | None = None
        self.invoice_webhook_content_type = webhook_content_type
        self.webhook_sink = webhook_sink
        self.webhook_max_attempts = webhook_max_attempts
        self.webhook_retry_delay = webhook_retry_delay
        self._webhook_client = webhook_client
        self._owns_webhook_client = webhook_client is None
        self._lock = threading.RLock()
        self._hooks: list[Callable[[str, str], None]] = []
        self._outbox: deque[tuple[float, WebhookEvent]] = deque()  # (queued at, monotonic), event
        self._outbox_cv = threading.Condition()
        self._pending = 0
        self._generation = 0  # bumped by reset(): calls taken out before it are not delivered
        self._wake_hangs = threading.Event()  # set by shutdown() to end injected hangs early
        self._worker: threading.Thread | None = None
        self._stopping = False
        self._server: BaseWSGIServer | None = None
        self._map = Map(
            [
                Rule(rule, endpoint=endpoint, methods=list(methods))
                for endpoint, (_, rule, methods) in _ROUTES.items()
            ],
            strict_slashes=False,
        )
        self._faults = faults or EconomicFaults()
        self.reset()

    # ---------------------------------------------------------------- state and test control

    def reset(self) -> None:
        """Forget all customers, contacts, idempotency keys, stats and webhook logs (config stays)."""
        with self._lock:
            self._customers: dict[int, _CustomerRow] = {}
            self._contacts: dict[int, _ContactRow] = {}
            self._sort_keys: dict[int, int] = {}  # customer number -> highest contact sortKey used
            self._freed_numbers: set[int] = set()  # customer numbers a delete or renumber gave up
            self._booked: dict[int, _BookedInvoiceRow] = {}
            self._employees: dict[int, _EmployeeRow] = {}
            self._next_contact = 1
            self._version_counter = 0
            self._idempotency: dict[str, tuple[float, int, dict[str, str], bytes]] = {}
            self._bucket = _TokenBucket(*self.rate_limit)
            self._scheduled: list[ScheduledFault] = []
            self.reset_stats()
            self.webhook_events: list[WebhookEvent] = []
            self.invoice_webhook_events: list[WebhookEvent] = []  # "Invoice booked", apart from customers'
            self.webhook_log: list[WebhookDelivery] = []
            self._webhook_counts: Counter[str] = Counter()
            self._seed_rngs()
        with self._outbox_cv:
            self._pending -= len(self._outbox)
            self._outbox.clear()
            self._generation += 1
            self._outbox_cv.notify_all()

    def reset_stats(self) -> None:
        with self._lock:
            self._calls: Counter[str] = Counter()
            self._statuses: Counter[int] = Counter()
            self._fault_counts: Counter[str] = Counter()

    @property
    def faults(self) -> EconomicFaults:
        """The active faults. Assigning new ones is ``set_faults(new)`` (it reseeds the RNGs)."""
        return self._faults

    @faults.setter
    def faults(self, faults: EconomicFaults) -> None:
        self.set_faults(faults)

    def set_faults(self, faults: EconomicFaults | None = None, /, **changes: Any) -> EconomicFaults:
        """Switch random fault injection at runtime and reseed its RNGs from the (new) ``seed``.

        ``set_faults(EconomicFaults(rate_timeout=0.1, seed=7))`` replaces everything,
        ``set_faults(rate_429=0.2)`` changes fields of the active faults, ``set_faults(EconomicFaults())``
        switches everything off. Data, stats, scheduled ``inject`` faults and queued webhooks are kept.
        Returns the active faults.
        """
        new = replace(faults if faults is not None else self._faults, **changes)
        with self._lock:
            self._faults = new
            self._seed_rngs()
        return new

    def _seed_rngs(self) -> None:
        seed = self._faults.seed
        self._rng = random.Random(seed)  # API call faults
        self._webhook_rng = random.Random(seed + 1)  # webhook drop/duplicate
        self._reorder_rng = random.Random(seed + 2)  # webhook batch shuffles
        self._latency_rng = random.Random(seed + 3)  # random reply latency

    def inject(
        self,
        status: int,
        *,
        count: int = 1,
        retry_after: float | None = None,
        method: str | None = None,
        path_contains: str | None = None,
        after_commit: bool = False,
        hang_s: float | None = None,
    ) -> None:
        """Answer the next ``count`` matching API calls with ``status``.

        ``after_commit=True`` lets a write happen first and then loses its response (the client sees
        ``status``), which is what makes idempotency keys necessary. ``hang_s`` makes the reply hang that
        long first (an injected timeout; with ``after_commit`` only when the write succeeded).
        """
        with self._lock:
            self._scheduled.append(
                ScheduledFault(status, count, retry_after, method, path_contains, after_commit, hang_s)
            )

    def on_request(self, callback: Callable[[str, str], None]) -> None:
        """Call ``callback(method, path)`` before each API call is handled (e.g. a concurrent bookkeeper)."""
        self._hooks.append(callback)

    def set_webhook(
        self, url_template: str | None, body_template: str | None = None, content_type: str | None = None
    ) -> None:
        """Configure the "Customer updated" webhook; ``[OLDNUMBER]``/``[NEWNUMBER]`` are merged in."""
        self.webhook_url = url_template
        self.webhook_body = body_template
        if content_type:
            self.webhook_content_type = content_type

    def stats(self) -> dict[str, Any]:
        """API calls by ``"METHOD /template"``, read/write totals and sizes; test-control is not counted.

        Injected faults: ``faults`` (every injected fault answer), of them ``timeouts`` and
        ``timeouts_after_commit``; random latency: ``slow_replies`` and ``added_latency_s``. Webhooks:
        ``events``, ``delivered``, ``dropped``, ``duplicated``, ``reordered`` (batches), ``delayed``,
        ``failed`` (calls that still failed after the retries) and ``pending``.
        """
        with self._lock:
            reads = sum(n for key, n in self._calls.items() if key.startswith("GET "))
            total = sum(self._calls.values())
            return {
                "calls": dict(sorted(self._calls.items())),
                "reads": reads,
                "writes": total - reads,
                "total": total,
                "throttled": self._statuses.get(429, 0),
                "statuses": {str(k): v for k, v in sorted(self._statuses.items())},
                "customers": len(self._customers),
                "contacts": sum(1 for c in self._contacts.values() if not c.deleted),
                "booked_invoices": len(self._booked),
                "employees": len(self._employees),
                "faults": self._fault_counts["faults"],
                "timeouts": self._fault_counts["timeouts"],
                "timeouts_after_commit": self._fault_counts["timeouts_after_commit"],
                "slow_replies": self._fault_counts["slow_replies"],
                "added_latency_s": round(self._fault_counts["added_latency_us"] / 1e6, 6),
                "webhooks": {
                    "events": len(self.webhook_events),
                    "invoice_events": len(self.invoice_webhook_events),
                    "delivered": sum(1 for d in self.webhook_log if d.status and d.status < 300),
                    "dropped": sum(1 for d in self.webhook_log if d.dropped),
                    "duplicated": sum(1 for d in self.webhook_log if d.duplicate),
                    "reordered": self._webhook_counts["reordered"],
                    "delayed": self._webhook_counts["delayed"],
                    "failed": sum(
                        1 for d in self.webhook_log if not d.dropped and not (d.status and d.status < 300)
                    ),
                    "pending": self._pending,
                },
            }

    # ---------------------------------------------------------------- serving

    @property
    def app(self) -> Callable[..., Iterable[bytes]]:
        return self._wsgi

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> tuple[BaseWSGIServer, str]:
        """Serve on localhost in a daemon thread; returns the server and its base URL."""
        server, url = serve_in_thread(self.app, "economic-fake", host, port)
        self._server = server
        return server, url

    def shutdown(self) -> None:
        """Stop the HTTP server (if serving), injected hangs and the webhook worker (it drains first)."""
        self._wake_hangs.set()
        stop_server(self._server)
        self._server = None
        with self._outbox_cv:
            self._stopping = True
            self._outbox_cv.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=5)
            self._worker = None
        self._wake_hangs.clear()
        self._stopping = False
        if self._owns_webhook_client and self._webhook_client is not None:
            self._webhook_client.close()
            self._webhook_client = None

    close = shutdown

    def __enter__(self) -> EconomicFake:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

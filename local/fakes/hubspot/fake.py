"""``HubSpotFake``: one in-memory HubSpot portal (state, test control, serving)."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from werkzeug.serving import BaseWSGIServer

from local.fakes.hubspot.app import AppMixin
from local.fakes.hubspot.associations import AssociationsMixin
from local.fakes.hubspot.constants import LAST_MODIFIED, OBJECT_TYPES, TYPE_ALIASES
from local.fakes.hubspot.faults import Faults
from local.fakes.hubspot.helpers import ApiError, _as_ms, _ok
from local.fakes.hubspot.hierarchy import HierarchyMixin
from local.fakes.hubspot.merges import MergeMixin
from local.fakes.hubspot.model import (
    DEFAULT_SUBSCRIPTIONS,
    Delivery,
    StoredObject,
    Subscription,
    _Associations,
)
from local.fakes.hubspot.notes import NotesMixin
from local.fakes.hubspot.oauth import DEFAULT_SCOPES, OAuthMixin, OAuthSpecValidator
from local.fakes.hubspot.objects import ObjectsMixin
from local.fakes.hubspot.owners import OwnersMixin
from local.fakes.hubspot.properties import PropertiesMixin, default_groups, default_properties
from local.fakes.hubspot.ratelimit import RateLimitMixin
from local.fakes.hubspot.records import RecordsMixin
from local.fakes.hubspot.search import SearchMixin
from local.fakes.hubspot.webhooks import WebhookMixin
from local.fakes.serving import serve_in_thread, stop_server


class HubSpotFake(
    AppMixin,
    OAuthMixin,
    RateLimitMixin,
    NotesMixin,
    OwnersMixin,
    HierarchyMixin,
    RecordsMixin,
    SearchMixin,
    ObjectsMixin,
    MergeMixin,
    AssociationsMixin,
    PropertiesMixin,
    WebhookMixin,
):
    """In-memory HubSpot CRM. Thread-safe; one instance is one portal with one private app and one public app.

    Constructor arguments (all keyword except the token):

    - ``access_token``: the private-app token accepted in ``Authorization: Bearer``.
    - ``portal_id``, ``app_id``, ``client_secret``: identity used in webhook payloads and signatures.
    - ``oauth_client_id``, ``oauth_client_secret`` (``None``: ``client_secret``, one app secret as in HubSpot),
      ``oauth_refresh_token``: the public app's credentials for ``POST /oauth/v1/token``; ``oauth_expires_in``
      (1800 s) the issued access tokens' lifetime; ``rotate_refresh_tokens``: each grant replaces the
      refresh token (see ``local.fakes.hubspot.oauth``).
    - ``target_url``: where webhook batches are POSTed (``None``: events are only recorded in ``events``).
    - ``subscriptions``: ``(eventType, propertyName|None)`` pairs or ``Subscription``s; default as HubSpot
      apps usually subscribe (creation/deletion/propertyChange/merge for both, contact.associationChange).
    - ``webhook_client``: the ``httpx.Client`` used for deliveries (inject a WSGITransport client in tests).
    - ``rate_limit_per_10s`` (default 100, private app Free/Starter), ``daily_limit`` (250,000) and
      ``search_rate_limit_per_s`` (5); ``None`` disables each. ``send_retry_after`` adds ``Retry-After``
      to 429s (off by default: HubSpot documents none).
    - ``faults``: a ``Faults`` (change it at runtime with ``fake.faults = ...`` or ``set_faults``);
      ``clock``: epoch-seconds source (inject to control timestamps and windows).
    - ``strict_spec``: validate every request body and response body against the OpenAPI specs and record
      problems in ``spec_violations`` (tests assert it stays empty).
    - ``null_for_unset``: return requested-but-unset properties as ``null`` like the live API sometimes does
      (off by default because the spec types property values as plain strings).
    - ``search_index_lag_s``: seconds (on ``clock``) before a write shows in search (0: at once).
    - ``merge_new_id``: a merge answers with a record under a *new* id (the webhook's ``newObjectId``); both
      old ids then resolve to it on reads. Default ``True`` (as HubSpot); ``False``: the primary keeps its id.
    """

    def __init__(
        self,
        access_token: str = "pat-na1-fake-token",
        *,
        portal_id: int = 62515,
        app_id: int = 54321,
        client_secret: str = "fake-client-secret",
        target_url: str | None = None,
        subscriptions: Iterable[Subscription | tuple[str, str | None]] | None = None,
        webhook_client: httpx.Client | None = None,
        rate_limit_per_10s: int | None = 100,
        daily_limit: int | None = 250_000,
        search_rate_limit_per_s: int | None = 5,
        send_retry_after: bool = False,
        faults: Faults | None = None,
        clock: Callable[[], float] = time.time,
        webhook_max_attempts: int = 5,
        webhook_retry_delay: float = 0.05,
        strict_spec: bool = False,
        spec_dir: Path | None = None,
        null_for_unset: bool = False,
        search_max_results: int = 10_000,
        search_index_lag_s: float = 2.0,
        merge_new_id: bool = True,
        oauth_client_id: str = "fake-client-id",
        oauth_client_secret: str | None = None,
        oauth_refresh_token: str = "fake-refresh-token",
        oauth_expires_in: int = 1800,
        oauth_scopes: Iterable[str] = DEFAULT_SCOPES,
        rotate_refresh_tokens: bool = False,
    ) -> None:
        if search_index_lag_s < 0:
            raise ValueError("search_index_lag_s must not be negative")
        if oauth_expires_in <= 0:
            raise ValueError("oauth_expires_in must be positive")
        self.access_token = access_token
        self.portal_id = portal_id
        self.app_id = app_id
        self.client_secret = client_secret
        self.target_url = target_url
        self.rate_limit_per_10s = rate_limit_per_10s
        self.daily_limit = daily_limit
        self.search_rate_limit_per_s = search_rate_limit_per_s
        self.send_retry_after = send_retry_after
        self._faults = faults or Faults()
        self.clock = clock
        self.webhook_max_attempts = webhook_max_attempts
        self.webhook_retry_delay = webhook_retry_delay
        self.null_for_unset = null_for_unset
        self.search_max_results = search_max_results
        self.search_index_lag_s = search_index_lag_s
        self.merge_new_id = merge_new_id
        self.oauth_client_id = oauth_client_id
        self.oauth_client_secret = client_secret if oauth_client_secret is None else oauth_client_secret
        self.oauth_refresh_token = oauth_refresh_token
        self.oauth_expires_in = oauth_expires_in
        self.oauth_scopes = tuple(oauth_scopes)
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.spec = OAuthSpecValidator(spec_dir) if strict_spec else None
        self.spec_violations: list[str] = []
        self._webhook_client = webhook_client
        self._owns_webhook_client = webhook_client is None
        self._subscription_seed = (
            list(subscriptions) if subscriptions is not None else list(DEFAULT_SUBSCRIPTIONS)
        )

        self._lock = threading.RLock()
        self._cv = threading.Condition()
        self._url_map = self._build_map()
        self._server: BaseWSGIServer | None = None
        self._worker: threading.Thread | None = None
        self._stopping = False
        self._wake_hangs = threading.Event()  # set by shutdown() to end injected hangs early
        self.reset()

    # ---------------------------------------------------------------------------------- state

    def reset(self) -> None:
        """Forget every record, association, custom property, counter, event and pending delivery."""
        with self._lock, self._cv:
            self._seed_rngs()
            self._objects: dict[str, dict[str, StoredObject]] = {t: {} for t in OBJECT_TYPES}
            self._ids = {t: itertools.count(1_000_001) for t in OBJECT_TYPES}
            self._properties = {t: default_properties(t) for t in OBJECT_TYPES}
            self._groups = {t: default_groups(t) for t in OBJECT_TYPES}
            self._unique: dict[str, dict[str, dict[str, str]]] = {t: {} for t in OBJECT_TYPES}
            self._unique["contacts"]["email"] = {}
            self._merged_into: dict[str, dict[str, str]] = {t: {} for t in OBJECT_TYPES}
            # (otype, id) -> [(visible from (clock s), snapshot; None = gone)], oldest first: search's view
            self._search_index: dict[tuple[str, str], list[tuple[float, StoredObject | None]]] = {}
            # (contact_id, company_id) -> is_primary
            self._assoc = _Associations()
            self._calls: Counter[str] = Counter()
            self._counters: Counter[str] = Counter()
            self._webhook_counts: Counter[str] = Counter()  # guarded by _cv
            self._windows: dict[str, deque[float]] = {}
            self._search_windows: dict[str, deque[float]] = {}
            self._daily: dict[tuple[str, str], int] = {}
            self.request_log: list[dict[str, Any]] = []
            self.events: list[dict[str, Any]] = []
            self.deliveries: list[Delivery] = []
            self._pending: list[dict[str, Any]] = []
            self._outbox: list[dict[str, Any]] = []
            self._retries: list[tuple[float, int, int, list[dict[str, Any]]]] = []
            self._retry_seq = itertools.count()
            self._inflight = 0
            self._event_ids = itertools.count(100_000_001)
            self.subscriptions: list[Subscription] = []
            for i, sub in enumerate(self._subscription_seed, start=1):
                s = sub if isinstance(sub, Subscription) else Subscription(sub[0], sub[1])
                self.subscriptions.append(
                    Subscription(s.event_type, s.property_name, s.active, s.id or 500_000 + i)
                )
            self._reset_oauth()
            self._reset_notes()
            self._reset_owners()
            self._reset_hierarchy()
            self.spec_violations.clear()

    def _seed_rngs(self) -> None:
        seed = self._faults.seed
        self.rng = random.Random(seed)  # API call faults
        self._webhook_rng = random.Random(seed + 1)  # webhook drop/duplicate
        self._reorder_rng = random.Random(seed + 2)  # webhook batch shuffles
        self._latency_rng = random.Random(seed + 3)  # random reply latency

    @property
    def faults(self) -> Faults:
        """The active ``Faults``. Assigning a new one is ``set_faults(new)`` (it reseeds the RNGs)."""
        return self._faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        self.set_faults(faults)

    def set_faults(self, faults: Faults | None = None, /, **changes: Any) -> Faults:
        """Switch fault injection at runtime and reseed its RNGs from the (new) ``seed``.

        ``set_faults(Faults(rate_timeout=0.1, seed=7))`` replaces everything, ``set_faults(rate_429=0.2)``
        changes fields of the active faults, ``set_faults(Faults())`` switches everything off. Records,
        counters and queued webhooks are kept; calls already past the fault draw are not affected.
        Returns the active faults.
        """
        new = replace(faults if faults is not None else self._faults, **changes)
        with self._lock, self._cv:
            self._faults = new
            self._seed_rngs()
        return new

    def _hang(self, seconds: float) -> None:
        """Sleep for an injected delay without holding any lock; ``shutdown()`` cuts it short."""
        if seconds > 0:
            self._wake_hangs.wait(seconds)

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # ---------------------------------------------------------------------------------- test control

    def stats(self) -> dict[str, Any]:
        """API call counts: ``calls`` by ``"METHOD /path/template"``, ``reads``, ``writes``, ``total``,
        plus rejected calls (``rate_limited``, ``unauthorized``), injected faults (``faults``: every
        injected fault answer; of them ``timeouts`` and ``timeouts_after_commit``), random latency
        (``slow_replies``, ``added_latency_s``), token endpoint counters (``oauth``: ``token_calls``,
        ``refused``, ``expired``) and webhook counters (see ``Faults``)."""
        with self._lock, self._cv:
            return {
                "calls": dict(self._calls),
                "reads": self._counters["reads"],
                "writes": self._counters["writes"],
                "total": self._counters["reads"] + self._counters["writes"],
                "rate_limited": self._counters["rate_limited"],
                "unauthorized": self._counters["unauthorized"],
                "faults": self._counters["faults"],
                "timeouts": self._counters["timeouts"],
                "timeouts_after_commit": self._counters["timeouts_after_commit"],
                "slow_replies": self._counters["slow_replies"],
                "added_latency_s": round(self._counters["added_latency_us"] / 1e6, 6),
                "oauth": self.oauth_stats(),
                "webhooks": {
                    "events": len(self.events),
                    "deliveries": len(self.deliveries),
                    "failed_deliveries": sum(1 for d in self.deliveries if d.error or not _ok(d.status)),
                    "pending": len(self._outbox) + len(self._retries),
                    "dropped": self._webhook_counts["dropped"],
                    "duplicated": self._webhook_counts["duplicated"],
                    "reordered": self._webhook_counts["reordered"],
                    "given_up": self._webhook_counts["given_up"],
                },
            }

    def calls(self, method: str, template: str) -> int:
        """Shortcut: how many accepted calls hit ``METHOD template`` (e.g. ``POST /crm/v3/objects/...``)."""
        return self.stats()["calls"].get(f"{method.upper()} {template}", 0)

    def records(self, object_type: str, *, include_archived: bool = False) -> list[dict[str, Any]]:
        """Every record of a type as API-shaped dicts with all properties (and ``associations`` ids)."""
        otype = TYPE_ALIASES[object_type]
        with self._lock:
            out = []
            for obj in sorted(self._objects[otype].values(), key=lambda o: int(o.id)):
                if obj.archived and not include_archived:
                    continue
                item = self._serialize(obj, list(obj.properties))
                item["associations"] = self._associated_ids(otype, obj.id)
                out.append(item)
            return out

    def record(self, object_type: str, object_id: str) -> dict[str, Any] | None:
        return next(
            (r for r in self.records(object_type, include_archived=True) if r["id"] == object_id), None
        )

    def edit(
        self,
        object_type: str,
        object_id: str,
        properties: Mapping[str, Any],
        *,
        change_source: str = "CRM_UI",
        source_id: str = "userId:1001",
    ) -> dict[str, Any]:
        """A salesperson edits a record in the UI: values change, webhooks fire, no API call is counted.

        Raises ``ValueError`` for an unknown/read-only property or a unique-value clash (the UI refuses too).
        The lifecycle forward-only rule is not applied: the UI lets users move stages either way.
        """
        otype = TYPE_ALIASES[object_type]
        with self._lock:
            obj = self._objects[otype].get(object_id)
            if obj is None or obj.archived:
                raise KeyError(f"{otype} {object_id} does not exist")
            try:
                props = self._validate(otype, properties, existing=obj, lifecycle=False)
            except ApiError as exc:
                raise ValueError(exc.body["message"]) from exc
            self._apply(obj, props, (change_source, source_id))
            self._commit_events()
            return self._serialize(obj, list(obj.properties))

    def create(
        self,
        object_type: str,
        properties: Mapping[str, Any],
        *,
        change_source: str = "CRM_UI",
        source_id: str = "userId:1001",
    ) -> str:
        """A salesperson creates a record in the UI (webhooks fire, not counted). Returns the new id."""
        otype = TYPE_ALIASES[object_type]
        with self._lock:
            try:
                obj = self._create(otype, properties, source=(change_source, source_id))
            except ApiError as exc:
                raise ValueError(exc.body["message"]) from exc
            self._commit_events()
            return obj.id

    def delete(self, object_type: str, object_id: str, *, change_source: str = "CRM_UI") -> None:
        """A salesperson deletes (archives) a record in the UI."""
        otype = TYPE_ALIASES[object_type]
        with self._lock:
            obj = self._objects[otype].get(object_id)
            if obj is not None and not obj.archived:
                self._archive(obj, (change_source, "userId:1001"))
            self._commit_events()

    def associate(self, contact_id: str, company_id: str, *, primary: bool | None = None) -> None:
        """A salesperson links a contact to a company in the UI (``primary=None``: primary if it has none)."""
        with self._lock:
            for otype, oid in (("contacts", contact_id), ("companies", company_id)):
                if self._live(otype, oid) is None:
                    raise KeyError(f"{otype} {oid} does not exist")
            self._add_association(contact_id, company_id, primary=primary, source=("CRM_UI", "userId:1001"))
            self._commit_events()

    def seed(self, object_type: str, rows: Iterable[Mapping[str, Any]]) -> list[str]:
        """Fast path for big fixtures: store records directly (no webhooks, no call counting).

        Rows are property maps; ``createdate`` and the last-modified property may be given (ISO, epoch ms
        or ``datetime``) to control timestamps. Property names and unique values are still checked.
        """
        otype = TYPE_ALIASES[object_type]
        lastmod = LAST_MODIFIED[otype]
        ids = []
        with self._lock:
            now = self._now_ms()
            for row in rows:
                props = dict(row)
                created = _as_ms(props.pop("createdate", now))
                modified = _as_ms(props.pop(lastmod, created))
                clean = self._validate(otype, props, existing=None, lifecycle=False)
                self._check_unique(otype, clean, None)
                oid = str(next(self._ids[otype]))
                obj = StoredObject(oid, otype, {}, created, modified)
                self._objects[otype][oid] = obj
                for name, value in clean.items():
                    if value != "":
                        obj.properties[name] = value
                        self._index(otype, oid, name, value)
                self._stamp(obj, created=created, modified=modified)
                self._search_index.pop((otype, oid), None)  # fixtures count as indexed already
                if self.search_index_lag_s > 0:
                    self._search_index[(otype, oid)] = [
                        (float("-inf"), replace(obj, properties=dict(obj.properties)))
                    ]
                ids.append(oid)
        return ids

    def flush_webhooks(self, timeout: float = 5.0) -> bool:
        """Wait until every queued webhook batch was delivered (or gave up). True if the outbox drained."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._outbox or self._retries or self._inflight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cv.wait(min(remaining, 0.05))
            return True

    # ---------------------------------------------------------------------------------- serving

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> tuple[BaseWSGIServer, str]:
        """Serve the fake on ``host:port`` (0 = any free port) from a daemon thread; returns the base URL."""
        server, url = serve_in_thread(self.app, "hubspot-fake", host, port)
        self._server = server
        return server, url

    def shutdown(self) -> None:
        """Stop the server (if serving), the webhook worker, and close the owned webhook client."""
        self._wake_hangs.set()
        stop_server(self._server)
        self._server = None
        with self._cv:
            self._stopping = True
            worker = self._worker
            self._cv.notify_all()
        if worker is not None:
            worker.join(timeout=2)
        self._wake_hangs.clear()
        if self._webhook_client is not None and self._owns_webhook_client:
            self._webhook_client.close()
            self._webhook_client = None
        self._stopping = False

    close = shutdown

"""The sync service: the one place that turns signals into record changes and records into vendor writes.

Every entry point ends here: webhooks and scheduled pulls only enqueue ``Signal``s, the worker calls
``handle_signal`` and the stream consumer calls ``push_records``. The engine decides; this module
does the I/O around it (connectors, store) and retries optimistic-lock conflicts.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any, Literal

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field

from crmsync import preflight, value_maps
from crmsync.budget import Priority
from crmsync.config import TenantConfig, TransferTiming
from crmsync.connectors.base import (
    AuthError,
    Connector,
    SourceRecord,
    TransientError,
    VendorError,
    WriteItem,
    WriteResult,
)
from crmsync.connectors.registry import ConnectionUnavailable, ConnectorProvider
from crmsync.engine import (
    Decision,
    PushAction,
    ReconcileOutcome,
    after_write,
    may_create,
    plan_push,
    reconcile,
)
from crmsync.models import (
    Base,
    ConflictStatus,
    ConnectionKind,
    Fields,
    ObjectType,
    Record,
    Side,
    Signal,
    SignalBundle,
    SyncMode,
    utcnow,
)
from crmsync.signal_queue import SignalQueue, retry_delay
from crmsync.store import (
    ORIGIN_BASE,
    ORIGIN_SYNC,
    LinkTaken,
    StoreError,
    SyncStore,
    VersionConflict,
    new_record_id,
)

logger = Logger(child=True)
metrics = Metrics()  # Powertools shares the metric set: the handler's ``log_metrics`` flushes these

MAX_LOCK_RETRIES = 6
STORE_CONCURRENCY = 8
"""Records the push saves at once after a vendor batch (boto3 clients are thread-safe; their
connection pool holds 10)."""
PULL_CHUNK = 1000
"""Records a pull compares and enqueues at a time (one e-conomic page; ten HubSpot search pages)."""
INGEST_CONFIG_MAX_AGE = 30.0
"""Seconds webhook ingestion may use a tenant's config before reading it again."""
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
NEEDS_ATTENTION = "needs_attention"
PROBE_MAX_MINUTES = 60
"""While a connection needs attention, one probe call is let through after 1, 2, 4 ... minutes (capped)."""
CONNECTION_FAILURES: tuple[type[Exception], ...] = (ConnectionUnavailable, AuthError)
"""Failures of a tenant connection (its secret, its credentials), never of a record: contained to it."""


class UnknownTenant(Exception):
    pass


@dataclass
class SyncContext:
    """Everything the service needs, built once per Lambda container by ``crmsync.runtime``."""

    store: SyncStore
    connectors: ConnectorProvider
    queue: SignalQueue | None = None
    clock: Callable[[], datetime] = utcnow
    decisions: Counter[str] = field(default_factory=Counter)
    priority: Priority = Priority.LIVE
    """Whose turn it is on the rate budget: live changes, or bulk work (pulls, transfer pages)."""
    _configs: dict[str, TenantConfig] = field(default_factory=dict)
    _prefetched: dict[tuple[str, str, str, str], SourceRecord | None] = field(default_factory=dict)
    _handled: set[tuple[str, str, str, str]] = field(default_factory=set)
    _links: dict[tuple[str, str, str, str], str | None] = field(default_factory=dict)
    _records: dict[tuple[str, str], Record] = field(default_factory=dict)
    _journal_buffer: list[tuple[str, str, dict[str, Any], datetime]] | None = None
    _ingest_configs: dict[str, tuple[TenantConfig, float]] = field(default_factory=dict)
    _conn_states: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def config(self, tenant_id: str) -> TenantConfig:
        config = self._configs.get(tenant_id) or self._read_config(tenant_id)
        self._configs[tenant_id] = config
        return config

    def _read_config(self, tenant_id: str) -> TenantConfig:
        config = self.store.get_config(tenant_id)
        if config is None:
            raise UnknownTenant(tenant_id)
        return config

    def ingest_config(self, tenant_id: str, max_age: float = INGEST_CONFIG_MAX_AGE) -> TenantConfig:
        """The tenant's config for webhook ingestion, kept up to ``max_age`` seconds across invocations.

        Ingestion only checks which connection a webhook is for and how to verify it, on every
        delivery (often one per second): one config read per delivery was the largest share of its
        DynamoDB operations. A config change reaches ingestion within ``max_age``; the worker, which
        decides what to sync, still reads the config fresh on every invocation.
        """
        cached = self._ingest_configs.get(tenant_id)
        if cached is not None and time.monotonic() - cached[1] < max_age:
            return cached[0]
        config = self._read_config(tenant_id)
        self._ingest_configs[tenant_id] = (config, time.monotonic())
        return config

    def forget_configs(self) -> None:
        """Configs are cached for one invocation only, so a config change applies on the next one."""
        self._configs.clear()
        self._conn_states.clear()
        self._prefetched.clear()
        self._handled.clear()
        self._links.clear()
        self._records.clear()

    # One-shot read caches, filled by ``prefetch`` with one batch read per 100 keys. Each entry is
    # used once and dropped when this invocation writes the item, so a retry after an optimistic-lock
    # conflict always reads the table again; a stale entry can only cost such a retry (every write is
    # conditional), never a wrong write.
    def find_link(
        self, tenant_id: str, conn: str, obj: ObjectType, ext: str, *, trust_miss: bool = True
    ) -> str | None:
        key = (tenant_id, conn, obj.value, ext)
        if key in self._links:
            found = self._links.pop(key)
            if found is not None or trust_miss:
                return found
        return self.store.find_link(tenant_id, conn, obj, ext)

    def get_record(self, tenant_id: str, record_id: str) -> Record | None:
        cached = self._records.pop((tenant_id, record_id), None)
        return cached if cached is not None else self.store.get_record(tenant_id, record_id)

    def saved(self, record: Record, links: Iterable[tuple[str, str]] = ()) -> None:
        """This invocation wrote ``record`` (and these links): later reads go to the table."""
        self._records.pop((record.tenant_id, record.record_id), None)
        for conn, ext in links:
            self._links.pop((record.tenant_id, conn, record.object_type.value, ext), None)

    def journal(self, tenant_id: str, record_id: str, entry: dict[str, Any]) -> None:
        """A timeline entry; inside ``journal_batch`` it is written with the batch (25 per request)."""
        if self._journal_buffer is None:
            self.store.journal(tenant_id, record_id, entry)
        else:
            self._journal_buffer.append((tenant_id, record_id, entry, utcnow()))

    @contextmanager
    def journal_batch(self) -> Iterator[None]:
        """Collect timeline entries and write them together at the end (also when the body raises:
        what was decided and saved before the failure stays on the timeline)."""
        if self._journal_buffer is not None:
            yield  # already collecting
            return
        self._journal_buffer = []
        try:
            yield
        finally:
            entries, self._journal_buffer = self._journal_buffer, None
            if entries:
                self.store.journal_many(entries)

    def first_in_invocation(self, signal: Signal) -> bool:
        """Is this the first signal for its record in this invocation?

        Every signal of an invocation was enqueued before it started, and reconciling re-reads the
        source during it, so the first one already saw what the later ones announce: they are skipped
        (webhook batches, duplicates and an overlapping pull often name one record many times).
        """
        key = (signal.tenant_id, signal.connection_id, signal.object_type.value, signal.external_id)
        if key in self._handled:
            return False
        self._handled.add(key)
        return True

    def read_source(self, connector: Connector, signal: Signal) -> SourceRecord | None:
        """The source record, from this invocation's batch read if there was one (used once)."""
        key = (signal.tenant_id, signal.connection_id, signal.object_type.value, signal.external_id)
        if key in self._prefetched:
            return self._prefetched.pop(key)
        return connector.get(signal.object_type, signal.external_id)


@dataclass
class SignalOutcome:
    decision: str
    record_id: str | None = None
    applied: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    renumbered_from: str | None = None
    """The old number when this signal moved a verified e-conomic renumbering's link."""


# --------------------------------------------------------------------------------------------
# Connection state: a tenant connection's failure stays with it (see crmsync/health.py)
# --------------------------------------------------------------------------------------------


def connection_state(ctx: SyncContext, config: TenantConfig, conn: str) -> dict[str, Any] | None:
    """The stored state of a tenant connection (``None``: never failed), read once per invocation."""
    states = ctx._conn_states.get(config.tenant_id)
    if states is None:
        try:
            states = ctx.store.connection_states(
                config.tenant_id, [c.connection_id for c in config.connections]
            )
        except StoreError:
            states = {}  # unknown: the vendor is called, as before there was a state
        ctx._conn_states[config.tenant_id] = states
    return states.get(conn)


def connection_reason(exc: Exception) -> str:
    """Why a connection failed, for people: the kind of failure, never a secret's value."""
    if isinstance(exc, ConnectionUnavailable):
        return exc.reason
    if isinstance(exc, AuthError):
        status = f" ({exc.status})" if exc.status else ""
        return f"the vendor refused the credentials{status}: {exc.message[:200]}"
    return type(exc).__name__


def failed_connection(exc: Exception, default: str) -> str:
    """The connection a failure belongs to (an auth error does not name one: the caller's)."""
    return exc.connection_id if isinstance(exc, ConnectionUnavailable) else default


def connection_failed(ctx: SyncContext, config: TenantConfig, conn: str, exc: Exception) -> str:
    """Mark a tenant connection ``needs_attention`` (reason, since, next probe); returns the reason."""
    reason = connection_reason(exc)
    ctx.connectors.forget(config, conn)  # a fixed secret is read again on the next use
    now = ctx.clock()
    previous = connection_state(ctx, config, conn) or {}
    failures = int(previous.get("failures", 0)) + 1 if previous.get("state") == NEEDS_ATTENTION else 1
    delay = min(2 ** min(failures - 1, 6), PROBE_MAX_MINUTES)
    state = {
        "state": NEEDS_ATTENTION,
        "reason": reason,
        "error": type(exc).__name__,
        "failures": failures,
        "last_failure_at": now.isoformat(),
        "next_probe_at": (now + timedelta(minutes=delay)).isoformat(),
        "config_version": config.version,
    }
    logger.warning(
        "tenant connection needs attention; its work is parked",
        extra={"tenant": config.tenant_id, "connection": conn, "error": type(exc).__name__},
    )
    try:
        stored = ctx.store.connection_failed(config.tenant_id, conn, state, since=now.isoformat())
    except StoreError:
        stored = {**state, "since": previous.get("since") or now.isoformat()}
    ctx._conn_states.setdefault(config.tenant_id, {})[conn] = stored
    metrics.add_metric(name="ConnectionNeedsAttention", unit=MetricUnit.Count, value=1)
    return reason


def connection_succeeded(ctx: SyncContext, config: TenantConfig, conn: str) -> None:
    """A vendor call on the connection worked: back to ``ok`` (written only when it was not)."""
    state = connection_state(ctx, config, conn)
    if state is None or state.get("state") != NEEDS_ATTENTION:
        return
    now = ctx.clock().isoformat()
    try:
        ctx.store.connection_ok(config.tenant_id, conn, now)
    except StoreError:
        return  # stays marked; the next success clears it
    ctx._conn_states.setdefault(config.tenant_id, {})[conn] = {"state": "ok", "since": now}
    logger.info("tenant connection works again", extra={"tenant": config.tenant_id, "connection": conn})


def circuit_open(ctx: SyncContext, config: TenantConfig, conn: str, *, force: bool = False) -> str | None:
    """The reason not to call the vendor on ``conn`` now, or ``None``.

    While a connection needs attention its work is parked at once; one probe goes through when its
    time comes (1, 2, 4 ... minutes after the last failure, at most 60), after a config change, or when
    a person forces it (a replay).
    """
    if force:
        return None
    state = connection_state(ctx, config, conn)
    if state is None or state.get("state") != NEEDS_ATTENTION:
        return None
    if state.get("config_version") != config.version:
        return None  # the config changed since (environment, connection): try it
    if not state.get("secret_checked"):
        state["secret_checked"] = True  # once per invocation (an unreadable secret is not cached)
        if ctx.connectors.credentials_changed(config, conn):
            return None  # the secret was replaced since it failed here: try it
    probe = state.get("next_probe_at")
    if not isinstance(probe, str) or ctx.clock() >= datetime.fromisoformat(probe):
        # This caller is the probe; the others wait for its outcome (or the next probe time).
        state["next_probe_at"] = (ctx.clock() + timedelta(minutes=PROBE_MAX_MINUTES)).isoformat()
        return None
    return str(state.get("reason") or "the connection needs attention")


def transfer_page_contained(ctx: SyncContext, page: BaseModel, apply: Callable[[], Any]) -> bool:
    """Run a transfer page; a failure of one of its tenant's connections parks the page (replayable)
    instead of failing the batch. Returns whether the page ran."""
    tenant = str(getattr(page, "tenant_id", ""))
    config = ctx.config(tenant)
    try:
        apply()
        return True
    except ConnectionUnavailable as exc:
        reason = connection_failed(ctx, config, exc.connection_id, exc)
    except AuthError as exc:
        # It names no connection: the page is parked with the reason; the next signal or pull on the
        # refusing connection marks that one.
        reason = connection_reason(exc)
    park_message(ctx, page.model_dump(mode="json"), reason)
    return False


def park_signal(ctx: SyncContext, signal: Signal, reason: str) -> str | None:
    """Park a signal whose connection failed (replayable: ``POST /parked/{id}/replay``)."""
    return park_message(ctx, signal.model_dump(mode="json"), reason)


def handle_signal_contained(ctx: SyncContext, signal: Signal) -> SignalOutcome:
    """``handle_signal``, with a failure of the tenant connection parked instead of raised.

    A missing or unreadable secret, or credentials the vendor refuses, belong to that tenant
    connection: the signal is parked with the reason (visible, replayable), the connection is marked
    ``needs_attention``, and the rest of the batch (other tenants' signals) goes on.
    """
    config = ctx.config(signal.tenant_id)
    reason = circuit_open(ctx, config, signal.connection_id, force=signal.source == "replay")
    if reason is None:
        try:
            outcome = handle_signal(ctx, signal)
        except CONNECTION_FAILURES as exc:
            reason = connection_failed(ctx, config, failed_connection(exc, signal.connection_id), exc)
        else:
            connection_succeeded(ctx, config, signal.connection_id)
            return outcome
    park_signal(ctx, signal, reason)
    ctx.decisions["parked"] += 1
    return SignalOutcome(decision="parked")


# --------------------------------------------------------------------------------------------
# Signals -> records
# --------------------------------------------------------------------------------------------


def handle_signal(ctx: SyncContext, signal: Signal) -> SignalOutcome:
    """Re-read the source record, reconcile it into crmsync's record and save (version-checked)."""
    config = ctx.config(signal.tenant_id)
    # Every mode records what it sees (``off`` too: switching on later starts from the truth);
    # whether anything is written to a vendor is the push's decision.
    connector = ctx.connectors.get(config, signal.connection_id)
    for _ in range(MAX_LOCK_RETRIES):
        try:
            outcome = _reconcile_once(ctx, config, connector, signal)
        except (VersionConflict, LinkTaken):
            continue  # somebody else wrote first: read again and decide again
        ctx.decisions[outcome.decision] += 1
        old_number = signal.hint.get("old_number")
        if old_number and old_number != signal.external_id and outcome.renumbered_from is None:
            # An unverified renumbering (a forged or stale webhook, a number taken by another record)
            # is two ordinary signals: the new number was reconciled as itself, now the old one.
            hint = {k: v for k, v in signal.hint.items() if k != "old_number"}
            plain = signal.model_copy(update={"external_id": old_number, "hint": hint})
            if ctx.first_in_invocation(plain):
                handle_signal(ctx, plain)
        return outcome
    raise VersionConflict(f"gave up after {MAX_LOCK_RETRIES} optimistic-lock retries")


def parse_signals(bodies: Iterable[str]) -> list[Signal]:
    """Valid signals among message bodies, bundles unpacked (an invalid one fails in the record handler)."""
    out: list[Signal] = []
    for body in bodies:
        try:
            out += SignalBundle.model_validate_json(body).signals
        except ValueError:
            try:
                out.append(Signal.model_validate_json(body))
            except ValueError:
                continue
    return out


def handle_bundle(ctx: SyncContext, bundle: SignalBundle) -> list[SignalOutcome]:
    """Reconcile every signal of a bundle; the ones that fail are re-queued one per message.

    A bundle of one fails as a whole instead (SQS retries it, and parks it after its last receive), so a
    signal that keeps failing is never re-queued in a circle.
    """
    if len(bundle.signals) == 1:
        (signal,) = bundle.signals
        if not ctx.first_in_invocation(signal):
            return [SignalOutcome(decision="coalesced")]
        return [handle_signal_contained(ctx, signal)]
    outcomes: list[SignalOutcome] = []
    failed: list[Signal] = []
    retry_after = 0.0
    with ctx.journal_batch():
        for signal in bundle.signals:
            if not ctx.first_in_invocation(signal):
                outcomes.append(SignalOutcome(decision="coalesced"))
                continue
            try:
                outcomes.append(handle_signal_contained(ctx, signal))
            except Exception as exc:
                logger.warning("signal failed; re-queued alone", extra={"connection": signal.connection_id})
                failed.append(signal)
                retry_after = max(retry_after, getattr(exc, "retry_after", None) or 0.0)
    if failed:
        assert ctx.queue is not None
        # Back after the first retry delay, as if it had failed alone (raises EnqueueError: then the
        # whole bundle is retried).
        ctx.queue.send_one_each(failed, delay=retry_delay(1, retry_after, base=ctx.queue.retry_base))
    return outcomes


def prefetch(ctx: SyncContext, signals: list[Signal]) -> None:
    """Batch-read the source records of a batch of signals (HubSpot reads 100 per call).

    A failed batch read is not an error: each signal then reads its record on its own.
    """
    groups: dict[tuple[str, str, ObjectType], set[str]] = defaultdict(set)
    for s in signals:
        groups[(s.tenant_id, s.connection_id, s.object_type)].add(s.external_id)
    for (tenant, conn, obj), ids in groups.items():
        if len(ids) < 2:
            continue
        try:
            config = ctx.config(tenant)
        except UnknownTenant:
            continue
        if circuit_open(ctx, config, conn) is not None:
            continue  # parked at once by the signals themselves
        try:
            found = ctx.connectors.get(config, conn).get_many(obj, sorted(ids))
        except CONNECTION_FAILURES as exc:
            # That tenant connection's failure: marked here, so its signals are parked without a call each.
            connection_failed(ctx, config, failed_connection(exc, conn), exc)
            continue
        except (KeyError, VendorError):
            continue
        connection_succeeded(ctx, config, conn)
        for ext, source in found.items():
            # Only what the batch returned: a missing id may be deleted *or* merged into another
            # (a batch read does not say which), so it is read on its own.
            ctx._prefetched[(tenant, conn, obj.value, ext)] = source
    _prefetch_state(ctx, signals)


def _prefetch_state(ctx: SyncContext, signals: list[Signal]) -> None:
    """Batch-read the links, records and contacts' customer links the signals will need.

    Without this every signal costs two or three single-item reads; with it a batch of 1,000
    signals costs about 30 requests. Only a contact's customer link that exists is kept (a
    customer that appears during the invocation must not look unknown).
    """
    by_tenant: dict[str, set[tuple[str, ObjectType, str]]] = defaultdict(set)
    hinted: dict[str, dict[tuple[str, ObjectType, str], str]] = defaultdict(dict)
    for s in signals:
        key = (s.connection_id, s.object_type, s.external_id)
        source = ctx._prefetched.get((s.tenant_id, s.connection_id, s.object_type.value, s.external_id))
        if source is not None and source.record_id and source.external_id == s.external_id:
            hinted[s.tenant_id][key] = source.record_id  # the record read directly, no link read
        else:
            by_tenant[s.tenant_id].add(key)
    for (tenant, conn, obj_value, _), source in ctx._prefetched.items():
        if obj_value == ObjectType.CONTACT.value and source is not None and source.parent_external_id:
            by_tenant[tenant].add((conn, ObjectType.CUSTOMER, source.parent_external_id))
    for tenant in by_tenant.keys() | hinted.keys():
        keys, hints = by_tenant[tenant], hinted[tenant]
        if len(keys) + len(hints) < 2:
            continue
        try:
            links = ctx.store.find_links(tenant, keys) if keys else {}
            wanted = {rid for rid in links.values() if rid} | set(hints.values())
            records = ctx.store.get_records(tenant, wanted)
            # A hint is a vendor's copy of crmsync's id (a person can edit it, an unlink leaves it
            # behind): it counts only when that record's link names this very external id.
            unproven = {
                k for k, rid in hints.items() if k not in links and not _links_to(records.get(rid), k)
            }
            if unproven:
                links |= ctx.store.find_links(tenant, unproven)
                records |= ctx.store.get_records(
                    tenant, {rid for k in unproven if (rid := links[k]) and rid not in records}
                )
        except StoreError:
            continue  # each signal then reads on its own
        for key, rid in hints.items():
            links.setdefault(key, rid)
        for (conn, obj, ext), rid in links.items():
            ctx._links[(tenant, conn, obj.value, ext)] = rid
        for rid, record in records.items():
            ctx._records[(tenant, rid)] = record


def _links_to(record: Record | None, key: tuple[str, ObjectType, str]) -> bool:
    """Does ``record`` hold the link ``(connection, object type, external id)``?"""
    conn, obj, ext = key
    return record is not None and record.object_type is obj and record.links.get(conn) == ext


def _reconcile_once(
    ctx: SyncContext, config: TenantConfig, connector: Connector, signal: Signal
) -> SignalOutcome:
    store, tenant, conn = ctx.store, signal.tenant_id, signal.connection_id
    obj, ext = signal.object_type, signal.external_id
    now = ctx.clock()
    new_links: dict[str, str] = {}
    removed_links: dict[str, str] = {}

    record_id = ctx.find_link(tenant, conn, obj, ext)
    old_number = signal.hint.get("old_number")
    if record_id is None and old_number and old_number != ext:
        # e-conomic renumbered the customer: move the link, keep the record; but only once the
        # vendor confirms it (the webhook URL's numbers are not proof of anything).
        old_record_id = store.find_link(tenant, conn, obj, old_number)
        if old_record_id is not None and _renumber_confirmed(ctx, connector, signal, old_number):
            record_id = old_record_id
            removed_links[conn] = old_number
            new_links[conn] = ext
    record = ctx.get_record(tenant, record_id) if record_id else None

    source = ctx.read_source(connector, signal)
    reuses_ids = config.connection(conn).kind is ConnectionKind.ECONOMIC  # HubSpot ids are never reused
    if reuses_ids and record is not None and source is not None and record.bases.get(conn, Base()).deleted:
        # The id was deleted there and now answers again: e-conomic reuses deleted customer numbers,
        # so this is another customer. The old record lets go of the id (and is never re-created
        # there); the new customer becomes a record of its own.
        _release_reused_id(ctx, record, conn, ext, now)
        record, record_id = None, None
    if source is None:
        if record is None:
            return SignalOutcome(decision="unknown_deleted")
        base = record.bases.get(conn) or Base()
        if base.deleted:
            return SignalOutcome(decision=Decision.UNCHANGED, record_id=record.record_id)
        # A tombstone: the other side is never deleted automatically (a partial read must not
        # turn into a mass delete); the journal shows it.
        record.bases[conn] = base.model_copy(update={"deleted": True, "updated_at": now})
        store.save_record(record)
        record.version += 1
        from crmsync.deletes import on_source_deleted  # deletes imports this module

        other_side = on_source_deleted(ctx, config, record, conn, now)
        store.journal(
            tenant,
            record.record_id,
            {
                "at": now,
                "kind": "signal",
                "signal": signal.source,
                "decision": "source_deleted",
                "connection": conn,
                "other_side": other_side,
            },
        )
        return SignalOutcome(decision="source_deleted", record_id=record.record_id)

    if source.external_id != ext:
        # The vendor answered for another id: the record was merged into that one (HubSpot serves
        # a merged-away id as its survivor). Re-point the link, then reconcile the survivor instead
        # of deleting and re-creating anything.
        if record is not None:
            _follow_merge(ctx, record, conn, ext, source.external_id, now)
        return _reconcile_once(
            ctx, config, connector, signal.model_copy(update={"external_id": source.external_id})
        )
    source = _resolve_parent(ctx, config, connector, conn, source, signal)
    side = config.connection(conn).side
    unmapped: dict[str, str] | None = None
    if side is Side.CRM and obj is ObjectType.CUSTOMER:
        translated, unmapped = value_maps.from_crm(source.fields, config.value_maps)
        source = source.model_copy(update={"fields": translated})
    if (
        record is None
        and record_id is None
        and config.auto_link_exact
        and config.sync_mode is SyncMode.AUTOMATIC
    ):
        record = _exact_counterpart(ctx, config, side, source)
        if record is not None:
            new_links[conn] = ext  # joins the existing customer instead of becoming a duplicate
    if record is None:
        # No record yet, or a link claimed by a write that crashed before the record landed:
        # complete that record (same id) rather than creating a second one.
        record = Record(tenant_id=tenant, record_id=record_id or new_record_id(obj), object_type=obj)
        new_links[conn] = ext
    parent_before = record.fields.get("customer")
    if new_links:
        record.links[conn] = ext
    unmapped_moved = unmapped is not None and unmapped != record.unmapped
    if unmapped is not None:
        record.unmapped = unmapped
    outcome = reconcile(record, source, connection_id=conn, side=side, policy=config.field_policy, now=now)
    previous_base = record.bases.get(conn)
    base_moved = (
        previous_base is None
        or previous_base.fields != source.fields
        or previous_base.version != source.version
    )
    # The timeline: every signal and its decision, with the values it changed. A scheduled pull's
    # re-read that found nothing new is the one exception: the lookback re-reads every recent record
    # on every run, and its "unchanged" says nothing about the record.
    entry = None
    if signal.source != "pull" or outcome.decision is not Decision.UNCHANGED or new_links:
        entry = _signal_entry(record, signal, conn, source, outcome, unmapped, removed_links, now)
    if outcome.applied or outcome.conflicts or new_links or removed_links or base_moved or unmapped_moved:
        ctx.saved(outcome.record, [*new_links.items(), *removed_links.items()])
        store.save_record(
            outcome.record,
            new_links=new_links,
            removed_links=removed_links,
            parent_before=parent_before,
            log=[entry] if entry else [],  # lands with the change it describes
        )
    elif entry:
        ctx.journal(tenant, record.record_id, entry)  # nothing to save (an echo, say): its own item
    for conflict in outcome.conflicts:
        store.put_conflict(conflict)
    logger.debug("reconciled", extra={"record_id": record.record_id, "decision": outcome.decision.value})
    return SignalOutcome(
        decision=outcome.decision.value,
        record_id=record.record_id,
        applied=sorted(outcome.applied),
        conflicts=[c.field for c in outcome.conflicts],
        renumbered_from=removed_links.get(conn),
    )


def _renumber_confirmed(ctx: SyncContext, connector: Connector, signal: Signal, old_number: str) -> bool:
    """Is ``old_number -> signal.external_id`` a renumbering e-conomic itself shows?

    Only then may a link move: the old number is gone (the vendor no longer has it), the new one
    is there, and the new one is not linked to another record (read from the table, not from this
    invocation's cache). Both numbers are re-read through the connector (its rate budget): one
    ``$in:`` batch read, or one ``get`` of the old number when the new one was batch-read already.
    The new number's answer is kept for the reconcile, so confirming costs at most one vendor call.
    """
    tenant, conn, obj, new = signal.tenant_id, signal.connection_id, signal.object_type, signal.external_id
    if ctx.store.find_link(tenant, conn, obj, new) is not None:
        return False  # never steal another record's link
    key = (tenant, conn, obj.value, new)
    if key in ctx._prefetched:
        new_source = ctx._prefetched[key]
        old_present = connector.get(obj, old_number) is not None
    else:
        found = connector.get_many(obj, [old_number, new])
        new_source = found.get(new)
        old_present = old_number in found
        if new_source is not None:
            ctx._prefetched[key] = new_source  # the reconcile's read of the new number
    confirmed = not old_present and new_source is not None and new_source.external_id == new
    if not confirmed:
        logger.warning(
            "renumbering not confirmed by the vendor; handled as two signals",
            extra={"connection": conn, "old_present": old_present, "new_present": new_source is not None},
        )
    return confirmed


def _signal_entry(
    record: Record,
    signal: Signal,
    conn: str,
    source: SourceRecord,
    outcome: ReconcileOutcome,
    unmapped: dict[str, str] | None,
    removed_links: dict[str, str],
    now: datetime,
) -> dict[str, Any]:
    """The timeline entry of a reconciled signal (``record`` is the record before it)."""
    return {
        "at": now,
        "kind": "signal",
        "signal": signal.source,
        "connection": conn,
        "external_id": source.external_id,
        "decision": outcome.decision.value,
        "changes": {
            name: {"before": record.fields.get(name), "after": value}
            for name, value in sorted(outcome.applied.items())
        },
        "conflicts": [c.field for c in outcome.conflicts if c.status is not ConflictStatus.OVERRIDDEN],
        "held": outcome.held,
        "overridden": outcome.overridden,
        "unmapped": sorted(unmapped or {}),
        "renumbered_from": removed_links.get(conn),
    }


def _follow_merge(
    ctx: SyncContext, record: Record, conn: str, merged: str, survivor: str, now: datetime
) -> None:
    """A merged-away id: its record follows the company to the survivor instead of anything being
    deleted and re-created.

    * the survivor has no record yet: the link is re-pointed to the survivor;
    * the survivor's record exists only in the CRM: the two are linked (as the link screen would), so
      the surviving company is linked to this record's accounting customer;
    * the survivor is linked to another customer already: this record lets go of the merged id and is
      never re-created there; both accounting customers stay (a person decides in the link screen).
    """
    tenant = record.tenant_id
    survivor_rid = ctx.store.find_link(tenant, conn, record.object_type, survivor)
    if survivor_rid == record.record_id:
        return
    moved = record.model_copy(deep=True)
    if survivor_rid is None:
        moved.links[conn] = survivor
        ctx.store.save_record(moved, new_links={conn: survivor}, removed_links={conn: merged})
        decision = "merged_repointed"
    else:
        from crmsync import linking  # linking builds on this module

        moved.links.pop(conn, None)
        moved.bases.pop(conn, None)
        survivor_rec = ctx.store.get_record(tenant, survivor_rid)
        config = ctx.config(tenant)
        joinable = (
            survivor_rec is not None
            and linking.link_state(config, survivor_rec) == "crm_only"
            and linking.link_state(config, moved) == "accounting_only"
        )
        if not joinable and conn not in moved.blocked:
            moved.blocked.append(conn)
        ctx.store.save_record(moved, removed_links={conn: merged})
        if joinable:
            linking.link(ctx, tenant, survivor_rid, record.record_id)
            decision = "merged_linked"
        else:
            decision = "merged_into_other_record"
    ctx.store.journal(
        tenant,
        record.record_id,
        {
            "at": now,
            "kind": "signal",
            "decision": decision,
            "connection": conn,
            "external_id": survivor,
            "merged_id": merged,
        },
    )


def _release_reused_id(ctx: SyncContext, record: Record, conn: str, ext: str, now: datetime) -> None:
    released = record.model_copy(deep=True)
    released.links.pop(conn, None)
    released.bases.pop(conn, None)
    if released.fields.get("customer_number") == ext:
        # The number now belongs to another customer: the CRM company must not carry it any more.
        released.fields["customer_number"] = None
        released.field_sources["customer_number"] = conn
    if conn not in released.blocked:
        released.blocked.append(conn)
    ctx.store.save_record(released, removed_links={conn: ext})
    ctx.store.journal(
        record.tenant_id,
        record.record_id,
        {"at": now, "kind": "signal", "decision": "id_reused", "connection": conn, "external_id": ext},
    )


def _exact_counterpart(
    ctx: SyncContext, config: TenantConfig, side: Side, source: SourceRecord
) -> Record | None:
    """A CRM company that carries an accounting customer number belongs to that customer.

    The number is the accounting side's own id, so one lookup finds it; the match is taken only if
    that customer has no CRM counterpart yet. This runs before the new record is saved, so no push
    can create a duplicate customer in the meantime.
    """
    number = source.fields.get("customer_number")
    if side is not Side.CRM or source.object_type is not ObjectType.CUSTOMER or not isinstance(number, str):
        return None
    for conn in config.connections:
        if conn.side is not Side.ACCOUNTING:
            continue
        rid = ctx.store.find_link(config.tenant_id, conn.connection_id, ObjectType.CUSTOMER, number)
        candidate = ctx.store.get_record(config.tenant_id, rid) if rid else None
        if candidate is not None and not any(
            config.connection(c).side is Side.CRM
            for c in candidate.links
            if c in {x.connection_id for x in config.connections}
        ):
            return candidate
    return None


def _resolve_parent(
    ctx: SyncContext,
    config: TenantConfig,
    connector: Connector,
    conn: str,
    source: SourceRecord,
    signal: Signal,
) -> SourceRecord:
    """Contacts carry their customer as crmsync's record id, so both sides compare equal."""
    if source.object_type is not ObjectType.CONTACT:
        return source
    parent_rid = None
    if source.parent_external_id:
        parent_rid = ctx.find_link(
            signal.tenant_id, conn, ObjectType.CUSTOMER, source.parent_external_id, trust_miss=False
        )
        if parent_rid is None:
            # The customer is not known yet: reconcile it first, so the contact lands attached.
            handle_signal(
                ctx,
                Signal(
                    tenant_id=signal.tenant_id,
                    connection_id=conn,
                    object_type=ObjectType.CUSTOMER,
                    external_id=source.parent_external_id,
                    source=signal.source,
                ),
            )
            parent_rid = ctx.store.find_link(
                signal.tenant_id, conn, ObjectType.CUSTOMER, source.parent_external_id
            )
    fields = dict(source.fields)
    fields["customer"] = parent_rid
    return source.model_copy(update={"fields": fields})


# --------------------------------------------------------------------------------------------
# Records -> vendors
# --------------------------------------------------------------------------------------------


@dataclass
class PushReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    parked: int = 0
    stale: int = 0
    """Writes held back because the target changed meanwhile (reconciled first, then pushed again)."""
    failed: list[str] = field(default_factory=list)
    """Record ids whose write failed in a way worth retrying (the stream retries them)."""
    retry_after: float = 0.0
    """The longest wait a vendor or the rate budget asked for among those failures (0: none said)."""


def push_records(ctx: SyncContext, records: Iterable[Record], *, force: bool = False) -> PushReport:
    """Write changed records to every other connection of their tenant, batched per vendor call.

    ``records`` are stream images; several images of one record collapse to the newest. Customers
    go before contacts, so a new contact can be attached to its (possibly just created) customer.
    A target connection that fails as a whole (its secret, its credentials) or needs attention
    (``circuit_open``; ``force``: a person's replay tries anyway) gets its records parked as one
    replayable push per 100 records; every other tenant connection is written as usual.
    """
    report = PushReport()
    latest: dict[tuple[str, str], Record] = {}
    for rec in records:
        key = (rec.tenant_id, rec.record_id)
        if key not in latest or latest[key].version <= rec.version:
            latest[key] = rec
    by_tenant: dict[str, list[Record]] = defaultdict(list)
    for (tenant, _), rec in latest.items():
        by_tenant[tenant].append(rec)
    with ctx.journal_batch():
        for tenant, recs in by_tenant.items():
            try:
                config = ctx.config(tenant)
            except UnknownTenant:
                continue
            broken: dict[str, str] = {}
            for obj in (ObjectType.CUSTOMER, ObjectType.CONTACT):
                group = [r for r in recs if r.object_type is obj]
                for target in config.connections:
                    conn = target.connection_id
                    if not group:
                        continue
                    reason = broken.get(conn) or circuit_open(ctx, config, conn, force=force)
                    if reason is None:
                        written = report.created + report.updated
                        try:
                            _push_group(ctx, config, conn, obj, group, report)
                        except CONNECTION_FAILURES as exc:
                            failed = failed_connection(exc, conn)
                            reason = connection_failed(ctx, config, failed, exc)
                            broken[failed] = reason
                        else:
                            if report.created + report.updated > written:
                                connection_succeeded(ctx, config, conn)
                            continue
                    broken[conn] = reason
                    _park_push(ctx, tenant, [r.record_id for r in group], reason)
                    report.parked += len(group)
    return report


def _park_push(ctx: SyncContext, tenant: str, record_ids: list[str], reason: str) -> None:
    """Park the pushes of records whose target connection failed: one replayable push per 100."""
    for i in range(0, len(record_ids), 100):
        request = PushRequest(tenant_id=tenant, record_ids=record_ids[i : i + 100])
        park_message(ctx, request.model_dump(mode="json"), reason)


def _push_group(
    ctx: SyncContext,
    config: TenantConfig,
    conn: str,
    obj: ObjectType,
    records: list[Record],
    report: PushReport,
) -> None:
    connector = ctx.connectors.get(config, conn)
    side = config.connection(conn).side
    supported = connector.supported_fields(obj)
    if obj is ObjectType.CONTACT:
        supported = supported | {"customer"}  # the association, carried as the parent's record id
    items: list[WriteItem] = []
    by_id: dict[str, Record] = {}
    canonical: dict[str, Fields] = {}
    only_customers = config.transfer_timing is TransferTiming.ON_CUSTOMER_STAGE
    parents: dict[str, Record] = {}
    if obj is ObjectType.CONTACT:
        # The contacts' customers in one batch read (customers are pushed first, so these are current).
        wanted = {r.fields.get("customer") for r in records}
        parents = ctx.store.get_records(config.tenant_id, {p for p in wanted if isinstance(p, str)})
    for rec in records:
        allowed = may_create(
            rec, connection_id=conn, side=side, mode=config.sync_mode, only_customers_stage=only_customers
        )
        if obj is ObjectType.CONTACT and not allowed and config.sync_mode is not SyncMode.OFF:
            # A contact follows its customer: once the customer is linked there, its contacts go too.
            parent = parents.get(str(rec.fields.get("customer")))
            allowed = conn not in rec.blocked and parent is not None and conn in parent.links
        plan = plan_push(
            rec,
            connection_id=conn,
            side=side,
            supported=supported,
            policy=config.field_policy,
            mode=config.sync_mode,
            create_allowed=allowed,
        )
        if plan is None:
            report.unchanged += 1
            continue
        fields = dict(plan.fields)
        parent_ext = None
        if obj is ObjectType.CONTACT and (plan.action is PushAction.CREATE or "customer" in fields):
            parent_rid = rec.fields.get("customer")
            parent_ext, retry = _parent_on_target(
                ctx, config, conn, parent_rid if isinstance(parent_rid, str) else None, parents
            )
            if parent_ext is None and plan.action is PushAction.CREATE:
                if retry:
                    report.failed.append(rec.record_id)  # its customer's create failed: retry later
                else:
                    report.unchanged += 1  # its customer does not go there: nothing to attach it to
                continue
        fields.pop("customer", None)
        if not fields and parent_ext is None:
            report.unchanged += 1
            continue
        external_id = rec.links.get(conn) if plan.action is PushAction.UPDATE else None
        refused = _preflight(connector, side, obj, rec, fields, external_id)
        if refused:
            _park(ctx, config, conn, rec, plan.action.value, "; ".join(refused), "preflight", None, fields)
            report.parked += 1
            continue
        canonical[rec.record_id] = dict(fields)
        expected = {k: v for k, v in plan.expected.items() if k in fields}
        if side is Side.CRM and obj is ObjectType.CUSTOMER:
            fields, _ = value_maps.to_crm(fields, config.value_maps)  # unmapped values stay behind
            expected, _ = value_maps.to_crm(expected, config.value_maps)
            if not fields and parent_ext is None:
                report.unchanged += 1
                continue
        by_id[rec.record_id] = rec
        items.append(
            WriteItem(
                record_id=rec.record_id,
                external_id=external_id,
                fields=fields,
                parent_external_id=parent_ext,
                version=(rec.bases[conn].version if conn in rec.bases else None),
                expected=expected if external_id else {},
            )
        )
    if not items:
        return
    results = _write_contained(connector, obj, items)
    written = [(i, r) for i, r in zip(items, results, strict=True) if r.ok and r.external_id]
    _store_writes(
        ctx, config, conn, side, [(by_id[i.record_id], i, r, canonical[i.record_id]) for i, r in written]
    )
    for item, result in zip(items, results, strict=True):
        rec = by_id[item.record_id]
        if result.ok and result.external_id:
            if item.external_id is None:
                report.created += 1
            else:
                report.updated += 1
        elif result.error_code == "stale" and item.external_id:
            # A person changed the target since crmsync last read it: reconcile that edit first (it
            # applies, conflicts or is kept as overridden); the saved record is pushed again.
            report.stale += 1
            handle_signal(
                ctx,
                Signal(
                    tenant_id=config.tenant_id,
                    connection_id=conn,
                    object_type=obj,
                    external_id=item.external_id,
                    source="push_check",
                ),
            )
        elif result.retryable:
            report.failed.append(rec.record_id)
            report.retry_after = max(report.retry_after, result.retry_after or 0.0)
        else:
            report.parked += 1
            action = "create" if item.external_id is None else "update"
            reason = result.error or "refused"
            _park(ctx, config, conn, rec, action, reason, result.error_code, result.request_id, item.fields)


def _write_contained(connector: Connector, obj: ObjectType, items: list[WriteItem]) -> list[WriteResult]:
    """``connector.write``, with a failed check before the updates contained to the items it checked.

    An update that carries ``expected`` makes the connector read its target first (HubSpot's stale
    check: one batch read per 100, before anything is written). When that read fails, the connector
    raises for the whole call; the failure belongs to the checked updates alone, so they get it as
    their result (retryable: the push's retry path; otherwise parked like a refusal) and every other
    item is written in a second call. An auth failure is the connection's, not a record's: it still
    fails the push, as does a failure with no checked item to blame or one of the second call.
    """
    try:
        return connector.write(obj, items)
    except AuthError:
        raise
    except VendorError as exc:
        checked = [i for i, it in enumerate(items) if it.expected and it.external_id]
        if not checked:
            raise
        failure = exc
    logger.warning(
        "check before update failed; those records retried or parked, the rest written",
        extra={"checked": len(checked), "retryable": failure.retryable, "code": failure.code},
    )
    results: dict[int, WriteResult] = {
        i: WriteResult(
            record_id=items[i].record_id,
            ok=False,
            error=f"reading the target before the update failed: {failure.message}",
            error_code="check_failed",  # never "stale": nothing was read, there is nothing to reconcile
            retryable=failure.retryable,
            request_id=failure.request_id,
            retry_after=failure.retry_after,
        )
        for i in checked
    }
    rest = [i for i in range(len(items)) if i not in results]
    if rest:
        for i, result in zip(rest, connector.write(obj, [items[i] for i in rest]), strict=True):
            results[i] = result
    return [results[i] for i in range(len(items))]


def _preflight(
    connector: Connector, side: Side, obj: ObjectType, rec: Record, fields: Fields, external_id: str | None
) -> list[str]:
    """Reasons the accounting side must not get this write (see ``crmsync.preflight``)."""
    if side is not Side.ACCOUNTING:
        return []
    if obj is ObjectType.CONTACT:
        return preflight.check_contact(fields)
    booked = getattr(connector, "has_booked_invoices", None)
    return preflight.check_customer(
        fields,
        creating=external_id is None,
        record_fields=rec.fields,
        has_booked_invoices=(lambda: bool(booked(external_id))) if booked and external_id else None,
    )


def _park(
    ctx: SyncContext,
    config: TenantConfig,
    conn: str,
    rec: Record,
    action: str,
    reason: str,
    error_code: str | None,
    request_id: str | None,
    fields: Fields,
) -> None:
    """Park a refused write: one entry per record and connection, visible on the record and replayable.

    Nothing retries it in a loop: the stream only pushes again when the record changes (new data may
    fix it) or when a person replays it; a refusal with the same reason does not touch the record.
    """
    tenant = config.tenant_id
    ctx.store.park(
        tenant,
        {
            "record_id": rec.record_id,
            "connection": conn,
            "object_type": rec.object_type.value,
            "action": action,
            "reason": reason,
            "error_code": error_code,
            "request_id": request_id,
            "fields": sorted(fields),
        },
        key=parked_key(rec.record_id, conn),
    )
    ctx.store.journal(
        tenant,
        rec.record_id,
        {
            "at": ctx.clock(),
            "kind": "write",
            "decision": "parked",
            "connection": conn,
            "action": action,
            "reason": reason,
            "request_id": request_id,
        },
    )
    current: Record | None = rec
    for _ in range(MAX_LOCK_RETRIES):
        if current is None or current.parked.get(conn) == reason:
            return
        current.parked[conn] = reason
        try:
            ctx.store.save_record(current)
            return
        except VersionConflict:
            current = ctx.store.get_record(tenant, rec.record_id)


def parked_key(record_id: str, connection_id: str) -> str:
    return f"{record_id}.{connection_id}"


class PushRequest(BaseModel):
    """A push that failed on a retryable vendor error, moved from the stream to the signals queue.

    The stream must not block its shard retrying a vendor that throttles; the queue retries with its own
    visibility timeout, and after ``maxReceiveCount`` the request is parked and moves to the DLQ.
    The record is read again when the request runs, so a replay never sends an old payload.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["push"] = "push"
    tenant_id: str
    record_ids: list[str] = Field(min_length=1, max_length=100)
    replay: bool = Field(default=False, exclude_if=lambda v: not v)
    """A person replayed it: tried even while its connection needs attention."""
    bulk: bool = Field(default=False, exclude_if=lambda v: not v)
    """Retrying bulk work (a backfill's pushes): goes to the bulk queue (``signal_queue``)."""


def push_later(ctx: SyncContext, failed: dict[str, list[str]]) -> int:
    """Queue the retryable failures of a push (tenant -> record ids); raises ``EnqueueError``."""
    assert ctx.queue is not None
    bulk = ctx.priority is Priority.BULK
    requests = [
        PushRequest(tenant_id=tenant, record_ids=ids[i : i + 100], bulk=bulk)
        for tenant, ids in failed.items()
        for i in range(0, len(ids), 100)
    ]
    return ctx.queue.send(requests)


def push_requested(ctx: SyncContext, request: PushRequest) -> PushReport:
    """Run a queued push; a retryable failure raises so the queue retries it."""
    records = [r for rid in request.record_ids if (r := ctx.store.get_record(request.tenant_id, rid))]
    report = push_records(ctx, records, force=request.replay)
    if report.failed:
        # The queue's retry waits at least what the vendor asked for (worker: signal_queue.retry_delay).
        raise TransientError(
            f"{len(report.failed)} record(s) could not be written yet", retry_after=report.retry_after or None
        )
    return report


def park_message(ctx: SyncContext, message: dict[str, Any], reason: str) -> str | None:
    """Park a queue message that exhausted its retries (it also moves to the DLQ), visible and replayable."""
    if message.get("kind") == "signals":
        keys = [
            park_message(ctx, inner, reason)
            for inner in message.get("signals") or []
            if isinstance(inner, dict)
        ]
        return keys[0] if keys else None
    tenant = message.get("tenant_id")
    key = parked_message_key(message)
    if not isinstance(tenant, str) or key is None:
        return None
    kind = message.get("kind") if message.get("kind") in ("push", "transfer_page") else "signal"
    record_id = (message.get("record_ids") or [None])[0] if kind == "push" else None
    ctx.store.park(
        tenant, {"kind": kind, "message": message, "reason": reason, "record_id": record_id}, key=key
    )
    return key


def parked_message_key(message: dict[str, Any]) -> str | None:
    """The parked entry of a queue message (one per record and kind, so a repeat updates it)."""
    if message.get("kind") == "push":
        ids = message.get("record_ids") or []
        return f"push.{ids[0]}" if ids else None
    if message.get("kind") == "transfer_page":
        digest = hashlib.sha256(json.dumps(message, sort_keys=True).encode()).hexdigest()[:16]
        return f"page.{message.get('job_id')}.{digest}"
    parts = (message.get("connection_id"), message.get("object_type"), message.get("external_id"))
    return "signal.{}.{}.{}".format(*parts) if all(isinstance(p, str) for p in parts) else None


def replay_message(ctx: SyncContext, tenant_id: str, parked_id: str, entry: dict[str, Any]) -> dict[str, Any]:
    """Replay a parked signal or push: enqueue it again (the worker re-reads the source, never old data)."""
    assert ctx.queue is not None
    message = entry["message"]
    model: BaseModel
    if entry["kind"] == "push":
        model = PushRequest.model_validate({**message, "replay": True})
    elif entry["kind"] == "transfer_page":
        from crmsync.linking import TransferPage  # linking builds on this module

        model = TransferPage.model_validate(message)
    else:
        model = Signal.model_validate({**message, "source": "replay"})
    ctx.queue.send([model])
    ctx.store.unpark(tenant_id, parked_id)
    return {"replayed": True, "requeued": entry["kind"], "parked_id": parked_id}


def _parent_on_target(
    ctx: SyncContext,
    config: TenantConfig,
    conn: str,
    parent_rid: str | None,
    parents: dict[str, Record],
) -> tuple[str | None, bool]:
    """The customer's external id on ``conn`` (creating it first if it may be created there).

    Returns ``(external id, retry)``: ``retry`` is True when the customer should be there but its
    create failed, so the contact is retried with its stream batch rather than dropped.
    """
    if not parent_rid:
        return None, False
    parent = parents.get(parent_rid)
    if parent is None:
        return None, False
    if conn not in parent.links:
        only_customers = config.transfer_timing is TransferTiming.ON_CUSTOMER_STAGE
        side = config.connection(conn).side
        if not may_create(
            parent, connection_id=conn, side=side, mode=config.sync_mode, only_customers_stage=only_customers
        ):
            return None, False
        # Bring the customer over first (idempotent: upsert by record id / Idempotency-Key).
        _push_group(ctx, config, conn, ObjectType.CUSTOMER, [parent], PushReport())
        parent = ctx.store.get_record(config.tenant_id, parent_rid)
        if parent is not None:
            parents[parent_rid] = parent
    ext = parent.links.get(conn) if parent else None
    return ext, ext is None


def _store_writes(
    ctx: SyncContext,
    config: TenantConfig,
    conn: str,
    side: Side,
    writes: list[tuple[Record, WriteItem, WriteResult, Fields]],
) -> None:
    """``_store_write`` for a vendor batch's successful writes, ``STORE_CONCURRENCY`` at a time.

    Each is one record's conditional writes (link, record), independent of the others; one after
    another they made a page of 100 creates take 200 DynamoDB round trips back to back, which bounds
    a stream shard's throughput (its batches are processed one at a time). A failure raises as before.
    """
    if len(writes) <= 1:
        for rec, item, result, fields in writes:
            _store_write(ctx, config, conn, side, rec, item, result, fields)
        return
    with ThreadPoolExecutor(max_workers=min(STORE_CONCURRENCY, len(writes))) as pool:
        # Each write runs in a copy of the caller's context: Powertools' Logger keys and the local
        # stack's IAM check (local/iam.py) follow the invocation into the writer threads.
        futures = [
            pool.submit(contextvars.copy_context().run, lambda w=w: _store_write(ctx, config, conn, side, *w))
            for w in writes
        ]
        for future in futures:
            future.result()


def _store_write(
    ctx: SyncContext,
    config: TenantConfig,
    conn: str,
    side: Side,
    rec: Record,
    item: WriteItem,
    result: WriteResult,
    canonical: Fields,
) -> None:
    """Save the target's new base and link; on a lock conflict re-read and merge again.

    ``canonical`` is what was written in crmsync's values (before a value map translated it for the
    CRM); the vendor's answer is translated back, so the base compares with the record.
    """
    assert result.external_id is not None
    written = dict(canonical)
    if rec.object_type is ObjectType.CONTACT:
        written["customer"] = rec.fields.get("customer")
    state = result.record
    if state is not None and rec.object_type is ObjectType.CONTACT:
        fields = dict(state.fields)
        fields["customer"] = rec.fields.get("customer")
        state = state.model_copy(update={"fields": fields})
    elif state is not None and side is Side.CRM:
        translated, _ = value_maps.from_crm(state.fields, config.value_maps)
        state = state.model_copy(update={"fields": translated})
    current: Record | None = rec
    for _ in range(MAX_LOCK_RETRIES):
        if current is None:
            return
        before = current.bases.get(conn)
        outcome = after_write(
            current,
            connection_id=conn,
            side=side,
            written=written,
            vendor_state=state,
            external_id=result.external_id,
            policy=config.field_policy,
            now=ctx.clock(),
        )
        new_link = {conn: result.external_id} if current.links.get(conn) != result.external_id else {}
        # Nothing for the other connections when the vendor's answer changed no field (the usual
        # case); a value the vendor assigned (e-conomic's customer number) must still flow on.
        origin = ORIGIN_SYNC if outcome.applied or outcome.conflicts else ORIGIN_BASE
        entry = {
            "at": ctx.clock(),
            "kind": "write",
            "decision": "written",
            "connection": conn,
            "action": "create" if item.external_id is None else "update",
            "external_id": result.external_id,
            "changes": {
                name: {"before": before.fields.get(name) if before else None, "after": value}
                for name, value in sorted(written.items())
            },
            "request_id": result.request_id,
        }
        try:
            ctx.store.save_record(outcome.record, new_links=new_link, origin=origin, log=[entry])
        except VersionConflict:
            current = ctx.store.get_record(config.tenant_id, rec.record_id)
            continue
        if conn in current.parked:
            ctx.store.unpark(config.tenant_id, parked_key(rec.record_id, conn))
        return
    raise VersionConflict(rec.record_id)


# --------------------------------------------------------------------------------------------
# Scheduled pull
# --------------------------------------------------------------------------------------------


@dataclass
class PullReport:
    enqueued: int = 0
    seen: int = 0
    """Records the pull read that crmsync had already seen exactly so (not enqueued)."""
    checkpoints: dict[str, str] = field(default_factory=dict)
    needs_attention: dict[str, str] = field(default_factory=dict)
    """``tenant/connection`` -> reason, for the connections that failed or wait for their next probe."""
    failed: dict[str, str] = field(default_factory=dict)
    """``tenant/connection`` -> error, for other failures (the pull raises the first after the rest ran)."""


def pull(ctx: SyncContext, tenants: list[str] | None = None) -> PullReport:
    """Enqueue a signal for every record changed since each checkpoint minus the lookback.

    The checkpoint moves only after every signal of that connection and type was enqueued, and to
    the newest modification time the vendor reported (its clock, not ours).

    Each tenant connection is pulled on its own: a failure stays with it. A failed secret or refused
    credentials mark the connection ``needs_attention`` (no retry helps; the schedule tick succeeds);
    any other failure is raised once every other connection was pulled, so the schedule's retry and
    the error alarm still see it.
    """
    assert ctx.queue is not None
    ctx.priority = Priority.BULK  # a pull is catch-up work: live changes go first on the rate budget
    report = PullReport()
    errors: list[Exception] = []
    for tenant in tenants or ctx.store.list_tenants():
        try:
            config = ctx.config(tenant)
        except UnknownTenant:
            continue  # listed, but its config is gone
        if config.sync_mode is SyncMode.OFF:
            continue
        for conn in config.connections:
            name = f"{tenant}/{conn.connection_id}"
            reason = circuit_open(ctx, config, conn.connection_id)
            if reason is not None:
                report.needs_attention[name] = reason
                continue
            try:
                _pull_connection(ctx, config, conn.connection_id, report)
            except CONNECTION_FAILURES as exc:
                failed = failed_connection(exc, conn.connection_id)
                report.needs_attention[f"{tenant}/{failed}"] = connection_failed(ctx, config, failed, exc)
            except Exception as exc:
                logger.exception(
                    "pull of a tenant connection failed",
                    extra={"tenant": tenant, "connection": conn.connection_id},
                )
                report.failed[name] = type(exc).__name__
                errors.append(exc)
            else:
                connection_succeeded(ctx, config, conn.connection_id)
    if errors:
        raise errors[0]
    return report


def _pull_connection(ctx: SyncContext, config: TenantConfig, conn: str, report: PullReport) -> None:
    assert ctx.queue is not None
    tenant = config.tenant_id
    connector = ctx.connectors.get(config, conn)
    for obj in (ObjectType.CUSTOMER, ObjectType.CONTACT):
        cursor = ctx.store.get_checkpoint(tenant, conn, obj)
        since = (cursor - timedelta(seconds=config.lookback_seconds)) if cursor else EPOCH
        newest = cursor
        read = 0
        # In chunks, so a first pull of a big account never holds every record in memory.
        changed = iter(connector.changed_since(obj, since))
        while sources := list(islice(changed, PULL_CHUNK)):  # itertools.batched needs 3.12
            for src in sources:
                if src.modified_at and (newest is None or src.modified_at > newest):
                    newest = src.modified_at
            fresh = _not_seen_yet(ctx, config, conn, sources)
            signals = [
                Signal(
                    tenant_id=tenant,
                    connection_id=conn,
                    object_type=obj,
                    external_id=src.external_id,
                    source="pull",
                )
                for src in fresh
            ]
            ctx.queue.send(signals)  # raises EnqueueError: the checkpoint then stays where it was
            report.enqueued += len(signals)
            report.seen += len(sources) - len(fresh)
            read += len(sources)
        if newest is not None:
            ctx.store.put_checkpoint(tenant, conn, obj, newest, read)
            report.checkpoints[f"{tenant}/{conn}/{obj.value}"] = newest.isoformat()


def _not_seen_yet(
    ctx: SyncContext, config: TenantConfig, conn: str, sources: list[SourceRecord]
) -> list[SourceRecord]:
    """The pulled records whose state crmsync has not seen: the rest are not enqueued.

    This is what makes the lookback overlap free: a record re-read because it falls in the window is
    compared with its base right here (one batch read per 100 records) instead of costing a signal, a
    second vendor read and three item reads in the worker. "Seen" is strict: same fields after the
    worker's own translation (value maps, the contact's customer), not a tombstone. Anything else,
    including every doubt (no record, no base, a read error), is enqueued.
    """
    if not sources:
        return []
    side = config.connection(conn).side
    tenant = config.tenant_id
    keys = {(conn, s.object_type, s.external_id) for s in sources}
    keys |= {(conn, ObjectType.CUSTOMER, s.parent_external_id) for s in sources if s.parent_external_id}
    try:
        links = ctx.store.find_links(tenant, keys)
        records = ctx.store.get_records(tenant, {rid for rid in links.values() if rid})
    except StoreError:
        return sources
    fresh: list[SourceRecord] = []
    for src in sources:
        rid = links.get((conn, src.object_type, src.external_id))
        record = records.get(rid) if rid else None
        base = record.bases.get(conn) if record else None
        if record is None or base is None or base.deleted or src.deleted:
            fresh.append(src)
            continue
        fields = dict(src.fields)
        unmapped: dict[str, str] | None = None
        if side is Side.CRM and src.object_type is ObjectType.CUSTOMER:
            fields, unmapped = value_maps.from_crm(fields, config.value_maps)
        if src.object_type is ObjectType.CONTACT:
            parent = (conn, ObjectType.CUSTOMER, src.parent_external_id) if src.parent_external_id else None
            fields["customer"] = links.get(parent) if parent else None
        # The vendor's version is not compared: a new version with the same fields (a field crmsync does
        # not sync was edited; HubSpot bumps a record when crmsync writes its associations) has nothing
        # to sync. A stale e-conomic token only costs a 409, a re-read and a retry on the next write.
        if _present(fields) != _present(base.fields) or (
            unmapped is not None and unmapped != record.unmapped
        ):
            fresh.append(src)
    return fresh


def _present(fields: Fields) -> Fields:
    """A field that is absent and a field that is None say the same (the engine reads both as None)."""
    return {name: value for name, value in fields.items() if value is not None}


# --------------------------------------------------------------------------------------------
# Webhook ingestion helpers
# --------------------------------------------------------------------------------------------


def dedupe_signals(signals: Iterable[Signal]) -> list[Signal]:
    """One signal per record per delivery: the worker re-reads the record anyway."""
    seen: dict[tuple[str, str, str, str], Signal] = {}
    for s in signals:
        seen.setdefault((s.tenant_id, s.connection_id, s.object_type.value, s.external_id), s)
    return list(seen.values())


def sync_now(ctx: SyncContext, tenant_id: str, record_id: str) -> dict[str, Any]:
    """Re-read every linked side of one record now (the API's "sync this record")."""
    record = ctx.store.get_record(tenant_id, record_id)
    if record is None:
        raise KeyError(record_id)
    results: dict[str, Any] = {}
    for conn, ext in sorted(record.links.items()):
        try:
            out = handle_signal(
                ctx,
                Signal(
                    tenant_id=tenant_id,
                    connection_id=conn,
                    object_type=record.object_type,
                    external_id=ext,
                    source="api",
                ),
            )
            results[conn] = {"decision": out.decision, "applied": out.applied, "conflicts": out.conflicts}
        except CONNECTION_FAILURES as exc:
            config = ctx.config(tenant_id)
            reason = connection_failed(ctx, config, failed_connection(exc, conn), exc)
            results[conn] = {"decision": "error", "error": reason}
        except VendorError as exc:
            results[conn] = {"decision": "error", "error": exc.message}
        else:
            connection_succeeded(ctx, ctx.config(tenant_id), conn)
    return results

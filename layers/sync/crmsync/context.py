"""The unit of work of one Lambda container: its store, connectors and queue, and per-invocation caches.

Built once per container by ``crmsync.runtime``. The caches (configs, prefetched sources, links and
records, connection states) live for one invocation; ``forget_configs`` starts the next.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from crmsync.account_managers import FIELD as AM_FIELD
from crmsync.account_managers import merged_pairs
from crmsync.budget import Priority
from crmsync.config import TenantConfig
from crmsync.connectors.base import (
    Connector,
    SourceRecord,
)
from crmsync.connectors.registry import ConnectorProvider
from crmsync.items import ConnectionState, TimelineEntry
from crmsync.messages import JournalNote
from crmsync.models import (
    ObjectType,
    Record,
    Signal,
    utcnow,
)
from crmsync.signal_queue import SignalQueue
from crmsync.store import (
    SyncStore,
)
from crmsync.value_maps import ValueMap

MAX_LOCK_RETRIES = 6
"""Attempts of a read-decide-write before an optimistic-lock conflict is given up."""
INGEST_CONFIG_MAX_AGE = 30.0
"""Seconds webhook ingestion may use a tenant's config before reading it again."""


class UnknownTenant(Exception):
    pass


def with_manager_pairs(config: TenantConfig, automatic: dict[str, str]) -> TenantConfig:
    """``config`` with the tenant's automatic account-manager pairs in its ``account_manager`` value map
    (explicit pairs win both ways; ``crmsync.account_managers``), so every translation sees them.

    Merged once per config load of an invocation (``config``): the pairs are an attribute of the
    config item (``store.account_managers``), read in the same GetItem. Webhook ingestion
    (``ingest_config``) translates nothing and does not merge them."""
    if not automatic:
        return config
    explicit = config.value_maps.get(AM_FIELD)
    pairs = merged_pairs(explicit.pairs if explicit else {}, automatic)
    maps = {**config.value_maps, AM_FIELD: ValueMap(pairs=pairs)}
    return config.model_copy(update={"value_maps": maps})


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
    _journal_buffer: list[tuple[str, str, TimelineEntry, datetime]] | None = None
    _ingest_configs: dict[str, tuple[TenantConfig, float]] = field(default_factory=dict)
    _conn_states: dict[str, dict[str, ConnectionState]] = field(default_factory=dict)
    notes: list[tuple[str, JournalNote]] = field(default_factory=list)
    """Notes for the CRM journal collected in this invocation (``crmsync.journal_notes``)."""
    webhooks_marked: dict[tuple[str, str], datetime] = field(default_factory=dict)
    """(tenant, connection) -> when this container last recorded a handled webhook (``connection_state``)."""
    notes_sink: Callable[[SyncContext], None] | None = None
    """Sends ``notes`` at the end of a ``journal_batch`` (set by ``journal_notes.note``: the journal
    builds on this module, so this module does not import it)."""

    @property
    def collecting_notes(self) -> bool:
        """Inside ``journal_batch``: notes are sent with the batch's timeline entries."""
        return self._journal_buffer is not None

    def config(self, tenant_id: str) -> TenantConfig:
        config = self._configs.get(tenant_id)
        if config is None:
            stored, pairs = self.store.get_config_with_pairs(tenant_id)
            if stored is None:
                raise UnknownTenant(tenant_id)
            config = with_manager_pairs(stored, pairs)
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

    def journal(self, tenant_id: str, record_id: str, entry: TimelineEntry) -> None:
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
            if self.notes and self.notes_sink is not None:
                self.notes_sink(self)

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

    # Filled by the inbound prefetch (one batch read per 100 keys) and by verified renumbers.
    def remember_source(
        self, tenant_id: str, conn: str, obj: ObjectType, ext: str, source: SourceRecord | None
    ) -> None:
        self._prefetched[(tenant_id, conn, obj.value, ext)] = source

    def prefetched_source(
        self, tenant_id: str, conn: str, obj: ObjectType, ext: str
    ) -> tuple[bool, SourceRecord | None]:
        """(was it batch-read?, the record it read), without using it up."""
        key = (tenant_id, conn, obj.value, ext)
        return key in self._prefetched, self._prefetched.get(key)

    def prefetched_sources(self) -> list[tuple[str, str, ObjectType, SourceRecord | None]]:
        """What this invocation batch-read: (tenant, connection, object type, source)."""
        return [(t, c, ObjectType(o), src) for (t, c, o, _), src in self._prefetched.items()]

    def remember_link(
        self, tenant_id: str, conn: str, obj: ObjectType, ext: str, record_id: str | None
    ) -> None:
        self._links[(tenant_id, conn, obj.value, ext)] = record_id

    def remember_record(self, record: Record) -> None:
        self._records[(record.tenant_id, record.record_id)] = record

    def connection_states(self, tenant_id: str) -> dict[str, ConnectionState] | None:
        """The tenant's connection states read in this invocation (``None``: not read yet)."""
        return self._conn_states.get(tenant_id)

    def remember_connection_states(self, tenant_id: str, states: dict[str, ConnectionState]) -> None:
        self._conn_states[tenant_id] = states

    def set_connection_state(self, tenant_id: str, conn: str, state: ConnectionState) -> None:
        self._conn_states.setdefault(tenant_id, {})[conn] = state

    def read_source(self, connector: Connector, signal: Signal) -> SourceRecord | None:
        """The source record, from this invocation's batch read if there was one (used once)."""
        key = (signal.tenant_id, signal.connection_id, signal.object_type.value, signal.external_id)
        if key in self._prefetched:
            return self._prefetched.pop(key)
        return connector.get(signal.object_type, signal.external_id)

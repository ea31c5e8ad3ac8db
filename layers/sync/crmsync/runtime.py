"""Composition root: builds the ``SyncContext`` of a Lambda container from its settings.

Handlers call ``context()``; it is built once per container (boto3 clients are created lazily here,
never at import time, so tests can point them at moto first).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from crmsync.budget import RateBudget
from crmsync.config import TenantConfig
from crmsync.connectors.registry import ConnectorProvider
from crmsync.context import SyncContext
from crmsync.settings import CredentialStore, Settings, settings
from crmsync.signal_queue import SignalQueue
from crmsync.store import SyncStore

if TYPE_CHECKING:  # imported where used: only the webhook and lead handlers need them (cold start)
    from crmsync.ingest import EnqueueOnce
    from crmsync.leads import Converter

_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=10)


def build_context(cfg: Settings) -> SyncContext:
    session = boto3.session.Session()
    store = SyncStore(session.client("dynamodb", config=_BOTO_CONFIG), cfg.table_name)
    queue = (
        SignalQueue(
            session.client("sqs", config=_BOTO_CONFIG),
            cfg.signals_queue_url,
            cfg.bulk_queue_url,
            retry_base=cfg.retry_base_seconds,
        )
        if cfg.signals_queue_url
        else None
    )
    credentials = CredentialStore(session.client("secretsmanager", config=_BOTO_CONFIG), cfg.secrets_max_age)
    ctx = SyncContext(store=store, connectors=ConnectorProvider(cfg, credentials), queue=queue)

    def gate(config: TenantConfig, connection_id: str) -> Callable[[], None]:
        limits = config.connection(connection_id).limits()
        key = f"TENANT#{config.tenant_id}#{connection_id}"
        return RateBudget(store, key, limits, priority=lambda: ctx.priority).acquire

    ctx.connectors.gate_factory = gate
    ctx.connectors.token_cache_factory = store.token_cache  # OAuth tokens shared by the instances
    return ctx


@lru_cache(maxsize=1)
def context() -> SyncContext:
    return build_context(settings())


@lru_cache(maxsize=1)
def enqueue_once() -> EnqueueOnce:
    """The webhook de-duplicator (Powertools Idempotency on the idempotency table), built on first use."""
    from crmsync.ingest import make_enqueue_once

    return make_enqueue_once(context(), settings().idempotency_table_name)


@lru_cache(maxsize=1)
def lead_converter() -> Converter:
    """Lead conversion, exactly once per lead (Powertools Idempotency on the idempotency table)."""
    from crmsync.leads import make_converter

    return make_converter(context(), settings().idempotency_table_name)


def admit_api_request(route_context: dict[str, Any], event: Mapping[str, Any]) -> dict[str, Any] | None:
    """Screen an API request before Powertools parses it (size, token, the tenant's request limit, JSON
    readability and depth: a 422 would come first): the refusal to answer, or None (``api.admit``)."""
    from crmsync.api import admit  # only the API functions load it

    limit = settings().api_tenant_requests_per_minute
    return admit(route_context, event, context(), requests_per_minute=limit)


def reset() -> None:
    """Forget the cached context and settings (tests and the local stack change the environment)."""
    context.cache_clear()
    enqueue_once.cache_clear()
    lead_converter.cache_clear()
    settings.cache_clear()

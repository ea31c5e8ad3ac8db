"""Front-end API logic: per-tenant bearer tokens and the record/config views.

Tokens are stored only as SHA-256 hashes (``TOKEN#<hash>`` -> tenant). An unknown token gets 401;
a valid token of another tenant gets 403, so a front end can tell "log in again" from "not yours".
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from pydantic import BaseModel

from crmsync.config import TenantConfig
from crmsync.models import Base, Fields, ObjectType
from crmsync.service import SyncContext, sync_now
from crmsync.store import SyncStore, VersionConflict, object_type_of


class Unauthorized(Exception):
    pass


class Forbidden(Exception):
    pass


class NotFound(Exception):
    pass


class Conflict(Exception):
    pass


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def authorize(store: SyncStore, tenant_id: str, authorization: str | None) -> None:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token")
    owner = store.token_tenant(hash_token(token.strip()))
    if owner is None:
        raise Unauthorized("unknown token")
    if owner != tenant_id:
        raise Forbidden("this token belongs to another tenant")


def issue_token(store: SyncStore, tenant_id: str) -> str:
    """Create a new API token for the tenant; only its hash is stored."""
    token = new_token()
    store.put_token(hash_token(token), tenant_id)
    return token


class RecordView(BaseModel):
    record_id: str
    object_type: ObjectType
    version: int
    fields: Fields
    field_sources: dict[str, str]
    links: dict[str, str]
    bases: dict[str, Base]


def get_record(ctx: SyncContext, tenant_id: str, record_id: str) -> RecordView:
    try:
        object_type_of(record_id)
    except ValueError as exc:
        raise NotFound(record_id) from exc
    record = ctx.store.get_record(tenant_id, record_id)
    if record is None:
        raise NotFound(record_id)
    return RecordView(
        record_id=record.record_id,
        object_type=record.object_type,
        version=record.version,
        fields=record.fields,
        field_sources=record.field_sources,
        links=record.links,
        bases=record.bases,
    )


def sync_record(ctx: SyncContext, tenant_id: str, record_id: str) -> dict[str, Any]:
    try:
        return {"record_id": record_id, "connections": sync_now(ctx, tenant_id, record_id)}
    except (KeyError, ValueError) as exc:
        raise NotFound(record_id) from exc


def get_config(ctx: SyncContext, tenant_id: str) -> TenantConfig:
    config = ctx.store.get_config(tenant_id)
    if config is None:
        raise NotFound(tenant_id)
    return config


def put_config(ctx: SyncContext, tenant_id: str, config: TenantConfig) -> TenantConfig:
    """Replace the config; ``version`` must be the one read (optimistic locking), 0 for a new tenant."""
    if config.tenant_id != tenant_id:
        raise Conflict("tenant_id in the body differs from the path")
    try:
        return ctx.store.put_config(config)
    except VersionConflict as exc:
        raise Conflict("config changed since it was read; GET it again") from exc

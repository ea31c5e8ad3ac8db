"""What every route module shares: path parameters, the tenant's context, lookups that raise ``NotFound``."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from crmsync import api, runtime
from crmsync.api_errors import NotFound
from crmsync.config import TenantConfig
from crmsync.context import SyncContext, UnknownTenant
from crmsync.models import Record
from crmsync.store import object_type_of

RECORD_ID = r"^(cus|con)_[0-9a-f]{32}$"

TenantId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$", description="tenant id")]
RecordId = Annotated[str, Path(pattern=RECORD_ID, description="crmsync record id")]


Absent = SkipJsonSchema[None]
"""``X | Absent``: a response field that is either an X or not there at all (``absent_when_none``);
the OpenAPI document shows it as an optional X, never as ``null``."""


def absent_when_none(description: str | None = None) -> Any:
    """A response field the route leaves out, rather than sending ``null``, when it has no value
    (e.g. ``job`` of a dry run): the JSON stays what the route has always answered."""
    return Field(default=None, description=description, exclude_if=lambda value: value is None)


def domain_router() -> Router:
    """A Powertools ``Router`` for one domain's routes (its ``__init__`` is unannotated: strict mypy)."""
    return Router()  # type: ignore[no-untyped-call]


def tenant_context(router: Router, tenant_id: str) -> SyncContext:
    """The context, once the token is this tenant's (``api.admit`` checked it before routing)."""
    return api.authorized(router.context, runtime.context(), tenant_id, router.current_event.headers)


def tenant_config(ctx: SyncContext, tenant_id: str) -> TenantConfig:
    """The tenant's config through the invocation's cache (the domain call after it reads no second copy)."""
    try:
        return ctx.config(tenant_id)
    except UnknownTenant as exc:
        raise NotFound(tenant_id) from exc


def existing_record_id(record_id: str) -> str:
    """``record_id`` when it names a record type crmsync has; ``NotFound`` otherwise."""
    try:
        object_type_of(record_id)
    except ValueError as exc:
        raise NotFound(record_id) from exc
    return record_id


def stored_record(ctx: SyncContext, tenant_id: str, record_id: str) -> Record:
    record = ctx.store.get_record(tenant_id, existing_record_id(record_id))
    if record is None:
        raise NotFound(record_id)
    return record

"""Linking: the link screen (customers of both sides, link state, candidates), link, unlink, create."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel, Field

from crmsync import linking
from crmsync.api_errors import NotFound
from crmsync.context import SyncContext
from crmsync.models import FieldValue, ObjectType, Record
from crmsync.routes.common import (
    RECORD_ID,
    RecordId,
    TenantId,
    domain_router,
    stored_record,
    tenant_config,
    tenant_context,
)

router = domain_router()
TAGS = ["links"]


class LinkRequest(BaseModel):
    crm_record_id: str = Field(pattern=RECORD_ID)
    accounting_record_id: str = Field(pattern=RECORD_ID)


class CreateRequest(BaseModel):
    connection_id: str


class LinkRow(BaseModel):
    record_id: str
    state: str
    name: FieldValue = None
    customer_number: FieldValue = None
    links: dict[str, str]
    candidates: list[dict[str, Any]] = Field(default_factory=list)


class LinkPage(BaseModel):
    items: list[LinkRow]
    cursor: str | None = None


class Linked(BaseModel):
    record_id: str = Field(description="the linked record (the accounting record survives)")
    merged_record_id: str = Field(description="the CRM record merged into it (gone now)")
    contacts_linked: int = Field(description="contacts paired with a contact of the other side")
    contacts_moved: int = Field(description="CRM contacts moved under the linked customer")


class Unlinked(BaseModel):
    record_id: str = Field(description="the record that keeps the accounting side")
    crm_record_id: str = Field(description="the new record that keeps the CRM side")
    contacts_split: int


class CreateApproved(BaseModel):
    linked: int
    approved_creates: int = Field(description="1: the push creates the record on that connection")


def link_page(
    ctx: SyncContext, tenant_id: str, *, state: str | None, limit: int, cursor: str | None
) -> LinkPage:
    """The link screen: customers of both sides with their link state (and candidates for unlinked ones)."""
    config = tenant_config(ctx, tenant_id)
    records, next_cursor = ctx.store.records_page(tenant_id, ObjectType.CUSTOMER, limit, cursor)
    pool: list[Record] | None = None
    indexes: dict[tuple[str, ...], Any] = {}
    rows = []
    for record in records:
        row_state = linking.link_state(config, record)
        row = LinkRow(
            record_id=record.record_id,
            state=row_state,
            name=record.fields.get("name"),
            customer_number=record.fields.get("customer_number"),
            links=record.links,
        )
        if row_state != "linked" and state in (None, "unlinked", "has_candidates"):
            if pool is None:
                pool = list(ctx.store.records(tenant_id, ObjectType.CUSTOMER))
            row.candidates = linking.candidates_for(config, record, pool, indexes=indexes)
        if state == "linked" and row_state != "linked":
            continue
        if state == "unlinked" and row_state == "linked":
            continue
        if state == "has_candidates" and not row.candidates:
            continue
        rows.append(row)
    return LinkPage(items=rows, cursor=next_cursor)


@router.get(
    "/tenants/<tenant_id>/link/customers",
    summary="Link screen: customers of both sides, link state, candidates",
    tags=TAGS,
)
def list_customers(
    tenant_id: TenantId,
    state: Annotated[str | None, Query(pattern="^(linked|unlinked|has_candidates)$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> LinkPage:
    ctx = tenant_context(router, tenant_id)
    return link_page(ctx, tenant_id, state=state, limit=limit, cursor=cursor)


@router.post("/tenants/<tenant_id>/links", summary="Link a CRM company and an accounting customer", tags=TAGS)
def link(tenant_id: TenantId, request: Annotated[LinkRequest, Body()]) -> Linked:
    ctx = tenant_context(router, tenant_id)
    tenant_config(ctx, tenant_id)
    result = linking.link(
        ctx, tenant_id, request.crm_record_id, request.accounting_record_id
    )  # a missing record: 404; LinkError: 409 (api_errors)
    return Linked.model_validate(result.as_dict())


@router.delete(
    "/tenants/<tenant_id>/links/<record_id>",
    summary="Unlink: both sides keep their data, sync stops",
    tags=TAGS,
)
def unlink(tenant_id: TenantId, record_id: RecordId) -> Unlinked:
    ctx = tenant_context(router, tenant_id)
    tenant_config(ctx, tenant_id)
    return Unlinked.model_validate(linking.unlink(ctx, tenant_id, record_id))  # 404 / 409 (api_errors)


@router.post(
    "/tenants/<tenant_id>/records/<record_id>/create",
    summary="Create this record on the other side",
    tags=TAGS,
)
def create_on_other_side(
    tenant_id: TenantId, record_id: RecordId, request: Annotated[CreateRequest, Body()]
) -> CreateApproved:
    ctx = tenant_context(router, tenant_id)
    config = tenant_config(ctx, tenant_id)
    if all(conn.connection_id != request.connection_id for conn in config.connections):
        raise NotFound(request.connection_id)
    plan = linking.TransferPlan(create_ids={request.connection_id: [record_id]})
    stored_record(ctx, tenant_id, record_id)
    return CreateApproved.model_validate(linking.apply_transfer(ctx, tenant_id, plan))

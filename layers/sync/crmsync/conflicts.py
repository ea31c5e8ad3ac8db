"""The conflict inbox and the compare view: what differs between the sides, and a person's decision.

A resolution (or a restored losing value) becomes crmsync's value and is *forced* to every linked
side once, whatever the field's direction: a person chose it, so both sides get it. The write goes
through the normal push (stream), so preflight, value maps and parking apply to it as well.

A resolution is always a valid value of the field (``crmsync.text_rules``: kind, empty only where both
sides allow it, the vendors' length limits, no control characters), and it is stored in its canonical
form (the cleaning rule the connectors apply to what they read): a value stored as ``""`` where the
vendors answer ``None``, or a value a vendor cannot hold (an empty name), made every echo of the push
look like a change and the record was pushed again on every round. A refused value is a 422: the
request model refuses what is wrong for the field name; what depends on the record's object type or on
the value taken from a side raises ``InvalidResolution`` (Powertools' ``RequestValidationError``, which
the API answers with 422).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, field_validator, model_validator

from crmsync import text_rules
from crmsync.config import TenantConfig
from crmsync.context import MAX_LOCK_RETRIES, SyncContext, UnknownTenant
from crmsync.errors import NotFound
from crmsync.inbound import sync_now
from crmsync.items import FactsEntry, TimelineEntry
from crmsync.journal_notes import note
from crmsync.models import (
    FIELDS_BY_TYPE,
    Conflict,
    ConflictStatus,
    FieldValue,
    ObjectType,
    Record,
    Side,
)
from crmsync.store import VersionConflict
from crmsync.value_maps import ValueMap, map_for


class ConflictError(Exception):
    """The decision cannot be applied as asked (HTTP 409)."""


class InvalidResolution(RequestValidationError):
    """A resolution value the field cannot hold (HTTP 422, like a request that fails validation)."""

    def __init__(self, field: str, reasons: list[str], *, part: str = "value") -> None:
        super().__init__(
            [
                {"loc": ("body", "fields", field, part), "msg": reason, "type": "value_error"}
                for reason in reasons
            ]
        )
        self.field = field
        self.reasons = reasons

    def __str__(self) -> str:
        return "; ".join(self.reasons)


class Take(StrEnum):
    CRM = "crm"
    ACCOUNTING = "accounting"
    VALUE = "value"


class FieldChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    take: Take
    value: StrictStr | StrictBool | None = Field(
        default=None,
        description="the value to use when take is `value` (required then; `null` clears a field that may be "
        "empty): a string, or a boolean for a boolean field",
    )

    @model_validator(mode="after")
    def _value_only_for_value(self) -> FieldChoice:
        if self.take is not Take.VALUE and self.value is not None:
            raise ValueError("`value` is only used with take = value")
        if self.take is Take.VALUE and "value" not in self.model_fields_set:
            raise ValueError("take = value needs a `value` (null clears a field that may be empty)")
        return self


def _value_problems(field: str, value: FieldValue) -> list[str]:
    """What is wrong with a given value for every object type that has ``field`` (empty: fine for one)."""
    found: list[list[str]] = []
    for object_type in ObjectType:
        if field in text_rules.FIELD_SPECS[object_type]:
            reasons = text_rules.problems(object_type, field, value)
            if not reasons:
                return []
            found.append(reasons)
    return found[0] if found else []


class ResolveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fields: dict[str, FieldChoice] = Field(min_length=1, description="field -> choice")

    @field_validator("fields")
    @classmethod
    def _valid_values(cls, fields: dict[str, FieldChoice]) -> dict[str, FieldChoice]:
        """Refuse a given value no field of that name can hold (the record's type is checked on resolve)."""
        reasons = [
            r for name, c in fields.items() if c.take is Take.VALUE for r in _value_problems(name, c.value)
        ]
        if reasons:
            raise ValueError("; ".join(reasons))
        return fields


class FieldComparison(BaseModel):
    field: str
    crm: FieldValue = None
    accounting: FieldValue = None
    crmsync: FieldValue = None
    owner: str
    direction: str
    rule: str
    in_sync: bool
    held: bool = False
    unmapped_crm_value: str | None = Field(default=None, description="a CRM value with no value mapping")
    no_crm_mapping: bool = Field(default=False, description="crmsync's value has no CRM value in the map")
    open_conflict: str | None = None


class CompareView(BaseModel):
    record_id: str
    object_type: ObjectType
    exists: dict[str, bool] = Field(description="side -> the record exists there (linked, not deleted)")
    links: dict[str, str]
    in_sync: bool
    parked: dict[str, str] = Field(default_factory=dict)
    fields: list[FieldComparison]
    facts: FactsEntry | None = Field(
        default=None, description="the accounting facts last written to the CRM (when facts are on)"
    )


def _side_connections(config: TenantConfig, record: Record, side: Side) -> list[str]:
    return [c.connection_id for c in config.connections if c.side is side and c.connection_id in record.links]


def _side_value(record: Record, conns: list[str], name: str) -> tuple[bool, FieldValue]:
    for conn in conns:
        base = record.bases.get(conn)
        if base is not None and name in base.fields:
            return True, base.fields[name]
    return False, None


def compare(config: TenantConfig, record: Record, open_conflicts: list[Conflict]) -> CompareView:
    """Per field: both sides' values (as crmsync last read them), crmsync's, the owner and sync state."""
    policy = config.field_policy
    obj = record.object_type
    by_side = {side: _side_connections(config, record, side) for side in Side}
    exists = {
        side.value: any(not (b := record.bases.get(c)) or not b.deleted for c in conns)
        for side, conns in by_side.items()
    }
    open_by_field = {c.field: c.conflict_id for c in open_conflicts if c.status is ConflictStatus.OPEN}
    maps: dict[str, ValueMap] = config.value_maps
    rows = []
    for name in FIELDS_BY_TYPE[obj]:
        rule = policy.rule(obj, name)
        has_crm, crm_value = _side_value(record, by_side[Side.CRM], name)
        has_acc, acc_value = _side_value(record, by_side[Side.ACCOUNTING], name)
        ours = record.fields.get(name)
        unmapped = record.unmapped.get(name)
        compared = [v for present, v in ((has_crm, crm_value), (has_acc, acc_value)) if present]
        in_sync = unmapped is None and name not in record.held and all(v == ours for v in compared)
        value_map = map_for(name, maps)
        rows.append(
            FieldComparison(
                field=name,
                crm=crm_value,
                accounting=acc_value,
                crmsync=ours,
                owner=policy.owner(obj, name),
                direction=rule.direction.value,
                rule=rule.rule.value,
                in_sync=in_sync,
                held=name in record.held,
                unmapped_crm_value=unmapped,
                no_crm_mapping=bool(
                    obj is ObjectType.CUSTOMER
                    and value_map is not None
                    and ours is not None
                    and value_map.to_crm(str(ours)) is None
                ),
                open_conflict=open_by_field.get(name),
            )
        )
    return CompareView(
        record_id=record.record_id,
        object_type=obj,
        exists=exists,
        links=record.links,
        in_sync=all(r.in_sync for r in rows) and all(exists.values()),
        parked=record.parked,
        fields=rows,
    )


def compare_record(ctx: SyncContext, tenant_id: str, record_id: str, *, refresh: bool = False) -> CompareView:
    """The compare view; ``refresh`` re-reads every linked side first (vendor calls)."""
    if refresh:
        sync_now(ctx, tenant_id, record_id)
    config = ctx.config(tenant_id)
    record = ctx.store.get_record(tenant_id, record_id)
    if record is None:
        raise NotFound(record_id)
    view = compare(config, record, ctx.store.conflicts(tenant_id, record_id, ConflictStatus.OPEN))
    if config.facts.enabled and record.object_type is ObjectType.CUSTOMER:
        view.facts = ctx.store.facts_of(tenant_id, record_id)
    return view


def _chosen_value(config: TenantConfig, record: Record, name: str, choice: FieldChoice) -> FieldValue:
    """The canonical value a choice makes the field's value; ``InvalidResolution`` when it cannot be."""
    obj = record.object_type
    if choice.take is Take.VALUE:
        value = choice.value
    else:
        side = Side(choice.take.value)
        if side is Side.CRM and name in record.unmapped:
            raise ConflictError(f"{name}: the CRM value {record.unmapped[name]!r} has no value mapping")
        present, value = _side_value(record, _side_connections(config, record, side), name)
        if not present:
            raise ConflictError(f"{name}: the record has no {side.value} value to take")
        value = text_rules.clean(obj, name, value)  # as read now (a value stored before the rule)
    reasons = text_rules.problems(obj, name, value)
    if reasons and choice.take is not Take.VALUE:
        reasons = [f"the {choice.take.value} value cannot be taken: {r}" for r in reasons]
    if reasons:
        raise InvalidResolution(name, reasons, part="value" if choice.take is Take.VALUE else "take")
    # The form every connector reads values in: what is stored is what the vendors will echo.
    return text_rules.clean(obj, name, value)


def resolve(ctx: SyncContext, tenant_id: str, record_id: str, request: ResolveRequest) -> dict[str, Any]:
    """Apply a person's choice per field; the chosen values are then written to every linked side."""
    try:
        config = ctx.config(tenant_id)
    except UnknownTenant as exc:
        raise NotFound(tenant_id) from exc
    for _ in range(MAX_LOCK_RETRIES):
        record = ctx.store.get_record(tenant_id, record_id)
        if record is None:
            raise NotFound(record_id)
        unknown = sorted(set(request.fields) - set(FIELDS_BY_TYPE[record.object_type]))
        if unknown:
            raise ValueError(f"unknown {record.object_type.value} fields: {unknown}")
        chosen = {n: _chosen_value(config, record, n, c) for n, c in request.fields.items()}
        updated = _apply_choice(ctx, record, chosen)
        try:
            ctx.store.save_record(updated)
        except VersionConflict:
            continue
        _settle_conflicts(ctx, record, request, chosen)
        resolved: TimelineEntry = {
            "at": ctx.clock(),
            "kind": "resolution",
            "decision": "resolved",
            "changes": {n: {"before": record.fields.get(n), "after": v} for n, v in chosen.items()},
        }
        ctx.store.journal(tenant_id, record_id, resolved)
        note(ctx, tenant_id, record_id, resolved)
        return {"record_id": record_id, "fields": chosen, "writes": updated.forced}
    raise VersionConflict(record_id)


def _apply_choice(ctx: SyncContext, record: Record, chosen: dict[str, FieldValue]) -> Record:
    updated = record.model_copy(deep=True)
    now = ctx.clock()
    for name, value in chosen.items():
        updated.fields[name] = value
        updated.field_sources[name] = "resolution"
        updated.field_times[name] = now
        if name in updated.held:
            updated.held.remove(name)
        updated.unmapped.pop(name, None)
        for conn in updated.links:
            base = updated.bases.get(conn)
            if base is None or base.fields.get(name) != value:
                forced = updated.forced.setdefault(conn, [])
                if name not in forced:
                    forced.append(name)
    updated.updated_at = now
    return updated


def _settle_conflicts(
    ctx: SyncContext, record: Record, request: ResolveRequest, chosen: dict[str, FieldValue]
) -> None:
    """Close the open conflicts of the resolved fields, keeping the value that was not chosen."""
    now = ctx.clock()
    for item in ctx.store.conflicts(record.tenant_id, record.record_id, ConflictStatus.OPEN):
        if item.field not in chosen:
            continue
        value = chosen[item.field]
        take = request.fields[item.field].take
        losing = {Take.CRM: item.accounting_value, Take.ACCOUNTING: item.crm_value}.get(take)
        if take is Take.VALUE:
            losing = item.crm_value if item.crm_value != value else item.accounting_value
        ctx.store.delete_conflict(item)
        ctx.store.put_conflict(
            item.model_copy(
                update={
                    "status": ConflictStatus.RESOLVED,
                    "winner": take.value,
                    "resolution": value,
                    "losing_value": losing,
                    "resolved_at": now,
                }
            )
        )


def restore(ctx: SyncContext, tenant_id: str, conflict_id: str) -> dict[str, Any]:
    """Make a conflict's losing value crmsync's value again; it is written to every linked side."""
    item = ctx.store.get_conflict(tenant_id, conflict_id)
    if item is None:
        raise NotFound(conflict_id)
    if item.status is ConflictStatus.OPEN:
        raise ConflictError("an open conflict is resolved, not restored")
    # Not validated here: the losing value is checked against the record's field rule by ``resolve``
    # (an empty or over-long losing value is refused with 422, like a resolution).
    choice = FieldChoice.model_construct(take=Take.VALUE, value=item.losing_value)
    request = ResolveRequest.model_construct(fields={item.field: choice})
    out = resolve(ctx, tenant_id, item.record_id, request)
    ctx.store.put_conflict(
        item.model_copy(update={"status": ConflictStatus.RESTORED, "resolution": item.losing_value})
    )
    return {**out, "conflict_id": conflict_id}


def list_conflicts(
    ctx: SyncContext, tenant_id: str, *, status: ConflictStatus | None, record_id: str | None
) -> list[Conflict]:
    return ctx.store.conflicts(tenant_id, record_id, status)

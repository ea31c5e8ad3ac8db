"""The pure sync engine: 3-way reconcile of a source view and push planning. No I/O here.

Reconcile compares what a side shows now with that side's *base* (what crmsync last saw on or
wrote to it) and with the record (crmsync's merged truth):

- a field equal to its base did not change on that side: nothing to do (this is how the echo of
  crmsync's own write becomes a no-op, and why a replayed or duplicated signal is harmless);
- a field that changed on that side and that the side may set (field policy) is applied, unless
  the record also moved away from that base meanwhile (the other side changed it too): that is a
  conflict, settled by the field's rule, and the losing value is kept in a ``Conflict``;
- a field the side may not set is left alone; the push then restores the owner's value there.

Push planning compares the record with a target's base: only fields that flow to the target and
differ from what the target last had are written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from crmsync.models import (
    Base,
    Conflict,
    ConflictStatus,
    Fields,
    FieldValue,
    ObjectType,
    Record,
    Side,
    SourceRecord,
    SyncMode,
)
from crmsync.policy import ConflictRule, FieldPolicy


class Decision(StrEnum):
    CREATED = "created"
    APPLIED = "applied"
    UNCHANGED = "unchanged"
    ECHO = "echo"
    CONFLICT = "conflict"
    IGNORED = "ignored"


@dataclass
class ReconcileOutcome:
    decision: Decision
    record: Record
    applied: Fields = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    overridden: list[str] = field(default_factory=list)
    """Fields the source changed but does not own; the owner's value will be pushed back."""


def _winner_is_source(
    rule: ConflictRule,
    side: Side,
    source_time: datetime | None,
    record_time: datetime | None,
) -> bool:
    if rule is ConflictRule.CRM_WINS:
        return side is Side.CRM
    if rule is ConflictRule.ACCOUNTING_WINS:
        return side is Side.ACCOUNTING
    # LATEST: by the sides' own modification times; the incoming edit wins ties and unknowns,
    # because it is the one a person just made.
    if source_time is None or record_time is None:
        return True
    return source_time >= record_time


def reconcile(
    record: Record,
    source: SourceRecord,
    *,
    connection_id: str,
    side: Side,
    policy: FieldPolicy,
    now: datetime,
    base_override: Base | None = None,
    written_by_us: bool = False,
) -> ReconcileOutcome:
    """Fold one source view into ``record`` (a copy is returned; the input is not mutated)."""
    rec = record.model_copy(deep=True)
    base = base_override or rec.bases.get(connection_id)
    source_time = source.modified_at or now
    outcome = ReconcileOutcome(decision=Decision.UNCHANGED, record=rec)
    is_new = rec.version == 0 and not rec.fields
    # Directions govern a record *once linked*: a record that exists on this side only takes every
    # change from it (the link screen and the matcher must see its current values).
    single_sided = not any(conn != connection_id for conn in rec.links)

    for name, value in source.fields.items():
        if base is not None and name in base.fields and base.fields[name] == value:
            continue  # unchanged on this side since crmsync last saw it
        current = rec.fields.get(name)
        if is_new or (single_sided and name not in rec.held):
            if current != value or is_new:
                _apply(rec, name, value, connection_id, source_time)
                outcome.applied[name] = value
            continue
        field_rule = policy.rule(rec.object_type, name)
        if name in rec.held:
            # Held for a person: keep the newest values of both sides on the open conflict.
            other = next((b for c, b in rec.bases.items() if c != connection_id and name in b.fields), None)
            other_value = other.fields[name] if other is not None else current
            open_item = _conflict(rec, name, side, value, other_value, source_time, field_rule.rule.value)
            outcome.conflicts.append(open_item.model_copy(update={"status": ConflictStatus.OPEN}))
            outcome.held.append(name)
            continue
        if not policy.flows_from(rec.object_type, name, side):
            if current != value:
                outcome.overridden.append(name)
                # Not lost: the edit is kept (restorable) while the owner's value is written back.
                item = _conflict(rec, name, side, value, current, source_time, field_rule.direction.value)
                outcome.conflicts.append(
                    item.model_copy(
                        update={
                            "status": ConflictStatus.OVERRIDDEN,
                            "winner": side.other.value,
                            "losing_value": value,
                        }
                    )
                )
            continue
        if current == value:
            continue  # both sides already agree
        base_value = base.fields.get(name) if base is not None else None
        record_moved = base is not None and name in base.fields and current != base_value
        if not record_moved:
            _apply(rec, name, value, connection_id, source_time)
            outcome.applied[name] = value
            continue
        # Both sides changed since this side's base, to different values: a real conflict.
        record_time = rec.field_times.get(name)
        item = _conflict(rec, name, side, value, current, source_time, field_rule.rule.value)
        if field_rule.rule is ConflictRule.MANUAL:
            rec.held.append(name)
            outcome.held.append(name)
            item = item.model_copy(update={"status": ConflictStatus.OPEN, "winner": "held"})
        elif _winner_is_source(field_rule.rule, side, source_time, record_time):
            _apply(rec, name, value, connection_id, source_time)
            outcome.applied[name] = value
            item = item.model_copy(update={"winner": side.value, "losing_value": current})
        else:
            item = item.model_copy(update={"winner": side.other.value, "losing_value": value})
        outcome.conflicts.append(item)

    previous = rec.bases.get(connection_id)
    rec.bases[connection_id] = Base(
        fields=dict(source.fields),
        version=source.version,
        modified_at=source.modified_at,
        written_by_us=written_by_us
        or (previous is not None and previous.written_by_us and base_matches(previous, source.fields)),
        deleted=source.deleted,
        updated_at=now,
    )
    if is_new:
        outcome.decision = Decision.CREATED
    elif any(c.status is not ConflictStatus.OVERRIDDEN for c in outcome.conflicts):
        outcome.decision = Decision.CONFLICT
    elif outcome.applied:
        outcome.decision = Decision.APPLIED
    elif outcome.overridden:
        outcome.decision = Decision.IGNORED
    elif previous is not None and previous.written_by_us:
        outcome.decision = Decision.ECHO
    if outcome.applied:
        rec.updated_at = now
    return outcome


def _conflict(
    rec: Record,
    name: str,
    side: Side,
    value: FieldValue,
    current: FieldValue,
    source_time: datetime,
    rule: str,
) -> Conflict:
    """A conflict item with both sides' values and times (status and winner set by the caller)."""
    record_time = rec.field_times.get(name)
    crm_value, acc_value = (value, current) if side is Side.CRM else (current, value)
    crm_time, acc_time = (source_time, record_time) if side is Side.CRM else (record_time, source_time)
    return Conflict(
        tenant_id=rec.tenant_id,
        record_id=rec.record_id,
        object_type=rec.object_type,
        field=name,
        crm_value=crm_value,
        accounting_value=acc_value,
        crm_time=crm_time,
        accounting_time=acc_time,
        rule=rule,
        winner="",
        losing_value=None,
    )


def base_matches(base: Base, fields: Fields) -> bool:
    return all(base.fields.get(k) == v for k, v in fields.items())


def _apply(rec: Record, name: str, value: FieldValue, connection_id: str, when: datetime) -> None:
    rec.fields[name] = value
    rec.field_sources[name] = connection_id
    rec.field_times[name] = when


class PushAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"


@dataclass(frozen=True)
class PushPlan:
    action: PushAction
    fields: Fields
    expected: Fields = field(default_factory=dict)
    """UPDATE: what the target held for these fields when crmsync last saw it (its base). A connector
    checks it before writing: a field that differs was changed there by a person whose webhook is not
    reconciled yet, and writing over it would lose that edit without a trace."""


def may_create(
    record: Record,
    *,
    connection_id: str,
    side: Side,
    mode: SyncMode,
    only_customers_stage: bool = False,
) -> bool:
    """May the record be created on a connection where it has no counterpart yet?

    ``automatic`` creates everything; ``manual`` only what a person approved (``allow_create``, set
    by the link screen, "create on the other side" or an applied transfer-all). With the transfer
    timing "on customer stage", a CRM company reaches accounting only once its lifecycle stage is
    ``customer`` (a lead stays in the CRM until converted).
    """
    if mode is SyncMode.OFF or connection_id in record.blocked:
        return False
    if connection_id in record.allow_create:
        return True
    if mode is not SyncMode.AUTOMATIC:
        return False
    return not (
        only_customers_stage
        and side is Side.ACCOUNTING
        and record.object_type is ObjectType.CUSTOMER
        and record.fields.get("lifecycle_stage") != "customer"
    )


def plan_push(
    record: Record,
    *,
    connection_id: str,
    side: Side,
    supported: frozenset[str],
    policy: FieldPolicy,
    mode: SyncMode,
    create_allowed: bool | None = None,
) -> PushPlan | None:
    """What to write to one target connection, or ``None`` when it already has it all.

    ``create_allowed`` overrides the default (``mode is automatic``) for records without a link there.
    """
    if mode is SyncMode.OFF:
        return None
    obj = record.object_type
    withheld = set(record.held) | set(record.unmapped)
    candidates = [n for n in sorted(supported) if n in record.fields and n not in withheld]
    if connection_id not in record.links:
        allowed = mode is SyncMode.AUTOMATIC if create_allowed is None else create_allowed
        if not allowed:
            return None
        create_fields = {
            n: record.fields[n]
            for n in candidates
            if record.fields[n] is not None and policy.copied_on_create(obj, n, side)
        }
        if obj is ObjectType.CUSTOMER and not create_fields.get("name"):
            return None  # nothing worth creating yet (both vendors require a name)
        return PushPlan(PushAction.CREATE, create_fields)
    forced = set(record.forced.get(connection_id, ()))
    base = record.bases.get(connection_id)
    if base is not None and base.deleted:
        return None  # deleted there: never written to again (the number may be reused by another customer)
    diffs: Fields = {}
    for name in candidates:
        if not (policy.flows_to(obj, name, side) or name in forced):
            continue
        value = record.fields[name]
        if base is not None and name in base.fields:
            if base.fields[name] != value:
                diffs[name] = value
        elif value is not None:
            diffs[name] = value
    if not diffs:
        return None
    expected = {n: base.fields[n] for n in diffs if base is not None and n in base.fields}
    return PushPlan(PushAction.UPDATE, diffs, expected)


def after_write(
    record: Record,
    *,
    connection_id: str,
    side: Side,
    written: Fields,
    vendor_state: SourceRecord | None,
    external_id: str,
    policy: FieldPolicy,
    now: datetime,
) -> ReconcileOutcome:
    """Record a successful write: the target's new base, its link, and vendor-assigned values.

    The base becomes what the vendor now holds (its returned state, or the old base plus what was
    written), flagged as written by crmsync, so the echo of this write is recognised. Values the
    vendor assigned itself (e.g. e-conomic's customer number on create) flow back into the record.
    """
    old = record.bases.get(connection_id)
    pseudo = Base(fields={**(old.fields if old else {}), **written})
    # A write response may echo only some fields (HubSpot returns what was written): a value it
    # leaves out (None) is taken as unchanged, so a partial echo never blanks the base.
    merged = dict(pseudo.fields)
    if vendor_state is not None:
        merged.update({k: v for k, v in vendor_state.fields.items() if v is not None or k in written})
    state = SourceRecord(
        object_type=record.object_type,
        external_id=external_id,
        fields=merged,
        modified_at=vendor_state.modified_at if vendor_state else None,
        version=vendor_state.version if vendor_state else None,
    )
    rec = record.model_copy(deep=True)
    rec.links[connection_id] = external_id
    rec.forced.pop(connection_id, None)  # a person's resolution has now reached this side
    rec.parked.pop(connection_id, None)  # and a write refused there before has now gone through
    outcome = reconcile(
        rec,
        state,
        connection_id=connection_id,
        side=side,
        policy=policy,
        now=now,
        base_override=pseudo,
        written_by_us=True,
    )
    return outcome


# --------------------------------------------------------------------------------------------
# Identity and timeline decisions (pure; the flow modules do the reads and writes around them)
# --------------------------------------------------------------------------------------------


def contact_follows_customer(
    record: Record, parent: Record | None, connection_id: str, mode: SyncMode
) -> bool:
    """May a contact be created on a connection because its customer is linked there?

    A contact follows its customer: once the customer has a counterpart on a connection, its contacts
    go there too, unless this contact was unlinked from that connection, and never while sync is off.
    """
    return (
        mode is not SyncMode.OFF
        and connection_id not in record.blocked
        and parent is not None
        and connection_id in parent.links
    )


def released_for_reuse(record: Record, connection_id: str, external_id: str) -> Record:
    """The record once the vendor gave its id to another record (e-conomic reuses deleted numbers).

    The link and base on that connection go; the customer number is cleared when it was that id (the
    CRM company must not keep carrying another customer's number); the connection is blocked, so the
    record is not created there again on its own (a person may link or create it).
    """
    released = record.model_copy(deep=True)
    released.links.pop(connection_id, None)
    released.bases.pop(connection_id, None)
    if released.fields.get("customer_number") == external_id:
        released.fields["customer_number"] = None
        released.field_sources["customer_number"] = connection_id
    if connection_id not in released.blocked:
        released.blocked.append(connection_id)
    return released


def exact_key_of(side: Side, source: SourceRecord) -> str | None:
    """The accounting customer number a CRM company carries: its exact counterpart's id, if any.

    The number is the accounting side's own id, so it names one customer; only CRM companies carry it.
    """
    number = source.fields.get("customer_number")
    if side is not Side.CRM or source.object_type is not ObjectType.CUSTOMER or not isinstance(number, str):
        return None
    return number


def free_for_exact_link(candidate: Record, crm_connections: set[str]) -> bool:
    """An exact counterpart is linked only while it has no CRM counterpart yet (never steal a link)."""
    return not any(conn in crm_connections for conn in candidate.links)


def enters_timeline(signal_source: str, decision: Decision, links_changed: bool) -> bool:
    """Does a reconciled signal get a timeline entry? Every one does, except a scheduled pull's re-read
    that found nothing new: the lookback re-reads every recent record on every run, and its
    "unchanged" says nothing about the record."""
    return signal_source != "pull" or decision is not Decision.UNCHANGED or links_changed

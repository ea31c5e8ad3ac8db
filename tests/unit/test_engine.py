"""The pure engine: 3-way reconcile against the per-side base, echoes, conflicts, push plans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crmsync.connectors.base import SourceRecord
from crmsync.engine import Decision, PushAction, after_write, plan_push, reconcile
from crmsync.models import ObjectType, Record, Side, SyncMode
from crmsync.policy import (
    BOTH_LATEST,
    DEFAULT_CONTACT_RULES,
    DEFAULT_CUSTOMER_RULES,
    ConflictRule,
    Direction,
    FieldPolicy,
    FieldRule,
)

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
ECO, HS = "eco", "hs"
MASTER = ("name", "email", "phone", "city", "address", "zip", "country", "website")
POLICY = FieldPolicy(
    customer=DEFAULT_CUSTOMER_RULES | {f: BOTH_LATEST for f in MASTER},
    contact=DEFAULT_CONTACT_RULES | {f: BOTH_LATEST for f in ("name", "email", "phone", "customer")},
)
"""The engine's mechanics are shown on master data flowing both ways (the defaults are tested below)."""
CUSTOMER_SUPPORTED_HS = frozenset({"name", "email", "city", "customer_number", "customer_group"})


def src(
    fields: dict, ext: str = "1", at: datetime = T0, obj: ObjectType = ObjectType.CUSTOMER
) -> SourceRecord:
    return SourceRecord(object_type=obj, external_id=ext, fields=fields, modified_at=at)


def new_record() -> Record:
    return Record(tenant_id="t1", record_id="cus_" + "0" * 32, object_type=ObjectType.CUSTOMER)


def linked_record() -> Record:
    """A record synced both ways: both bases equal the record."""
    rec = reconcile(
        new_record(),
        src(
            {
                "name": "Acme A/S",
                "email": "a@acme.dk",
                "city": "Aarhus",
                "customer_number": "7",
                "customer_group": "1",
            }
        ),
        connection_id=ECO,
        side=Side.ACCOUNTING,
        policy=POLICY,
        now=T0,
    ).record
    rec.version = 1
    rec.links = {ECO: "7", HS: "900"}
    out = after_write(
        rec,
        connection_id=HS,
        side=Side.CRM,
        written=dict(rec.fields),
        vendor_state=None,
        external_id="900",
        policy=POLICY,
        now=T0,
    )
    return out.record


def test_new_record_takes_all_source_fields_and_sets_base():
    out = reconcile(
        new_record(),
        src({"name": "Acme", "city": "Aarhus"}),
        connection_id=ECO,
        side=Side.ACCOUNTING,
        policy=POLICY,
        now=T0,
    )
    assert out.decision is Decision.CREATED
    assert out.record.fields == {"name": "Acme", "city": "Aarhus"}
    assert out.record.bases[ECO].fields == {"name": "Acme", "city": "Aarhus"}
    assert out.record.field_sources["name"] == ECO


def test_unchanged_source_is_a_no_op():
    rec = linked_record()
    out = reconcile(
        rec,
        src(dict(rec.bases[ECO].fields)),
        connection_id=ECO,
        side=Side.ACCOUNTING,
        policy=POLICY,
        now=T0 + timedelta(minutes=1),
    )
    assert out.decision is Decision.UNCHANGED
    assert out.applied == {}
    assert out.record.fields == rec.fields


def test_echo_of_our_own_write_is_recognised_and_changes_nothing():
    rec = linked_record()
    hs_view = {k: v for k, v in rec.fields.items() if k in CUSTOMER_SUPPORTED_HS}
    out = reconcile(
        rec,
        src(hs_view, ext="900"),
        connection_id=HS,
        side=Side.CRM,
        policy=POLICY,
        now=T0 + timedelta(seconds=5),
    )
    assert out.decision is Decision.ECHO
    assert out.applied == {}
    assert (
        plan_push(
            out.record,
            connection_id=ECO,
            side=Side.ACCOUNTING,
            supported=frozenset(rec.fields),
            policy=POLICY,
            mode=SyncMode.AUTOMATIC,
        )
        is None
    )


def test_one_sided_change_is_applied_and_planned_for_the_other_side():
    rec = linked_record()
    view = dict(rec.bases[HS].fields) | {"city": "Odense"}
    out = reconcile(
        rec,
        src(view, ext="900", at=T0 + timedelta(minutes=2)),
        connection_id=HS,
        side=Side.CRM,
        policy=POLICY,
        now=T0 + timedelta(minutes=2),
    )
    assert out.decision is Decision.APPLIED
    assert out.applied == {"city": "Odense"}
    plan = plan_push(
        out.record,
        connection_id=ECO,
        side=Side.ACCOUNTING,
        supported=frozenset({"name", "email", "city", "customer_group"}),
        policy=POLICY,
        mode=SyncMode.MANUAL,
    )
    assert plan is not None and plan.action is PushAction.UPDATE
    assert plan.fields == {"city": "Odense"}


def test_field_owned_by_the_other_side_is_not_applied_and_is_pushed_back():
    rec = linked_record()
    view = dict(rec.bases[HS].fields) | {"customer_group": "9"}
    out = reconcile(rec, src(view, ext="900"), connection_id=HS, side=Side.CRM, policy=POLICY, now=T0)
    assert out.decision is Decision.IGNORED
    assert out.record.fields["customer_group"] == "1"
    assert out.overridden == ["customer_group"]
    plan = plan_push(
        out.record,
        connection_id=HS,
        side=Side.CRM,
        supported=CUSTOMER_SUPPORTED_HS,
        policy=POLICY,
        mode=SyncMode.AUTOMATIC,
    )
    assert plan is not None and plan.fields == {"customer_group": "1"}


def _both_changed(policy: FieldPolicy, crm_at: datetime, acc_at: datetime):
    rec = linked_record()
    acc = reconcile(
        rec,
        src(dict(rec.bases[ECO].fields) | {"city": "Vejle"}, at=acc_at),
        connection_id=ECO,
        side=Side.ACCOUNTING,
        policy=policy,
        now=acc_at,
    ).record
    return reconcile(
        acc,
        src(dict(acc.bases[HS].fields) | {"city": "Odense"}, ext="900", at=crm_at),
        connection_id=HS,
        side=Side.CRM,
        policy=policy,
        now=crm_at,
    )


def test_conflict_latest_edit_wins_and_loser_is_kept():
    out = _both_changed(POLICY, crm_at=T0 + timedelta(minutes=5), acc_at=T0 + timedelta(minutes=3))
    assert out.decision is Decision.CONFLICT
    assert out.record.fields["city"] == "Odense"
    (conflict,) = out.conflicts
    assert (conflict.crm_value, conflict.accounting_value, conflict.losing_value) == (
        "Odense",
        "Vejle",
        "Vejle",
    )
    assert conflict.winner == "crm"


def test_conflict_latest_keeps_newer_accounting_value():
    out = _both_changed(POLICY, crm_at=T0 + timedelta(minutes=1), acc_at=T0 + timedelta(minutes=3))
    assert out.record.fields["city"] == "Vejle"
    assert out.conflicts[0].losing_value == "Odense"


@pytest.mark.parametrize(
    ("rule", "expected"), [(ConflictRule.CRM_WINS, "Odense"), (ConflictRule.ACCOUNTING_WINS, "Vejle")]
)
def test_conflict_side_rules(rule, expected):
    policy = FieldPolicy(customer=POLICY.customer | {"city": FieldRule(direction=Direction.BOTH, rule=rule)})
    out = _both_changed(policy, crm_at=T0 + timedelta(minutes=1), acc_at=T0 + timedelta(minutes=9))
    assert out.record.fields["city"] == expected


def test_manual_rule_holds_the_field_only():
    policy = FieldPolicy(
        customer=POLICY.customer | {"city": FieldRule(direction=Direction.BOTH, rule=ConflictRule.MANUAL)}
    )
    out = _both_changed(policy, crm_at=T0 + timedelta(minutes=1), acc_at=T0 + timedelta(minutes=2))
    assert out.held == ["city"]
    assert out.record.fields["city"] == "Vejle"  # unchanged from before the CRM edit
    assert out.conflicts[0].winner == "held"


def test_both_changed_to_same_value_is_not_a_conflict():
    rec = linked_record()
    acc = reconcile(
        rec,
        src(dict(rec.bases[ECO].fields) | {"city": "Vejle"}),
        connection_id=ECO,
        side=Side.ACCOUNTING,
        policy=POLICY,
        now=T0,
    ).record
    out = reconcile(
        acc,
        src(dict(acc.bases[HS].fields) | {"city": "Vejle"}, ext="900"),
        connection_id=HS,
        side=Side.CRM,
        policy=POLICY,
        now=T0,
    )
    assert out.conflicts == []


def test_push_create_only_in_automatic_mode():
    rec = new_record()
    rec = reconcile(
        rec,
        src({"name": "Acme", "city": "Aarhus"}),
        connection_id=ECO,
        side=Side.ACCOUNTING,
        policy=POLICY,
        now=T0,
    ).record
    assert (
        plan_push(
            rec,
            connection_id=HS,
            side=Side.CRM,
            supported=CUSTOMER_SUPPORTED_HS,
            policy=POLICY,
            mode=SyncMode.MANUAL,
        )
        is None
    )
    plan = plan_push(
        rec,
        connection_id=HS,
        side=Side.CRM,
        supported=CUSTOMER_SUPPORTED_HS,
        policy=POLICY,
        mode=SyncMode.AUTOMATIC,
    )
    assert plan is not None and plan.action is PushAction.CREATE
    assert plan.fields == {"name": "Acme", "city": "Aarhus"}
    assert (
        plan_push(
            rec,
            connection_id=HS,
            side=Side.CRM,
            supported=CUSTOMER_SUPPORTED_HS,
            policy=POLICY,
            mode=SyncMode.OFF,
        )
        is None
    )


def test_after_write_takes_vendor_assigned_number_into_the_record():
    rec = reconcile(
        new_record(),
        src({"name": "Lead ApS"}, ext="900"),
        connection_id=HS,
        side=Side.CRM,
        policy=POLICY,
        now=T0,
    ).record
    vendor = src({"name": "Lead ApS", "customer_number": "1042", "customer_group": "1"}, ext="1042")
    out = after_write(
        rec,
        connection_id=ECO,
        side=Side.ACCOUNTING,
        written={"name": "Lead ApS"},
        vendor_state=vendor,
        external_id="1042",
        policy=POLICY,
        now=T0,
    )
    assert out.record.links[ECO] == "1042"
    assert out.record.fields["customer_number"] == "1042"
    assert out.record.bases[ECO].written_by_us is True
    # ... and the number then flows to the CRM
    out.record.links[HS] = "900"
    plan = plan_push(
        out.record,
        connection_id=HS,
        side=Side.CRM,
        supported=CUSTOMER_SUPPORTED_HS,
        policy=POLICY,
        mode=SyncMode.AUTOMATIC,
    )
    assert plan is not None and plan.fields["customer_number"] == "1042"


def test_policy_rejects_unknown_fields():
    with pytest.raises(ValueError, match="unknown customer fields"):
        FieldPolicy(customer={"nmae": FieldRule(direction=Direction.BOTH)})

"""Default field ownership, held/overridden/forced fields in the engine, value maps and preflight."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from crmsync.config import TenantConfig
from crmsync.connectors.base import SourceRecord
from crmsync.engine import Decision, PushAction, after_write, plan_push, reconcile
from crmsync.models import ConflictStatus, ObjectType, Record, Side, SyncMode
from crmsync.policy import ConflictRule, Direction, FieldPolicy, FieldRule
from crmsync.preflight import check_customer
from crmsync.value_maps import ValueMap, from_crm, to_crm

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
ECO, HS = "eco", "hs"
DEFAULTS = FieldPolicy()
HS_SUPPORTED = frozenset({"name", "city", "customer_number", "customer_group", "payment_terms"})
ECO_SUPPORTED = frozenset({"name", "city", "customer_number", "customer_group", "payment_terms", "currency"})
ACME = {
    "name": "Acme A/S",
    "city": "Aarhus",
    "customer_number": "7",
    "customer_group": "1",
    "payment_terms": "2",
}


def src(fields: dict, ext: str = "7", at: datetime = T0) -> SourceRecord:
    return SourceRecord(object_type=ObjectType.CUSTOMER, external_id=ext, fields=fields, modified_at=at)


def linked(policy: FieldPolicy = DEFAULTS) -> Record:
    rec = Record(tenant_id="t", record_id="cus_" + "1" * 32, object_type=ObjectType.CUSTOMER)
    rec = reconcile(rec, src(ACME), connection_id=ECO, side=Side.ACCOUNTING, policy=policy, now=T0).record
    rec.links = {ECO: "7", HS: "900"}
    return after_write(
        rec,
        connection_id=HS,
        side=Side.CRM,
        written=dict(rec.fields),
        vendor_state=None,
        external_id="900",
        policy=policy,
        now=T0,
    ).record


# -- default policy -------------------------------------------------------------------------------


def test_defaults_follow_the_integrators_table():
    rules = DEFAULTS.customer
    for field in ("name", "address", "zip", "city", "country", "email", "phone", "account_manager"):
        assert rules[field].direction is Direction.TO_ACCOUNTING, field
    for field in ("customer_group", "payment_terms", "customer_number"):
        assert rules[field].direction is Direction.TO_CRM, field
    assert all(r.direction is Direction.TO_ACCOUNTING for r in DEFAULTS.contact.values())
    assert DEFAULTS.owner(ObjectType.CUSTOMER, "name") == "crm"
    assert DEFAULTS.owner(ObjectType.CUSTOMER, "payment_terms") == "accounting"


def test_crm_owns_master_data_once_linked_and_accounting_its_bookkeeping_fields():
    rec = linked()
    crm = reconcile(
        rec,
        src(ACME | {"city": "Odense", "payment_terms": "9"}, ext="900", at=T0 + timedelta(minutes=1)),
        connection_id=HS,
        side=Side.CRM,
        policy=DEFAULTS,
        now=T0,
    )
    assert crm.applied == {"city": "Odense"}
    assert crm.overridden == ["payment_terms"]
    push = plan_push(
        crm.record,
        connection_id=HS,
        side=Side.CRM,
        supported=HS_SUPPORTED,
        policy=DEFAULTS,
        mode=SyncMode.AUTOMATIC,
    )
    assert push is not None and push.fields == {"payment_terms": "2"}, "accounting's value goes back"


def test_a_create_copies_every_field_but_never_the_crm_copy_of_a_customer_number():
    rec = Record(tenant_id="t", record_id="cus_" + "2" * 32, object_type=ObjectType.CUSTOMER)
    rec = reconcile(rec, src(ACME), connection_id=ECO, side=Side.ACCOUNTING, policy=DEFAULTS, now=T0).record
    to_crm_plan = plan_push(
        rec, connection_id=HS, side=Side.CRM, supported=HS_SUPPORTED, policy=DEFAULTS, mode=SyncMode.AUTOMATIC
    )
    assert to_crm_plan is not None and to_crm_plan.action is PushAction.CREATE
    assert to_crm_plan.fields == ACME, "name and city travel although the CRM owns them once linked"
    crm_rec = Record(tenant_id="t", record_id="cus_" + "3" * 32, object_type=ObjectType.CUSTOMER)
    crm_rec = reconcile(
        crm_rec, src(ACME, ext="900"), connection_id=HS, side=Side.CRM, policy=DEFAULTS, now=T0
    ).record
    to_acc = plan_push(
        crm_rec,
        connection_id=ECO,
        side=Side.ACCOUNTING,
        supported=ECO_SUPPORTED,
        policy=DEFAULTS,
        mode=SyncMode.AUTOMATIC,
    )
    assert to_acc is not None and "customer_number" not in to_acc.fields
    assert to_acc.fields["payment_terms"] == "2"


def test_direction_none_is_neither_read_nor_written_nor_copied():
    policy = FieldPolicy(customer=DEFAULTS.customer | {"city": FieldRule(direction=Direction.NONE)})
    assert not policy.copied_on_create(ObjectType.CUSTOMER, "city", Side.CRM)
    rec = linked(policy)
    out = reconcile(
        rec, src(ACME | {"city": "X"}, ext="900"), connection_id=HS, side=Side.CRM, policy=policy, now=T0
    )
    assert out.applied == {}


def test_unknown_fields_in_a_policy_are_rejected():
    with pytest.raises(ValidationError, match="unknown customer fields"):
        FieldPolicy(customer={"citty": FieldRule(direction=Direction.BOTH)})
    with pytest.raises(ValidationError):
        FieldRule(direction="sideways")  # type: ignore[arg-type]


# -- engine: overridden, held, forced ---------------------------------------------------------------


def test_non_owner_edit_is_kept_as_an_overridden_conflict():
    rec = linked()
    out = reconcile(
        rec, src(ACME | {"city": "Vejle"}), connection_id=ECO, side=Side.ACCOUNTING, policy=DEFAULTS, now=T0
    )
    assert out.decision is Decision.IGNORED
    (item,) = out.conflicts
    assert (item.status, item.winner, item.losing_value) == (ConflictStatus.OVERRIDDEN, "crm", "Vejle")
    assert item.conflict_id.startswith(f"{rec.record_id}.city.")


def both_ways(rule: ConflictRule) -> FieldPolicy:
    return FieldPolicy(customer=DEFAULTS.customer | {"city": FieldRule(direction=Direction.BOTH, rule=rule)})


def test_manual_holds_the_field_from_every_push_until_resolved_and_keeps_newest_values():
    policy = both_ways(ConflictRule.MANUAL)
    rec = linked(policy)
    rec = reconcile(
        rec, src(ACME | {"city": "Vejle"}), connection_id=ECO, side=Side.ACCOUNTING, policy=policy, now=T0
    ).record
    out = reconcile(
        rec, src(ACME | {"city": "Odense"}, ext="900"), connection_id=HS, side=Side.CRM, policy=policy, now=T0
    )
    assert out.record.held == ["city"]
    assert out.conflicts[0].status is ConflictStatus.OPEN
    assert out.conflicts[0].conflict_id.endswith(".city.open")
    held = out.record
    for conn, side, supported in ((HS, Side.CRM, HS_SUPPORTED), (ECO, Side.ACCOUNTING, ECO_SUPPORTED)):
        plan = plan_push(
            held, connection_id=conn, side=side, supported=supported, policy=policy, mode=SyncMode.AUTOMATIC
        )
        assert plan is None or "city" not in plan.fields
    again = reconcile(
        held, src(ACME | {"city": "Ribe"}, ext="900"), connection_id=HS, side=Side.CRM, policy=policy, now=T0
    )
    assert again.held == ["city"] and again.record.fields["city"] == held.fields["city"]
    assert (again.conflicts[0].crm_value, again.conflicts[0].accounting_value) == ("Ribe", "Vejle")


def test_forced_fields_are_written_against_the_direction_once():
    rec = linked()
    rec.fields["payment_terms"] = "5"  # a person's resolution of an accounting-owned field
    rec.forced = {ECO: ["payment_terms"], HS: ["payment_terms"]}
    plan = plan_push(
        rec,
        connection_id=ECO,
        side=Side.ACCOUNTING,
        supported=ECO_SUPPORTED,
        policy=DEFAULTS,
        mode=SyncMode.AUTOMATIC,
    )
    assert plan is not None and plan.fields == {"payment_terms": "5"}
    written = after_write(
        rec,
        connection_id=ECO,
        side=Side.ACCOUNTING,
        written=plan.fields,
        vendor_state=None,
        external_id="7",
        policy=DEFAULTS,
        now=T0,
    ).record
    assert ECO not in written.forced and written.forced[HS] == ["payment_terms"]


# -- value maps -------------------------------------------------------------------------------------


def test_value_map_translates_both_ways_and_holds_unmapped_values():
    maps = {"payment_terms": ValueMap(pairs={"net8": "1", "net30": "3"})}
    fields, unmapped = from_crm({"name": "A", "payment_terms": "net30", "account_manager": "77"}, maps)
    assert fields == {"name": "A", "payment_terms": "3"}
    assert unmapped == {"account_manager": "77"}, "owner ids always need a mapping"
    out, missing = to_crm({"payment_terms": "5", "customer_group": "2"}, maps)
    assert out == {"customer_group": "2"} and missing == {"payment_terms": "5"}
    assert to_crm({"payment_terms": "1"}, maps)[0] == {"payment_terms": "net8"}
    assert from_crm({"payment_terms": None}, maps) == ({"payment_terms": None}, {})


def test_value_maps_must_be_one_to_one_and_only_for_picklists():
    with pytest.raises(ValidationError, match="more than one"):
        ValueMap(pairs={"a": "1", "b": "1"})
    with pytest.raises(ValidationError, match="value maps only for"):
        TenantConfig.model_validate(
            {
                "tenant_id": "t",
                "connections": [{"connection_id": "e", "kind": "economic"}],
                "value_maps": {"name": {"pairs": {}}},
            }
        )


def test_unmapped_field_is_withheld_from_pushes_and_the_rest_flows():
    rec = linked()
    rec.fields["city"] = "Odense"
    rec.unmapped = {"account_manager": "77", "city": "x"}
    plan = plan_push(
        rec,
        connection_id=ECO,
        side=Side.ACCOUNTING,
        supported=ECO_SUPPORTED,
        policy=DEFAULTS,
        mode=SyncMode.AUTOMATIC,
    )
    assert plan is None, "city is withheld while its CRM value is unmapped"
    rec.unmapped = {"account_manager": "77"}
    plan = plan_push(
        rec,
        connection_id=ECO,
        side=Side.ACCOUNTING,
        supported=ECO_SUPPORTED,
        policy=DEFAULTS,
        mode=SyncMode.AUTOMATIC,
    )
    assert plan is not None and plan.fields == {"city": "Odense"}


# -- preflight --------------------------------------------------------------------------------------


def test_preflight_refuses_bad_refs_invalid_ids_and_currency_changes_with_booked_invoices():
    dk = {"country": "Danmark"}
    assert check_customer({"name": "A", "payment_terms": "3"}, creating=True, record_fields=dk) == []
    assert check_customer({"city": "B"}, creating=True, record_fields=dk) == ["a customer needs a name"]
    (reason,) = check_customer({"payment_terms": "net30"}, creating=False, record_fields=dk)
    assert "payment_terms" in reason and "mapping" in reason
    (reason,) = check_customer({"corporate_id": "12345678"}, creating=False, record_fields=dk)
    assert "corporate_id" in reason and "DK" in reason
    assert check_customer({"corporate_id": "13585628"}, creating=False, record_fields=dk) == []
    assert (
        check_customer({"corporate_id": "HRB 12345"}, creating=False, record_fields={"country": "Germany"})
        == []
    )
    asked: list[bool] = []

    def booked() -> bool:
        asked.append(True)
        return True

    (reason,) = check_customer(
        {"currency": "EUR"}, creating=False, record_fields=dk, has_booked_invoices=booked
    )
    assert "booked invoices" in reason and asked
    assert (
        check_customer(
            {"currency": "EUR"}, creating=False, record_fields=dk, has_booked_invoices=lambda: False
        )
        == []
    )
    assert (
        check_customer(
            {"name": "A", "currency": "EUR"}, creating=True, record_fields=dk, has_booked_invoices=booked
        )
        == []
    )


def test_a_record_on_one_side_only_takes_every_change_from_it():
    """Directions apply once linked: an accounting-only customer renamed by the bookkeeper shows the new
    name in the link screen (and the matcher sees it)."""
    rec = Record(
        tenant_id="t", record_id="cus_" + "4" * 32, object_type=ObjectType.CUSTOMER, links={ECO: "7"}
    )
    rec = reconcile(rec, src(ACME), connection_id=ECO, side=Side.ACCOUNTING, policy=DEFAULTS, now=T0).record
    out = reconcile(
        rec,
        src(ACME | {"name": "Acme Nord A/S"}),
        connection_id=ECO,
        side=Side.ACCOUNTING,
        policy=DEFAULTS,
        now=T0,
    )
    assert out.applied == {"name": "Acme Nord A/S"} and out.conflicts == []
    linked_rec = linked()
    out = reconcile(
        linked_rec,
        src(ACME | {"name": "Acme Nord A/S"}),
        connection_id=ECO,
        side=Side.ACCOUNTING,
        policy=DEFAULTS,
        now=T0,
    )
    assert out.applied == {} and out.overridden == ["name"]

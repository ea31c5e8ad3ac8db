"""The identity and timeline decisions of the engine (pure): contact follows customer, reused ids,
exact counterparts, what enters the timeline (issue 15 item 2)."""

from __future__ import annotations

from crmsync.engine import (
    Decision,
    contact_follows_customer,
    enters_timeline,
    exact_key_of,
    free_for_exact_link,
    released_for_reuse,
)
from crmsync.models import Base, ObjectType, Record, Side, SourceRecord, SyncMode


def record(record_id: str = "cus_1", **kw: object) -> Record:
    return Record(tenant_id="t", record_id=record_id, object_type=ObjectType.CUSTOMER, **kw)  # type: ignore[arg-type]


def test_a_contact_follows_its_customer_where_the_customer_is_linked() -> None:
    contact = Record(tenant_id="t", record_id="con_1", object_type=ObjectType.CONTACT)
    parent = record(links={"hs": "1"})
    assert contact_follows_customer(contact, parent, "hs", SyncMode.MANUAL)
    assert not contact_follows_customer(contact, parent, "eco", SyncMode.MANUAL), "customer not linked there"
    assert not contact_follows_customer(contact, None, "hs", SyncMode.AUTOMATIC), "no customer"
    assert not contact_follows_customer(contact, parent, "hs", SyncMode.OFF), "sync is off"
    unlinked = contact.model_copy(update={"blocked": ["hs"]})
    assert not contact_follows_customer(unlinked, parent, "hs", SyncMode.AUTOMATIC), "a person unlinked it"


def test_a_reused_number_releases_the_old_record_from_it() -> None:
    old = record(
        fields={"name": "Old ApS", "customer_number": "42"},
        links={"eco": "42", "hs": "9"},
        bases={"eco": Base(fields={"name": "Old ApS"})},
    )
    released = released_for_reuse(old, "eco", "42")
    assert released.links == {"hs": "9"} and "eco" not in released.bases
    assert released.fields["customer_number"] is None and released.field_sources["customer_number"] == "eco"
    assert released.blocked == ["eco"] and released.fields["name"] == "Old ApS"
    assert old.links == {"eco": "42", "hs": "9"}, "the input is not changed"
    other = released_for_reuse(record(fields={"customer_number": "7"}, links={"eco": "42"}), "eco", "42")
    assert other.fields["customer_number"] == "7", "another number stays"


def test_only_a_crm_company_with_a_number_has_an_exact_counterpart() -> None:
    company = SourceRecord(object_type=ObjectType.CUSTOMER, external_id="9", fields={"customer_number": "42"})
    assert exact_key_of(Side.CRM, company) == "42"
    assert exact_key_of(Side.ACCOUNTING, company) is None
    assert exact_key_of(Side.CRM, company.model_copy(update={"fields": {}})) is None
    contact = company.model_copy(update={"object_type": ObjectType.CONTACT})
    assert exact_key_of(Side.CRM, contact) is None
    assert free_for_exact_link(record(links={"eco": "42"}), {"hs"})
    assert not free_for_exact_link(record(links={"eco": "42", "hs": "8"}), {"hs"}), "never steal a link"


def test_the_timeline_skips_only_a_pulls_unchanged_re_read() -> None:
    assert not enters_timeline("pull", Decision.UNCHANGED, links_changed=False)
    assert enters_timeline("pull", Decision.UNCHANGED, links_changed=True)
    assert enters_timeline("pull", Decision.APPLIED, links_changed=False)
    assert enters_timeline("webhook", Decision.UNCHANGED, links_changed=False)

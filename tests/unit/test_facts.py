"""Accounting facts computed from booked invoices (``crmsync.facts``): no I/O."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from crmsync.config import TenantConfig
from crmsync.facts import (
    CustomerFacts,
    FactsSettings,
    GroupTotals,
    Invoice,
    compute,
    fact_values,
    roll_up,
    values_fingerprint,
)
from crmsync.messages import FactsRefresh, WorkRecord
from crmsync.signal_queue import is_bulk, is_bulk_body

TODAY = date(2026, 12, 7)


def inv(
    number: int, customer: int, days_ago: int, net: str, *, paid: bool = False, due_in: int = 14
) -> Invoice:
    gross = Decimal(net) * Decimal("1.25")
    day = TODAY - timedelta(days=days_ago)
    return Invoice(
        number=number,
        customer_number=customer,
        date=day,
        due_date=day + timedelta(days=due_in),
        net_amount=Decimal(net),
        gross_amount=gross,
        remainder=Decimal(0) if paid else gross,
    )


def test_open_balance_overdue_counts_last_invoice_and_revenue() -> None:
    booked = [
        inv(1, 101, 400, "999"),  # outside the 365-day window: no revenue, not "last"
        inv(2, 101, 30, "100", paid=True),
        inv(3, 101, 20, "200"),  # due 6 days ago: overdue
        inv(4, 101, 2, "80"),  # due in 12 days
        inv(5, 102, 1, "-50", paid=True),  # a credit note
    ]
    unpaid = [i for i in booked if i.remainder != 0]
    facts = compute(booked, unpaid, today=TODAY, revenue_days=365, customers=[101, 102, 103])
    f = facts[101]
    assert f.open_balance == Decimal("1598.75") and f.unpaid_invoices == 3, "unpaid ones of any age count"
    assert f.overdue_amount == Decimal("1498.75") and f.overdue_invoices == 2, "invoice 1 and 3 are overdue"
    assert f.revenue == Decimal("380.00"), "net, last 365 days"
    assert (f.last_invoice_number, f.last_invoice_date) == (4, TODAY - timedelta(days=2))
    assert facts[102].revenue == Decimal("-50.00"), "a credit note lowers revenue"
    assert facts[103] == CustomerFacts(revenue_days=365), "a customer without invoices is all zero"


def test_an_invoice_in_both_lists_counts_once_and_a_paid_one_is_not_open() -> None:
    one = inv(7, 5, 3, "100")
    facts = compute([one, one], [one, one, inv(8, 5, 3, "10", paid=True)], today=TODAY, revenue_days=30)
    assert facts[5].revenue == Decimal("100.00") and facts[5].unpaid_invoices == 1
    assert facts[5].open_balance == Decimal("125.00")


def test_the_revenue_window_follows_the_setting() -> None:
    booked = [inv(1, 9, 10, "10"), inv(2, 9, 100, "20")]
    assert compute(booked, [], today=TODAY, revenue_days=30)[9].revenue == Decimal("10.00")
    assert compute(booked, [], today=TODAY, revenue_days=365)[9].revenue == Decimal("30.00")


def test_roll_up_sums_descendants_into_every_ancestor_and_survives_a_cycle() -> None:
    facts = {
        "top": CustomerFacts(open_balance=Decimal("1"), revenue=Decimal("10")),
        "mid": CustomerFacts(open_balance=Decimal("2"), revenue=Decimal("20")),
        "leaf": CustomerFacts(open_balance=Decimal("4"), revenue=Decimal("40"), overdue_invoices=1),
        "alone": CustomerFacts(open_balance=Decimal("8")),
    }
    parents = {"mid": "top", "leaf": "mid", "top": None, "alone": None}
    totals = roll_up(facts, parents)
    assert set(totals) == {"top", "mid"}, "only records with children get totals"
    assert totals["top"].open_balance == Decimal("7") and totals["top"].members == 3
    assert totals["mid"].revenue == Decimal("60") and totals["mid"].overdue_invoices == 1
    cyclic = roll_up({"a": facts["top"], "b": facts["mid"]}, {"a": "b", "b": "a"})
    assert cyclic["a"].open_balance == Decimal("3") and cyclic["b"].open_balance == Decimal("3")


def test_values_are_text_and_the_fingerprint_moves_with_any_value() -> None:
    facts = CustomerFacts(open_balance=Decimal("12.50"), last_invoice_number=7, last_invoice_date=TODAY)
    values = fact_values(facts, None)
    assert values["open_balance"] == "12.50" and values["last_invoice_date"] == "2026-12-07"
    assert values["group_open_balance"] is None
    grouped = fact_values(facts, GroupTotals(open_balance=Decimal("99")))
    assert grouped["group_open_balance"] == "99.00"
    assert values_fingerprint(values) == values_fingerprint(dict(values))
    assert values_fingerprint(values) != values_fingerprint(grouped)
    paid = fact_values(facts.model_copy(update={"open_balance": Decimal("0.00")}), None)
    assert values_fingerprint(paid) != values_fingerprint(values)


def test_settings_are_opt_in_and_bounded() -> None:
    config = TenantConfig.model_validate(
        {"tenant_id": "t1", "connections": [{"connection_id": "economic", "kind": "economic"}]}
    )
    assert config.facts == FactsSettings() and not config.facts.enabled
    with pytest.raises(ValueError):
        FactsSettings(refresh_minutes=1)
    with pytest.raises(ValueError):
        FactsSettings(revenue_days=0)


def test_a_facts_refresh_message_travels_in_its_lane() -> None:
    live = FactsRefresh(tenant_id="t1", invoice=42)
    bulk = FactsRefresh(tenant_id="t1", bulk=True)
    assert not is_bulk(live) and is_bulk(bulk)
    assert is_bulk_body(bulk.model_dump(mode="json")) and not is_bulk_body(live.model_dump(mode="json"))
    record = WorkRecord.model_validate(
        {
            "messageId": "m1",
            "receiptHandle": "r",
            "body": live.model_dump_json(),
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1",
                "SenderId": "x",
                "ApproximateFirstReceiveTimestamp": "1",
            },
            "messageAttributes": {},
            "md5OfBody": "x",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:q",
            "awsRegion": "eu-west-1",
        }
    )
    assert record.body == live


def dynamics_config(**dynamics: object) -> dict:
    return {
        "tenant_id": "t1",
        "connections": [
            {"connection_id": "eco", "kind": "economic"},
            {
                "connection_id": "dyn",
                "kind": "dynamics",
                "dynamics": {"org_url": "https://acme.crm4.dynamics.com", **dynamics},
            },
        ],
    }


def test_dynamics_fact_columns_are_checked_and_needed_when_facts_are_on() -> None:
    ok = TenantConfig.model_validate(dynamics_config(fact_columns={"open_balance": "new_openbalance"}))
    assert ok.connections[1].dynamics is not None
    for bad in (
        {"fact_columns": {"balance": "new_balance"}},  # not a fact
        {"fact_columns": {"open_balance": "OpenBalance"}},  # not a custom column name
        {"fact_columns": {"open_balance": "new_x", "revenue": "new_x"}},  # one column, two facts
        {"columns": {"customer_group": "new_x"}, "fact_columns": {"revenue": "new_x"}},  # field and fact
    ):
        with pytest.raises(ValueError):
            TenantConfig.model_validate(dynamics_config(**bad))
    with pytest.raises(ValueError, match="fact_columns"):
        TenantConfig.model_validate({**dynamics_config(), "facts": {"enabled": True}})
    on = TenantConfig.model_validate(
        {**dynamics_config(fact_columns={"revenue": "new_revenue"}), "facts": {"enabled": True}}
    )
    assert on.facts.enabled

"""Building blocks of ``make bench``: the cost model's arithmetic and the cold-import measurement."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from bench.cost import Usage, lambda_gb_seconds, usd_per_million
from bench.throughput import Edit, dataverse_floor, edits_not_arrived
from local.crm_side import CrmRow

REPO_ROOT = Path(__file__).resolve().parents[2]

# One of everything, in round numbers, priced by hand at the eu-west-1 list prices in bench/cost.py.
KNOWN = Usage(
    lambda_invocations=1_000_000,  # 1M x $0.20/M                      = $0.20
    lambda_gb_seconds=100_000,  # 100k x $0.0000166667 (x86)           = $1.66667
    ddb_read_units=2_000_000,  # 2M x $0.1415/M                         = $0.283
    ddb_write_units=3_000_000,  # 3M x $0.70675/M                       = $2.12025
    sqs_requests=500_000,  # 0.5M x $0.40/M                              = $0.20
    api_requests=1_000_000,  # 1M x $1.11/M                              = $1.11
    secrets_calls=20_000,  # 2 x $0.05 per 10k                           = $0.10
)
KNOWN_USD = 0.20 + 1.66667 + 0.283 + 2.12025 + 0.20 + 1.11 + 0.10  # = 5.67992


def test_cost_of_a_known_usage() -> None:
    assert KNOWN.usd() == pytest.approx(KNOWN_USD, abs=1e-9)
    # arm64 changes only the duration price: 100k GB-s x $0.0000133334 = $1.33334
    assert KNOWN.usd(arm64=True) == pytest.approx(KNOWN_USD - 1.66667 + 1.33334, abs=1e-9)
    assert Usage().usd() == 0


def test_cost_per_million_edits_scales_the_run() -> None:
    assert usd_per_million(KNOWN, 2_000) == pytest.approx(KNOWN_USD * 500, abs=1e-6)
    assert usd_per_million(Usage(sqs_requests=3), 1) == pytest.approx(1.20)  # 3M requests x $0.40/M
    with pytest.raises(ValueError):
        usd_per_million(KNOWN, 0)


def test_lambda_bills_each_invocation_rounded_up_to_a_millisecond() -> None:
    # 0.1 ms -> 1 ms, 3.1 ms -> 4 ms, exactly 3 ms stays 3 ms (no float creep), 1 s -> 1000 ms
    assert lambda_gb_seconds([0.0001, 0.0031, 0.003, 1.0], 1024) == pytest.approx(1.008)
    assert lambda_gb_seconds([0.0031], 512) == pytest.approx(0.004 / 2)
    # per invocation, not on the sum: ten 0.1 ms runs are ten billed milliseconds, not one
    assert lambda_gb_seconds([0.0001] * 10, 1024) == pytest.approx(0.010)
    assert lambda_gb_seconds([], 1024) == 0


def test_an_edit_counts_as_arrived_only_with_its_value_on_the_other_side() -> None:
    customers = {
        1: {"paymentTerms": {"paymentTermsNumber": 3}, "telephoneAndFaxNumber": " +45 11 22 33 44\u200b"},
        2: {"paymentTerms": {"paymentTermsNumber": 5}, "telephoneAndFaxNumber": "+45 00 00 00 00"},
    }
    companies = [
        {"id": "101", "properties": {"crmsync_payment_terms": "3", "phone": "+45 11 22 33 44"}},
        {"id": "102", "properties": {"crmsync_payment_terms": "4", "phone": "+45 99 99 99 99"}},
    ]
    stack = SimpleNamespace(
        hubspot=SimpleNamespace(records=lambda object_type: companies),
        economic=SimpleNamespace(get_customer=customers.get),
    )
    edits = [
        Edit("economic", 1, "payment_terms", "2"),  # superseded by the next: only the last must be there
        Edit("economic", 1, "payment_terms", "3"),
        Edit("hubspot", 1, "phone", "+45 11 22 33 44"),  # there, once cleaned as the connectors clean
        Edit("economic", 2, "payment_terms", "5"),  # not in HubSpot (4)
        Edit("hubspot", 2, "phone", "+45 12 34 56 78"),  # not in e-conomic
        Edit("economic", 3, "payment_terms", "1"),  # no company at all
    ]
    missing = edits_not_arrived(stack, edits, {"1": "101", "2": "102"})  # type: ignore[arg-type]
    assert missing == [
        "customer 2 payment_terms (from economic)",
        "customer 2 phone (from hubspot)",
        "customer 3 payment_terms (from economic)",
    ], "record and field of each, no values"


def test_an_edit_counts_as_arrived_on_dynamics_by_the_accounts_canonical_fields() -> None:
    customers = {
        1: {"email": "Bog@K1.example ", "telephoneAndFaxNumber": "+45 11 22 33 44"},
        2: {"email": "old@k2.example", "telephoneAndFaxNumber": "+45 00 00 00 00"},
    }
    accounts = [
        CrmRow("a-1", {"email": "bog@k1.example", "phone": "+45 11 22 33 44"}, None),
        CrmRow("a-2", {"email": "old@k2.example", "phone": "+45 99 99 99 99"}, None),
    ]
    crm = SimpleNamespace(kind="dynamics", rows=lambda object_type: accounts)
    stack = SimpleNamespace(economic=SimpleNamespace(get_customer=customers.get))
    edits = [
        Edit("economic", 1, "email", "bog@k1.example"),  # there (e-mails are cleaned to lower case)
        Edit("dynamics", 1, "phone", "+45 11 22 33 44"),  # there
        Edit("economic", 2, "email", "new@k2.example"),  # the account still has the old one
        Edit("dynamics", 2, "phone", "+45 12 34 56 78"),  # not in e-conomic
    ]
    missing = edits_not_arrived(stack, edits, {"1": "a-1", "2": "a-2"}, crm)  # type: ignore[arg-type]
    assert missing == ["customer 2 email (from economic)", "customer 2 phone (from dynamics)"]


def test_the_dataverse_floor_is_batches_of_1000_a_page_per_table_and_20_rows_a_second() -> None:
    seconds, calls = dataverse_floor(10_000, 2)
    assert calls == 10 + 20 + 2, "accounts and contacts in $batch bodies of 1,000, one read of each table"
    assert seconds == 30_000 / 20, "every batch part counts against 6,000 requests per 300 s"
    seconds, calls = dataverse_floor(1_001, 2)
    assert calls == 2 + 3 + 2
    assert dataverse_floor(0, 2) == (0.0, 2), "nothing to write: the reads of an empty organisation"

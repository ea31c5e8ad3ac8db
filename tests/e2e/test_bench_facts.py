"""The facts bench, small: it must keep running and printing the calls of a refresh against their floor
(issue 17 item 2)."""

from __future__ import annotations

import pytest

from bench.facts import main, run

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(300)
def test_a_small_facts_bench_reads_in_pages_and_writes_only_what_changed(capsys):
    """HubSpot here (Dynamics' refreshes: tests/e2e/test_facts.py; both at full size: make bench-facts)."""
    result = run(120, 360, "hubspot")
    first, payments, unchanged = result["first"], result["payments"], result["unchanged"]
    assert first["changed"] >= 90, "most customers have invoices in the window"
    assert first["economic_calls"] == first["economic_floor"] == 2, "two pages: never a call per customer"
    assert 0 < payments["changed"] < 20, "1 % of the open invoices paid: only their customers"
    assert payments["crm_calls"] == payments["crm_floor"] == 1
    assert unchanged["changed"] == 0 and unchanged["crm_calls"] == 0, "nothing changed, nothing written"
    assert unchanged["ratio_to_floor"] == payments["ratio_to_floor"] == 1.0
    assert first["ratio_to_floor"] <= 2.0, "the first fill: one-time setup and batches of 100"


def test_the_bench_prints_one_line_per_refresh(monkeypatch, capsys):
    canned = {"changed": 1, "economic_calls": 2, "economic_floor": 2, "crm_calls": 1, "crm_floor": 1,
              "ratio_to_floor": 1.0, "seconds": 0.1}  # fmt: skip
    monkeypatch.setattr(
        "bench.facts.run", lambda *a: {"first": canned, "payments": canned, "unchanged": canned}
    )
    assert main(["--customers", "5", "--invoices", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[:3]] == [
        "facts_refresh[first]",
        "facts_refresh[payments]",
        "facts_refresh[unchanged]",
    ]
    assert all("ratio_to_floor=" in line for line in lines[:3])

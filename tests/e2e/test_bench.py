"""The throughput bench, small: it must keep running and keep printing the line issue 6 asks for, for
HubSpot and for Dynamics 365 (issue 16: the CRM calls per record against the floor of ``$batch``)."""

from __future__ import annotations

import re

import botocore.client
import pytest

from bench.throughput import floor_seconds, run

KEYS = (
    "backfill_ratio_to_floor",
    "hubspot_calls_per_record",
    "baseline_speedup",
    "calls_per_edit",
    "ddb_ops_per_edit",
    "import_ratio_vs_boto3",
    "peak_rss_mb",
    "usd_per_million_edits",
)
CONVERGENCE = ("edits_not_arrived", "parked", "dlq_messages")
DYNAMICS_KEYS = (
    "backfill_ratio_to_floor",
    "dynamics_calls_per_record",
    "dynamics_floor_per_record",
    "dynamics_calls_ratio_to_floor",
    *KEYS[2:],
)


def test_floor_counts_batches_of_100_at_ten_hubspot_requests_a_second():
    seconds, calls = floor_seconds(10_000, 2)
    assert calls == 100 + 200, "company upserts, contact creates with their company inline"
    assert seconds == 30.0


@pytest.mark.timeout(300)  # ~30 s, alone or beside another xdist worker
def test_small_bench_prints_every_number_and_syncs_everything():
    before = botocore.client.BaseClient._make_api_call
    result = run(customers=20, contacts=2, edits=10, baseline_sample=230, import_repeats=1)
    assert botocore.client.BaseClient._make_api_call is before, "the bench's AWS counter was undone"
    values = dict(re.findall(r"(\w+)=([0-9.]+)", result.line))
    assert tuple(values) == KEYS + CONVERGENCE, result.line
    assert all(float(values[k]) > 0 for k in KEYS), result.line
    assert values["edits_not_arrived"] == "0", f"every edit reached the other side: {result.details}"
    assert result.not_arrived == 0 and result.details["edits_not_arrived"] == []
    details = result.details
    assert details["synced"] == 20 * 3, "every customer and contact reached HubSpot"
    assert details["hubspot_calls"] >= details["hubspot_calls_needed"]
    writes = {k: n for k, n in details["hubspot_backfill_calls"].items() if not k.endswith("/search")}
    assert sum(writes.values()) == details["hubspot_calls_needed"], (
        f"the backfill wrote in full batches of 100, nothing more: {writes}"
    )
    assert 5 < details["baseline_records_per_s"] < 20, "the baseline is held to HubSpot's 10 requests/s"
    assert details["edit_vendor_calls"] >= 10, (
        "the edits were carried to the other side (vendor calls were made)"
    )
    assert float(values["peak_rss_mb"]) < 256, "a Lambda container stays far from its memory limit"


@pytest.mark.timeout(300)  # ~35 s alone
def test_small_dynamics_bench_prints_its_calls_against_the_batch_floor_and_syncs_everything():
    result = run(
        customers=20, contacts=2, edits=10, baseline_sample=230, import_repeats=1, crm_kind="dynamics"
    )
    values = dict(re.findall(r"(\w+)=([0-9.]+)", result.line))
    assert tuple(values) == DYNAMICS_KEYS + CONVERGENCE, result.line
    assert all(float(values[k]) > 0 for k in DYNAMICS_KEYS), result.line
    assert values["edits_not_arrived"] == "0", f"every edit reached the other side: {result.details}"
    details = result.details
    assert details["synced"] == 20 * 3, "every customer and contact reached Dynamics"
    calls, needed = details["dynamics_calls"], details["dynamics_calls_needed"]
    assert needed == 1 + 1 + 2, "a $batch of accounts, one of contacts, a page of each table read"
    assert float(values["dynamics_calls_per_record"]) == pytest.approx(calls / 60, abs=1e-4)
    assert float(values["dynamics_floor_per_record"]) == pytest.approx(needed / 60, abs=1e-4)
    assert float(values["dynamics_calls_ratio_to_floor"]) == pytest.approx(calls / needed, abs=0.01)
    writes = {k: n for k, n in details["dynamics_backfill_calls"].items() if not k.startswith("GET")}
    assert writes == {"POST $batch": 2}, f"20 accounts in one $batch, 40 contacts in another: {writes}"
    assert details["edit_vendor_calls"] >= 10, "the edits were carried to the other side"
    assert details["parked"] == 0 and sum(details["dlq_messages"].values()) == 0

"""Batch reads and writes of the store, and the worker's one-shot read caches built on them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from crmsync import runtime, service
from crmsync.models import ObjectType, Record, Signal, utcnow
from crmsync.store import new_record_id
from tests.integration.conftest import Env


def _linked(env: Env, tenant: str, n: int) -> dict[str, str]:
    out = {}
    for i in range(n):
        record = Record(
            tenant_id=tenant, record_id=new_record_id(ObjectType.CUSTOMER), object_type=ObjectType.CUSTOMER
        )
        record.fields["name"] = f"Customer {i}"
        env.store.save_record(record, new_links={"eco": str(1000 + i)})
        out[str(1000 + i)] = record.record_id
    return out


def test_batch_reads_span_several_requests_and_report_what_is_missing(env: Env):
    linked = _linked(env, "t1", 130)
    _linked(env, "t2", 3)  # another tenant's links with the same external ids are never seen
    keys = [("eco", ObjectType.CUSTOMER, str(1000 + i)) for i in range(135)]
    ops = env.store.ops
    links = env.store.find_links("t1", keys)
    assert env.store.ops - ops == 2, "135 keys are two BatchGetItem requests (100 + 35)"
    assert {k[2]: v for k, v in links.items() if v} == linked
    assert [k[2] for k, v in links.items() if v is None] == ["1130", "1131", "1132", "1133", "1134"]
    records = env.store.get_records("t1", [*linked.values(), "cus_missing"])
    assert sorted(records) == sorted(linked.values())
    assert records[linked["1007"]].fields["name"] == "Customer 7"
    assert records[linked["1007"]].version == 1


def test_journal_many_keeps_each_records_entries_in_order(env: Env):
    start = utcnow()
    entries = [
        ("t1", f"rec-{i % 3}", {"kind": "signal", "n": i}, start + timedelta(milliseconds=i))
        for i in range(60)
    ]
    ops = env.store.ops
    env.store.journal_many(entries)
    assert env.store.ops - ops == 3, "60 entries are three BatchWriteItem requests (25 + 25 + 10)"
    assert [e["n"] for e in env.store.timeline("t1", "rec-1")] == list(range(1, 60, 3))


def test_a_stale_prefetched_record_costs_a_retry_never_a_lost_write(env: Env):
    """The worker prefetches records; if another writer moves one before the signal is handled, the
    version check refuses the stale write and the signal is decided again on a fresh read."""
    env.tenant("t1")
    env.economic.seed(2, contacts_per_customer=0, seed=5)
    numbers = env.economic.customer_numbers()
    ctx = runtime.context()
    signals = [
        Signal(
            tenant_id="t1",
            connection_id="eco",
            object_type=ObjectType.CUSTOMER,
            external_id=str(n),
            source="pull",
        )
        for n in numbers
    ]
    for signal in signals:
        service.handle_signal(ctx, signal)
    env.economic.update_customer(numbers[0], telephoneAndFaxNumber="+45 70 70 70 70")
    ctx.forget_configs()
    service.prefetch(ctx, signals)
    rid = env.store.find_link("t1", "eco", ObjectType.CUSTOMER, str(numbers[0]))
    assert rid is not None and ("t1", rid) in ctx._records, "the record was prefetched"
    other = env.store.get_record("t1", rid)
    assert other is not None
    other.fields["city"] = "Written meanwhile"
    env.store.save_record(other)  # somebody else writes after the prefetch
    outcome = service.handle_signal(ctx, signals[0])
    assert outcome.decision == "applied"
    final = env.store.get_record("t1", rid)
    assert final is not None
    assert final.fields["phone"] == "+45 70 70 70 70" and final.fields["city"] == "Written meanwhile"
    assert final.version == other.version + 2


def test_a_transfer_page_applied_twice_is_counted_once(env: Env):
    """SQS delivers at least once and a worker can crash after the work, before the delete."""
    env.store.put_job("t1", "job1", 200, what="test")
    assert env.store.add_job_progress("t1", "job1", 0, 98, 2) is True
    assert env.store.add_job_progress("t1", "job1", 0, 98, 2) is False, "the redelivered page"
    assert env.store.add_job_progress("t1", "job1", 1, 100, 0) is True
    job = env.store.get_job("t1", "job1")
    assert job is not None and (job.done, job.failed, job.total) == (198, 2, 200)


def _hubspot_linked(env: Env, name: str, *, record_id_property: bool = True) -> tuple[str, str]:
    """A HubSpot company linked to a record; the company carries the record's id as crmsync writes it."""
    from crmsync.models import Base

    rid = new_record_id(ObjectType.CUSTOMER)
    properties = {"name": name, **({"crmsync_record_id": rid} if record_id_property else {})}
    company = env.hubspot.create("companies", properties)
    record = Record(
        tenant_id="t1",
        record_id=rid,
        object_type=ObjectType.CUSTOMER,
        fields={"name": name},
        links={"hs": company},
        bases={"hs": Base(fields={"name": name})},
    )
    env.store.save_record(record, new_links={"hs": company})
    return company, rid


def test_hubspot_signals_read_their_record_by_the_id_the_company_carries(
    env: Env, monkeypatch: pytest.MonkeyPatch
):
    """A company crmsync created carries ``crmsync_record_id``: the worker reads that record directly
    (no link read) and trusts it only when the record's link names the company. A hint that points
    elsewhere (a person edited it, or copied a value) costs a link read, never a wrong record."""
    env.tenant("t1")
    ctx = runtime.context()
    ctx.connectors.get(ctx.config("t1"), "hs").ensure_setup()
    pairs = [_hubspot_linked(env, f"Firma {i}") for i in range(3)]
    stray_company, stray = _hubspot_linked(env, "Stray", record_id_property=False)
    tampered, tampered_rid = pairs[0]
    env.hubspot.edit("companies", tampered, {"crmsync_record_id": stray})
    for n, (company, _) in enumerate(pairs):
        env.hubspot.edit("companies", company, {"phone": f"+45 7000 000{n}"})
    asked: list[tuple[str, ObjectType, str]] = []
    find_links = ctx.store.find_links

    def spy(tenant: str, keys: Any) -> Any:
        keys = list(keys)
        asked.extend(keys)
        return find_links(tenant, keys)

    monkeypatch.setattr(ctx.store, "find_links", spy)
    signals = [
        Signal(
            tenant_id="t1",
            connection_id="hs",
            object_type=ObjectType.CUSTOMER,
            external_id=c,
            source="webhook",
        )
        for c, _ in pairs
    ]
    ctx.forget_configs()
    service.prefetch(ctx, signals)
    assert asked == [("hs", ObjectType.CUSTOMER, tampered)], "only the hint that did not prove out"
    for signal in signals:
        assert service.handle_signal(ctx, signal).decision == "applied"
    for n, (_, rid) in enumerate(pairs):
        record = env.store.get_record("t1", rid)
        assert record is not None and record.fields["phone"] == f"+45 7000 000{n}"
    untouched = env.store.get_record("t1", stray)
    assert untouched is not None and untouched.fields.get("phone") is None and untouched.version == 1
    assert tampered_rid != stray and stray_company not in {c for c, _ in pairs}

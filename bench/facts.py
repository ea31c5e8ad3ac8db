"""``make bench-facts``: the calls of an accounting-facts refresh against their floor (issue 17 item 2).

On the local stack: ``customers`` e-conomic customers linked to as many CRM companies (HubSpot, or
Dynamics 365 accounts with the local fact columns), ``invoices`` booked invoices over the last two years
(60 % paid, some partly, 5 % credit notes). Three scheduled refreshes, each sent as the schedule sends it
(a ``FactsRefresh`` on the bulk queue, run by the worker under its role):

1. **first**: every customer's facts are new, so every company is written;
2. **payments**: 1 % of the open invoices are paid (no webhook: e-conomic has none), so only their
   customers change;
3. **unchanged**: nothing happened in between.

Per refresh: the e-conomic calls and the CRM calls, against the floor, the fewest calls the APIs allow
for the same result: e-conomic pages of 1,000 (its maximum) over the window's booked invoices and the
older unpaid ones (every invoice the facts need, none twice; the totals endpoints cannot give the last
invoice or the window's counts), and CRM writes of the changed companies in the largest batch the API
takes (HubSpot 100 per batch update; Dataverse 1,000 requests per ``$batch``, where crmsync sends 100:
``connectors/dataverse_facts``). Printed: one line per refresh and the ratio of all calls to the floor.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from crmsync import runtime
from crmsync.facts import FactsSettings
from crmsync.messages import FactsRefresh
from crmsync.models import ObjectType, Record, SyncMode
from crmsync.store import new_record_id
from local.stack import LocalStack
from local.vendors import DEFAULT_ACCOUNT, ECONOMIC_CONNECTION, CrmKind

TENANT = "bench-facts"
REVENUE_DAYS = 365
CRM_BATCH_MAX = {"hubspot": 100, "dynamics": 1000}


def link_customers(stack: LocalStack, crm_kind: CrmKind, numbers: list[int]) -> None:
    """Companies in the CRM and linked records in crmsync, as after a transfer (made directly: the
    transfer is not what this bench measures)."""
    crm = stack.accounts[DEFAULT_ACCOUNT].crm(crm_kind)
    names = {n: str((stack.economic.get_customer(n) or {}).get("name") or f"Kunde {n}") for n in numbers}
    rows = [{"name": names[n]} for n in numbers]
    if crm_kind == "hubspot":
        ids = stack.hubspot.seed("companies", rows)
    else:
        dynamics = stack.accounts[DEFAULT_ACCOUNT].dynamics
        assert dynamics is not None
        ids = dynamics.seed("account", rows)
    for number, external_id in zip(numbers, ids, strict=True):
        links = {ECONOMIC_CONNECTION: str(number), crm.connection_id: external_id}
        record = Record(
            tenant_id=TENANT,
            record_id=new_record_id(ObjectType.CUSTOMER),
            object_type=ObjectType.CUSTOMER,
            fields={"name": names[number]},
            links=links,
        )
        stack.store.save_record(record, new_links=links)


def _floor_reads(stack: LocalStack, invoice_numbers: list[int], today: date) -> int:
    since = today - timedelta(days=REVENUE_DAYS)
    in_window = older_open = 0
    for n in invoice_numbers:
        invoice = stack.economic.get_booked_invoice(n)
        assert invoice is not None
        day = date.fromisoformat(invoice["date"][:10])
        if day >= since:
            in_window += 1
        elif float(invoice.get("remainder") or 0) != 0:
            older_open += 1
    return max(1, math.ceil(in_window / 1000)) + max(1, math.ceil(older_open / 1000))


def _refresh(stack: LocalStack, crm_kind: CrmKind, floor_reads: int) -> dict[str, Any]:
    ctx = runtime.context()
    assert ctx.queue is not None
    crm = stack.accounts[DEFAULT_ACCOUNT].crm(crm_kind)
    before = stack.store.facts_hashes(TENANT)
    eco0, crm0, writes0 = stack.economic.stats()["total"], crm.api_calls(), crm.write_calls()
    by_call0 = dict(_crm_stats(stack, crm_kind))
    started = time.monotonic()
    ctx.queue.send([FactsRefresh(tenant_id=TENANT, bulk=True)])
    stack.run_until_idle(timeout=3600)
    seconds = time.monotonic() - started
    after = stack.store.facts_hashes(TENANT)
    changed = sum(1 for rid, digest in after.items() if before.get(rid) != digest)
    economic_calls = stack.economic.stats()["total"] - eco0
    crm_calls = crm.api_calls() - crm0
    crm_floor = math.ceil(changed / CRM_BATCH_MAX[crm_kind])
    calls = economic_calls + crm_calls
    floor = floor_reads + crm_floor
    return {
        "changed": changed,
        "economic_calls": economic_calls,
        "economic_floor": floor_reads,
        "crm_calls": crm_calls,
        "crm_writes": crm.write_calls() - writes0,
        "crm_floor": crm_floor,
        "ratio_to_floor": round(calls / floor, 3),
        "seconds": round(seconds, 1),
        "crm_by_call": {
            k: v - by_call0.get(k, 0)
            for k, v in _crm_stats(stack, crm_kind).items()
            if v != by_call0.get(k, 0)
        },
    }


def _crm_stats(stack: LocalStack, crm_kind: CrmKind) -> dict[str, int]:
    if crm_kind == "dynamics":
        dynamics = stack.accounts[DEFAULT_ACCOUNT].dynamics
        assert dynamics is not None
        return dict(dynamics.stats["calls"])
    return dict(stack.hubspot.stats().get("by_endpoint") or {})


def run(customers: int, invoices: int, crm_kind: CrmKind = "hubspot") -> dict[str, Any]:
    with LocalStack() as stack:
        numbers = stack.economic.seed(customers, contacts_per_customer=0, seed=5)
        stack.add_tenant(TENANT, mode=SyncMode.MANUAL, crm=crm_kind)
        link_customers(stack, crm_kind, numbers)
        invoice_numbers = stack.economic.seed_booked_invoices(invoices, customers=numbers, days=730, seed=9)
        stack.run_pull()  # the tenant's first pull sees the linked records: settled before measuring
        stack.run_until_idle(timeout=3600)
        config = stack.store.get_config(TENANT)
        assert config is not None
        stack.store.put_config(config.model_copy(update={"facts": FactsSettings(enabled=True)}))
        today = datetime.now(UTC).date()
        floor_reads = _floor_reads(stack, invoice_numbers, today)
        result: dict[str, Any] = {"customers": customers, "invoices": invoices, "crm": crm_kind}
        result["first"] = _refresh(stack, crm_kind, floor_reads)
        rng = random.Random(17)
        open_ones = [
            n for n in invoice_numbers if float(stack.economic.get_booked_invoice(n)["remainder"]) > 0
        ]
        for n in rng.sample(open_ones, max(1, len(open_ones) // 100)):
            stack.economic.register_payment(n)
        result["payments"] = _refresh(stack, crm_kind, _floor_reads(stack, invoice_numbers, today))
        result["unchanged"] = _refresh(stack, crm_kind, _floor_reads(stack, invoice_numbers, today))
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--invoices", type=int, default=30_000)
    parser.add_argument("--crm", choices=("hubspot", "dynamics"), default="hubspot")
    args = parser.parse_args(argv)
    result = run(args.customers, args.invoices, args.crm)
    for name in ("first", "payments", "unchanged"):
        r = result[name]
        print(
            f"facts_refresh[{name}] crm={args.crm} customers={args.customers} changed={r['changed']} "
            f"economic_calls={r['economic_calls']} economic_floor={r['economic_floor']} "
            f"crm_calls={r['crm_calls']} crm_floor={r['crm_floor']} ratio_to_floor={r['ratio_to_floor']} "
            f"seconds={r['seconds']}"
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

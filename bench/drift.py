"""``make bench-drift``: the calls of a drift report (a full compare) of 10,000 customers against their floor.

On the local stack: ``customers`` e-conomic customers linked to as many CRM companies (HubSpot, or
Dynamics 365 accounts), settled, then one drift run sent as the schedule sends it (a ``DriftRun`` on the
bulk queue, run by the worker under its role), after ``drifted`` customers were changed in e-conomic
behind the webhooks' back. Printed: the calls per vendor against the floor, the fewest calls the APIs
allow to read every customer and contact once (e-conomic pages of 1,000, HubSpot's list pages of 100,
Dataverse pages of 5,000; at least one call per object type and connection), the records compared and
the drift found (it must be exactly the changed customers).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Any

from bench.facts import TENANT, link_customers
from crmsync import runtime
from crmsync.messages import DriftRun
from crmsync.models import SyncMode
from local.stack import LocalStack
from local.vendors import DEFAULT_ACCOUNT, CrmKind

PAGE = {"economic": 1000, "hubspot": 100, "dynamics": 5000}


def _pages(rows: int, page: int) -> int:
    return max(1, math.ceil(rows / page))


def run(customers: int, drifted: int, crm_kind: CrmKind = "hubspot") -> dict[str, Any]:
    with LocalStack() as stack:
        numbers = stack.economic.seed(customers, contacts_per_customer=0, seed=5)
        stack.add_tenant(TENANT, mode=SyncMode.MANUAL, crm=crm_kind)
        link_customers(stack, crm_kind, numbers)
        stack.run_pull()
        stack.run_until_idle(timeout=3600)
        for number in numbers[:drifted]:
            stack.economic.update_customer(number, fire_webhook=False, city="Drift By")
        crm = stack.accounts[DEFAULT_ACCOUNT].crm(crm_kind)
        eco0, crm0 = stack.economic.stats()["total"], crm.api_calls()
        ctx = runtime.context()
        assert ctx.queue is not None
        started = time.monotonic()
        ctx.queue.send([DriftRun(tenant_id=TENANT)])
        stack.run_until_idle(timeout=3600)
        seconds = time.monotonic() - started
        report = json.loads(stack.store.drift(TENANT) or "{}")
        economic_calls = stack.economic.stats()["total"] - eco0
        crm_calls = crm.api_calls() - crm0
        economic_floor = _pages(customers, PAGE["economic"]) + 1  # the contacts' read (none here)
        crm_floor = _pages(customers, PAGE[crm_kind]) + 1
        return {
            "crm": crm_kind,
            "customers": customers,
            "compared": report.get("compared"),
            "drifted_records": report.get("drifted_records"),
            "economic_calls": economic_calls,
            "economic_floor": economic_floor,
            "crm_calls": crm_calls,
            "crm_floor": crm_floor,
            "ratio_to_floor": round((economic_calls + crm_calls) / (economic_floor + crm_floor), 3),
            "seconds": round(seconds, 1),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--drifted", type=int, default=25)
    parser.add_argument("--crm", choices=("hubspot", "dynamics"), default="hubspot")
    args = parser.parse_args(argv)
    r = run(args.customers, args.drifted, args.crm)
    print(
        f"drift_compare crm={r['crm']} customers={r['customers']} drifted_records={r['drifted_records']} "
        f"economic_calls={r['economic_calls']} economic_floor={r['economic_floor']} crm_calls={r['crm_calls']} "
        f"crm_floor={r['crm_floor']} ratio_to_floor={r['ratio_to_floor']} seconds={r['seconds']}"
    )
    print(json.dumps(r))
    return 0 if r["drifted_records"] == args.drifted else 1


if __name__ == "__main__":
    sys.exit(main())

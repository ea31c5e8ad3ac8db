"""Initial transfer e-conomic -> HubSpot on the local stack; prints one line of numbers.

    python -m bench.transfer [customers] [contacts_per_customer] [hubspot_rate_limit_per_10s|none]

Counts what the vendors were asked (the fakes count every API call), how many signals the worker
processed and how long the whole settle took. Issue 6 grows this into the full benchmark.
"""

from __future__ import annotations

import sys
import time

from crmsync import runtime
from crmsync.models import SyncMode
from local.stack import LocalStack


def main(argv: list[str]) -> None:
    customers = int(argv[0]) if argv else 50
    contacts = int(argv[1]) if len(argv) > 1 else 2
    limit = None if len(argv) > 2 and argv[2] == "none" else int(argv[2]) if len(argv) > 2 else 100
    with LocalStack(hubspot_rate_limit_per_10s=limit) as stack:
        stack.economic.seed(customers, contacts_per_customer=contacts, seed=1)
        stack.add_tenant("bench", mode=SyncMode.AUTOMATIC)
        started = time.monotonic()
        stack.run_pull()
        stack.run_until_idle(timeout=3600)
        elapsed = time.monotonic() - started
        records = customers * (1 + contacts)
        hs, eco = stack.hubspot.stats(), stack.economic.stats()
        synced = len(stack.hubspot.records("companies")) + len(stack.hubspot.records("contacts"))
        decisions = runtime.context().decisions
        print(
            f"records={records} synced={synced} seconds={elapsed:.1f} "
            f"hubspot_calls={hs['total']} hubspot_writes={hs['writes']} "
            f"hubspot_calls_per_record={hs['total'] / records:.3f} economic_calls={eco['total']} "
            f"signals={stack.stats.signals} echoes={decisions['echo']} throttled={hs['rate_limited']}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])

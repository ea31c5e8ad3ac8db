"""Fair share: one tenant's backfill never starves another tenant's edits (issue 14 item 6).

Tenants A and B are two companies with their own e-conomic agreement and HubSpot portal
(``LocalStack.add_account``). B is connected and synced. Then, measured in this run:

1. **A idle**: B makes 50 single-field edits (half in e-conomic, half in HubSpot); the seconds until
   every one of them is on the other side are B's baseline;
2. **A backfilling**: A connects with 2,500 customers x 1 contact (5,000 records) and its first pull
   queues all of them; B makes 50 more edits at once; the seconds until they have all arrived.

What keeps B fast is the bulk lane: A's backfill is bulk work on its own queue, whose mapping runs at
most 2 worker invocations of one bundle each (the local pump plays that as waves: per wave the live
queue gets up to 10 batches, the bulk queue 2), while B's webhooks go to the live queue. The bound
stated here: B's edits settle within ``FACTOR`` x the idle time + ``SLACK_S`` seconds (one wave of
A's bulk work and the pushes it caused, for each of the two hops an edit makes), and before A's
backfill is done (they did not wait for it). The measured figures are printed (``-s``).

HubSpot tenants only: the lanes are the queues', not the CRM's (a Dynamics tenant's work takes the same
queues and worker mapping), and ``make chaos CRM=dynamics`` runs many tenants' bulk and live work together.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Iterator

import pytest

from bench.throughput import Edit, Vendors, edit_round, edits_not_arrived
from crmsync.models import SyncMode
from local.stack import LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
A, B = "tenant-a", "tenant-b"
A_CUSTOMERS, A_CONTACTS = 2_500, 1  # 5,000 records
B_CUSTOMERS = 50
EDITS = 50
FACTOR, SLACK_S = 3.0, 30.0


class Settled(Exception):
    """Raised from a pump round once B's edits have all arrived."""


def companies_of(vendors: Vendors) -> dict[str, str]:
    return {
        c["properties"].get("crmsync_customer_number") or "": c["id"]
        for c in vendors.hubspot.records("companies")
    }


def settle_time(stack: LocalStack, vendors: Vendors, edits: list[Edit], companies: dict[str, str]) -> float:
    """Seconds from now until every edit is on the other side (checked after each pump round)."""
    started = time.monotonic()

    def check() -> None:
        if not edits_not_arrived(vendors, edits, companies):
            raise Settled

    with contextlib.suppress(Settled):
        stack.run_until_idle(timeout=600, on_round=check)
    missing = edits_not_arrived(vendors, edits, companies)
    assert not missing, f"B's edits that never arrived: {missing[:5]}"
    return time.monotonic() - started


def synced_records(vendors: Vendors) -> int:
    return len(vendors.hubspot.records("companies")) + len(vendors.hubspot.records("contacts"))


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    with LocalStack() as local:
        yield local


def test_a_backfill_of_5000_records_does_not_hold_back_another_tenants_edits(stack: LocalStack) -> None:
    b = stack.add_account("b")
    b_numbers = b.economic.seed(B_CUSTOMERS, contacts_per_customer=0, seed=21)
    stack.add_tenant(B, account="b", mode=SyncMode.AUTOMATIC)
    stack.run_pull()
    stack.run_until_idle(timeout=300)
    b_companies = companies_of(b)
    assert len(b_companies) == B_CUSTOMERS, "B is synced before the measurement"
    rng = random.Random(14)

    def make_edits() -> list[Edit]:
        return edit_round(b, b_numbers, b_companies, rng, EDITS)

    idle_s = settle_time(stack, b, make_edits(), b_companies)

    a = stack.accounts["default"]
    a.economic.seed(A_CUSTOMERS, contacts_per_customer=A_CONTACTS, seed=22)
    stack.add_tenant(A, account="default", mode=SyncMode.AUTOMATIC)
    stack.run_pull()  # A's first pull: a backfill of every record, queued as bulk work
    backlog = stack.queue_depth("BulkQueue")
    assert backlog >= A_CUSTOMERS * (1 + A_CONTACTS) // 100, "A's backfill waits in the bulk queue"
    busy_s = settle_time(stack, b, make_edits(), b_companies)
    a_synced = synced_records(a)

    bound = FACTOR * idle_s + SLACK_S
    print(
        f"\nfair share: B's {EDITS} edits settled in {idle_s:.1f} s with A idle, {busy_s:.1f} s while A "
        f"backfilled {A_CUSTOMERS * (1 + A_CONTACTS)} records ({a_synced} synced then; bound {bound:.1f} s)"
    )
    assert busy_s <= bound, f"B waited {busy_s:.1f} s behind A's backfill (bound {bound:.1f} s)"
    assert a_synced < A_CUSTOMERS * (1 + A_CONTACTS), "B's edits arrived before A's backfill was done"
    assert stack.queue_depth("BulkQueue") > 0, "A's backfill was still queued when B had settled"

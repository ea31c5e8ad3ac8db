"""``make bench``: throughput against the vendors' real rate limits, one line of numbers (issue 6).

On the local stack (moto's server, both vendor fakes, the real handlers), with the fakes limited like
the vendors (HubSpot 100 requests per 10 s, e-conomic's token bucket of 10,000 tokens per 60 s):

1. **Backfill** of ``customers`` e-conomic customers with ``contacts`` contact persons each into an
   empty HubSpot, by crmsync (one scheduled pull; the workers and the push do the rest);
2. the same records written by a **per-record baseline** (one HubSpot call per record, a contact's
   company association inline, 429s honoured), as generic automation tools do, on a fresh HubSpot
   fake with the same limit. It is rate-bound, so it runs for a sample and its steady rate (after the
   first window's burst) is extrapolated to the full size;
3. a **steady state** of ``edits`` single-field edits, half in e-conomic (payment terms), half in
   HubSpot (phone), each settled before the next batch of 25. At the end every edit must be on the
   other side (read from the fakes, no API call counted): a run that did not converge is not a
   measurement, so the bench exits non-zero when one did not arrive.

Printed: ``backfill_ratio_to_floor hubspot_calls_per_record baseline_speedup calls_per_edit
ddb_ops_per_edit import_ratio_vs_boto3 peak_rss_mb usd_per_million_edits``, then the convergence
check ``edits_not_arrived parked dlq_messages`` and, on a second line, the measurements behind them
(``edits_not_arrived`` there lists the record and field of each edit that did not arrive). Definitions:

* floor: the least time the rate limits allow for the calls the backfill truly needs: HubSpot batch
  writes of 100 companies and of 100 contacts with their company association inline (batch create
  takes it; an upsert would need a separate association batch), at 10 requests/s; e-conomic pages of
  1,000 at its token rate. The larger of the two.
* ddb_ops_per_edit: DynamoDB *item* operations (a batch read of 40 keys is 40), incl. webhook
  idempotency records, per edit, over the whole settle (webhook, worker, push, echo).
* calls_per_edit: vendor API calls per edit over the whole settle (both vendors).
* peak_rss_mb: the largest resident set of a fresh process (a Lambda container) running the heaviest
  invocations of the run against the same stack: one worker batch of 10 bundles x 100 signals, and a
  scheduled pull re-reading every record.
* edits_not_arrived: steady-state edits whose value (cleaned as the connectors clean what they read,
  ``crmsync.text_rules.clean``) is not the other side's value of that field at the end; of several
  edits of one field of one record, the last is the one that must be there.
* parked / dlq_messages: parked items of the tenant and messages in the failure queues (every queue but
  the signals queue) at the end of the steady state.
* usd_per_million_edits: the steady state's counted Lambda invocations and durations (locally
  measured, so an upper bound: moto is slower than DynamoDB), DynamoDB read/write units, SQS and HTTP
  API requests and Secrets Manager calls, at the list prices in ``bench.cost``.

``--crm dynamics``: the CRM is a Dynamics 365 organisation (the Dataverse fake at its service protection
limits: 6,000 requests per 300 s, each ``$batch`` part counting, and 1,200,000 ms of execution time);
the edits in the CRM are account phones, the ones in e-conomic the customer e-mail (the bench tenant
gives it to accounting: Dynamics has no payment terms column). In the line ``hubspot_calls_per_record``
becomes ``dynamics_calls_per_record dynamics_floor_per_record dynamics_calls_ratio_to_floor``: the
backfill's Dataverse calls per record against the least it could make (``throughput_parts.
dataverse_floor``: ``$batch`` bodies of 1,000 requests, one 5,000-row page per table read); the
connector sends 100 per batch (``connectors/dataverse_writes.BATCH_SIZE``). Its time floor and its
per-record baseline are both the rows at 20 a second (batching saves round trips, not service
protection requests), so ``baseline_speedup`` there is analytic, not a measured run.

The AWS counting is ``bench.aws_count``; the parts (floors, baselines, edits, probes) are
``bench.throughput_parts``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx

from bench import cost
from bench.aws_count import READ_OPS, WRITE_OPS, AwsCounter, _size, count_aws
from bench.throughput_parts import (
    DATAVERSE_EXECUTION_MS_PER_300S,
    DATAVERSE_PER_300S,
    ECONOMIC_BUCKET,
    HUBSPOT_PER_10S,
    TENANT,
    Edit,
    Vendors,
    baseline_rate,
    dataverse_floor,
    edit_round,
    edits_not_arrived,
    failure_queue_depths,
    floor_seconds,
    peak_rss_mb,
)
from crmsync.models import ObjectType, SyncMode
from crmsync.policy import Direction, FieldRule
from local.crm_side import CrmSide
from local.stack import LocalStack
from local.vendors import DEFAULT_ACCOUNT, CrmKind

__all__ = [
    "AwsCounter",
    "BenchResult",
    "Edit",
    "Vendors",
    "_size",
    "count_aws",
    "dataverse_floor",
    "edit_round",
    "edits_not_arrived",
    "floor_seconds",
    "main",
    "run",
]


@dataclass
class BenchResult:
    line: str
    details: dict[str, Any]
    not_arrived: int = 0
    """Edits that did not reach the other side: the numbers of such a run are not a measurement."""


def _crm_calls(stack: LocalStack, crm: CrmSide) -> Counter[str]:
    """The CRM fake's calls by endpoint so far (HubSpot's or Dataverse's own counters)."""
    if crm.kind == "hubspot":
        return Counter(stack.hubspot.stats()["calls"])
    fake = stack.accounts[DEFAULT_ACCOUNT].dynamics
    assert fake is not None
    return Counter(fake.stats["calls"])


def _dynamics_tenant(stack: LocalStack, webhook_client: httpx.Client) -> None:
    """The Dataverse fake at its service protection limits; the customer e-mail owned by accounting.

    Its webhook deliveries share one HTTP client (keep-alive): by default the fake builds a client per
    delivery (~20 ms each), which a backfill's thousands of Create events would add to crmsync's time.
    """
    fake = stack.accounts[DEFAULT_ACCOUNT].dynamics
    assert fake is not None
    fake.webhook_client = webhook_client
    fake.requests_per_300s = DATAVERSE_PER_300S
    fake.execution_ms_per_300s = DATAVERSE_EXECUTION_MS_PER_300S
    config = stack.store.get_config(TENANT)
    assert config is not None
    config.field_policy.customer["email"] = FieldRule(direction=Direction.TO_CRM)
    stack.store.put_config(config)


def run(
    customers: int,
    contacts: int,
    edits: int,
    baseline_sample: int,
    import_repeats: int,
    crm_kind: CrmKind = "hubspot",
) -> BenchResult:
    from bench import coldstart

    details: dict[str, Any] = {"customers": customers, "contacts": contacts, "edits": edits, "crm": crm_kind}
    records = customers * (1 + contacts)
    with (
        count_aws() as aws,
        httpx.Client(timeout=60.0) as webhook_client,
        LocalStack(hubspot_rate_limit_per_10s=HUBSPOT_PER_10S, economic_rate_limit=ECONOMIC_BUCKET) as stack,
    ):
        numbers = stack.economic.seed(customers, contacts_per_customer=contacts, seed=1)
        stack.add_tenant(TENANT, mode=SyncMode.AUTOMATIC, crm=crm_kind)
        crm = stack.accounts[DEFAULT_ACCOUNT].crm(crm_kind)
        if crm_kind == "dynamics":
            _dynamics_tenant(stack, webhook_client)
        crm0, eco0 = crm.api_calls(), stack.economic.stats()["total"]
        crm_calls0 = _crm_calls(stack, crm)
        inv0 = {k: len(v) for k, v in stack.stats.invocations.items()}
        started = time.monotonic()
        stack.run_pull()
        stack.run_until_idle(timeout=6 * 3600)
        backfill_s = time.monotonic() - started
        crm_calls = crm.api_calls() - crm0
        synced = len(crm.rows(ObjectType.CUSTOMER)) + len(crm.rows(ObjectType.CONTACT))
        if crm_kind == "hubspot":
            floor_s, needed_calls = floor_seconds(customers, contacts)
        else:
            floor_s, needed_calls = dataverse_floor(customers, contacts)
        details |= {
            "backfill_s": round(backfill_s, 1),
            "floor_s": round(floor_s, 1),
            "synced": synced,
            f"{crm_kind}_calls": crm_calls,
            f"{crm_kind}_calls_needed": needed_calls,
            f"{crm_kind}_backfill_calls": dict(_crm_calls(stack, crm) - crm_calls0),
            "economic_calls": stack.economic.stats()["total"] - eco0,
            "throttled": stack.hubspot.stats()["rate_limited"]
            if crm_kind == "hubspot"
            else _dataverse_throttled(stack),
            # Where the backfill's wall time went: seconds inside each function's invocations (the
            # local stack runs them one after another; on AWS the worker runs up to 10 at once and
            # the push alongside it).
            "backfill_busy_s": {
                k: round(sum(v[inv0.get(k, 0) :]), 1) for k, v in stack.stats.invocations.items()
            },
        }

        # steady state
        rng = random.Random(7)
        companies = {
            str(row.fields.get("customer_number") or ""): row.id for row in crm.rows(ObjectType.CUSTOMER)
        }
        before_aws = aws.snapshot()
        before_calls = crm.api_calls() + stack.economic.stats()["total"]
        before_inv = {k: len(v) for k, v in stack.stats.invocations.items()}
        made: list[Edit] = []
        while len(made) < edits:
            made += edit_round(stack, numbers, companies, rng, min(25, edits - len(made)), crm)
            stack.run_until_idle(timeout=600)
        window = aws.minus(before_aws)
        calls = crm.api_calls() + stack.economic.stats()["total"] - before_calls
        durations = {k: v[before_inv.get(k, 0) :] for k, v in stack.stats.invocations.items()}
        memory = {spec.logical_id: spec.memory_size for spec in stack.specs.values()}
        usage = cost.Usage(
            lambda_invocations=sum(len(v) for v in durations.values()),
            lambda_gb_seconds=sum(
                cost.lambda_gb_seconds(v, memory.get(k, 512)) for k, v in durations.items()
            ),
            ddb_read_units=window.read_units,
            ddb_write_units=window.write_units,
            sqs_requests=window.sqs_requests,
            api_requests=sum(len(durations.get(k, [])) for k in _http_functions(stack)),
            secrets_calls=window.requests["GetSecretValue"],
        )
        details |= {
            "edit_vendor_calls": calls,
            "edit_ddb_items": window.items,
            "edit_ddb_requests": sum(n for op, n in window.requests.items() if op in READ_OPS | WRITE_OPS),
            "edit_ddb_items_by_op": dict(window.op_items),
            "edit_ddb_units": {"read": round(window.read_units), "write": round(window.write_units)},
            "edit_ddb_items_by_kind": dict(window.kinds.most_common()),
            "edit_invocations": {k: len(v) for k, v in durations.items() if v},
            "edit_usd": round(usage.usd(arm64=True), 6),
        }
        # Convergence, after the counted window: reading the fakes and the store is not the edits' cost.
        not_arrived = edits_not_arrived(stack, made, companies, crm)
        parked_entries = stack.store.parked(TENANT)
        parked = len(parked_entries)
        failures = failure_queue_depths(stack)
        details |= {
            "edits_not_arrived": not_arrived,
            "parked": parked,
            "parked_reasons": dict(Counter(e.reason[:120] for e in parked_entries)),
            "dlq_messages": failures,
        }
        rss = peak_rss_mb(stack, numbers)
    if crm_kind == "hubspot":
        rate = baseline_rate(baseline_sample, contacts)
    else:  # one request per record, held like the batches' parts to Dataverse's 20 requests a second
        rate = DATAVERSE_PER_300S / 300
        details["baseline"] = "analytic: one request per record at 20 requests/s"
    baseline_s = records / rate
    imports = coldstart.measure(repeats=import_repeats)
    details |= {
        "baseline_records_per_s": round(rate, 2),
        "baseline_s": round(baseline_s),
        "import_worst": imports.worst,
    }
    line = (
        f"backfill_ratio_to_floor={backfill_s / floor_s:.2f} "
        f"{_crm_calls_part(crm_kind, crm_calls, needed_calls, records)}"
        f"baseline_speedup={baseline_s / backfill_s:.1f} "
        f"calls_per_edit={calls / edits:.2f} "
        f"ddb_ops_per_edit={window.items / edits:.2f} "
        f"import_ratio_vs_boto3={imports.worst_ratio:.2f} "
        f"peak_rss_mb={rss:.0f} "
        f"usd_per_million_edits={cost.usd_per_million(usage, edits, arm64=True):.2f} "
        f"edits_not_arrived={len(not_arrived)} parked={parked} dlq_messages={sum(failures.values())}"
    )
    return BenchResult(line=line, details=details, not_arrived=len(not_arrived))


def _crm_calls_part(crm_kind: str, calls: int, needed: int, records: int) -> str:
    """HubSpot: its calls per record; Dynamics: its calls per record, the floor's and their ratio."""
    if crm_kind == "hubspot":
        return f"hubspot_calls_per_record={calls / records:.4f} "
    return (
        f"dynamics_calls_per_record={calls / records:.4f} "
        f"dynamics_floor_per_record={needed / records:.4f} "
        f"dynamics_calls_ratio_to_floor={calls / needed:.2f} "
    )


def _dataverse_throttled(stack: LocalStack) -> int:
    fake = stack.accounts[DEFAULT_ACCOUNT].dynamics
    return 0 if fake is None else int(fake.stats["rate_limited"])


def _http_functions(stack: LocalStack) -> list[str]:
    return [spec.logical_id for spec in stack.specs.values() if spec.http_routes]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--contacts", type=int, default=2)
    parser.add_argument("--edits", type=int, default=1_000)
    parser.add_argument("--baseline-sample", type=int, default=600)
    parser.add_argument("--import-repeats", type=int, default=5)
    parser.add_argument("--crm", choices=("hubspot", "dynamics"), default="hubspot")
    args = parser.parse_args(argv)
    result = run(
        args.customers, args.contacts, args.edits, args.baseline_sample, args.import_repeats, args.crm
    )
    print(result.line)
    print(f"bench details: {json.dumps(result.details)}")
    if result.not_arrived:
        print(f"{result.not_arrived} edit(s) did not arrive: the run did not converge", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

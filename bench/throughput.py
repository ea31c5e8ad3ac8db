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
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import botocore.client
import httpx

from bench import cost
from crmsync.connectors.hubspot import COMPANY_PROPERTIES
from crmsync.models import ObjectType, SyncMode
from crmsync.text_rules import clean
from local.fakes.economic import EconomicFake
from local.fakes.hubspot import HubSpotFake
from local.stack import LocalStack
from local.template_resources import BULK_QUEUE, SIGNALS_QUEUE
from local.vendors import HUBSPOT_TOKEN

TENANT = "bench"
HUBSPOT_PER_10S = 100
ECONOMIC_BUCKET = (10_000, 60.0)
HUBSPOT_BATCH = 100
ECONOMIC_PAGE = 1_000


# -- counting AWS operations ---------------------------------------------------------------------

READ_OPS = {"GetItem", "BatchGetItem", "Query", "Scan"}
WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


@dataclass
class AwsCounter:
    """Every AWS request this process makes, with DynamoDB item counts and capacity units."""

    requests: Counter[str] = field(default_factory=Counter)
    items: int = 0
    read_units: float = 0.0
    write_units: float = 0.0
    op_items: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    """Item operations per operation and item kind (``PutItem REC``, ``BatchGetItem LINK``, ...)."""
    stop: Callable[[], None] = field(default=lambda: None, repr=False, compare=False)
    """Stop counting and undo ``count_aws``'s patch (``count_aws`` sets it; safe to call twice)."""

    def __enter__(self) -> AwsCounter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def snapshot(self) -> AwsCounter:
        return AwsCounter(
            Counter(self.requests),
            self.items,
            self.read_units,
            self.write_units,
            Counter(self.op_items),
            Counter(self.kinds),
        )

    def minus(self, before: AwsCounter) -> AwsCounter:
        return AwsCounter(
            self.requests - before.requests,
            self.items - before.items,
            self.read_units - before.read_units,
            self.write_units - before.write_units,
            self.op_items - before.op_items,
            self.kinds - before.kinds,
        )

    def record(self, op: str, params: dict[str, Any], answer: dict[str, Any]) -> None:
        self.requests[op] += 1
        before = self.items
        self._count(op, params, answer)
        self.op_items[op] += self.items - before
        for key in _keys(op, params):
            self.kinds[f"{op} {_kind(key)}"] += 1

    def _count(self, op: str, params: dict[str, Any], answer: dict[str, Any]) -> None:
        if op == "GetItem":
            self._read([answer.get("Item")], 1)
        elif op == "BatchGetItem":
            keys = sum(len(t["Keys"]) for t in params.get("RequestItems", {}).values())
            found = [i for items in answer.get("Responses", {}).values() for i in items]
            unprocessed = sum(len(t["Keys"]) for t in (answer.get("UnprocessedKeys") or {}).values())
            self._read(found, keys - unprocessed)
        elif op in ("Query", "Scan"):
            items = answer.get("Items", [])
            self.items += max(1, len(items))
            self.read_units += max(1, math.ceil(sum(_size(i) for i in items) / 4096))
        elif op == "UpdateItem":
            self._write([answer.get("Attributes") or params.get("Key")], 1)
        elif op in ("PutItem", "DeleteItem"):
            self._write([params.get("Item") or params.get("Key")], 1)
        elif op == "BatchWriteItem":
            puts = [
                r.get("PutRequest", {}).get("Item") or r.get("DeleteRequest", {}).get("Key")
                for rs in params.get("RequestItems", {}).values()
                for r in rs
            ]
            self._write(puts, 1)
        elif op == "TransactWriteItems":
            parts = [next(iter(t.values())) for t in params.get("TransactItems", [])]
            self._write([p.get("Item") or p.get("Key") for p in parts], 2)

    def _read(self, items: list[Any], keys: int) -> None:
        self.items += keys
        sizes = [_size(i) for i in items if i]
        # strongly consistent: 1 RRU per 4 KB per item; a missing key still costs one unit
        self.read_units += sum(max(1, math.ceil(s / 4096)) for s in sizes) + max(0, keys - len(sizes))

    def _write(self, items: list[Any], factor: int) -> None:
        self.items += len(items)
        self.write_units += factor * sum(max(1, math.ceil(_size(i) / 1024)) for i in items if i is not None)

    @property
    def sqs_requests(self) -> int:
        return sum(n for op, n in self.requests.items() if op.endswith("Message") or "MessageBatch" in op)


def _keys(op: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The items or keys a DynamoDB request names (empty for queries and other services)."""
    if op in ("GetItem", "DeleteItem", "UpdateItem"):
        return [params.get("Key") or {}]
    if op == "PutItem":
        return [params.get("Item") or {}]
    if op == "BatchGetItem":
        return [k for t in params.get("RequestItems", {}).values() for k in t["Keys"]]
    if op == "BatchWriteItem":
        return [
            r.get("PutRequest", {}).get("Item") or r.get("DeleteRequest", {}).get("Key") or {}
            for rs in params.get("RequestItems", {}).values()
            for r in rs
        ]
    if op == "TransactWriteItems":
        return [
            p.get("Item") or p.get("Key") or {} for t in params.get("TransactItems", []) for p in t.values()
        ]
    return []


def _kind(key: dict[str, Any]) -> str:
    """``REC``, ``LINK``, ``LOG``, ... from the sort key; ``idempotency`` for Powertools' records."""
    sk = key.get("SK", {}).get("S")
    if sk is None:
        return "idempotency" if "id" in key else "other"
    return str(sk).split("#", 1)[0]


def _size(item: Any) -> int:
    """An item's size as DynamoDB bills it: attribute names plus values (binary by its bytes)."""
    if not item:
        return 0
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        return len(str(raw)) // 2 + 1
    if kind == "B":
        return len(raw) if isinstance(raw, bytes) else len(str(raw)) * 3 // 4
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in raw.items())
    return 1 if kind in ("BOOL", "NULL") else len(json.dumps(raw, default=str))


def count_aws() -> AwsCounter:
    """Count every boto3 request made in this process (handlers, the pump, the stack) until ``stop()``.

    Use it as ``with count_aws() as counter:`` (or call ``counter.stop()`` in a ``finally``): stopping
    puts back the ``_make_api_call`` that was there before (another wrapper, or botocore's own). If
    something wrapped it again in the meantime, that wrapper stays and this one just stops counting.
    """
    counter = AwsCounter()
    original = botocore.client.BaseClient._make_api_call
    active = True

    def counted(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if not active:
            return original(self, operation, params)
        # DynamoDB bills an update by the size of the whole item (the larger of before and after), which
        # the request does not show: ask for the item after it, count it, and hand back what was asked.
        peek = operation == "UpdateItem" and "ReturnValues" not in params
        answer = original(self, operation, {**params, "ReturnValues": "ALL_NEW"} if peek else params)
        if self.meta.service_model.service_name != "dynamodbstreams":  # Lambda's stream reads are free
            counter.record(operation, params, answer if isinstance(answer, dict) else {})
        if peek and isinstance(answer, dict):
            answer.pop("Attributes", None)
        return answer

    def stop() -> None:
        nonlocal active
        active = False
        if botocore.client.BaseClient.__dict__.get("_make_api_call") is counted:
            restore = original
            # A counter stopped while this one wrapped it has nothing left to do: skip it too.
            while (state := getattr(restore, "_count_aws_state", None)) is not None and not state()[0]:
                restore = state()[1]
            botocore.client.BaseClient._make_api_call = restore  # type: ignore[method-assign]

    counted._count_aws_state = lambda: (active, original)  # type: ignore[attr-defined]
    botocore.client.BaseClient._make_api_call = counted  # type: ignore[method-assign]
    counter.stop = stop
    return counter


# -- the parts -------------------------------------------------------------------------------------


def floor_seconds(customers: int, contacts: int) -> tuple[float, int]:
    """The least time the rate limits allow for the backfill's necessary calls, and its HubSpot calls."""
    people = customers * contacts
    hubspot_calls = math.ceil(customers / HUBSPOT_BATCH) + math.ceil(people / HUBSPOT_BATCH)
    economic_calls = math.ceil(customers / ECONOMIC_PAGE) + math.ceil(people / ECONOMIC_PAGE)
    hubspot_s = hubspot_calls / (HUBSPOT_PER_10S / 10)
    economic_s = economic_calls / (ECONOMIC_BUCKET[0] / ECONOMIC_BUCKET[1])
    return max(hubspot_s, economic_s), hubspot_calls


def baseline_rate(sample: int, contacts: int) -> float:
    """Records per second of a one-call-per-record writer against a HubSpot fake at the real limit."""
    if sample <= 2 * HUBSPOT_PER_10S:
        raise ValueError("the baseline sample must span several rate windows (> 200 records)")
    fake = HubSpotFake(HUBSPOT_TOKEN, rate_limit_per_10s=HUBSPOT_PER_10S, search_rate_limit_per_s=5)
    _, url = fake.serve()
    stamps: list[float] = []
    started = time.monotonic()
    try:
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {HUBSPOT_TOKEN}"}, timeout=30
        ) as http:

            def call(path: str, body: dict[str, Any]) -> dict[str, Any]:
                while True:
                    answer = http.post(path, json=body)
                    if answer.status_code == 429:
                        time.sleep(float(answer.headers.get("Retry-After") or 1))
                        continue
                    answer.raise_for_status()
                    stamps.append(time.monotonic())
                    return answer.json()  # type: ignore[no-any-return]

            company_id = ""
            for n in range(sample):
                if n % (contacts + 1) == 0:
                    company = call("/crm/v3/objects/companies", {"properties": {"name": f"Baseline {n}"}})
                    company_id = company["id"]
                    continue
                call(
                    "/crm/v3/objects/contacts",
                    {
                        "properties": {"email": f"person{n}@baseline.example", "firstname": f"P{n}"},
                        "associations": [
                            {
                                "to": {"id": company_id},
                                "types": [
                                    {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}
                                ],
                            }
                        ],
                    },
                )
    finally:
        fake.shutdown()
    # A rolling window lets the first 100 calls through at once: they are not the sustained rate.
    return (len(stamps) - HUBSPOT_PER_10S) / (stamps[-1] - started)


@dataclass(frozen=True)
class Edit:
    """One steady-state edit: the customer, the canonical field and the value written on ``side``."""

    side: str  # "economic" or "hubspot": where it was written; it must arrive on the other one
    number: int
    field: str
    value: str


ECONOMIC_PATHS = {
    "payment_terms": ("paymentTerms", "paymentTermsNumber"),
    "phone": ("telephoneAndFaxNumber",),
}
"""Canonical field -> where the legacy customer (``EconomicFake.get_customer``) holds it."""


class Vendors(Protocol):
    """Whose fakes an edit goes to: the stack's primary account, or a ``VendorAccount`` of it."""

    economic: EconomicFake
    hubspot: HubSpotFake


def edit_round(
    stack: Vendors, numbers: list[int], companies: dict[str, str], rng: random.Random, n: int
) -> list[Edit]:
    made = []
    for i in range(n):
        number = rng.choice(numbers)
        if i % 2 == 0 or str(number) not in companies:
            current = stack.economic.get_customer(number)["paymentTerms"]["paymentTermsNumber"]
            terms = 1 + current % 8
            stack.economic.update_customer(number, paymentTerms={"paymentTermsNumber": terms})
            made.append(Edit("economic", number, "payment_terms", str(terms)))
        else:
            phone = f"+45 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} {i % 100:02d}"
            stack.hubspot.edit("companies", companies[str(number)], {"phone": phone})
            made.append(Edit("hubspot", number, "phone", phone))
    return made


def edits_not_arrived(stack: Vendors, edits: list[Edit], companies: dict[str, str]) -> list[str]:
    """``customer <number> <field> (from <side>)`` for each edit whose value is not on the other side.

    Read from the fakes directly (no API call). Both values are cleaned as the connectors clean what
    they read; of several edits of one field of one record, the last one made must be there.
    """
    last = {(e.side, e.number, e.field): e for e in edits}
    hubspot = {c["id"]: c["properties"] for c in stack.hubspot.records("companies")}
    missing = []
    for edit in last.values():
        if edit.side == "economic":
            there = hubspot.get(companies.get(str(edit.number), ""), {}).get(COMPANY_PROPERTIES[edit.field])
        else:
            there = stack.economic.get_customer(edit.number)
            for key in ECONOMIC_PATHS[edit.field]:
                there = (there or {}).get(key)
        if clean(ObjectType.CUSTOMER, edit.field, there) != clean(
            ObjectType.CUSTOMER, edit.field, edit.value
        ):
            missing.append(f"customer {edit.number} {edit.field} (from {edit.side})")
    return missing


def failure_queue_depths(stack: LocalStack) -> dict[str, int]:
    """Messages in every queue but the worker's (the DLQs and the push failures queue)."""
    assert stack.resources is not None
    return {
        q: stack.queue_depth(q) for q in stack.resources.queue_urls if q not in (SIGNALS_QUEUE, BULK_QUEUE)
    }


def peak_rss_mb(stack: LocalStack, numbers: list[int]) -> float:
    """The heaviest invocations, each in a fresh process (a Lambda container) against this stack."""
    signals = [
        {
            "tenant_id": TENANT,
            "connection_id": "eco",
            "object_type": "customer",
            "external_id": str(n),
            "source": "pull",
        }
        for n in numbers[:1000]
    ]
    bundles = [{"kind": "signals", "signals": signals[i : i + 100]} for i in range(0, len(signals), 100)]
    script = """
import json, sys
from local.lambda_runtime import load_handler, FakeLambdaContext
bundles = json.loads(sys.stdin.read())
event = {"Records": [{"messageId": str(i), "receiptHandle": "r", "body": json.dumps(b),
    "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "",
    "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:eu-west-1:000000000000:signals",
    "awsRegion": "eu-west-1"} for i, b in enumerate(bundles)]}
for name, payload in (("sync_worker", event), ("scheduled_pull", {"source": "aws.scheduler"})):
    try:  # a pull that runs out of rate budget raises (the schedule retries): its memory still counts
        load_handler(name)(payload, FakeLambdaContext(function_name=name, timeout_s=900))
    except Exception as exc:
        print(f"{name}: {type(exc).__name__}: {exc}", file=sys.stderr)
# VmHWM: this process image's peak RSS. (ru_maxrss is no good here: Linux carries the parent's peak
# across fork and exec, so a child of the big bench process would report the bench's own size.)
print([int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")][0])
"""
    child = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(bundles),
        capture_output=True,
        text=True,
        env={**os.environ, "POWERTOOLS_LOG_LEVEL": "ERROR"},
        check=False,
    )
    if child.returncode != 0:
        raise RuntimeError(f"the RSS probe failed: {child.stderr[-2000:]}")
    if child.stderr.strip():
        print(f"RSS probe: {child.stderr.strip()[-500:]}", file=sys.stderr)
    return int(child.stdout.strip().splitlines()[-1]) / 1024


@dataclass
class BenchResult:
    line: str
    details: dict[str, Any]
    not_arrived: int = 0
    """Edits that did not reach the other side: the numbers of such a run are not a measurement."""


def run(customers: int, contacts: int, edits: int, baseline_sample: int, import_repeats: int) -> BenchResult:
    from bench import coldstart

    details: dict[str, Any] = {"customers": customers, "contacts": contacts, "edits": edits}
    records = customers * (1 + contacts)
    with (
        count_aws() as aws,
        LocalStack(hubspot_rate_limit_per_10s=HUBSPOT_PER_10S, economic_rate_limit=ECONOMIC_BUCKET) as stack,
    ):
        numbers = stack.economic.seed(customers, contacts_per_customer=contacts, seed=1)
        stack.add_tenant(TENANT, mode=SyncMode.AUTOMATIC)
        hs0, eco0 = stack.hubspot.stats()["total"], stack.economic.stats()["total"]
        hs_calls0 = Counter(stack.hubspot.stats()["calls"])
        inv0 = {k: len(v) for k, v in stack.stats.invocations.items()}
        started = time.monotonic()
        stack.run_pull()
        stack.run_until_idle(timeout=6 * 3600)
        backfill_s = time.monotonic() - started
        hubspot_calls = stack.hubspot.stats()["total"] - hs0
        synced = len(stack.hubspot.records("companies")) + len(stack.hubspot.records("contacts"))
        floor_s, needed_calls = floor_seconds(customers, contacts)
        details |= {
            "backfill_s": round(backfill_s, 1),
            "floor_s": round(floor_s, 1),
            "synced": synced,
            "hubspot_calls": hubspot_calls,
            "hubspot_calls_needed": needed_calls,
            "hubspot_backfill_calls": dict(Counter(stack.hubspot.stats()["calls"]) - hs_calls0),
            "economic_calls": stack.economic.stats()["total"] - eco0,
            "throttled": stack.hubspot.stats()["rate_limited"],
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
            c["properties"].get("crmsync_customer_number") or "": c["id"]
            for c in stack.hubspot.records("companies")
        }
        before_aws = aws.snapshot()
        before_calls = stack.hubspot.stats()["total"] + stack.economic.stats()["total"]
        before_inv = {k: len(v) for k, v in stack.stats.invocations.items()}
        made: list[Edit] = []
        while len(made) < edits:
            made += edit_round(stack, numbers, companies, rng, min(25, edits - len(made)))
            stack.run_until_idle(timeout=600)
        window = aws.minus(before_aws)
        calls = stack.hubspot.stats()["total"] + stack.economic.stats()["total"] - before_calls
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
        not_arrived = edits_not_arrived(stack, made, companies)
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
    rate = baseline_rate(baseline_sample, contacts)
    baseline_s = records / rate
    imports = coldstart.measure(repeats=import_repeats)
    details |= {
        "baseline_records_per_s": round(rate, 2),
        "baseline_s": round(baseline_s),
        "import_worst": imports.worst,
    }
    line = (
        f"backfill_ratio_to_floor={backfill_s / floor_s:.2f} "
        f"hubspot_calls_per_record={hubspot_calls / records:.4f} "
        f"baseline_speedup={baseline_s / backfill_s:.1f} "
        f"calls_per_edit={calls / edits:.2f} "
        f"ddb_ops_per_edit={window.items / edits:.2f} "
        f"import_ratio_vs_boto3={imports.worst_ratio:.2f} "
        f"peak_rss_mb={rss:.0f} "
        f"usd_per_million_edits={cost.usd_per_million(usage, edits, arm64=True):.2f} "
        f"edits_not_arrived={len(not_arrived)} parked={parked} dlq_messages={sum(failures.values())}"
    )
    return BenchResult(line=line, details=details, not_arrived=len(not_arrived))


def _http_functions(stack: LocalStack) -> list[str]:
    return [spec.logical_id for spec in stack.specs.values() if spec.http_routes]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--contacts", type=int, default=2)
    parser.add_argument("--edits", type=int, default=1_000)
    parser.add_argument("--baseline-sample", type=int, default=600)
    parser.add_argument("--import-repeats", type=int, default=5)
    args = parser.parse_args(argv)
    result = run(args.customers, args.contacts, args.edits, args.baseline_sample, args.import_repeats)
    print(result.line)
    print(f"bench details: {json.dumps(result.details)}")
    if result.not_arrived:
        print(f"{result.not_arrived} edit(s) did not arrive: the run did not converge", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

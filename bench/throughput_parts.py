"""The parts of ``make bench`` (``bench.throughput``): the floors, the per-record baselines, the
steady state's edits and their arrival check, the failure queues and the peak-RSS probe.

Either CRM: the edits and the arrival check act on a ``local.crm_side.CrmSide`` (HubSpot by default, the
account's own portal). Dynamics has no column for the payment terms, so a Dynamics bench tenant gives
the customer e-mail to accounting (``ACCOUNTING_FIELD``): bookkeepers edit it and it must arrive.
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from crmsync.models import ObjectType
from crmsync.text_rules import clean
from local.crm_side import CrmSide, HubSpotSide
from local.fakes.economic import EconomicFake
from local.fakes.hubspot import HubSpotFake
from local.stack import LocalStack
from local.template_resources import BULK_QUEUE, SIGNALS_QUEUE
from local.vendors import HUBSPOT_CONNECTION, HUBSPOT_TOKEN

TENANT = "bench"
HUBSPOT_PER_10S = 100
ECONOMIC_BUCKET = (10_000, 60.0)
HUBSPOT_BATCH = 100
ECONOMIC_PAGE = 1_000
DATAVERSE_PER_300S = 6_000
"""Dataverse's service protection limit per user: requests per 300 s, each ``$batch`` part counting."""
DATAVERSE_EXECUTION_MS_PER_300S = 1_200_000
DATAVERSE_BATCH = 1_000
"""The most requests one ``$batch`` may carry."""
DATAVERSE_PAGE = 5_000
"""The most rows one page of a read returns (``Prefer: odata.maxpagesize``)."""
ACCOUNTING_FIELD = {"hubspot": "payment_terms", "dynamics": "email"}
"""The accounting-owned customer field the steady state edits in e-conomic, per CRM."""
CUSTOMER = ObjectType.CUSTOMER


def floor_seconds(customers: int, contacts: int) -> tuple[float, int]:
    """The least time the rate limits allow for the backfill's necessary calls, and its HubSpot calls."""
    people = customers * contacts
    hubspot_calls = math.ceil(customers / HUBSPOT_BATCH) + math.ceil(people / HUBSPOT_BATCH)
    economic_calls = math.ceil(customers / ECONOMIC_PAGE) + math.ceil(people / ECONOMIC_PAGE)
    hubspot_s = hubspot_calls / (HUBSPOT_PER_10S / 10)
    economic_s = economic_calls / (ECONOMIC_BUCKET[0] / ECONOMIC_BUCKET[1])
    return max(hubspot_s, economic_s), hubspot_calls


def _economic_seconds(customers: int, contacts: int) -> float:
    people = customers * contacts
    calls = math.ceil(customers / ECONOMIC_PAGE) + math.ceil(people / ECONOMIC_PAGE)
    return calls / (ECONOMIC_BUCKET[0] / ECONOMIC_BUCKET[1])


def dataverse_floor(customers: int, contacts: int) -> tuple[float, int]:
    """The Dynamics backfill's floor: the least time, and the least Dataverse calls.

    Calls: the rows written in ``$batch`` bodies of 1,000 requests (accounts, then contacts, which bind
    their account), plus one read of each table (the pull must see what the organisation holds; into an
    empty one that is a page each, 5,000 rows to a page). Time: Dataverse counts every part of a batch
    against its 6,000 requests per 300 s, so the rows go at 20 a second however they are batched (the
    window's first 6,000 pass at once: a small backfill can beat this sustained-rate floor).
    """
    people = customers * contacts
    writes = math.ceil(customers / DATAVERSE_BATCH) + math.ceil(people / DATAVERSE_BATCH)
    reads = 2  # an empty organisation: one page of accounts, one of contacts
    seconds = (customers + people) / (DATAVERSE_PER_300S / 300)
    return max(seconds, _economic_seconds(customers, contacts)), writes + reads


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

    side: str  # "economic" or the CRM's kind ("hubspot", "dynamics"): it must arrive on the other one
    number: int
    field: str
    value: str


ECONOMIC_PATHS = {
    "payment_terms": ("paymentTerms", "paymentTermsNumber"),
    "phone": ("telephoneAndFaxNumber",),
    "email": ("email",),
}
"""Canonical field -> where the legacy customer (``EconomicFake.get_customer``) holds it."""


class Vendors(Protocol):
    """Whose fakes an edit goes to: the stack's primary account, or a ``VendorAccount`` of it."""

    economic: EconomicFake
    hubspot: HubSpotFake


def crm_of(stack: Vendors, crm: CrmSide | None) -> CrmSide:
    """``crm``, or else the HubSpot portal of ``stack`` (its primary account, or that account)."""
    return crm if crm is not None else HubSpotSide(stack.hubspot, HUBSPOT_CONNECTION)


def edit_round(
    stack: Vendors,
    numbers: list[int],
    companies: dict[str, str],
    rng: random.Random,
    n: int,
    crm: CrmSide | None = None,
) -> list[Edit]:
    """``n`` edits, alternately in e-conomic (the accounting field of ``ACCOUNTING_FIELD``) and in the
    CRM (a company's / account's phone); ``companies``: customer number -> CRM id."""
    side = crm_of(stack, crm)
    made = []
    for i in range(n):
        number = rng.choice(numbers)
        if i % 2 == 0 or str(number) not in companies:
            if ACCOUNTING_FIELD[side.kind] == "payment_terms":
                current = stack.economic.get_customer(number)["paymentTerms"]["paymentTermsNumber"]
                terms = 1 + current % 8
                stack.economic.update_customer(number, paymentTerms={"paymentTermsNumber": terms})
                made.append(Edit("economic", number, "payment_terms", str(terms)))
            else:
                email = f"bogholderi{rng.randint(0, 10**6)}@k{number}.example"
                stack.economic.update_customer(number, email=email)
                made.append(Edit("economic", number, "email", email))
        else:
            phone = f"+45 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} {i % 100:02d}"
            side.edit(CUSTOMER, companies[str(number)], {"phone": phone})
            made.append(Edit(side.kind, number, "phone", phone))
    return made


def edits_not_arrived(
    stack: Vendors, edits: list[Edit], companies: dict[str, str], crm: CrmSide | None = None
) -> list[str]:
    """``customer <number> <field> (from <side>)`` for each edit whose value is not on the other side.

    Read from the fakes directly (no API call). Both values are cleaned as the connectors clean what
    they read; of several edits of one field of one record, the last one made must be there.
    """
    side = crm_of(stack, crm)
    last = {(e.side, e.number, e.field): e for e in edits}
    rows = {row.id: row.fields for row in side.rows(CUSTOMER)}
    missing = []
    for edit in last.values():
        there: Any
        if edit.side == "economic":
            there = rows.get(companies.get(str(edit.number), ""), {}).get(edit.field)
        else:
            there = stack.economic.get_customer(edit.number)
            for key in ECONOMIC_PATHS[edit.field]:
                there = (there or {}).get(key)
        if _clean(edit.field, there) != _clean(edit.field, edit.value):
            missing.append(f"customer {edit.number} {edit.field} (from {edit.side})")
    return missing


def _clean(name: str, value: Any) -> Any:
    return clean(CUSTOMER, name, None if value is None else str(value))


def failure_queue_depths(stack: LocalStack) -> dict[str, int]:
    """Messages in every queue but the worker's (the DLQs and the push failures queue)."""
    assert stack.resources is not None
    return {
        q: stack.queue_depth(q) for q in stack.resources.queue_urls if q not in (SIGNALS_QUEUE, BULK_QUEUE)
    }


def peak_rss_mb(stack: LocalStack, numbers: list[int]) -> float:
    """The heaviest invocations, each in a fresh process (a Lambda container) against this stack."""
    assert stack.resources is not None
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
from local.lambda_runtime import load_handler, FakeLambdaContext, sqs_event
probe = json.loads(sys.stdin.read())
event = sqs_event([{"MessageId": str(i), "ReceiptHandle": "r", "Body": json.dumps(b)}
    for i, b in enumerate(probe["bundles"])], probe["queue_arn"])
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
        input=json.dumps({"bundles": bundles, "queue_arn": stack.resources.queue_arns[SIGNALS_QUEUE]}),
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

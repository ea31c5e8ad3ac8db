"""``make chaos``: a backfill plus interleaved edits on both sides under injected faults, then a verdict.

On the local stack (moto, both vendor fakes, the real handlers): e-conomic is seeded with N customers
with contact persons, the tenant runs in automatic mode, and with faults on (429s, 5xx, timeouts,
writes that land but whose answer is lost, duplicated / lost / reordered webhooks, one worker killed
mid-batch) the backfill runs while people edit both sides. Then the faults stop, the schedule fires the
pull that recovers lost webhooks, and both vendors are compared with what people typed. One line is
printed:

    converged=<true|false> lost=<n> duplicates=<n> silent_failures=<n> conflicts=<n> parked=<n>

* ``lost``: seeded records or typed values that are not on both sides at the end;
* ``duplicates``: extra companies / customers / contacts for one identity;
* ``silent_failures``: lost or diverged items that no parked entry, DLQ message or conflict explains;
* ``conflicts``: conflict items crmsync recorded (edits go to each field's owner, so expected 0);
* ``parked``: writes or signals parked with a reason (visible, replayable).

``python -m local.chaos --customers 10000`` is the full size; the test suite runs a few hundred.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from crmsync.items import ParkedMessage
from crmsync.models import ConflictStatus, ObjectType, SyncMode
from local.fakes.economic import EconomicFaults
from local.fakes.hubspot import Faults
from local.stack import LocalStack
from local.vendors import ECONOMIC_CONNECTION

TENANT = "chaos"


@dataclass
class ChaosConfig:
    customers: int = 10_000
    contacts_per_customer: int = 2
    edits: int = 1_000
    rate_429: float = 0.10
    hubspot_429_interval_ms: int = 200
    """The interval HubSpot's injected 429s advertise (real: 10000). They carry no ``Retry-After``, as on
    HubSpot, so the connector waits this interval: shortened only to compress the run's time."""
    rate_5xx: float = 0.05
    rate_timeout: float = 0.02
    rate_after_commit: float = 0.03
    """Writes that land but whose answer is lost (a 504 or a timeout after the vendor committed): the
    classic source of duplicates when a client retries a create."""
    webhook_duplicate_rate: float = 0.20
    webhook_drop_rate: float = 0.10
    reorder: bool = True
    crash: bool = True
    seed: int = 1
    http_timeout: float = 2.0
    pull_every_rounds: int = 25


@dataclass
class ChaosResult:
    converged: bool
    lost: int
    duplicates: int
    silent_failures: int
    conflicts: int
    parked: int
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return (
            f"converged={str(self.converged).lower()} lost={self.lost} duplicates={self.duplicates} "
            f"silent_failures={self.silent_failures} conflicts={self.conflicts} parked={self.parked}"
        )


def _faults_on(stack: LocalStack, cfg: ChaosConfig) -> None:
    stack.hubspot.set_faults(
        Faults(
            rate_429=cfg.rate_429,
            rate_429_interval_ms=cfg.hubspot_429_interval_ms,
            rate_5xx=cfg.rate_5xx,
            rate_timeout=cfg.rate_timeout,
            rate_5xx_after_commit=cfg.rate_after_commit / 2,
            rate_timeout_after_commit=cfg.rate_after_commit / 2,
            timeout_s=cfg.http_timeout + 1,
            webhook_drop_rate=cfg.webhook_drop_rate,
            webhook_duplicate_rate=cfg.webhook_duplicate_rate,
            webhook_reorder=cfg.reorder,
            seed=cfg.seed,
        )
    )
    stack.economic.set_faults(
        EconomicFaults(
            rate_429=cfg.rate_429,
            rate_5xx=cfg.rate_5xx,
            rate_timeout=cfg.rate_timeout,
            rate_timeout_after_commit=cfg.rate_after_commit,
            timeout_s=cfg.http_timeout + 1,
            webhook_drop_rate=cfg.webhook_drop_rate,
            webhook_duplicate_rate=cfg.webhook_duplicate_rate,
            webhook_reorder=cfg.reorder,
            retry_after=0.2,
            seed=cfg.seed + 1,
        )
    )


def _faults_off(stack: LocalStack) -> None:
    stack.hubspot.set_faults(Faults())
    stack.economic.set_faults(EconomicFaults())


class Editor:
    """People editing both sides, each field on the side that owns it (default policy)."""

    def __init__(self, stack: LocalStack, numbers: list[int], rng: random.Random) -> None:
        self.stack = stack
        self.numbers = numbers
        self.rng = rng
        self.expected: dict[tuple[int, str], str] = {}
        self.companies: dict[str, str] = {}
        self.made = 0

    def refresh(self) -> None:
        self.companies = {
            c["properties"].get("crmsync_customer_number") or "": c["id"]
            for c in self.stack.hubspot.records("companies")
        }

    def edit(self) -> None:
        number = self.rng.choice(self.numbers)
        company = self.companies.get(str(number))
        roll = self.rng.random()
        if roll < 0.4 or company is None:
            terms = self.rng.randint(1, 8)
            self.stack.economic.update_customer(number, paymentTerms={"paymentTermsNumber": terms})
            self.expected[(number, "payment_terms")] = str(terms)
        elif roll < 0.8:
            phone = f"+45 {self.rng.randint(10, 99)} {self.rng.randint(10, 99)} {self.made % 100:02d} 00"
            self.stack.hubspot.edit("companies", company, {"phone": phone})
            self.expected[(number, "phone")] = phone
        else:
            city = self.rng.choice(["Aarhus", "Odense", "Aalborg", "Esbjerg", "Vejle", "Horsens"])
            self.stack.hubspot.edit("companies", company, {"city": f"{city} {self.made}"})
            self.expected[(number, "city")] = f"{city} {self.made}"
        self.made += 1


def run(cfg: ChaosConfig, *, progress: bool = False) -> ChaosResult:
    started = time.monotonic()
    rng = random.Random(cfg.seed)
    with LocalStack(http_timeout=cfg.http_timeout) as stack:
        numbers = stack.economic.seed(
            cfg.customers, contacts_per_customer=cfg.contacts_per_customer, seed=cfg.seed
        )
        token = stack.add_tenant(TENANT, mode=SyncMode.AUTOMATIC)
        _faults_on(stack, cfg)
        if cfg.crash:
            stack.crash_next_batch_after = 1  # the first batch of two or more messages dies after one
        editor = Editor(stack, numbers, rng)
        failed_pulls = _scheduled_pull(stack)
        rounds = 0
        edits_per_round = max(1, cfg.edits // 40)
        while True:
            rounds += 1
            moved = stack.pump_queue(limit=300) + stack.pump_stream()
            stack.hubspot.flush_webhooks(timeout=30)
            stack.economic.flush_webhooks(timeout=30)
            if editor.made < cfg.edits and rounds % 2 == 0:
                editor.refresh()
                for _ in range(min(edits_per_round, cfg.edits - editor.made)):
                    editor.edit()
            if rounds % cfg.pull_every_rounds == 0:
                failed_pulls += _scheduled_pull(stack)
            if progress and rounds % 10 == 0:
                print(
                    f"  round {rounds}: signals={stack.stats.signals} edits={editor.made} "
                    f"companies={len(editor.companies)} ({time.monotonic() - started:.0f} s)",
                    flush=True,
                )
            if editor.made >= cfg.edits and not moved and not stack._queue_has_invisible():
                break
        # The faults stop; the schedule keeps firing and recovers what the lost webhooks did not say.
        _faults_off(stack)
        for _ in range(2):
            stack.run_until_idle(timeout=3600)
            stack.run_pull()
        stack.run_until_idle(timeout=3600)
        result = compare(stack, numbers, editor, token)
        result.details["failed_pulls"] = failed_pulls
    result.seconds = time.monotonic() - started
    return result


def _scheduled_pull(stack: LocalStack) -> int:
    """One schedule tick while the faults are on; 1 if the pull failed, else 0.

    A pull that runs into the injected faults (its retries spent on 429s, say) raises, as the Lambda
    would; EventBridge Scheduler retries such an invocation and the next tick comes anyway, so the run
    goes on. Once the faults stop, pulls must succeed (they are not wrapped there).
    """
    try:
        stack.run_pull()
    except Exception as exc:
        print(f"  a scheduled pull failed under faults: {type(exc).__name__}", flush=True)
        return 1
    return 0


def compare(stack: LocalStack, numbers: list[int], editor: Editor, token: str) -> ChaosResult:
    """Both vendors against what people typed, and against each other."""
    store = stack.store
    parked = store.parked(TENANT)
    explained = {p.record_id for p in parked} | {
        p.message.get("external_id") for p in parked if isinstance(p, ParkedMessage)
    }
    conflicts = [c for c in store.conflicts(TENANT) if c.status is not ConflictStatus.OVERRIDDEN]
    explained |= {c.record_id for c in conflicts}
    assert stack.resources is not None
    dlq = stack.queue_depth("SignalsDLQ") if "SignalsDLQ" in stack.resources.queue_urls else 0

    companies = stack.hubspot.records("companies")
    contacts = stack.hubspot.records("contacts")
    by_number: dict[str, list[dict[str, Any]]] = {}
    for company in companies:
        by_number.setdefault(company["properties"].get("crmsync_customer_number") or "", []).append(company)
    duplicates = sum(len(v) - 1 for k, v in by_number.items() if k) + len(by_number.get("", []))
    eco_numbers = stack.economic.customer_numbers()
    duplicates += max(0, len(eco_numbers) - len(numbers))
    emails = Counter((c["properties"].get("email") or "").lower() for c in contacts)
    duplicates += sum(n - 1 for e, n in emails.items() if e and n > 1)
    contact_by_email = {(c["properties"].get("email") or "").lower(): c for c in contacts}
    eco_contacts: dict[int, list[dict[str, Any]]] = {}
    for contact in stack.economic.all_contacts():
        eco_contacts.setdefault(int(contact["customerNumber"]), []).append(contact)

    lost = 0
    silent = 0
    diverged = 0

    def record_id_of(number: int) -> str | None:
        return store.find_link(TENANT, ECONOMIC_CONNECTION, ObjectType.CUSTOMER, str(number))

    for number in numbers:
        customer = stack.economic.get_customer(number) or {}
        group = by_number.get(str(number), [])
        if not group:
            lost += 1
            if record_id_of(number) not in explained:
                silent += 1
            continue
        props = group[0]["properties"]
        pairs = {
            "phone": (customer.get("telephoneAndFaxNumber"), props.get("phone")),
            "city": (customer.get("city"), props.get("city")),
            "payment_terms": (
                str((customer.get("paymentTerms") or {}).get("paymentTermsNumber")),
                props.get("crmsync_payment_terms"),
            ),
            "name": (customer.get("name"), props.get("name")),
        }
        bad = False
        for name, (eco, hs) in pairs.items():
            want = editor.expected.get((number, name))
            if (want is not None and (eco != want or hs != want)) or (want is None and eco != hs):
                bad = True
        for contact in eco_contacts.get(number, []):
            hs_contact = contact_by_email.get((contact.get("email") or "").lower())
            if hs_contact is None or group[0]["id"] not in hs_contact.get("associations", {}).get(
                "companies", []
            ):
                bad = True
        if bad:
            diverged += 1
            lost += 1
            if record_id_of(number) not in explained:
                silent += 1
    if dlq and silent:
        silent = max(0, silent - dlq)  # a DLQ message is visible and replayable
    converged = lost == 0 and duplicates == 0
    return ChaosResult(
        converged=converged,
        lost=lost,
        duplicates=duplicates,
        silent_failures=silent,
        conflicts=len(conflicts),
        parked=len(parked),
        details={
            "diverged": diverged,
            "dlq": dlq,
            "signals": stack.stats.signals,
            "crashes": stack.stats.crashes,
            "edits": editor.made,
            "hubspot": stack.hubspot.stats(),
            "economic": stack.economic.stats(),
        },
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--contacts", type=int, default=2)
    parser.add_argument("--edits", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    cfg = ChaosConfig(
        customers=args.customers, contacts_per_customer=args.contacts, edits=args.edits, seed=args.seed
    )
    result = run(cfg, progress=True)
    print(
        f"chaos: {cfg.customers} customers x {cfg.contacts_per_customer} contacts, {cfg.edits} edits, "
        f"{result.seconds:.0f} s; details: {result.details}"
    )
    print(result.line())
    return 0 if result.converged and result.silent_failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

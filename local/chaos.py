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

Accounting facts and the CRM journal are switched on (``--no-facts`` to leave them off): bookkeepers
also book invoices (the "Invoice booked" webhook refreshes that customer's facts) and register payments
(no webhook: the scheduled refresh carries them). At the end every linked company's open balance must
equal e-conomic's unpaid remainders (``facts_diverged`` otherwise, counted as lost), and no journal
note may exist twice (``note_duplicates``, counted as duplicates).

``--crm dynamics``: the CRM is a Dynamics 365 organisation (the Dataverse fake) instead of HubSpot, read
and edited through ``local.crm_side``. Its faults: ``DataverseFaults`` re-armed at random rounds (the
next calls answer 5xx; writes that commit and then answer 5xx / 504; a latency spell past the client's
timeout, whose writes land after the client gave up), the service protection limit (429 with
``Retry-After``) set low enough to bite, with its 300 s window compressed to a few seconds (only to
compress the run's time, as HubSpot's 429 interval is), and the held webhook deliveries dropped,
duplicated and reordered (the fake has no webhook faults of its own). Dynamics has no column for the
payment terms, so the chaos tenant gives the customer e-mail to accounting (direction ``to_crm``):
bookkeepers edit it in e-conomic and it must reach the account.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

import httpx

from crmsync import runtime
from crmsync.facts import FactsSettings
from crmsync.journal_settings import JournalSettings
from crmsync.messages import FactsRefresh
from crmsync.models import SyncMode
from crmsync.policy import Direction, FieldRule
from local.chaos_verdict import CUSTOMER, TENANT, ChaosResult, _dataverse, compare
from local.crm_side import CrmSide
from local.fakes.dataverse import DataverseFake, DataverseFaults
from local.fakes.dataverse import ratelimit as dataverse_ratelimit
from local.fakes.economic import EconomicFaults
from local.fakes.hubspot import Faults
from local.stack import LocalStack
from local.vendors import DEFAULT_ACCOUNT, CrmKind


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
    crm: CrmKind = "hubspot"
    dataverse_requests_per_window: int = 150
    dataverse_window_s: float = 5.0
    """Dataverse's service protection: this many requests (a ``$batch`` part counts as one) per window,
    the window compressed from 300 s (real: 6,000 per 300 s, 20 a second): 30 a second, and a batch of
    100 needs a window two thirds empty, so the 429s (``Retry-After`` up to the window) bite."""
    dataverse_fault_rate: float = 0.3
    """Per round: the chance of arming each of the next-calls 5xx and the after-commit failure."""
    dataverse_slow_rate: float = 0.05
    """Per round: the chance of a latency spell past ``http_timeout`` (about a second long)."""
    facts_and_journal: bool = True
    """Accounting facts and the CRM journal on; bookkeepers book invoices and register payments."""


def _faults_on(stack: LocalStack, cfg: ChaosConfig) -> None:
    if cfg.crm == "hubspot":
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
    else:
        _dataverse(stack).requests_per_300s = cfg.dataverse_requests_per_window
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
    fake = stack.accounts[DEFAULT_ACCOUNT].dynamics
    if fake is not None:
        fake.faults = DataverseFaults()
        fake.requests_per_300s = None


@dataclass
class DataverseChaos:
    """The Dynamics side's faults, one round at a time (the fake's faults count down, so re-armed)."""

    fake: DataverseFake
    cfg: ChaosConfig
    rng: random.Random
    counts: Counter[str] = field(default_factory=Counter)

    def tamper_webhooks(self) -> None:
        """Drop, duplicate and reorder the held deliveries (just before the stack flushes them)."""
        cfg, rng = self.cfg, self.rng
        with self.fake._lock:  # the held deliveries: the fake has no webhook faults of its own
            held = [e for e in self.fake._held if rng.random() >= cfg.webhook_drop_rate]
            self.counts["webhooks_dropped"] += len(self.fake._held) - len(held)
            twice = [e for e in held if rng.random() < cfg.webhook_duplicate_rate]
            self.counts["webhooks_duplicated"] += len(twice)
            held += twice
            if cfg.reorder:
                rng.shuffle(held)
            self.fake._held = held

    def arm(self) -> None:
        """This round's faults: the next calls' 5xx, an after-commit failure, a latency spell."""
        faults, cfg, rng = self.fake.faults, self.cfg, self.rng
        if rng.random() < cfg.dataverse_fault_rate and not (faults.fail_next_n or (0, 0))[1]:
            faults.fail_next_n = (rng.choice((500, 502, 503)), rng.randint(1, 3))
            self.counts["5xx_armed"] += faults.fail_next_n[1]
        if rng.random() < cfg.dataverse_fault_rate and not (faults.fail_after_commit_n or (0, 0))[1]:
            faults.fail_after_commit_n = (rng.choice((500, 503, 504)), 1)
            self.counts["after_commit_armed"] += 1
        if rng.random() < cfg.dataverse_slow_rate and not faults.latency_s:
            faults.latency_s = cfg.http_timeout + 0.5  # calls time out; their writes still land
            self.counts["slow_spells"] += 1
            spell = threading.Timer(1.0, lambda: setattr(faults, "latency_s", 0.0))
            spell.daemon = True
            spell.start()


@contextmanager
def _compressed_window(seconds: float) -> Iterator[None]:
    """The Dataverse fake's 300 s service-protection window, shortened for one run."""
    saved = dataverse_ratelimit.WINDOW_S
    dataverse_ratelimit.WINDOW_S = seconds
    try:
        yield
    finally:
        dataverse_ratelimit.WINDOW_S = saved


class Editor:
    """People editing both sides, each field on the side that owns it (default policy)."""

    def __init__(self, stack: LocalStack, crm: CrmSide, numbers: list[int], rng: random.Random) -> None:
        self.stack = stack
        self.crm = crm
        self.numbers = numbers
        self.rng = rng
        self.expected: dict[tuple[int, str], str] = {}
        self.companies: dict[str, str] = {}
        self.made = 0
        self.invoices: list[int] = []
        self.bookings = False

    def book(self) -> None:
        """A bookkeeper books an invoice (webhook) or registers a payment on one (no webhook)."""
        if self.invoices and self.rng.random() < 0.4:
            invoice = self.rng.choice(self.invoices)
            booked = self.stack.economic.get_booked_invoice(invoice) or {}
            if float(booked.get("remainder") or 0) > 0:
                self.stack.economic.register_payment(invoice)
            return
        number = self.rng.choice(self.numbers)
        self.invoices.append(
            self.stack.economic.book_invoice(number, amount=float(self.rng.randint(100, 9000)))
        )

    def refresh(self) -> None:
        self.companies = {
            str(row.fields.get("customer_number") or ""): row.id for row in self.crm.rows(CUSTOMER)
        }

    def edit(self) -> None:
        if self.bookings and self.rng.random() < 0.15:
            self.book()
            self.made += 1
            return
        number = self.rng.choice(self.numbers)
        company = self.companies.get(str(number))
        roll = self.rng.random()
        if roll < 0.4 or company is None:
            if self.crm.kind == "hubspot":
                terms = self.rng.randint(1, 8)
                self.stack.economic.update_customer(number, paymentTerms={"paymentTermsNumber": terms})
                self.expected[(number, "payment_terms")] = str(terms)
            else:
                email = f"bogholderi{self.made}@k{number}.example"
                self.stack.economic.update_customer(number, email=email)
                self.expected[(number, "email")] = email
        elif roll < 0.8:
            phone = f"+45 {self.rng.randint(10, 99)} {self.rng.randint(10, 99)} {self.made % 100:02d} 00"
            self.crm.edit(CUSTOMER, company, {"phone": phone})
            self.expected[(number, "phone")] = phone
        else:
            city = self.rng.choice(["Aarhus", "Odense", "Aalborg", "Esbjerg", "Vejle", "Horsens"])
            self.crm.edit(CUSTOMER, company, {"city": f"{city} {self.made}"})
            self.expected[(number, "city")] = f"{city} {self.made}"
        self.made += 1


def run(cfg: ChaosConfig, *, progress: bool = False) -> ChaosResult:
    started = time.monotonic()
    rng = random.Random(cfg.seed)
    with (
        _compressed_window(cfg.dataverse_window_s),
        ExitStack() as cleanup,
        LocalStack(http_timeout=cfg.http_timeout) as stack,
    ):
        numbers = stack.economic.seed(
            cfg.customers, contacts_per_customer=cfg.contacts_per_customer, seed=cfg.seed
        )
        token = stack.add_tenant(TENANT, mode=SyncMode.AUTOMATIC, crm=cfg.crm)
        crm = stack.accounts[DEFAULT_ACCOUNT].crm(cfg.crm)
        dataverse = None
        if cfg.crm == "dynamics":
            config = stack.store.get_config(TENANT)
            assert config is not None
            config.field_policy.customer["email"] = FieldRule(direction=Direction.TO_CRM)
            stack.store.put_config(config)
            dataverse = DataverseChaos(_dataverse(stack), cfg, random.Random(cfg.seed + 2))
            # One keep-alive client for the fake's webhook deliveries (it builds one per delivery).
            dataverse.fake.webhook_client = cleanup.enter_context(httpx.Client(timeout=60.0))
        if cfg.facts_and_journal:
            config = stack.store.get_config(TENANT)
            assert config is not None
            stack.store.put_config(
                config.model_copy(
                    update={"facts": FactsSettings(enabled=True), "journal": JournalSettings(enabled=True)}
                )
            )
        _faults_on(stack, cfg)
        if cfg.crash:
            stack.crash_next_batch_after = 1  # the first batch of two or more messages dies after one
        editor = Editor(stack, crm, numbers, rng)
        editor.bookings = cfg.facts_and_journal
        failed_pulls = _scheduled_pull(stack)
        rounds = 0
        edits_per_round = max(1, cfg.edits // 40)
        while True:
            rounds += 1
            if dataverse is not None and stack.crash_next_batch_after is None:
                # Not before the worker was killed: the local stack's crash path lets a failing
                # invocation's exception through (the rest of the run retries failures as SQS does).
                dataverse.arm()
            moved = stack.pump_queue(limit=300) + stack.pump_stream()
            stack.hubspot.flush_webhooks(timeout=30)
            stack.economic.flush_webhooks(timeout=30)
            if dataverse is not None:
                dataverse.tamper_webhooks()
                dataverse.fake.flush_webhooks()
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
        if cfg.facts_and_journal:
            # The schedule's facts refresh after its period (payments have no webhook).
            assert runtime.context().queue is not None
            runtime.context().queue.send([FactsRefresh(tenant_id=TENANT, bulk=True)])
            stack.run_until_idle(timeout=3600)
        result = compare(stack, crm, numbers, editor, token)
        result.details["failed_pulls"] = failed_pulls
        if dataverse is not None:
            result.details["dataverse_chaos"] = dict(dataverse.counts)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--contacts", type=int, default=2)
    parser.add_argument("--edits", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--crm", choices=("hubspot", "dynamics"), default="hubspot")
    parser.add_argument("--no-facts", action="store_true", help="accounting facts and the journal off")
    args = parser.parse_args(argv)
    cfg = ChaosConfig(
        customers=args.customers,
        contacts_per_customer=args.contacts,
        edits=args.edits,
        seed=args.seed,
        crm=args.crm,
        facts_and_journal=not args.no_facts,
    )
    result = run(cfg, progress=True)
    crm = "" if cfg.crm == "hubspot" else f" (CRM: {cfg.crm})"
    print(
        f"chaos{crm}: {cfg.customers} customers x {cfg.contacts_per_customer} contacts, {cfg.edits} edits, "
        f"{result.seconds:.0f} s; details: {result.details}"
    )
    print(result.line())
    return 0 if result.converged and result.silent_failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

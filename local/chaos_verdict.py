"""The chaos run's verdict (``local.chaos``): both vendors against what people typed and against each
other, the accounting facts against e-conomic's remainders, the CRM journal's notes for duplicates."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crmsync.items import ParkedMessage
from crmsync.models import ConflictStatus, ObjectType
from crmsync.text_rules import clean
from local.crm_side import CrmSide
from local.fakes.dataverse import DataverseFake
from local.stack import LocalStack
from local.vendors import DEFAULT_ACCOUNT, ECONOMIC_CONNECTION

if TYPE_CHECKING:
    from local.chaos import Editor

TENANT = "chaos"
CUSTOMER, CONTACT = ObjectType.CUSTOMER, ObjectType.CONTACT
ACCOUNTING_FIELD = {"hubspot": "payment_terms", "dynamics": "email"}
"""The accounting-owned customer field bookkeepers edit in e-conomic (it must reach the CRM)."""


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


def _dataverse(stack: LocalStack) -> DataverseFake:
    fake = stack.accounts[DEFAULT_ACCOUNT].dynamics
    assert fake is not None, "a Dynamics tenant first"
    return fake


def compare(stack: LocalStack, crm: CrmSide, numbers: list[int], editor: Editor, token: str) -> ChaosResult:
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

    companies = crm.rows(CUSTOMER)
    contacts = crm.rows(CONTACT)
    by_number: dict[str, list[Any]] = {}
    for company in companies:
        by_number.setdefault(str(company.fields.get("customer_number") or ""), []).append(company)
    duplicates = sum(len(v) - 1 for k, v in by_number.items() if k) + len(by_number.get("", []))
    eco_numbers = stack.economic.customer_numbers()
    duplicates += max(0, len(eco_numbers) - len(numbers))
    emails = Counter(str(c.fields.get("email") or "").lower() for c in contacts)
    duplicates += sum(n - 1 for e, n in emails.items() if e and n > 1)
    contact_by_email = {str(c.fields.get("email") or "").lower(): c for c in contacts}
    eco_contacts: dict[int, list[dict[str, Any]]] = {}
    for contact in stack.economic.all_contacts():
        eco_contacts.setdefault(int(contact["customerNumber"]), []).append(contact)
    accounting_field = ACCOUNTING_FIELD[crm.kind]

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
        fields = group[0].fields
        pairs = {
            "phone": (customer.get("telephoneAndFaxNumber"), fields.get("phone")),
            "city": (customer.get("city"), fields.get("city")),
            "name": (customer.get("name"), fields.get("name")),
        }
        if accounting_field == "payment_terms":
            terms = (customer.get("paymentTerms") or {}).get("paymentTermsNumber")
            pairs["payment_terms"] = (terms, fields.get("payment_terms"))
        else:
            pairs["email"] = (customer.get("email"), fields.get("email"))
        bad = False
        for name, (eco, there) in pairs.items():
            eco, there = _clean(name, eco), _clean(name, there)
            want = editor.expected.get((number, name))
            want = None if want is None else _clean(name, want)
            if (want is not None and (eco != want or there != want)) or (want is None and eco != there):
                bad = True
        for contact in eco_contacts.get(number, []):
            crm_contact = contact_by_email.get((contact.get("email") or "").lower())
            if crm_contact is None or crm_contact.parent_id != group[0].id:
                bad = True
        if bad:
            diverged += 1
            lost += 1
            if record_id_of(number) not in explained:
                silent += 1
    facts_diverged = _facts_diverged(stack, crm, by_number, editor) if editor.bookings else 0
    lost += facts_diverged
    silent += facts_diverged  # nothing parks a fact: a wrong balance is always silent
    note_duplicates, notes = _note_duplicates(stack, crm) if editor.bookings else (0, 0)
    duplicates += note_duplicates
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
            "facts_diverged": facts_diverged,
            "invoices": len(editor.invoices),
            "notes": notes,
            "note_duplicates": note_duplicates,
            "dlq": dlq,
            "signals": stack.stats.signals,
            "crashes": stack.stats.crashes,
            "edits": editor.made,
            crm.kind: _crm_stats(stack, crm),
            "economic": stack.economic.stats(),
        },
    )


def _facts_diverged(stack: LocalStack, crm: CrmSide, by_number: dict[str, list[Any]], editor: Editor) -> int:
    """Companies whose open balance is not e-conomic's sum of unpaid remainders (base currency)."""
    owed: dict[int, float] = {}
    for invoice in editor.invoices:
        booked = stack.economic.get_booked_invoice(invoice) or {}
        number = int((booked.get("customer") or {}).get("customerNumber") or 0)
        owed[number] = owed.get(number, 0.0) + float(booked.get("remainderInBaseCurrency") or 0)
    diverged = 0
    for number in editor.numbers:
        group = by_number.get(str(number), [])
        if not group:
            continue  # counted as lost already
        shown = crm.facts(group[0].id).get("open_balance")
        if shown is None or round(float(shown), 2) != round(owed.get(number, 0.0), 2):
            diverged += 1
    return diverged


def _note_duplicates(stack: LocalStack, crm: CrmSide) -> tuple[int, int]:
    """(notes that exist twice, all notes): the same text on the same company for the same moment."""
    if crm.kind == "hubspot":
        keys = [
            (
                tuple(n["associations"]["companies"]),
                n["properties"].get("hs_note_body"),
                n["properties"].get("hs_timestamp"),
            )
            for n in stack.hubspot.notes()
        ]
    else:
        keys = [
            (r.get("_objectid_value"), r.get("annotationid"), None)
            for r in _dataverse(stack).rows("annotation")
        ]
    return len(keys) - len(set(keys)), len(keys)


def _clean(name: str, value: Any) -> str | None:
    """A value as the connectors clean what they read (so ``4`` and ``"4"`` are one value)."""
    cleaned = clean(CUSTOMER, name, None if value is None else str(value))
    return None if cleaned in (None, "") else str(cleaned)


def _crm_stats(stack: LocalStack, crm: CrmSide) -> dict[str, Any]:
    if crm.kind == "hubspot":
        return dict(stack.hubspot.stats())
    stats = dict(_dataverse(stack).stats)
    stats["faults"] = sum(n for status, n in stats["statuses"].items() if status.startswith("5"))
    return stats

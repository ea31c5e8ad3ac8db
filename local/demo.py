"""``make demo``: crmsync end to end on this machine, then a summary. Exits 0 only if every step held.

``--crm hubspot`` (default) or ``--crm dynamics``: the same story with either CRM (a HubSpot portal or
a Dynamics 365 organisation; ``local.crm_side`` reads and edits both in canonical field names).

1. starts the local stack (moto server, e-conomic and CRM fakes, gateway, pump);
2. seeds e-conomic with 200 customers with contact persons;
3. transfers them all to the CRM (the first scheduled pull), with a progress bar;
4. a bookkeeper changes an accounting-owned field in e-conomic: the webhook carries it to the CRM
   (HubSpot: the payment terms; Dynamics has no column for them, so: a renumbered customer);
5. a salesperson edits the company / account in the CRM (the CRM's field): it reaches e-conomic;
6. shows that the echo of each write came back and changed nothing;
7. converts a lead that is really an existing customer (no duplicate; in Dynamics a lead is a row of
   its own, qualified onto the existing account);
8. a conflict: both sides edit the city (rule manual), the compare view, the resolution;
9. accounting facts switched on: the bookkeeper books an invoice, and e-conomic's "Invoice booked"
   webhook puts the customer's new open balance on its company / account (one webhook, one write);
10. prints records, vendor calls and echoes suppressed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from crmsync import runtime
from crmsync.config import TransferTiming
from crmsync.models import ObjectType, SyncMode
from local.crm_side import CrmRow, CrmSide
from local.stack import LocalStack
from local.vendors import DEFAULT_ACCOUNT, CrmKind

TENANT = "demo"
CUSTOMERS = 200
CONTACTS_PER_CUSTOMER = 2
CUSTOMER, CONTACT = ObjectType.CUSTOMER, ObjectType.CONTACT
CRM_NAMES = {"hubspot": ("HubSpot", "company", "companies"), "dynamics": ("Dynamics", "account", "accounts")}
"""Per CRM: its name and what it calls a customer (one, several)."""
DATAVERSE_REQUESTS_PER_300S = 6_000
"""Dataverse's service protection limit per user (the demo runs HubSpot at its real limit too)."""


class DemoFailure(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise DemoFailure(message)


def _vendor_calls(stack: LocalStack, crm: CrmSide) -> tuple[int, int]:
    return stack.economic.stats()["total"], crm.api_calls()


def _vendor_writes(stack: LocalStack, crm: CrmSide) -> tuple[int, int]:
    return stack.economic.stats()["writes"], crm.write_calls()


def _crm_echoes(stack: LocalStack, crm: CrmSide) -> int:
    """Dynamics: deliveries of crmsync's own writes (dropped at the webhook, before any decision)."""
    fake = stack.accounts[DEFAULT_ACCOUNT].dynamics
    if crm.kind != "dynamics" or fake is None:
        return 0
    return sum(
        1
        for d in fake.webhook_deliveries
        if json.loads(d["body"]).get("InitiatingUserId") == fake.application_user_id
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crm", choices=("hubspot", "dynamics"), default="hubspot")
    kind: CrmKind = parser.parse_args(argv).crm
    crm_name, one, many = CRM_NAMES[kind]
    console = Console()
    started = time.monotonic()
    console.rule("[bold]crmsync local demo" + ("" if kind == "hubspot" else f" ({crm_name})"))
    with LocalStack(hubspot_rate_limit_per_10s=100) as stack:
        console.print(f"local stack up: AWS (moto) {stack.aws_endpoint}, API {stack.gateway_url}")
        numbers = stack.economic.seed(CUSTOMERS, contacts_per_customer=CONTACTS_PER_CUSTOMER, seed=7)
        console.print(
            f"e-conomic seeded: {len(numbers)} customers, {len(numbers) * CONTACTS_PER_CUSTOMER} contacts"
        )
        token = stack.add_tenant(TENANT, mode=SyncMode.AUTOMATIC, crm=kind)
        crm = stack.accounts[DEFAULT_ACCOUNT].crm(kind)
        dynamics = stack.accounts[DEFAULT_ACCOUNT].dynamics
        if dynamics is not None:
            dynamics.requests_per_300s = DATAVERSE_REQUESTS_PER_300S
        config = stack.store.get_config(TENANT)
        assert config is not None  # leads stay in the CRM until converted
        stack.store.put_config(
            config.model_copy(update={"transfer_timing": TransferTiming.ON_CUSTOMER_STAGE})
        )

        # 3. transfer everything to the CRM
        total = CUSTOMERS * (1 + CONTACTS_PER_CUSTOMER)
        with Progress(
            TextColumn(f"transfer e-conomic -> {crm_name}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("transfer", total=total)

            def update() -> None:
                progress.update(task, completed=len(crm.rows(CUSTOMER)) + len(crm.rows(CONTACT)))

            pulled = stack.run_pull()
            stack.run_until_idle(timeout=600, on_round=update)
            update()
        companies = crm.rows(CUSTOMER)
        contacts = crm.rows(CONTACT)
        check(
            len(companies) == CUSTOMERS,
            f"expected {CUSTOMERS} {many} in {crm_name}, found {len(companies)}",
        )
        check(len(contacts) == CUSTOMERS * CONTACTS_PER_CUSTOMER, f"expected contacts, found {len(contacts)}")
        by_number = _by_number(companies)
        check(
            all(str(n) in by_number for n in numbers),
            f"every {one} carries its e-conomic customer number",
        )
        attached = sum(1 for c in contacts if c.parent_id in {row.id for row in companies})
        check(attached == len(contacts), f"{len(contacts) - attached} contacts not attached to their {one}")
        console.print(
            f"[green]transferred[/] {len(companies)} {many} and {len(contacts)} contacts "
            f"({pulled['enqueued']} signals from the first pull), every contact attached to its {one}"
        )

        # 4. bookkeeper edits in e-conomic (an accounting-owned field)
        number = numbers[0]
        company = by_number[str(number)]
        calls_before = _vendor_calls(stack, crm)
        if kind == "hubspot":
            _payment_terms_edit(stack, crm, console, number, company)
        else:
            number = _renumber(stack, crm, console, number, company)
            numbers[0] = number
        terms = stack.economic.get_customer(number)["paymentTerms"]["paymentTermsNumber"]

        # 5. salesperson edits in the CRM (general data is the CRM's once linked)
        crm.edit(CUSTOMER, company.id, {"website": "https://svendborg-demo.example"})
        stack.run_until_idle()
        eco = stack.economic.get_customer(number)
        assert eco is not None
        check(
            eco.get("website") == "https://svendborg-demo.example", f"{crm_name} edit did not reach e-conomic"
        )
        check(eco["paymentTerms"]["paymentTermsNumber"] == terms, "a field crmsync did not change was lost")
        console.print(f"[green]{crm_name} -> e-conomic[/] {one} {company.id}: website updated in e-conomic")

        # 6. echoes: each write above came back as a webhook and changed nothing
        decisions = dict(runtime.context().decisions)
        calls_after = _vendor_calls(stack, crm)
        stack.run_until_idle()
        check(
            _vendor_calls(stack, crm) == calls_after,
            "the stack kept writing after it settled (an update loop)",
        )
        echoes = decisions.get("echo", 0) + _crm_echoes(stack, crm)
        check(echoes > 0, "no echo was seen")

        # a second pull finds nothing new to write
        writes_before = _vendor_writes(stack, crm)
        stack.run_pull()
        stack.run_until_idle()
        writes_after = _vendor_writes(stack, crm)
        check(
            writes_after == writes_before,
            f"an unchanged pull wrote to a vendor: {writes_before} -> {writes_after}",
        )

        # 7. a salesperson converts a lead that is really an existing customer (typo'd, other legal form)
        if kind == "hubspot":
            convert_hubspot_lead(stack, crm, console, token, numbers[5])
        else:
            convert_dynamics_lead(stack, crm, console, token, numbers[5])

        # 8. a real conflict: the city may change on both sides, and a person decides (rule: manual)
        show_conflict(stack, crm, console, token, numbers[1], by_number[str(numbers[1])].id)

        # 9. accounting facts: a booked invoice shows as the open balance on the company
        show_booked_invoice(stack, crm, console, token, numbers[2], by_number[str(numbers[2])].id)

        records = sum(1 for _ in stack.store.records(TENANT, CUSTOMER)) + sum(
            1 for _ in stack.store.records(TENANT, CONTACT)
        )
        api = stack.http.get(
            f"/tenants/{TENANT}/records/{by_number_record(stack, number)}",
            headers={"Authorization": f"Bearer {token}"},
        )
        check(api.status_code == 200, f"API record view failed: {api.status_code}")

        eco_stats = stack.economic.stats()
        crm_total, crm_writes = crm.api_calls(), crm.write_calls()
        table = Table(title="crmsync demo summary")
        table.add_column("what")
        table.add_column("value", justify="right")
        table.add_row("records (customers + contacts)", str(records))
        table.add_row("e-conomic API calls (reads / writes)", f"{eco_stats['reads']} / {eco_stats['writes']}")
        table.add_row(f"{crm_name} API calls (reads / writes)", f"{crm_total - crm_writes} / {crm_writes}")
        table.add_row(f"{crm_name} calls per transferred record", f"{crm_total / total:.3f}")
        table.add_row("signals processed", str(stack.stats.signals))
        table.add_row("echoes suppressed (0 writes each)", str(echoes))
        table.add_row("edits e2e: calls for the e-conomic edit", str(sum(calls_after) - sum(calls_before)))
        table.add_row("elapsed", f"{time.monotonic() - started:.1f} s")
        console.print(table)
        console.print(
            f"SUMMARY records={records} economic_calls={eco_stats['total']} {kind}_calls={crm_total} "
            f"echoes_suppressed={echoes} signals={stack.stats.signals}"
        )
    return 0


def show_booked_invoice(
    stack: LocalStack, crm: CrmSide, console: Console, token: str, number: int, company_id: str
) -> None:
    """Facts on (API), an invoice booked in e-conomic, its open balance on the CRM company at once."""
    headers = {"Authorization": f"Bearer {token}"}
    config = stack.http.get(f"/tenants/{TENANT}/config", headers=headers).json()
    config["facts"] = {"enabled": True}
    check(
        stack.http.put(f"/tenants/{TENANT}/config", json=config, headers=headers).status_code == 200,
        "facts on",
    )
    invoice = stack.economic.book_invoice(number, amount=8000.0)
    stack.run_until_idle()
    facts = crm.facts(company_id)
    balance = float(facts.get("open_balance") or 0)
    booked = stack.economic.get_booked_invoice(invoice) or {}
    owed = float(booked.get("remainderInBaseCurrency") or booked.get("remainder") or 0)
    check(
        owed > 0 and balance == round(owed, 2),
        f"the booked invoice's open balance did not reach the CRM: {facts}",
    )
    written = stack.store.facts_hashes(TENANT)
    check(len(written) == 1, f"one webhook refreshes one company, not {len(written)}")
    console.print(
        f"[green]e-conomic -> CRM[/] invoice {invoice} booked for customer {number}: open balance "
        f"{balance:,.2f} (gross) and last invoice {facts.get('last_invoice_number')} on the company at once"
    )


def _by_number(rows: list[CrmRow]) -> dict[str, CrmRow]:
    return {str(r.fields.get("customer_number")): r for r in rows if r.fields.get("customer_number")}


def _payment_terms_edit(
    stack: LocalStack, crm: CrmSide, console: Console, number: int, company: CrmRow
) -> None:
    """HubSpot: the payment terms (accounting's field by default) reach the company."""
    terms = 8 if stack.economic.get_customer(number)["paymentTerms"]["paymentTermsNumber"] != 8 else 7
    stack.economic.update_customer(number, paymentTerms={"paymentTermsNumber": terms})
    stack.run_until_idle()
    row = crm.get(CUSTOMER, company.id)
    check(
        row is not None and str(row.fields.get("payment_terms")) == str(terms),
        "e-conomic edit did not reach HubSpot",
    )
    console.print(f"[green]e-conomic -> HubSpot[/] customer {number}: payment terms {terms} now in HubSpot")


def _renumber(stack: LocalStack, crm: CrmSide, console: Console, number: int, account: CrmRow) -> int:
    """Dynamics: the customer number (e-conomic's identifier) is renumbered; the account follows."""
    new = max(stack.economic.customer_numbers()) + 1000
    stack.economic.renumber(number, new)
    stack.run_until_idle()
    row = crm.get(CUSTOMER, account.id)
    check(
        row is not None and str(row.fields.get("customer_number")) == str(new),
        "e-conomic renumbering did not reach Dynamics",
    )
    check(by_number_record(stack, new) is not None, "the record follows the new number")
    console.print(
        f"[green]e-conomic -> Dynamics[/] customer {number} renumbered {new}: account number {new} in Dynamics"
    )
    return new


def _lead_name(stack: LocalStack, number: int) -> tuple[str, dict[str, Any]]:
    existing = stack.economic.get_customer(number)
    assert existing is not None
    return existing["name"].replace("ApS", "A/S").replace("A/S", "AS").upper(), existing


def convert_hubspot_lead(stack: LocalStack, crm: CrmSide, console: Console, token: str, number: int) -> None:
    lead_name, existing = _lead_name(stack, number)
    lead_id = crm.create(
        CUSTOMER, {"name": lead_name, "city": existing.get("city", ""), "lifecycle_stage": "lead"}
    )
    crm.create(
        CONTACT,
        {"name": "Lea Lund", "email": "lea.lund@lead.example", "lifecycle_stage": "lead"},
        parent_id=lead_id,
    )
    stack.run_until_idle()
    customers_before = len(stack.economic.customer_numbers())
    best, converted = _convert(stack, token, lead_id)
    check(
        converted.get("customer_number") == str(number),
        f"lead not merged into {number}: {converted}",
    )
    check(len(stack.economic.customer_numbers()) == customers_before, "a lead conversion created a duplicate")
    survivors = [r for r in crm.rows(CUSTOMER) if str(r.fields.get("customer_number")) == str(number)]
    check(len(survivors) == 1, f"expected one HubSpot company for customer {number}, found {len(survivors)}")
    check(lead_id not in {r.id for r in crm.rows(CUSTOMER)}, "the lead duplicate is still there")
    check(survivors[0].fields.get("lifecycle_stage") == "customer", "lead stage not moved to customer")
    console.print(
        f"[green]lead conversion[/] '{lead_name}' -> candidate '{existing['name']}' "
        f"(score {best['score']}, {', '.join(best['reasons'][:3])}); merged into customer {number} "
        "and its HubSpot company, stage = customer, no duplicate on either side"
    )


def convert_dynamics_lead(stack: LocalStack, crm: CrmSide, console: Console, token: str, number: int) -> None:
    """A Dynamics lead is a row of its own: qualified onto the existing account, no new account."""
    fake = stack.accounts[DEFAULT_ACCOUNT].dynamics
    assert fake is not None
    lead_name, existing = _lead_name(stack, number)
    (lead_id,) = fake.seed(
        "lead",
        [
            {
                "subject": "Interesse",
                "companyname": lead_name,
                "address1_city": existing.get("city", ""),
                "firstname": "Lea",
                "lastname": "Lund",
                "emailaddress1": "lea.lund@lead.example",
            }
        ],
    )
    customers_before = len(stack.economic.customer_numbers())
    accounts_before = len(crm.rows(CUSTOMER))
    best, converted = _convert(stack, token, lead_id)
    check(
        converted.get("customer_number") == str(number),
        f"lead not merged into {number}: {converted}",
    )
    check(len(stack.economic.customer_numbers()) == customers_before, "a lead conversion created a duplicate")
    check(len(crm.rows(CUSTOMER)) == accounts_before, "a lead conversion created a duplicate account")
    survivors = [r for r in crm.rows(CUSTOMER) if str(r.fields.get("customer_number")) == str(number)]
    check(len(survivors) == 1, f"expected one Dynamics account for customer {number}, found {len(survivors)}")
    lead = fake.row("lead", lead_id)
    check(lead is not None and lead.get("statecode") == 1, "the lead is not qualified")
    people = [c for c in crm.rows(CONTACT) if c.fields.get("email") == "lea.lund@lead.example"]
    check(
        len(people) == 1 and people[0].parent_id == survivors[0].id,
        f"the lead's person is not one contact under the account: {people}",
    )
    check(
        "lea.lund@lead.example" in [c.get("email") for c in stack.economic.contacts_of(number)],
        "the lead's person did not reach the customer's contacts in e-conomic",
    )
    console.print(
        f"[green]lead conversion[/] '{lead_name}' -> candidate '{existing['name']}' "
        f"(score {best['score']}, {', '.join(best['reasons'][:3])}); qualified onto customer {number} "
        "and its Dynamics account, the person a contact under it, no duplicate on either side"
    )


def _convert(stack: LocalStack, token: str, lead_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Ask for candidates, merge into the best; returns the best candidate and the conversion."""
    auth = {"Authorization": f"Bearer {token}"}
    found = stack.http.post(f"/tenants/{TENANT}/leads/{lead_id}/convert", json={}, headers=auth).json()
    check(found.get("status") == "candidates" and bool(found.get("candidates")), f"no candidates: {found}")
    best = found["candidates"][0]
    converted = stack.http.post(
        f"/tenants/{TENANT}/leads/{lead_id}/convert",
        json={"action": "merge_into", "candidate_record_id": best["record_id"]},
        headers=auth,
    ).json()
    stack.run_until_idle()
    return best, converted


def show_conflict(
    stack: LocalStack, crm: CrmSide, console: Console, token: str, number: int, company_id: str
) -> None:
    """Both sides edit the city; crmsync holds it, shows the compare view, and a person resolves it."""
    crm_name = CRM_NAMES[crm.kind][0]
    auth = {"Authorization": f"Bearer {token}"}
    base = f"/tenants/{TENANT}"
    config = stack.http.get(f"{base}/config", headers=auth).json()
    config["field_policy"]["customer"]["city"] = {"direction": "both", "rule": "manual"}
    check(
        stack.http.put(f"{base}/config", json=config, headers=auth).status_code == 200, "config update failed"
    )
    stack.economic.update_customer(number, city="Bogholderby")
    time.sleep(1.1)
    crm.edit(CUSTOMER, company_id, {"city": "Salgsby", "phone": "+45 70 20 30 40"})
    stack.run_until_idle()
    record_id = by_number_record(stack, number)
    open_items = stack.http.get(f"{base}/conflicts?record_id={record_id}", headers=auth).json()
    check(
        len(open_items) == 1 and open_items[0]["field"] == "city", f"expected one open conflict: {open_items}"
    )
    check(
        stack.economic.get_customer(number).get("telephoneAndFaxNumber") == "+45 70 20 30 40",
        "the rest of the record should still flow while the city is held",
    )
    view = stack.http.get(f"{base}/records/{record_id}/compare", headers=auth).json()
    table = Table(title=f"compare view of customer {number} (fields not in sync, and the phone)")
    for column in ("field", crm_name, "e-conomic", "crmsync", "owner", "in sync"):
        table.add_column(column)
    for row in view["fields"]:
        if not row["in_sync"] or row["field"] == "phone":
            table.add_row(
                row["field"],
                str(row["crm"] if row.get("unmapped_crm_value") is None else row["unmapped_crm_value"]),
                str(row["accounting"]),
                str(row["crmsync"]),
                row["owner"],
                "yes" if row["in_sync"] else ("held" if row["held"] else "no"),
            )
    console.print(table)
    resolved = stack.http.post(
        f"{base}/records/{record_id}/resolve", json={"fields": {"city": {"take": "crm"}}}, headers=auth
    )
    check(resolved.status_code == 200, f"resolve failed: {resolved.text}")
    stack.run_until_idle()
    row = crm.get(CUSTOMER, company_id)
    cities = (row.fields.get("city") if row else None, stack.economic.get_customer(number).get("city"))
    check(cities == ("Salgsby", "Salgsby"), f"the resolution did not reach both sides: {cities}")
    settled = stack.http.get(f"{base}/conflicts?record_id={record_id}&all=true", headers=auth).json()
    check(
        any(c["status"] == "resolved" and c["losing_value"] == "Bogholderby" for c in settled),
        "the losing value must be kept",
    )
    view = stack.http.get(f"{base}/records/{record_id}/compare", headers=auth).json()
    out_of_sync = {row["field"]: row for row in view["fields"] if not row["in_sync"]}
    check(
        not out_of_sync and all(view["exists"].values()),
        f"the record should be in sync after the resolution: {sorted(out_of_sync)}",
    )
    console.print(
        "[green]conflict[/] city edited on both sides -> held (open conflict, phone still flowed); "
        "resolved 'take CRM': both sides now 'Salgsby'; 'Bogholderby' kept as the losing value (restorable)"
    )


def by_number_record(stack: LocalStack, number: int) -> str:
    rid = stack.store.find_link(TENANT, "eco", ObjectType.CUSTOMER, str(number))
    check(rid is not None, "no record linked to the customer")
    assert rid is not None
    return rid


if __name__ == "__main__":
    try:
        sys.exit(main())
    except DemoFailure as failure:
        Console(stderr=True).print(f"[red]demo failed:[/] {failure}")
        sys.exit(1)

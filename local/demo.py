"""``make demo``: crmsync end to end on this machine, then a summary. Exits 0 only if every step held.

1. starts the local stack (moto server, e-conomic and HubSpot fakes, gateway, pump);
2. seeds e-conomic with 200 customers with contact persons;
3. transfers them all to HubSpot (the first scheduled pull), with a progress bar;
4. a bookkeeper changes payment terms in e-conomic (accounting's field): the webhook carries it to HubSpot;
5. a salesperson edits the company in HubSpot (the CRM's field): the webhook carries it to e-conomic;
6. shows that the echo of each write came back and changed nothing;
7. converts a lead that is really an existing customer (no duplicate);
8. a conflict: both sides edit the city (rule manual), the compare view, the resolution;
9. prints records, vendor calls and echoes suppressed.
"""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from crmsync import runtime
from crmsync.config import TransferTiming
from crmsync.models import ObjectType, SyncMode
from local.stack import LocalStack

TENANT = "demo"
CUSTOMERS = 200
CONTACTS_PER_CUSTOMER = 2


class DemoFailure(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise DemoFailure(message)


def _vendor_calls(stack: LocalStack) -> tuple[int, int]:
    return stack.economic.stats()["total"], stack.hubspot.stats()["total"]


def main() -> int:
    console = Console()
    started = time.monotonic()
    console.rule("[bold]crmsync local demo")
    with LocalStack(hubspot_rate_limit_per_10s=100) as stack:
        console.print(f"local stack up: AWS (moto) {stack.aws_endpoint}, API {stack.gateway_url}")
        numbers = stack.economic.seed(CUSTOMERS, contacts_per_customer=CONTACTS_PER_CUSTOMER, seed=7)
        console.print(
            f"e-conomic seeded: {len(numbers)} customers, {len(numbers) * CONTACTS_PER_CUSTOMER} contacts"
        )
        token = stack.add_tenant(TENANT, mode=SyncMode.AUTOMATIC)
        config = stack.store.get_config(TENANT)
        assert config is not None  # leads stay in the CRM until converted
        stack.store.put_config(
            config.model_copy(update={"transfer_timing": TransferTiming.ON_CUSTOMER_STAGE})
        )

        # 3. transfer everything to HubSpot
        total = CUSTOMERS * (1 + CONTACTS_PER_CUSTOMER)
        with Progress(
            TextColumn("transfer e-conomic -> HubSpot"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("transfer", total=total)

            def update() -> None:
                done = len(stack.hubspot.records("companies")) + len(stack.hubspot.records("contacts"))
                progress.update(task, completed=done)

            pulled = stack.run_pull()
            stack.run_until_idle(timeout=600, on_round=update)
            update()
        companies = stack.hubspot.records("companies")
        contacts = stack.hubspot.records("contacts")
        check(
            len(companies) == CUSTOMERS, f"expected {CUSTOMERS} companies in HubSpot, found {len(companies)}"
        )
        check(len(contacts) == CUSTOMERS * CONTACTS_PER_CUSTOMER, f"expected contacts, found {len(contacts)}")
        by_number = {c["properties"].get("crmsync_customer_number"): c for c in companies}
        check(
            all(str(n) in by_number for n in numbers), "every company carries its e-conomic customer number"
        )
        attached = sum(1 for c in contacts if c.get("associations", {}).get("companies"))
        check(attached == len(contacts), f"{len(contacts) - attached} contacts not attached to their company")
        console.print(
            f"[green]transferred[/] {len(companies)} companies and {len(contacts)} contacts "
            f"({pulled['enqueued']} signals from the first pull), every contact attached to its company"
        )

        # 4. bookkeeper edits in e-conomic (payment terms are accounting's field by default)
        number = numbers[0]
        company = by_number[str(number)]
        terms = 8 if stack.economic.get_customer(number)["paymentTerms"]["paymentTermsNumber"] != 8 else 7
        calls_before = _vendor_calls(stack)
        stack.economic.update_customer(number, paymentTerms={"paymentTermsNumber": terms})
        stack.run_until_idle()
        hs_company = stack.hubspot.record("companies", company["id"])
        assert hs_company is not None
        check(
            hs_company["properties"].get("crmsync_payment_terms") == str(terms),
            "e-conomic edit did not reach HubSpot",
        )
        console.print(
            f"[green]e-conomic -> HubSpot[/] customer {number}: payment terms {terms} now in HubSpot"
        )

        # 5. salesperson edits in HubSpot (general data is the CRM's once linked)
        stack.hubspot.edit("companies", company["id"], {"website": "https://svendborg-demo.example"})
        stack.run_until_idle()
        eco = stack.economic.get_customer(number)
        assert eco is not None
        check(eco.get("website") == "https://svendborg-demo.example", "HubSpot edit did not reach e-conomic")
        check(eco["paymentTerms"]["paymentTermsNumber"] == terms, "a field crmsync did not change was lost")
        console.print(f"[green]HubSpot -> e-conomic[/] company {company['id']}: website updated in e-conomic")

        # 6. echoes: each write above came back as a webhook and changed nothing
        decisions = dict(runtime.context().decisions)
        calls_after = _vendor_calls(stack)
        stack.run_until_idle()
        check(_vendor_calls(stack) == calls_after, "the stack kept writing after it settled (an update loop)")
        echoes = decisions.get("echo", 0)
        check(echoes > 0, "no echo was seen")

        # a second pull finds nothing new to write
        writes_before = stack.economic.stats()["writes"], stack.hubspot.stats()["writes"]
        stack.run_pull()
        stack.run_until_idle()
        writes_after = stack.economic.stats()["writes"], stack.hubspot.stats()["writes"]
        check(
            writes_after == writes_before,
            f"an unchanged pull wrote to a vendor: {writes_before} -> {writes_after}",
        )

        # 7. a salesperson converts a lead that is really an existing customer (typo'd, other legal form)
        existing = stack.economic.get_customer(numbers[5])
        assert existing is not None
        lead_name = existing["name"].replace("ApS", "A/S").replace("A/S", "AS").upper()
        lead_id = stack.hubspot.create(
            "companies", {"name": lead_name, "city": existing.get("city", ""), "lifecyclestage": "lead"}
        )
        person = stack.hubspot.create(
            "contacts",
            {
                "firstname": "Lea",
                "lastname": "Lund",
                "email": "lea.lund@lead.example",
                "lifecyclestage": "lead",
            },
        )
        stack.hubspot.associate(person, lead_id)
        stack.run_until_idle()
        auth = {"Authorization": f"Bearer {token}"}
        customers_before = len(stack.economic.customer_numbers())
        found = stack.http.post(f"/tenants/{TENANT}/leads/{lead_id}/convert", json={}, headers=auth).json()
        check(found["status"] == "candidates" and bool(found["candidates"]), f"no candidates: {found}")
        best = found["candidates"][0]
        converted = stack.http.post(
            f"/tenants/{TENANT}/leads/{lead_id}/convert",
            json={"action": "merge_into", "candidate_record_id": best["record_id"]},
            headers=auth,
        ).json()
        stack.run_until_idle()
        check(
            converted.get("customer_number") == str(numbers[5]),
            f"lead not merged into {numbers[5]}: {converted}",
        )
        check(
            len(stack.economic.customer_numbers()) == customers_before,
            "a lead conversion created a duplicate",
        )
        survivors = [
            c
            for c in stack.hubspot.records("companies")
            if c["properties"].get("crmsync_customer_number") == str(numbers[5])
        ]
        check(
            len(survivors) == 1,
            f"expected one HubSpot company for customer {numbers[5]}, found {len(survivors)}",
        )
        check(
            lead_id not in {c["id"] for c in stack.hubspot.records("companies")},
            "the lead duplicate is still there",
        )
        check(
            survivors[0]["properties"].get("lifecyclestage") == "customer", "lead stage not moved to customer"
        )
        console.print(
            f"[green]lead conversion[/] '{lead_name}' -> candidate '{existing['name']}' "
            f"(score {best['score']}, {', '.join(best['reasons'][:3])}); merged into customer {numbers[5]} "
            "and its HubSpot company, stage = customer, no duplicate on either side"
        )

        # 8. a real conflict: the city may change on both sides, and a person decides (rule: manual)
        show_conflict(stack, console, token, numbers[1], by_number[str(numbers[1])]["id"])

        records = sum(1 for _ in stack.store.records(TENANT, ObjectType.CUSTOMER)) + sum(
            1 for _ in stack.store.records(TENANT, ObjectType.CONTACT)
        )
        api = stack.http.get(
            f"/tenants/{TENANT}/records/{by_number_record(stack, number)}",
            headers={"Authorization": f"Bearer {token}"},
        )
        check(api.status_code == 200, f"API record view failed: {api.status_code}")

        eco_stats, hs_stats = stack.economic.stats(), stack.hubspot.stats()
        table = Table(title="crmsync demo summary")
        table.add_column("what")
        table.add_column("value", justify="right")
        table.add_row("records (customers + contacts)", str(records))
        table.add_row("e-conomic API calls (reads / writes)", f"{eco_stats['reads']} / {eco_stats['writes']}")
        table.add_row("HubSpot API calls (reads / writes)", f"{hs_stats['reads']} / {hs_stats['writes']}")
        table.add_row("HubSpot calls per transferred record", f"{hs_stats['total'] / total:.3f}")
        table.add_row("signals processed", str(stack.stats.signals))
        table.add_row("echoes suppressed (0 writes each)", str(echoes))
        table.add_row("edits e2e: calls for the e-conomic edit", str(sum(calls_after) - sum(calls_before)))
        table.add_row("elapsed", f"{time.monotonic() - started:.1f} s")
        console.print(table)
        console.print(
            f"SUMMARY records={records} economic_calls={eco_stats['total']} hubspot_calls={hs_stats['total']} "
            f"echoes_suppressed={echoes} signals={stack.stats.signals}"
        )
    return 0


def show_conflict(stack: LocalStack, console: Console, token: str, number: int, company_id: str) -> None:
    """Both sides edit the city; crmsync holds it, shows the compare view, and a person resolves it."""
    auth = {"Authorization": f"Bearer {token}"}
    base = f"/tenants/{TENANT}"
    config = stack.http.get(f"{base}/config", headers=auth).json()
    config["field_policy"]["customer"]["city"] = {"direction": "both", "rule": "manual"}
    check(
        stack.http.put(f"{base}/config", json=config, headers=auth).status_code == 200, "config update failed"
    )
    stack.economic.update_customer(number, city="Bogholderby")
    time.sleep(1.1)
    stack.hubspot.edit("companies", company_id, {"city": "Salgsby", "phone": "+45 70 20 30 40"})
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
    for column in ("field", "HubSpot", "e-conomic", "crmsync", "owner", "in sync"):
        table.add_column(column)
    for row in view["fields"]:
        if not row["in_sync"] or row["field"] == "phone":
            table.add_row(
                row["field"],
                str(row["crm"]),
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
    cities = (
        stack.hubspot.record("companies", company_id)["properties"].get("city"),
        stack.economic.get_customer(number).get("city"),
    )
    check(cities == ("Salgsby", "Salgsby"), f"the resolution did not reach both sides: {cities}")
    settled = stack.http.get(f"{base}/conflicts?record_id={record_id}&all=true", headers=auth).json()
    check(
        any(c["status"] == "resolved" and c["losing_value"] == "Bogholderby" for c in settled),
        "the losing value must be kept",
    )
    view = stack.http.get(f"{base}/records/{record_id}/compare", headers=auth).json()
    check(view["in_sync"], "the record should be in sync after the resolution")
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

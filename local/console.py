"""``make console``: the local stack with the admin console, until Ctrl-C (or ``--seconds``).

Starts what ``make demo`` starts (moto's server, the vendor fakes, the gateway serving the template's
routes, the console's files among them), seeds two tenants and keeps the stack moving in the
background (``local.pump_thread``: webhooks, queues, the stream, and the scheduled pull every
``--pull-every`` seconds), then prints the console's URL with each tenant's id and API token:

- ``shop`` (automatic): e-conomic customers with their contact persons transferred to the CRM; one
  conflict held for a person (both sides changed the city, rule manual) and one write parked (a city
  longer than e-conomic's 50 characters), so the compare view, the conflict inbox, parked writes and
  health have something to show;
- ``review`` (manual): customers on both sides and nothing linked; some companies look like customers
  (same name, a variant, the customer number), one is unrelated, so the link screen shows candidates
  in their bands, and "Transfer all" has work.

The vendors' own screens are the fakes: edit them from a Python shell of this process, or watch the
console pick up what the stack does (``--crm dynamics`` for a Dynamics 365 organisation instead of HubSpot).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time

from crmsync.models import ObjectType, SyncMode
from crmsync.policy import ConflictRule, Direction, FieldRule
from local.pump_thread import pumping
from local.stack import LocalStack
from local.vendors import CrmKind

CUSTOMER, CONTACT = ObjectType.CUSTOMER, ObjectType.CONTACT
TOO_LONG_CITY = "Sankt Klemens ved Odense Sankt Klemens ved Odense X"  # e-conomic takes 50 characters


def seed_shop(stack: LocalStack, crm: CrmKind, customers: int) -> str:
    """The automatic tenant: a transfer, then a held conflict and a parked write."""
    stack.add_account("shop")
    if crm == "dynamics":
        stack.vendors.enable_dynamics("shop")
    account = stack.accounts["shop"]
    account.economic.seed(customers, contacts_per_customer=2, seed=18)
    token = stack.add_tenant("shop", account="shop", mode=SyncMode.AUTOMATIC, crm=crm)
    stack.run_pull()
    stack.run_until_idle()
    config = stack.store.get_config("shop")
    assert config is not None
    policy = config.field_policy.model_copy(deep=True)
    policy.customer["city"] = FieldRule(direction=Direction.BOTH, rule=ConflictRule.MANUAL)
    stack.store.put_config(config.model_copy(update={"field_policy": policy}))
    side = account.crm(crm)
    numbers = account.economic.customer_numbers()

    def crm_id(number: int) -> str:
        record = stack.store.get_record(
            "shop", stack.store.find_link("shop", "eco", CUSTOMER, str(number)) or ""
        )
        assert record is not None, f"customer {number} was not transferred"
        return record.links[side.connection_id]

    account.economic.update_customer(numbers[0], city="Bogholderby")
    time.sleep(1.1)  # e-conomic's lastUpdated has whole seconds: the CRM's edit is the later one
    side.edit(CUSTOMER, crm_id(numbers[0]), {"city": "Salgsby"})
    side.edit(CUSTOMER, crm_id(numbers[2]), {"city": TOO_LONG_CITY})
    stack.run_until_idle()
    return token


def seed_review(stack: LocalStack, crm: CrmKind) -> str:
    """The manual tenant: look-alikes on both sides, nothing linked."""
    stack.add_account("review")
    if crm == "dynamics":
        stack.vendors.enable_dynamics("review")
    account = stack.accounts["review"]
    eco = account.economic
    eco.seed(8, contacts_per_customer=1, seed=5)
    token = stack.add_tenant("review", account="review", mode=SyncMode.MANUAL, crm=crm)
    side = account.crm(crm)
    first, second, third, *_ = (eco.get_customer(n) or {} for n in eco.customer_numbers())
    side.create(CUSTOMER, {"name": first["name"].upper(), "customer_number": str(first["customerNumber"])})
    side.create(CUSTOMER, {"name": second["name"], "city": second.get("city")})
    side.create(CUSTOMER, {"name": f"{third['name']} Holding", "city": third.get("city")})
    side.create(CUSTOMER, {"name": "Helt Anden Virksomhed ApS", "city": "Tórshavn"})
    stack.run_pull()
    stack.run_until_idle()
    return token


def summary(stack: LocalStack, tenant: str, token: str) -> str:
    """What the tenant's health says, through the API the console uses."""
    health = stack.http.get(f"/tenants/{tenant}/health", headers={"Authorization": f"Bearer {token}"})
    health.raise_for_status()
    shown = health.json()
    backlog, counts = shown["backlog"], shown["counts"]
    return (
        f"{shown['state']}: {counts['in_sync']} of {counts['records']} records in sync, "
        f"{backlog['open_conflicts']} open conflicts, {backlog['parked']} parked"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crm", choices=["hubspot", "dynamics"], default="hubspot")
    parser.add_argument("--customers", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long (default: Ctrl-C)")
    parser.add_argument("--pull-every", type=float, default=60.0, help="seconds between scheduled pulls")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with LocalStack(serial=True, log_level="ERROR") as stack:
        tokens = {"shop": seed_shop(stack, args.crm, args.customers), "review": seed_review(stack, args.crm)}
        page = stack.http.get("/console/")
        assert page.status_code == 200 and "crmsync console" in page.text, page.status_code
        with pumping(stack, pull_every=args.pull_every):
            print(f"console: {stack.gateway_url}/console/index.html", flush=True)
            for tenant, token in tokens.items():
                print(f"  tenant {tenant}: API token {token}  ({summary(stack, tenant, token)})", flush=True)
            print("  (Ctrl-C stops the stack)", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait(args.seconds)
    print("console: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

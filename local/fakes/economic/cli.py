"""Command line: ``python -m local.fakes.economic --port 8081 --customers 200``."""

from __future__ import annotations

import argparse
import time

from local.fakes.economic.fake import EconomicFake
from local.fakes.economic.model import CUSTOMERS_API_PREFIX


def main(argv: list[str] | None = None) -> None:
    """``python -m local.fakes.economic --port 8081 --customers 200``: serve a seeded fake until Ctrl-C."""
    from local.fakes import economic  # the package docstring describes the fake

    doc = economic.__doc__
    parser = argparse.ArgumentParser(
        prog="python -m local.fakes.economic", description=doc.splitlines()[0] if doc else None
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--contacts-per-customer", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--webhook-url", default=None)
    parser.add_argument("--app-secret-token", default="test-app-secret")
    parser.add_argument("--agreement-grant-token", default="test-grant-token")
    args = parser.parse_args(argv)
    fake = EconomicFake(
        app_secret_token=args.app_secret_token,
        agreement_grant_token=args.agreement_grant_token,
        webhook_url=args.webhook_url,
    )
    fake.seed(args.customers, contacts_per_customer=args.contacts_per_customer, seed=args.seed)
    _, base_url = fake.serve(args.host, args.port)
    print(f"e-conomic fake on {base_url} (Customers API at {base_url}{CUSTOMERS_API_PREFIX})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.shutdown()

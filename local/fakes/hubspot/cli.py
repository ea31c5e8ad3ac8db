"""Command line: ``python -m local.fakes.hubspot --port 8089 --token pat-...``."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from local.fakes.hubspot.fake import HubSpotFake


def main(argv: Sequence[str] | None = None) -> None:
    """Run the fake on a port: ``python -m local.fakes.hubspot --port 8089 --token pat-...``."""
    from local.fakes import hubspot  # the package docstring describes the fake

    doc = hubspot.__doc__
    parser = argparse.ArgumentParser(
        prog="python -m local.fakes.hubspot", description=doc.splitlines()[0] if doc else None
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--token", default="pat-na1-fake-token")
    parser.add_argument("--client-secret", default="fake-client-secret")
    parser.add_argument("--target-url", default=None, help="where webhook batches are POSTed")
    parser.add_argument("--rate-limit", type=int, default=0, help="calls per 10 s (0 = unlimited)")
    args = parser.parse_args(argv)
    fake = HubSpotFake(
        args.token,
        client_secret=args.client_secret,
        target_url=args.target_url,
        rate_limit_per_10s=args.rate_limit or None,
        search_rate_limit_per_s=None if not args.rate_limit else 5,
    )
    _, url = fake.serve(args.host, args.port)
    print(f"HubSpot fake on {url} (token {args.token})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.shutdown()

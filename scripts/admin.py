"""Operator CLI for a deployed crmsync stack: create a tenant, store its connection secrets, manage API tokens.

    python -m scripts.admin create-tenant --table <SyncTableName> --tenant acme \\
        --economic-secret eco.json --hubspot-secret hs.json [--hubspot-portal-id 123] \\
        [--mode manual|automatic|off] [--environment test|production] [--walk-in 999]
    python -m scripts.admin create-tenant --table <SyncTableName> --tenant acme --economic-secret eco.json \\
        --dynamics-secret dyn.json --dynamics-org-url https://acme.crm4.dynamics.com [--dynamics-user-id <guid>]
    python -m scripts.admin issue-token --table <SyncTableName> --tenant acme [--name "front end"] [--days 90]
    python -m scripts.admin list-tokens --table <SyncTableName> --tenant acme
    python -m scripts.admin revoke-token --table <SyncTableName> --tenant acme --token-id <id>
    python -m scripts.admin rotate-token --table <SyncTableName> --tenant acme --token-id <id> [--days 90]
    python -m scripts.admin redrive --table <SyncTableName> --dlq-url <SignalsDLQ> --queue-url <SignalsQueue> \\
        --bulk-queue-url <BulkQueue>

Secrets files are JSON: e-conomic ``{"app_secret_token", "agreement_grant_token", "webhook_secret"}``, HubSpot
``{"access_token", "client_secret"}`` (a private app) or ``{"refresh_token", "client_id", "client_secret"}`` (a
public app), Dynamics 365 ``{"tenant_id", "client_id", "client_secret", "webhook_key"}``
(the Entra ID directory, the app registration and one of its client secrets; the key its webhooks carry); they go to Secrets Manager as ``crmsync/<tenant>/<connection>/<env>`` and are
never printed. An API token is printed once (issue, rotate); only its hash is stored. Tokens expire after
``--days`` (90 by default); ``list-tokens`` shows id, name, created, expires; a revoked token gets 401 on its
next request (``crmsync/tokens.py``). Uses the ambient AWS credentials.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3

from crmsync.config import AccountingDefaults, ConnectionConfig, DynamicsSettings, TenantConfig
from crmsync.models import HUBSPOT_PUBLIC_APP_KEYS, ConnectionKind, Environment, SyncMode, utcnow
from crmsync.service import parked_message_key
from crmsync.signal_queue import is_bulk_body
from crmsync.store import SyncStore
from crmsync.tokens import TokenNotFound, issue_token, list_tokens, revoke_token, rotate_token

ECONOMIC_KEYS = {"app_secret_token", "agreement_grant_token", "webhook_secret"}
HUBSPOT_KEYS = {"access_token", "client_secret"}
HUBSPOT_PUBLIC_APP = {*HUBSPOT_PUBLIC_APP_KEYS}
"""A HubSpot public app's secret: its refresh token, client id and client secret (no access token)."""
DYNAMICS_KEYS = {*ConnectionKind.DYNAMICS.secret_keys, "webhook_key"}


def _secret(path: str, keys: set[str]) -> dict[str, Any]:
    value = json.loads(Path(path).read_text(encoding="utf-8"))
    missing = keys - set(value)
    if missing:
        raise SystemExit(f"{path}: missing {sorted(missing)}")
    return {k: value[k] for k in keys}


def _put_secret(client: Any, name: str, value: dict[str, Any]) -> None:
    body = json.dumps(value)
    try:
        client.create_secret(Name=name, SecretString=body)
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=name, SecretString=body)


def provision(
    store: SyncStore,
    secrets_client: Any,
    tenant_id: str,
    *,
    economic_secret: dict[str, Any],
    crm: ConnectionConfig,
    crm_secret: dict[str, Any],
    mode: SyncMode = SyncMode.MANUAL,
    environment: Environment = Environment.TEST,
    walk_in: str | None = None,
    secret_prefix: str = "crmsync/",  # noqa: S107 - a name prefix, not a secret
    economic_connection: str = "eco",
) -> str:
    """Tenant config + one secret per connection + an API token (returned; only its hash is stored).

    ``crm`` is the CRM connection (HubSpot or Dynamics 365) and ``crm_secret`` its secret."""
    config = TenantConfig(
        tenant_id=tenant_id,
        sync_mode=mode,
        environment=environment,
        walk_in_customer_number=walk_in,
        connections=[
            ConnectionConfig(
                connection_id=economic_connection,
                kind=ConnectionKind.ECONOMIC,
                accounting_defaults=AccountingDefaults(),
            ),
            crm,
        ],
    )
    _put_secret(secrets_client, config.secret_name(secret_prefix, economic_connection), economic_secret)
    _put_secret(secrets_client, config.secret_name(secret_prefix, crm.connection_id), crm_secret)
    store.put_config(config)
    return issue_token(store, tenant_id, name="created with the tenant")


def _crm(args: argparse.Namespace) -> tuple[ConnectionConfig, dict[str, Any]]:
    """The CRM connection the arguments name: HubSpot (``--hubspot-secret``) or Dynamics (``--dynamics-*``)."""
    if bool(args.hubspot_secret) == bool(args.dynamics_secret):
        raise SystemExit("give either --hubspot-secret or --dynamics-secret (one CRM per tenant)")
    if args.hubspot_secret:
        conn = ConnectionConfig(
            connection_id=args.hubspot_connection,
            kind=ConnectionKind.HUBSPOT,
            hubspot_portal_id=args.hubspot_portal_id,
        )
        value = json.loads(Path(args.hubspot_secret).read_text(encoding="utf-8"))
        keys = HUBSPOT_PUBLIC_APP if value.get("refresh_token") else HUBSPOT_KEYS
        return conn, _secret(args.hubspot_secret, keys)
    if not args.dynamics_org_url:
        raise SystemExit("--dynamics-org-url is required with --dynamics-secret")
    dynamics = DynamicsSettings(
        org_url=args.dynamics_org_url,
        application_user_id=args.dynamics_user_id,
        columns=_pairs(args.dynamics_columns),
        fact_columns=_pairs(args.dynamics_fact_columns),
    )
    conn = ConnectionConfig(
        connection_id=args.dynamics_connection, kind=ConnectionKind.DYNAMICS, dynamics=dynamics
    )
    return conn, _secret(args.dynamics_secret, DYNAMICS_KEYS)


def _pairs(text: str | None) -> dict[str, str]:
    """``a=x,b=y`` -> ``{"a": "x", "b": "y"}``."""
    pairs = [p.split("=", 1) for p in (text or "").split(",") if p.strip()]
    return {name.strip(): value.strip() for name, value in pairs}


def create_tenant(args: argparse.Namespace, session: Any) -> str:
    crm, crm_secret = _crm(args)
    return provision(
        SyncStore(session.client("dynamodb"), args.table),
        session.client("secretsmanager"),
        args.tenant,
        economic_secret=_secret(args.economic_secret, ECONOMIC_KEYS),
        crm=crm,
        crm_secret=crm_secret,
        mode=SyncMode(args.mode),
        environment=Environment(args.environment),
        walk_in=args.walk_in,
        secret_prefix=args.secret_prefix,
        economic_connection=args.economic_connection,
    )


def redrive(store: SyncStore, sqs: Any, dlq_url: str, queue_url: str, bulk_queue_url: str = "") -> int:
    """Move every DLQ message back to its lane (bulk work to ``bulk_queue_url`` when given, the rest to the
    signals queue, each with its tenant as ``MessageGroupId``) and clear its parked entry.

    Messages carry no field values (a signal re-reads its source, a push request re-reads its record),
    so a redrive is always safe; the parked entry would otherwise show a failure that is being retried.
    """
    moved = 0
    while True:
        messages = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            return moved
        for message in messages:
            try:
                body = json.loads(message["Body"])
            except ValueError:
                body = None
            target = bulk_queue_url if bulk_queue_url and is_bulk_body(body) else queue_url
            tenant = body.get("tenant_id") if isinstance(body, dict) else None
            if isinstance(body, dict) and body.get("kind") == "signals" and body.get("signals"):
                tenant = (body["signals"][0] or {}).get("tenant_id")
            group = {"MessageGroupId": tenant} if isinstance(tenant, str) and tenant else {}
            sqs.send_message(QueueUrl=target, MessageBody=message["Body"], **group)
            key = parked_message_key(body) if isinstance(body, dict) else None
            if key and isinstance(body, dict) and isinstance(body.get("tenant_id"), str):
                store.unpark(body["tenant_id"], key)
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1


def main(argv: list[str] | None = None, session: Any = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.admin")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create-tenant")
    create.add_argument("--table", required=True)
    create.add_argument("--tenant", required=True)
    create.add_argument("--economic-secret", required=True)
    create.add_argument("--hubspot-secret")
    create.add_argument("--hubspot-portal-id", type=int)
    create.add_argument("--dynamics-secret")
    create.add_argument("--dynamics-org-url", help="e.g. https://acme.crm4.dynamics.com")
    create.add_argument("--dynamics-user-id", help="crmsync's application user (else learnt by WhoAmI)")
    create.add_argument(
        "--dynamics-columns",
        help="custom account columns, e.g. customer_group=new_customergroup,payment_terms=...",
    )
    create.add_argument(
        "--dynamics-fact-columns",
        help="account columns for accounting facts, e.g. open_balance=new_openbalance,revenue=new_revenue",
    )
    create.add_argument("--economic-connection", default="eco")
    create.add_argument("--hubspot-connection", default="hs")
    create.add_argument("--dynamics-connection", default="dyn")
    create.add_argument("--mode", default="manual", choices=[m.value for m in SyncMode])
    create.add_argument("--environment", default="test", choices=[e.value for e in Environment])
    create.add_argument("--walk-in")
    create.add_argument("--secret-prefix", default="crmsync/")
    token = sub.add_parser("issue-token", help="issue an API token (printed once)")
    token.add_argument("--table", required=True)
    token.add_argument("--tenant", required=True)
    token.add_argument("--name", default="", help="what the token is for")
    token.add_argument("--days", type=int, default=90, help="days until it expires (default 90)")
    listing = sub.add_parser("list-tokens", help="the tenant's tokens: id, name, created, expires")
    listing.add_argument("--table", required=True)
    listing.add_argument("--tenant", required=True)
    revoke = sub.add_parser("revoke-token", help="revoke a token by id (401 from its next request)")
    revoke.add_argument("--table", required=True)
    revoke.add_argument("--tenant", required=True)
    revoke.add_argument("--token-id", required=True)
    rotate = sub.add_parser("rotate-token", help="issue a new token (printed once) and revoke the old one")
    rotate.add_argument("--table", required=True)
    rotate.add_argument("--tenant", required=True)
    rotate.add_argument("--token-id", required=True)
    rotate.add_argument("--days", type=int, default=90, help="days until the new one expires (default 90)")
    move = sub.add_parser("redrive", help="move the signals DLQ back to the signals queue")
    move.add_argument("--table", required=True)
    move.add_argument("--dlq-url", required=True)
    move.add_argument("--queue-url", required=True)
    move.add_argument("--bulk-queue-url", default="", help="the BulkQueue: bulk work goes back there")
    args = parser.parse_args(argv)
    session = session or boto3.session.Session()
    if args.command == "redrive":
        count = redrive(
            SyncStore(session.client("dynamodb"), args.table),
            session.client("sqs"),
            args.dlq_url,
            args.queue_url,
            args.bulk_queue_url,
        )
        print(f"redriven: {count}")
        return 0
    api_token: str | None
    if args.command == "create-tenant":
        api_token = create_tenant(args, session)
    else:
        store = SyncStore(session.client("dynamodb"), args.table)
        if store.get_config(args.tenant) is None:
            raise SystemExit(f"no tenant {args.tenant}")
        try:
            api_token = tokens_command(store, args)
        except (TokenNotFound, ValueError) as exc:
            raise SystemExit(f"{type(exc).__name__}: {exc}") from exc
        if api_token is None:
            return 0
    print(api_token)  # shown once; only its SHA-256 is stored
    return 0


def tokens_command(store: SyncStore, args: argparse.Namespace) -> str | None:
    """Run a token command; returns a new token to print once, or None."""
    if args.command == "issue-token":
        return issue_token(store, args.tenant, name=args.name, lifetime=timedelta(days=args.days))
    if args.command == "rotate-token":
        return rotate_token(store, args.tenant, args.token_id, lifetime=timedelta(days=args.days))
    if args.command == "revoke-token":
        revoke_token(store, args.tenant, args.token_id)
        print(f"revoked {args.token_id}")
        return None
    now = utcnow()
    print(f"{'id':<14}{'created':<27}{'expires':<27}{'state':<9}name")
    for info in list_tokens(store, args.tenant):
        row = info.as_dict(now)
        state = "expired" if row["expired"] else "active"
        print(
            f"{info.token_id:<14}{row['created_at'] or '-':<27}{row['expires_at']:<27}{state:<9}{info.name}"
        )
    return None


if __name__ == "__main__":
    sys.exit(main())

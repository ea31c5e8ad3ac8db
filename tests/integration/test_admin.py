"""The operator CLI provisions a tenant the handlers can use: config, secrets, a working API token."""

from __future__ import annotations

import json

import pytest

from crmsync.api import authorize
from scripts.admin import main
from tests.integration.conftest import Env


def test_create_tenant_then_the_token_authorizes_and_secrets_are_stored(env: Env, tmp_path, capsys):
    eco = tmp_path / "eco.json"
    eco.write_text(json.dumps({"app_secret_token": "a", "agreement_grant_token": "g", "webhook_secret": "w"}))
    hs = tmp_path / "hs.json"
    hs.write_text(json.dumps({"access_token": "pat", "client_secret": "cs"}))
    table = env.resources.sync_table_name
    assert (
        main(
            [
                "create-tenant",
                "--table",
                table,
                "--tenant",
                "acme",
                "--economic-secret",
                str(eco),
                "--hubspot-secret",
                str(hs),
                "--mode",
                "manual",
                "--walk-in",
                "999",
            ]
        )
        == 0
    )
    token = capsys.readouterr().out.strip()
    authorize(env.store, "acme", f"Bearer {token}")  # raises if the token does not work
    config = env.store.get_config("acme")
    assert config is not None and config.walk_in_customer_number == "999"
    secret = json.loads(env.secrets.get_secret_value(SecretId="crmsync/acme/hs/test")["SecretString"])
    assert secret == {"access_token": "pat", "client_secret": "cs"}
    assert main(["issue-token", "--table", table, "--tenant", "acme"]) == 0
    second = capsys.readouterr().out.strip()
    assert second != token
    authorize(env.store, "acme", f"Bearer {second}")


def test_incomplete_secret_file_is_refused(env: Env, tmp_path):
    eco = tmp_path / "eco.json"
    eco.write_text(json.dumps({"app_secret_token": "a"}))
    with pytest.raises(SystemExit, match="missing"):
        main(
            [
                "create-tenant",
                "--table",
                env.resources.sync_table_name,
                "--tenant",
                "acme",
                "--economic-secret",
                str(eco),
                "--hubspot-secret",
                str(eco),
            ]
        )
    assert env.store.get_config("acme") is None


def _create(env: Env, tmp_path, crm_args: list[str]) -> int:
    eco = tmp_path / "eco.json"
    eco.write_text(json.dumps({"app_secret_token": "a", "agreement_grant_token": "g", "webhook_secret": "w"}))
    args = ["create-tenant", "--table", env.resources.sync_table_name, "--tenant", "acme"]
    return main([*args, "--economic-secret", str(eco), *crm_args])


def test_create_tenant_with_dynamics_stores_the_org_and_the_entra_secret(env: Env, tmp_path, capsys):
    dyn = tmp_path / "dyn.json"
    keys = {
        "tenant_id": "contoso.onmicrosoft.com",
        "client_id": "app",
        "client_secret": "cs",
        "webhook_key": "k",
    }
    dyn.write_text(json.dumps({**keys, "unrelated": "dropped"}))
    org = "https://contoso.crm4.dynamics.com/XRMServices/2011/OrganizationData.svc"
    columns = [
        "--dynamics-columns",
        "customer_group=new_customergroup, payment_terms=new_paymentterms",
        "--dynamics-fact-columns",
        "open_balance=new_openbalance,revenue=new_revenue",
    ]
    assert _create(env, tmp_path, ["--dynamics-secret", str(dyn), "--dynamics-org-url", org, *columns]) == 0
    config = env.store.get_config("acme")
    assert config is not None
    (crm,) = [c for c in config.connections if c.connection_id == "dyn"]
    assert crm.kind.value == "dynamics" and crm.dynamics is not None and crm.dynamics.org_url == org
    assert crm.dynamics.columns == {
        "customer_group": "new_customergroup",
        "payment_terms": "new_paymentterms",
    }
    assert crm.dynamics.fact_columns == {"open_balance": "new_openbalance", "revenue": "new_revenue"}
    secret = json.loads(env.secrets.get_secret_value(SecretId="crmsync/acme/dyn/test")["SecretString"])
    assert secret == keys, "exactly the keys crmsync uses"
    assert capsys.readouterr().out.strip(), "an API token is printed once"


def test_create_tenant_refuses_two_crms_or_a_dynamics_secret_without_its_org(env: Env, tmp_path):
    dyn = tmp_path / "dyn.json"
    dyn.write_text(json.dumps({"tenant_id": "t", "client_id": "c", "client_secret": "s", "webhook_key": "k"}))
    with pytest.raises(SystemExit, match="one CRM"):
        _create(env, tmp_path, ["--dynamics-secret", str(dyn), "--hubspot-secret", str(dyn)])
    with pytest.raises(SystemExit, match="dynamics-org-url"):
        _create(env, tmp_path, ["--dynamics-secret", str(dyn)])
    assert env.store.get_config("acme") is None


def test_create_tenant_with_a_hubspot_public_app_keeps_its_refresh_token(env: Env, tmp_path):
    hs = tmp_path / "hs.json"
    hs.write_text(json.dumps({"refresh_token": "rt", "client_id": "cid", "client_secret": "cs"}))
    assert _create(env, tmp_path, ["--hubspot-secret", str(hs)]) == 0
    secret = json.loads(env.secrets.get_secret_value(SecretId="crmsync/acme/hs/test")["SecretString"])
    assert secret == {"refresh_token": "rt", "client_id": "cid", "client_secret": "cs"}


def test_redrive_moves_the_dlq_back_and_clears_parked_entries(env: Env, capsys):
    import boto3

    from crmsync.service import park_message

    env.tenant("t1")
    sqs = boto3.client("sqs")
    dlq_url = env.resources.queue_urls["SignalsDLQ"]
    signal = {
        "tenant_id": "t1",
        "connection_id": "eco",
        "object_type": "customer",
        "external_id": "7",
        "source": "webhook",
    }
    from crmsync import runtime

    park_message(runtime.context(), signal, "TransientError: e-conomic 503")
    assert len(env.store.parked("t1")) == 1
    sqs.send_message(QueueUrl=dlq_url, MessageBody=json.dumps(signal))
    table = env.resources.sync_table_name
    queue = env.resources.signals_queue_url
    assert main(["redrive", "--table", table, "--dlq-url", dlq_url, "--queue-url", queue]) == 0
    assert "redriven: 1" in capsys.readouterr().out
    (moved,) = env.queued()
    assert moved == signal
    assert env.store.parked("t1") == []
    assert sqs.receive_message(QueueUrl=dlq_url).get("Messages", []) == []


def _admin(env: Env, capsys, *args: str) -> str:
    assert main([args[0], "--table", env.resources.sync_table_name, *args[1:]]) == 0
    return capsys.readouterr().out


def test_tokens_are_listed_revoked_and_rotated_per_tenant(env: Env, capsys):
    from crmsync.api import Unauthorized
    from crmsync.tokens import hash_token

    first = env.tenant("acme")
    second = _admin(env, capsys, "issue-token", "--tenant", "acme", "--name", "ci", "--days", "30").strip()
    authorize(env.store, "acme", f"Bearer {second}")
    listing = _admin(env, capsys, "list-tokens", "--tenant", "acme")
    assert "created with the tenant" in listing and "ci" in listing and "active" in listing
    assert first not in listing and second not in listing and hash_token(second) not in listing
    ci_id = hash_token(second)[:12]
    first_id = hash_token(first)[:12]
    assert ci_id in listing and first_id in listing

    rotated = _admin(env, capsys, "rotate-token", "--tenant", "acme", "--token-id", ci_id).strip()
    assert rotated not in (first, second)
    authorize(env.store, "acme", f"Bearer {rotated}")
    with pytest.raises(Unauthorized):
        authorize(env.store, "acme", f"Bearer {second}")
    listing = _admin(env, capsys, "list-tokens", "--tenant", "acme")
    assert ci_id not in listing and hash_token(rotated)[:12] in listing and "ci" in listing

    assert "revoked" in _admin(env, capsys, "revoke-token", "--tenant", "acme", "--token-id", first_id)
    with pytest.raises(Unauthorized):
        authorize(env.store, "acme", f"Bearer {first}")
    authorize(env.store, "acme", f"Bearer {rotated}")


def test_another_tenants_token_cannot_be_revoked_or_rotated_here(env: Env, capsys):
    from crmsync.tokens import hash_token

    env.tenant("acme")
    other = env.tenant("globex")
    other_id = hash_token(other)[:12]
    table = env.resources.sync_table_name
    for command in ("revoke-token", "rotate-token"):
        with pytest.raises(SystemExit, match="TokenNotFound"):
            main([command, "--table", table, "--tenant", "acme", "--token-id", other_id])
    assert other_id not in _admin(env, capsys, "list-tokens", "--tenant", "acme")
    authorize(env.store, "globex", f"Bearer {other}")
    with pytest.raises(SystemExit, match="no tenant"):
        main(["list-tokens", "--table", table, "--tenant", "nobody"])
    with pytest.raises(SystemExit, match="ValueError"):
        main(["issue-token", "--table", table, "--tenant", "acme", "--days", "0"])


def test_an_issued_token_expires_after_its_days(env: Env, capsys):
    from datetime import timedelta

    from crmsync.api import Unauthorized
    from crmsync.models import utcnow

    env.tenant("acme")
    token = _admin(env, capsys, "issue-token", "--tenant", "acme", "--days", "7").strip()
    authorize(env.store, "acme", f"Bearer {token}", now=utcnow() + timedelta(days=6))
    with pytest.raises(Unauthorized):
        authorize(env.store, "acme", f"Bearer {token}", now=utcnow() + timedelta(days=7, seconds=1))


def test_redrive_sends_bulk_work_back_to_the_bulk_queue(env: Env, capsys):
    import boto3

    sqs = boto3.client("sqs")
    dlq_url = env.resources.queue_urls["SignalsDLQ"]
    pulled = {"kind": "signals", "signals": [{**SIGNAL, "source": "pull"}]}
    page = {"kind": "transfer_page", "tenant_id": "t1", "job_id": "j", "page": 0}
    for body in (pulled, page, SIGNAL):
        sqs.send_message(QueueUrl=dlq_url, MessageBody=json.dumps(body))
    queue, bulk = env.resources.signals_queue_url, env.resources.queue_urls["BulkQueue"]
    args = ["redrive", "--table", env.resources.sync_table_name, "--dlq-url", dlq_url]
    assert main([*args, "--queue-url", queue, "--bulk-queue-url", bulk]) == 0
    assert "redriven: 3" in capsys.readouterr().out
    assert env.queued("SignalsQueue") == [SIGNAL]
    assert sorted(json.dumps(m, sort_keys=True) for m in env.queued("BulkQueue")) == sorted(
        json.dumps(m, sort_keys=True) for m in ({**SIGNAL, "source": "pull"}, page)
    )
    got = sqs.receive_message(QueueUrl=dlq_url).get("Messages", [])
    assert got == []


SIGNAL = {
    "tenant_id": "t1",
    "connection_id": "eco",
    "object_type": "customer",
    "external_id": "8",
    "source": "webhook",
}

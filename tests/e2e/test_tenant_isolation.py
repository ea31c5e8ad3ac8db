"""One tenant's broken connection never stops another tenant (issue 14).

Two tenants on one local stack share the vendor fakes (one e-conomic agreement, one HubSpot portal):
tenant B syncs automatically and gets the vendors' webhooks; tenant A (manual mode, so it writes
nothing to the shared accounts) keeps its own records of the same vendor records. A is broken in one of
two ways — its config switched to ``environment: production`` (no secret there), or its HubSpot token
revoked (its secret rewritten with a token HubSpot answers 401) — and the test shows:

* B's edits still arrive, by webhook and by the scheduled pull (which does not fail);
* one worker batch with A's and B's signals does not fail: B's is applied, A's is parked with the
  reason (not in the DLQ); A's connection shows ``needs_attention`` (no secret in the reason);
* once A is fixed and its parked items replayed, A's edits arrive and its connections are ``ok``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from crmsync.config import Environment
from crmsync.models import ObjectType, Signal, SyncMode
from local.stack import LocalStack
from local.vendors import ECONOMIC_CONNECTION, HUBSPOT_CLIENT_SECRET, HUBSPOT_CONNECTION, HUBSPOT_TOKEN

pytestmark = pytest.mark.e2e
A, B = "tenant-a", "tenant-b"
REVOKED = "pat-revoked-token"
SECRET_CACHE = 5.5
"""The local stack reads secrets through a 5 s cache (SECRETS_MAX_AGE): a rewritten secret counts after it."""


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    with LocalStack() as local:
        local.economic.seed(3, contacts_per_customer=1, seed=14)
        tokens = {A: local.add_tenant(A, mode=SyncMode.MANUAL)}
        tokens[B] = local.add_tenant(B, mode=SyncMode.AUTOMATIC)  # the vendors' webhooks now go to B
        local.tokens = tokens  # type: ignore[attr-defined]
        local.run_pull()
        local.run_until_idle()
        yield local


def api(stack: LocalStack, method: str, tenant: str, path: str) -> Any:
    token = stack.tokens[tenant]  # type: ignore[attr-defined]
    response = stack.http.request(
        method, f"/tenants/{tenant}{path}", headers={"authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    return response.json()


def company_of(stack: LocalStack, number: int) -> dict[str, Any]:
    (company,) = [
        c
        for c in stack.hubspot.records("companies")
        if c["properties"].get("crmsync_customer_number") == str(number)
    ]
    return company


def in_crmsync(stack: LocalStack, tenant: str, conn: str, external_id: str, name: str) -> Any:
    """A field of the tenant's own record of that vendor record (what reached crmsync for it)."""
    record_id = stack.store.find_link(tenant, conn, ObjectType.CUSTOMER, external_id)
    record = stack.store.get_record(tenant, record_id) if record_id else None
    value = record.fields.get(name) if record else None
    return None if value is None else str(value)


def new_terms(stack: LocalStack, number: int) -> int:
    current = stack.economic.get_customer(number)["paymentTerms"]["paymentTermsNumber"]
    return 8 if current != 8 else 7


def send_batch(stack: LocalStack, signals: list[Signal]) -> None:
    """Signals as separate queue messages, so the next worker invocation gets them in one batch."""
    assert stack.resources is not None
    for signal in signals:
        stack.sqs.send_message(
            QueueUrl=stack.resources.signals_queue_url, MessageBody=signal.model_dump_json()
        )


def set_hubspot_token(stack: LocalStack, tenant: str, token: str) -> None:
    stack.secrets.put_secret_value(
        SecretId=f"crmsync/{tenant}/{HUBSPOT_CONNECTION}/test",
        SecretString=json.dumps({"access_token": token, "client_secret": HUBSPOT_CLIENT_SECRET}),
    )
    time.sleep(SECRET_CACHE)


def set_environment(stack: LocalStack, tenant: str, environment: Environment) -> None:
    config = stack.store.get_config(tenant)
    assert config is not None
    stack.store.put_config(config.model_copy(update={"environment": environment}))


@pytest.mark.parametrize("failure", ["production_without_secret", "hubspot_token_revoked"])
def test_a_broken_tenant_connection_is_parked_and_never_stops_another_tenant(stack: LocalStack, failure: str):
    numbers = stack.economic.customer_numbers()
    by_webhook, by_pull, for_a = numbers[0], numbers[1], numbers[2]
    a_company = company_of(stack, for_a)["id"]
    # What A's broken connection is asked to re-read: e-conomic (production: every secret is missing)
    # or HubSpot (the revoked token).
    if failure == "production_without_secret":
        set_environment(stack, A, Environment.PRODUCTION)
        a_signal = Signal(
            tenant_id=A,
            connection_id=ECONOMIC_CONNECTION,
            object_type=ObjectType.CUSTOMER,
            external_id=str(for_a),
            source="webhook",
        )
        broken = {ECONOMIC_CONNECTION, HUBSPOT_CONNECTION}
        # Payment terms are accounting's field; B gets no webhook for it (B's pull syncs it too).
        a_field, a_value = "payment_terms", str(new_terms(stack, for_a))
        stack.economic.update_customer(
            for_a, paymentTerms={"paymentTermsNumber": int(a_value)}, fire_webhook=False
        )
    else:
        set_hubspot_token(stack, A, REVOKED)
        a_signal = Signal(
            tenant_id=A,
            connection_id=HUBSPOT_CONNECTION,
            object_type=ObjectType.CUSTOMER,
            external_id=a_company,
            source="webhook",
        )
        broken = {HUBSPOT_CONNECTION}
        a_field, a_value = "city", "Skive"
        stack.hubspot.edit("companies", a_company, {"city": a_value})  # its webhook goes to B (CRM's field)
    a_record = (a_signal.connection_id, a_signal.external_id)

    # B's edits while A is broken (payment terms: accounting's field): one by webhook, one whose webhook
    # was lost (the pull finds it).
    terms_webhook, terms_pull = new_terms(stack, by_webhook), new_terms(stack, by_pull)
    stack.economic.update_customer(by_webhook, paymentTerms={"paymentTermsNumber": terms_webhook})
    stack.economic.update_customer(
        by_pull, paymentTerms={"paymentTermsNumber": terms_pull}, fire_webhook=False
    )
    b_signal = Signal(
        tenant_id=B,
        connection_id=ECONOMIC_CONNECTION,
        object_type=ObjectType.CUSTOMER,
        external_id=str(by_webhook),
        source="webhook",
    )
    failures_before = stack.stats.signal_failures
    send_batch(stack, [a_signal, b_signal])  # one worker batch with both tenants' signals
    stack.pump_queue()
    assert stack.stats.signal_failures == failures_before, "the batch with A's and B's signals did not fail"
    pulled = stack.run_pull()  # A's pull fails, B's goes on; the tick itself does not fail
    assert {name.split("/")[0] for name in pulled["needs_attention"]} == {A}
    stack.run_until_idle()

    assert company_of(stack, by_webhook)["properties"]["crmsync_payment_terms"] == str(terms_webhook)
    assert company_of(stack, by_pull)["properties"]["crmsync_payment_terms"] == str(terms_pull)
    assert stack.stats.signal_failures == failures_before
    assert stack.queue_depth("SignalsDLQ") == 0, "nothing went to the DLQ"

    health = api(stack, "GET", A, "/health")
    states = {c["connection_id"]: c for c in health["connections"]}
    assert health["state"] == "needs_attention"
    assert {c for c, s in states.items() if s["state"] == "needs_attention"} == broken
    for conn in broken:
        assert states[conn]["reason"] and states[conn]["since"]
    shown = json.dumps(health)
    assert REVOKED not in shown and HUBSPOT_TOKEN not in shown and HUBSPOT_CLIENT_SECRET not in shown
    assert api(stack, "GET", B, "/health")["state"] == "ok"

    parked = api(stack, "GET", A, "/parked")["items"]
    mine = [p for p in parked if p.get("kind") == "signal" and p["message"]["external_id"] == a_record[1]]
    assert len(mine) == 1 and mine[0]["reason"], parked
    assert in_crmsync(stack, A, *a_record, a_field) != a_value, "A's edit waits, parked"
    assert not api(stack, "GET", B, "/parked")["items"]

    # Fixed: the config back / the secret restored; the parked items replayed.
    if failure == "production_without_secret":
        set_environment(stack, A, Environment.TEST)
    else:
        set_hubspot_token(stack, A, HUBSPOT_TOKEN)
    for item in api(stack, "GET", A, "/parked")["items"]:
        assert api(stack, "POST", A, f"/parked/{item['id']}/replay")["replayed"]
    stack.run_until_idle()
    stack.run_pull()
    stack.run_until_idle()

    assert in_crmsync(stack, A, *a_record, a_field) == a_value, "A's edit arrived once A was fixed"
    assert api(stack, "GET", A, "/health")["state"] == "ok"
    assert not api(stack, "GET", A, "/parked")["items"]
    assert stack.queue_depth("SignalsDLQ") == 0

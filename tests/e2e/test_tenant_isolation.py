"""One tenant's broken connection never stops another tenant (issue 14).

Two tenants on one local stack share the vendor fakes (one e-conomic agreement, one CRM: a HubSpot
portal or a Dynamics 365 organisation, ``crm_kind``): tenant B syncs automatically and gets the vendors'
webhooks; tenant A (manual mode, so it writes nothing to the shared accounts) keeps its own records of
the same vendor records. A is broken in one of two ways — its config switched to ``environment:
production`` (no secret there), or its CRM credential revoked (HubSpot: its secret rewritten with a token
HubSpot answers 401; Dynamics: its secret rewritten with a client secret Entra ID refuses, and the access
tokens issued so far revoked) — and the test shows:

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
from crmsync.policy import Direction, FieldRule
from local.crm_side import CrmSide, DynamicsSide, find
from local.stack import LocalStack
from local.vendors import (
    DEFAULT_ACCOUNT,
    DYNAMICS_CLIENT_SECRET,
    ECONOMIC_CONNECTION,
    HUBSPOT_CLIENT_SECRET,
    HUBSPOT_TOKEN,
    CrmKind,
)

pytestmark = pytest.mark.e2e
A, B = "tenant-a", "tenant-b"
REVOKED = "pat-revoked-token"
WEBHOOK_KEY = "local-webhook-key"
SECRET_CACHE = 5.5
"""The local stack reads secrets through a 5 s cache (SECRETS_MAX_AGE): a rewritten secret counts after it."""
CUSTOMER = ObjectType.CUSTOMER


@pytest.fixture
def stack(crm_kind: CrmKind) -> Iterator[LocalStack]:
    with LocalStack() as local:
        local.economic.seed(3, contacts_per_customer=1, seed=14)
        tokens = {A: local.add_tenant(A, mode=SyncMode.MANUAL, crm=crm_kind)}
        # the vendors' webhooks now go to B (Dynamics: to both, a service endpoint per tenant)
        tokens[B] = local.add_tenant(B, mode=SyncMode.AUTOMATIC, crm=crm_kind)
        local.tokens = tokens  # type: ignore[attr-defined]
        if not crm(local, crm_kind).supports(CUSTOMER, "payment_terms"):
            # Dynamics has no payment-terms column: B's accounting-owned field is the website.
            config = local.store.get_config(B)
            assert config is not None
            rules = {**config.field_policy.customer, "website": FieldRule(direction=Direction.TO_CRM)}
            policy = config.field_policy.model_copy(update={"customer": rules})
            local.store.put_config(config.model_copy(update={"field_policy": policy}))
        local.run_pull()
        local.run_until_idle()
        yield local


def crm(stack: LocalStack, kind: CrmKind) -> CrmSide:
    """The CRM both tenants share, in canonical terms."""
    return stack.accounts[DEFAULT_ACCOUNT].crm(kind)


def api(stack: LocalStack, method: str, tenant: str, path: str) -> Any:
    token = stack.tokens[tenant]  # type: ignore[attr-defined]
    response = stack.http.request(
        method, f"/tenants/{tenant}{path}", headers={"authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    return response.json()


def company_of(side: CrmSide, number: int) -> str:
    """The id of the one company carrying the customer number."""
    (company,) = find(side, CUSTOMER, "customer_number", str(number))
    return company.id


def in_crmsync(stack: LocalStack, tenant: str, conn: str, external_id: str, name: str) -> Any:
    """A field of the tenant's own record of that vendor record (what reached crmsync for it)."""
    record_id = stack.store.find_link(tenant, conn, ObjectType.CUSTOMER, external_id)
    record = stack.store.get_record(tenant, record_id) if record_id else None
    value = record.fields.get(name) if record else None
    return None if value is None else str(value)


def new_terms(stack: LocalStack, number: int) -> int:
    current = stack.economic.get_customer(number)["paymentTerms"]["paymentTermsNumber"]
    return 8 if current != 8 else 7


def accounting_owned_field(side: CrmSide) -> str:
    """B's accounting-owned field its CRM holds: payment terms, or (Dynamics) the website (``stack``)."""
    return "payment_terms" if side.supports(CUSTOMER, "payment_terms") else "website"


def bookkeeper_edit(stack: LocalStack, number: int, field: str, *, fire_webhook: bool = True) -> str:
    """A bookkeeper changes the field in e-conomic; returns its new canonical value."""
    if field == "payment_terms":
        terms = new_terms(stack, number)
        stack.economic.update_customer(
            number, paymentTerms={"paymentTermsNumber": terms}, fire_webhook=fire_webhook
        )
        return str(terms)
    website = f"https://kunde-{number}.example"
    stack.economic.update_customer(number, website=website, fire_webhook=fire_webhook)
    return website


def send_batch(stack: LocalStack, signals: list[Signal]) -> None:
    """Signals as separate queue messages, so the next worker invocation gets them in one batch."""
    assert stack.resources is not None
    for signal in signals:
        stack.sqs.send_message(
            QueueUrl=stack.resources.signals_queue_url, MessageBody=signal.model_dump_json()
        )


def set_crm_credential(stack: LocalStack, side: CrmSide, tenant: str, credential: str) -> None:
    """The tenant's CRM secret with ``credential``: HubSpot's access token, Dynamics' client secret."""
    if side.kind == "hubspot":
        secret = {"access_token": credential, "client_secret": HUBSPOT_CLIENT_SECRET}
    else:
        org = stack.accounts[DEFAULT_ACCOUNT].dynamics
        assert org is not None
        secret = {
            "tenant_id": org.tenant,
            "client_id": org.client_id,
            "client_secret": credential,
            "webhook_key": WEBHOOK_KEY,
        }
    stack.secrets.put_secret_value(
        SecretId=f"crmsync/{tenant}/{side.connection_id}/test", SecretString=json.dumps(secret)
    )
    time.sleep(SECRET_CACHE)


def revoke_crm_credential(stack: LocalStack, side: CrmSide, tenant: str) -> None:
    set_crm_credential(stack, side, tenant, REVOKED)
    if isinstance(side, DynamicsSide):
        # and the tokens issued so far (every tenant's): B renews with its own secret, A cannot
        assert side.revoke_tokens() > 0


def restore_crm_credential(stack: LocalStack, side: CrmSide, tenant: str) -> None:
    set_crm_credential(
        stack, side, tenant, HUBSPOT_TOKEN if side.kind == "hubspot" else DYNAMICS_CLIENT_SECRET
    )


def set_environment(stack: LocalStack, tenant: str, environment: Environment) -> None:
    config = stack.store.get_config(tenant)
    assert config is not None
    stack.store.put_config(config.model_copy(update={"environment": environment}))


@pytest.mark.parametrize("failure", ["production_without_secret", "crm_credential_revoked"])
def test_a_broken_tenant_connection_is_parked_and_never_stops_another_tenant(
    stack: LocalStack, crm_kind: CrmKind, failure: str
):
    side = crm(stack, crm_kind)
    crm_conn = side.connection_id
    numbers = stack.economic.customer_numbers()
    by_webhook, by_pull, for_a = numbers[0], numbers[1], numbers[2]
    a_company = company_of(side, for_a)
    # What A's broken connection is asked to re-read: e-conomic (production: every secret is missing)
    # or the CRM (the revoked credential).
    if failure == "production_without_secret":
        set_environment(stack, A, Environment.PRODUCTION)
        a_signal = Signal(
            tenant_id=A,
            connection_id=ECONOMIC_CONNECTION,
            object_type=ObjectType.CUSTOMER,
            external_id=str(for_a),
            source="webhook",
        )
        broken = {ECONOMIC_CONNECTION, crm_conn}
        # Payment terms are accounting's field; B gets no webhook for it (B's pull syncs it too).
        a_field, a_value = "payment_terms", str(new_terms(stack, for_a))
        stack.economic.update_customer(
            for_a, paymentTerms={"paymentTermsNumber": int(a_value)}, fire_webhook=False
        )
    else:
        revoke_crm_credential(stack, side, A)
        a_signal = Signal(
            tenant_id=A,
            connection_id=crm_conn,
            object_type=ObjectType.CUSTOMER,
            external_id=a_company,
            source="webhook",
        )
        broken = {crm_conn}
        a_field, a_value = "city", "Skive"
        side.edit(CUSTOMER, a_company, {"city": a_value})  # its webhook goes to B (CRM's field)
    a_record = (a_signal.connection_id, a_signal.external_id)

    # B's edits while A is broken (payment terms or, Dynamics, the website: accounting's field): one by
    # webhook, one whose webhook was lost (the pull finds it).
    b_field = accounting_owned_field(side)
    value_webhook = bookkeeper_edit(stack, by_webhook, b_field)
    value_pull = bookkeeper_edit(stack, by_pull, b_field, fire_webhook=False)
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

    for number, value in ((by_webhook, value_webhook), (by_pull, value_pull)):
        row = side.get(CUSTOMER, company_of(side, number))
        assert row is not None and row.fields[b_field] == value, (
            f"B's edit of customer {number} reached the CRM"
        )
    assert stack.stats.signal_failures == failures_before
    assert stack.queue_depth("SignalsDLQ") == 0, "nothing went to the DLQ"

    health = api(stack, "GET", A, "/health")
    states = {c["connection_id"]: c for c in health["connections"]}
    assert health["state"] == "needs_attention"
    assert {c for c, s in states.items() if s["state"] == "needs_attention"} == broken
    for conn in broken:
        assert states[conn]["reason"] and states[conn]["since"]
    shown = json.dumps(health)
    for secret in (REVOKED, HUBSPOT_TOKEN, HUBSPOT_CLIENT_SECRET, DYNAMICS_CLIENT_SECRET):
        assert secret not in shown
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
        restore_crm_credential(stack, side, A)
    for item in api(stack, "GET", A, "/parked")["items"]:
        assert api(stack, "POST", A, f"/parked/{item['id']}/replay")["replayed"]
    stack.run_until_idle()
    stack.run_pull()
    stack.run_until_idle()

    assert in_crmsync(stack, A, *a_record, a_field) == a_value, "A's edit arrived once A was fixed"
    assert api(stack, "GET", A, "/health")["state"] == "ok"
    assert not api(stack, "GET", A, "/parked")["items"]
    assert stack.queue_depth("SignalsDLQ") == 0

"""Dataverse webhooks through webhook_ingest in-process (moto), driven by the Dataverse fake's real deliveries.

The fake posts its ``RemoteExecutionContext`` to a URL target through an ``httpx.MockTransport`` that is
API Gateway: the request (``?code=`` included, which a callable target would not see) becomes an HTTP API
event for the handler, and the handler's status goes back to the fake, so its retry rule (one retry on
502/503/504) meets the real answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from crmsync import runtime, webhook_router
from crmsync.config import ConnectionConfig, DynamicsSettings, TenantConfig
from crmsync.dataverse_webhooks import UNAUTHORISED, WEBHOOK_KEY_HEADER
from crmsync.models import ConnectionKind, ObjectType, Signal
from local.fakes.dataverse import DataverseFake
from local.lambda_runtime import http_event, invoke
from tests.integration.conftest import Env

pytestmark = pytest.mark.timeout(60)

HOST = "abc123.execute-api.eu-west-1.amazonaws.com"
ORG = "https://contoso.crm4.dynamics.com"
APP_USER = "a9911ca7-0000-4000-8000-0000000000a9"
KEY = "dyn-webhook-key-3f9a"
OTHER_KEY = "dyn-webhook-key-other-tenant"
ROUTE = "POST /webhooks/dynamics/{tenant_id}/{connection_id}"
API = "/api/data/v9.2"


def dynamics_tenant(
    env: Env,
    tenant_id: str,
    *,
    key: str = KEY,
    application_user_id: str | None = APP_USER,
    connection_id: str = "dyn",
) -> TenantConfig:
    """A tenant with an e-conomic and a Dynamics connection; the Dynamics secret holds ``webhook_key``."""
    config = TenantConfig(
        tenant_id=tenant_id,
        connections=[
            ConnectionConfig(connection_id="eco", kind=ConnectionKind.ECONOMIC),
            ConnectionConfig(
                connection_id=connection_id,
                kind=ConnectionKind.DYNAMICS,
                dynamics=DynamicsSettings(org_url=ORG, application_user_id=application_user_id),
            ),
        ],
    )
    prefix = runtime.settings().secret_prefix
    secret = {"tenant_id": "entra", "client_id": "app-id", "client_secret": "s3cret", "webhook_key": key}
    env.secrets.create_secret(Name=config.secret_name(prefix, connection_id), SecretString=json.dumps(secret))
    env.secrets.create_secret(Name=config.secret_name(prefix, "eco"), SecretString=json.dumps({"x": "y"}))
    env.store.put_config(config)
    return config


def dynamics_event(
    tenant: str,
    body: str | bytes,
    *,
    query: str = f"code={KEY}",
    headers: dict[str, str] | None = None,
    connection: str = "dyn",
) -> dict[str, Any]:
    return http_event(
        "POST",
        f"/webhooks/dynamics/{tenant}/{connection}",
        query=query,
        body=body,
        host=HOST,
        headers={"Content-Type": "application/json", **(headers or {})},
        route_key=ROUTE,
        path_parameters={"tenant_id": tenant, "connection_id": connection},
    )


@dataclass
class Gateway:
    """API Gateway in front of webhook_ingest for the fake's URL targets; ``lose`` answers are dropped
    (the handler ran, the vendor sees that status instead), as a timed-out response would be."""

    lose: list[int] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        _, _, tenant, connection = request.url.path.strip("/").split("/")
        event = http_event(
            "POST",
            request.url.path,
            query=request.url.query.decode(),
            headers=dict(request.headers),
            body=request.content,
            host=HOST,
            route_key=ROUTE,
            path_parameters={"tenant_id": tenant, "connection_id": connection},
        )
        answer = invoke("webhook_ingest", event)
        self.answers.append(answer)
        status = self.lose.pop(0) if self.lose else int(answer["statusCode"])
        return httpx.Response(status, content=answer.get("body") or "")

    def messages(self) -> list[str]:
        return [json.loads(a["body"]).get("message", "") for a in self.answers]


@pytest.fixture
def gateway() -> Gateway:
    return Gateway()


@pytest.fixture
def fake(gateway: Gateway) -> Iterator[DataverseFake]:
    client = httpx.Client(transport=httpx.MockTransport(gateway))
    yield DataverseFake(org_url=ORG, application_user_id=APP_USER, webhook_client=client)
    client.close()


def target(tenant: str = "t1", connection: str = "dyn") -> str:
    return f"https://{HOST}/webhooks/dynamics/{tenant}/{connection}"


def app_user_api(fake: DataverseFake) -> httpx.Client:
    """crmsync's own calls: the Web API as the fake's application user."""
    client = httpx.Client(transport=httpx.WSGITransport(app=fake.app), base_url=ORG)
    client.headers["Authorization"] = f"Bearer {fake.issue_token()}"
    return client


def signals(env: Env) -> list[Signal]:
    return [Signal.model_validate(s) for s in env.queued()]


def test_a_person_edit_becomes_one_customer_signal(env: Env, fake: DataverseFake):
    dynamics_tenant(env, "t1")
    fake.add_webhook(target(), "account", auth=("code", KEY))
    [account] = fake.seed("account", [{"name": "Fjordhuset A/S"}])
    fake.person_edit("account", account, {"telephone1": "+45 1234"})
    assert fake.webhook_deliveries[-1]["statuses"] == [200]
    assert fake.webhook_deliveries[-1]["url"].endswith(f"?code={KEY}")
    (signal,) = signals(env)
    assert (signal.tenant_id, signal.connection_id, signal.object_type, signal.external_id) == (
        "t1",
        "dyn",
        ObjectType.CUSTOMER,
        account,
    )
    assert signal.source == "webhook" and signal.hint == {}


def test_a_person_creating_a_contact_becomes_a_contact_signal(env: Env, fake: DataverseFake):
    dynamics_tenant(env, "t1")
    fake.add_webhook(target(), "contact", auth=("code", KEY))
    contact = fake.person_create("contact", {"firstname": "Dana", "lastname": "Berg"})
    assert [(s.object_type, s.external_id) for s in signals(env)] == [(ObjectType.CONTACT, contact)]


def test_the_same_delivery_twice_is_enqueued_once_and_the_next_edit_again(
    env: Env, fake: DataverseFake, gateway: Gateway
):
    dynamics_tenant(env, "t1")
    fake.add_webhook(target(), "account", auth=("code", KEY))
    [account] = fake.seed("account", [{"name": "A"}])
    gateway.lose = [504]  # enqueued, but Dataverse saw a gateway timeout: it retries once, same body
    fake.person_edit("account", account, {"name": "B"})
    delivery = fake.webhook_deliveries[-1]
    assert delivery["statuses"] == [504, 200] and len(gateway.answers) == 2
    assert [s.external_id for s in signals(env)] == [account]
    # replayed by hand (a captured delivery): still once
    query = urlsplit(delivery["url"]).query
    replay = invoke(
        "webhook_ingest", dynamics_event("t1", delivery["body"], query=query, headers=delivery["headers"])
    )
    assert replay["statusCode"] == 200 and env.queued() == []
    # a new edit of the same row is a new delivery, not a duplicate
    fake.person_edit("account", account, {"name": "C"})
    assert [s.external_id for s in signals(env)] == [account]


@pytest.mark.parametrize(
    "auth",
    [("code", "guess"), None, ("header", {WEBHOOK_KEY_HEADER: "guess"}), ("header", {"x-other": KEY})],
    ids=["wrong-code", "no-key", "wrong-header", "key-in-another-header"],
)
def test_a_delivery_without_the_right_key_is_401_and_enqueues_nothing(
    env: Env, fake: DataverseFake, gateway: Gateway, auth: tuple[str, Any] | None
):
    dynamics_tenant(env, "t1")
    fake.add_webhook(target(), "account", auth=auth)
    fake.person_create("account", {"name": "A"})
    assert fake.webhook_deliveries[-1]["statuses"] == [401]  # not retried
    assert gateway.messages() == [UNAUTHORISED]
    assert env.queued() == []


def test_the_key_in_the_registered_header_is_accepted(env: Env, fake: DataverseFake):
    dynamics_tenant(env, "t1")
    fake.add_webhook(target(), "account", auth=("header", {WEBHOOK_KEY_HEADER: KEY}))
    account = fake.person_create("account", {"name": "A"})
    assert fake.webhook_deliveries[-1]["statuses"] == [200]
    assert "code=" not in fake.webhook_deliveries[-1]["url"]
    assert [s.external_id for s in signals(env)] == [account]


def test_a_right_code_with_a_wrong_header_key_is_refused(env: Env, fake: DataverseFake):
    dynamics_tenant(env, "t1")
    fake.add_webhook(target(), "account", auth=("header", {WEBHOOK_KEY_HEADER: "guess"}))
    fake.webhook_targets[-1].target = f"{target()}?code={KEY}"
    fake.person_create("account", {"name": "A"})
    assert fake.webhook_deliveries[-1]["statuses"] == [401] and env.queued() == []


def test_another_tenants_key_unknown_tenants_and_other_connections_all_answer_the_same_401(
    env: Env, fake: DataverseFake, gateway: Gateway
):
    dynamics_tenant(env, "t1")
    dynamics_tenant(env, "t2", key=OTHER_KEY)
    fake.add_webhook(target("t1"), "account", auth=("code", OTHER_KEY))  # t2's key at t1's URL
    fake.add_webhook(target("nobody"), "account", auth=("code", KEY))
    fake.add_webhook(target("t1", "eco"), "account", auth=("code", KEY))  # not a dynamics connection
    fake.add_webhook(target("t1", "nope"), "account", auth=("code", KEY))
    fake.person_create("account", {"name": "A"})
    assert [d["statuses"] for d in fake.webhook_deliveries] == [[401]] * 4
    assert gateway.messages() == [UNAUTHORISED] * 4
    assert env.queued() == []


def test_crmsyncs_own_write_is_dropped_and_counted(
    env: Env, fake: DataverseFake, monkeypatch: pytest.MonkeyPatch
):
    counted: list[tuple[str, float]] = []
    monkeypatch.setattr(
        webhook_router.metrics, "add_metric", lambda name, unit, value: counted.append((name, value))
    )  # the tests run with POWERTOOLS_METRICS_DISABLED: nothing is printed to read back
    dynamics_tenant(env, "t1")
    fake.add_webhook(target(), "account", auth=("code", KEY))
    api = app_user_api(fake)
    created = api.post(f"{API}/accounts", json={"name": "Written by crmsync"})
    assert created.status_code == 204
    account = created.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")
    assert api.patch(f"{API}/accounts({account})", json={"telephone1": "1"}).status_code == 204
    contexts = [json.loads(d["body"]) for d in fake.webhook_deliveries]
    assert [c["InitiatingUserId"] for c in contexts] == [APP_USER, APP_USER]
    assert [d["statuses"] for d in fake.webhook_deliveries] == [[200], [200]]
    assert env.queued() == []
    assert counted.count(("DynamicsEchoesDropped", 1)) == 2 and ("DynamicsSignals", 0) in counted
    fake.person_edit("account", account, {"telephone1": "2"})  # a person's edit of the same row is kept
    assert [s.external_id for s in signals(env)] == [account]


def test_without_an_application_user_own_writes_are_not_dropped_at_ingestion(env: Env, fake: DataverseFake):
    dynamics_tenant(env, "t1", application_user_id=None)
    fake.add_webhook(target(), "account", auth=("code", KEY))
    created = app_user_api(fake).post(f"{API}/accounts", json={"name": "Written by crmsync"})
    account = created.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")
    assert [s.external_id for s in signals(env)] == [account]


def test_a_size_exceeded_delivery_still_becomes_a_signal(env: Env, fake: DataverseFake):
    dynamics_tenant(env, "t1")
    fake.add_webhook(target(), "account", auth=("code", KEY))
    account = fake.person_create("account", {"name": "A"})
    env.queued()
    fake.webhook_size_limit = 2000  # the real limit is 256 KB
    fake.person_edit("account", account, {"description": "y" * 1500})
    delivery = fake.webhook_deliveries[-1]
    body = json.loads(delivery["body"])
    assert delivery["headers"]["x-ms-dynamics-msg-size-exceeded"] == "true"
    assert body["InputParameters"] == [] and body["PostEntityImages"] == []
    assert delivery["statuses"] == [200]
    assert [s.external_id for s in signals(env)] == [account]


def test_a_delete_becomes_a_signal_for_the_deleted_row(env: Env, fake: DataverseFake):
    dynamics_tenant(env, "t1")
    fake.add_webhook(target(), "contact", messages=("Delete",), auth=("code", KEY))
    [contact] = fake.seed("contact", [{"lastname": "Berg"}])
    fake.person_delete("contact", contact)
    assert fake.webhook_deliveries[-1]["headers"]["x-ms-dynamics-request-name"] == "Delete"
    (signal,) = signals(env)
    assert (signal.object_type, signal.external_id, signal.source) == (ObjectType.CONTACT, contact, "webhook")
    assert fake.row("contact", contact) is None  # the worker's re-read finds it gone: the delete path


def test_a_lead_webhook_is_answered_200_and_not_synced(env: Env, fake: DataverseFake, gateway: Gateway):
    dynamics_tenant(env, "t1")
    fake.add_webhook(target(), "lead", auth=("code", KEY))
    fake.person_create("lead", {"subject": "Interested", "lastname": "Berg"})
    assert fake.webhook_deliveries[-1]["statuses"] == [200]
    assert json.loads(gateway.answers[-1]["body"]) == {"signals": 0, "ignored": "table"}
    assert env.queued() == []


MALFORMED = [
    "not json",
    "",
    "[]",
    "{}",
    json.dumps({"MessageName": "Update", "PrimaryEntityName": "account"}),  # no PrimaryEntityId
    json.dumps({"MessageName": "Update", "PrimaryEntityId": "3b1c0f4e-2a6d-4f7e-9c1b-5d2e8f9a0b1c"}),
    json.dumps({"MessageName": "Update", "PrimaryEntityName": "account", "PrimaryEntityId": "../../x"}),
    json.dumps(
        {
            "MessageName": 7,
            "PrimaryEntityName": "account",
            "PrimaryEntityId": "3b1c0f4e-2a6d-4f7e-9c1b-5d2e8f9a0b1c",
        }
    ),
    "[" * 1000 + "]" * 1000,
    b'{"MessageName": "Update"}\xff',
]


def test_a_malformed_body_with_the_right_key_is_400_and_never_enqueued(env: Env):
    dynamics_tenant(env, "t1")
    for body in MALFORMED:
        response = invoke("webhook_ingest", dynamics_event("t1", body))
        assert response["statusCode"] == 400, (body, response)
        assert json.loads(response["body"])["message"], body
    assert env.queued() == []
    # the same bodies without the key are 401: nothing about the body is told to a stranger
    stranger = invoke("webhook_ingest", dynamics_event("t1", "not json", query=""))
    assert stranger["statusCode"] == 401


def test_an_oversized_body_is_413_before_anything_else(env: Env):
    dynamics_tenant(env, "t1")
    response = invoke("webhook_ingest", dynamics_event("nobody", "x" * (1024 * 1024 + 1), query=""))
    assert response["statusCode"] == 413 and env.queued() == []


def test_a_full_queue_answers_503_so_dataverse_retries(env: Env, fake: DataverseFake):
    dynamics_tenant(env, "t1")
    env.sqs.delete_queue(QueueUrl=env.resources.signals_queue_url)
    fake.add_webhook(target(), "account", auth=("code", KEY))
    fake.person_create("account", {"name": "A"})
    assert fake.webhook_deliveries[-1]["statuses"] == [503, 503]  # its one retry, refused alike

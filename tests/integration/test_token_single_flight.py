"""Twenty Lambda invocations meet an expired Dynamics token at once: Entra ID is asked exactly once.

Each thread is one invocation in its own container (its own ``ConnectorProvider``, connector and
auth), all sharing the tenant's token item in DynamoDB (moto) as on AWS. The token cached there has
expired; every invocation needs one for its first call. One takes the renewal lease and asks the token
endpoint, the others wait for its token (``crmsync.connectors.oauth``) and then read the org.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from moto import mock_aws

from crmsync.config import TenantConfig
from crmsync.connectors.oauth import CachedToken
from crmsync.connectors.registry import ConnectorProvider
from crmsync.models import ObjectType
from crmsync.settings import Settings
from crmsync.store import SyncStore
from local.fakes.dataverse import DataverseFake
from local.template_resources import create_resources

pytestmark = pytest.mark.timeout(60)

ORG = "http://contoso.crm4.local"
SECRET = {"tenant_id": "entra-tenant", "client_id": "app-id", "client_secret": "s3cret"}
INVOCATIONS = 20
CONFIG = TenantConfig.model_validate(
    {
        "tenant_id": "t1",
        "connections": [
            {"connection_id": "eco", "kind": "economic"},
            {"connection_id": "dyn", "kind": "dynamics", "dynamics": {"org_url": ORG}},
        ],
    }
)


class AtomicRequests:
    """A DynamoDB client whose requests run one at a time, as each is atomic on DynamoDB (a conditional
    write is checked and applied as one step). moto's in-process backend is not thread-safe: twenty
    threads at once could pass the same condition, or trip over a dictionary another thread changes."""

    def __init__(self, client: Any) -> None:
        self._client, self._lock = client, threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attr(*args, **kwargs)

        return call


@pytest.fixture
def store() -> Iterator[SyncStore]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        resources = create_resources(dynamodb, boto3.client("sqs", region_name="eu-west-1"))
        yield SyncStore(AtomicRequests(dynamodb), resources.sync_table_name)


def invocation(fake: DataverseFake, store: SyncStore) -> ConnectorProvider:
    """One container's connector provider, wired as ``crmsync.runtime`` wires it (the shared cache)."""
    settings = Settings(
        table_name=store.table,
        entra_login_url=ORG,
        dataverse_allowed_hosts=("*.crm4.local:80",),
        allow_http_vendors=True,
    )
    client = httpx.Client(transport=httpx.WSGITransport(app=fake.app))
    provider = ConnectorProvider(settings, lambda _name: dict(SECRET), client)
    provider.token_cache_factory = store.token_cache
    return provider


def test_twenty_invocations_with_an_expired_token_make_one_token_request(store: SyncStore) -> None:
    fake = DataverseFake(org_url=ORG, client_id="app-id", client_secret="s3cret", tenant="entra-tenant")
    fake.seed("account", [{"name": f"Kunde {n}"} for n in range(3)])
    invocation(fake, store).get(CONFIG, "dyn")  # an earlier invocation cached a token; it has expired since
    (item,) = store._query("TENANT#t1", "OAUTH#dyn#test#")
    key = item["SK"]["S"].removeprefix("OAUTH#")
    expired = CachedToken(
        access_token="expired-token", expires_at=time.time() - 60, renew_at=time.time() - 360
    )
    store.token_cache("t1").put(key, expired, "an earlier invocation")
    asked_before = fake.token_count

    providers = [invocation(fake, store) for _ in range(INVOCATIONS)]
    start = threading.Barrier(INVOCATIONS)
    read: list[int] = []
    failures: list[BaseException] = []

    def run(provider: ConnectorProvider) -> None:
        try:
            start.wait(timeout=10)
            connector = provider.get(CONFIG, "dyn")  # WhoAmI: the first call needs a token
            read.append(len(list(connector.list_all(ObjectType.CUSTOMER))))
        except BaseException as exc:  # collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(p,)) for p in providers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not failures, failures
    assert read == [3] * INVOCATIONS, "every invocation read the org"
    asked = fake.token_count - asked_before
    assert asked == 1, f"{asked} token requests for {INVOCATIONS} invocations"
    shared = store.token_cache("t1").get(key)
    assert shared is not None and shared.access_token != "expired-token" and shared.usable(time.time())

"""The e-conomic connector honours X-RateLimiting/X-CallCost: it slows down before the bucket runs dry."""

from __future__ import annotations

import time

import httpx

from crmsync.connectors.economic import EconomicConnector, EconomicDefaults, economic_pacer
from crmsync.connectors.http import RetryPolicy
from crmsync.models import ObjectType
from local.fakes.economic import CUSTOMERS_API_PREFIX, EconomicFake

BASE = "https://restapi.e-conomic.com"


def response(header: str, cost: str = "1", status: int = 200) -> httpx.Response:
    return httpx.Response(status, headers={"X-RateLimiting": header, "X-CallCost": cost})


def test_pacer_waits_only_when_the_bucket_is_nearly_spent():
    assert economic_pacer(response("token-limit-10000-per-60-seconds: 147/10000")) is None
    wait = economic_pacer(response("token-limit-10000-per-60-seconds: 9900/10000"))
    assert wait is not None and abs(wait - 100 * 60 / 10000) < 1e-9  # refill the 2 % reserve
    assert economic_pacer(response("token-limit-100-per-60-seconds: 97/100", cost="3")) == 12 * 60 / 100
    assert economic_pacer(httpx.Response(200)) is None


def test_connector_paces_against_a_small_bucket_and_never_gets_a_429():
    fake = EconomicFake(rate_limit=(40, 2.0))  # 20 tokens a second
    fake.seed(3, contacts_per_customer=0)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)  # real time: the fake's bucket refills by the clock

    client = httpx.Client(transport=httpx.WSGITransport(app=fake.app), base_url=BASE)
    connector = EconomicConnector(
        "eco",
        "test-app-secret",
        "test-grant-token",
        EconomicDefaults(customer_group=1, payment_terms=1, vat_zone=1, currency="DKK"),
        rest_base_url=BASE,
        customers_api_url=f"{BASE}{CUSTOMERS_API_PREFIX}",
        client=client,
        retry=RetryPolicy(sleep=sleep),
    )
    for _ in range(60):
        assert connector.get(ObjectType.CUSTOMER, "1") is not None
    assert fake.stats()["throttled"] == 0
    assert connector.http.paced_seconds > 0 and slept
    fake.shutdown()

"""The e-conomic fake served over real HTTP: these tests start a server on localhost (integration tier).

They moved here from ``tests/unit/test_economic_fake.py`` (unit tests start no process and no server);
the shared helpers and constants are imported from there.
"""

from __future__ import annotations

import time

import httpx
import pytest

from local.fakes.economic import EconomicFake, EconomicFaults
from tests.unit.test_economic_fake import API, MINIMAL, TOKENS, client_for


def served_client(fake: EconomicFake, timeout: float = 0.2) -> tuple[httpx.Client, str]:
    _, base_url = fake.serve()
    return httpx.Client(base_url=base_url, headers=TOKENS, timeout=timeout), base_url


def test_rate_timeout_hangs_without_blocking_other_requests() -> None:
    fake = EconomicFake(faults=EconomicFaults(rate_timeout=1.0, timeout_s=1.0))
    api, _ = served_client(fake)
    try:
        with pytest.raises(httpx.ReadTimeout):
            api.get("/customers")
        with pytest.raises(httpx.ReadTimeout):
            api.post("/customers", json=MINIMAL)
        # both requests still hang on the server: the fake's lock and other requests stay free
        assert fake.customer_numbers() == []  # a timeout before commit writes nothing
        fake.faults = EconomicFaults()
        started = time.monotonic()
        assert api.get("/customers").status_code == 200
        assert time.monotonic() - started < 0.5
        stats = fake.stats()
        assert (stats["timeouts"], stats["faults"], stats["timeouts_after_commit"]) == (2, 2, 0)
        assert stats["statuses"] == {"200": 1, "504": 2}
    finally:
        api.close()
        fake.shutdown()  # also ends the two hangs early


def test_rate_timeout_after_commit_writes_then_hangs() -> None:
    fake = EconomicFake(faults=EconomicFaults(rate_timeout_after_commit=1.0, timeout_s=1.0))
    api, _ = served_client(fake)
    try:
        with pytest.raises(httpx.ReadTimeout):
            api.post("/customers", json=MINIMAL, headers={"Idempotency-Key": "chaos-1"})
        assert fake.customer_numbers() == [1]  # written, although the client timed out
        assert api.get("/customers/1").status_code == 200  # reads are not affected
        fake.set_faults(EconomicFaults())
        retried = api.post("/customers", json=MINIMAL, headers={"Idempotency-Key": "chaos-1"})
        assert (retried.status_code, retried.headers["X-ResultFromCache"]) == (201, "true")
        assert fake.customer_numbers() == [1]
        stats = fake.stats()
        assert (stats["timeouts_after_commit"], stats["faults"], stats["timeouts"]) == (1, 1, 0)
    finally:
        api.close()
        fake.shutdown()
    # in-process (no client timeout) the hang ends with a 504; scheduled hangs count the same way
    fake = EconomicFake(faults=EconomicFaults(rate_timeout_after_commit=1.0, timeout_s=0.0))
    fake.inject(504, method="GET", hang_s=0.01)
    with client_for(fake) as client:
        assert client.post("/customers", json=MINIMAL).status_code == 504
        assert client.get("/customers").status_code == 504
    assert fake.customer_numbers() == [1]
    assert (fake.stats()["timeouts"], fake.stats()["timeouts_after_commit"]) == (1, 1)


def test_serves_on_localhost() -> None:
    fake = EconomicFake()
    fake.seed(2)
    server, base_url = fake.serve()
    try:
        assert base_url == f"http://127.0.0.1:{server.server_port}"
        response = httpx.get(f"{base_url}/customers/2", headers=TOKENS, timeout=5)
        assert response.status_code == 200
        assert response.json()["self"] == f"{base_url}/customers/2"
        assert httpx.get(f"{base_url}{API}/Contacts", headers=TOKENS, timeout=5).json()["items"]
    finally:
        fake.shutdown()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base_url}/customers", headers=TOKENS, timeout=1)

"""The HubSpot fake served over real HTTP: these tests start a server on localhost (integration tier).

They moved here from ``tests/unit/test_hubspot_fake.py`` (unit tests start no process and no server);
the shared helpers and constants are imported from there.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from local.fakes.hubspot import Faults, HubSpotFake
from tests.unit.test_hubspot_fake import COMPANY, TOKEN, make


def served(**kw: Any) -> tuple[HubSpotFake, str]:
    fake = HubSpotFake(TOKEN, rate_limit_per_10s=None, search_rate_limit_per_s=None, **kw)
    _, base_url = fake.serve()
    return fake, base_url


def test_rate_timeout_hangs_without_blocking_other_requests():
    fake, base_url = served(faults=Faults(rate_timeout=1.0, timeout_s=1.0))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        with httpx.Client(base_url=base_url, headers=headers, timeout=0.2) as api:
            with pytest.raises(httpx.ReadTimeout):
                api.get("/crm/v3/objects/companies")
            with pytest.raises(httpx.ReadTimeout):
                api.post("/crm/v3/objects/companies", json=COMPANY)
            # both requests still hang on the server: the fake's lock and other requests stay free
            assert fake.records("companies") == []  # a timeout before commit writes nothing
            fake.faults = Faults()
            started = time.monotonic()
            assert api.get("/crm/v3/objects/companies").status_code == 200
            assert time.monotonic() - started < 0.5
        stats = fake.stats()
        assert (stats["timeouts"], stats["faults"], stats["timeouts_after_commit"]) == (2, 2, 0)
        assert stats["calls"] == {"GET /crm/v3/objects/companies": 1}  # timed-out calls never ran
    finally:
        fake.shutdown()  # also ends the two hangs early


def test_rate_timeout_after_commit_writes_then_hangs():
    fake, base_url = served(faults=Faults(rate_timeout_after_commit=1.0, timeout_s=1.0))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        with httpx.Client(base_url=base_url, headers=headers, timeout=0.2) as api:
            with pytest.raises(httpx.ReadTimeout):
                api.post("/crm/v3/objects/companies", json=COMPANY)
            assert [r["properties"]["name"] for r in fake.records("companies")] == ["Chaos A/S"]
            assert api.get("/crm/v3/objects/companies").status_code == 200  # reads are not affected
        stats = fake.stats()
        assert (stats["timeouts_after_commit"], stats["faults"], stats["timeouts"]) == (1, 1, 0)
        assert stats["writes"] == 1
    finally:
        fake.shutdown()
    # in-process (no client timeout) the hang ends with a 504
    fake, api = make(faults=Faults(rate_timeout_after_commit=1.0, timeout_s=0.0))
    assert api.post("/crm/v3/objects/companies", json=COMPANY).status_code == 504
    assert len(fake.records("companies")) == 1


def test_http_control_surface_and_serving():
    fake = HubSpotFake(TOKEN, rate_limit_per_10s=None)
    _, base_url = fake.serve()
    try:
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"}) as api:
            api.post("/crm/v3/objects/companies", json={"properties": {"name": "A"}, "associations": []})
            stats = httpx.get(f"{base_url}/_fake/stats").json()
            assert stats["calls"] == {"POST /crm/v3/objects/companies": 1}
            assert (stats["reads"], stats["writes"]) == (0, 1)
            assert httpx.post(f"{base_url}/_fake/reset").status_code == 204
            assert fake.records("companies") == [] and fake.stats()["total"] == 0
    finally:
        fake.shutdown()

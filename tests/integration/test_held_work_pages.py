"""Parked writes and pending deletions come in pages (a connection refusing every write parks one entry
per record: thousands, more than one API answer may carry); a cursor is the tenant's own or a 400."""

from __future__ import annotations

import base64
import json
from typing import Any

from crmsync.items import ParkedWrite, PendingDelete
from crmsync.models import ObjectType
from local.lambda_runtime import http_event, invoke
from tests.integration.conftest import Env

T = "t1"


def get(token: str, path: str, tenant: str = T) -> tuple[int, Any]:
    path, _, query = path.partition("?")
    event = http_event(
        "GET", f"/tenants/{tenant}{path}", query=query, headers={"Authorization": f"Bearer {token}"}
    )
    response = invoke("api", event)
    return response["statusCode"], json.loads(response["body"])


def park(env: Env, tenant: str, record_id: str) -> None:
    """A write e-conomic refused for ``record_id``, parked under its own key (as the push parks one)."""
    entry = ParkedWrite(
        record_id=record_id,
        connection="eco",
        object_type=ObjectType.CUSTOMER,
        action="update",
        reason="refused",
    )
    env.store.park(tenant, entry, key=f"{record_id}.eco")


def every_page(token: str, path: str, limit: int) -> list[list[str]]:
    pages, cursor = [], None
    for _ in range(10):  # bounded: 5 entries in pages of 2 are 3 pages
        query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        status, body = get(token, f"{path}{query}")
        assert status == 200, body
        pages.append([item.get("id") or item["record_id"] for item in body["items"]])
        cursor = body["cursor"]
        if cursor is None:
            return pages
    raise AssertionError("the pages never ended")


def test_parked_writes_and_pending_deletes_page_through_all_of_them_once(env: Env):
    token = env.tenant(T)
    for n in range(5):
        record_id = f"cus_{n:032x}"
        park(env, T, record_id)
        env.store.put_pending_delete(
            T,
            PendingDelete(
                record_id=record_id, object_type=ObjectType.CUSTOMER, deleted_on="hs", targets={"eco": str(n)}
            ),
        )
    for path in ("/parked", "/deletes"):
        pages = every_page(token, path, limit=2)
        assert [len(p) for p in pages] in ([2, 2, 1], [2, 2, 1, 0]), pages
        seen = [i for page in pages for i in page]
        assert len(seen) == len(set(seen)) == 5, seen
        status, whole = get(token, path)
        assert status == 200 and len(whole["items"]) == 5 and whole["cursor"] is None


def test_a_cursor_of_another_tenant_or_made_up_is_refused(env: Env):
    token = env.tenant(T)
    other = env.tenant("t2")
    for n in range(3):
        record_id = f"cus_{n:032x}"
        for tenant in (T, "t2"):
            park(env, tenant, record_id)
    status, body = get(other, "/parked?limit=1", tenant="t2")
    assert status == 200 and body["cursor"]
    theirs = body["cursor"]
    assert get(token, f"/parked?limit=1&cursor={theirs}")[0] == 400, "another tenant's cursor"
    forged = base64.urlsafe_b64encode(
        json.dumps({"PK": {"S": f"TENANT#{T}"}, "SK": {"S": "REC#customer#x"}}).encode()
    )
    assert get(token, f"/parked?limit=1&cursor={forged.decode()}")[0] == 400, (
        "a cursor into another item family"
    )
    assert get(token, "/parked?limit=1&cursor=not-base64!")[0] == 400

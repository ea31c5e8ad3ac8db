"""The tenant's last drift report (``crmsync.drift``) and the claim of its scheduled run.

| item        | PK        | SK        | attributes                                        |
|-------------|-----------|-----------|---------------------------------------------------|
| drift       | TENANT#t  | DRIFT     | ``data`` (the report's JSON, ``pack``-ed)          |
| drift run   | TENANT#t  | DRIFTRUN  | ``at`` (epoch seconds of the last scheduled run)   |

One report per tenant, replaced by each run (its items are capped, its counts exact). The run claim is a
conditional update, so two scheduled pulls never queue two runs in one period.
"""

from __future__ import annotations

import contextlib

from crmsync.store.table import Table, VersionConflict, _n, _s, attr_text, pack, tenant_pk


class DriftRepo(Table):
    def put_drift(self, tenant_id: str, report_json: str) -> None:
        self._call(
            "put_item", Item={"PK": _s(tenant_pk(tenant_id)), "SK": _s("DRIFT"), "data": pack(report_json)}
        )

    def drift(self, tenant_id: str) -> str | None:
        item = self._get(tenant_pk(tenant_id), "DRIFT")
        return attr_text(item["data"]) if item else None

    def claim_drift_run(self, tenant_id: str, now: float, every_seconds: int) -> bool:
        """Claim this period's scheduled drift run: True once per ``every_seconds`` per tenant. The first
        call only starts the clock (a tenant's first pull is its backfill: nothing to compare yet)."""
        key = {"PK": _s(tenant_pk(tenant_id)), "SK": _s("DRIFTRUN")}
        try:
            self._call(
                "update_item",
                Key=key,
                UpdateExpression="SET #at = :now",
                ConditionExpression="attribute_exists(#at) AND #at <= :due",
                ExpressionAttributeNames={"#at": "at"},
                ExpressionAttributeValues={":now": _n(int(now)), ":due": _n(int(now) - every_seconds)},
            )
        except VersionConflict:
            with contextlib.suppress(VersionConflict):  # the clock runs already: claimed this period
                self._call(
                    "put_item",
                    Item={**key, "at": _n(int(now))},
                    ConditionExpression="attribute_not_exists(PK)",
                )
            return False
        return True

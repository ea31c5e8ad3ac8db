"""What crmsync last wrote of each customer's accounting facts, and when the tenant's refresh last ran.

| item         | PK        | SK                  | attributes                                              |
|--------------|-----------|---------------------|---------------------------------------------------------|
| facts        | TENANT#t  | FACTS#<record id>   | ``hash``, ``values`` (JSON), ``customer``, ``updated_at`` |
| facts run    | TENANT#t  | FACTSRUN            | ``at`` (epoch seconds of the last bulk refresh claimed)  |

A refresh reads every ``FACTS#`` item of the tenant in one query (the hashes), computes, and writes
only the records whose hash moved, after their CRM write succeeded: a refresh cut short (a timeout)
and run again skips what it already wrote. The ``FACTSRUN`` claim is a conditional update, so two
scheduled pulls never queue two refreshes in one period.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from crmsync.items import FactsEntry
from crmsync.store.table import Table, VersionConflict, _n, _s, tenant_pk


class FactsRepo(Table):
    """Facts fingerprints per record and the tenant's refresh claim (see the module doc)."""

    def facts_hashes(self, tenant_id: str) -> dict[str, str]:
        """record id -> hash of what was last written, for every record of the tenant (one query)."""
        return {
            item["SK"]["S"].removeprefix("FACTS#"): item["hash"]["S"]
            for item in self._query(tenant_pk(tenant_id), "FACTS#")
        }

    def facts_of(self, tenant_id: str, record_id: str) -> FactsEntry | None:
        item = self._get(tenant_pk(tenant_id), f"FACTS#{record_id}")
        return self._entry(item) if item else None

    def put_facts(self, tenant_id: str, entries: list[FactsEntry]) -> None:
        """Remember what was written (BatchWriteItem, 25 a call)."""
        self._batch_put(
            [
                {
                    "PK": _s(tenant_pk(tenant_id)),
                    "SK": _s(f"FACTS#{e.record_id}"),
                    "hash": _s(e.hash),
                    "customer": _s(e.customer_number),
                    "values": _s(json.dumps(e.values, sort_keys=True)),
                    "updated_at": _s(e.updated_at.isoformat()),
                }
                for e in entries
            ]
        )

    def claim_facts_refresh(self, tenant_id: str, now: float, every_seconds: int) -> bool:
        """Claim this period's bulk refresh: True once per ``every_seconds`` per tenant."""
        try:
            self._call(
                "update_item",
                Key={"PK": _s(tenant_pk(tenant_id)), "SK": _s("FACTSRUN")},
                UpdateExpression="SET #at = :now",
                ConditionExpression="attribute_not_exists(#at) OR #at <= :due",
                ExpressionAttributeNames={"#at": "at"},
                ExpressionAttributeValues={":now": _n(int(now)), ":due": _n(int(now) - every_seconds)},
            )
        except VersionConflict:
            return False
        return True

    @staticmethod
    def _entry(item: dict[str, Any]) -> FactsEntry:
        return FactsEntry(
            record_id=item["SK"]["S"].removeprefix("FACTS#"),
            customer_number=item["customer"]["S"],
            hash=item["hash"]["S"],
            values=json.loads(item["values"]["S"]),
            updated_at=datetime.fromisoformat(item["updated_at"]["S"]),
        )

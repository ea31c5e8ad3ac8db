"""Parked items: a signal or write refused (by a vendor, or as invalid) and kept for a person.

| item   | PK        | SK                                          | attributes                              |
|--------|-----------|---------------------------------------------|-----------------------------------------|
| parked | TENANT#t  | PARKED#<record id>.<connection> or <time>#… | ``data`` (the entry's JSON), ``attempts``, |
|        |           |                                             | ``parked_at``                           |

With a key (a record's write to one connection) a record refused again updates its one entry and
counts the attempt; without, each parking is an item of its own (time-ordered). A later successful
write, or a replay or drop through the API, unparks it. See ``crmsync/parking.py``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from crmsync.items import ParkedMessage, ParkedWrite, parked_entry
from crmsync.models import utcnow
from crmsync.store.table import Table, _n, _s, tenant_pk


class ParkingRepo(Table):
    """Park, list, read and unpark."""

    def park(self, tenant_id: str, entry: ParkedWrite | ParkedMessage, key: str | None = None) -> str:
        """Park an item; with ``key`` one item per key (a record refused again updates its entry)."""
        parked_id = key or f"{utcnow().isoformat()}#{uuid.uuid4().hex[:12]}"
        self._call(
            "update_item",
            Key={"PK": _s(tenant_pk(tenant_id)), "SK": _s(f"PARKED#{parked_id}")},
            UpdateExpression="SET #d = :d, parked_at = :t ADD attempts :one",
            ExpressionAttributeNames={"#d": "data"},
            ExpressionAttributeValues={
                ":d": _s(json.dumps(entry.stored())),
                ":t": _s(utcnow().isoformat()),
                ":one": _n(1),
            },
        )
        return parked_id

    def get_parked(self, tenant_id: str, parked_id: str) -> ParkedWrite | ParkedMessage | None:
        item = self._get(tenant_pk(tenant_id), f"PARKED#{parked_id}")
        return self._parked_view(item) if item else None

    def add_parked_attempts(self, tenant_id: str, parked_id: str, count: int) -> None:
        """Count ``count`` earlier attempts into a parked entry (a replay refused again counts on)."""
        self._call(
            "update_item",
            Key={"PK": _s(tenant_pk(tenant_id)), "SK": _s(f"PARKED#{parked_id}")},
            UpdateExpression="ADD attempts :n",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues={":n": _n(count)},
        )

    def unpark(self, tenant_id: str, parked_id: str) -> None:
        self._call("delete_item", Key={"PK": _s(tenant_pk(tenant_id)), "SK": _s(f"PARKED#{parked_id}")})

    def parked(self, tenant_id: str) -> list[ParkedWrite | ParkedMessage]:
        return [self._parked_view(i) for i in self._query(tenant_pk(tenant_id), "PARKED#")]

    def parked_page(
        self, tenant_id: str, limit: int, cursor: str | None
    ) -> tuple[list[ParkedWrite | ParkedMessage], str | None]:
        """One page of parked entries (refused writes by record id, then messages by time) and the
        cursor of the next (None at the end)."""
        items, next_cursor = self._query_page(tenant_pk(tenant_id), "PARKED#", limit, cursor)
        return [self._parked_view(i) for i in items], next_cursor

    @staticmethod
    def _parked_view(item: dict[str, Any]) -> ParkedWrite | ParkedMessage:
        """The entry as parked, with its ``id``, ``attempts`` and ``parked_at``."""
        return parked_entry(
            {
                **json.loads(item["data"]["S"]),
                "id": item["SK"]["S"].removeprefix("PARKED#"),
                "attempts": int(item.get("attempts", {"N": "1"})["N"]),
                "parked_at": item.get("parked_at", {}).get("S"),
            }
        )

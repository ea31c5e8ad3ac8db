"""Pending deletes: a record deleted on one side, waiting for a person to confirm or reject it.

| item        | PK        | SK                  | attributes                    |
|-------------|-----------|---------------------|-------------------------------|
| pending del | TENANT#t  | DELETE#<record id>  | ``data`` (the entry's JSON)    |

One item per record (a second delete of the same record replaces it). The mass-delete guard's hourly
counter is a rate counter (``budget``: ``TENANT#t#DELETES#BUDGET``). See ``crmsync/deletes.py``.
"""

from __future__ import annotations

import json
from typing import Any

from crmsync.store.table import Table, _s, tenant_pk


class DeletesRepo(Table):
    """Pending deletes: put, read, list, drop."""

    def put_pending_delete(self, tenant_id: str, record_id: str, entry: dict[str, Any]) -> None:
        self._call(
            "put_item",
            Item={
                "PK": _s(tenant_pk(tenant_id)),
                "SK": _s(f"DELETE#{record_id}"),
                "data": _s(json.dumps(entry, default=str)),
            },
        )

    def get_pending_delete(self, tenant_id: str, record_id: str) -> dict[str, Any] | None:
        item = self._get(tenant_pk(tenant_id), f"DELETE#{record_id}")
        return json.loads(item["data"]["S"]) if item else None

    def delete_pending(self, tenant_id: str, record_id: str) -> None:
        self._call("delete_item", Key={"PK": _s(tenant_pk(tenant_id)), "SK": _s(f"DELETE#{record_id}")})

    def pending_deletes(self, tenant_id: str) -> list[dict[str, Any]]:
        return [json.loads(i["data"]["S"]) for i in self._query(tenant_pk(tenant_id), "DELETE#")]

"""Pending deletes: a record deleted on one side, waiting for a person to confirm or reject it.

| item        | PK        | SK                  | attributes                    |
|-------------|-----------|---------------------|-------------------------------|
| pending del | TENANT#t  | DELETE#<record id>  | ``data`` (the entry's JSON)    |

One item per record (a second delete of the same record replaces it). The mass-delete guard's hourly
counter is a rate counter (``budget``: ``TENANT#t#DELETES#BUDGET``). See ``crmsync/deletes.py``.
"""

from __future__ import annotations

from crmsync.items import PendingDelete
from crmsync.store.table import Table, _s, tenant_pk


class DeletesRepo(Table):
    """Pending deletes: put, read, list, drop."""

    def put_pending_delete(self, tenant_id: str, entry: PendingDelete) -> None:
        self._call(
            "put_item",
            Item={
                "PK": _s(tenant_pk(tenant_id)),
                "SK": _s(f"DELETE#{entry.record_id}"),
                "data": _s(entry.model_dump_json(exclude_none=True)),
            },
        )

    def get_pending_delete(self, tenant_id: str, record_id: str) -> PendingDelete | None:
        item = self._get(tenant_pk(tenant_id), f"DELETE#{record_id}")
        return PendingDelete.model_validate_json(item["data"]["S"]) if item else None

    def delete_pending(self, tenant_id: str, record_id: str) -> None:
        self._call("delete_item", Key={"PK": _s(tenant_pk(tenant_id)), "SK": _s(f"DELETE#{record_id}")})

    def pending_deletes(self, tenant_id: str) -> list[PendingDelete]:
        items = self._query(tenant_pk(tenant_id), "DELETE#")
        return [PendingDelete.model_validate_json(i["data"]["S"]) for i in items]

    def pending_deletes_page(
        self, tenant_id: str, limit: int, cursor: str | None
    ) -> tuple[list[PendingDelete], str | None]:
        """One page of deletions waiting for approval and the cursor of the next (None at the end)."""
        items, next_cursor = self._query_page(tenant_pk(tenant_id), "DELETE#", limit, cursor)
        return [PendingDelete.model_validate_json(i["data"]["S"]) for i in items], next_cursor

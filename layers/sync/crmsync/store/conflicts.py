"""Conflicts: a field both sides changed, held for a person or settled by its rule.

| item     | PK        | SK                                      | attributes                               |
|----------|-----------|-----------------------------------------|------------------------------------------|
| conflict | TENANT#t  | CONFLICT#<record id>.<field>.<open|time> | ``status``, ``data`` (``Conflict`` JSON); |
|          |           |                                         | TTL once settled                         |

An open conflict is one item per field (``.open``), updated while it is held, so a record's open
conflicts are one query (prefix ``CONFLICT#<record id>.``). Settled ones (with their losing values,
restorable) are kept ``CONFLICT_TTL``, then DynamoDB's TTL removes them; open ones stay until resolved.
``status`` is an attribute of its own so a listing filters without decoding ``data``.
"""

from __future__ import annotations

from datetime import timedelta

from crmsync.models import Conflict, ConflictStatus, utcnow
from crmsync.store.table import Table, _n, _s, tenant_pk

CONFLICT_TTL = timedelta(days=90)
"""Settled conflicts (with their losing values, restorable) are kept 90 days; open ones until resolved."""


class ConflictsRepo(Table):
    """Writes, reads and listings of conflicts."""

    def put_conflict(self, conflict: Conflict) -> None:
        """An open conflict is one item per field (updated while held); settled ones expire after 90 days."""
        item = {
            "PK": _s(tenant_pk(conflict.tenant_id)),
            "SK": _s(f"CONFLICT#{conflict.conflict_id}"),
            "status": _s(conflict.status.value),
            "data": _s(conflict.model_dump_json()),
        }
        if conflict.status is not ConflictStatus.OPEN:
            item["ttl"] = _n(int((utcnow() + CONFLICT_TTL).timestamp()))
        self._call("put_item", Item=item)

    def get_conflict(self, tenant_id: str, conflict_id: str) -> Conflict | None:
        item = self._get(tenant_pk(tenant_id), f"CONFLICT#{conflict_id}")
        return Conflict.model_validate_json(item["data"]["S"]) if item else None

    def delete_conflict(self, conflict: Conflict) -> None:
        self._call(
            "delete_item",
            Key={"PK": _s(tenant_pk(conflict.tenant_id)), "SK": _s(f"CONFLICT#{conflict.conflict_id}")},
        )

    def conflicts(
        self, tenant_id: str, record_id: str | None = None, status: ConflictStatus | None = None
    ) -> list[Conflict]:
        """A tenant's (or one record's) conflicts, newest first, optionally of one status."""
        prefix = f"CONFLICT#{record_id}." if record_id else "CONFLICT#"
        found = [
            Conflict.model_validate_json(i["data"]["S"])
            for i in self._query(tenant_pk(tenant_id), prefix)
            if status is None or i.get("status", {}).get("S") == status.value
        ]
        return sorted(found, key=lambda c: c.detected_at, reverse=True)

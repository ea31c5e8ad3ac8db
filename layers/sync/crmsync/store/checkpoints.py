"""Pull checkpoints: how far the scheduled pull has read a connection's changes, per object type.

| item       | PK        | SK                          | attributes                                     |
|------------|-----------|-----------------------------|------------------------------------------------|
| checkpoint | TENANT#t  | CKPT#<connection>#<object>  | ``cursor``, ``last_success``, ``last_seen``     |

``cursor`` is the newest change time the last pull read (the next one asks for changes since);
``last_success`` and ``last_seen`` (how many records that pull read) are kept for whoever inspects the
table. See ``crmsync/pull.py``.
"""

from __future__ import annotations

from datetime import datetime

from crmsync.models import ObjectType, utcnow
from crmsync.store.table import Table, _n, _s, tenant_pk


class CheckpointsRepo(Table):
    """Read and advance a pull checkpoint."""

    def get_checkpoint(self, tenant_id: str, connection_id: str, object_type: ObjectType) -> datetime | None:
        item = self._get(tenant_pk(tenant_id), f"CKPT#{connection_id}#{object_type.value}")
        return datetime.fromisoformat(item["cursor"]["S"]) if item else None

    def put_checkpoint(
        self, tenant_id: str, connection_id: str, object_type: ObjectType, cursor: datetime, seen: int
    ) -> None:
        self._call(
            "put_item",
            Item={
                "PK": _s(tenant_pk(tenant_id)),
                "SK": _s(f"CKPT#{connection_id}#{object_type.value}"),
                "cursor": _s(cursor.isoformat()),
                "last_success": _s(utcnow().isoformat()),
                "last_seen": _n(seen),
            },
        )

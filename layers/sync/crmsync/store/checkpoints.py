"""Pull checkpoints: how far the scheduled pull has read a connection's changes, per object type.

| item       | PK        | SK                                | attributes                                 |
|------------|-----------|-----------------------------------|--------------------------------------------|
| checkpoint | TENANT#t  | CKPT#<connection>#<object>        | ``cursor``, ``last_success``, ``last_seen`` |
| delta      | TENANT#t  | CKPT#<connection>#<object>#DELTA  | ``data``: a ``DeltaCheckpoint`` (JSON)      |

``cursor`` is the newest change time the last pull read (the next one asks for changes since);
``last_success`` and ``last_seen`` (how many records that pull read) are kept for whoever inspects the
table. A connector that reads by change tracking (``DeltaReader``) keeps the vendor's delta link in the
sibling ``#DELTA`` item instead, with the last full compare an expired link forced (the health view
shows it). See ``crmsync/pull.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from crmsync.items import DeltaCheckpoint, FullCompare
from crmsync.models import ObjectType, utcnow
from crmsync.store.table import Table, _n, _s, tenant_pk


def _delta_sk(connection_id: str, object_type: ObjectType) -> str:
    return f"CKPT#{connection_id}#{object_type.value}#DELTA"


class CheckpointsRepo(Table):
    """Read and advance a pull checkpoint (a change time, or a change-tracking delta link)."""

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

    def get_delta_checkpoint(
        self, tenant_id: str, connection_id: str, object_type: ObjectType
    ) -> DeltaCheckpoint | None:
        """The stored delta link of a change-tracking connection (None: never read, a backfill is due)."""
        item = self._get(tenant_pk(tenant_id), _delta_sk(connection_id, object_type))
        return DeltaCheckpoint.model_validate_json(item["data"]["S"]) if item else None

    def put_delta_checkpoint(
        self, tenant_id: str, connection_id: str, object_type: ObjectType, checkpoint: DeltaCheckpoint
    ) -> None:
        """Store the next delta link (call only after every signal of the read was enqueued)."""
        self._call(
            "put_item",
            Item={
                "PK": _s(tenant_pk(tenant_id)),
                "SK": _s(_delta_sk(connection_id, object_type)),
                "data": _s(checkpoint.model_dump_json()),
            },
        )

    def last_full_compares(
        self, tenant_id: str, connection_ids: Iterable[str]
    ) -> dict[str, list[FullCompare]]:
        """connection -> the last full compare of each object type that had one, newest first (one batch
        read); a connection without any is absent."""
        pk = tenant_pk(tenant_id)
        wanted = {c: [_delta_sk(c, o) for o in ObjectType] for c in connection_ids}
        found = self._batch_get((pk, sk) for sks in wanted.values() for sk in sks)
        out: dict[str, list[FullCompare]] = {}
        for conn, sks in wanted.items():
            stored = [
                DeltaCheckpoint.model_validate_json(found[(pk, sk)]["data"]["S"]).last_full_compare
                for sk in sks
                if (pk, sk) in found
            ]
            compares = [c for c in stored if c is not None]
            if compares:
                out[conn] = sorted(compares, key=lambda c: c.at, reverse=True)
        return out

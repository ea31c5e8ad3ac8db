"""Reads for the health view (``crmsync.health``): batch reads and one paged query, never a read per record.

Nothing here writes; every item read belongs to another repository, whose module documents its keys:

* ``last_pulls``: the pull checkpoints (``checkpoints``: ``CKPT#<connection>#<object>`` and its
  ``#DELTA`` sibling), one BatchGetItem for all connections and object types;
* ``rate_used_today``: each connection's rate budget item of the UTC day (``budget``), one BatchGetItem;
* ``health_records``: every record of the tenant (both object types) in the existing paged query of
  ``REC#`` items, projected to the record's ``data`` and ``version`` (the carried timeline ``log`` is
  not sent). DynamoDB bills and pages by item size before projection: a record item is 1.5 to 3 KB
  compressed, so 10,000 records are about 15 to 30 query pages of 1 MB (a few seconds and about 2,500 to
  4,000 read units, eventually consistent at half price).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from crmsync.items import DeltaCheckpoint
from crmsync.models import ObjectType, Record
from crmsync.store.table import Table, _s, record_from_item, tenant_pk


class HealthReadsRepo(Table):
    """What the health view reads besides connection states, parked items, conflicts and deletes."""

    def last_pulls(self, tenant_id: str, connection_ids: Iterable[str]) -> dict[str, datetime]:
        """connection -> when its newest successful pull of any object type stored its checkpoint (a
        change-time cursor's ``last_success`` or a delta link's); a connection never pulled is absent."""
        pk = tenant_pk(tenant_id)
        wanted = {
            (pk, f"CKPT#{c}#{o.value}{suffix}"): c
            for c in connection_ids
            for o in ObjectType
            for suffix in ("", "#DELTA")
        }
        out: dict[str, datetime] = {}
        for key, item in self._batch_get(wanted).items():
            if key[1].endswith("#DELTA"):
                at = DeltaCheckpoint.model_validate_json(item["data"]["S"]).last_success
                if at.year <= 2000:  # the pull's starting value (``pull.EPOCH``): no read finished yet
                    continue
            elif "last_success" in item:
                at = datetime.fromisoformat(item["last_success"]["S"])
            else:
                continue
            conn = wanted[key]
            if conn not in out or at > out[conn]:
                out[conn] = at
        return out

    def rate_used_today(self, tenant_id: str, connection_ids: Iterable[str], day: str) -> dict[str, int]:
        """connection -> vendor calls its rate budget counted on UTC ``day`` (``YYYYMMDD``; 0: none)."""
        keys = {(f"TENANT#{tenant_id}#{c}#BUDGET", f"d{day}"): c for c in connection_ids}
        used = dict.fromkeys(keys.values(), 0)
        for key, item in self._batch_get(keys).items():
            used[keys[key]] = int(item.get("used", {"N": "0"})["N"])
        return used

    def health_records(self, tenant_id: str) -> Iterator[Record]:
        """Every record of the tenant without its carried timeline (paged query, eventually consistent)."""
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :sk)",
            "ExpressionAttributeValues": {":pk": _s(tenant_pk(tenant_id)), ":sk": _s("REC#")},
            "ProjectionExpression": "PK, SK, #d, version",
            "ExpressionAttributeNames": {"#d": "data"},
        }
        while True:
            page = self._call("query", **kwargs)
            for item in page.get("Items", []):
                yield record_from_item(item)
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

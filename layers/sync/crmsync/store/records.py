"""Records, their links to external records, and the contact -> customer index.

| item        | PK        | SK                                        | attributes                          |
|-------------|-----------|-------------------------------------------|-------------------------------------|
| record      | TENANT#t  | REC#<object>#<record id>                  | ``data`` (packed), ``version``,      |
|             |           |                                           | ``origin``, ``log``, ``updated_at``  |
| link        | TENANT#t  | LINK#<connection>#<object>#<external id>  | ``record_id``                        |
| child index | TENANT#t  | CHILD#<customer record>#<contact record>  | (key only)                           |

Records carry an integer ``version`` written with a condition (optimistic locking): a save of a stale
copy raises ``VersionConflict`` and the caller re-reads and decides again. Links are created with a
condition (absent, or already this record's), so one external record can only ever link to one
record. A record item also carries its newest timeline entries (``log``, see ``timeline``) and its
``origin`` for the stream filter (``ORIGIN_BASE`` saves are not delivered to the push). Only record
items go to the DynamoDB stream (the push's filter is on ``REC#``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from crmsync.items import TimelineEntry
from crmsync.models import ObjectType, Record, utcnow
from crmsync.store.table import (
    ORIGIN_SYNC,
    LinkTaken,
    StoreError,
    Table,
    VersionConflict,
    _n,
    _s,
    object_type_of,
    pack,
    record_from_item,
    record_sk,
    tenant_pk,
)
from crmsync.store.timeline import LOG_IN_RECORD, entry_json, journal_page

UNCHANGED = object()
"""``save_record(parent_before=UNCHANGED)``: the caller did not touch the contact's customer."""


def link_sk(connection_id: str, object_type: ObjectType, external_id: str) -> str:
    return f"LINK#{connection_id}#{object_type.value}#{external_id}"


class RecordsRepo(Table):
    """Reads, versioned writes and deletes of records; claims, moves and releases of links."""

    # -- reads -----------------------------------------------------------------------------------
    def get_record(self, tenant_id: str, record_id: str) -> Record | None:
        item = self._get(tenant_pk(tenant_id), record_sk(object_type_of(record_id), record_id))
        return record_from_item(item) if item is not None else None

    def get_records(self, tenant_id: str, record_ids: Iterable[str]) -> dict[str, Record]:
        """The records that exist among ``record_ids`` (one batch read per 100)."""
        pk = tenant_pk(tenant_id)
        items = self._batch_get((pk, record_sk(object_type_of(rid), rid)) for rid in record_ids)
        records = (record_from_item(i) for i in items.values())
        return {record.record_id: record for record in records}

    def records_page(
        self, tenant_id: str, object_type: ObjectType, limit: int, cursor: str | None
    ) -> tuple[list[Record], str | None]:
        """One page of a tenant's records; the returned cursor (opaque text) continues it (None at the
        end). ``InvalidCursor`` for a cursor this method did not hand out for this tenant and type."""
        items, next_cursor = self._query_page(
            tenant_pk(tenant_id), f"REC#{object_type.value}#", limit, cursor
        )
        return [record_from_item(i) for i in items], next_cursor

    def records(self, tenant_id: str, object_type: ObjectType) -> Iterator[Record]:
        for item in self._query(tenant_pk(tenant_id), f"REC#{object_type.value}#"):
            yield record_from_item(item)

    def count_records(self, tenant_id: str) -> int:
        """How many records a tenant has (a key-only COUNT query; used by the mass-delete guard)."""
        total, start = 0, None
        while True:
            kwargs: dict[str, Any] = {
                "KeyConditionExpression": "PK = :pk AND begins_with(SK, :sk)",
                "ExpressionAttributeValues": {":pk": _s(tenant_pk(tenant_id)), ":sk": _s("REC#")},
                "Select": "COUNT",
            }
            if start:
                kwargs["ExclusiveStartKey"] = start
            page = self._call("query", **kwargs)
            total += int(page.get("Count", 0))
            start = page.get("LastEvaluatedKey")
            if not start:
                return total

    # -- writes ----------------------------------------------------------------------------------
    def _record_write(
        self, record: Record, origin: str, log: list[str]
    ) -> tuple[str, dict[str, Any], list[str] | None, dict[str, Any] | None]:
        """The conditional write of a record save (operation, its arguments), the entries the item
        carries afterwards (None: unknown) and the page item to write first (None: no page).

        A copy that knows the entries its item carries (read from the table or a stream image: all of
        them but images from before those existed) writes the whole item with one conditional PutItem.
        A copy that does not (``_log`` None) appends with an UpdateItem (``list_append``), so it never
        drops entries it did not know of. When the item already carries ``LOG_IN_RECORD`` entries, they
        move to a page (written first) and the list starts again.
        """
        new_version = record.version + 1
        stored = record.model_copy(update={"version": new_version})
        key = {
            "PK": _s(tenant_pk(record.tenant_id)),
            "SK": _s(record_sk(record.object_type, record.record_id)),
        }
        attrs: dict[str, Any] = {
            "data": pack(stored.model_dump_json(exclude={"version"})),
            "version": _n(new_version),
            "object_type": _s(record.object_type.value),
            "updated_at": _s(utcnow().isoformat()),
            "origin": _s(origin),
        }
        carried = [] if record.version == 0 else record._log
        if carried is not None:
            full = len(carried) >= LOG_IN_RECORD
            after = list(log) if full else [*carried, *log]
            page = journal_page(record, carried) if full else None
            put: dict[str, Any] = {
                "TableName": self.table,
                "Item": {**key, **attrs, "log": {"L": [pack(e) for e in after]}},
            }
            if record.version == 0:
                put["ConditionExpression"] = "attribute_not_exists(PK)"
            else:
                put["ConditionExpression"] = "version = :v"
                put["ExpressionAttributeValues"] = {":v": _n(record.version)}
            return "put_item", put, after, page
        names = {f"#a{i}": name for i, name in enumerate(attrs)}
        values: dict[str, Any] = {f":a{i}": value for i, value in enumerate(attrs.values())}
        sets = [f"#a{i} = :a{i}" for i in range(len(attrs))]
        if log:
            sets.append("#log = list_append(if_not_exists(#log, :empty), :log)")
            names["#log"] = "log"
            values[":log"] = {"L": [pack(e) for e in log]}
            values[":empty"] = {"L": []}
        update = {
            "TableName": self.table,
            "Key": key,
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": "version = :v",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {**values, ":v": _n(record.version)},
        }
        return "update_item", update, None, None

    def save_record(
        self,
        record: Record,
        *,
        new_links: dict[str, str] | None = None,
        removed_links: dict[str, str] | None = None,
        parent_before: str | None | object = UNCHANGED,
        origin: str = ORIGIN_SYNC,
        log: Iterable[TimelineEntry] = (),
    ) -> Record:
        """Write the record (version-checked) and its link changes.

        ``origin`` marks the item for the stream filter: ``ORIGIN_BASE`` (only what a vendor now holds
        changed, after crmsync's own write there) is not delivered to the push, which would find
        nothing to write and would take room from real changes in its batches of 100.

        ``new_links`` / ``removed_links`` map connection id -> external id. Links are claimed
        *before* the record is written and released *after* it, each with its own condition, so a
        crash in between leaves a link pointing at a record that the next signal completes (see
        ``SyncService``), never a record whose external id another record can claim. This avoids
        DynamoDB transactions (twice the write cost) on the hot path. Raises ``VersionConflict``
        when the record moved and ``LinkTaken`` when an external id belongs to another record.
        ``log``: timeline entries (shaped like ``TimelineEntry``) that land with this write.
        """
        for conn, ext in (new_links or {}).items():
            self.claim_link(record.tenant_id, conn, record.object_type, ext, record.record_id)
        op, request, after, page = self._record_write(record, origin, [entry_json(entry) for entry in log])
        if page is not None:
            self._call("put_item", Item=page)
        self.ops += 1
        try:
            getattr(self._db, op)(**request)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise VersionConflict(record.record_id) from exc
            raise StoreError(f"save_record: {exc.response.get('Error', {}).get('Code')}") from exc
        for conn, ext in (removed_links or {}).items():
            self.release_link(record.tenant_id, conn, record.object_type, ext, record.record_id)
        if record.object_type is ObjectType.CONTACT and parent_before is not UNCHANGED:
            parent = record.fields.get("customer")
            if parent != parent_before:
                self.move_child(record.tenant_id, record.record_id, parent_before, parent)
        saved = record.model_copy(update={"version": record.version + 1})
        saved._log = after
        return saved

    def delete_record(self, record: Record) -> None:
        """Remove a record that was merged into another (version-checked); its timeline stays."""
        if record._log:
            self._call("put_item", Item=journal_page(record, record._log))
        self.ops += 1
        try:
            self._db.delete_item(
                TableName=self.table,
                Key={
                    "PK": _s(tenant_pk(record.tenant_id)),
                    "SK": _s(record_sk(record.object_type, record.record_id)),
                },
                ConditionExpression="version = :v",
                ExpressionAttributeValues={":v": _n(record.version)},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise VersionConflict(record.record_id) from exc
            raise StoreError(str(exc)) from exc

    # -- contact -> customer index ---------------------------------------------------------------
    def move_child(self, tenant_id: str, contact_id: str, old: object, new: object) -> None:
        """Keep the ``CHILD#<customer>#<contact>`` index (a customer's contacts in one query)."""
        if isinstance(new, str):
            self._call(
                "put_item",
                Item={"PK": _s(tenant_pk(tenant_id)), "SK": _s(f"CHILD#{new}#{contact_id}")},
            )
        if isinstance(old, str):
            self._call(
                "delete_item", Key={"PK": _s(tenant_pk(tenant_id)), "SK": _s(f"CHILD#{old}#{contact_id}")}
            )

    def children(self, tenant_id: str, customer_id: str) -> list[str]:
        """Record ids of the contacts whose customer is ``customer_id``."""
        prefix = f"CHILD#{customer_id}#"
        return [i["SK"]["S"].removeprefix(prefix) for i in self._query(tenant_pk(tenant_id), prefix)]

    # -- links -----------------------------------------------------------------------------------
    def find_link(
        self, tenant_id: str, connection_id: str, object_type: ObjectType, external_id: str
    ) -> str | None:
        item = self._get(tenant_pk(tenant_id), link_sk(connection_id, object_type, external_id))
        return item["record_id"]["S"] if item else None

    def find_links(
        self, tenant_id: str, keys: Iterable[tuple[str, ObjectType, str]]
    ) -> dict[tuple[str, ObjectType, str], str | None]:
        """``find_link`` for many (connection, object type, external id) keys; missing ones map to None."""
        pk = tenant_pk(tenant_id)
        wanted = {link_sk(conn, obj, ext): (conn, obj, ext) for conn, obj, ext in keys}
        items = self._batch_get((pk, sk) for sk in wanted)
        return {
            key: (items[(pk, sk)]["record_id"]["S"] if (pk, sk) in items else None)
            for sk, key in wanted.items()
        }

    def claim_link(
        self, tenant_id: str, connection_id: str, object_type: ObjectType, ext: str, rid: str
    ) -> None:
        """Link an external record to ``rid``; idempotent for the same record, ``LinkTaken`` otherwise."""
        self._put_link(
            tenant_id, connection_id, object_type, ext, rid, "attribute_not_exists(PK) OR record_id = :new"
        )

    def repoint_link(
        self, tenant_id: str, connection_id: str, object_type: ObjectType, ext: str, old: str, new: str
    ) -> None:
        """Move a link from record ``old`` to record ``new`` (only if it still points at ``old``)."""
        self._put_link(
            tenant_id, connection_id, object_type, ext, new, "record_id = :old OR record_id = :new", old
        )

    def _put_link(
        self,
        tenant_id: str,
        connection_id: str,
        object_type: ObjectType,
        ext: str,
        rid: str,
        condition: str,
        old: str | None = None,
    ) -> None:
        values = {":new": _s(rid), **({":old": _s(old)} if old else {})}
        try:
            self._call(
                "put_item",
                Item={
                    "PK": _s(tenant_pk(tenant_id)),
                    "SK": _s(link_sk(connection_id, object_type, ext)),
                    "record_id": _s(rid),
                },
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except VersionConflict as exc:
            raise LinkTaken(self.find_link(tenant_id, connection_id, object_type, ext)) from exc

    def release_link(
        self, tenant_id: str, connection_id: str, object_type: ObjectType, ext: str, rid: str
    ) -> None:
        """Remove a link only if it still points at ``rid``."""
        with contextlib.suppress(VersionConflict):  # re-linked to another record meanwhile: not ours
            self._call(
                "delete_item",
                Key={"PK": _s(tenant_pk(tenant_id)), "SK": _s(link_sk(connection_id, object_type, ext))},
                ConditionExpression="attribute_not_exists(PK) OR record_id = :rid",
                ExpressionAttributeValues={":rid": _s(rid)},
            )

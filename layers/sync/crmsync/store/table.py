"""The shared access to the sync table: client, table name, keys, serialization, errors, batch helpers.

Every repository of ``crmsync.store`` (one module per item family) derives from ``Table``; ``SyncStore``
is their composition over one client and one table. Nothing outside this package sees boto3 types.

Every partition key starts with the tenant (``tenant_pk``), so no query can cross tenants. Payloads
are one JSON attribute ``data`` (the table never queries inside them); a record's JSON is stored
zlib-compressed as binary (``pack``): writes and reads are billed per KB. The record item's key and
decoding live here (not in ``records``) because the timeline reads the entries a record item carries.

``_s`` / ``_n`` (DynamoDB string / number attributes) are for the repositories of this package only.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from crmsync.errors import InvalidCursor
from crmsync.models import ObjectType, Record

BATCH_GET_MAX = 100
"""DynamoDB's BatchGetItem limit per request."""
BATCH_WRITE_MAX = 25
"""DynamoDB's BatchWriteItem limit per request."""
MAX_UNPROCESSED_ROUNDS = 8
ORIGIN_SYNC = "sync"
ORIGIN_BASE = "base"
"""A record item's ``origin``: ``base`` when a save only recorded a vendor's state after crmsync wrote
there (the push's stream filter skips those); ``sync`` for everything else."""


class StoreError(Exception):
    """A storage failure the caller should retry (throttling, network)."""


class VersionConflict(Exception):
    """The item changed since it was read: re-read and decide again."""


class LinkTaken(Exception):
    """The external record is already linked to another record."""

    def __init__(self, record_id: str | None) -> None:
        super().__init__(f"already linked to {record_id}")
        self.record_id = record_id


# -- keys ----------------------------------------------------------------------------------------
def tenant_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


def record_sk(object_type: ObjectType | str, record_id: str) -> str:
    return f"REC#{ObjectType(object_type).value}#{record_id}"


def new_record_id(object_type: ObjectType) -> str:
    prefix = "cus" if object_type is ObjectType.CUSTOMER else "con"
    return f"{prefix}_{uuid.uuid4().hex}"


def object_type_of(record_id: str) -> ObjectType:
    if record_id.startswith("cus_"):
        return ObjectType.CUSTOMER
    if record_id.startswith("con_"):
        return ObjectType.CONTACT
    raise ValueError(f"not a record id: {record_id!r}")


# -- serialization -------------------------------------------------------------------------------
def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def pack(text: str) -> dict[str, bytes]:
    """A large JSON attribute as DynamoDB binary, zlib-compressed (AWS's advice for large attributes).

    A record's JSON (fields, bases, sources, times) is 3 to 5 KB and writes are billed per KB, so a
    compressed record costs about a third of the write units (and of the read units, stream and
    storage)."""
    return {"B": zlib.compress(text.encode(), 6)}


def unpack(value: str | bytes) -> str:
    """Text back from ``pack``: compressed bytes, the base64 text a Lambda stream event carries them
    as, or plain JSON (items written before compression)."""
    if isinstance(value, str):
        if value.startswith(("{", "[")):
            return value
        value = base64.b64decode(value)
    return zlib.decompress(value).decode()


def attr_text(attr: dict[str, Any]) -> str:
    """The text of a string attribute or of a ``pack``-ed binary one."""
    return str(attr["S"]) if "S" in attr else unpack(attr["B"])


def record_from_image(data: str | bytes, version: int, log: list[str] | None = None) -> Record:
    """A record from its item's ``data`` and ``version`` (and the timeline entries it carries)."""
    record = Record.model_validate_json(unpack(data))
    record.version = version
    record._log = list(log) if log is not None else None
    return record


def record_from_item(item: dict[str, Any]) -> Record:
    """A record from its item as read from the table (``data``, ``version``, carried ``log``)."""
    log = [attr_text(v) for v in item.get("log", {}).get("L", [])]
    return record_from_image(attr_text(item["data"]), int(item["version"]["N"]), log)


# -- table access --------------------------------------------------------------------------------
class Table:
    """One client and one table name, and the calls every repository uses. ``client`` is a boto3
    DynamoDB client; ``ops`` counts the requests sent (batch rounds and transactions included)."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._db = client
        self.table = table_name
        self.ops = 0

    def _call(self, op: str, **kwargs: Any) -> Any:
        """One request on the table; a failed condition is ``VersionConflict``, the rest ``StoreError``."""
        self.ops += 1
        try:
            return getattr(self._db, op)(TableName=self.table, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                raise VersionConflict(str(exc)) from exc
            raise StoreError(f"{op}: {code}") from exc

    def _transact(self, items: list[dict[str, Any]]) -> None:
        """One TransactWriteItems request; the caller handles its ``ClientError`` (what a cancelled
        transaction means differs per item family)."""
        self.ops += 1
        self._db.transact_write_items(TransactItems=items)

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        item = self._call("get_item", Key={"PK": _s(pk), "SK": _s(sk)}, ConsistentRead=True).get("Item")
        return item  # type: ignore[no-any-return]

    def _batch_get(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """Many items in BatchGetItem calls of 100 keys (one request instead of one per item).

        Strongly consistent, like ``_get``; the answer is complete or the call raises ``StoreError``.
        """
        wanted = sorted(set(keys))
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for start in range(0, len(wanted), BATCH_GET_MAX):
            keys_part = [{"PK": _s(pk), "SK": _s(sk)} for pk, sk in wanted[start : start + BATCH_GET_MAX]]
            for answer in self._until_processed(
                "batch_get_item", {self.table: {"Keys": keys_part, "ConsistentRead": True}}, "UnprocessedKeys"
            ):
                for item in answer.get("Responses", {}).get(self.table, []):
                    found[(item["PK"]["S"], item["SK"]["S"])] = item
        return found

    def _batch_put(self, items: list[dict[str, Any]]) -> None:
        """Unconditional puts in BatchWriteItem calls of 25 (journal entries: append-only, no conditions)."""
        for start in range(0, len(items), BATCH_WRITE_MAX):
            puts = [{"PutRequest": {"Item": item}} for item in items[start : start + BATCH_WRITE_MAX]]
            for _ in self._until_processed("batch_write_item", {self.table: puts}, "UnprocessedItems"):
                pass

    def _until_processed(self, op: str, request: dict[str, Any], leftover: str) -> Iterator[dict[str, Any]]:
        """Send a batch request, then what DynamoDB left unprocessed (throttling) after a short backoff."""
        for attempt in range(MAX_UNPROCESSED_ROUNDS):
            self.ops += 1
            try:
                answer = getattr(self._db, op)(RequestItems=request)
            except ClientError as exc:
                raise StoreError(f"{op}: {exc.response.get('Error', {}).get('Code')}") from exc
            yield answer
            request = answer.get(leftover) or {}
            if not request:
                return
            time.sleep(min(1.0, 0.05 * 2**attempt))
        raise StoreError(f"{op}: items left unprocessed")

    def _query_page(
        self, pk: str, prefix: str, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of ``_query``'s items and the cursor that continues it (``decode_cursor`` checks it)."""
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :sk)",
            "ExpressionAttributeValues": {":pk": _s(pk), ":sk": _s(prefix)},
            "Limit": limit,
        }
        start = decode_cursor(cursor, pk, prefix)
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = self._call("query", **kwargs)
        return page.get("Items", []), encode_cursor(page.get("LastEvaluatedKey"))

    def _query(self, pk: str, prefix: str, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """The items of partition ``pk`` whose sort key starts with ``prefix`` (all pages, or the
        first ``limit`` items)."""
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :sk)",
            "ExpressionAttributeValues": {":pk": _s(pk), ":sk": _s(prefix)},
        }
        if limit:
            kwargs["Limit"] = limit
        while True:
            page = self._call("query", **kwargs)
            yield from page.get("Items", [])
            last = page.get("LastEvaluatedKey")
            if not last or limit:
                return
            kwargs["ExclusiveStartKey"] = last


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    """A query's ``LastEvaluatedKey`` as opaque text for a client (None: the last page)."""
    return base64.urlsafe_b64encode(json.dumps(last_key).encode()).decode() if last_key else None


def decode_cursor(cursor: str | None, pk: str, prefix: str) -> dict[str, Any] | None:
    """The DynamoDB start key a cursor carries; a client can tamper with it, so it is checked.

    Only a key of partition ``pk`` whose sort key starts with ``prefix`` is accepted (``InvalidCursor``
    otherwise): anything else would go to DynamoDB as ``ExclusiveStartKey`` and fail there (a 500), or
    name another tenant's partition.
    """
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error, RecursionError) as exc:
        raise InvalidCursor(cursor[:40]) from exc
    sort_key = value.get("SK") if isinstance(value, dict) else None
    if not (
        isinstance(value, dict)
        and set(value) == {"PK", "SK"}
        and value["PK"] == {"S": pk}
        and isinstance(sort_key, dict)
        and set(sort_key) == {"S"}
        and isinstance(sort_key["S"], str)
        and sort_key["S"].startswith(prefix)
    ):
        raise InvalidCursor(cursor[:40])
    return value

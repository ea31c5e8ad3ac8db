"""All DynamoDB access (one table). Nothing outside this module sees boto3 types.

Item layout (every partition key starts with the tenant, so no query can cross tenants):

| item        | PK            | SK                                        |
|-------------|---------------|-------------------------------------------|
| config      | TENANT#t      | CONFIG                                    |
| record      | TENANT#t      | REC#<object>#<record id>                  |
| link        | TENANT#t      | LINK#<connection>#<object>#<external id>  |
| checkpoint  | TENANT#t      | CKPT#<connection>#<object>                |
| conflict    | TENANT#t      | CONFLICT#<record id>.<field>.<open|time>  |
| journal     | TENANT#t#LOG#<record id> | LOG#<time>#<n> or LOG#v<version> (a page) (TTL) |
| parked      | TENANT#t      | PARKED#<record id>.<connection> or <time> |
| pending del | TENANT#t      | DELETE#<record id>                        |
| rate budget | TENANT#t#<connection>#BUDGET | d<day>: day, window, previous window (TTL) |
| delete guard| TENANT#t#DELETES#BUDGET | h<hour> (TTL)                      |
| api limit   | TENANT#t#API#BUDGET | d<day>: like the rate budget (``request_quota``) |
| tenant list | TENANTS       | TENANT#t                                  |
| child index | TENANT#t      | CHILD#<customer record>#<contact record>  |
| api token   | TOKEN#<hash>  | TOKEN (tenant, id, name, times; TTL)      |
| token list  | TENANT#t      | TOKEN#<token id> (hash, name, times; TTL) |

A record item also carries its newest timeline entries (``log``, see ``LOG_IN_RECORD``).
Records carry an integer ``version`` written with a condition (optimistic locking); links are
created with ``attribute_not_exists`` so one external record can only ever link to one record.
Model payloads are stored as one JSON attribute ``data``: the table never needs to query inside
them, and the stream consumer decodes the same JSON. A record's JSON (and its timeline entries) is
stored zlib-compressed as binary (``pack``): writes and reads are billed per KB.
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
import uuid
import zlib
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from crmsync.budget import RateAsk, RateState, RateTake
from crmsync.config import TenantConfig
from crmsync.models import Conflict, ConflictStatus, ObjectType, Record, utcnow

JOURNAL_TTL = timedelta(days=30)
TOKEN_TTL_AFTER_EXPIRY = timedelta(days=30)
"""Expired API tokens stay listed (as expired) this long, then DynamoDB's TTL removes them."""
CONFLICT_TTL = timedelta(days=90)
"""Settled conflicts (with their losing values, restorable) are kept 90 days; open ones until resolved."""
BATCH_GET_MAX = 100
"""DynamoDB's BatchGetItem limit per request."""
BATCH_WRITE_MAX = 25
"""DynamoDB's BatchWriteItem limit per request."""
MAX_UNPROCESSED_ROUNDS = 8
LOG_IN_RECORD = 6
"""Timeline entries a record item carries before a save moves them to the timeline partition (one item
for all of them). A signal or write that saves the record adds its entry in the same write, so a
record change and its timeline entry land together and cost one item operation, not two."""
ORIGIN_SYNC = "sync"
ORIGIN_BASE = "base"
"""A record item's ``origin``: ``base`` when a save only recorded a vendor's state after crmsync wrote
there (the push's stream filter skips those); ``sync`` for everything else."""
UNCHANGED = object()
"""``save_record(parent_before=UNCHANGED)``: the caller did not touch the contact's customer."""


class StoreError(Exception):
    """A storage failure the caller should retry (throttling, network)."""


class VersionConflict(Exception):
    """The item changed since it was read: re-read and decide again."""


class LinkTaken(Exception):
    """The external record is already linked to another record."""

    def __init__(self, record_id: str | None) -> None:
        super().__init__(f"already linked to {record_id}")
        self.record_id = record_id


def tenant_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


def journal_pk(tenant_id: str, record_id: str) -> str:
    """The timeline of one record is its own partition: one write per signal never heats the tenant's."""
    return f"{tenant_pk(tenant_id)}#LOG#{record_id}"


def record_sk(object_type: ObjectType | str, record_id: str) -> str:
    return f"REC#{ObjectType(object_type).value}#{record_id}"


def link_sk(connection_id: str, object_type: ObjectType, external_id: str) -> str:
    return f"LINK#{connection_id}#{object_type.value}#{external_id}"


def new_record_id(object_type: ObjectType) -> str:
    prefix = "cus" if object_type is ObjectType.CUSTOMER else "con"
    return f"{prefix}_{uuid.uuid4().hex}"


def object_type_of(record_id: str) -> ObjectType:
    if record_id.startswith("cus_"):
        return ObjectType.CUSTOMER
    if record_id.startswith("con_"):
        return ObjectType.CONTACT
    raise ValueError(f"not a record id: {record_id!r}")


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


def _attr_text(attr: dict[str, Any]) -> str:
    return str(attr["S"]) if "S" in attr else unpack(attr["B"])


def record_from_image(data: str | bytes, version: int, log: list[str] | None = None) -> Record:
    """A record from its item's ``data`` and ``version`` (and the timeline entries it carries)."""
    record = Record.model_validate_json(unpack(data))
    record.version = version
    record._log = list(log) if log is not None else None
    return record


def _record_from_item(item: dict[str, Any]) -> Record:
    log = [_attr_text(v) for v in item.get("log", {}).get("L", [])]
    return record_from_image(_attr_text(item["data"]), int(item["version"]["N"]), log)


def _entry_json(entry: dict[str, Any]) -> str:
    """One timeline entry as stored: JSON with an ``id`` (a reader drops an entry seen twice)."""
    return json.dumps({"id": uuid.uuid4().hex[:16], **entry}, default=str)


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _journal_item(tenant_id: str, record_id: str, entry: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {
        "PK": _s(journal_pk(tenant_id, record_id)),
        "SK": _s(f"LOG#{at.isoformat()}#{uuid.uuid4().hex[:8]}"),
        "data": _s(_entry_json(entry)),
        "ttl": _n(int((at + JOURNAL_TTL).timestamp())),
    }


def _journal_page(record: Record, entries: list[str]) -> dict[str, Any]:
    """The entries a record item carried, moved to its timeline partition as one item.

    The key is the record's version when they were moved, so a save retried after a lock conflict
    writes the same page again instead of a second one."""
    return {
        "PK": _s(journal_pk(record.tenant_id, record.record_id)),
        "SK": _s(f"LOG#v{record.version:09d}"),
        "page": pack(json.dumps(entries)),
        "ttl": _n(int((utcnow() + JOURNAL_TTL).timestamp())),
    }


class SyncStore:
    """The data-access layer over the sync table. ``client`` is a boto3 DynamoDB client."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._db = client
        self.table = table_name
        self.ops = 0

    # -- low level -------------------------------------------------------------------------------
    def _call(self, op: str, **kwargs: Any) -> Any:
        self.ops += 1
        try:
            return getattr(self._db, op)(TableName=self.table, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                raise VersionConflict(str(exc)) from exc
            raise StoreError(f"{op}: {code}") from exc

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

    def _query(self, pk: str, prefix: str, limit: int | None = None) -> Iterator[dict[str, Any]]:
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

    # -- tenants -------------------------------------------------------------------------------
    def get_config(self, tenant_id: str) -> TenantConfig | None:
        item = self._get(tenant_pk(tenant_id), "CONFIG")
        if item is None:
            return None
        config = TenantConfig.model_validate_json(item["data"]["S"])
        config.version = int(item["version"]["N"])
        return config

    def put_config(self, config: TenantConfig) -> TenantConfig:
        """Conditional on the version read (0 = new tenant)."""
        new_version = config.version + 1
        stored = config.model_copy(update={"version": new_version})
        condition = "attribute_not_exists(PK)" if config.version == 0 else "version = :v"
        values = {} if config.version == 0 else {":v": _n(config.version)}
        self.ops += 1
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {
                                "PK": _s(tenant_pk(config.tenant_id)),
                                "SK": _s("CONFIG"),
                                "data": _s(stored.model_dump_json()),
                                "version": _n(new_version),
                            },
                            "ConditionExpression": condition,
                            **({"ExpressionAttributeValues": values} if values else {}),
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {"PK": _s("TENANTS"), "SK": _s(tenant_pk(config.tenant_id))},
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                raise VersionConflict("config changed") from exc
            raise StoreError(str(exc)) from exc
        return stored

    def list_tenants(self) -> list[str]:
        return [item["SK"]["S"].removeprefix("TENANT#") for item in self._query("TENANTS", "TENANT#")]

    # -- API tokens ----------------------------------------------------------------------------
    # ``TOKEN#<hash>`` is what a request looks up; ``TENANT#t`` / ``TOKEN#<id>`` is the tenant's listing
    # (and the only way to revoke: by id, within the tenant's partition). See ``crmsync/tokens.py``.
    _TOKEN_FIELDS = ("tenant_id", "token_id", "name", "created_at", "expires_at")

    def put_token(
        self,
        token_hash: str,
        tenant_id: str,
        *,
        token_id: str,
        name: str,
        created_at: str,
        expires_at: str,
    ) -> None:
        """Store a token (hash) and its listing entry together; ``VersionConflict`` if either exists."""
        ttl = _n(int((datetime.fromisoformat(expires_at) + TOKEN_TTL_AFTER_EXPIRY).timestamp()))
        about = {
            "tenant_id": _s(tenant_id),
            "token_id": _s(token_id),
            "name": _s(name),
            "created_at": _s(created_at),
            "expires_at": _s(expires_at),
            "ttl": ttl,
        }
        try:
            self.ops += 1
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {"PK": _s(f"TOKEN#{token_hash}"), "SK": _s("TOKEN"), **about},
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {
                                "PK": _s(tenant_pk(tenant_id)),
                                "SK": _s(f"TOKEN#{token_id}"),
                                "hash": _s(token_hash),
                                **about,
                            },
                            "ConditionExpression": "attribute_not_exists(SK)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                raise VersionConflict("token id or hash exists") from exc
            raise StoreError(str(exc)) from exc

    @classmethod
    def _token_dict(cls, item: dict[str, Any]) -> dict[str, str | None]:
        return {name: item[name]["S"] if name in item else None for name in cls._TOKEN_FIELDS}

    def token(self, token_hash: str) -> dict[str, str | None] | None:
        """The token's tenant, id, name, ``created_at`` and ``expires_at`` (ISO; None on old tokens)."""
        item = self._get(f"TOKEN#{token_hash}", "TOKEN")
        return self._token_dict(item) if item else None

    def token_tenant(self, token_hash: str) -> str | None:
        item = self._get(f"TOKEN#{token_hash}", "TOKEN")
        return item["tenant_id"]["S"] if item else None

    def tenant_tokens(self, tenant_id: str) -> list[dict[str, str | None]]:
        """The listing entries of the tenant's tokens (never the hashes)."""
        return [self._token_dict(item) for item in self._query(tenant_pk(tenant_id), "TOKEN#")]

    def delete_token(self, tenant_id: str, token_id: str) -> bool:
        """Revoke the tenant's token ``token_id`` (both items at once); False if the tenant has none such."""
        entry = self._get(tenant_pk(tenant_id), f"TOKEN#{token_id}")
        if entry is None:
            return False
        self.ops += 1
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": {"PK": _s(f"TOKEN#{entry['hash']['S']}"), "SK": _s("TOKEN")},
                        }
                    },
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": {"PK": _s(tenant_pk(tenant_id)), "SK": _s(f"TOKEN#{token_id}")},
                            "ConditionExpression": "attribute_exists(SK)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                return False  # revoked meanwhile
            raise StoreError(str(exc)) from exc
        return True

    # -- records and links ---------------------------------------------------------------------
    def get_record(self, tenant_id: str, record_id: str) -> Record | None:
        item = self._get(tenant_pk(tenant_id), record_sk(object_type_of(record_id), record_id))
        return _record_from_item(item) if item is not None else None

    def find_link(
        self, tenant_id: str, connection_id: str, object_type: ObjectType, external_id: str
    ) -> str | None:
        item = self._get(tenant_pk(tenant_id), link_sk(connection_id, object_type, external_id))
        return item["record_id"]["S"] if item else None

    def get_records(self, tenant_id: str, record_ids: Iterable[str]) -> dict[str, Record]:
        """The records that exist among ``record_ids`` (one batch read per 100)."""
        pk = tenant_pk(tenant_id)
        items = self._batch_get((pk, record_sk(object_type_of(rid), rid)) for rid in record_ids)
        records = (_record_from_item(i) for i in items.values())
        return {record.record_id: record for record in records}

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
            page = _journal_page(record, carried) if full else None
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
        log: Iterable[dict[str, Any]] = (),
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
        """
        for conn, ext in (new_links or {}).items():
            self.claim_link(record.tenant_id, conn, record.object_type, ext, record.record_id)
        op, request, after, page = self._record_write(record, origin, [_entry_json(entry) for entry in log])
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

    def delete_record(self, record: Record) -> None:
        """Remove a record that was merged into another (version-checked); its timeline stays."""
        if record._log:
            self._call("put_item", Item=_journal_page(record, record._log))
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

    def records_page(
        self, tenant_id: str, object_type: ObjectType, limit: int, cursor: dict[str, Any] | None
    ) -> tuple[list[Record], dict[str, Any] | None]:
        """One page of a tenant's records; the returned cursor continues it (None at the end)."""
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :sk)",
            "ExpressionAttributeValues": {
                ":pk": _s(tenant_pk(tenant_id)),
                ":sk": _s(f"REC#{object_type.value}#"),
            },
            "Limit": limit,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = cursor
        page = self._call("query", **kwargs)
        records = [_record_from_item(i) for i in page.get("Items", [])]
        return records, page.get("LastEvaluatedKey")

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

    def records(self, tenant_id: str, object_type: ObjectType) -> Iterator[Record]:
        for item in self._query(tenant_pk(tenant_id), f"REC#{object_type.value}#"):
            yield _record_from_item(item)

    # -- checkpoints ---------------------------------------------------------------------------
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

    # -- conflicts, journal --------------------------------------------------------------------
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
        prefix = f"CONFLICT#{record_id}." if record_id else "CONFLICT#"
        found = [
            Conflict.model_validate_json(i["data"]["S"])
            for i in self._query(tenant_pk(tenant_id), prefix)
            if status is None or i.get("status", {}).get("S") == status.value
        ]
        return sorted(found, key=lambda c: c.detected_at, reverse=True)

    def journal(self, tenant_id: str, record_id: str, entry: dict[str, Any]) -> None:
        self._call("put_item", Item=_journal_item(tenant_id, record_id, entry, utcnow()))

    def journal_many(self, entries: list[tuple[str, str, dict[str, Any], datetime]]) -> None:
        """Journal entries (tenant, record, entry, time written) in batches of 25: the hot paths'
        timelines cost one request per 25 signals instead of one each."""
        self._batch_put([_journal_item(*entry) for entry in entries])

    def timeline(self, tenant_id: str, record_id: str, record: Record | None = None) -> list[dict[str, Any]]:
        """A record's timeline, oldest first: its partition's entries and pages, then what the record
        item still carries (``record`` if the caller has read it; an entry seen twice, after a retried
        page, is shown once)."""
        stored: list[str] = []
        for item in self._query(journal_pk(tenant_id, record_id), "LOG#"):
            stored += json.loads(_attr_text(item["page"])) if "page" in item else [item["data"]["S"]]
        if record is None:
            with contextlib.suppress(ValueError):  # not a record id: only the partition
                record = self.get_record(tenant_id, record_id)
        stored += (record._log or []) if record else []
        entries: dict[str, dict[str, Any]] = {}
        for n, raw in enumerate(stored):
            entry = json.loads(raw)
            entries.setdefault(str(entry.pop("id", n)), entry)
        return sorted(entries.values(), key=lambda e: str(e.get("at", "")))

    # -- pending deletes -----------------------------------------------------------------------
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

    # -- rate budget ---------------------------------------------------------------------------
    def take_budget(self, key: str, window: str, amount: int, ceiling: int, expires_at: int) -> bool:
        """Add ``amount`` to a window counter unless that would pass ``ceiling`` (one conditional write)."""
        try:
            self._call(
                "update_item",
                Key={"PK": _s(f"{key}#BUDGET"), "SK": _s(window)},
                UpdateExpression="ADD used :n SET #ttl = :e",
                ConditionExpression="attribute_not_exists(used) OR used <= :max",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={
                    ":n": _n(amount),
                    ":e": _n(expires_at),
                    ":max": _n(ceiling - amount),
                },
            )
        except VersionConflict:
            return False  # the window is spent
        return True

    def budget_used(self, key: str, window: str) -> int:
        item = self._call("get_item", Key={"PK": _s(f"{key}#BUDGET"), "SK": _s(window)}).get("Item")
        return int(item["used"]["N"]) if item else 0

    def take_rate(self, key: str, ask: RateAsk) -> RateTake:
        """Count ``amount`` calls in ``window`` and in ``day`` with one conditional write (``RateBudget``).

        The day's item keeps ``used`` (the day), ``w``/``wused`` (the newest window) and
        ``pw``/``pused`` (the window before it). The usual take adds to the current window; the first
        take of a new window (its condition fails on ``w``) moves current to previous in the same
        write that counts it. A failed condition returns the item as it was, which says why.
        """
        item_key = {"PK": _s(f"{key}#BUDGET"), "SK": _s(f"d{ask.day}")}
        values = {
            ":n": _n(ask.amount),
            ":w": _n(ask.window),
            ":e": _n(ask.expires_at),
            ":dmax": _n(ask.day_ceiling - ask.amount),
        }
        names = {"#ttl": "ttl"}
        for _ in range(3):  # a lost race to open the window retries into it
            try:
                self._call(
                    "update_item",
                    Key=item_key,
                    UpdateExpression="ADD used :n, wused :n SET #ttl = :e",
                    ConditionExpression="w = :w AND wused <= :wmax AND used <= :dmax",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues={**values, ":wmax": _n(ask.window_ceiling - ask.amount)},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return RateTake.GRANTED
            except VersionConflict as exc:
                state = _rate_state(_failed_item(exc))
            if state.today + ask.amount > ask.day_ceiling:
                return RateTake.DAY_SPENT
            if (state.window is not None and state.window >= ask.window) or ask.amount > ask.window_ceiling:
                return RateTake.WINDOW_SPENT
            try:
                self._call(
                    "update_item",
                    Key=item_key,
                    UpdateExpression=(
                        "SET pw = if_not_exists(w, :zero), pused = if_not_exists(wused, :zero), "
                        "w = :w, wused = :n, #ttl = :e ADD used :n"
                    ),
                    ConditionExpression="(attribute_not_exists(w) OR w < :w) AND "
                    "(attribute_not_exists(used) OR used <= :dmax)",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues={**values, ":zero": _n(0)},
                )
                return RateTake.GRANTED
            except VersionConflict:
                continue  # another instance opened the window (or took the day's last calls) first
        return RateTake.WINDOW_SPENT

    def rate_state(self, key: str, day: str) -> RateState:
        return _rate_state(self._get(f"{key}#BUDGET", f"d{day}"))

    # -- bulk jobs -----------------------------------------------------------------------------
    def put_job(self, tenant_id: str, job_id: str, total: int, data: dict[str, Any]) -> None:
        self._call(
            "put_item",
            Item={
                "PK": _s(tenant_pk(tenant_id)),
                "SK": _s(f"JOB#{job_id}"),
                "total": _n(total),
                "done": _n(0),
                "failed": _n(0),
                "data": _s(json.dumps(data, default=str)),
                "created_at": _s(utcnow().isoformat()),
            },
            ConditionExpression="attribute_not_exists(PK)",
        )

    def add_job_progress(self, tenant_id: str, job_id: str, page: int, done: int, failed: int) -> bool:
        """Count a finished page on its job, once: a page marker and the atomic counters in one
        transaction, so a page applied twice (redelivered, or crashed before its delete) is not counted
        twice, and pages finishing on parallel workers never lose progress. False: counted before."""
        pk = _s(tenant_pk(tenant_id))
        self.ops += 1
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {"PK": pk, "SK": _s(f"JOB#{job_id}#PAGE#{page:06d}"), "done": _n(done)},
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": {"PK": pk, "SK": _s(f"JOB#{job_id}")},
                            "UpdateExpression": "ADD done :d, failed :f SET updated_at = :t",
                            "ExpressionAttributeValues": {
                                ":d": _n(done),
                                ":f": _n(failed),
                                ":t": _s(utcnow().isoformat()),
                            },
                        }
                    },
                ],
            )
        except ClientError as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons") or []]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                return False  # this page was counted before
            # TransactionConflict (another page's update at the same moment), throttling: retry.
            raise StoreError(f"add_job_progress: {exc.response.get('Error', {}).get('Code')}") from exc
        return True

    def get_job(self, tenant_id: str, job_id: str) -> dict[str, Any] | None:
        item = self._get(tenant_pk(tenant_id), f"JOB#{job_id}")
        if item is None:
            return None
        return {
            "job_id": job_id,
            "total": int(item["total"]["N"]),
            "done": int(item["done"]["N"]),
            "failed": int(item["failed"]["N"]),
            "created_at": item["created_at"]["S"],
            "updated_at": item.get("updated_at", item["created_at"])["S"],
            **json.loads(item["data"]["S"]),
        }

    # -- parked --------------------------------------------------------------------------------
    def park(self, tenant_id: str, entry: dict[str, Any], key: str | None = None) -> str:
        """Park an item; with ``key`` one item per key (a record refused again updates its entry)."""
        parked_id = key or f"{utcnow().isoformat()}#{uuid.uuid4().hex[:12]}"
        self._call(
            "update_item",
            Key={"PK": _s(tenant_pk(tenant_id)), "SK": _s(f"PARKED#{parked_id}")},
            UpdateExpression="SET #d = :d, parked_at = :t ADD attempts :one",
            ExpressionAttributeNames={"#d": "data"},
            ExpressionAttributeValues={
                ":d": _s(json.dumps(entry, default=str)),
                ":t": _s(utcnow().isoformat()),
                ":one": _n(1),
            },
        )
        return parked_id

    def get_parked(self, tenant_id: str, parked_id: str) -> dict[str, Any] | None:
        item = self._get(tenant_pk(tenant_id), f"PARKED#{parked_id}")
        return self._parked_view(item) if item else None

    def unpark(self, tenant_id: str, parked_id: str) -> None:
        self._call("delete_item", Key={"PK": _s(tenant_pk(tenant_id)), "SK": _s(f"PARKED#{parked_id}")})

    def parked(self, tenant_id: str) -> list[dict[str, Any]]:
        return [self._parked_view(i) for i in self._query(tenant_pk(tenant_id), "PARKED#")]

    @staticmethod
    def _parked_view(item: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": item["SK"]["S"].removeprefix("PARKED#"),
            "attempts": int(item.get("attempts", {"N": "1"})["N"]),
            "parked_at": item.get("parked_at", {}).get("S"),
            **json.loads(item["data"]["S"]),
        }

    # -- connection state (``CONNSTATE#<connection>``: ok / needs_attention, see crmsync/health.py) ---
    # Read with BatchGetItem and written with UpdateItem only: every function that syncs has both rights.
    def connection_states(self, tenant_id: str, connection_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The stored state of these connections (a connection without an item is ``ok``)."""
        keys = {(tenant_pk(tenant_id), f"CONNSTATE#{c}") for c in connection_ids}
        if not keys:
            return {}
        found = self._batch_get(keys)
        return {
            sk.removeprefix("CONNSTATE#"): json.loads(item["data"]["S"]) for (_, sk), item in found.items()
        }

    def connection_failed(
        self, tenant_id: str, connection_id: str, state: dict[str, Any], since: str
    ) -> dict[str, Any]:
        """Record a failure of a connection (``state`` without ``since``); returns the stored state."""
        current = self.connection_states(tenant_id, [connection_id]).get(connection_id) or {}
        if current.get("state") == "needs_attention" and current.get("since"):
            since = str(current["since"])
        stored = {**state, "since": since}
        self._call(
            "update_item",
            Key={"PK": _s(tenant_pk(tenant_id)), "SK": _s(f"CONNSTATE#{connection_id}")},
            UpdateExpression="SET #d = :d",
            ExpressionAttributeNames={"#d": "data"},
            ExpressionAttributeValues={":d": _s(json.dumps(stored, default=str))},
        )
        return stored

    def connection_ok(self, tenant_id: str, connection_id: str, at: str) -> None:
        """The connection works again (only written when it was marked otherwise)."""
        self._call(
            "update_item",
            Key={"PK": _s(tenant_pk(tenant_id)), "SK": _s(f"CONNSTATE#{connection_id}")},
            UpdateExpression="SET #d = :d",
            ExpressionAttributeNames={"#d": "data"},
            ExpressionAttributeValues={":d": _s(json.dumps({"state": "ok", "since": at}))},
        )


def _failed_item(exc: VersionConflict) -> dict[str, Any] | None:
    """The item as it was when a condition failed (``ReturnValuesOnConditionCheckFailure=ALL_OLD``)."""
    cause = exc.__cause__
    item = cause.response.get("Item") if isinstance(cause, ClientError) else None
    return item if isinstance(item, dict) else None


def _rate_state(item: dict[str, Any] | None) -> RateState:
    if not item:
        return RateState()

    def number(name: str) -> int:
        return int(item[name]["N"]) if name in item else 0

    return RateState(
        today=number("used"),
        window=number("w") if "w" in item else None,
        in_window=number("wused"),
        previous_window=number("pw") or None,
        in_previous=number("pused"),
    )

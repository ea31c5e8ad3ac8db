"""Counting every AWS request of the bench's process: DynamoDB item operations and capacity units,
SQS requests and the rest (``count_aws``), for the cost model and ``ddb_ops_per_edit``."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import botocore.client

READ_OPS = {"GetItem", "BatchGetItem", "Query", "Scan"}
WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


@dataclass
class AwsCounter:
    """Every AWS request this process makes, with DynamoDB item counts and capacity units."""

    requests: Counter[str] = field(default_factory=Counter)
    items: int = 0
    read_units: float = 0.0
    write_units: float = 0.0
    op_items: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    """Item operations per operation and item kind (``PutItem REC``, ``BatchGetItem LINK``, ...)."""
    stop: Callable[[], None] = field(default=lambda: None, repr=False, compare=False)
    """Stop counting and undo ``count_aws``'s patch (``count_aws`` sets it; safe to call twice)."""

    def __enter__(self) -> AwsCounter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def snapshot(self) -> AwsCounter:
        return AwsCounter(
            Counter(self.requests),
            self.items,
            self.read_units,
            self.write_units,
            Counter(self.op_items),
            Counter(self.kinds),
        )

    def minus(self, before: AwsCounter) -> AwsCounter:
        return AwsCounter(
            self.requests - before.requests,
            self.items - before.items,
            self.read_units - before.read_units,
            self.write_units - before.write_units,
            self.op_items - before.op_items,
            self.kinds - before.kinds,
        )

    def record(self, op: str, params: dict[str, Any], answer: dict[str, Any]) -> None:
        self.requests[op] += 1
        before = self.items
        self._count(op, params, answer)
        self.op_items[op] += self.items - before
        for key in _keys(op, params):
            self.kinds[f"{op} {_kind(key)}"] += 1

    def _count(self, op: str, params: dict[str, Any], answer: dict[str, Any]) -> None:
        if op == "GetItem":
            self._read([answer.get("Item")], 1)
        elif op == "BatchGetItem":
            keys = sum(len(t["Keys"]) for t in params.get("RequestItems", {}).values())
            found = [i for items in answer.get("Responses", {}).values() for i in items]
            unprocessed = sum(len(t["Keys"]) for t in (answer.get("UnprocessedKeys") or {}).values())
            self._read(found, keys - unprocessed)
        elif op in ("Query", "Scan"):
            items = answer.get("Items", [])
            self.items += max(1, len(items))
            self.read_units += max(1, math.ceil(sum(_size(i) for i in items) / 4096))
        elif op == "UpdateItem":
            self._write([answer.get("Attributes") or params.get("Key")], 1)
        elif op in ("PutItem", "DeleteItem"):
            self._write([params.get("Item") or params.get("Key")], 1)
        elif op == "BatchWriteItem":
            puts = [
                r.get("PutRequest", {}).get("Item") or r.get("DeleteRequest", {}).get("Key")
                for rs in params.get("RequestItems", {}).values()
                for r in rs
            ]
            self._write(puts, 1)
        elif op == "TransactWriteItems":
            parts = [next(iter(t.values())) for t in params.get("TransactItems", [])]
            self._write([p.get("Item") or p.get("Key") for p in parts], 2)

    def _read(self, items: list[Any], keys: int) -> None:
        self.items += keys
        sizes = [_size(i) for i in items if i]
        # strongly consistent: 1 RRU per 4 KB per item; a missing key still costs one unit
        self.read_units += sum(max(1, math.ceil(s / 4096)) for s in sizes) + max(0, keys - len(sizes))

    def _write(self, items: list[Any], factor: int) -> None:
        self.items += len(items)
        self.write_units += factor * sum(max(1, math.ceil(_size(i) / 1024)) for i in items if i is not None)

    @property
    def sqs_requests(self) -> int:
        return sum(n for op, n in self.requests.items() if op.endswith("Message") or "MessageBatch" in op)


def _keys(op: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The items or keys a DynamoDB request names (empty for queries and other services)."""
    if op in ("GetItem", "DeleteItem", "UpdateItem"):
        return [params.get("Key") or {}]
    if op == "PutItem":
        return [params.get("Item") or {}]
    if op == "BatchGetItem":
        return [k for t in params.get("RequestItems", {}).values() for k in t["Keys"]]
    if op == "BatchWriteItem":
        return [
            r.get("PutRequest", {}).get("Item") or r.get("DeleteRequest", {}).get("Key") or {}
            for rs in params.get("RequestItems", {}).values()
            for r in rs
        ]
    if op == "TransactWriteItems":
        return [
            p.get("Item") or p.get("Key") or {} for t in params.get("TransactItems", []) for p in t.values()
        ]
    return []


def _kind(key: dict[str, Any]) -> str:
    """``REC``, ``LINK``, ``LOG``, ... from the sort key; ``idempotency`` for Powertools' records."""
    sk = key.get("SK", {}).get("S")
    if sk is None:
        return "idempotency" if "id" in key else "other"
    return str(sk).split("#", 1)[0]


def _size(item: Any) -> int:
    """An item's size as DynamoDB bills it: attribute names plus values (binary by its bytes)."""
    if not item:
        return 0
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        return len(str(raw)) // 2 + 1
    if kind == "B":
        return len(raw) if isinstance(raw, bytes) else len(str(raw)) * 3 // 4
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in raw.items())
    return 1 if kind in ("BOOL", "NULL") else len(json.dumps(raw, default=str))


def count_aws() -> AwsCounter:
    """Count every boto3 request made in this process (handlers, the pump, the stack) until ``stop()``.

    Use it as ``with count_aws() as counter:`` (or call ``counter.stop()`` in a ``finally``): stopping
    puts back the ``_make_api_call`` that was there before (another wrapper, or botocore's own). If
    something wrapped it again in the meantime, that wrapper stays and this one just stops counting.
    """
    counter = AwsCounter()
    original = botocore.client.BaseClient._make_api_call
    active = True

    def counted(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if not active:
            return original(self, operation, params)
        # DynamoDB bills an update by the size of the whole item (the larger of before and after), which
        # the request does not show: ask for the item after it, count it, and hand back what was asked.
        peek = operation == "UpdateItem" and "ReturnValues" not in params
        answer = original(self, operation, {**params, "ReturnValues": "ALL_NEW"} if peek else params)
        if self.meta.service_model.service_name != "dynamodbstreams":  # Lambda's stream reads are free
            counter.record(operation, params, answer if isinstance(answer, dict) else {})
        if peek and isinstance(answer, dict):
            answer.pop("Attributes", None)
        return answer

    def stop() -> None:
        nonlocal active
        active = False
        if botocore.client.BaseClient.__dict__.get("_make_api_call") is counted:
            restore = original
            # A counter stopped while this one wrapped it has nothing left to do: skip it too.
            while (state := getattr(restore, "_count_aws_state", None)) is not None and not state()[0]:
                restore = state()[1]
            botocore.client.BaseClient._make_api_call = restore  # type: ignore[method-assign]

    counted._count_aws_state = lambda: (active, original)  # type: ignore[attr-defined]
    botocore.client.BaseClient._make_api_call = counted  # type: ignore[method-assign]
    counter.stop = stop
    return counter

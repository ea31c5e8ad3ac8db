"""moto's server, with DynamoDB stream appends made thread-safe; ``MotoServerProcess`` runs this module.

Why: moto numbers a table's stream records from the length of its record list
(``StreamShard.add``: ``seq = len(self.items) + start``, then builds the record, then appends it),
without a lock, and its werkzeug server is threaded. Two concurrent writes to one table can then get
the same sequence number; when the duplicate is the shard's last record, every ``GetRecords`` from
an iterator after it returns that record again (moto reads records by list position, and the next
iterator starts after the highest sequence number it returned), so a poller that reads until an empty
page spins forever. Serializing ``add`` makes the numbers unique and increasing, in list
order, as DynamoDB Streams' are.

And a rolled-back ``TransactWriteItems`` keeps its tables' streams: moto rolls back by swapping in
deep copies of the tables, stream shard included, so every shard iterator already handed out kept
reading the old shard and the stream went silent for good after the first cancelled transaction (a
409 on ``PUT /config``, say). ``keep_streams_across_rollbacks`` puts the live shard back on the restored
table and drops the records the cancelled transaction appended (DynamoDB emits none for it).

Run as ``python -m local.moto_server -H 127.0.0.1 -p PORT`` (the arguments are moto's server's).
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from typing import Any

# One lock for every shard: moto deep-copies whole tables (shard included) to roll a transaction
# back, so a lock kept on the shard would break TransactWriteItems, and per-object locks would be
# lost on the copy. Appends are short; the server is GIL-bound anyway.
_APPEND_LOCK = threading.RLock()
_PATCHED_ATTR = "_crmsync_serialized"


def serialize_stream_appends(shard_class: Any = None) -> Callable[..., Any]:
    """Serialize ``shard_class.add`` (moto's ``StreamShard`` by default) with one lock; idempotent.

    Returns the method that was there before (to undo it: ``shard_class.add = returned``).
    """
    if shard_class is None:
        from moto.dynamodb.models.table import StreamShard

        shard_class = StreamShard
    previous: Callable[..., Any] = shard_class.add
    if getattr(previous, _PATCHED_ATTR, False):
        return previous

    @functools.wraps(previous)
    def add(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _APPEND_LOCK:
            return previous(self, *args, **kwargs)

    setattr(add, _PATCHED_ATTR, True)
    shard_class.add = add
    return previous


def keep_streams_across_rollbacks(backend_class: Any = None) -> Callable[..., Any]:
    """Wrap ``backend_class.transact_write_items`` (moto's ``DynamoDBBackend``) so a rollback keeps the
    live stream shards (see the module doc); idempotent. Returns the method that was there before."""
    if backend_class is None:
        from moto.dynamodb.models import DynamoDBBackend

        backend_class = DynamoDBBackend
    previous: Callable[..., Any] = backend_class.transact_write_items
    if getattr(previous, _PATCHED_ATTR, False):
        return previous

    @functools.wraps(previous)
    def transact_write_items(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _APPEND_LOCK:  # no other append while it runs: what it appended is exactly the tail
            live = {
                name: (table, table.stream_shard, len(table.stream_shard.items))
                for name, table in self.tables.items()
                if getattr(table, "stream_shard", None) is not None
            }
            try:
                return previous(self, *args, **kwargs)
            except Exception:
                for name, (table, shard, length) in live.items():
                    restored = self.tables.get(name)
                    if restored is not None and restored is not table:
                        del shard.items[length:]
                        shard.table = restored
                        restored.stream_shard = shard
                raise

    setattr(transact_write_items, _PATCHED_ATTR, True)
    backend_class.transact_write_items = transact_write_items
    return previous


def main(argv: list[str] | None = None) -> int:
    # HTTP/1.1 keep-alive (werkzeug answers HTTP/1.0 by default: one TCP connection per AWS call).
    from werkzeug.serving import WSGIRequestHandler

    WSGIRequestHandler.protocol_version = "HTTP/1.1"
    serialize_stream_appends()
    keep_streams_across_rollbacks()
    from moto.server import main as moto_main

    moto_main(sys.argv[1:] if argv is None else argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Lambda's DynamoDB Streams event source mapping, played locally (``LocalStack.pump_stream``).

The pieces are plain functions and a small state object, so they are tested without a stack:

- ``ShardCursor``: the read position in one shard and what was taken from it. ``take`` keeps each
  distinct record (by ``eventID``) exactly once, in numeric ``SequenceNumber`` order, however often a
  read returns it (moto once handed out the same record on every read; see ``local/moto_server.py``).
- ``read_shard``: reads pages until one brings nothing new, filters, fills batches of ``BatchSize``
  and hands them to ``deliver``; every page checks the run's deadline and raises ``TimeoutError``
  instead of spinning.
- ``deliver_batch``: one batch through the function with the mapping's failure handling, as Lambda
  does for a stream source: on a function error the batch is bisected (``BisectBatchOnFunctionError``;
  splitting uses no retry) and the halves are retried in order; on ``batchItemFailures``
  (``ReportBatchItemFailures``) the records before the lowest failed sequence number are done and
  the rest are retried; after ``MaximumRetryAttempts`` retries the failing records' batch is described
  to the on-failure destination (``DDBStreamBatchInfo``, condition ``RetryAttemptsExhausted``) and the
  shard moves on. Nothing is dropped silently and nothing is retried forever: unlimited retries
  (``-1`` / unset) end at the deadline with ``TimeoutError``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from local.lambda_runtime import stream_event
from local.template_resources import LOCAL_ACCOUNT_ID, FunctionSpec, LocalResources, StreamEventSpec

log = logging.getLogger("local.stream")

Record = dict[str, Any]

DEFAULT_PUMP_TIMEOUT = 3600.0
"""Bound of one ``pump_stream`` call that was given no deadline (``run_until_idle`` passes its own)."""
RETRY_DELAY = 0.2
"""Pause before a failed batch is retried (Lambda backs off; locally short)."""
SEEN_HORIZON = 10_000
"""Event ids of records this many sequence numbers below the highest taken are forgotten."""


def sequence_number(record: Mapping[str, Any]) -> int:
    return int(record["dynamodb"]["SequenceNumber"])


def check_deadline(deadline: float | None, what: str) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise TimeoutError(f"deadline passed: {what}")


@dataclass
class ShardCursor:
    """Where the poller is in one shard, and which records it has already taken from it."""

    shard_id: str
    iterator: str | None = None
    highest: int = -1
    """The highest sequence number taken (delivered, or handed to the on-failure destination)."""
    taken: int = 0
    duplicates: int = 0
    """Records a read returned again (same ``eventID``), skipped."""
    _seen: dict[str, int] = field(default_factory=dict, repr=False)

    def take(self, records: Iterable[Record]) -> list[Record]:
        """The records not taken before, ordered by numeric sequence number (stable for equal ones)."""
        fresh: list[Record] = []
        for record in records:
            key = str(record.get("eventID") or f"seq:{record['dynamodb']['SequenceNumber']}")
            if key in self._seen:
                self.duplicates += 1
                continue
            seq = sequence_number(record)
            self._seen[key] = seq
            self.highest = max(self.highest, seq)
            fresh.append(record)
        fresh.sort(key=sequence_number)
        self.taken += len(fresh)
        if len(self._seen) > 2 * SEEN_HORIZON:
            floor = self.highest - SEEN_HORIZON
            self._seen = {k: s for k, s in self._seen.items() if s >= floor}
        return fresh


def read_shard(
    cursor: ShardCursor,
    get_records: Callable[[str], Mapping[str, Any]],
    *,
    accepts: Callable[[Record], bool],
    batch_size: int,
    deliver: Callable[[list[Record]], int],
    deadline: float | None,
    max_pages: int | None = None,
) -> int:
    """Read ``cursor``'s shard until a page brings nothing new; returns what ``deliver`` reported.

    ``cursor.iterator`` must be set. Like Lambda's poller, records are filtered first and batches of
    ``batch_size`` are filled across reads; a short batch is delivered when the shard has no more.
    """
    pending: list[Record] = []
    delivered = 0
    pages = 0
    while cursor.iterator is not None:
        check_deadline(
            deadline,
            f"reading stream shard {cursor.shard_id} (page {pages + 1}, {cursor.taken} records taken, "
            f"highest sequence number {cursor.highest}, {cursor.duplicates} repeated records skipped)",
        )
        if max_pages is not None and pages >= max_pages:
            raise TimeoutError(
                f"stream shard {cursor.shard_id} still brought new records after {pages} pages"
            )
        page = get_records(cursor.iterator)
        pages += 1
        cursor.iterator = page.get("NextShardIterator")  # None: the shard is closed
        fresh = cursor.take(page.get("Records") or [])
        pending += [r for r in fresh if accepts(r)]
        last = not fresh or cursor.iterator is None
        while len(pending) >= batch_size or (pending and last):
            batch, pending = pending[:batch_size], pending[batch_size:]
            delivered += deliver(batch)
        if last:
            break
    return delivered


@dataclass
class BatchOutcome:
    processed: int = 0
    """Records that left the batch: acknowledged by the function or sent to the on-failure destination."""
    invocations: int = 0
    failed_invocations: int = 0
    discarded: int = 0
    """Records whose retries ran out (described to the on-failure destination, or logged without one)."""
    on_failure: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Chunk:
    records: list[Record]
    retries: int = 0
    invocations: int = 0


def _failed_sequence(result: Any, records: list[Record]) -> int | None:
    """Lowest failed sequence number of a partial batch response; -1 for a complete failure."""
    failures = result.get("batchItemFailures") if isinstance(result, Mapping) else None
    if not failures:
        return None
    known = {sequence_number(r) for r in records}
    lowest: int | None = None
    for failure in failures:
        ident = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
        try:
            seq = int(str(ident))
        except ValueError:
            return -1  # empty, null or malformed identifier: Lambda treats the batch as failed
        if seq not in known:
            return -1
        lowest = seq if lowest is None else min(lowest, seq)
    return lowest


def _iso(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    elif isinstance(value, int | float):
        moment = dt.datetime.fromtimestamp(value, tz=dt.UTC)
    else:
        return None if value is None else str(value)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def function_arn(stream_arn: str, function_name: str) -> str:
    """The function's ARN in the stream's region and account (``arn:aws:dynamodb:REGION:ACCOUNT:...``)."""
    parts = stream_arn.split(":")
    region = parts[3] if len(parts) > 4 and parts[3] else "us-east-1"
    account = parts[4] if len(parts) > 4 and parts[4] else LOCAL_ACCOUNT_ID
    return f"arn:aws:lambda:{region}:{account}:function:{function_name}"


def on_failure_record(
    records: list[Record],
    *,
    shard_id: str,
    stream_arn: str,
    function_arn: str,
    invoke_count: int,
    function_error: bool,
    condition: str = "RetryAttemptsExhausted",
) -> dict[str, Any]:
    """What Lambda sends to a stream mapping's on-failure destination (the records themselves are not in it)."""
    now = dt.datetime.now(dt.UTC)
    response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if function_error:
        response["functionError"] = "Unhandled"
    return {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "responseContext": response,
        "version": "1.0",
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": str(records[0]["dynamodb"]["SequenceNumber"]),
            "endSequenceNumber": str(records[-1]["dynamodb"]["SequenceNumber"]),
            "approximateArrivalOfFirstRecord": _iso(
                records[0]["dynamodb"].get("ApproximateCreationDateTime")
            ),
            "approximateArrivalOfLastRecord": _iso(
                records[-1]["dynamodb"].get("ApproximateCreationDateTime")
            ),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
    }


def deliver_batch(
    batch: list[Record],
    *,
    invoke: Callable[[list[Record]], Any],
    source: StreamEventSpec,
    send_on_failure: Callable[[dict[str, Any]], None] | None,
    shard_id: str,
    stream_arn: str,
    function_arn: str,
    deadline: float | None,
    retry_delay: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BatchOutcome:
    """Deliver one batch (ordered by sequence number) with the mapping's retry rules; see the module doc."""
    max_retries = source.maximum_retry_attempts
    delay = RETRY_DELAY if retry_delay is None else retry_delay
    unlimited = max_retries is None or max_retries < 0
    outcome = BatchOutcome()
    work = [_Chunk(list(batch))] if batch else []  # a stack: the front of the shard on top
    while work:
        chunk = work.pop()
        check_deadline(
            deadline,
            f"delivering stream records {chunk.records[0]['dynamodb']['SequenceNumber']}.."
            f"{chunk.records[-1]['dynamodb']['SequenceNumber']} of shard {shard_id} "
            f"(retry {chunk.retries}, {outcome.invocations} invocations so far)",
        )
        chunk.invocations += 1
        outcome.invocations += 1
        error: BaseException | None = None
        try:
            result = invoke(chunk.records)
        except Exception as exc:  # a function error, as Lambda sees an unhandled exception
            error, result = exc, None
        failed_from = None if error else _failed_sequence(result, chunk.records)
        if not source.report_batch_item_failures and error is None:
            failed_from = None  # Lambda ignores the response unless the mapping asks for it
        if error is None and failed_from is None:
            outcome.processed += len(chunk.records)
            continue
        outcome.failed_invocations += 1
        function_error = error is not None or failed_from == -1
        if function_error:
            log.warning(
                "stream batch of %d records (from %s) failed: %s",
                len(chunk.records),
                chunk.records[0]["dynamodb"]["SequenceNumber"],
                error if error is not None else "invalid batchItemFailures",
                exc_info=error,
            )
            if source.bisect_on_error and len(chunk.records) > 1:
                half = len(chunk.records) // 2
                work.append(_Chunk(chunk.records[half:], chunk.retries))
                work.append(_Chunk(chunk.records[:half], chunk.retries))
                continue
            remaining = chunk.records
        else:
            assert failed_from is not None
            remaining = [r for r in chunk.records if sequence_number(r) >= failed_from]
            outcome.processed += len(chunk.records) - len(remaining)
        if unlimited or chunk.retries < (max_retries or 0):
            if delay > 0:
                left = None if deadline is None else deadline - time.monotonic()
                sleep(delay if left is None else max(0.0, min(delay, left)))
            work.append(_Chunk(remaining, chunk.retries + 1, chunk.invocations))
            continue
        # Retries used up: describe the records to the on-failure destination and move on.
        outcome.processed += len(remaining)
        outcome.discarded += len(remaining)
        info = on_failure_record(
            remaining,
            shard_id=shard_id,
            stream_arn=stream_arn,
            function_arn=function_arn,
            invoke_count=chunk.invocations,
            function_error=function_error,
        )
        outcome.on_failure.append(info)
        if send_on_failure is None:
            log.error(
                "stream records discarded after %d retries, no on-failure destination: %s",
                chunk.retries,
                info,
            )
        else:
            log.warning("stream records sent to the on-failure destination: %s", info["DDBStreamBatchInfo"])
            send_on_failure(info)
    return outcome


class StreamPump:
    """The push function's stream mapping, played locally: shards read with the function's role,
    batches filtered and delivered with the template's bisect / retry / on-failure rules."""

    def __init__(
        self,
        streams: Any,
        sqs: Any,
        spec: FunctionSpec,
        resources: LocalResources,
        *,
        invoke: Callable[[dict[str, Any]], Any],
        as_function: Callable[[Callable[[], Any]], Any],
        stats: Any,
    ) -> None:
        self.streams = streams
        self.sqs = sqs
        self.spec = spec
        self.resources = resources
        self.invoke = invoke
        self.as_function = as_function
        """Runs an AWS call as the function's role (the poller's reads and its on-failure sends)."""
        self.stats = stats
        self.cursors: dict[str, ShardCursor] = {}

    def _stream_cursor(self, shard_id: str) -> ShardCursor:
        """Read state of one shard (created on first use, kept for the stack's life)."""
        return self.cursors.setdefault(shard_id, ShardCursor(shard_id))

    def pump(self, deadline: float | None = None) -> int:
        """Read new stream records and deliver the accepted ones to the push function.

        Each distinct record (``eventID``) is delivered once; a shard's read ends at a page that brings
        nothing new; failures are retried as the template's mapping says (``local.stream_poller``).
        Raises ``TimeoutError`` past ``deadline`` (``time.monotonic()``; default: an hour from now).
        """
        spec = self.spec
        source = spec.streams[0]
        arn = self.resources.stream_arns[source.table_id]
        if deadline is None:
            deadline = time.monotonic() + DEFAULT_PUMP_TIMEOUT
        shards = self.as_function(lambda: self.streams.describe_stream(StreamArn=arn))["StreamDescription"][
            "Shards"
        ]
        delivered = 0
        for shard in shards:
            sid = shard["ShardId"]
            cursor = self._stream_cursor(sid)
            if cursor.iterator is None and cursor.taken == 0:
                cursor.iterator = self.as_function(
                    lambda sid=sid: self.streams.get_shard_iterator(
                        StreamArn=arn, ShardId=sid, ShardIteratorType="TRIM_HORIZON"
                    ),
                )["ShardIterator"]

            def get_records(iterator: str) -> dict[str, Any]:
                page: dict[str, Any] = self.as_function(
                    lambda: self.streams.get_records(ShardIterator=iterator, Limit=1000)
                )
                return page

            delivered += read_shard(
                cursor,
                get_records,
                accepts=source.accepts,
                batch_size=source.batch_size,
                deliver=lambda batch, sid=sid: self._deliver(batch, arn, shard_id=sid, deadline=deadline),
                deadline=deadline,
            )
        return delivered

    def _deliver(
        self,
        batch: list[dict[str, Any]],
        arn: str,
        *,
        shard_id: str = "",
        deadline: float | None = None,
    ) -> int:
        """One batch through the push function with the mapping's bisect / retry / on-failure rules."""
        spec = self.spec
        source = spec.streams[0]

        def invoke(records: list[dict[str, Any]]) -> Any:
            self.stats.push_invocations += 1
            self.stats.stream_records += len(records)
            return self.invoke(stream_event(records, arn))

        send: Callable[[dict[str, Any]], None] | None = None
        if source.on_failure_queue_id:
            url = self.resources.queue_urls[source.on_failure_queue_id]

            def send(info: dict[str, Any]) -> None:
                self.as_function(lambda: self.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(info)))

        outcome = deliver_batch(
            batch,
            invoke=invoke,
            source=source,
            send_on_failure=send,
            shard_id=shard_id,
            stream_arn=arn,
            function_arn=function_arn(arn, spec.logical_id),
            deadline=deadline,
        )
        self.stats.push_failures += outcome.failed_invocations
        return outcome.processed

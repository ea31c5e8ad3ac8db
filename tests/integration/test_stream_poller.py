"""The local stream poller: each record once, every loop bounded, failures handled as Lambda's mapping does.

Most tests drive ``local.stream_poller`` or a ``LocalStack`` that was never started (a fake streams
client in place of ``stack.streams``); the last ones run on a real local stack.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from local import stream_poller
from local.stack import LocalStack
from local.stream_poller import ShardCursor, deliver_batch, read_shard
from local.template_resources import FunctionSpec, StreamEventSpec, function_specs

STREAM_ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/sync/stream/2026-01-01T00:00:00.000"
SHARD = "shardId-00000001-test"
WHEN = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def no_retry_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_poller, "RETRY_DELAY", 0.0)


@pytest.fixture(scope="module")
def push_spec() -> FunctionSpec:
    return next(spec for spec in function_specs().values() if spec.streams)


@pytest.fixture(scope="module")
def source(push_spec: FunctionSpec) -> StreamEventSpec:
    source = push_spec.streams[0]
    # What template.yaml says for PushOnChange; the tests below rely on it.
    assert source.bisect_on_error and source.report_batch_item_failures
    assert source.maximum_retry_attempts == 5 and source.on_failure_queue_id
    return source


def record(key: str, seq: int, event_id: str | None = None, *, origin: str = "test") -> dict[str, Any]:
    """A stream record as boto3 returns it, accepted by the template's filter."""
    return {
        "eventID": event_id or uuid.uuid4().hex,
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "ApproximateCreationDateTime": WHEN,
            "Keys": {"PK": {"S": "TENANT#t"}, "SK": {"S": f"REC#{key}"}},
            "NewImage": {"PK": {"S": "TENANT#t"}, "SK": {"S": f"REC#{key}"}, "origin": {"S": origin}},
            "SequenceNumber": str(seq),
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }


def key_of(rec: dict[str, Any]) -> str:
    return str(rec["dynamodb"]["Keys"]["SK"]["S"]).removeprefix("REC#")


class FakeStreams:
    """moto's stream reads: records by list position from ``seq - start``, the next iterator after the
    highest sequence number returned. A repeated sequence number as the last record is then returned
    by every read (what moto's unlocked appends produced)."""

    def __init__(self, start: int = 100) -> None:
        self.start = start
        self.records: list[dict[str, Any]] = []
        self.reads = 0
        self.endless = False
        self.guard: threading.local | None = None

    def add(self, key: str, seq: int | None = None) -> dict[str, Any]:
        rec = record(key, self.start + len(self.records) if seq is None else seq)
        self.records.append(rec)
        return rec

    def _check(self) -> None:
        if self.guard is not None:
            assert getattr(self.guard, "inside", False), "a stream call outside _as_function"

    def describe_stream(self, StreamArn: str) -> dict[str, Any]:
        self._check()
        return {"StreamDescription": {"StreamArn": StreamArn, "Shards": [{"ShardId": SHARD}]}}

    def get_shard_iterator(self, StreamArn: str, ShardId: str, ShardIteratorType: str) -> dict[str, Any]:
        self._check()
        assert ShardId == SHARD and ShardIteratorType == "TRIM_HORIZON"
        return {"ShardIterator": f"at:{self.start}"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        self._check()
        self.reads += 1
        if self.endless:  # a stream that always has more
            self.add(f"more-{self.reads}")
        at = int(ShardIterator.split(":")[1])
        items = self.records[at - self.start : at - self.start + Limit]
        after = max(int(r["dynamodb"]["SequenceNumber"]) for r in items) + 1 if items else at
        return {"Records": copy.deepcopy(items), "NextShardIterator": f"at:{after}"}


class FakeSqs:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.guard: threading.local | None = None

    def send_message(self, QueueUrl: str, MessageBody: str) -> dict[str, Any]:
        if self.guard is not None:
            assert getattr(self.guard, "inside", False), "the on-failure send outside _as_function"
        self.sent.append((QueueUrl, json.loads(MessageBody)))
        return {"MessageId": uuid.uuid4().hex}


class PushFake:
    """Stands in for the push function: records what it was given, raises on ``bad`` keys."""

    def __init__(self, bad: set[str] | None = None) -> None:
        self.bad = bad or set()
        self.calls: list[list[str]] = []
        self.acknowledged: list[str] = []

    def __call__(self, records: list[dict[str, Any]]) -> Any:
        keys = [key_of(r) for r in records]
        self.calls.append(keys)
        if self.bad & set(keys):
            raise RuntimeError(f"cannot push {sorted(self.bad & set(keys))}")
        self.acknowledged += keys
        return {"batchItemFailures": []}


# -- the pieces ------------------------------------------------------------------------------------


def test_cursor_takes_each_distinct_record_once_in_sequence_order() -> None:
    cursor = ShardCursor(SHARD)
    a, b, c = record("a", 7), record("b", 7), record("c", 12)  # a and b share a sequence number
    assert [key_of(r) for r in cursor.take([c, a, b])] == ["a", "b", "c"], "numeric order, ties kept"
    assert cursor.take([b, c]) == [], "seen before: skipped"
    late = record("late", 5)  # a distinct record below the highest taken is still new
    assert cursor.take([c, late]) == [late]
    assert (cursor.highest, cursor.taken, cursor.duplicates) == (12, 4, 3)
    assert [key_of(r) for r in cursor.take([record("x", 100), record("y", 99)])] == ["y", "x"], (
        "ordered as numbers (99 < 100), not as strings"
    )


def test_read_shard_ends_when_moto_keeps_returning_the_last_record() -> None:
    streams = FakeStreams()
    streams.add("a")
    streams.add("b", seq=streams.start)  # same sequence number as "a": every later read returns "b"
    cursor = ShardCursor(SHARD, iterator=f"at:{streams.start}")
    batches: list[list[str]] = []

    def deliver(batch: list[dict[str, Any]]) -> int:
        batches.append([key_of(r) for r in batch])
        return len(batch)

    def read() -> int:
        return read_shard(
            cursor,
            lambda it: streams.get_records(ShardIterator=it, Limit=1000),
            accepts=lambda r: True,
            batch_size=100,
            deliver=deliver,
            deadline=time.monotonic() + 5,
        )

    assert read() == 2 and batches == [["a", "b"]]
    assert streams.reads == 2, "the read that brought only 'b' again ended it"
    assert read() == 0, "nothing new: nothing delivered, and the read ends"
    streams.add("c")
    assert read() == 1 and batches[-1] == ["c"]


def test_read_shard_gives_up_at_the_deadline_on_a_stream_that_never_ends() -> None:
    streams = FakeStreams()
    streams.endless = True
    cursor = ShardCursor(SHARD, iterator=f"at:{streams.start}")
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=f"reading stream shard {SHARD}"):
        read_shard(
            cursor,
            lambda it: streams.get_records(ShardIterator=it, Limit=1000),
            accepts=lambda r: True,
            batch_size=100,
            deliver=len,
            deadline=time.monotonic() + 0.3,
        )
    assert time.monotonic() - started < 2


def deliver(
    batch: list[dict[str, Any]], source: StreamEventSpec, push: Any, **kwargs: Any
) -> stream_poller.BatchOutcome:
    sent: list[dict[str, Any]] = kwargs.pop("sent", [])
    return deliver_batch(
        batch,
        invoke=push,
        source=source,
        send_on_failure=sent.append,
        shard_id=SHARD,
        stream_arn=STREAM_ARN,
        function_arn=stream_poller.function_arn(STREAM_ARN, "PushOnChangeFunction"),
        deadline=kwargs.pop("deadline", time.monotonic() + 10),
        **kwargs,
    )


def test_a_failing_record_is_bisected_out_retried_then_described_to_the_on_failure_queue(
    source: StreamEventSpec,
) -> None:
    batch = [record(f"r{i}", 200 + i) for i in range(10)]
    push = PushFake(bad={"r6"})
    sent: list[dict[str, Any]] = []
    outcome = deliver(batch, source, push, sent=sent)
    good = [f"r{i}" for i in range(10) if i != 6]
    assert push.acknowledged == good, "every other record delivered once, in order"
    alone = [c for c in push.calls if c == ["r6"]]
    assert len(alone) == 1 + 5, "isolated, then retried MaximumRetryAttempts times"
    assert (outcome.processed, outcome.discarded) == (10, 1)
    assert outcome.invocations == len(push.calls)
    (info,) = sent
    assert info["version"] == "1.0" and info["timestamp"].endswith("Z")
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["requestContext"]["approximateInvokeCount"] == 6
    assert info["requestContext"]["functionArn"] == (
        "arn:aws:lambda:eu-west-1:123456789012:function:PushOnChangeFunction"
    )
    assert info["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert info["DDBStreamBatchInfo"] == {
        "shardId": SHARD,
        "startSequenceNumber": "206",
        "endSequenceNumber": "206",
        "approximateArrivalOfFirstRecord": "2026-01-02T03:04:05Z",
        "approximateArrivalOfLastRecord": "2026-01-02T03:04:05Z",
        "batchSize": 1,
        "streamArn": STREAM_ARN,
    }


def test_partial_failures_retry_from_the_lowest_failed_sequence_number(source: StreamEventSpec) -> None:
    batch = [record(f"r{i}", 300 + i) for i in range(6)]
    calls: list[list[str]] = []

    def push(records: list[dict[str, Any]]) -> Any:
        calls.append([key_of(r) for r in records])
        if len(calls) == 1:  # r4 and r2 failed the first time (reported in any order)
            return {"batchItemFailures": [{"itemIdentifier": "304"}, {"itemIdentifier": "302"}]}
        return {"batchItemFailures": []}

    outcome = deliver(batch, source, push)
    assert calls == [[f"r{i}" for i in range(6)], ["r2", "r3", "r4", "r5"]]
    assert (outcome.processed, outcome.discarded, outcome.failed_invocations) == (6, 0, 1)


def test_a_record_that_keeps_failing_partially_ends_on_the_queue_with_the_rest_of_its_batch(
    source: StreamEventSpec,
) -> None:
    batch = [record(f"r{i}", 400 + i) for i in range(4)]
    calls: list[list[str]] = []

    def push(records: list[dict[str, Any]]) -> Any:
        calls.append([key_of(r) for r in records])
        return {"batchItemFailures": [{"itemIdentifier": "401"}]}

    sent: list[dict[str, Any]] = []
    outcome = deliver(batch, source, push, sent=sent)
    assert calls == [["r0", "r1", "r2", "r3"]] + [["r1", "r2", "r3"]] * 5
    (info,) = sent
    assert "functionError" not in info["responseContext"], "the function answered; it did not fail"
    assert info["DDBStreamBatchInfo"]["startSequenceNumber"] == "401"
    assert info["DDBStreamBatchInfo"]["endSequenceNumber"] == "403"
    assert info["DDBStreamBatchInfo"]["batchSize"] == 3
    assert info["requestContext"]["approximateInvokeCount"] == 6
    assert (outcome.processed, outcome.discarded) == (4, 3)


def test_a_malformed_item_identifier_fails_the_whole_batch(source: StreamEventSpec) -> None:
    batch = [record("a", 1), record("b", 2)]
    calls: list[list[str]] = []

    def push(records: list[dict[str, Any]]) -> Any:
        calls.append([key_of(r) for r in records])
        return {"batchItemFailures": [{"itemIdentifier": ""}]} if len(records) > 1 else None

    outcome = deliver(batch, source, push)
    assert calls == [["a", "b"], ["a"], ["b"]], "treated as a function error: bisected"
    assert outcome.discarded == 0


def test_unlimited_retries_stop_at_the_deadline(source: StreamEventSpec) -> None:
    forever = dataclasses.replace(source, maximum_retry_attempts=-1)
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"delivering stream records 7\.\.7"):
        deliver([record("bad", 7)], forever, PushFake(bad={"bad"}), deadline=time.monotonic() + 0.3)
    assert time.monotonic() - started < 2


# -- a LocalStack that was never started: fake streams and queue in place of moto's ----------------


@pytest.fixture
def bare(monkeypatch: pytest.MonkeyPatch, push_spec: FunctionSpec) -> Iterator[SimpleNamespace]:
    """A stack with fake AWS clients; every stream / on-failure call must go through ``_as_function``."""
    stack = LocalStack()
    stack.specs = function_specs()
    source = push_spec.streams[0]
    assert source.on_failure_queue_id is not None
    stack.resources = SimpleNamespace(  # type: ignore[assignment]
        stream_arns={source.table_id: STREAM_ARN},
        queue_urls={source.on_failure_queue_id: "http://sqs/push-failures"},
    )
    guard = threading.local()
    streams, sqs, push = FakeStreams(), FakeSqs(), PushFake()
    streams.guard = sqs.guard = guard
    stack.streams, stack.sqs = streams, sqs
    acting: list[str] = []

    def as_function(spec: FunctionSpec, call: Any) -> Any:
        acting.append(spec.logical_id)
        guard.inside = True
        try:
            return call()
        finally:
            guard.inside = False

    def invoke(spec: FunctionSpec, event: dict[str, Any]) -> Any:
        assert spec.logical_id == push_spec.logical_id
        return push(event["Records"])

    monkeypatch.setattr(stack, "_as_function", as_function)
    monkeypatch.setattr(stack, "_invoke", invoke)
    yield SimpleNamespace(stack=stack, streams=streams, sqs=sqs, push=push, acting=acting)


def test_pump_stream_delivers_each_record_once_when_reads_repeat_records(bare: SimpleNamespace) -> None:
    stack, streams, push = bare.stack, bare.streams, bare.push
    for key in ("a", "b", "c"):
        streams.add(key)
    streams.add("d", seq=streams.start + 2)  # collides with "c": reads from here repeat "d" forever
    streams.add("skip", seq=None)["dynamodb"]["NewImage"]["origin"] = {"S": "base"}  # filtered out
    streams.add("e", seq=streams.start + 3)  # now "e" and "skip" share a number too
    assert stack.pump_stream(deadline=time.monotonic() + 5) == 5
    assert stack.pump_stream(deadline=time.monotonic() + 5) == 0
    streams.add("f")
    assert stack.pump_stream() == 1
    assert push.acknowledged == ["a", "b", "c", "d", "e", "f"]
    assert Counter(bare.acting) == {"PushOnChangeFunction": len(bare.acting)}
    assert stack.stats.push_invocations == 2 and stack.stats.stream_records == 6


def test_pump_stream_sends_a_record_that_keeps_failing_to_the_push_failures_queue(
    bare: SimpleNamespace,
) -> None:
    stack, streams, push = bare.stack, bare.streams, bare.push
    push.bad = {"k3"}
    for i in range(8):
        streams.add(f"k{i}")
    assert stack.pump_stream() == 8
    assert push.acknowledged == ["k0", "k1", "k2", "k4", "k5", "k6", "k7"]
    ((url, info),) = bare.sqs.sent
    assert url == "http://sqs/push-failures"
    assert info["DDBStreamBatchInfo"]["startSequenceNumber"] == str(streams.start + 3)
    assert info["DDBStreamBatchInfo"]["batchSize"] == 1
    assert info["DDBStreamBatchInfo"]["streamArn"] == STREAM_ARN
    assert len(push.calls) == 12, "8 -> 4 (fails) -> 2 + 2 (fails) -> 1 + 1 (fails, 5 retries) -> the last 4"
    assert stack.stats.push_failures == 9 and stack.stats.push_invocations == 12
    assert stack.pump_stream() == 0, "moved on: the bad record is not read again"


def test_run_until_idle_raises_when_the_queue_never_settles(
    bare: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = bare.stack
    monkeypatch.setattr(stack, "flush_webhooks", lambda: None)
    monkeypatch.setattr(stack, "pump_queue", lambda **_: 1)  # something always moves
    started = time.monotonic()
    # The deadline passes either between rounds (the message names what moved) or inside a round's
    # stream read (it names the shard): both end the run in time.
    with pytest.raises(
        TimeoutError, match=r"did not settle in 0.5 s .*(moved 1 queue messages|reading stream shard)"
    ):
        stack.run_until_idle(timeout=0.5)
    assert time.monotonic() - started < 2


def test_run_until_idle_raises_inside_a_stream_read_that_never_ends(
    bare: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = bare.stack
    bare.streams.endless = True
    monkeypatch.setattr(stack, "flush_webhooks", lambda: None)
    monkeypatch.setattr(stack, "pump_queue", lambda **_: 0)
    started = time.monotonic()
    # The deadline passes inside the endless read: while reading the shard, or (on a loaded machine) while
    # delivering a batch of what it read; either names the shard and ends the run in time.
    with pytest.raises(
        TimeoutError, match=f"did not settle in 0.5 s .*(reading stream shard|of shard) {SHARD}"
    ):
        stack.run_until_idle(timeout=0.5)
    assert time.monotonic() - started < 2


# -- a real local stack (moto's server in its own process) -----------------------------------------


@pytest.fixture(scope="module")
def live() -> Iterator[LocalStack]:
    with LocalStack() as stack:
        yield stack


def _put(stack: LocalStack, key: str) -> None:
    assert stack.resources is not None
    stack.dynamodb.put_item(
        TableName=stack.resources.sync_table_name,
        Item={"PK": {"S": "TENANT#poller"}, "SK": {"S": f"REC#{key}"}, "origin": {"S": "test"}},
    )


def test_live_concurrent_writes_reach_the_push_function_once_and_a_bad_one_the_failures_queue(
    live: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    push = PushFake(bad={"w2-7"})
    seen: list[dict[str, Any]] = []

    def invoke(spec: FunctionSpec, event: dict[str, Any]) -> Any:
        seen.extend(event["Records"])
        return push(event["Records"])

    monkeypatch.setattr(live, "_invoke", invoke)
    writers = [
        threading.Thread(target=lambda n=n: [_put(live, f"w{n}-{i}") for i in range(40)]) for n in range(5)
    ]
    for w in writers:
        w.start()
    for w in writers:
        w.join(timeout=60)
    written = {f"w{n}-{i}" for n in range(5) for i in range(40)}
    assert live.pump_stream(deadline=time.monotonic() + 60) == len(written)
    assert sorted(push.acknowledged) == sorted(written - {"w2-7"}), "each record once, none lost"
    numbers = {r["eventID"]: int(r["dynamodb"]["SequenceNumber"]) for r in seen}
    assert len(set(numbers.values())) == len(written), "moto numbered every record once (local.moto_server)"
    assert live.resources is not None
    url = live.resources.queue_urls["PushFailuresQueue"]
    messages = live.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)["Messages"]
    (info,) = (json.loads(m["Body"]) for m in messages)
    bad = next(r for r in seen if key_of(r) == "w2-7")
    assert info["DDBStreamBatchInfo"]["startSequenceNumber"] == bad["dynamodb"]["SequenceNumber"]
    assert info["DDBStreamBatchInfo"]["streamArn"] == live.resources.sync_table_stream_arn
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert live.pump_stream() == 0


def test_live_run_until_idle_stops_a_push_that_keeps_writing_records(
    live: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = iter(range(1_000_000))

    def invoke(spec: FunctionSpec, event: dict[str, Any]) -> Any:
        _put(live, f"echo-{next(writes)}")  # every push makes a record that needs pushing
        return {"batchItemFailures": []}

    monkeypatch.setattr(live, "_invoke", invoke)
    _put(live, "seed")
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="did not settle in 2 s"):
        live.run_until_idle(timeout=2)
    assert time.monotonic() - started < 10

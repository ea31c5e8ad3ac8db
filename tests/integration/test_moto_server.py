"""moto's stream shard numbers records without a lock; ``local.moto_server`` serializes the appends.

The race: ``StreamShard.add`` takes ``len(items)`` as the sequence number, builds the record, then
appends it. Building a record is slowed down here (as a busy threaded server does by chance), so
concurrent writers reliably read the same length.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models import table as moto_table

from local.moto_server import serialize_stream_appends
from local.template_resources import LOCAL_ACCOUNT_ID

REGION = "eu-west-1"
THREADS, WRITES = 8, 10


@pytest.fixture
def shard(monkeypatch: pytest.MonkeyPatch) -> Any:
    class SlowStreamRecord(moto_table.StreamRecord):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            time.sleep(0.002)  # between reading len(items) and appending: other writers get in
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(moto_table, "StreamRecord", SlowStreamRecord)
    with mock_aws():
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        table = dynamodb_backends[LOCAL_ACCOUNT_ID][REGION].get_table("t")
        yield table.stream_shard


def _write_concurrently(shard: Any, prefix: str) -> list[int]:
    """THREADS x WRITES puts into the shard's table at once; the sequence numbers they got, in order."""
    start = threading.Barrier(THREADS)

    def writer(n: int) -> None:
        start.wait()
        for i in range(WRITES):
            shard.table.put_item({"PK": {"S": f"{prefix}-{n}-{i}"}})

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return [int(r.record["dynamodb"]["SequenceNumber"]) for r in shard.items]


def _read_all(shard: Any) -> list[str]:
    """Follow moto's own iterators from the start, as a poller does, for at most 50 pages."""
    from moto.dynamodbstreams.models import ShardIterator

    iterator = ShardIterator(None, shard, "TRIM_HORIZON")  # type: ignore[arg-type]
    keys: list[str] = []
    for _ in range(50):
        items = shard.get(iterator.sequence_number, 1000)
        if not items:
            break
        keys += [r["dynamodb"]["Keys"]["PK"]["S"] for r in items]
        last = max(int(r["dynamodb"]["SequenceNumber"]) for r in items)
        iterator = ShardIterator(None, shard, "AFTER_SEQUENCE_NUMBER", last)  # type: ignore[arg-type]
    return keys


def test_unpatched_concurrent_writes_share_sequence_numbers(shard: Any) -> None:
    seqs = _write_concurrently(shard, "raw")
    assert len(seqs) == THREADS * WRITES
    repeated = {s: n for s, n in Counter(seqs).items() if n > 1}
    assert repeated, "the race did not show (moto fixed StreamShard.add? then local.moto_server can go)"


def test_serialized_appends_number_every_record_once_in_order(shard: Any) -> None:
    class PatchedShard(type(shard)):  # type: ignore[misc]
        pass

    previous = serialize_stream_appends(PatchedShard)
    assert serialize_stream_appends(PatchedShard) is PatchedShard.add, "patching twice changes nothing"
    assert previous is type(shard).add
    shard.__class__ = PatchedShard
    seqs = _write_concurrently(shard, "locked")
    first = shard.starting_sequence_number
    assert seqs == list(range(first, first + THREADS * WRITES)), "unique, increasing, in list order"
    keys = _read_all(shard)
    assert sorted(keys) == sorted(f"locked-{n}-{i}" for n in range(THREADS) for i in range(WRITES))


def test_a_cancelled_transaction_keeps_the_stream_its_readers_follow():
    """moto rolls a cancelled TransactWriteItems back with deep copies of its tables; without the patch
    every shard iterator handed out before keeps reading the old shard and sees no later write."""
    from moto.dynamodb.models import DynamoDBBackend

    from local.moto_server import keep_streams_across_rollbacks

    previous = keep_streams_across_rollbacks()
    try:
        assert keep_streams_across_rollbacks() is DynamoDBBackend.transact_write_items, (
            "patching twice: no-op"
        )
        with mock_aws():
            client = boto3.client("dynamodb", region_name=REGION)
            streams = boto3.client("dynamodbstreams", region_name=REGION)
            arn = client.create_table(
                TableName="t",
                KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            )["TableDescription"]["LatestStreamArn"]
            (shard,) = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
            iterator = streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            client.put_item(TableName="t", Item={"PK": {"S": "before"}})
            with pytest.raises(client.exceptions.TransactionCanceledException):
                client.transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": "t", "Item": {"PK": {"S": "cancelled"}}}},
                        {
                            "Put": {
                                "TableName": "t",
                                "Item": {"PK": {"S": "before"}},
                                "ConditionExpression": "attribute_not_exists(PK)",
                            }
                        },
                    ]
                )
            client.put_item(TableName="t", Item={"PK": {"S": "after"}})
            seen = []
            for _ in range(5):
                page = streams.get_records(ShardIterator=iterator)
                seen += [r["dynamodb"]["Keys"]["PK"]["S"] for r in page["Records"]]
                iterator = page["NextShardIterator"]
            assert seen == ["before", "after"], "the cancelled put is not on the stream, the later one is"
            assert client.get_item(TableName="t", Key={"PK": {"S": "cancelled"}}).get("Item") is None
    finally:
        DynamoDBBackend.transact_write_items = previous

"""The bench's AWS counter bills DynamoDB writes the way DynamoDB does (by the whole item's size)."""

from __future__ import annotations

import boto3
from moto import mock_aws

from bench.throughput import _size, count_aws


def test_an_update_is_billed_by_the_whole_item_and_the_caller_sees_what_it_asked_for() -> None:
    with mock_aws():
        db = boto3.client("dynamodb", region_name="eu-west-1")
        db.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        db.put_item(TableName="t", Item={"PK": {"S": "a"}, "big": {"S": "x" * 5000}})
        counter = count_aws()
        try:
            answer = db.update_item(
                TableName="t",
                Key={"PK": {"S": "a"}},
                UpdateExpression="SET small = :s",
                ExpressionAttributeValues={":s": {"S": "y"}},
            )
        finally:
            counter.stop()
        assert "Attributes" not in answer, "the caller did not ask for the item"
        assert counter.items == 1
        assert counter.write_units == 5, "a 5 KB item costs 5 write units however little changed"


def test_item_sizes_follow_dynamodb_rules() -> None:
    item = {
        "PK": {"S": "TENANT#t"},  # 2 + 8
        "data": {"B": b"\x00" * 2000},  # 4 + 2000 bytes, however it would print
        "version": {"N": "12"},  # 7 + 2
        "log": {"L": [{"S": "abc"}]},  # 3 + (3 + 1 + 3)
    }
    assert _size(item) == 10 + 2004 + 9 + 10

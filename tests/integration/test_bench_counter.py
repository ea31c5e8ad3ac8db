"""The bench's AWS counter bills DynamoDB writes the way DynamoDB does (by the whole item's size)."""

from __future__ import annotations

from typing import Any

import boto3
import botocore.client
import pytest
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
        with count_aws() as counter:
            answer = db.update_item(
                TableName="t",
                Key={"PK": {"S": "a"}},
                UpdateExpression="SET small = :s",
                ExpressionAttributeValues={":s": {"S": "y"}},
            )
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


def _installed() -> Any:
    return botocore.client.BaseClient.__dict__["_make_api_call"]


@pytest.fixture
def outer_wrapper() -> Any:
    """Another patch of ``_make_api_call`` already in place (as moto's or a profiler's would be)."""
    before = _installed()
    calls: list[str] = []

    def wrapper(self: Any, operation: str, params: dict[str, Any]) -> Any:
        calls.append(operation)
        return before(self, operation, params)

    botocore.client.BaseClient._make_api_call = wrapper  # type: ignore[method-assign]
    try:
        yield wrapper, calls
    finally:
        botocore.client.BaseClient._make_api_call = before  # type: ignore[method-assign]


def test_the_counter_puts_back_the_function_that_was_there_before_even_on_error(outer_wrapper) -> None:
    wrapper, calls = outer_wrapper
    with mock_aws():
        sqs = boto3.client("sqs", region_name="eu-west-1")
        with pytest.raises(RuntimeError), count_aws() as counter:
            assert _installed() is not wrapper
            sqs.list_queues()
            raise RuntimeError("the run failed")
        assert _installed() is wrapper, "the wrapper that was there before, not botocore's original"
        counter.stop()  # a second stop changes nothing
        assert _installed() is wrapper
        sqs.list_queues()
    assert counter.requests["ListQueues"] == 1, "counting stopped with the run"
    assert calls == ["ListQueues", "ListQueues"], "the outer wrapper kept seeing every call"


def test_counters_stopped_out_of_order_leave_nothing_behind(outer_wrapper) -> None:
    wrapper, _ = outer_wrapper
    first, second = count_aws(), count_aws()
    first.stop()  # the second one wraps it: it stays in place but stops counting
    assert _installed() is not wrapper
    second.stop()
    assert _installed() is wrapper

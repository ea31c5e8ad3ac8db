"""create_resources under moto builds exactly what template.yaml declares (keys, stream, TTL, redrive)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.template_resources import (
    REPO_ROOT,
    LocalResources,
    TemplateError,
    create_resources,
    function_specs,
    load_template,
)

TEMPLATE = load_template(REPO_ROOT / "template.yaml")
REGION = "eu-west-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto-backed clients; fake credentials so nothing can reach a real account."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield {
            "dynamodb": boto3.client("dynamodb", region_name=REGION),
            "streams": boto3.client("dynamodbstreams", region_name=REGION),
            "sqs": boto3.client("sqs", region_name=REGION),
        }


@pytest.fixture
def resources(aws: dict[str, Any]) -> LocalResources:
    return create_resources(aws["dynamodb"], aws["sqs"], TEMPLATE, prefix="it-")


def _props(logical_id: str) -> dict[str, Any]:
    return dict(TEMPLATE["Resources"][logical_id]["Properties"])


def test_tables_match_the_template(aws: dict[str, Any], resources: LocalResources) -> None:
    ddb = aws["dynamodb"]
    assert resources.table_names == {"SyncTable": "it-SyncTable", "IdempotencyTable": "it-IdempotencyTable"}

    sync = ddb.describe_table(TableName=resources.sync_table_name)["Table"]
    assert sync["KeySchema"] == _props("SyncTable")["KeySchema"]
    assert sorted(sync["AttributeDefinitions"], key=str) == sorted(
        _props("SyncTable")["AttributeDefinitions"], key=str
    )
    assert sync["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert sync["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert sync["LatestStreamArn"] == resources.sync_table_stream_arn
    ttl = ddb.describe_time_to_live(TableName=resources.sync_table_name)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "ttl")

    idem = ddb.describe_table(TableName=resources.idempotency_table_name)["Table"]
    assert idem["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert "StreamSpecification" not in idem or not idem["StreamSpecification"].get("StreamEnabled")
    ttl = ddb.describe_time_to_live(TableName=resources.idempotency_table_name)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expiration")


def test_queues_match_the_template_and_redrive_to_the_created_dlq(
    aws: dict[str, Any], resources: LocalResources
) -> None:
    sqs = aws["sqs"]
    assert set(resources.queue_urls) == {
        "SignalsQueue",
        "BulkQueue",
        "SignalsDLQ",
        "PushFailuresQueue",
        "ScheduleDLQ",
    }
    attrs = sqs.get_queue_attributes(QueueUrl=resources.signals_queue_url, AttributeNames=["All"])[
        "Attributes"
    ]
    assert int(attrs["VisibilityTimeout"]) == _props("SignalsQueue")["VisibilityTimeout"] == 1080
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == resources.queue_arns["SignalsDLQ"]
    assert int(redrive["maxReceiveCount"]) == 5
    for dlq in ("SignalsDLQ", "PushFailuresQueue", "ScheduleDLQ"):
        dlq_attrs = sqs.get_queue_attributes(QueueUrl=resources.queue_urls[dlq], AttributeNames=["All"])
        assert int(dlq_attrs["Attributes"]["MessageRetentionPeriod"]) == 1209600
        assert dlq_attrs["Attributes"]["QueueArn"] == resources.queue_arns[dlq]


def test_poison_signal_lands_in_the_dlq_after_max_receives(
    aws: dict[str, Any], resources: LocalResources
) -> None:
    sqs = aws["sqs"]
    sqs.send_message(QueueUrl=resources.signals_queue_url, MessageBody='{"poison": true}')
    for _ in range(5):
        got = sqs.receive_message(QueueUrl=resources.signals_queue_url, VisibilityTimeout=0)
        assert len(got.get("Messages", [])) == 1
    assert not sqs.receive_message(QueueUrl=resources.signals_queue_url).get("Messages")
    dead = sqs.receive_message(QueueUrl=resources.queue_urls["SignalsDLQ"])["Messages"]
    assert [m["Body"] for m in dead] == ['{"poison": true}']


def test_env_is_resolved_from_globals(resources: LocalResources) -> None:
    env = resources.env()
    assert env == {
        "TABLE_NAME": "it-SyncTable",
        "IDEMPOTENCY_TABLE_NAME": "it-IdempotencyTable",
        "SIGNALS_QUEUE_URL": resources.signals_queue_url,
        "BULK_QUEUE_URL": resources.queue_urls["BulkQueue"],
        "API_TENANT_REQUESTS_PER_MINUTE": "600",
        "DATAVERSE_ALLOWED_HOSTS": "",
        "ENTRA_LOGIN_URL": "https://login.microsoftonline.com",
        "SECRET_PREFIX": "crmsync/",
        "STAGE": "test",
        "POWERTOOLS_SERVICE_NAME": "crmsync",
        "POWERTOOLS_METRICS_NAMESPACE": "crmsync",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
    assert resources.env("SyncWorkerFunction") == env
    with pytest.raises(KeyError):
        resources.env("NoSuchFunction")


def test_parameters_override_defaults(aws: dict[str, Any]) -> None:
    res = create_resources(
        aws["dynamodb"], aws["sqs"], TEMPLATE, prefix="prod-", parameters={"Stage": "production"}
    )
    assert res.env()["STAGE"] == "production"
    with pytest.raises(TemplateError):
        create_resources(aws["dynamodb"], aws["sqs"], TEMPLATE, prefix="x-", parameters={"Nope": "1"})


def test_create_is_idempotent_on_the_same_endpoint(aws: dict[str, Any], resources: LocalResources) -> None:
    again = create_resources(aws["dynamodb"], aws["sqs"], TEMPLATE, prefix="it-")
    assert again == resources


def test_existing_table_with_other_keys_is_reported_as_drift(aws: dict[str, Any]) -> None:
    aws["dynamodb"].create_table(
        TableName="drift-SyncTable",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    with pytest.raises(TemplateError, match="KeySchema"):
        create_resources(aws["dynamodb"], aws["sqs"], TEMPLATE, prefix="drift-")


def test_stream_filter_from_template_selects_record_items(
    aws: dict[str, Any], resources: LocalResources
) -> None:
    ddb, streams = aws["dynamodb"], aws["streams"]
    for sk in ("REC#customer#1", "LINK#economic#customer#42", "CKPT#economic#customer"):
        ddb.put_item(TableName=resources.sync_table_name, Item={"PK": {"S": "TENANT#t1"}, "SK": {"S": sk}})
    arn = resources.sync_table_stream_arn
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert len(records) == 3
    (source,) = function_specs(TEMPLATE)["PushOnChangeFunction"].streams
    accepted = [r["dynamodb"]["Keys"]["SK"]["S"] for r in records if source.accepts(r)]
    assert accepted == ["REC#customer#1"]


def test_function_specs_list_the_functions_with_their_routes() -> None:
    specs = function_specs(TEMPLATE)
    assert sorted(specs) == [
        "ApiFunction",
        "ConsoleFunction",
        "LeadConversionFunction",
        "PushOnChangeFunction",
        "ScheduledPullFunction",
        "SyncWorkerFunction",
        "WebhookIngestFunction",
    ]
    routes = {fid: sorted(r.route_key for r in spec.http_routes) for fid, spec in specs.items()}
    assert routes == {
        "ApiFunction": ["ANY /tenants/{proxy+}", "GET /openapi.json"],
        "ConsoleFunction": ["GET /console", "GET /console/{proxy+}"],
        "LeadConversionFunction": ["POST /tenants/{tenant_id}/leads/{lead_id}/convert"],
        "WebhookIngestFunction": [
            "GET /webhooks/economic/{tenant_id}/{connection_id}",
            "POST /webhooks/dynamics/{tenant_id}/{connection_id}",
            "POST /webhooks/economic/{tenant_id}/{connection_id}",
            "POST /webhooks/hubspot/{tenant_id}/{connection_id}",
        ],
        "ScheduledPullFunction": [],
        "SyncWorkerFunction": [],
        "PushOnChangeFunction": [],
    }
    assert specs["SyncWorkerFunction"].sqs[0].queue_id == "SignalsQueue"
    assert specs["PushOnChangeFunction"].streams[0].table_id == "SyncTable"
    assert specs["ScheduledPullFunction"].schedules[0].dead_letter_queue_id == "ScheduleDLQ"

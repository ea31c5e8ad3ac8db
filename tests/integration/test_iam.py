"""local.iam / local.iam_policy: the IAM evaluator, call -> (action, resource), the boto3 hook, the roles.

The evaluator cases are pure; the hook runs against moto in-process (``mock_aws``), the roles come from
template.yaml through SAM's own translator.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import botocore.client
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local.iam import (
    ACTING,
    IamEnforcer,
    RoleGrant,
    enforcer_for,
    expand_template,
    load_roles,
    roles_from_translated,
    with_deny,
    without_action,
)
from local.iam_policy import PolicyError, call_authorizations, evaluate, parse_document
from local.template_resources import LocalResources, TemplateError, create_resources, load_template

REGION = "eu-west-1"
ACCOUNT = "123456789012"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/SyncTable"


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def decide(*raw: dict[str, Any], action: str, resource: str = TABLE, **context: Any) -> bool:
    statements = parse_document({"Statement": list(raw)}, "test")
    return evaluate(statements, action, resource, context).allowed


# ------------------------------------------------------------------------------------------ evaluator
@pytest.mark.parametrize(
    ("pattern", "resource", "allowed"),
    [
        (TABLE, TABLE, True),
        (f"{TABLE}/index/*", f"{TABLE}/index/byName", True),
        (f"{TABLE}/index/*", TABLE, False),
        ("arn:aws:dynamodb:*:*:table/Sync?able", TABLE, True),
        ("arn:aws:dynamodb:*:*:table/Sync?able", f"{TABLE}s", False),
        ("arn:aws:dynamodb:*:*:table/*", f"{TABLE}/stream/2024", True),  # * crosses "/"
        ("arn:aws:dynamodb:*:*:table/synctable", TABLE, False),  # ARNs are case-sensitive
        ("*", TABLE, True),
    ],
)
def test_resource_wildcards(pattern: str, resource: str, allowed: bool) -> None:
    assert decide(allow("dynamodb:GetItem", pattern), action="dynamodb:GetItem", resource=resource) is allowed


@pytest.mark.parametrize(
    ("granted", "action", "allowed"),
    [
        ("dynamodb:GetItem", "dynamodb:GetItem", True),
        ("DynamoDB:getitem", "dynamodb:GetItem", True),  # action names ignore case
        ("dynamodb:Get*", "dynamodb:GetItem", True),
        ("dynamodb:Get*", "dynamodb:PutItem", False),
        ("sqs:SendMessage*", "sqs:SendMessage", True),
        ("dynamodb:?etItem", "dynamodb:GetItem", True),
        ("dynamodb:GetItem", "dynamodb:GetItems", False),
        ("*", "secretsmanager:GetSecretValue", True),
    ],
)
def test_action_wildcards_and_case(granted: str, action: str, allowed: bool) -> None:
    assert decide(allow(granted), action=action) is allowed


def test_not_action_and_not_resource() -> None:
    everything_but_iam = {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    assert decide(everything_but_iam, action="sqs:SendMessage")
    assert not decide(everything_but_iam, action="iam:PassRole")
    not_the_table = {"Effect": "Allow", "Action": "dynamodb:*", "NotResource": TABLE}
    assert decide(not_the_table, action="dynamodb:GetItem", resource=f"{TABLE}2")
    assert not decide(not_the_table, action="dynamodb:GetItem", resource=TABLE)


def test_explicit_deny_wins_in_any_order() -> None:
    for order in ((allow("dynamodb:*"), deny("dynamodb:PutItem")), (deny("dynamodb:PutItem"), allow("*"))):
        statements = parse_document({"Statement": list(order)})
        refused = evaluate(statements, "dynamodb:PutItem", TABLE)
        assert not refused.allowed and refused.explicit_deny
        assert evaluate(statements, "dynamodb:GetItem", TABLE).allowed


def test_nothing_granted_is_an_implicit_deny() -> None:
    decision = evaluate([], "dynamodb:GetItem", TABLE)
    assert not decision.allowed and not decision.explicit_deny


def test_understood_conditions_decide() -> None:
    in_region = allow("sqs:SendMessage", Condition={"StringEquals": {"aws:RequestedRegion": REGION}})
    assert decide(in_region, action="sqs:SendMessage", **{"aws:RequestedRegion": REGION})
    assert not decide(in_region, action="sqs:SendMessage", **{"aws:RequestedRegion": "us-east-1"})
    not_like = allow("sqs:SendMessage", Condition={"StringNotLike": {"aws:PrincipalArn": "*Admin*"}})
    assert decide(not_like, action="sqs:SendMessage", **{"aws:PrincipalArn": "arn:aws:iam::1:role/Worker"})
    assert not decide(not_like, action="sqs:SendMessage", **{"aws:PrincipalArn": "arn:aws:iam::1:role/Admin"})
    tls = allow("sqs:SendMessage", Condition={"Bool": {"aws:SecureTransport": True}})
    assert decide(tls, action="sqs:SendMessage", **{"aws:SecureTransport": "true"})
    assert not decide(tls, action="sqs:SendMessage", **{"aws:SecureTransport": "false"})


@pytest.mark.parametrize(
    "condition",
    [
        {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},  # operator not understood
        {"StringEqualsIfExists": {"aws:RequestedRegion": REGION}},
        {"ForAnyValue:StringEquals": {"dynamodb:Attributes": ["PK"]}},
        {"StringEquals": {"dynamodb:LeadingKeys": "TENANT#a"}},  # key with no value here
        {"StringNotEquals": {"aws:SourceVpc": "vpc-1"}},  # negated + missing key: AWS would allow
    ],
)
def test_a_condition_not_understood_fails_closed(condition: dict[str, Any]) -> None:
    context = {"aws:RequestedRegion": REGION}
    statements = parse_document({"Statement": [allow("dynamodb:GetItem", Condition=condition)]}, "p")
    decision = evaluate(statements, "dynamodb:GetItem", TABLE, context)
    assert not decision.allowed, "an Allow whose condition is not understood grants nothing"
    assert decision.notes and "ignored" in decision.notes[0]
    guarded = parse_document({"Statement": [allow("*"), deny("dynamodb:GetItem", Condition=condition)]})
    assert not evaluate(guarded, "dynamodb:GetItem", TABLE, context).allowed, "such a Deny still refuses"


def test_a_policy_variable_fails_closed() -> None:
    per_user = allow("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:*:*:secret:${aws:username}/*")
    assert not decide(per_user, action="secretsmanager:GetSecretValue", resource="arn:x:secret:bob/a")


@pytest.mark.parametrize(
    "raw",
    [
        {"Effect": "Allow", "Resource": "*"},  # no Action
        {"Effect": "Allow", "Action": "s3:*"},  # no Resource
        {"Effect": "Allow", "Action": "s3:*", "NotAction": "s3:Get*", "Resource": "*"},
        {"Effect": "Permit", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Principal": "*"},
        {"Effect": "Allow", "Action": [], "Resource": "*"},
    ],
)
def test_invalid_statements_are_rejected(raw: dict[str, Any]) -> None:
    with pytest.raises(PolicyError):
        parse_document({"Statement": raw})


# ------------------------------------------------------------------------------------------ call shapes
def authz(service: str, operation: str, **params: Any) -> list[tuple[str, str]]:
    return call_authorizations(service, operation, params, REGION, ACCOUNT, lambda it: f"stream-of-{it}")


def test_dynamodb_resources_from_each_param_shape() -> None:
    assert authz("dynamodb", "GetItem", TableName="SyncTable") == [("dynamodb:GetItem", TABLE)]
    assert authz("dynamodb", "Query", TableName="SyncTable", IndexName="byName") == [
        ("dynamodb:Query", f"{TABLE}/index/byName")
    ]
    assert authz("dynamodb", "PutItem", TableName=TABLE) == [("dynamodb:PutItem", TABLE)], "an ARN stays"
    other = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/Other"
    assert authz("dynamodb", "BatchGetItem", RequestItems={"SyncTable": {}, "Other": {}}) == [
        ("dynamodb:BatchGetItem", TABLE),
        ("dynamodb:BatchGetItem", other),
    ]
    assert authz("dynamodb", "BatchWriteItem", RequestItems={"Other": []}) == [
        ("dynamodb:BatchWriteItem", other)
    ]
    items = [
        {"Put": {"TableName": "SyncTable"}},
        {"Update": {"TableName": "Other"}},
        {"Delete": {"TableName": "SyncTable"}},
        {"ConditionCheck": {"TableName": "SyncTable"}},
    ]
    assert authz("dynamodb", "TransactWriteItems", TransactItems=items) == [
        ("dynamodb:PutItem", TABLE),
        ("dynamodb:UpdateItem", other),
        ("dynamodb:DeleteItem", TABLE),
        ("dynamodb:ConditionCheckItem", TABLE),
    ], "a transaction is authorized item by item, under the single-item actions"
    assert authz("dynamodb", "TransactGetItems", TransactItems=[{"Get": {"TableName": "Other"}}]) == [
        ("dynamodb:GetItem", other)
    ]
    assert authz("dynamodb", "ListTables") == [("dynamodb:ListTables", "*")]


def test_stream_resources_and_the_dynamodb_prefix() -> None:
    stream = f"{TABLE}/stream/2024-01-01T00:00:00.000"
    assert authz("dynamodbstreams", "DescribeStream", StreamArn=stream) == [
        ("dynamodb:DescribeStream", stream)
    ]
    assert authz("dynamodbstreams", "GetShardIterator", StreamArn=stream, ShardId="s") == [
        ("dynamodb:GetShardIterator", stream)
    ]
    assert authz("dynamodbstreams", "GetRecords", ShardIterator="it-1") == [
        ("dynamodb:GetRecords", "stream-of-it-1")
    ]
    assert authz("dynamodbstreams", "ListStreams", TableName="SyncTable") == [
        ("dynamodb:ListStreams", f"{TABLE}/stream/*")
    ]


def test_sqs_resources_and_batch_actions() -> None:
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:SignalsQueue"
    for url in (
        f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/SignalsQueue",
        f"http://127.0.0.1:5000/{ACCOUNT}/SignalsQueue",
    ):
        assert authz("sqs", "SendMessageBatch", QueueUrl=url, Entries=[]) == [("sqs:SendMessage", arn)]
        assert authz("sqs", "DeleteMessageBatch", QueueUrl=url) == [("sqs:DeleteMessage", arn)]
        assert authz("sqs", "ChangeMessageVisibilityBatch", QueueUrl=url) == [
            ("sqs:ChangeMessageVisibility", arn)
        ]
        assert authz("sqs", "ReceiveMessage", QueueUrl=url) == [("sqs:ReceiveMessage", arn)]
    assert authz("sqs", "GetQueueUrl", QueueName="SignalsQueue") == [("sqs:GetQueueUrl", arn)]
    assert authz("sqs", "ListQueues") == [("sqs:ListQueues", "*")]


def test_secret_and_parameter_resources() -> None:
    secret = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:crmsync/acme/eco"
    assert authz("secretsmanager", "GetSecretValue", SecretId="crmsync/acme/eco") == [
        ("secretsmanager:GetSecretValue", secret)
    ]
    full = f"{secret}-AbCdEf"
    assert authz("secretsmanager", "GetSecretValue", SecretId=full) == [
        ("secretsmanager:GetSecretValue", full)
    ]
    param = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter"
    assert authz("ssm", "GetParameter", Name="/crmsync/flag") == [
        ("ssm:GetParameter", f"{param}/crmsync/flag")
    ]
    assert authz("ssm", "GetParameters", Names=["a", "/b/c"]) == [
        ("ssm:GetParameters", f"{param}/a"),
        ("ssm:GetParameters", f"{param}/b/c"),
    ]
    assert authz("sts", "GetCallerIdentity") == [("sts:GetCallerIdentity", "*")]


# ------------------------------------------------------------------------------------------ the hook
def grant(function_id: str, *raw: dict[str, Any]) -> RoleGrant:
    return RoleGrant(
        function_id,
        f"{function_id}Role",
        f"stack-{function_id}Role",
        tuple(parse_document({"Statement": list(raw)}, "inline")),
    )


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        dynamodb, sqs = boto3.client("dynamodb", region_name=REGION), boto3.client("sqs", region_name=REGION)
        dynamodb.create_table(
            TableName="SyncTable",
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
        urls = {name: sqs.create_queue(QueueName=name)["QueueUrl"] for name in ("SignalsQueue", "Other")}
        yield {
            "dynamodb": dynamodb,
            "sqs": sqs,
            "urls": urls,
            "streams": boto3.client("dynamodbstreams", region_name=REGION),
        }


def reader_enforcer() -> IamEnforcer:
    return IamEnforcer(
        {
            "Reader": grant(
                "Reader",
                allow("dynamodb:GetItem", TABLE),
                allow("sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:SignalsQueue"),
                allow(
                    ["dynamodb:DescribeStream", "dynamodb:GetShardIterator", "dynamodb:GetRecords"],
                    f"{TABLE}/stream/*",
                ),
            )
        },
        region=REGION,
    )


def test_calls_outside_the_role_fail_like_aws_and_everything_checked_is_recorded(aws: dict[str, Any]) -> None:
    db, sqs, urls = aws["dynamodb"], aws["sqs"], aws["urls"]
    with reader_enforcer() as iam:
        db.put_item(TableName="SyncTable", Item={"PK": {"S": "harness"}})  # not acting: not checked
        assert iam.records == []
        with iam.acting_as("Reader"):
            assert db.get_item(TableName="SyncTable", Key={"PK": {"S": "harness"}})["Item"]
            with pytest.raises(ClientError) as put:
                db.put_item(TableName="SyncTable", Item={"PK": {"S": "x"}})
            sqs.send_message(QueueUrl=urls["SignalsQueue"], MessageBody="ok")
            with pytest.raises(ClientError) as send:
                sqs.send_message_batch(QueueUrl=urls["Other"], Entries=[{"Id": "1", "MessageBody": "no"}])
    error = put.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/stack-ReaderRole/Reader is not authorized to perform: "
        f"dynamodb:PutItem on resource: {TABLE} because no identity-based policy allows the dynamodb:PutItem action"
    )
    assert send.value.response["Error"]["Code"] == "AccessDenied"
    assert "sqs:SendMessage on resource: arn:aws:sqs:eu-west-1:123456789012:Other" in str(send.value)
    assert [(r.operation, r.action, r.allowed) for r in iam.records] == [
        ("GetItem", "dynamodb:GetItem", True),
        ("PutItem", "dynamodb:PutItem", False),
        ("SendMessage", "sqs:SendMessage", True),
        ("SendMessageBatch", "sqs:SendMessage", False),
    ]
    assert db.get_item(TableName="SyncTable", Key={"PK": {"S": "x"}}).get("Item") is None, (
        "nothing was written"
    )


def test_explicit_deny_message(aws: dict[str, Any]) -> None:
    roles = with_deny("Reader", "dynamodb:GetItem")(reader_enforcer().roles)
    with (
        IamEnforcer(roles, region=REGION) as iam,
        iam.acting_as("Reader"),
        pytest.raises(ClientError) as denied,
    ):
        aws["dynamodb"].get_item(TableName="SyncTable", Key={"PK": {"S": "a"}})
    assert denied.value.response["Error"]["Message"].endswith(
        "with an explicit deny in an identity-based policy"
    )
    assert iam.records[-1].explicit_deny


def test_get_records_is_checked_against_the_stream_its_iterator_reads(aws: dict[str, Any]) -> None:
    streams = aws["streams"]
    stream_arn = aws["dynamodb"].describe_table(TableName="SyncTable")["Table"]["LatestStreamArn"]
    with reader_enforcer() as iam:
        shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
        # The iterator is taken outside any acting block (unchecked) and still tied to its stream.
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        with iam.acting_as("Reader"):
            page = streams.get_records(ShardIterator=iterator)
            streams.get_records(ShardIterator=page["NextShardIterator"])
    assert [(r.action, r.resource, r.allowed) for r in iam.records] == [
        ("dynamodb:GetRecords", stream_arn, True),
        ("dynamodb:GetRecords", stream_arn, True),
    ]


def test_start_stop_restore_and_compose_with_other_wrappers(aws: dict[str, Any]) -> None:
    original = botocore.client.BaseClient._make_api_call
    seen: list[str] = []

    def install_counter() -> Any:
        previous = botocore.client.BaseClient._make_api_call

        def counting(self: Any, operation: str, params: dict[str, Any]) -> Any:
            seen.append(operation)
            return previous(self, operation, params)

        botocore.client.BaseClient._make_api_call = counting  # type: ignore[method-assign]
        return previous

    try:
        # counter first, enforcer on top of it: a refused call never reaches AWS (nor the counter),
        # and stopping the enforcer puts the counter back
        under = install_counter()
        counter = botocore.client.BaseClient._make_api_call
        iam = reader_enforcer().start()
        with iam.acting_as("Reader"):
            aws["dynamodb"].get_item(TableName="SyncTable", Key={"PK": {"S": "x"}})
            with pytest.raises(ClientError):
                aws["dynamodb"].put_item(TableName="SyncTable", Item={"PK": {"S": "x"}})
        assert seen == ["GetItem"]
        iam.stop()
        assert botocore.client.BaseClient._make_api_call is counter
        botocore.client.BaseClient._make_api_call = under  # type: ignore[method-assign]
        # enforcer first, counter on top: the counter sees the refused call too; stopping the enforcer
        # under the counter turns it into a pass-through instead of dropping the counter
        iam = reader_enforcer().start()
        under = install_counter()
        with iam.acting_as("Reader"), pytest.raises(ClientError):
            aws["dynamodb"].put_item(TableName="SyncTable", Item={"PK": {"S": "y"}})
        assert seen[-1] == "PutItem"
        iam.stop()
        with iam.acting_as("Reader"):
            aws["dynamodb"].put_item(TableName="SyncTable", Item={"PK": {"S": "y"}})
        assert seen[-2:] == ["PutItem", "PutItem"] and len(iam.records) == 1, "nothing checked after stop"
        botocore.client.BaseClient._make_api_call = under  # type: ignore[method-assign]
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]
    assert botocore.client.BaseClient._make_api_call is original


def test_acting_as_an_unknown_function_is_an_error() -> None:
    with pytest.raises(KeyError), reader_enforcer().acting_as("Writer"):
        pass


def test_the_acting_function_follows_the_layers_writer_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ThreadPoolExecutor sites of the layer submit in a copy of the caller's context."""
    from crmsync import write_back
    from crmsync.connectors.base import VendorError, WriteItem
    from crmsync.connectors.economic import EconomicConnector
    from crmsync.models import ObjectType

    seen: list[str | None] = []
    monkeypatch.setattr(write_back, "_store_write", lambda *args: seen.append(ACTING.get()))
    connector = object.__new__(EconomicConnector)

    def write_one(object_type: ObjectType, item: WriteItem) -> Any:
        seen.append(ACTING.get())
        raise VendorError("refused")

    monkeypatch.setattr(connector, "_write_one", write_one)
    items = [WriteItem(record_id=f"cus_{i}", fields={}) for i in range(5)]
    with IamEnforcer().acting_as("SyncWorkerFunction"):
        write_back.store_writes(None, None, "eco", None, [(i, None, None, None) for i in range(5)])  # type: ignore[arg-type]
        results = connector.write(ObjectType.CUSTOMER, items)
    assert [r.ok for r in results] == [False] * 5
    assert seen == ["SyncWorkerFunction"] * 10
    # A thread that is not handed the context runs as nobody (the reason for copy_context).
    with IamEnforcer().acting_as("SyncWorkerFunction"), ThreadPoolExecutor(1) as pool:
        assert pool.submit(ACTING.get).result() is None
    assert threading.current_thread() is threading.main_thread()


# ------------------------------------------------------------------------------------------ roles
@pytest.fixture
def resources(aws: dict[str, Any]) -> LocalResources:
    return create_resources(
        boto3.client("dynamodb", region_name=REGION), boto3.client("sqs", region_name=REGION), prefix="iam-"
    )


def test_template_roles_are_resolved_to_the_local_resources(resources: LocalResources) -> None:
    roles = load_roles(resources)
    assert set(roles) == {
        "WebhookIngestFunction",
        "ApiFunction",
        "ConsoleFunction",
        "LeadConversionFunction",
        "ScheduledPullFunction",
        "SyncWorkerFunction",
        "PushOnChangeFunction",
    }
    push = roles["PushOnChangeFunction"]
    assert push.role_id == "PushOnChangeRole" and push.managed_policy_arns == ()
    assert (
        push.session_arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/iam-PushOnChangeRole/PushOnChangeFunction"
    )
    signals, failures = resources.queue_arns["SignalsQueue"], resources.queue_arns["PushFailuresQueue"]
    stream = resources.stream_arns["SyncTable"]
    assert evaluate(push.statements, "sqs:SendMessage", signals).allowed, (
        "push_later re-queues to the signals queue"
    )
    assert evaluate(push.statements, "sqs:SendMessage", failures).allowed, "the on-failure destination"
    assert not evaluate(push.statements, "sqs:SendMessage", resources.queue_arns["SignalsDLQ"]).allowed
    assert evaluate(push.statements, "dynamodb:GetRecords", stream).allowed
    assert not evaluate(
        push.statements, "dynamodb:GetRecords", f"{resources.table_arns['IdempotencyTable']}/stream/x"
    ).allowed
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/iam-PushOnChangeFunction"
    assert evaluate(push.statements, "logs:PutLogEvents", f"{group}:log-stream:2024/01/01/abc").allowed
    assert not evaluate(push.statements, "logs:PutLogEvents", f"{group}x:log-stream:a").allowed
    worker = roles["SyncWorkerFunction"]
    assert evaluate(worker.statements, "sqs:ReceiveMessage", signals).allowed
    assert not evaluate(worker.statements, "sqs:ReceiveMessage", failures).allowed
    assert not evaluate(
        roles["WebhookIngestFunction"].statements, "dynamodb:PutItem", resources.table_arns["SyncTable"]
    ).allowed


def _sam_template(policies: list[Any]) -> dict[str, Any]:
    return {
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Runtime": "python3.11",
                    "Handler": "app.handler",
                    "CodeUri": "functions/x/",
                    "Policies": policies,
                    "Events": {
                        "Q": {"Type": "SQS", "Properties": {"Queue": {"Fn::GetAtt": ["SignalsQueue", "Arn"]}}}
                    },
                },
            },
            "SignalsQueue": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "Other": {"Type": "AWS::SQS::Queue", "Properties": {}},
        },
    }


def test_sam_generated_roles_include_the_managed_policies_it_attaches(aws: dict[str, Any]) -> None:
    """A SAM-generated role: policy templates resolved, and the managed policies' Resource '*' seen."""
    template = _sam_template(
        [{"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": ["Other", "QueueName"]}}}]
    )
    resources = create_resources(
        boto3.client("dynamodb", region_name=REGION), aws["sqs"], template, prefix="sam-"
    )
    (role,) = roles_from_translated(
        expand_template(template, {}, region=REGION, stack_name="sam"), resources
    ).values()
    assert role.managed_policy_arns == (
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
    )
    other, signals = resources.queue_arns["Other"], resources.queue_arns["SignalsQueue"]
    assert evaluate(role.statements, "sqs:SendMessage", other).allowed
    assert not evaluate(role.statements, "sqs:SendMessage", signals).allowed
    unrelated = f"arn:aws:sqs:{REGION}:{ACCOUNT}:someone-elses-queue"
    assert evaluate(role.statements, "sqs:ReceiveMessage", unrelated).allowed, "the managed policy's '*'"


def test_an_unknown_managed_policy_is_an_error(aws: dict[str, Any]) -> None:
    template = _sam_template(["AmazonS3FullAccess"])
    resources = create_resources(
        boto3.client("dynamodb", region_name=REGION), aws["sqs"], template, prefix="s3-"
    )
    with pytest.raises(TemplateError, match="AmazonS3FullAccess"):
        roles_from_translated(expand_template(template, {}, region=REGION, stack_name="s3"), resources)


def test_overrides_remove_or_deny_a_right(resources: LocalResources) -> None:
    signals = resources.queue_arns["SignalsQueue"]
    removed = enforcer_for(
        resources,
        override=without_action("PushOnChangeFunction", "sqs:SendMessage", resource="*:*SignalsQueue"),
    )
    push = removed.roles["PushOnChangeFunction"].statements
    assert not evaluate(push, "sqs:SendMessage", signals).allowed
    assert evaluate(push, "sqs:SendMessage", resources.queue_arns["PushFailuresQueue"]).allowed, (
        "only that one"
    )
    with pytest.raises(LookupError):
        without_action("WebhookIngestFunction", "dynamodb:Scan")(removed.roles)
    denied = enforcer_for(resources, override=with_deny("SyncWorkerFunction", "dynamodb:PutItem"))
    assert not evaluate(
        denied.roles["SyncWorkerFunction"].statements, "dynamodb:PutItem", resources.table_arns["SyncTable"]
    ).allowed


def test_removing_an_action_on_one_resource_keeps_it_on_the_others() -> None:
    queues = [f"arn:aws:sqs:{REGION}:{ACCOUNT}:A", f"arn:aws:sqs:{REGION}:{ACCOUNT}:B"]
    roles = {"Fn": grant("Fn", allow(["sqs:SendMessage", "sqs:GetQueueAttributes"], queues))}
    statements = without_action("Fn", "sqs:SendMessage", resource="*:A")(roles)["Fn"].statements
    assert not evaluate(statements, "sqs:SendMessage", queues[0]).allowed
    assert evaluate(statements, "sqs:SendMessage", queues[1]).allowed
    assert evaluate(statements, "sqs:GetQueueAttributes", queues[0]).allowed
    assert evaluate(roles["Fn"].statements, "sqs:SendMessage", queues[0]).allowed, "the original is unchanged"


def test_resolver_knows_log_groups_and_refuses_unknown_references(resources: LocalResources) -> None:
    resolver = resources.resolver(load_template())
    assert resolver.resolve({"Fn::GetAtt": ["ApiLogGroup", "Arn"]}) == (
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/iam-ApiFunction:*"
    )
    assert resolver.resolve({"Fn::GetAtt": ["SignalsQueue", "QueueName"]}) == "iam-SignalsQueue"
    assert (
        resolver.resolve({"Fn::Select": [1, {"Fn::Split": ["/", {"Fn::GetAtt": ["SyncTable", "Arn"]}]}]})
        == "iam-SyncTable"
    )
    with pytest.raises(TemplateError):
        resolver.resolve({"Fn::GetAtt": ["AlarmTopic", "TopicName"]})

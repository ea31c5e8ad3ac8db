"""Fast checks of template.yaml (no AWS): the reliability and least-privilege rules the design relies on.

cfn-lint / ``sam validate --lint`` check the schema (scripts/check-template.sh); these tests check intent:
DLQs everywhere, bounded stream retries, one log group per function, no wildcard IAM, routes wired.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from local.iam import expand_template
from local.template_resources import (
    REPO_ROOT,
    FunctionSpec,
    HttpRoute,
    function_specs,
    load_template,
    match_route,
    matches_filter,
    parameter_values,
    rate_seconds,
)

TEMPLATE = load_template(REPO_ROOT / "template.yaml")
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
GLOBALS: dict[str, Any] = TEMPLATE["Globals"]["Function"]
FUNCTIONS = {k: v for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}
SPECS = function_specs(TEMPLATE)

EXPECTED_FUNCTIONS = {
    "WebhookIngestFunction": "webhook_ingest",
    "ApiFunction": "api",
    "ScheduledPullFunction": "scheduled_pull",
    "SyncWorkerFunction": "sync_worker",
    "PushOnChangeFunction": "push_on_change",
    "LeadConversionFunction": "lead_conversion",
    "ConsoleFunction": "console",
}
EXPECTED_ROUTES = {
    "POST /webhooks/economic/{tenant_id}/{connection_id}": "WebhookIngestFunction",
    "GET /webhooks/economic/{tenant_id}/{connection_id}": "WebhookIngestFunction",
    "POST /webhooks/hubspot/{tenant_id}/{connection_id}": "WebhookIngestFunction",
    "POST /webhooks/dynamics/{tenant_id}/{connection_id}": "WebhookIngestFunction",
    "ANY /tenants/{proxy+}": "ApiFunction",
    "GET /openapi.json": "ApiFunction",
    "POST /tenants/{tenant_id}/leads/{lead_id}/convert": "LeadConversionFunction",
    "GET /console": "ConsoleFunction",
    "GET /console/{proxy+}": "ConsoleFunction",
}
# The only actions a role may grant on Resource "*": they have no resource-level permissions in IAM,
# so "*" is the only resource they accept. Each with the reason it is acceptable.
WILDCARD_RESOURCE_ACTIONS = {
    "xray:PutTraceSegments": "X-Ray has no resource-level permissions; trace segments carry timings, no customer data",
    "xray:PutTelemetryRecords": "X-Ray has no resource-level permissions; SDK telemetry counters only",
}
# SAM's translation of the template: the roles as CloudFormation receives them (generated ones included).
TRANSLATED = expand_template(
    TEMPLATE, parameter_values(TEMPLATE), region="eu-west-1", stack_name="crmsync-test"
)
TRANSLATED_ROLES = {k: v for k, v in TRANSLATED["Resources"].items() if v["Type"] == "AWS::IAM::Role"}


def _prop(resource: dict[str, Any], key: str) -> Any:
    """Function property with Globals.Function as fallback, as SAM merges them."""
    return resource.get("Properties", {}).get(key, GLOBALS.get(key))


def _target(value: Any) -> str:
    """Logical id of ``!Ref X`` / ``!GetAtt X.Attr``."""
    if "Ref" in value:
        return str(value["Ref"])
    return str(value["Fn::GetAtt"][0])


def _events(kind: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (fid, eid, ev.get("Properties", {}))
        for fid, fn in FUNCTIONS.items()
        for eid, ev in fn["Properties"].get("Events", {}).items()
        if ev["Type"] == kind
    ]


def _role_id(fid: str) -> str:
    """The role a function runs as: ``Role: !GetAtt <role>.Arn`` of a role in this template."""
    role = FUNCTIONS[fid]["Properties"]["Role"]
    assert list(role) == ["Fn::GetAtt"] and role["Fn::GetAtt"][1] == "Arn", f"{fid}: Role is {role}"
    return str(role["Fn::GetAtt"][0])


def _role_statements(fid: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in RESOURCES[_role_id(fid)]["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _grants(fid: str, action: str) -> list[Any]:
    """Resources of the Allow statements of ``fid``'s role naming ``action``."""
    return [
        resource
        for st in _role_statements(fid)
        if st["Effect"] == "Allow" and action in _listed(st["Action"])
        for resource in _listed(st["Resource"])
    ]


# ------------------------------------------------------------------------------------------ loader
def test_loader_turns_short_form_tags_into_long_form() -> None:
    env = GLOBALS["Environment"]["Variables"]
    assert env["TABLE_NAME"] == {"Ref": "SyncTable"}
    assert RESOURCES["SignalsQueue"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["SignalsDLQ", "Arn"]
    }
    assert "Fn::Sub" in RESOURCES["SyncLayer"]["Properties"]["LayerName"]
    assert TEMPLATE["Conditions"]["HasAlarmEmail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]
    }


# ------------------------------------------------------------------------------------------ functions
def test_exactly_the_expected_functions() -> None:
    assert set(FUNCTIONS) == set(EXPECTED_FUNCTIONS)


@pytest.mark.parametrize("fid", sorted(EXPECTED_FUNCTIONS))
def test_function_code_dir_handler_and_app_py(fid: str) -> None:
    """CodeUri is functions/<snake name>/ and holds app.py with lambda_handler (sam build needs it)."""
    props = FUNCTIONS[fid]["Properties"]
    assert props["CodeUri"] == f"functions/{EXPECTED_FUNCTIONS[fid]}/"
    assert _prop(FUNCTIONS[fid], "Handler") == "app.lambda_handler"
    app = REPO_ROOT / props["CodeUri"] / "app.py"
    assert app.is_file(), f"{app} missing"
    handler = re.compile(r"^def lambda_handler\(|^lambda_handler\s*=", re.MULTILINE)
    assert handler.search(app.read_text(encoding="utf-8")), f"{app} defines no module-level lambda_handler"


@pytest.mark.parametrize("fid", sorted(EXPECTED_FUNCTIONS))
def test_each_function_has_its_own_log_group_with_retention(fid: str) -> None:
    group_id = _target(FUNCTIONS[fid]["Properties"]["LoggingConfig"]["LogGroup"])
    group = RESOURCES[group_id]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    users = [
        f for f in FUNCTIONS if _target(FUNCTIONS[f]["Properties"]["LoggingConfig"]["LogGroup"]) == group_id
    ]
    assert users == [fid]


def test_globals_runtime_layer_tracing_and_env() -> None:
    assert GLOBALS["Runtime"] == "python3.11"
    assert GLOBALS["Architectures"] == ["arm64"]
    assert GLOBALS["Tracing"] == "Active"
    assert GLOBALS["Layers"] == [{"Ref": "SyncLayer"}]
    env = GLOBALS["Environment"]["Variables"]
    assert {
        "TABLE_NAME",
        "IDEMPOTENCY_TABLE_NAME",
        "SIGNALS_QUEUE_URL",
        "SECRET_PREFIX",
        "STAGE",
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "POWERTOOLS_LOG_LEVEL",
    } <= set(env)
    assert env["POWERTOOLS_SERVICE_NAME"] == env["POWERTOOLS_METRICS_NAMESPACE"] == "crmsync"


def test_layer_is_built_by_sam_from_package_and_requirements() -> None:
    layer = RESOURCES["SyncLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    # Built by layers/sync/Makefile (the lock file for the arm64 runtime, without what Lambda provides).
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    assert layer["Properties"]["CompatibleRuntimes"] == [GLOBALS["Runtime"]]
    content = REPO_ROOT / layer["Properties"]["ContentUri"]
    assert (content / "requirements.txt").is_file()
    assert (content / "requirements-lock.txt").is_file()
    assert "build-SyncLayer:" in (content / "Makefile").read_text()
    assert (content / "crmsync" / "__init__.py").is_file()
    assert not (content / "python").exists(), "BuildMethod + python/ would nest as python/python/"


def test_scheduled_pull_runs_alone_with_retries_and_dlq() -> None:
    props = FUNCTIONS["ScheduledPullFunction"]["Properties"]
    assert props["ReservedConcurrentExecutions"] == 1
    (schedule,) = _events("ScheduleV2")
    _, _, ev = schedule
    assert ev["ScheduleExpression"] == {"Ref": "PullSchedule"}
    assert 0 < ev["RetryPolicy"]["MaximumRetryAttempts"] <= 5
    assert RESOURCES[_target(ev["DeadLetterConfig"]["Arn"])]["Type"] == "AWS::SQS::Queue"
    assert ev.get("OmitName") is True, "a fixed schedule name collides between two stacks"


# ------------------------------------------------------------------------------------------ SQS
def test_sqs_sources_report_item_failures_and_have_redrive_and_visibility() -> None:
    sources = _events("SQS")
    assert [(f, _target(ev["Queue"])) for f, _, ev in sources] == [
        ("SyncWorkerFunction", "SignalsQueue"),
        ("SyncWorkerFunction", "BulkQueue"),
    ]
    for fid, _, ev in sources:
        assert "ReportBatchItemFailures" in ev["FunctionResponseTypes"]
        assert ev["ScalingConfig"]["MaximumConcurrency"] >= 2
        queue = RESOURCES[_target(ev["Queue"])]["Properties"]
        timeout = _prop(FUNCTIONS[fid], "Timeout")
        assert queue["VisibilityTimeout"] >= 6 * timeout
        redrive = queue["RedrivePolicy"]
        assert RESOURCES[_target(redrive["deadLetterTargetArn"])]["Type"] == "AWS::SQS::Queue"
        assert 1 <= redrive["maxReceiveCount"] <= 10


def test_bulk_work_has_its_own_mapping_with_a_smaller_share_of_the_worker() -> None:
    """Issue 14 item 6: a backfill (bulk queue) can never take all of the worker's concurrency."""
    events = {_target(ev["Queue"]): ev for _, _, ev in _events("SQS")}
    live, bulk = events["SignalsQueue"], events["BulkQueue"]
    assert bulk["ScalingConfig"]["MaximumConcurrency"] < live["ScalingConfig"]["MaximumConcurrency"]
    assert bulk["BatchSize"] == 1, "one bundle per invocation keeps bulk invocations short"
    env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert env["BULK_QUEUE_URL"] == {"Ref": "BulkQueue"}


def test_queues_are_encrypted_and_failure_queues_keep_messages_14_days() -> None:
    queues = {k: v["Properties"] for k, v in RESOURCES.items() if v["Type"] == "AWS::SQS::Queue"}
    assert set(queues) == {"SignalsQueue", "BulkQueue", "SignalsDLQ", "PushFailuresQueue", "ScheduleDLQ"}
    for props in queues.values():
        assert props["SqsManagedSseEnabled"] is True
    for name in ("SignalsDLQ", "PushFailuresQueue", "ScheduleDLQ"):
        assert queues[name]["MessageRetentionPeriod"] == 14 * 24 * 3600


# ------------------------------------------------------------------------------------------ stream
def test_stream_source_bisects_bounds_retries_and_has_failure_destination() -> None:
    sources = _events("DynamoDB")
    assert [(f, _target(ev["Stream"])) for f, _, ev in sources] == [("PushOnChangeFunction", "SyncTable")]
    for _, _, ev in sources:
        assert ev["BisectBatchOnFunctionError"] is True
        assert 0 <= ev["MaximumRetryAttempts"] <= 10  # -1 (the default) would retry forever
        assert 60 <= ev["MaximumRecordAgeInSeconds"] <= 86400
        assert "ReportBatchItemFailures" in ev["FunctionResponseTypes"]
        on_failure = ev["DestinationConfig"]["OnFailure"]
        assert on_failure["Type"] == "SQS"
        assert RESOURCES[_target(on_failure["Destination"])]["Type"] == "AWS::SQS::Queue"
        patterns = [json.loads(f["Pattern"]) for f in ev["FilterCriteria"]["Filters"]]
        rec_only = {"Keys": {"SK": {"S": [{"prefix": "REC#"}]}}}
        assert patterns == [
            {"dynamodb": {**rec_only, "NewImage": {"origin": {"S": [{"anything-but": ["base"]}]}}}},
            {"dynamodb": {**rec_only, "NewImage": {"origin": {"S": [{"exists": False}]}}}},
        ]


def test_stream_filter_admits_only_record_items() -> None:
    (stream,) = SPECS["PushOnChangeFunction"].streams
    assert stream.filter_prefix == "REC#"

    def record(sk: str, origin: str | None = None) -> dict[str, Any]:
        image = {"SK": {"S": sk}, **({"origin": {"S": origin}} if origin else {})}
        keys = {"PK": {"S": "TENANT#t"}, "SK": {"S": sk}}
        return {"eventName": "MODIFY", "dynamodb": {"Keys": keys, "NewImage": image}}

    assert stream.accepts(record("REC#customer#1", "sync"))
    assert stream.accepts(record("REC#customer#1")), "items written before the origin marker still pass"
    assert not stream.accepts(record("REC#customer#1", "base")), "the push's own base saves are skipped"
    for sk in ("LINK#c#customer#7", "CKPT#c#customer", "CONFIG", "LOG#r#t"):
        assert not stream.accepts(record(sk))
        assert not stream.accepts(record(sk, "sync"))


# ------------------------------------------------------------------------------------------ tables
def test_sync_table_on_demand_pitr_stream_ttl_sse_retained() -> None:
    table = RESOURCES["SyncTable"]
    props = table["Properties"]
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["KeySchema"] == [
        {"AttributeName": "PK", "KeyType": "HASH"},
        {"AttributeName": "SK", "KeyType": "RANGE"},
    ]
    assert props["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True


def test_idempotency_table_matches_powertools_defaults() -> None:
    props = RESOURCES["IdempotencyTable"]["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True


# ------------------------------------------------------------------------------------------ IAM
@pytest.mark.parametrize("fid", sorted(EXPECTED_FUNCTIONS))
def test_each_function_has_its_own_explicit_role(fid: str) -> None:
    """No SAM ``Policies`` (SAM would generate a role with managed policies on Resource '*')."""
    props = FUNCTIONS[fid]["Properties"]
    assert "Policies" not in props, f"{fid}: Policies make SAM generate a role; write it out instead"
    role = RESOURCES[_role_id(fid)]
    assert role["Type"] == "AWS::IAM::Role"
    assert [f for f in FUNCTIONS if _role_id(f) == _role_id(fid)] == [fid], "roles are not shared"
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == {
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    assert _grants(fid, "logs:PutLogEvents") == [
        {"Fn::GetAtt": [_target(props["LoggingConfig"]["LogGroup"]), "Arn"]}
    ]


def test_translated_roles_are_the_functions_and_the_schedules() -> None:
    expected = {_role_id(fid) for fid in FUNCTIONS} | {"ScheduledPullFunctionPullRole"}
    assert set(TRANSLATED_ROLES) == expected, "SAM generated a role nobody reviewed"
    for fid in FUNCTIONS:
        assert TRANSLATED["Resources"][fid]["Properties"]["Role"] == {"Fn::GetAtt": [_role_id(fid), "Arn"]}


@pytest.mark.parametrize("role_id", sorted(TRANSLATED_ROLES))
def test_no_wildcard_iam(role_id: str) -> None:
    """Every role CloudFormation gets: no managed policies, named actions, no Resource '*' except for
    the allow-listed actions that take no other resource."""
    props = TRANSLATED_ROLES[role_id]["Properties"]
    assert not props.get("ManagedPolicyArns"), f"{role_id}: managed policies {props.get('ManagedPolicyArns')}"
    statements = [
        st for policy in props.get("Policies", []) for st in _listed(policy["PolicyDocument"]["Statement"])
    ]
    assert statements, role_id
    for st in statements:
        assert st["Effect"] == "Allow" and "NotAction" not in st and "NotResource" not in st, st
        actions = _listed(st["Action"])
        assert all("*" not in a and "?" not in a for a in actions), f"{role_id}: wildcard action in {st}"
        if "*" in _listed(st["Resource"]):
            unlisted = [a for a in actions if a not in WILDCARD_RESOURCE_ACTIONS]
            assert not unlisted, (
                f"{role_id}: {unlisted} on Resource '*' (they have resource-level permissions)"
            )


def test_event_source_pollers_and_destinations_are_granted_on_their_own_resources() -> None:
    assert {
        a: _grants("SyncWorkerFunction", a)
        for a in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
    } == {
        a: [{"Fn::GetAtt": ["SignalsQueue", "Arn"]}, {"Fn::GetAtt": ["BulkQueue", "Arn"]}]
        for a in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
    }
    for action in ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"):
        assert _grants("PushOnChangeFunction", action) == [{"Fn::GetAtt": ["SyncTable", "StreamArn"]}], action
    assert _grants("PushOnChangeFunction", "dynamodb:ListStreams") == [
        {"Fn::Sub": "${SyncTable.Arn}/stream/*"}
    ]
    assert sorted(r["Fn::GetAtt"][0] for r in _grants("PushOnChangeFunction", "sqs:SendMessage")) == [
        "BulkQueue",  # the CRM journal's notes (bulk work)
        "PushFailuresQueue",  # the stream mapping's on-failure destination
        "SignalsQueue",  # service.push_later re-queues retryable push failures
    ]
    assert [r["Fn::GetAtt"][0] for r in _grants("LeadConversionFunction", "sqs:SendMessage")] == [
        "BulkQueue"  # a converted lead's journal note, nothing else
    ]
    pollers = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}
    for fid in FUNCTIONS:
        if fid not in ("SyncWorkerFunction", "PushOnChangeFunction"):
            assert not [a for a in pollers if _grants(fid, a)], f"{fid} polls nothing"


def test_secret_access_is_scoped_to_the_secret_prefix() -> None:
    prefix = GLOBALS["Environment"]["Variables"]["SECRET_PREFIX"]
    for fid in FUNCTIONS:
        if fid == "ConsoleFunction":
            assert not _grants(fid, "secretsmanager:GetSecretValue"), "the console serves files only"
            continue
        (arn,) = _grants(fid, "secretsmanager:GetSecretValue")
        assert arn["Fn::Sub"].endswith(f":secret:{prefix}*"), (fid, arn)


def test_only_the_idempotency_users_can_use_the_idempotency_table() -> None:
    needed = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    table = {"Fn::GetAtt": ["IdempotencyTable", "Arn"]}
    users = {fid for fid in FUNCTIONS if any(table in _grants(fid, a) for a in needed)}
    assert users == {
        "WebhookIngestFunction",
        "LeadConversionFunction",
    }  # runtime.enqueue_once / lead_converter
    for fid in users:
        assert all(table in _grants(fid, a) for a in needed), fid


# ------------------------------------------------------------------------------------------ HTTP
def test_every_http_route_maps_to_an_existing_function_on_the_api() -> None:
    routes: dict[str, str] = {}
    for fid, eid, ev in _events("HttpApi"):
        assert ev["ApiId"] == {"Ref": "HttpApi"}, (fid, eid)
        key = f"{ev['Method'].upper()} {ev['Path']}"
        assert key not in routes, f"duplicate route {key}"
        routes[key] = fid
    assert routes == EXPECTED_ROUTES
    assert all(fid in FUNCTIONS for fid in routes.values())
    assert RESOURCES["HttpApi"]["Type"] == "AWS::Serverless::HttpApi"


def test_http_api_has_access_logs_throttling_and_no_authorizer() -> None:
    props = RESOURCES["HttpApi"]["Properties"]
    group = RESOURCES[_target(props["AccessLogSettings"]["DestinationArn"])]
    assert group["Type"] == "AWS::Logs::LogGroup" and "RetentionInDays" in group["Properties"]
    json.loads(props["AccessLogSettings"]["Format"])  # CloudWatch Insights needs valid JSON
    assert props["DefaultRouteSettings"]["ThrottlingBurstLimit"] > 0
    assert props["DefaultRouteSettings"]["ThrottlingRateLimit"] > 0
    assert "Auth" not in props  # tenants' bearer tokens and webhook signatures are checked in code


@pytest.mark.parametrize(
    ("method", "path", "function", "params"),
    [
        (
            "POST",
            "/webhooks/economic/t1/c1",
            "WebhookIngestFunction",
            {"tenant_id": "t1", "connection_id": "c1"},
        ),
        (
            "GET",
            "/webhooks/economic/t1/c1",
            "WebhookIngestFunction",
            {"tenant_id": "t1", "connection_id": "c1"},
        ),
        (
            "POST",
            "/webhooks/hubspot/t1/c2/",
            "WebhookIngestFunction",
            {"tenant_id": "t1", "connection_id": "c2"},
        ),
        ("DELETE", "/tenants/t1/connections/c1", "ApiFunction", {"proxy": "t1/connections/c1"}),
        ("GET", "/openapi.json", "ApiFunction", {}),
    ],
)
def test_match_route_picks_the_handler_like_api_gateway(
    method: str, path: str, function: str, params: dict[str, str]
) -> None:
    found = match_route(SPECS, method, path)
    assert found is not None
    assert (found[0].logical_id, found[2]) == (function, params)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/webhooks/economic/t1/c1"),
        ("POST", "/webhooks/hubspot/t1"),
        ("GET", "/tenants"),
        ("GET", "/"),
    ],
)
def test_match_route_returns_none_for_unrouted_requests(method: str, path: str) -> None:
    assert match_route(SPECS, method, path) is None


def test_match_route_prefers_literal_then_variable_then_greedy_then_method_over_any() -> None:
    def spec(name: str, *routes: HttpRoute) -> FunctionSpec:
        return FunctionSpec(name, "x/", Path("x"), "app.h", None, 3, 128, None, http_routes=routes)

    specs = [
        spec("Greedy", HttpRoute("g", "ANY", "/a/{proxy+}")),
        spec("Var", HttpRoute("v", "ANY", "/a/{id}")),
        spec("Literal", HttpRoute("l", "ANY", "/a/b")),
        spec("Get", HttpRoute("m", "GET", "/a/{id}")),
    ]
    assert match_route(specs, "GET", "/a/b")[0].logical_id == "Literal"  # type: ignore[index]
    assert match_route(specs, "GET", "/a/c")[0].logical_id == "Get"  # type: ignore[index]
    assert match_route(specs, "POST", "/a/c")[0].logical_id == "Var"  # type: ignore[index]
    assert match_route(specs, "POST", "/a/c/d")[0].logical_id == "Greedy"  # type: ignore[index]


# ------------------------------------------------------------------------------------------ specs
def test_function_specs_summarise_events() -> None:
    assert set(SPECS) == set(EXPECTED_FUNCTIONS)
    worker = SPECS["SyncWorkerFunction"]
    assert worker.timeout == 180 and worker.memory_size == 512
    live, bulk = worker.sqs
    assert (live.queue_id, live.batch_size, live.report_batch_item_failures) == ("SignalsQueue", 10, True)
    assert (bulk.queue_id, bulk.batch_size, bulk.maximum_concurrency) == ("BulkQueue", 1, 2)
    (stream,) = SPECS["PushOnChangeFunction"].streams
    assert (stream.table_id, stream.batch_size, stream.on_failure_queue_id) == (
        "SyncTable",
        100,
        "PushFailuresQueue",
    )
    (schedule,) = SPECS["ScheduledPullFunction"].schedules
    assert (schedule.expression, schedule.rate_seconds) == ("rate(5 minutes)", 300)
    assert SPECS["ScheduledPullFunction"].reserved_concurrency == 1
    assert all(not s.other_events for s in SPECS.values())
    for fid, spec in SPECS.items():
        assert spec.code_dir == REPO_ROOT / "functions" / EXPECTED_FUNCTIONS[fid]
        assert (spec.module_name, spec.handler_name) == ("app", "lambda_handler")


def test_function_specs_resolve_schedule_parameter_override() -> None:
    specs = function_specs(TEMPLATE, parameters={"PullSchedule": "rate(1 hour)"})
    assert specs["ScheduledPullFunction"].schedules[0].rate_seconds == 3600
    assert rate_seconds("cron(0 * * * ? *)") is None


def test_matches_filter_operators() -> None:
    record = {"a": {"s": "REC#1", "n": 5, "tags": ["x", "y"]}}
    assert matches_filter({"a": {"s": [{"prefix": "REC#"}]}}, record)
    assert matches_filter({"a": {"n": [{"numeric": [">", 1, "<=", 5]}]}}, record)
    assert matches_filter({"a": {"tags": ["y"]}}, record)
    assert matches_filter({"a": {"missing": [{"exists": False}]}}, record)
    assert not matches_filter({"a": {"s": [{"anything-but": ["REC#1"]}]}}, record)
    assert not matches_filter({"a": {"missing": ["x"]}}, record)


# ------------------------------------------------------------------------------------------ alarms
def test_every_failure_queue_and_worker_has_an_alarm() -> None:
    alarms = [v["Properties"] for v in RESOURCES.values() if v["Type"] == "AWS::CloudWatch::Alarm"]

    def alarmed(namespace: str, metric: str, target: str) -> bool:
        return any(
            a["Namespace"] == namespace
            and a["MetricName"] == metric
            and _target(a["Dimensions"][0]["Value"]) == target
            and a["AlarmActions"] == [{"Ref": "AlarmTopic"}]
            for a in alarms
        )

    for queue in ("SignalsDLQ", "PushFailuresQueue", "ScheduleDLQ"):
        assert alarmed("AWS/SQS", "ApproximateNumberOfMessagesVisible", queue), queue
    functions = [k for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"]
    assert len(functions) == 7
    for fid in functions:
        assert alarmed("AWS/Lambda", "Errors", fid), fid
    # The push falling behind its stream, and signals waiting in the queue, page as well.
    assert alarmed("AWS/Lambda", "IteratorAge", "PushOnChangeFunction")
    assert alarmed("AWS/SQS", "ApproximateAgeOfOldestMessage", "SignalsQueue")
    assert any(
        a["Namespace"] == "crmsync" and a["MetricName"] == "ConnectionNeedsAttention" for a in alarms
    ), "a broken tenant connection pages"
    # Every alarm reports to the one topic, both ways (so an operator also sees it clear).
    assert all(a["AlarmActions"] == a["OKActions"] == [{"Ref": "AlarmTopic"}] for a in alarms)
    subscription = RESOURCES["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}


def test_outputs() -> None:
    assert {
        "ApiUrl",
        "SyncTableName",
        "IdempotencyTableName",
        "SignalsQueueUrl",
        "SignalsDLQUrl",
        "PushFailuresQueueUrl",
        "AlarmTopicArn",
    } <= set(TEMPLATE["Outputs"])


def test_worker_parks_on_the_queues_last_receive() -> None:
    """The worker parks a message on its last attempt; that is the queue's maxReceiveCount."""
    from crmsync.worker import MAX_RECEIVES

    for queue in ("SignalsQueue", "BulkQueue"):
        assert RESOURCES[queue]["Properties"]["RedrivePolicy"]["maxReceiveCount"] == MAX_RECEIVES


def test_the_console_function_can_only_log_and_trace() -> None:
    """The console serves its own files; the browser calls the tenant API with the tenant's token."""
    actions = {a for st in _role_statements("ConsoleFunction") for a in _listed(st["Action"])}
    assert actions == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }

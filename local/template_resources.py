"""Build the tables and queues of ``template.yaml`` on moto (or any endpoint) and describe its functions.

Why: tests and the local stack must not drift from what CloudFormation deploys. Nothing about tables,
queues, environment variables, routes or event sources is restated here; it is all read from the
template, so a change there reaches moto, the local gateway and the pollers the same day.

API:
- ``load_template(path)``: YAML with CloudFormation short-form tags (``!Ref``, ``!GetAtt``, ``!Sub``...)
  turned into their long forms (``{"Ref": ...}``, ``{"Fn::GetAtt": [...]}``).
- ``create_resources(dynamodb_client, sqs_client, template, prefix)``: creates every
  ``AWS::DynamoDB::Table`` and ``AWS::SQS::Queue`` and returns ``LocalResources`` (names, ARNs,
  URLs by logical id, ``env()`` = the functions' environment resolved against them).
- ``function_specs(template)``: logical id -> ``FunctionSpec`` (code dir, handler, timeout, HTTP routes,
  SQS / stream / schedule sources) and ``match_route`` to pick the handler for an HTTP request the way
  API Gateway HTTP APIs do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from local.cfn_template import (  # noqa: F401 - the local stack's one import point for template facts
    BULK_QUEUE,
    IDEMPOTENCY_TABLE,
    LOCAL_ACCOUNT_ID,
    REPO_ROOT,
    SIGNALS_QUEUE,
    SYNC_TABLE,
    TemplateDict,
    TemplateError,
    _attribute_string,
    _globals,
    _resolve_env,
    _Resolver,
    _resources_of_type,
    _Unresolved,
    load_template,
    parameter_values,
)
from local.function_specs import (  # noqa: F401
    FunctionSpec,
    HttpRoute,
    ScheduleEventSpec,
    SqsEventSpec,
    StreamEventSpec,
    function_specs,
    match_route,
    matches_filter,
    rate_seconds,
)


# --------------------------------------------------------------------------------------------------
# Resources
@dataclass(frozen=True)
class LocalResources:
    """Physical names of what ``create_resources`` made, by the template's logical ids."""

    table_names: dict[str, str]
    table_arns: dict[str, str]
    stream_arns: dict[str, str]
    queue_urls: dict[str, str]
    queue_arns: dict[str, str]
    parameters: dict[str, str]
    global_env: dict[str, str]
    function_envs: dict[str, dict[str, str]] = field(default_factory=dict)
    region: str = "us-east-1"
    stack_name: str = "crmsync-local"

    @property
    def sync_table_name(self) -> str:
        return self.table_names[SYNC_TABLE]

    @property
    def idempotency_table_name(self) -> str:
        return self.table_names[IDEMPOTENCY_TABLE]

    @property
    def sync_table_stream_arn(self) -> str:
        return self.stream_arns[SYNC_TABLE]

    @property
    def signals_queue_url(self) -> str:
        return self.queue_urls[SIGNALS_QUEUE]

    def resolver(self, template: TemplateDict | None = None) -> _Resolver:
        """A resolver of ``template``'s intrinsics against these resources (e.g. its IAM policies).

        Knows the tables (Ref, Arn, StreamArn), the queues (Ref = URL, Arn, QueueName, QueueUrl) and
        the log groups (Ref, Arn as CloudFormation returns it: ``...:log-group:NAME:*``); a reference to
        anything else raises ``TemplateError``.
        """
        template = template if template is not None else load_template()
        resolver = _Resolver(template, self.parameters, self.region, self.stack_name, strict=True)
        for logical_id, name in self.table_names.items():
            physical = {"Ref": name, "Arn": self.table_arns[logical_id]}
            if logical_id in self.stream_arns:
                physical["StreamArn"] = self.stream_arns[logical_id]
            resolver.physical[logical_id] = physical
        for logical_id, url in self.queue_urls.items():
            name = self.queue_arns[logical_id].rsplit(":", 1)[1]
            resolver.physical[logical_id] = {
                "Ref": url,
                "Arn": self.queue_arns[logical_id],
                "QueueName": name,
                "QueueUrl": url,
            }
        for logical_id, resource in _resources_of_type(template, "AWS::Logs::LogGroup").items():
            name = resolver.resolve((resource.get("Properties") or {}).get("LogGroupName") or logical_id)
            arn = f"arn:aws:logs:{self.region}:{LOCAL_ACCOUNT_ID}:log-group:{name}:*"
            resolver.physical[logical_id] = {"Ref": str(name), "Arn": arn}
        for logical_id in resolver.physical:
            if logical_id not in template["Resources"]:
                raise TemplateError(f"{logical_id} was created locally but is not in this template")
        return resolver

    def env(self, function_id: str | None = None) -> dict[str, str]:
        """Environment a function gets: Globals.Function.Environment, plus its own variables if named."""
        if function_id is None:
            return dict(self.global_env)
        if function_id not in self.function_envs:
            raise KeyError(f"no function {function_id!r} in the template")
        return dict(self.function_envs[function_id])


_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "SqsManagedSseEnabled",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
)


_QUEUE_JSON_ATTRIBUTES = ("RedrivePolicy", "RedriveAllowPolicy")


def _queue_attributes(props: Mapping[str, Any]) -> dict[str, str]:
    """CloudFormation queue properties -> SQS CreateQueue attributes (all strings, JSON policies)."""
    unknown = set(props) - set(_QUEUE_ATTRIBUTES) - set(_QUEUE_JSON_ATTRIBUTES) - {"QueueName", "Tags"}
    if unknown:
        raise TemplateError(f"queue properties not reproduced locally: {sorted(unknown)}")
    attributes = {name: _attribute_string(props[name]) for name in _QUEUE_ATTRIBUTES if name in props}
    for name in _QUEUE_JSON_ATTRIBUTES:
        if name in props:
            policy = props[name]
            attributes[name] = policy if isinstance(policy, str) else json.dumps(policy)
    return attributes


def _create_table(client: Any, name: str, props: Mapping[str, Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    for key in ("ProvisionedThroughput", "GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if key in props:
            kwargs[key] = props[key]
    stream = props.get("StreamSpecification")
    if stream:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    sse = props.get("SSESpecification")
    if sse and sse.get("SSEEnabled"):
        kwargs["SSESpecification"] = {"Enabled": True}
    try:
        description: dict[str, Any] = client.create_table(**kwargs)["TableDescription"]
    except client.exceptions.ResourceInUseException:
        # Reused local server: accept the table only if it still has the template's keys.
        description = client.describe_table(TableName=name)["Table"]
        if description["KeySchema"] != list(props["KeySchema"]):
            raise TemplateError(
                f"table {name} exists with KeySchema {description['KeySchema']}, "
                f"template says {props['KeySchema']}"
            ) from None
        return description
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled", False):
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
        )
    return description


def create_resources(
    dynamodb_client: Any,
    sqs_client: Any,
    template: TemplateDict | None = None,
    prefix: str = "",
    *,
    parameters: Mapping[str, str] | None = None,
) -> LocalResources:
    """Create the template's DynamoDB tables and SQS queues; safe to call again on the same endpoint.

    Names are ``prefix + logical id`` (or ``prefix + TableName/QueueName`` when the template sets one),
    so several test runs can share one moto server. Queues are created after the queues their
    redrive policies point at. ``parameters`` overrides template parameter defaults (e.g. Stage).
    """
    template = template if template is not None else load_template()
    params = parameter_values(template, parameters)
    region = dynamodb_client.meta.region_name or "us-east-1"
    resolver = _Resolver(template, params, region, stack_name=(prefix.rstrip("-_") or "crmsync-local"))

    table_names: dict[str, str] = {}
    table_arns: dict[str, str] = {}
    stream_arns: dict[str, str] = {}
    for logical_id, resource in _resources_of_type(template, "AWS::DynamoDB::Table").items():
        props = resolver.resolve(resource.get("Properties") or {})
        name = prefix + str(props.get("TableName") or logical_id)
        description = _create_table(dynamodb_client, name, props)
        table_names[logical_id] = name
        table_arns[logical_id] = description["TableArn"]
        physical = {"Ref": name, "Arn": description["TableArn"]}
        if description.get("LatestStreamArn"):
            stream_arns[logical_id] = description["LatestStreamArn"]
            physical["StreamArn"] = description["LatestStreamArn"]
        resolver.physical[logical_id] = physical

    queue_urls: dict[str, str] = {}
    queue_arns: dict[str, str] = {}
    pending = dict(_resources_of_type(template, "AWS::SQS::Queue"))
    while pending:
        progressed = False
        for logical_id, resource in list(pending.items()):
            try:
                props = resolver.resolve(resource.get("Properties") or {})
            except _Unresolved:
                continue  # its DLQ (or another queue) is created first
            name = prefix + str(props.get("QueueName") or logical_id)
            if props.get("FifoQueue") and not name.endswith(".fifo"):
                name += ".fifo"
            url = sqs_client.create_queue(QueueName=name, Attributes=_queue_attributes(props))["QueueUrl"]
            arn = sqs_client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            queue_urls[logical_id], queue_arns[logical_id] = url, arn
            resolver.physical[logical_id] = {"Ref": url, "Arn": arn, "QueueName": name, "QueueUrl": url}
            del pending[logical_id]
            progressed = True
        if not progressed:
            raise TemplateError(f"queues reference resources that are not created locally: {sorted(pending)}")

    global_env = _resolve_env(resolver, _globals(template).get("Environment"), "Globals")
    function_envs: dict[str, dict[str, str]] = {}
    for logical_id, resource in _resources_of_type(template, "AWS::Serverless::Function").items():
        own = _resolve_env(resolver, (resource.get("Properties") or {}).get("Environment"), logical_id)
        function_envs[logical_id] = {**global_env, **own}

    return LocalResources(
        table_names=table_names,
        table_arns=table_arns,
        stream_arns=stream_arns,
        queue_urls=queue_urls,
        queue_arns=queue_arns,
        parameters=params,
        global_env=global_env,
        function_envs=function_envs,
        region=region,
        stack_name=resolver.pseudo["AWS::StackName"],
    )

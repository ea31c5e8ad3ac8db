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
import operator
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"

# Logical ids the rest of the project relies on (the functions read them through env vars).
SYNC_TABLE = "SyncTable"
IDEMPOTENCY_TABLE = "IdempotencyTable"
SIGNALS_QUEUE = "SignalsQueue"
BULK_QUEUE = "BulkQueue"

LOCAL_ACCOUNT_ID = "123456789012"  # moto's default account
LAMBDA_DEFAULT_TIMEOUT = 3
LAMBDA_DEFAULT_MEMORY = 128

TemplateDict = dict[str, Any]


class TemplateError(ValueError):
    """The template uses something this module cannot reproduce locally, or local state disagrees."""


class _Unresolved(Exception):
    """A reference to a resource not created yet; the caller retries once it exists."""


class _NoValue:
    """Stand-in for ``AWS::NoValue``: the property is dropped."""


NO_VALUE = _NoValue()


# --------------------------------------------------------------------------------------------------
# Loading
class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation's short-form intrinsic tags."""


def _construct_intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise TemplateError(f"cannot read !{tag_suffix} node {node!r}")
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_intrinsic)


def load_template(path: str | Path = "template.yaml") -> TemplateDict:
    """Parse a CloudFormation/SAM YAML template (a relative path not in the cwd is tried at the repo root)."""
    candidate = Path(path)
    if not candidate.is_absolute() and not candidate.exists():
        candidate = REPO_ROOT / candidate
    with candidate.open(encoding="utf-8") as handle:
        loaded = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - _CfnLoader is a SafeLoader subclass
    if not isinstance(loaded, dict) or "Resources" not in loaded:
        raise TemplateError(f"{candidate} is not a CloudFormation template (no Resources)")
    return loaded


def _resources_of_type(template: TemplateDict, *types: str) -> dict[str, dict[str, Any]]:
    return {lid: res for lid, res in template["Resources"].items() if res.get("Type") in types}


def _ref_target(value: Any) -> str | None:
    """Logical id behind ``!Ref X`` / ``!GetAtt X.Attr`` (what event sources and destinations point at)."""
    if isinstance(value, dict) and len(value) == 1:
        if "Ref" in value and isinstance(value["Ref"], str):
            return value["Ref"]
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return target[0] if isinstance(target, list) else str(target).split(".", 1)[0]
    return None


def parameter_values(template: TemplateDict, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Parameter defaults of the template with ``overrides`` applied (as CloudFormation would pass them)."""
    values: dict[str, str] = {}
    for name, spec in (template.get("Parameters") or {}).items():
        if "Default" in spec:
            values[name] = str(spec["Default"])
    for name, value in (overrides or {}).items():
        if name not in (template.get("Parameters") or {}):
            raise TemplateError(f"unknown parameter {name!r}")
        values[name] = str(value)
    return values


# --------------------------------------------------------------------------------------------------
# Intrinsic resolution (the subset the template uses; anything else fails loudly)
class _Resolver:
    """Resolves intrinsics against parameters, pseudo parameters and the resources created so far."""

    def __init__(
        self,
        template: TemplateDict,
        parameters: Mapping[str, str],
        region: str,
        stack_name: str,
        *,
        strict: bool = False,
    ):
        self.template = template
        self.strict = strict
        """A reference to a resource not in ``physical`` is a ``TemplateError`` (no later retry)."""
        self.parameters = dict(parameters)
        self.pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": LOCAL_ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::StackName": stack_name,
            "AWS::URLSuffix": "amazonaws.com",
        }
        # logical id -> attribute name ("Ref" for !Ref) -> physical value
        self.physical: dict[str, dict[str, str]] = {}

    def condition(self, name: str) -> bool:
        conditions = self.template.get("Conditions") or {}
        if name not in conditions:
            raise TemplateError(f"unknown condition {name!r}")
        return bool(self.resolve(conditions[name]))

    def _attr(self, logical_id: str, attr: str) -> str:
        if logical_id in self.physical:
            if attr not in self.physical[logical_id]:
                raise TemplateError(f"{logical_id}.{attr} is not available locally")
            return self.physical[logical_id][attr]
        if logical_id in self.template["Resources"] and not self.strict:
            raise _Unresolved(logical_id)
        if logical_id in self.template["Resources"]:
            raise TemplateError(f"{logical_id}.{attr} is not a resource created locally")
        raise TemplateError(f"reference to unknown resource {logical_id!r}")

    def _ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if name in (self.template.get("Parameters") or {}):
            raise TemplateError(f"parameter {name!r} has no default; pass it in parameters=")
        return self._attr(name, "Ref")

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        local = {key: self.resolve(value) for key, value in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in local:
                return str(local[name])
            if "." in name:
                logical_id, attr = name.split(".", 1)
                return self._attr(logical_id, attr)
            return str(self._ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def resolve(self, value: Any) -> Any:
        """Return ``value`` with every intrinsic replaced by its local physical value."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                logical_id, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return self._attr(logical_id, attr)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                return str(arg[0]).join(str(part) for part in self.resolve(arg[1]))
            if key == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if key == "Fn::Split":
                return str(self.resolve(arg[1])).split(arg[0])
            if key == "Fn::If":
                return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Fn::Equals":
                return self.resolve(arg[0]) == self.resolve(arg[1])
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(item) for item in arg)
            if key == "Fn::Or":
                return any(self.resolve(item) for item in arg)
            if key == "Condition":
                return self.condition(arg)
            if key.startswith("Fn::"):
                raise TemplateError(f"intrinsic {key} is not supported locally")
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}


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


def _attribute_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


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


def _globals(template: TemplateDict) -> dict[str, Any]:
    return dict((template.get("Globals") or {}).get("Function") or {})


def _resolve_env(resolver: _Resolver, environment: Any, where: str) -> dict[str, str]:
    variables = (environment or {}).get("Variables") or {}
    try:
        resolved = resolver.resolve(variables)
    except _Unresolved as missing:
        raise TemplateError(f"{where} environment references {missing}, not created locally") from None
    return {key: _attribute_string(value) for key, value in resolved.items()}


# --------------------------------------------------------------------------------------------------
# Functions and their event sources
def _path_segments(path: str) -> list[str]:
    return [segment for segment in path.strip("/").split("/") if segment] if path.strip("/") else []


@dataclass(frozen=True)
class HttpRoute:
    """One ``HttpApi`` event: method (``ANY`` allowed) and path with ``{var}`` / ``{var+}`` segments."""

    event_id: str
    method: str
    path: str

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """Path parameters if the request matches this route, else None (greedy ``{x+}`` takes the rest)."""
        if self.method not in ("ANY", method.upper()):
            return None
        pattern, actual = _path_segments(self.path), _path_segments(path)
        params: dict[str, str] = {}
        for index, segment in enumerate(pattern):
            if segment.startswith("{") and segment.endswith("+}"):
                if index >= len(actual):
                    return None
                params[segment[1:-2]] = "/".join(actual[index:])
                return params
            if index >= len(actual):
                return None
            if segment.startswith("{") and segment.endswith("}"):
                params[segment[1:-1]] = actual[index]
            elif segment != actual[index]:
                return None
        return params if len(actual) == len(pattern) else None

    def specificity(self) -> tuple[tuple[int, ...], int]:
        """Sort key, lower wins: literal segments beat ``{var}`` beat ``{var+}``, then a method beats ANY."""
        ranks = tuple(
            2 if seg.endswith("+}") else 1 if seg.startswith("{") else 0 for seg in _path_segments(self.path)
        )
        return ranks, 1 if self.method == "ANY" else 0


@dataclass(frozen=True)
class SqsEventSpec:
    """An ``SQS`` event: the queue (logical id) and how Lambda batches it."""

    event_id: str
    queue_id: str
    batch_size: int
    maximum_batching_window: int
    report_batch_item_failures: bool
    maximum_concurrency: int | None


@dataclass(frozen=True)
class StreamEventSpec:
    """A ``DynamoDB`` stream event: table (logical id), batching, retries and the Lambda event filters."""

    event_id: str
    table_id: str
    batch_size: int
    maximum_batching_window: int
    starting_position: str
    bisect_on_error: bool
    maximum_retry_attempts: int | None
    maximum_record_age: int | None
    report_batch_item_failures: bool
    on_failure_queue_id: str | None
    filter_patterns: tuple[dict[str, Any], ...]

    @property
    def filter_prefix(self) -> str | None:
        """The ``SK`` prefix of a ``{"dynamodb": {"Keys": {"SK": {"S": [{"prefix": ...}]}}}}`` filter."""
        for pattern in self.filter_patterns:
            options = pattern.get("dynamodb", {}).get("Keys", {}).get("SK", {}).get("S", [])
            for option in options:
                if isinstance(option, dict) and "prefix" in option:
                    return str(option["prefix"])
        return None

    def accepts(self, record: Mapping[str, Any]) -> bool:
        """Whether Lambda would deliver this stream record (no filters = everything; any filter matches)."""
        return not self.filter_patterns or any(matches_filter(p, record) for p in self.filter_patterns)


@dataclass(frozen=True)
class ScheduleEventSpec:
    """A ``ScheduleV2``/``Schedule`` event; ``rate_seconds`` is set for ``rate(...)`` expressions."""

    event_id: str
    expression: str
    rate_seconds: int | None
    maximum_retry_attempts: int | None
    dead_letter_queue_id: str | None


@dataclass(frozen=True)
class FunctionSpec:
    """What the template says about one function, enough for a local gateway/poller to invoke it."""

    logical_id: str
    code_uri: str
    code_dir: Path
    handler: str
    runtime: str | None
    timeout: int
    memory_size: int
    reserved_concurrency: int | None
    http_routes: tuple[HttpRoute, ...] = ()
    sqs: tuple[SqsEventSpec, ...] = ()
    streams: tuple[StreamEventSpec, ...] = ()
    schedules: tuple[ScheduleEventSpec, ...] = ()
    other_events: tuple[str, ...] = ()

    @property
    def module_name(self) -> str:
        """Module of the handler inside ``code_dir`` (``app`` for ``app.lambda_handler``)."""
        return self.handler.rsplit(".", 1)[0]

    @property
    def handler_name(self) -> str:
        return self.handler.rsplit(".", 1)[1]


_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_RATE_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> int | None:
    """Seconds between runs of a ``rate(N unit)`` expression; None for ``cron(...)``/``at(...)``."""
    match = _RATE.match(expression.strip())
    if not match:
        return None
    return int(match.group(1)) * _RATE_UNIT_SECONDS[match.group(2).rstrip("s")]


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _reports_item_failures(ev: Mapping[str, Any]) -> bool:
    return "ReportBatchItemFailures" in (ev.get("FunctionResponseTypes") or [])


def _sqs_event(event_id: str, ev: Mapping[str, Any], where: str) -> SqsEventSpec:
    return SqsEventSpec(
        event_id=event_id,
        queue_id=_require_target(ev.get("Queue"), where),
        batch_size=int(ev.get("BatchSize", 10)),
        maximum_batching_window=int(ev.get("MaximumBatchingWindowInSeconds", 0)),
        report_batch_item_failures=_reports_item_failures(ev),
        maximum_concurrency=_int_or_none((ev.get("ScalingConfig") or {}).get("MaximumConcurrency")),
    )


def _stream_event(event_id: str, ev: Mapping[str, Any], where: str) -> StreamEventSpec:
    on_failure = ((ev.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    filters = (ev.get("FilterCriteria") or {}).get("Filters") or []
    return StreamEventSpec(
        event_id=event_id,
        table_id=_require_target(ev.get("Stream"), where),
        batch_size=int(ev.get("BatchSize", 100)),
        maximum_batching_window=int(ev.get("MaximumBatchingWindowInSeconds", 0)),
        starting_position=str(ev.get("StartingPosition", "LATEST")),
        bisect_on_error=bool(ev.get("BisectBatchOnFunctionError", False)),
        maximum_retry_attempts=_int_or_none(ev.get("MaximumRetryAttempts")),
        maximum_record_age=_int_or_none(ev.get("MaximumRecordAgeInSeconds")),
        report_batch_item_failures=_reports_item_failures(ev),
        on_failure_queue_id=_ref_target(on_failure),
        filter_patterns=tuple(json.loads(f["Pattern"]) for f in filters),
    )


def _schedule_event(event_id: str, ev: Mapping[str, Any], resolver: _Resolver) -> ScheduleEventSpec:
    expression = str(resolver.resolve(ev.get("ScheduleExpression") or ev.get("Schedule")))
    return ScheduleEventSpec(
        event_id=event_id,
        expression=expression,
        rate_seconds=rate_seconds(expression),
        maximum_retry_attempts=_int_or_none((ev.get("RetryPolicy") or {}).get("MaximumRetryAttempts")),
        dead_letter_queue_id=_ref_target((ev.get("DeadLetterConfig") or {}).get("Arn")),
    )


def function_specs(
    template: TemplateDict | None = None,
    *,
    parameters: Mapping[str, str] | None = None,
    base_dir: Path = REPO_ROOT,
) -> dict[str, FunctionSpec]:
    """Logical id -> ``FunctionSpec`` for every ``AWS::Serverless::Function`` (Globals applied)."""
    template = template if template is not None else load_template()
    resolver = _Resolver(template, parameter_values(template, parameters), "us-east-1", "crmsync-local")
    defaults = _globals(template)
    specs: dict[str, FunctionSpec] = {}
    for logical_id, resource in _resources_of_type(template, "AWS::Serverless::Function").items():
        props = {**defaults, **(resource.get("Properties") or {})}
        code_uri = str(props.get("CodeUri", ""))
        routes: list[HttpRoute] = []
        sqs: list[SqsEventSpec] = []
        streams: list[StreamEventSpec] = []
        schedules: list[ScheduleEventSpec] = []
        other: list[str] = []
        for event_id, event in (props.get("Events") or {}).items():
            kind, ev, where = event.get("Type"), event.get("Properties") or {}, f"{logical_id}.{event_id}"
            if kind in ("HttpApi", "Api"):
                method, path = str(ev.get("Method", "ANY")).upper(), str(ev.get("Path", "/"))
                routes.append(HttpRoute(event_id, method, path))
            elif kind == "SQS":
                sqs.append(_sqs_event(event_id, ev, where))
            elif kind == "DynamoDB":
                streams.append(_stream_event(event_id, ev, where))
            elif kind in ("ScheduleV2", "Schedule"):
                schedules.append(_schedule_event(event_id, ev, resolver))
            else:
                other.append(f"{event_id}:{kind}")
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            code_uri=code_uri,
            code_dir=(base_dir / code_uri).resolve(),
            handler=str(props.get("Handler", "")),
            runtime=props.get("Runtime"),
            timeout=int(props.get("Timeout", LAMBDA_DEFAULT_TIMEOUT)),
            memory_size=int(props.get("MemorySize", LAMBDA_DEFAULT_MEMORY)),
            reserved_concurrency=_int_or_none(props.get("ReservedConcurrentExecutions")),
            http_routes=tuple(routes),
            sqs=tuple(sqs),
            streams=tuple(streams),
            schedules=tuple(schedules),
            other_events=tuple(other),
        )
    return specs


def _require_target(value: Any, where: str) -> str:
    target = _ref_target(value)
    if target is None:
        raise TemplateError(f"{where}: event source must be !Ref/!GetAtt of a template resource")
    return target


def match_route(
    specs: Mapping[str, FunctionSpec] | Iterable[FunctionSpec], method: str, path: str
) -> tuple[FunctionSpec, HttpRoute, dict[str, str]] | None:
    """The function, route and path parameters API Gateway would pick for ``method path`` (None = 404)."""
    candidates = specs.values() if isinstance(specs, Mapping) else specs
    best: tuple[tuple[tuple[int, ...], int], FunctionSpec, HttpRoute, dict[str, str]] | None = None
    for spec in candidates:
        for route in spec.http_routes:
            params = route.match(method, path)
            if params is None:
                continue
            key = route.specificity()
            if best is None or key < best[0]:
                best = (key, spec, route, params)
    return None if best is None else (best[1], best[2], best[3])


# --------------------------------------------------------------------------------------------------
# Lambda event filtering (the pattern subset Lambda supports), so the local poller filters like AWS
_NUMERIC_OPS = {"<": operator.lt, "<=": operator.le, "=": operator.eq, ">": operator.gt, ">=": operator.ge}


def _matches_rule(rule: Any, present: bool, value: Any) -> bool:
    if not isinstance(rule, dict):
        return present and value == rule
    ((op, arg),) = rule.items()
    if op == "exists":
        return present is bool(arg)
    if not present:
        return False
    if op == "prefix":
        return isinstance(value, str) and value.startswith(arg)
    if op == "suffix":
        return isinstance(value, str) and value.endswith(arg)
    if op == "equals-ignore-case":
        return isinstance(value, str) and value.lower() == str(arg).lower()
    if op == "anything-but":
        if isinstance(arg, dict):
            return not _matches_rule(arg, present, value)
        excluded = arg if isinstance(arg, list) else [arg]
        return value not in excluded
    if op == "numeric":
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False
        return all(_NUMERIC_OPS[arg[i]](value, arg[i + 1]) for i in range(0, len(arg), 2))
    raise TemplateError(f"filter operator {op!r} is not supported locally")


def matches_filter(pattern: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    """Lambda event-filter semantics: every key must match; a list is a set of alternatives."""
    for key, expected in pattern.items():
        present = isinstance(record, Mapping) and key in record
        value = record.get(key) if present else None
        if isinstance(expected, Mapping):
            # An absent object still matches a sub-pattern made of ``exists: false`` leaves.
            if present and not isinstance(value, Mapping):
                return False
            if not matches_filter(expected, value if present else {}):
                return False
            continue
        rules = expected if isinstance(expected, list) else [expected]
        values = value if isinstance(value, list) and value else [value]
        if not any(_matches_rule(rule, present, item) for rule in rules for item in values):
            return False
    return True

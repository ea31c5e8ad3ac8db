"""What each function of template.yaml is for the local stack: handler, timeout, memory, its HTTP
routes, SQS, stream and schedule events (batching, filters, failure destinations), and route matching.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.cfn_template import (
    LAMBDA_DEFAULT_MEMORY,
    LAMBDA_DEFAULT_TIMEOUT,
    REPO_ROOT,
    TemplateDict,
    TemplateError,
    _globals,
    _ref_target,
    _Resolver,
    _resources_of_type,
    load_template,
    parameter_values,
)


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

"""IAM policy evaluation for the local stack (identity-based policies of one role, as AWS evaluates them).

Why: moto accepts every call, so nothing would notice a function calling something its role does not
grant until it fails on AWS. ``local.iam`` feeds each call a function makes through ``evaluate``.

Rules (the subset of AWS's evaluation logic that identity policies of a Lambda role need):
- a statement applies when its ``Action`` (or ``NotAction``) and ``Resource`` (or ``NotResource``) match
  and its ``Condition`` holds; ``*`` matches any run of characters and ``?`` one character, action
  names ignore case, ARNs do not;
- an applicable ``Deny`` wins over any ``Allow``; without an applicable ``Allow`` the call is denied;
- fail closed: a condition operator, a condition key or a policy variable (``${aws:username}``) this
  module does not understand makes an ``Allow`` statement not apply and a ``Deny`` statement apply.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlparse


class PolicyError(ValueError):
    """A policy document that IAM itself would reject (or that is not an identity policy)."""


def _strings(value: Any, where: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, str) and item for item in items):
        raise PolicyError(f"{where} must be a non-empty string or list of strings, got {value!r}")
    return tuple(items)


@dataclass(frozen=True)
class Statement:
    """One statement; exactly one of ``actions``/``not_actions`` and of ``resources``/``not_resources``."""

    effect: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    condition: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    sid: str = ""
    policy: str = ""
    """Name of the policy holding it (inline policy name or managed policy ARN), for messages."""

    def __post_init__(self) -> None:
        if self.effect not in ("Allow", "Deny"):
            raise PolicyError(f"Effect must be Allow or Deny, got {self.effect!r}")
        if bool(self.actions) == bool(self.not_actions):
            raise PolicyError(f"statement {self.sid or self.policy!r} needs exactly one of Action, NotAction")
        if bool(self.resources) == bool(self.not_resources):
            raise PolicyError(
                f"statement {self.sid or self.policy!r} needs exactly one of Resource, NotResource"
            )

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], policy: str = "") -> Statement:
        if "Principal" in raw or "NotPrincipal" in raw:
            raise PolicyError(f"{policy}: an identity-based policy names no Principal")
        unknown = set(raw) - {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
        if unknown:
            raise PolicyError(f"{policy}: unknown statement keys {sorted(unknown)}")
        condition = raw.get("Condition") or {}
        if not isinstance(condition, Mapping) or not all(isinstance(v, Mapping) for v in condition.values()):
            raise PolicyError(f"{policy}: Condition must map operators to {{key: values}}")
        return cls(
            effect=str(raw.get("Effect")),
            actions=_strings(raw["Action"], "Action") if "Action" in raw else (),
            not_actions=_strings(raw["NotAction"], "NotAction") if "NotAction" in raw else (),
            resources=_strings(raw["Resource"], "Resource") if "Resource" in raw else (),
            not_resources=_strings(raw["NotResource"], "NotResource") if "NotResource" in raw else (),
            condition=condition,
            sid=str(raw.get("Sid", "")),
            policy=policy,
        )


def parse_document(document: Mapping[str, Any], policy: str = "") -> list[Statement]:
    """The statements of a policy document (``Statement`` may be one object or a list)."""
    raw = document.get("Statement")
    if raw is None:
        raise PolicyError(f"{policy}: policy document has no Statement")
    items = raw if isinstance(raw, list) else [raw]
    return [Statement.from_dict(item, policy) for item in items]


# --------------------------------------------------------------------------------------------------
# Matching
@lru_cache(maxsize=4096)
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


class _NotUnderstood(Exception):
    """Something in a statement this evaluator cannot decide (the caller fails closed)."""


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's string wildcards: ``*`` any run of characters (``/`` and ``:`` included), ``?`` one."""
    if "${" in pattern:
        raise _NotUnderstood(f"policy variable in {pattern!r}")
    return bool(_wildcard(pattern, ignore_case).match(value))


def _any_match(patterns: Iterable[str], value: str, *, ignore_case: bool) -> bool:
    return any(wildcard_match(p, value, ignore_case=ignore_case) for p in patterns)


def _string_op(values: Sequence[str], actual: Sequence[str], *, like: bool, ignore_case: bool) -> bool:
    for expected in values:
        for got in actual:
            if like and wildcard_match(expected, got, ignore_case=ignore_case):
                return True
            if not like and (expected.lower() == got.lower() if ignore_case else expected == got):
                return True
    return False


# operator -> (like?, ignore case?, negated?)
_OPERATORS: dict[str, tuple[bool, bool, bool]] = {
    "StringEquals": (False, False, False),
    "StringNotEquals": (False, False, True),
    "StringEqualsIgnoreCase": (False, True, False),
    "StringNotEqualsIgnoreCase": (False, True, True),
    "StringLike": (True, False, False),
    "StringNotLike": (True, False, True),
    "ArnEquals": (True, False, False),  # ArnEquals also honours wildcards, like ArnLike
    "ArnLike": (True, False, False),
    "ArnNotEquals": (True, False, True),
    "ArnNotLike": (True, False, True),
    "Bool": (False, True, False),  # "true"/"false", compared as strings
}


def _condition_holds(condition: Mapping[str, Mapping[str, Any]], context: Mapping[str, Any]) -> bool:
    """All operators and keys must hold; raise ``_NotUnderstood`` for anything outside the subset.

    A key missing from ``context`` is not understood either (AWS would make a negated operator true
    then: exactly the case where guessing would silently allow).
    """
    lowered = {key.lower(): value for key, value in context.items()}
    for operator, tests in condition.items():
        if operator not in _OPERATORS:
            raise _NotUnderstood(f"condition operator {operator}")
        like, ignore_case, negated = _OPERATORS[operator]
        for key, expected in tests.items():
            if key.lower() not in lowered:
                raise _NotUnderstood(f"condition key {key} (no value for it here)")
            raw = lowered[key.lower()]
            actual = [str(v) for v in (raw if isinstance(raw, list | tuple) else [raw])]
            wanted = [str(v) for v in (expected if isinstance(expected, list) else [expected])]
            if _string_op(wanted, actual, like=like, ignore_case=ignore_case) is negated:
                return False
    return True


# --------------------------------------------------------------------------------------------------
# Evaluation
@dataclass(frozen=True)
class Decision:
    allowed: bool
    explicit_deny: bool = False
    statement: Statement | None = None
    """The Deny that refused, or the first Allow that granted."""
    notes: tuple[str, ...] = ()
    """Statements decided by failing closed (not-understood conditions or variables)."""


def _applies(statement: Statement, action: str, resource: str, context: Mapping[str, Any]) -> bool:
    if statement.actions:
        if not _any_match(statement.actions, action, ignore_case=True):
            return False
    elif _any_match(statement.not_actions, action, ignore_case=True):
        return False
    if statement.resources:
        if not _any_match(statement.resources, resource, ignore_case=False):
            return False
    elif _any_match(statement.not_resources, resource, ignore_case=False):
        return False
    return _condition_holds(statement.condition, context) if statement.condition else True


def evaluate(
    statements: Iterable[Statement],
    action: str,
    resource: str,
    context: Mapping[str, Any] | None = None,
) -> Decision:
    """Whether the identity policies ``statements`` allow ``action`` on ``resource`` (explicit deny wins)."""
    notes: list[str] = []
    allow: Statement | None = None
    for statement in statements:
        try:
            applies = _applies(statement, action, resource, context or {})
        except _NotUnderstood as unknown:
            # Fail closed: an Allow we cannot decide grants nothing, a Deny we cannot decide refuses.
            applies = statement.effect == "Deny"
            notes.append(
                f"{statement.policy}/{statement.sid or '-'}: {unknown} -> {statement.effect} "
                f"{'applied' if applies else 'ignored'}"
            )
        if not applies:
            continue
        if statement.effect == "Deny":
            return Decision(False, explicit_deny=True, statement=statement, notes=tuple(notes))
        allow = allow or statement
    return Decision(allow is not None, statement=allow, notes=tuple(notes))


# --------------------------------------------------------------------------------------------------
# Calls -> (action, resource): what AWS authorizes for one boto3 call
_IAM_PREFIX = {"dynamodbstreams": "dynamodb"}
# Operations IAM authorizes under another action: the batch forms of SQS share the single one's, and a
# DynamoDB transaction is authorized item by item (docs: "Using IAM with DynamoDB transactions").
_SQS_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
_TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem"}
_TRANSACT_ACTIONS |= {"ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}


def queue_arn(region: str, url: str) -> str:
    """``https://sqs.<region>.amazonaws.com/<account>/<name>`` (or moto's URL) -> the queue's ARN."""
    parts = [p for p in urlparse(url).path.split("/") if p]
    if len(parts) < 2:
        raise ValueError(f"not a queue URL: {url!r}")
    return f"arn:aws:sqs:{region}:{parts[-2]}:{parts[-1]}"


def _dynamodb(op: str, params: Mapping[str, Any], table_arn: Callable[[str], str]) -> list[tuple[str, str]]:
    if op in ("BatchGetItem", "BatchWriteItem"):
        return [(op, table_arn(name)) for name in params.get("RequestItems") or {}]
    if op in ("TransactWriteItems", "TransactGetItems"):
        return [
            (_TRANSACT_ACTIONS[kind], table_arn(body["TableName"]))
            for item in params.get("TransactItems") or []
            for kind, body in item.items()
        ]
    if "TableName" in params:
        arn = table_arn(params["TableName"])
        if op == "ListStreams":
            return [(op, f"{arn}/stream/*")]
        return [(op, f"{arn}/index/{params['IndexName']}" if params.get("IndexName") else arn)]
    if "StreamArn" in params:
        return [(op, params["StreamArn"])]
    return [(op, "*")]


def call_authorizations(
    service: str,
    operation: str,
    params: Mapping[str, Any],
    region: str,
    account: str,
    stream_of_iterator: Callable[[str], str] = lambda _: "*",
) -> list[tuple[str, str]]:
    """The (IAM action, resource ARN) pairs AWS checks for one call of botocore ``service``.

    Names become ARNs in ``region``/``account`` (an ARN given as a name stays). What is not modelled
    here is checked against resource ``*``, which only a ``Resource: "*"`` statement grants.
    ``stream_of_iterator`` tells which stream a ``GetRecords`` shard iterator reads.
    """

    def arn(kind: str, resource_type: str, name: str) -> str:
        return name if name.startswith("arn:") else f"arn:aws:{kind}:{region}:{account}:{resource_type}{name}"

    prefix = _IAM_PREFIX.get(service, service)
    pairs: list[tuple[str, str]]
    if service == "dynamodbstreams" and operation == "GetRecords":
        pairs = [(operation, stream_of_iterator(str(params.get("ShardIterator", ""))))]
    elif service in ("dynamodb", "dynamodbstreams"):
        pairs = _dynamodb(operation, params, lambda name: arn("dynamodb", "table/", name))
    elif service == "sqs":
        action = _SQS_ACTIONS.get(operation, operation)
        if "QueueUrl" in params:
            pairs = [(action, queue_arn(region, params["QueueUrl"]))]
        elif "QueueName" in params:
            owner = params.get("QueueOwnerAWSAccountId") or account
            pairs = [(action, f"arn:aws:sqs:{region}:{owner}:{params['QueueName']}")]
        else:
            pairs = [(action, "*")]
    elif service == "secretsmanager" and "SecretId" in params:
        pairs = [(operation, arn("secretsmanager", "secret:", params["SecretId"]))]
    elif service == "ssm" and any(key in params for key in ("Name", "Names", "Path")):
        names = params.get("Names") or [params.get("Name") or params.get("Path")]
        pairs = [(operation, arn("ssm", "parameter/", str(n).lstrip("/"))) for n in names]
    else:
        pairs = [(operation, "*")]
    return [(f"{prefix}:{action}", resource) for action, resource in pairs]

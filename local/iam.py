"""IAM in the loop: the local stack refuses what each function's execution role would not allow on AWS.

Why: moto grants everything, so a function calling an API (or a queue, a table) its role does not
grant passes every local test and fails with AccessDenied in production. This module reads the roles
from ``template.yaml`` *as CloudFormation receives it* (SAM's own translator, so the policies and
managed policies SAM adds are included), resolves them against the local resources and checks every
boto3 call a function makes while it is "acting".

API:
- ``load_roles(resources, template)``: function logical id -> ``RoleGrant`` (resolved statements).
- ``IamEnforcer``: ``start()``/``stop()`` (or ``with``) wrap ``BaseClient._make_api_call`` and restore
  the previous function; ``acting_as(function_id)`` runs a block as that function (a ``ContextVar``:
  calls made outside any acting block, i.e. the harness and provisioning, are not checked);
  ``records`` holds every checked call, ``denied()`` the refused ones.
- ``without_action`` / ``with_deny``: role overrides for tests ("this flow fails without X").
"""

from __future__ import annotations

import copy
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import boto3
import botocore.client

from local.iam_policy import Statement, call_authorizations, evaluate, parse_document, wildcard_match
from local.template_resources import (
    LOCAL_ACCOUNT_ID,
    FunctionSpec,
    LocalResources,
    TemplateDict,
    TemplateError,
    load_template,
)

ACTING: ContextVar[str | None] = ContextVar("crmsync_local_iam_acting", default=None)
"""Logical id of the function whose role the current call runs under (None: not checked)."""

_MANAGED_PREFIX = "arn:aws:iam::aws:policy/"
_LOGS = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
MANAGED_POLICIES: dict[str, list[dict[str, Any]]] = {
    # The AWS managed policies SAM attaches to generated function roles (their documents as published).
    "service-role/AWSLambdaBasicExecutionRole": [{"Effect": "Allow", "Action": _LOGS, "Resource": "*"}],
    "AWSXrayWriteOnlyAccess": [
        {
            "Effect": "Allow",
            "Action": [
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:GetSamplingStatisticSummaries",
            ],
            "Resource": "*",
        }
    ],
    "service-role/AWSLambdaSQSQueueExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", *_LOGS],
            "Resource": "*",
        }
    ],
    "service-role/AWSLambdaDynamoDBExecutionRole": [
        {
            "Effect": "Allow",
            "Action": [
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
                *_LOGS,
            ],
            "Resource": "*",
        }
    ],
}


class _FixedManagedPolicies:
    """SAM's ``ManagedPolicyLoader`` without IAM: names this module knows the documents of, nothing else."""

    def load(self) -> dict[str, str]:
        return {name.rsplit("/", 1)[-1]: _MANAGED_PREFIX + name for name in MANAGED_POLICIES}


def _with_s3_code(template: TemplateDict) -> TemplateDict:
    """Local CodeUri/ContentUri -> placeholder S3 URIs, as ``sam validate`` does before translating."""
    out = copy.deepcopy(template)
    for resource in out["Resources"].values():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Function" and "InlineCode" not in props:
            props["CodeUri"] = "s3://local/function.zip"
        elif resource.get("Type") == "AWS::Serverless::LayerVersion":
            props["ContentUri"] = "s3://local/layer.zip"
    return out


@lru_cache(maxsize=8)
def _translate_cached(template_json: str, parameters_json: str, region: str) -> str:
    try:
        from samtranslator.parser.parser import Parser
        from samtranslator.translator.translator import Translator
        from samtranslator.utils.py27hash_fix import (
            to_py27_compatible_template,
            undo_mark_unicode_str_in_template,
        )
    except ImportError as missing:  # the local stack cannot know the roles without SAM's translator
        raise ImportError(
            "local.iam needs SAM's translator: pip install 'aws-sam-translator==1.106.0' "
            "(the newest that accepts the layer's pydantic pin)"
        ) from missing

    # What samtranslator.translator.transform.transform does, with an explicit region (no env lookup)
    # and a managed policy map that never asks IAM.
    fragment, parameters = json.loads(template_json), json.loads(parameters_json)
    to_py27_compatible_template(fragment, parameters)
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    loader = _FixedManagedPolicies()
    translated = translator.translate(fragment, parameters, get_managed_policy_map=loader.load)
    return json.dumps(undo_mark_unicode_str_in_template(translated))


def expand_template(
    template: TemplateDict, parameters: Mapping[str, str], *, region: str, stack_name: str
) -> TemplateDict:
    """The CloudFormation template SAM makes of ``template`` (offline; cached per input)."""
    values = {**parameters, "AWS::Region": region, "AWS::AccountId": LOCAL_ACCOUNT_ID}
    values |= {"AWS::Partition": "aws", "AWS::StackName": stack_name}
    translated = _translate_cached(
        json.dumps(_with_s3_code(template), sort_keys=True), json.dumps(values, sort_keys=True), region
    )
    result: TemplateDict = json.loads(translated)
    return result


# --------------------------------------------------------------------------------------------------
# Roles
@dataclass(frozen=True)
class RoleGrant:
    """A function's execution role with its statements resolved to local ARNs."""

    function_id: str
    role_id: str
    role_name: str
    statements: tuple[Statement, ...]
    managed_policy_arns: tuple[str, ...] = ()

    @property
    def session_arn(self) -> str:
        return f"arn:aws:sts::{LOCAL_ACCOUNT_ID}:assumed-role/{self.role_name}/{self.function_id}"


Roles = dict[str, RoleGrant]


def _role_of(function_id: str, function: Mapping[str, Any]) -> str:
    role = (function.get("Properties") or {}).get("Role")
    if isinstance(role, dict) and "Fn::GetAtt" in role:
        target = role["Fn::GetAtt"]
        logical_id, attr = target if isinstance(target, list) else target.split(".", 1)
        if attr == "Arn":
            return str(logical_id)
    raise TemplateError(f"{function_id}: Role must be !GetAtt <role>.Arn of a role in the template")


def roles_from_translated(translated: TemplateDict, resources: LocalResources) -> Roles:
    """Each ``AWS::Lambda::Function``'s role, its inline and managed policies resolved locally."""
    resolver = resources.resolver(translated)
    out: Roles = {}
    for function_id, function in translated["Resources"].items():
        if function.get("Type") != "AWS::Lambda::Function":
            continue
        role_id = _role_of(function_id, function)
        role = translated["Resources"].get(role_id) or {}
        if role.get("Type") != "AWS::IAM::Role":
            raise TemplateError(f"{function_id}: {role_id} is not an AWS::IAM::Role")
        props = resolver.resolve(role.get("Properties") or {})
        statements: list[Statement] = []
        for policy in props.get("Policies") or []:
            statements += parse_document(policy["PolicyDocument"], policy.get("PolicyName", role_id))
        managed = tuple(str(arn) for arn in props.get("ManagedPolicyArns") or [])
        for arn in managed:
            name = arn.removeprefix(_MANAGED_PREFIX)
            if not arn.startswith(_MANAGED_PREFIX) or name not in MANAGED_POLICIES:
                raise TemplateError(f"{role_id}: managed policy {arn!r} is unknown to local.iam")
            statements += parse_document({"Statement": MANAGED_POLICIES[name]}, arn)
        role_name = str(props.get("RoleName") or f"{resources.stack_name}-{role_id}")
        out[function_id] = RoleGrant(function_id, role_id, role_name, tuple(statements), managed)
    return out


def load_roles(resources: LocalResources, template: TemplateDict | None = None) -> Roles:
    """``template`` (default: template.yaml) through SAM's translator, roles resolved to ``resources``."""
    template = template if template is not None else load_template()
    translated = expand_template(
        template, resources.parameters, region=resources.region, stack_name=resources.stack_name
    )
    return roles_from_translated(translated, resources)


RoleOverride = Callable[[Roles], Roles]


def without_action(function_id: str, action: str, *, resource: str | None = None) -> RoleOverride:
    """Drop ``action`` from ``function_id``'s Allow statements.

    ``resource`` (IAM wildcards allowed, e.g. ``"*:SignalsQueue"``) limits this to the statements that
    name a matching resource. Raises ``LookupError`` when nothing was removed (a test that meant to
    take a right away must not pass because the right was never there).
    """

    def override(roles: Roles) -> Roles:
        grant, kept, removed = roles[function_id], [], 0
        for st in grant.statements:
            named = st.effect == "Allow" and any(a.lower() == action.lower() for a in st.actions)
            matched = [r for r in st.resources if resource is None or wildcard_match(resource, r)]
            if not named or not matched:
                kept.append(st)
                continue
            removed += 1
            others = tuple(r for r in st.resources if r not in matched)
            if others:  # the action stays on the statement's other resources
                kept.append(replace(st, resources=others))
            rest = tuple(a for a in st.actions if a.lower() != action.lower())
            if rest:
                kept.append(replace(st, actions=rest, resources=tuple(matched)))
        if not removed:
            raise LookupError(f"{function_id} has no Allow of {action} to remove")
        return {**roles, function_id: replace(grant, statements=tuple(kept))}

    return override


def with_deny(function_id: str, action: str, resource: str = "*") -> RoleOverride:
    """Add an explicit Deny of ``action`` on ``resource`` to ``function_id``'s role."""

    def override(roles: Roles) -> Roles:
        grant = roles[function_id]
        deny = Statement("Deny", actions=(action,), resources=(resource,), sid="TestDeny", policy="override")
        return {**roles, function_id: replace(grant, statements=(*grant.statements, deny))}

    return override


RECORD_LIMIT = 20_000


@dataclass(frozen=True)
class CallRecord:
    """One authorization check: a call can make several (one per table of a transaction)."""

    function: str
    operation: str
    action: str
    resource: str
    allowed: bool
    explicit_deny: bool = False


class IamEnforcer:
    """Checks boto3 calls against the acting function's role; see the module docstring."""

    def __init__(self, roles: Roles | None = None, *, region: str = "us-east-1") -> None:
        self.roles: Roles = dict(roles or {})
        self.region = region
        self.records: list[CallRecord] = []
        """The first ``RECORD_LIMIT`` checks in order (a full-size bench makes millions of calls)."""
        self.checks = 0
        self._denied: list[CallRecord] = []
        self._decisions: dict[tuple[str, str, str], Any] = {}  # roles are fixed once started
        self._previous: Callable[..., Any] | None = None
        self._installed: Callable[..., Any] | None = None
        self._iterators: OrderedDict[str, str] = OrderedDict()  # shard iterator -> stream ARN
        self._visibility_set: OrderedDict[str, None] = OrderedDict()  # receipt handles
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> IamEnforcer:
        if self._installed is not None:
            raise RuntimeError("IamEnforcer already started")
        previous = botocore.client.BaseClient._make_api_call
        enforcer = self

        def checked(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            if enforcer._installed is not checked:  # stopped while another wrapper sat on top of ours
                return previous(client, operation_name, api_params)
            enforcer._check(client, operation_name, api_params)
            answer = previous(client, operation_name, api_params)
            enforcer._observe(client, operation_name, api_params, answer)
            return answer

        self._previous, self._installed = previous, checked
        botocore.client.BaseClient._make_api_call = checked  # type: ignore[method-assign]
        return self

    def stop(self) -> None:
        if self._installed is None:
            return
        if botocore.client.BaseClient._make_api_call is self._installed:
            botocore.client.BaseClient._make_api_call = self._previous  # type: ignore[method-assign]
        # else: a later wrapper (e.g. bench's count_aws) still calls ours; it now passes through.
        self._installed = self._previous = None

    def __enter__(self) -> IamEnforcer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @contextmanager
    def acting_as(self, function_id: str) -> Iterator[None]:
        """Run the block as ``function_id``: its AWS calls are checked against that function's role."""
        if self.roles and function_id not in self.roles:
            raise KeyError(f"no role for {function_id!r}; known: {sorted(self.roles)}")
        token = ACTING.set(function_id)
        try:
            yield
        finally:
            ACTING.reset(token)

    @property
    def enforcing(self) -> bool:
        """Started and not stopped: boto3 calls are being checked."""
        return self._installed is not None

    # -- results ---------------------------------------------------------------------------------
    def visibility_set_by_function(self, receipt_handle: str) -> bool:
        """Did a function (not the poller) change this message's visibility? Forgets it once asked."""
        with self._lock:
            return self._visibility_set.pop(receipt_handle, 1) is None

    def denied(self) -> list[CallRecord]:
        """Every denied check, also past ``RECORD_LIMIT``."""
        return list(self._denied)

    def _record(self, record: CallRecord) -> None:
        with self._lock:
            self.checks += 1
            if len(self.records) < RECORD_LIMIT:
                self.records.append(record)
            if not record.allowed:
                self._denied.append(record)

    def _decide(self, function_id: str, grant: RoleGrant, action: str, resource: str) -> Any:
        key = (function_id, action, resource)
        decision = self._decisions.get(key)
        if decision is None:
            decision = evaluate(grant.statements, action, resource, self._context(grant))
            self._decisions[key] = decision
        return decision

    def functions(self) -> set[str]:
        """Functions that made at least one checked call."""
        return {r.function for r in self.records}

    def used(self) -> dict[str, dict[str, set[str]]]:
        """function -> action -> resources it was allowed (what the flows actually needed)."""
        out: dict[str, dict[str, set[str]]] = {}
        for r in self.records:
            if r.allowed:
                out.setdefault(r.function, {}).setdefault(r.action, set()).add(r.resource)
        return out

    def authorize(self, function_id: str, action: str, resource: str, operation: str = "") -> bool:
        """Check (and record) one action without a call, e.g. what Lambda validates for a mapping."""
        grant = self.roles[function_id]
        decision = self._decide(function_id, grant, action, resource)
        self._record(
            CallRecord(
                function_id, operation or action, action, resource, decision.allowed, decision.explicit_deny
            )
        )
        return bool(decision.allowed)

    # -- the hook --------------------------------------------------------------------------------
    def _context(self, grant: RoleGrant) -> dict[str, Any]:
        return {
            "aws:RequestedRegion": self.region,
            "aws:PrincipalAccount": LOCAL_ACCOUNT_ID,
            "aws:PrincipalArn": f"arn:aws:iam::{LOCAL_ACCOUNT_ID}:role/{grant.role_name}",
            "aws:SecureTransport": "true",
        }

    def authorizations(
        self, service: str, operation: str, params: Mapping[str, Any], region: str
    ) -> list[tuple[str, str]]:
        """The (IAM action, resource ARN) pairs AWS checks for one call."""

        def stream_of(iterator: str) -> str:
            with self._lock:
                return self._iterators.get(iterator, "*")

        return call_authorizations(service, operation, params, region, LOCAL_ACCOUNT_ID, stream_of)

    def _check(self, client: Any, operation: str, params: Mapping[str, Any]) -> None:
        function_id = ACTING.get()
        if function_id is None or not self.roles:
            return
        grant = self.roles[function_id]
        service = client.meta.service_model.service_name
        region = client.meta.region_name or self.region
        for action, resource in self.authorizations(service, operation, params, region):
            decision = self._decide(function_id, grant, action, resource)
            self._record(
                CallRecord(function_id, operation, action, resource, decision.allowed, decision.explicit_deny)
            )
            if decision.allowed:
                continue
            why = (
                "with an explicit deny in an identity-based policy"
                if decision.explicit_deny
                else f"because no identity-based policy allows the {action} action"
            )
            code = "AccessDenied" if service == "sqs" else "AccessDeniedException"
            message = (
                f"User: {grant.session_arn} is not authorized to perform: {action} on resource: "
                f"{resource} {why}"
            )
            response = {
                "Error": {"Code": code, "Message": message},
                "ResponseMetadata": {"HTTPStatusCode": 403 if service == "sqs" else 400},
            }
            raise client.exceptions.from_code(code)(response, operation)

    def _observe(self, client: Any, operation: str, params: Mapping[str, Any], answer: Any) -> None:
        """Remember which stream each shard iterator reads (GetRecords names only the iterator), and
        which messages a function set its own visibility timeout for (``visibility_set_by_function``)."""
        if operation == "ChangeMessageVisibility" and ACTING.get() is not None:
            with self._lock:
                self._visibility_set[str(params.get("ReceiptHandle"))] = None
                while len(self._visibility_set) > 10_000:
                    self._visibility_set.popitem(last=False)
            return
        if client.meta.service_model.service_name != "dynamodbstreams" or not isinstance(answer, dict):
            return
        if operation == "GetShardIterator":
            stream, iterator = params.get("StreamArn", "*"), answer.get("ShardIterator")
        elif operation == "GetRecords":
            with self._lock:
                stream = self._iterators.get(params.get("ShardIterator", ""), "*")
            iterator = answer.get("NextShardIterator")
        else:
            return
        if iterator:
            with self._lock:
                self._iterators[iterator] = stream
                while len(self._iterators) > 10_000:
                    self._iterators.popitem(last=False)


def enforcer_for(
    resources: LocalResources, template: TemplateDict | None = None, override: RoleOverride | None = None
) -> IamEnforcer:
    """An (unstarted) enforcer with the roles of ``template`` resolved to ``resources``."""
    roles = load_roles(resources, template)
    return IamEnforcer(override(roles) if override else roles, region=resources.region)


_SQS_POLLER = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
_STREAM_POLLER = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator")


def check_event_source_mappings(
    enforcer: IamEnforcer, specs: Mapping[str, FunctionSpec], resources: LocalResources
) -> None:
    """Refuse, as ``CreateEventSourceMapping`` does, a mapping whose function role cannot poll its source."""
    missing: list[str] = []
    for spec in specs.values():
        wanted = [(a, resources.queue_arns[q.queue_id]) for q in spec.sqs for a in _SQS_POLLER]
        for stream in spec.streams:
            arn = resources.stream_arns[stream.table_id]
            wanted += [(a, arn) for a in _STREAM_POLLER]
            wanted.append(("dynamodb:ListStreams", f"{resources.table_arns[stream.table_id]}/stream/*"))
        for action, resource in wanted:
            if not enforcer.authorize(spec.logical_id, action, resource, "CreateEventSourceMapping"):
                missing.append(f"{spec.logical_id}: {action} on {resource}")
    if missing:
        raise PermissionError(
            "InvalidParameterValueException: the provided execution role does not have permissions to "
            "poll the event source: " + "; ".join(missing)
        )

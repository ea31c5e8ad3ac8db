"""template.yaml read as CloudFormation does for the local stack: YAML with intrinsic tags,
parameters and conditions, and a resolver of ``Ref`` / ``Fn::GetAtt`` / ``Fn::Sub`` against local resources.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
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


def _globals(template: TemplateDict) -> dict[str, Any]:
    return dict((template.get("Globals") or {}).get("Function") or {})


def _resolve_env(resolver: _Resolver, environment: Any, where: str) -> dict[str, str]:
    variables = (environment or {}).get("Variables") or {}
    try:
        resolved = resolver.resolve(variables)
    except _Unresolved as missing:
        raise TemplateError(f"{where} environment references {missing}, not created locally") from None
    return {key: _attribute_string(value) for key, value in resolved.items()}


def _attribute_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

"""OpenAPI validation against HubSpot's published specs (used by the tests and by ``strict_spec`` mode)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def find_spec_dir() -> Path | None:
    """Where HubSpot's OpenAPI files are: $HUBSPOT_SPEC_DIR, $CRMSYNC_REFERENCE_DIR/hubspot, else the
    copy kept in the repository (``vendor-specs/hubspot``, with its provenance)."""
    candidates = [os.environ.get("HUBSPOT_SPEC_DIR")]
    repo = Path(__file__).resolve().parents[3]
    if os.environ.get("CRMSYNC_REFERENCE_DIR"):
        candidates.append(str(Path(os.environ["CRMSYNC_REFERENCE_DIR"]) / "hubspot"))
    candidates.append(str(repo / "vendor-specs" / "hubspot"))
    for candidate in candidates:
        if candidate and (Path(candidate) / "crm-companies-v3.json").is_file():
            return Path(candidate)
    return None


class SpecValidator:
    """Validate JSON bodies against HubSpot's published OpenAPI 3.0 specs.

    OpenAPI 3.0 schemas become JSON Schema draft 4 (``nullable`` -> ``[type, "null"]``) and ``$ref``s
    resolve through a ``referencing`` registry. One documented quirk is patched: the spec types
    ``PublicObjectSearchRequest.sorts`` as strings, while HubSpot's docs, SDK issues and the live API use
    ``{"propertyName", "direction"}`` objects; both are accepted.
    """

    FILES = {
        "companies": "crm-companies-v3.json",
        "contacts": "crm-contacts-v3.json",
        "associations": "crm-associations-v4.json",
        "properties": "crm-properties-v3.json",
        "webhooks": "webhooks-v3.json",
        "notes": "crm-notes-v3.json",
        "owners": "crm-owners-v3.json",
    }

    def __init__(self, spec_dir: Path | None = None) -> None:
        from jsonschema import Draft4Validator, FormatChecker
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4

        directory = spec_dir or find_spec_dir()
        if directory is None:
            raise FileNotFoundError("HubSpot OpenAPI specs not found (set HUBSPOT_SPEC_DIR)")
        self._validator_cls = Draft4Validator
        self._format_checker = FormatChecker()
        self.specs: dict[str, dict[str, Any]] = {}
        resources = []
        for key, filename in self.FILES.items():
            raw = json.loads((directory / filename).read_text())
            converted = self._convert(raw)
            self._patch_quirks(converted)
            self.specs[key] = converted
            resources.append(
                (f"urn:hubspot:{key}", Resource.from_contents(converted, default_specification=DRAFT4))
            )
        self._registry = Registry().with_resources(resources)
        self._validators: dict[tuple[str, str], Any] = {}
        self._operations: list[tuple[str, re.Pattern[str], int, str, dict[str, Any]]] = []
        for key, spec in self.specs.items():
            for path, ops in spec["paths"].items():
                pattern = re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", path) + "$")
                static = sum(1 for part in path.split("/") if part and not part.startswith("{"))
                for method, op in ops.items():
                    if method != "parameters":
                        self._operations.append((method.upper(), pattern, static, key, op))
        self._operations.sort(key=lambda o: -o[2])

    @classmethod
    def _convert(cls, node: Any) -> Any:
        if isinstance(node, list):
            return [cls._convert(n) for n in node]
        if not isinstance(node, dict):
            return node
        out = {k: cls._convert(v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable") is True and "type" in out:
            out["type"] = [out["type"], "null"]
        return out

    @staticmethod
    def _patch_quirks(spec: dict[str, Any]) -> None:
        schemas = spec.get("components", {}).get("schemas", {})
        search = schemas.get("PublicObjectSearchRequest")
        if search:
            search["properties"]["sorts"]["items"] = {
                "anyOf": [
                    {"type": "string"},
                    {
                        "type": "object",
                        "required": ["propertyName"],
                        "properties": {
                            "propertyName": {"type": "string"},
                            "direction": {"enum": ["ASCENDING", "DESCENDING"]},
                        },
                    },
                ]
            }

    def errors(self, spec: str, component: str, instance: Any) -> list[str]:
        """Messages for every way ``instance`` violates ``#/components/schemas/<component>`` of ``spec``."""
        key = (spec, component)
        validator = self._validators.get(key)
        if validator is None:
            ref = {"$ref": f"urn:hubspot:{spec}#/components/schemas/{component}"}
            validator = self._validator_cls(ref, registry=self._registry, format_checker=self._format_checker)
            self._validators[key] = validator
        return [
            f"{component}: {'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in validator.iter_errors(instance)
        ]

    def validate(self, spec: str, component: str, instance: Any) -> None:
        problems = self.errors(spec, component, instance)
        if problems:
            raise AssertionError("\n".join(problems[:20]))

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        for op_method, pattern, _, key, op in self._operations:
            if op_method == method.upper() and pattern.match(path):
                return key, op
        return None

    @staticmethod
    def _schema_name(container: Mapping[str, Any] | None) -> str | None:
        if not container:
            return None
        schema = container.get("content", {}).get("application/json", {}).get("schema", {})
        ref = schema.get("$ref", "")
        return ref.rsplit("/", 1)[-1] if ref else None

    def request_errors(self, method: str, path: str, body: Any) -> list[str]:
        found = self.operation(method, path)
        if found is None:
            return [f"no spec operation for {method} {path}"]
        key, op = found
        name = self._schema_name(op.get("requestBody"))
        return self.errors(key, name, body) if name else []

    def response_errors(self, method: str, path: str, status: int, body: Any) -> list[str]:
        if status == 429:
            return []  # rate-limit bodies use errorType/policyName, not the Error schema (crm-apis.md A9)
        found = self.operation(method, path)
        if found is None:
            return [f"no spec operation for {method} {path}"]
        key, op = found
        if status >= 400:
            return self.errors(key, "Error", body)
        name = self._schema_name(op["responses"].get(str(status)))
        if name is None:
            return (
                [f"{method} {path}: status {status} not in the spec"]
                if str(status) not in op["responses"]
                else []
            )
        return self.errors(key, name, body)

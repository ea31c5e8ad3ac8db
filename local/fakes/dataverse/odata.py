"""OData plumbing: errors, responses, key and query-option parsing, row rendering (etag, annotations)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from local.fakes.dataverse.entities import Table
from local.fakes.dataverse.errors import E_ODATA, ApiError

API = "/api/data/v9.2"
MAX_PAGE = 5000
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass
class Req:
    """One API request, decoupled from WSGI so ``$batch`` parts run through the same handlers."""

    method: str
    path: str  # below /api/data/v9.2/, undecoded
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    user_id: str

    def json(self) -> Any:
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except json.JSONDecodeError as exc:
            raise ApiError(400, E_ODATA, f"Invalid JSON. {exc.msg} at position {exc.pos}.") from exc

    def prefers(self) -> dict[str, str]:
        """``Prefer`` header as name -> value (``return=representation`` -> {"return": "representation"})."""
        out: dict[str, str] = {}
        for part in self.headers.get("prefer", "").split(","):
            name, _, value = part.strip().partition("=")
            if name:
                out[name.strip().lower()] = value.strip().strip('"')
        return out


@dataclass
class Resp:
    status: int
    body: Any = None  # JSON-able, or bytes for raw bodies ($batch, $metadata)
    headers: dict[str, str] = field(default_factory=dict)

    def payload(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode()


def etag(version: int) -> str:
    return f'W/"{version}"'


def entity_type(table: Table) -> str:
    return f"Microsoft.Dynamics.CRM.{table.name}"


def parse_literal(text: str) -> Any:
    """An OData literal: 'str' (with '' escapes), guid, number, true/false/null."""
    text = text.strip()
    if len(text) >= 2 and text[0] == "'" and text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if GUID.match(text):
        return text.lower()
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        raise ApiError(400, E_ODATA, f"Bad Request - Error in query syntax: '{text}'.") from None


def split_top(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside quotes and parentheses."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and ch == sep:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def parse_key(
    table: Table, key: str, alternate_keys: list[tuple[str, ...]]
) -> tuple[str | None, dict[str, Any]]:
    """``<guid>`` or ``pk=<guid>`` -> (id, {}); ``col='v',...`` -> (None, {col: v}) if a configured key."""
    key = key.strip()
    if GUID.match(key):
        return key.lower(), {}
    values: dict[str, Any] = {}
    for part in split_top(key):
        name, eq, literal = part.partition("=")
        if not eq:
            raise ApiError(400, E_ODATA, f"Bad Request - Error in query syntax: '{key}'.")
        values[name.strip()] = parse_literal(literal)
    pk_value = values.get(table.pk)
    if (
        list(values) == [table.pk]
        and table.named_key_ok
        and isinstance(pk_value, str)
        and GUID.match(pk_value)
    ):
        return pk_value, {}
    names = tuple(sorted(values))
    if any(tuple(sorted(k)) == names for k in alternate_keys):
        return None, values
    kind = f"Microsoft.Dynamics.CRM.{table.name}"
    raise ApiError(
        400,
        E_ODATA,
        f"The key in the request URI is not valid for resource '{kind}'. Ensure that the names and number of "
        f"key properties match the declared or alternate key properties for the resource '{kind}'.",
    )


def parse_select(table: Table, text: str | None) -> list[str] | None:
    if not text:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if name not in table.readable:
            raise ApiError(
                400,
                E_ODATA,
                f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{table.name}'.",
            )
    return names


def parse_orderby(table: Table, text: str | None) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    for part in split_top(text or ""):
        bits = part.split()
        if not bits:
            continue
        if (
            bits[0] not in table.readable
            or len(bits) > 2
            or (len(bits) == 2 and bits[1] not in ("asc", "desc"))
        ):
            raise ApiError(
                400, E_ODATA, f"Could not find a property named '{bits[0]}' on type '{entity_type(table)}'."
            )
        out.append((bits[0], len(bits) == 2 and bits[1] == "desc"))
    return out


def _sort_key(value: Any) -> tuple[bool, Any]:
    if isinstance(value, str):
        return (True, value.lower())  # case-insensitive, as SQL Server's default collation
    return (value is not None, value if value is not None else 0)


def sort_rows(rows: list[dict[str, Any]], order: list[tuple[str, bool]], pk: str) -> list[dict[str, Any]]:
    """Stable multi-key sort; nulls sort lowest (SQL Server order). Default order: primary key."""
    rows = sorted(rows, key=lambda r: r[pk])
    for name, desc in reversed(order):
        rows.sort(key=lambda r, n=name: _sort_key(r.get(n)), reverse=desc)
    return rows


def read_cookie(token: str) -> dict[str, str]:
    return dict(re.findall(r'(\w+)="([^"]*)"', token))


def max_page_size(req: Req) -> int | None:
    value = req.prefers().get("odata.maxpagesize")
    if value is None:
        return None
    try:
        size = int(value)
    except ValueError:
        raise ApiError(400, E_ODATA, f"Invalid odata.maxpagesize preference '{value}'.") from None
    return max(1, min(size, MAX_PAGE))


def query_string(params: Mapping[str, str]) -> str:
    return "&".join(f"{k}={quote(v, safe=',()=/:@')}" for k, v in params.items())


Resolver = Callable[[list[str], str], tuple[str, str | None]]  # (targets, id) -> (logical name, primary name)


def render_row(
    table: Table, row: Mapping[str, Any], select: list[str] | None, annotate: bool, resolve: Resolver
) -> dict[str, Any]:
    """A stored row as the Web API returns it: etag first, selected (or all) columns, lookups as _x_value."""
    out: dict[str, Any] = {"@odata.etag": etag(row["versionnumber"])}
    names = list(select if select is not None else table.readable_order)
    if table.pk not in names:
        names.append(table.pk)
    for name in names:
        value = row.get(name)
        out[name] = value
        if not annotate or value is None:
            continue
        column = table.by_read_name.get(name)
        if column is not None and column.is_lookup:
            target, label = resolve(column.targets, value)
            out[f"{name}@OData.Community.Display.V1.FormattedValue"] = label
            out[f"{name}@Microsoft.Dynamics.CRM.associatednavigationproperty"] = column.nav_for(target)
            out[f"{name}@Microsoft.Dynamics.CRM.lookuplogicalname"] = target
        elif name == "statecode" and table.states:
            out[f"{name}@OData.Community.Display.V1.FormattedValue"] = table.states[str(value)]["label"]
        elif name == "statuscode" and table.statuses:
            out[f"{name}@OData.Community.Display.V1.FormattedValue"] = table.statuses[str(value)]["label"]
    return out


def new_id() -> str:
    return str(uuid.uuid4())


def table_by_set(tables: Mapping[str, Table], name: str) -> Table:
    for table in tables.values():
        if table.entity_set == name:
            return table
    raise ApiError(404, E_ODATA, f"Resource not found for the segment '{name}'.")

"""A ``$filter`` subset: eq/ne/gt/ge/lt/le, and/or/not, parentheses, contains/startswith/endswith, null.

Comparison follows SQL Server's default collation as Dataverse does: strings compare case-insensitively;
DateTime columns compare as instants (a literal may be a date or a UTC timestamp); null only equals null.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from local.fakes.dataverse.entities import Table
from local.fakes.dataverse.errors import E_ODATA, ApiError

Predicate = Callable[[dict[str, Any]], bool]
_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')"
    r"|(?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
    r"|(?P<date>\d{4}-\d\d-\d\d(?:T\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)?)?)"
    r"|(?P<num>-?\d+(?:\.\d+)?)"
    r"|(?P<punct>[(),])"
    r"|(?P<ident>[A-Za-z_][\w.]*))"
)
_OPS = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a is not None and b is not None and a > b,
    "ge": lambda a, b: a is not None and b is not None and a >= b,
    "lt": lambda a, b: a is not None and b is not None and a < b,
    "le": lambda a, b: a is not None and b is not None and a <= b,
}
_FUNCS = {
    "contains": lambda a, b: b in a,
    "startswith": lambda a, b: a.startswith(b),
    "endswith": lambda a, b: a.endswith(b),
}


def _syntax(text: str) -> ApiError:
    return ApiError(400, E_ODATA, f"Syntax error at position {len(text)} in '{text}'.")


def _to_instant(value: str) -> datetime:
    text = value.replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _norm(value: Any, is_date: bool) -> Any:
    if value is None:
        return None
    if is_date and isinstance(value, str):
        return _to_instant(value)
    if isinstance(value, str):
        return value.lower()
    return value


def compile_filter(table: Table, text: str) -> Predicate:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            if text[pos:].strip() == "":
                break
            raise _syntax(text[: pos + 1])
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    parser = _Parser(table, tokens, text)
    predicate = parser.expr()
    if parser.i != len(tokens):
        raise _syntax(text)
    return predicate


class _Parser:
    def __init__(self, table: Table, tokens: list[tuple[str, str]], text: str) -> None:
        self.table, self.tokens, self.text, self.i = table, tokens, text, 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.i] if self.i < len(self.tokens) else ("end", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token[0] == "end" or (value is not None and token[1] != value):
            raise _syntax(self.text)
        self.i += 1
        return token

    def expr(self) -> Predicate:
        left = self.conj()
        while self.peek() == ("ident", "or"):
            self.take()
            right = self.conj()
            left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
        return left

    def conj(self) -> Predicate:
        left = self.unary()
        while self.peek() == ("ident", "and"):
            self.take()
            right = self.unary()
            left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
        return left

    def unary(self) -> Predicate:
        if self.peek() == ("ident", "not"):
            self.take()
            inner = self.unary()
            return lambda r: not inner(r)
        if self.peek() == ("punct", "("):
            self.take("(")
            inner = self.expr()
            self.take(")")
            return inner
        kind, name = self.take()
        if kind != "ident":
            raise _syntax(self.text)
        if name in _FUNCS:
            self.take("(")
            column = self.column(self.take()[1])
            self.take(",")
            literal = self.literal()
            self.take(")")
            func, needle = _FUNCS[name], str(literal).lower()
            return lambda r: isinstance(r.get(column), str) and func(r[column].lower(), needle)
        column = self.column(name)
        op_kind, op = self.take()
        if op_kind != "ident" or op not in _OPS:
            raise _syntax(self.text)
        is_date = self.is_date(column)
        literal = _norm(self.literal(), is_date)
        compare = _OPS[op]
        return lambda r: compare(_norm(r.get(column), is_date), literal)

    def column(self, name: str) -> str:
        if name not in self.table.readable:
            raise ApiError(
                400,
                E_ODATA,
                f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{self.table.name}'.",
            )
        return name

    def is_date(self, name: str) -> bool:
        column = self.table.by_read_name.get(name)
        return column is not None and column.type == "DateTime"

    def literal(self) -> Any:
        kind, value = self.take()
        if kind == "str":
            return value[1:-1].replace("''", "'")
        if kind == "guid":
            return value.lower()
        if kind == "date":
            return value
        if kind == "num":
            return float(value) if "." in value else int(value)
        if kind == "ident" and value in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[value]
        raise _syntax(self.text)

"""e-conomic's filter language (shared by both APIs), e.g. ``name$eq:Joe$and:(city$like:*port$or:age$lt:40)``."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from local.fakes.economic.model import MAX_IN_VALUES, _FilterField


class FilterError(ValueError):
    """The filter does not parse or uses a property/operator the resource does not allow."""

    def __init__(self, message: str, *, unknown_field: str | None = None) -> None:
        super().__init__(message)
        self.unknown_field = unknown_field


@dataclass(frozen=True)
class _Pred:
    field: str
    op: str
    value: Any  # str | None (for $null:) | list for $in/$nin
    like: re.Pattern[str] | None = None


@dataclass(frozen=True)
class _BoolOp:
    op: str
    items: tuple[Any, ...]


_PRED_HEAD = re.compile(r"([A-Za-z][A-Za-z0-9_.]*)\$(gte|gt|lte|lt|eq|ne|like|in|nin):")
_ESCAPABLE = "$()*,[]"


class _FilterParser:
    """Recursive descent: ``$and:`` binds tighter than ``$or:``; parentheses group."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def parse(self) -> Any:
        node = self._or()
        if self.i != len(self.s):
            raise FilterError(f"Unexpected input at position {self.i}: '{self.s[self.i :]}'.")
        return node

    def _consume(self, token: str) -> bool:
        if self.s.startswith(token, self.i):
            self.i += len(token)
            return True
        return False

    def _or(self) -> Any:
        items = [self._and()]
        while self._consume("$or:"):
            items.append(self._and())
        return items[0] if len(items) == 1 else _BoolOp("or", tuple(items))

    def _and(self) -> Any:
        items = [self._primary()]
        while self._consume("$and:"):
            items.append(self._primary())
        return items[0] if len(items) == 1 else _BoolOp("and", tuple(items))

    def _primary(self) -> Any:
        if self._consume("("):
            node = self._or()
            if not self._consume(")"):
                raise FilterError("Missing closing parenthesis.")
            return node
        match = _PRED_HEAD.match(self.s, self.i)
        if not match:
            raise FilterError(f"Could not parse predicate at position {self.i}.")
        self.i = match.end()
        name, op = match.group(1), match.group(2)
        if op in ("in", "nin"):
            return _Pred(name, op, self._list())
        text, pattern, wildcard, is_null = self._value(stop_at=")")
        if is_null:
            return _Pred(name, op, None)
        like = None
        if op == "like":
            like = re.compile(pattern if wildcard else f".*{pattern}.*", re.IGNORECASE | re.DOTALL)
        return _Pred(name, op, text, like)

    def _value(self, stop_at: str) -> tuple[str, str, bool, bool]:
        """Read one value up to an unescaped terminator: (text, like-regex, has wildcard, is $null:)."""
        text: list[str] = []
        regex: list[str] = []
        wildcard = False
        is_null = False
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in stop_at:
                break
            if c == "$":
                if self.s.startswith("$and:", self.i) or self.s.startswith("$or:", self.i):
                    break
                if self.s.startswith("$null:", self.i):
                    is_null = True
                    self.i += len("$null:")
                    continue
                nxt = self.s[self.i + 1 : self.i + 2]
                if nxt and nxt in _ESCAPABLE:
                    text.append(nxt)
                    regex.append(re.escape(nxt))
                    self.i += 2
                    continue
                raise FilterError(f"Unescaped '$' at position {self.i}.")
            if c == "*":
                wildcard = True
                regex.append(".*")
            else:
                regex.append(re.escape(c))
            text.append(c)
            self.i += 1
        if is_null and text:
            raise FilterError("$null: cannot be combined with a value.")
        return "".join(text), "".join(regex), wildcard, is_null

    def _list(self) -> list[str | None]:
        if not self._consume("["):
            raise FilterError("$in:/$nin: expects a bracketed list.")
        values: list[str | None] = []
        while True:
            text, _, _, is_null = self._value(stop_at=",]")
            values.append(None if is_null else text)
            if self._consume(","):
                continue
            if self._consume("]"):
                break
            raise FilterError("Unterminated list.")
        if len(values) > MAX_IN_VALUES:
            raise FilterError(f"The max supported length of an array is {MAX_IN_VALUES}.")
        return values


_FILTER_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?Z?)?$")


def _coerce(value: str | None, kind: str, name: str) -> Any:
    if value is None:
        return None
    try:
        if kind == "int":
            if not re.fullmatch(r"-?\d+", value):
                raise ValueError(value)
            return int(value)
        if kind == "num":
            return float(value)
        if kind == "bool":
            lowered = value.lower()
            if lowered not in ("true", "false"):
                raise ValueError(value)
            return lowered == "true"
        if kind == "datetime":
            m = _FILTER_TIME.match(value)
            if not m:
                raise ValueError(value)
            year, month, day, hour, minute, second = (int(p) if p else 0 for p in m.groups())
            return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as exc:
        raise FilterError(f"Invalid value '{value}' for property '{name}'.") from exc
    return value.casefold()


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


_COMPARE = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}


def compile_filter(text: str, fields: Mapping[str, _FilterField]) -> Callable[[Any], bool]:
    """Parse an e-conomic filter into a predicate over stored rows (raises FilterError)."""
    return _compile(_FilterParser(text).parse(), fields)


def _compile(node: Any, fields: Mapping[str, _FilterField]) -> Callable[[Any], bool]:
    if isinstance(node, _BoolOp):
        parts = [_compile(item, fields) for item in node.items]
        if node.op == "and":
            return lambda row: all(part(row) for part in parts)
        return lambda row: any(part(row) for part in parts)
    spec = fields.get(node.field)
    if spec is None:
        raise FilterError(f"Filtering is not allowed on property '{node.field}'.", unknown_field=node.field)
    if spec.ops is not None and node.op not in spec.ops:
        raise FilterError(f"Operator '${node.op}:' is not allowed on property '{node.field}'.")
    get = spec.get
    if node.op in ("in", "nin"):
        wanted = {_coerce(v, spec.kind, node.field) for v in node.value}
        negate = node.op == "nin"
        return lambda row: (_fold(get(row)) in wanted) != negate
    if node.op == "like":
        if node.like is None:
            raise FilterError("$null: cannot be used with $like:.")
        pattern = node.like
        return lambda row: (v := get(row)) is not None and pattern.fullmatch(str(v)) is not None
    target = _coerce(node.value, spec.kind, node.field)
    if node.op == "eq":
        return lambda row: _fold(get(row)) == target
    if node.op == "ne":
        return lambda row: _fold(get(row)) != target
    if target is None:
        raise FilterError(f"$null: cannot be used with ${node.op}:.")
    compare = _COMPARE[node.op]
    return lambda row: (v := _fold(get(row))) is not None and compare(v, target)

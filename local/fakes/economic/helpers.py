"""Small shared helpers of the e-conomic fake: timestamps, .NET-style URL encoding, value checks, error texts."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from local.fakes.economic.model import MAX_NUMBER, _Spec


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _net_urlencode(value: str) -> str:
    """Encode a query value like .NET's HttpUtility.UrlEncode, as e-conomic's links show it.

    Recorded: ``filter=name$like:Torsten`` comes back as ``filter=name%24like%3aTorsten``.
    """
    encoded = quote_plus(value, safe="-_.!*()")
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded)


def _check_value(value: Any, spec: _Spec) -> str | None:
    """Type/length check of one written value; returns a message template with ``{p}`` or None."""
    if value is None:
        names = {"str": "String", "int": "Integer", "num": "Number", "bool": "Boolean", "datetime": "String"}
        return f"Expected {names[spec.kind]} but got Null."
    if spec.kind in ("str", "datetime"):
        if not isinstance(value, str):
            return f"Expected String but got {type(value).__name__}."
        if spec.max_length is not None and len(value) > spec.max_length:
            return f"{{p}} is too long. Max length is {spec.max_length}."
        if len(value) < spec.min_length:
            return f"{{p}} is too short. Min length is {spec.min_length}."
    elif spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return f"Expected Integer but got {type(value).__name__}."
    elif spec.kind == "num":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"Expected Number but got {type(value).__name__}."
    elif spec.kind == "bool" and not isinstance(value, bool):
        return f"Expected Boolean but got {type(value).__name__}."
    return None


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_NUMBER:
        return None
    return int(value)


def _ref_from_self(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    tail = value.rstrip("/").rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


_PROBLEM_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

_BOOKED_INVOICES_MESSAGE = "The customer has booked invoices and cannot be deleted."
_NOT_FOUND_HINT = (
    "The API tries to provide all the resource urls you need. If you have hard coded urls yourself, then "
    "try to look at the enclosing collection for hypermedia information on where the resource you are "
    "looking for could be."
)

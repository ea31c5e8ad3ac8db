"""OData ``$batch`` bodies (multipart/mixed) for Dataverse: build a request, parse a response.

A quick search (package index, docs) found no Python library that builds OData v4 batches for httpx
(the Python OData clients found do queries and paging; batch helpers found are JavaScript or OData v2),
and the format is small: parts separated by ``--<boundary>``, each ``Content-Type: application/http`` +
``Content-Transfer-Encoding: binary`` followed by a raw HTTP request (or response). Change sets are nested multiparts and are parsed too
(their parts are flattened in order), although the connector sends independent requests only.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

CRLF = "\r\n"
_BOUNDARY = re.compile(r'boundary="?([^";,\s]+)"?', re.IGNORECASE)
_STATUS = re.compile(r"^HTTP/\d(?:\.\d)?\s+(\d{3})(?:\s+(.*))?$")


@dataclass
class BatchPart:
    """One request of a batch. ``url`` is absolute (Dataverse accepts absolute and /api/... paths)."""

    method: str
    url: str
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def encode_batch(parts: list[BatchPart], boundary: str | None = None) -> tuple[str, bytes]:
    """(Content-Type header, body) of a batch of independent requests (no change set)."""
    boundary = boundary or f"batch_{uuid.uuid4()}"
    lines: list[str] = []
    for part in parts:
        lines += [f"--{boundary}", "Content-Type: application/http", "Content-Transfer-Encoding: binary", ""]
        lines.append(f"{part.method.upper()} {part.url} HTTP/1.1")
        headers = dict(part.headers)
        if part.body is not None:
            headers.setdefault("Content-Type", "application/json; type=entry")
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines.append("")
        lines.append(
            json.dumps(part.body, ensure_ascii=False, separators=(",", ":")) if part.body is not None else ""
        )
    lines.append(f"--{boundary}--")
    lines.append("")
    return f'multipart/mixed; boundary="{boundary}"', CRLF.join(lines).encode("utf-8")


def _split(body: str, boundary: str) -> list[str]:
    """The parts between ``--boundary`` delimiter lines (preamble and epilogue dropped)."""
    delimiter = re.compile(rf"^--{re.escape(boundary)}(--)?[ \t]*$", re.MULTILINE)
    parts: list[str] = []
    last: int | None = None
    for match in delimiter.finditer(body):
        if last is not None:
            parts.append(body[last : match.start()])
        if match.group(1):
            return parts
        last = match.end()
    raise ValueError("batch body has no closing delimiter")


def _headers_and_rest(text: str) -> tuple[dict[str, str], str]:
    text = text.lstrip("\r\n")
    head, sep, rest = text.partition("\n\n")
    if not sep:
        head, _, rest = text.partition("\r\n\r\n")
    headers: dict[str, str] = {}
    for line in head.splitlines():
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return headers, rest


def _response(text: str) -> httpx.Response:
    """One ``application/http`` part -> an ``httpx.Response`` (so the usual error mapper applies)."""
    text = text.replace("\r\n", "\n").lstrip("\n")
    status_line, _, rest = text.partition("\n")
    match = _STATUS.match(status_line.strip())
    if match is None:
        raise ValueError(f"batch part without a status line: {status_line[:80]!r}")
    head, _, body = rest.partition("\n\n")
    headers = [(n.strip(), v.strip()) for n, c, v in (ln.partition(":") for ln in head.splitlines()) if c]
    content = body.rstrip("\n").encode("utf-8")
    return httpx.Response(int(match.group(1)), headers=headers, content=content)


def decode_batch(content_type: str, body: bytes) -> list[httpx.Response]:
    """The responses of a batch answer, in request order (change set responses flattened in place)."""
    match = _BOUNDARY.search(content_type)
    if match is None:
        raise ValueError("batch response without a multipart boundary")
    text = body.decode("utf-8").replace("\r\n", "\n")
    responses: list[httpx.Response] = []
    for part in _split(text, match.group(1)):
        headers, rest = _headers_and_rest(part)
        part_type = headers.get("content-type", "")
        if part_type.lower().startswith("multipart/mixed"):
            responses += decode_batch(part_type, rest.encode("utf-8"))
        else:
            responses.append(_response(rest))
    return responses

"""``POST $batch``: multipart/mixed with change sets (atomic), Content-ID references, continue-on-error.

Facts (execute-batch-operations-using-web-api.md): up to 1,000 requests per batch; change sets roll back
as a whole; GET is not allowed in a change set; ``$n`` references a Content-ID in the URL or in
``@odata.bind``; without ``Prefer: odata.continue-on-error`` processing stops at the first failure and the
batch answers with that request's status ("the batch error represents the error of the first failing
request"), with it 200 and a response per request; responses come in request order.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local.fakes.dataverse.errors import E_ODATA, STATUS_TEXT, ApiError
from local.fakes.dataverse.odata import API, Req, Resp

MAX_REQUESTS = 1000
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


def _split(body: bytes, boundary: str) -> list[bytes]:
    text = body.replace(b"\r\n", b"\n")
    marker = b"--" + boundary.encode()
    chunks = text.split(marker)[1:]
    return [c.strip(b"\n") for c in chunks if not c.startswith(b"--")]


def _head(chunk: bytes) -> tuple[dict[str, str], bytes]:
    head, _, rest = chunk.partition(b"\n\n")
    headers: dict[str, str] = {}
    for line in head.decode().split("\n"):
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return headers, rest


def _parse(body: bytes, content_type: str) -> list[Any]:
    """-> list of parts; a part is (mime headers, http bytes) or a list of such parts (a change set)."""
    match = _BOUNDARY.search(content_type)
    if match is None:
        raise ApiError(400, E_ODATA, "The batch request must have a 'Content-Type' header with a boundary.")
    items: list[Any] = []
    for chunk in _split(body, match.group(1)):
        headers, rest = _head(chunk)
        if headers.get("content-type", "").startswith("multipart/mixed"):
            items.append([_head(c) for c in _split(rest, _BOUNDARY.search(headers["content-type"]).group(1))])
        else:
            items.append((headers, rest))
    return items


class BatchMixin:
    def _h_batch(self, req: Req) -> Resp:
        items = _parse(req.body, req.headers.get("content-type", ""))
        total = sum(len(i) if isinstance(i, list) else 1 for i in items)
        if total > MAX_REQUESTS:
            raise ApiError(
                400,
                E_ODATA,
                f"The maximum number of requests in a batch is {MAX_REQUESTS}; this batch has {total}.",
            )
        self._admit(req.user_id, cost=max(total, 1))
        keep_going = "odata.continue-on-error" in req.prefers()
        ids: dict[str, str] = {}
        out: list[tuple[Any, ...]] = []
        failed: Resp | None = None
        for item in items:
            if isinstance(item, list):
                result = self._run_changeset(req, item, ids)
                out.append(result if result[0] == "changeset" else ("single", result[1], result[2]))
                failed = result[2] if result[0] == "error" else None
            else:
                content_id, resp = self._run_part(req, item, ids, in_changeset=False)
                out.append(("single", content_id, resp))
                failed = resp if resp.status >= 400 else None
            if failed is not None and not keep_going:
                break
        boundary = f"batchresponse_{uuid.uuid4()}"
        # "The batch error represents the error of the first failing request" (200 with continue-on-error)
        status = failed.status if failed is not None and not keep_going else 200
        return Resp(status, _render(boundary, out), {"Content-Type": f"multipart/mixed; boundary={boundary}"})

    def _run_changeset(
        self, req: Req, parts: list[tuple[dict[str, str], bytes]], ids: dict[str, str]
    ) -> tuple[Any, ...]:
        snapshot = (copy.deepcopy(self._rows), copy.deepcopy(self._deleted), self._version, len(self._events))
        results = []
        for part in parts:
            content_id, resp = self._run_part(req, part, ids, in_changeset=True)
            if resp.status >= 400:
                self._rows, self._deleted, self._version = snapshot[0], snapshot[1], snapshot[2]
                del self._events[snapshot[3] :]
                return ("error", content_id, resp)
            results.append((content_id, resp))
        return ("changeset", results)

    def _run_part(
        self, req: Req, part: tuple[dict[str, str], bytes], ids: dict[str, str], in_changeset: bool
    ) -> tuple[str | None, Resp]:
        mime, raw = part
        head, _, body = raw.partition(b"\n\n")
        lines = head.decode().split("\n")
        if not lines or len(lines[0].split()) < 2:
            return mime.get("content-id"), Resp(
                400, ApiError(400, E_ODATA, "Malformed request line in batch part.").body()
            )
        method, target = lines[0].split()[:2]
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:]) if k}
        content_id = mime.get("content-id") or headers.get("content-id")
        try:
            if in_changeset and method.upper() == "GET":
                raise ApiError(
                    400,
                    E_ODATA,
                    "An invalid HTTP method 'GET' was detected for a request in a change set. Requests "
                    "in change sets only support the HTTP methods 'POST', 'PUT', 'DELETE', and 'PATCH'.",
                )
            target = self._deref(target, ids)
            body = self._deref_body(body, ids)
            url = urlsplit(target)
            path = unquote(url.path)
            path = path[path.index(API) + len(API) + 1 :] if API in path else path.lstrip("/")
            inner = Req(
                method.upper(), path, dict(parse_qsl(url.query)), {**headers}, body.strip(), req.user_id
            )
            resp = self._route(inner)
        except ApiError as exc:
            resp = Resp(exc.status, exc.body(), exc.headers)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            resp = Resp(400, ApiError(400, E_ODATA, f"Bad request ({type(exc).__name__}: {exc})").body())
        if content_id and "OData-EntityId" in resp.headers:
            ids[content_id] = resp.headers["OData-EntityId"]
        return content_id, resp

    @staticmethod
    def _missing_ref(ref: str) -> ApiError:
        return ApiError(400, E_ODATA, f"Content-ID Reference: '{ref}' does not exist in the batch context.")

    def _deref(self, target: str, ids: dict[str, str]) -> str:
        if target.startswith("$"):
            ref, _, rest = target.partition("/")
            if ref[1:] not in ids:
                raise self._missing_ref(ref)
            return ids[ref[1:]] + ("/" + rest if rest else "")
        return target

    def _deref_body(self, body: bytes, ids: dict[str, str]) -> bytes:
        if b"$" not in body or not body.strip():
            return body
        try:
            data = json.loads(body)
        except json.JSONDecodeError:
            return body
        if isinstance(data, dict):
            for key, value in data.items():
                if (
                    key.endswith(("@odata.bind", "@odata.id"))
                    and isinstance(value, str)
                    and value.startswith("$")
                ):
                    data[key] = self._deref(value, ids)
        return json.dumps(data).encode()


def _part(resp: Resp, content_id: str | None) -> str:
    head = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
    if content_id:
        head += f"Content-ID: {content_id}\r\n"
    headers = {"OData-Version": "4.0", **resp.headers}
    lines = [f"HTTP/1.1 {resp.status} {STATUS_TEXT.get(resp.status, '')}"] + [
        f"{k}: {v}" for k, v in headers.items()
    ]
    payload = resp.payload().decode()
    return head + "\r\n" + "\r\n".join(lines) + "\r\n\r\n" + payload + "\r\n"


def _render(boundary: str, out: list[tuple[Any, ...]]) -> bytes:
    chunks = []
    for item in out:
        if item[0] == "changeset":
            inner = f"changesetresponse_{uuid.uuid4()}"
            body = "".join(f"--{inner}\r\n{_part(resp, cid)}" for cid, resp in item[1]) + f"--{inner}--\r\n"
            chunks.append(f"--{boundary}\r\nContent-Type: multipart/mixed; boundary={inner}\r\n\r\n{body}")
        else:
            chunks.append(f"--{boundary}\r\n{_part(item[2], item[1])}")
    return ("".join(chunks) + f"--{boundary}--\r\n").encode()

"""The WSGI app: token endpoint, authentication, injected faults, service protection, routing, test control."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import Any

from werkzeug.wrappers import Request, Response

from local.fakes.dataverse.errors import E_ODATA, ApiError
from local.fakes.dataverse.faults import DataverseFaults
from local.fakes.dataverse.odata import API, Req, Resp, table_by_set

_PATH = re.compile(r"^(?P<set>\w+)(?:\((?P<key>.*)\))?(?:/(?P<rest>[^()]*))?$")
_TOKEN_PATH = re.compile(r"^/(?P<tenant>[^/]+)/oauth2/v2\.0/token$")
_WRITES = frozenset({"POST", "PATCH", "PUT", "DELETE"})


def _err(exc: ApiError) -> Resp:
    return Resp(exc.status, exc.body(), exc.headers)


class AppMixin:
    """``fake.app`` serves the Web API under /api/data/v9.2/, the token endpoint and ``/_fake/*``."""

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        resp = self._serve(request)
        headers = {"OData-Version": "4.0", **resp.headers} if request.path.startswith(API) else resp.headers
        response = Response(resp.payload(), status=resp.status, headers=headers)
        if resp.body is None:
            del response.headers["Content-Type"]
        elif "Content-Type" not in headers:
            response.headers["Content-Type"] = "application/json"
        return response(environ, start_response)

    def _serve(self, request: Request) -> Resp:
        path = request.path
        if path.startswith("/_fake/"):
            return self._control(request)
        token_match = _TOKEN_PATH.match(path)
        if token_match and request.method == "POST":
            with self._lock:
                return self._h_token(token_match["tenant"], request.form.to_dict())
        if not path.startswith(API + "/"):
            return Resp(404, {"error": {"code": "", "message": f"No route for {path}"}})
        with self._lock:
            user, denied = self._authenticate(request.headers.get("Authorization", ""))
            if denied is not None:
                self._count("unauthorized", 401)
                return denied
            faults = self._faults
            if faults.fail_next_n and faults.fail_next_n[1] > 0:
                status, left = faults.fail_next_n
                faults.fail_next_n = (status, left - 1)
                self._count("injected", status)
                extra = {"Retry-After": "1"} if status == 429 else {}
                return _err(
                    ApiError(status, "0x80040216", "An unexpected error occurred (injected fault).", extra)
                )
        req = Req(
            request.method,
            path[len(API) + 1 :],
            {k: v for k, v in request.args.items()},
            {k.lower(): v for k, v in request.headers.items()},
            request.get_data(),
            user or "",
        )
        with self._lock:
            self._in_flight[req.user_id] = self._in_flight.get(req.user_id, 0) + 1
        try:
            resp = self._admitted(req, faults)
        finally:
            with self._lock:
                self._in_flight[req.user_id] -= 1
        self._dispatch_events()
        return resp

    def _admitted(self, req: Req, faults: DataverseFaults) -> Resp:
        try:
            with self._lock:
                limit_headers = {} if req.path == "$batch" else self._admit(req.user_id)
        except ApiError as exc:
            self._count(self._template(req), exc.status)
            return _err(exc)
        if faults.latency_s:
            time.sleep(faults.latency_s)
        with self._lock:
            try:
                resp = self._route(req)
            except ApiError as exc:
                resp = _err(exc)
            except (
                KeyError,
                TypeError,
                ValueError,
                AttributeError,
            ) as exc:  # malformed input -> 400, not a crash
                resp = _err(ApiError(400, E_ODATA, f"Bad request ({type(exc).__name__}: {exc})"))
            after = faults.fail_after_commit_n
            if after and after[1] > 0 and req.method in _WRITES and resp.status < 400:
                faults.fail_after_commit_n = (after[0], after[1] - 1)
                resp = _err(
                    ApiError(after[0], "0x80040216", "An unexpected error occurred (injected after commit).")
                )
            resp.headers.update(limit_headers)
            self._count(self._template(req), resp.status)
        return resp

    # ------------------------------------------------------------------------------- routing

    def _route(self, req: Req) -> Resp:
        path, method = req.path, req.method
        if path == "$batch" and method == "POST":
            return self._h_batch(req)
        if path == "$metadata" and method == "GET":
            return self._h_metadata(req)
        if path in ("WhoAmI", "WhoAmI()") and method == "GET":
            return self._h_whoami(req)
        if path == "Merge" and method == "POST":
            return self._h_merge(req)
        match = _PATH.match(path)
        if match is None:
            raise ApiError(404, E_ODATA, f"Resource not found for the segment '{path}'.")
        table = table_by_set(self.tables, match["set"])
        key, rest = match["key"], match["rest"]
        if key is None and not rest:
            if method == "GET":
                return self._h_list(req, table)
            if method == "POST":
                return self._h_create(req, table)
        elif key is not None and not rest:
            handler = {"GET": self._h_get, "PATCH": self._h_patch, "DELETE": self._h_delete}.get(method)
            if handler is not None:
                return handler(req, table, key)
        elif key is not None and rest == "Microsoft.Dynamics.CRM.QualifyLead" and table.name == "lead":
            if method == "POST":
                return self._h_qualify_lead(req, key)
        elif key is not None and rest.endswith("/$ref") and method in ("DELETE", "PUT"):
            handler = self._h_delete_ref if method == "DELETE" else self._h_put_ref
            return handler(req, table, key, rest[: -len("/$ref")])
        elif key is not None and "/" not in rest and method == "PUT":
            return self._h_put_property(req, table, key, rest)
        raise ApiError(405, E_ODATA, f"The HTTP method '{method}' is not allowed on '{path}'.")

    @staticmethod
    def _template(req: Req) -> str:
        path = re.sub(r"\((.*?)\)", "({key})", req.path.split("?")[0])
        return f"{req.method} {path}"

    def _count(self, template: str, status: int) -> None:
        with self._lock:
            self._calls[template] += 1
            self._statuses[str(status)] += 1

    # ------------------------------------------------------------------------------- /_fake

    def _control(self, request: Request) -> Resp:
        path, method = request.path, request.method
        try:
            data = json.loads(request.get_data() or b"null")
            if path == "/_fake/stats" and method == "GET":
                return Resp(200, self.stats)
            if path == "/_fake/reset" and method == "POST":
                self.reset()
                return Resp(204)
            if path == "/_fake/faults":
                if method == "PUT":
                    self.faults = DataverseFaults(**(data or {}))
                return Resp(200, asdict(self.faults))
            if path.startswith("/_fake/seed/") and method == "POST":
                return Resp(200, {"ids": self.seed(path.rsplit("/", 1)[1], data or [])})
            if path.startswith("/_fake/person_edit/") and method == "PATCH":
                _, _, _, table, row_id = path.split("/")
                self.person_edit(table, row_id, data or {})
                return Resp(204)
            if path.startswith("/_fake/rows/") and method == "GET":
                return Resp(200, self.rows(path.rsplit("/", 1)[1]))
            if path == "/_fake/flush_webhooks" and method == "POST":
                return Resp(200, {"delivered": len(self.flush_webhooks())})
        except (TypeError, ValueError, KeyError, ApiError) as exc:
            return Resp(400, {"error": {"code": "", "message": str(exc)}})
        return Resp(404, {"error": {"code": "", "message": f"no control endpoint {method} {path}"}})

    def _known_table(self, table: str) -> None:
        if table not in self.tables:
            raise ValueError(f"unknown table {table!r}; known: {sorted(self.tables)}")

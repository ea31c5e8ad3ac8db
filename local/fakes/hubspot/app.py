"""The WSGI app of the HubSpot fake: routing, authentication, injected faults, dispatch and test control."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from local.fakes.hubspot.constants import NOTE_TYPE_ALIASES, TYPE_ALIASES
from local.fakes.hubspot.faults import Faults
from local.fakes.hubspot.helpers import ApiError, error_body

_READ_ENDPOINTS = frozenset(
    {
        "list_objects",
        "get_object",
        "batch_read",
        "search",
        "assoc_batch_read",
        "assoc_list",
        "list_properties",
        "get_property",
        "list_groups",
        "get_group",
        "note_get",
        "owners_list",
        "owner_get",
    }
)
_TYPE_ARGS = ("otype", "from_t", "to_t", "ptype")

_PLACEHOLDERS = {
    "object_id": "objectId",
    "from_id": "fromObjectId",
    "to_id": "toObjectId",
    "property_name": "propertyName",
    "group_name": "groupName",
    "note_id": "noteId",
    "owner_id": "ownerId",
}


class AppMixin:
    """Routing and dispatch of every request (auth, faults, rate limits, spec checks, call counting)."""

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """The WSGI application."""
        request = Request(environ)
        response = self._dispatch(request)
        return response(environ, start_response)

    @staticmethod
    def _build_map() -> Map:
        o = "/crm/v3/objects/<otype>"
        a = "/crm/v4/associations/<from_t>/<to_t>/batch"
        v4 = "/crm/v4/objects/<from_t>/<from_id>/associations"
        p = "/crm/v3/properties/<ptype>"
        rules = [
            Rule(o, methods=["GET"], endpoint="list_objects"),
            Rule(o, methods=["POST"], endpoint="create_object"),
            Rule(f"{o}/batch/read", methods=["POST"], endpoint="batch_read"),
            Rule(f"{o}/batch/create", methods=["POST"], endpoint="batch_create"),
            Rule(f"{o}/batch/update", methods=["POST"], endpoint="batch_update"),
            Rule(f"{o}/batch/upsert", methods=["POST"], endpoint="batch_upsert"),
            Rule(f"{o}/batch/archive", methods=["POST"], endpoint="batch_archive"),
            Rule(f"{o}/search", methods=["POST"], endpoint="search"),
            Rule(f"{o}/merge", methods=["POST"], endpoint="merge"),
            Rule(f"{o}/<object_id>", methods=["GET"], endpoint="get_object"),
            Rule("/crm/v3/objects/notes", methods=["POST"], endpoint="note_create"),
            Rule("/crm/v3/objects/notes/batch/create", methods=["POST"], endpoint="note_batch_create"),
            Rule("/crm/v3/objects/notes/<note_id>", methods=["GET"], endpoint="note_get"),
            Rule("/crm/v3/owners", methods=["GET"], endpoint="owners_list"),
            Rule("/crm/v3/owners/<owner_id>", methods=["GET"], endpoint="owner_get"),
            Rule(f"{o}/<object_id>", methods=["PATCH"], endpoint="patch_object"),
            Rule(f"{o}/<object_id>", methods=["DELETE"], endpoint="delete_object"),
            Rule(f"{a}/read", methods=["POST"], endpoint="assoc_batch_read"),
            Rule(f"{a}/create", methods=["POST"], endpoint="assoc_batch_create"),
            Rule(f"{a}/associate/default", methods=["POST"], endpoint="assoc_batch_default"),
            Rule(f"{a}/archive", methods=["POST"], endpoint="assoc_batch_archive"),
            Rule(f"{v4}/default/<to_t>/<to_id>", methods=["PUT"], endpoint="assoc_put_default"),
            Rule(f"{v4}/<to_t>", methods=["GET"], endpoint="assoc_list"),
            Rule(f"{v4}/<to_t>/<to_id>", methods=["PUT"], endpoint="assoc_put_labels"),
            Rule(f"{v4}/<to_t>/<to_id>", methods=["DELETE"], endpoint="assoc_delete"),
            Rule(p, methods=["GET"], endpoint="list_properties"),
            Rule(p, methods=["POST"], endpoint="create_property"),
            Rule(f"{p}/batch/create", methods=["POST"], endpoint="batch_create_properties"),
            Rule(f"{p}/groups", methods=["GET"], endpoint="list_groups"),
            Rule(f"{p}/groups", methods=["POST"], endpoint="create_group"),
            Rule(f"{p}/groups/<group_name>", methods=["GET"], endpoint="get_group"),
            Rule(f"{p}/<property_name>", methods=["GET"], endpoint="get_property"),
            Rule("/oauth/v1/token", methods=["POST"], endpoint="oauth_token"),
            Rule("/_fake/stats", methods=["GET"], endpoint="fake_stats"),
            Rule("/_fake/reset", methods=["POST"], endpoint="fake_reset"),
            Rule("/_fake/faults", methods=["GET", "PUT"], endpoint="fake_faults"),
        ]
        return Map(rules, strict_slashes=False, merge_slashes=False)

    def _json_response(
        self, status: int, body: Any | None, headers: Mapping[str, str] | None = None
    ) -> Response:
        text = "" if body is None else json.dumps(body)
        response = Response(text, status=status, mimetype="application/json" if body is not None else None)
        for key, value in (headers or {}).items():
            response.headers[key] = value
        return response

    def _dispatch(self, request: Request) -> Response:
        correlation = str(uuid.uuid4())
        adapter = self._url_map.bind_to_environ(request.environ)
        try:
            rule, args = adapter.match(return_rule=True)
        except (NotFound, MethodNotAllowed) as exc:
            status = exc.code or 404
            category = "OBJECT_NOT_FOUND" if status == 404 else "VALIDATION_ERROR"
            return self._json_response(
                status, error_body(category, f"{request.method} {request.path}: {exc.name}")
            )
        except HTTPException as exc:  # pragma: no cover - redirects etc.
            return self._json_response(exc.code or 400, error_body("VALIDATION_ERROR", str(exc)))

        endpoint = str(rule.endpoint)
        if endpoint == "fake_stats":
            return self._json_response(200, self.stats())
        if endpoint == "fake_reset":
            self.reset()
            return self._json_response(204, None)
        if endpoint == "fake_faults":
            if request.method == "PUT":
                try:
                    self.set_faults(Faults(**(json.loads(request.get_data(as_text=True) or "{}"))))
                except (TypeError, ValueError) as exc:
                    return self._json_response(400, error_body("VALIDATION_ERROR", str(exc)))
            return self._json_response(200, asdict(self._faults))
        if endpoint == "oauth_token":  # no bearer token, not an API call (local.fakes.hubspot.oauth)
            return self._oauth_token(request, correlation)

        for name in _TYPE_ARGS:
            if name in args:
                normalized = TYPE_ALIASES.get(args[name])
                if normalized is None and name in ("from_t", "to_t"):  # notes: association reads only
                    normalized = NOTE_TYPE_ALIASES.get(args[name])
                if normalized is None:
                    return self._json_response(
                        400, error_body("VALIDATION_ERROR", f"Unable to infer object type from: {args[name]}")
                    )
                args[name] = normalized
        template = self._template(rule.rule, args)
        is_search = endpoint == "search"
        headers: dict[str, str] = {"X-HubSpot-Correlation-Id": correlation}

        # authentication: the private-app token or an unexpired access token of the public app
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        problem = self._bearer_problem(token)
        if problem is not None:
            with self._lock:
                self._counters["unauthorized"] += 1
            body = error_body(*problem)
            body["correlationId"] = correlation
            return self._json_response(401, body, headers)

        # injected latency and faults (before any effect; the draws hold the lock, the sleeps do not)
        with self._lock:
            faults = self._faults
            delay = faults.latency_s
            if faults.latency_max_s:
                extra = self._latency_rng.uniform(0.0, faults.latency_max_s)
                delay += extra
                self._counters["slow_replies"] += 1
                self._counters["added_latency_us"] += round(extra * 1e6)
            roll_429 = faults.rate_429 and self.rng.random() < faults.rate_429
            roll_5xx = faults.rate_5xx and self.rng.random() < faults.rate_5xx
            roll_after = faults.rate_5xx_after_commit and self.rng.random() < faults.rate_5xx_after_commit
            roll_timeout = faults.rate_timeout and self.rng.random() < faults.rate_timeout
            roll_timeout_after = (
                faults.rate_timeout_after_commit and self.rng.random() < faults.rate_timeout_after_commit
            )
            status_5xx = self.rng.choice((500, 502, 503, 504)) if roll_5xx and not roll_429 else 504
            if roll_429 or roll_5xx or roll_timeout:
                self._counters["faults"] += 1
                if not (roll_429 or roll_5xx):
                    self._counters["timeouts"] += 1
        self._hang(delay)
        if roll_429:
            interval = faults.rate_429_interval_ms
            limit = str(self.rate_limit_per_10s or 100)
            headers = {
                **headers,
                "X-HubSpot-RateLimit-Max": limit,
                "X-HubSpot-RateLimit-Remaining": "0",
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(interval),
            }
            return self._rate_limited("TEN_SECONDLY_ROLLING", correlation, interval / 1000, headers)
        if roll_5xx:
            body = error_body("INTERNAL_ERROR", "internal error (injected fault)")
            body["correlationId"] = correlation
            return self._json_response(status_5xx, body, headers)
        if roll_timeout:
            self._hang(faults.timeout_s)
            body = error_body("INTERNAL_ERROR", "Gateway timeout (injected, nothing was written)")
            body["correlationId"] = correlation
            return self._json_response(504, body, headers)

        # rate limits
        limited = self._check_rate_limit(self._rate_key(token), is_search, correlation, headers)
        if limited is not None:
            return limited

        # parse body
        payload: Any = None
        if request.method in ("POST", "PATCH", "PUT"):
            raw = request.get_data(as_text=True)
            if raw.strip():
                try:
                    payload = json.loads(raw)
                except json.JSONDecodeError:
                    body = error_body("VALIDATION_ERROR", "Invalid input JSON on line 1")
                    return self._json_response(400, body, headers)
            if self.spec is not None and payload is not None:
                for problem in self.spec.request_errors(request.method, request.path, payload):
                    self.spec_violations.append(f"request {request.method} {request.path}: {problem}")

        with self._lock:
            self._calls[f"{request.method} {template}"] += 1
            self._counters["reads" if endpoint in _READ_ENDPOINTS else "writes"] += 1
            self.request_log.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "template": template,
                    "query": request.args.to_dict(flat=False),
                    "json": payload,
                }
            )
            try:
                handler = getattr(self, f"_h_{endpoint}")
                status, body = handler(request, payload, **args)
            except ApiError as exc:
                status, body = exc.status, exc.body
                headers.update(exc.headers)
                body.setdefault("correlationId", correlation)
            except (AttributeError, TypeError, KeyError, ValueError) as exc:
                # HubSpot answers malformed input with a 400; the exception name helps debug the fake
                status, body = (
                    400,
                    error_body("VALIDATION_ERROR", f"Invalid input JSON ({type(exc).__name__})"),
                )
            finally:
                self._commit_events()

        if self.spec is not None and body is not None:
            for problem in self.spec.response_errors(request.method, request.path, status, body):
                self.spec_violations.append(f"response {request.method} {request.path} {status}: {problem}")
        if (roll_after or roll_timeout_after) and endpoint not in _READ_ENDPOINTS:
            with self._lock:
                self._counters["faults"] += 1
                if not roll_after:
                    self._counters["timeouts_after_commit"] += 1
            if not roll_after:
                self._hang(faults.timeout_s)
            body = error_body("INTERNAL_ERROR", "Gateway timeout (injected after commit)")
            return self._json_response(504, body, headers)
        return self._json_response(status, body, headers)

    @staticmethod
    def _template(path: str, args: Mapping[str, str]) -> str:
        """``/crm/v3/objects/<otype>/<object_id>`` -> ``/crm/v3/objects/companies/{objectId}``."""
        for name, value in args.items():
            placeholder = value if name in _TYPE_ARGS else "{" + _PLACEHOLDERS.get(name, name) + "}"
            path = path.replace(f"<{name}>", placeholder)
        return path

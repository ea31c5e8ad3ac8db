"""The WSGI app of the e-conomic fake: routing, auth, token bucket, faults, idempotency and error bodies."""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.wrappers import Request, Response

from local.fakes.economic.faults import EconomicFaults, ScheduledFault
from local.fakes.economic.helpers import _NOT_FOUND_HINT, _PROBLEM_TITLES
from local.fakes.economic.invoices_api import INVOICE_ROUTES
from local.fakes.economic.model import CUSTOMERS_API_PREFIX, _Ctx

# Routes: endpoint -> (display template, [(rule, methods)])
_ROUTES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "legacy_customers": ("/customers", "/customers", ("GET", "POST")),
    "legacy_customer": ("/customers/{customerNumber}", "/customers/<int:number>", ("GET", "PUT", "DELETE")),
    "legacy_contacts": (
        "/customers/{customerNumber}/contacts",
        "/customers/<int:number>/contacts",
        ("GET",),
    ),
    "legacy_contact": (
        "/customers/{customerNumber}/contacts/{contactNumber}",
        "/customers/<int:number>/contacts/<int:contact>",
        ("GET",),
    ),
    "legacy_booked_invoices": (
        "/customers/{customerNumber}/invoices/booked",
        "/customers/<int:number>/invoices/booked",
        ("GET",),
    ),
    "api_customers": (
        f"{CUSTOMERS_API_PREFIX}/Customers",
        f"{CUSTOMERS_API_PREFIX}/customers",
        ("GET", "POST"),
    ),
    "api_customer": (
        f"{CUSTOMERS_API_PREFIX}/Customers/{{number}}",
        f"{CUSTOMERS_API_PREFIX}/customers/<int:number>",
        ("GET", "PUT", "DELETE"),
    ),
    "api_contacts": (
        f"{CUSTOMERS_API_PREFIX}/Contacts",
        f"{CUSTOMERS_API_PREFIX}/contacts",
        ("GET", "POST", "PUT"),
    ),
    "api_contact": (
        f"{CUSTOMERS_API_PREFIX}/Contacts/{{number}}",
        f"{CUSTOMERS_API_PREFIX}/contacts/<int:number>",
        ("GET", "DELETE"),
    ),
    **INVOICE_ROUTES,
}


class AppMixin:
    """Request dispatch, error responses and the ``/_fake`` test-control HTTP surface."""

    def _json(
        self, status: int, body: Any, *, content_type: str = "application/json; charset=utf-8"
    ) -> Response:
        return Response(json.dumps(body, ensure_ascii=False), status=status, content_type=content_type)

    def _legacy_error(
        self,
        ctx: _Ctx,
        status: int,
        message: str,
        hint: str = "",
        *,
        error_code: str | None = None,
        errors: Any = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Response:
        body: dict[str, Any] = {"message": message}
        if error_code:
            body["errorCode"] = error_code
        body["developerHint"] = hint or message
        body["logId"] = ctx.request_id
        body["httpStatusCode"] = status
        if errors is not None:
            body["errors"] = errors
        body.update(extra or {})
        body["logTime"] = datetime.now().strftime("%Y-%m-%dT%H:%M:%S")
        return self._json(status, body)

    def _problem(
        self,
        ctx: _Ctx,
        status: int,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        error_code: str | None = None,
    ) -> Response:
        body: dict[str, Any] = {
            "type": f"https://developer.visma.com/api/e-conomic/errors/{status}",
            "title": _PROBLEM_TITLES.get(status, "Error"),
            "status": status,
            "detail": detail,
            "instance": ctx.request.path,
        }
        if errors is not None:
            body["errors"] = errors
        body["traceId"] = ctx.request_id
        body["errorCode"] = error_code or f"E{status}"
        body["traceTimeUtc"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return self._json(status, body, content_type="application/problem+json; charset=utf-8")

    def _error(self, ctx: _Ctx, status: int, message: str, *, error_code: str | None = None) -> Response:
        if ctx.api == "customers":
            return self._problem(ctx, status, message, error_code=error_code)
        return self._legacy_error(ctx, status, message, error_code=error_code)

    # ---------------------------------------------------------------- dispatch

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        response = self._handle(request)
        return response(environ, start_response)

    def _base(self, request: Request) -> str:
        return self.link_base or request.root_url.rstrip("/")

    def _handle(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/_fake"):
            return self._control(request)
        api = "customers" if path.lower().startswith(CUSTOMERS_API_PREFIX.lower()) else "legacy"
        ctx = _Ctx(request, f"{uuid.uuid4().hex[:16]}-CPH", api, self._base(request))
        method = request.method.upper()
        endpoint: str | None = None
        args: Mapping[str, Any] = {}
        routing_error: int | None = None
        try:
            matched, args = self._map.bind("fake").match(path.lower(), method=method)
            endpoint = str(matched)
        except MethodNotAllowed:
            routing_error = 405
        except NotFound:
            routing_error = 404
        template = _ROUTES[endpoint][0] if endpoint else path
        for hook in list(self._hooks):
            hook(method, path)
        with self._lock:  # draw under the lock, sleep without it
            faults = self._faults
            delay = faults.latency
            if faults.latency_max_s:
                extra = self._latency_rng.uniform(0.0, faults.latency_max_s)
                delay += extra
                self._fault_counts["slow_replies"] += 1
                self._fault_counts["added_latency_us"] += round(extra * 1e6)
        self._hang(delay)
        with self._lock:
            self._calls[f"{method} {template}"] += 1
            ctx.cost = self.call_costs.get(method, 1)
            response = self._guarded(ctx, method, endpoint, args, routing_error)
            self._statuses[response.status_code] += 1
            response.headers["X-RequestId"] = ctx.request_id
            response.headers["X-RateLimiting"] = self._bucket.header()
            response.headers["X-CallCost"] = str(ctx.cost)
        self._hang(ctx.hang_s)  # an injected timeout: this request's thread only, no lock held
        return response

    def _hang(self, seconds: float) -> None:
        """Sleep for an injected delay (never with a lock held); ``shutdown()`` cuts it short."""
        if seconds > 0:
            self._wake_hangs.wait(seconds)

    def _authorized(self, request: Request) -> bool:
        return (
            request.headers.get("X-AppSecretToken") == self.app_secret_token
            and request.headers.get("X-AgreementGrantToken") == self.agreement_grant_token
        )

    def _take_fault(self, method: str, path: str) -> ScheduledFault | None:
        for fault in self._scheduled:
            if fault.remaining > 0 and fault.matches(method, path):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._scheduled.remove(fault)
                return fault
        faults = self._faults
        if self._rng.random() < faults.rate_429:
            return ScheduledFault(429, retry_after=faults.retry_after)
        if self._rng.random() < faults.rate_5xx:
            return ScheduledFault(503)
        write = method != "GET"
        if write and self._rng.random() < faults.lost_response_rate:
            return ScheduledFault(504, after_commit=True)
        if faults.rate_timeout and self._rng.random() < faults.rate_timeout:
            return ScheduledFault(504, hang_s=faults.timeout_s)
        if (
            write
            and faults.rate_timeout_after_commit
            and self._rng.random() < faults.rate_timeout_after_commit
        ):
            return ScheduledFault(504, after_commit=True, hang_s=faults.timeout_s)
        return None

    def _injected(self, ctx: _Ctx, fault: ScheduledFault) -> Response:
        """Answer with an injected (random or scheduled) fault; count it and arm its hang."""
        self._fault_counts["faults"] += 1
        if fault.hang_s is not None:
            self._fault_counts["timeouts_after_commit" if fault.after_commit else "timeouts"] += 1
            ctx.hang_s = fault.hang_s
        return self._fault_response(ctx, fault)

    def _fault_response(self, ctx: _Ctx, fault: ScheduledFault) -> Response:
        if fault.status == 429:
            response = self._error(ctx, 429, "Too many requests. You are over your quota; wait a bit.")
            response.headers["Retry-After"] = str(math.ceil(fault.retry_after or 1))
            return response
        return self._error(ctx, fault.status, _PROBLEM_TITLES.get(fault.status, "Injected fault") + ".")

    def _guarded(
        self, ctx: _Ctx, method: str, endpoint: str | None, args: Mapping[str, Any], routing_error: int | None
    ) -> Response:
        request = ctx.request
        if not self._authorized(request):
            return self._error(
                ctx,
                401,
                "Unauthorized access. Supply valid X-AppSecretToken and X-AgreementGrantToken headers.",
            )
        wait = self._bucket.take(ctx.cost)
        if wait is not None:
            return self._fault_response(ctx, ScheduledFault(429, retry_after=wait))
        if routing_error == 404 or endpoint is None:
            if ctx.api == "customers":
                return self._problem(ctx, 404, "The resource you have been looking for does not exist.")
            return self._legacy_error(ctx, 404, "Resource not found.", _NOT_FOUND_HINT)
        if routing_error == 405:
            return self._error(ctx, 405, f"The HTTP method {method} is not allowed on this resource.")
        fault = self._take_fault(method, request.path)
        if fault is not None and not fault.after_commit:
            return self._injected(ctx, fault)
        body: Any = None
        if method in ("POST", "PUT"):
            if request.mimetype not in ("application/json", "application/problem+json"):
                return self._error(
                    ctx, 415, "Unsupported media type. The request body must be JSON (application/json)."
                )
            try:
                body = json.loads(request.get_data(as_text=True) or "null")
            except ValueError:
                return self._error(ctx, 400, "The request body is not valid JSON.")
        key = request.headers.get("Idempotency-Key") if method != "GET" else None
        if key:
            cached = self._idempotency.get(key)
            if cached and cached[0] > time.monotonic():
                _, status, headers, payload = cached
                response = Response(payload, status=status, headers=headers)
                response.headers["X-ResultFromCache"] = "true"
                return response
        handler: Callable[..., Response] = getattr(self, f"_h_{endpoint}_{method.lower()}")
        response = handler(ctx, body, **args)
        if key and 200 <= response.status_code < 300:
            headers = {k: v for k, v in response.headers.items() if k in ("Content-Type", "Location")}
            self._idempotency[key] = (
                time.monotonic() + self.idempotency_ttl,
                response.status_code,
                headers,
                response.get_data(),
            )
        if fault is not None and 200 <= response.status_code < 300:
            return self._injected(ctx, fault)
        return response

    # ---------------------------------------------------------------- test-control HTTP surface

    def _control(self, request: Request) -> Response:
        """``/_fake/*``: free, unauthenticated and not counted as API calls."""
        path, method = request.path.rstrip("/"), request.method.upper()
        payload: Any = request.get_json(silent=True) or {}
        try:
            if path == "/_fake/stats" and method == "GET":
                return self._json(200, self.stats())
            if path == "/_fake/reset" and method == "POST":
                self.reset()
                return Response(status=204)
            if path == "/_fake/webhook" and method == "GET":
                return self._json(200, {"url": self.webhook_url, "body": self.webhook_body})
            if path == "/_fake/webhook" and method == "PUT":
                self.set_webhook(payload.get("url"), payload.get("body"), payload.get("contentType"))
                return self._json(200, {"url": self.webhook_url, "body": self.webhook_body})
            if path == "/_fake/faults" and method == "GET":
                return self._json(200, asdict(self._faults))
            if path == "/_fake/faults" and method == "PUT":
                return self._json(200, asdict(self.set_faults(EconomicFaults(**payload))))
            if path == "/_fake/webhooks/flush" and method == "POST":
                return self._json(200, {"flushed": self.flush_webhooks(float(payload.get("timeout", 5.0)))})
            if path == "/_fake/seed" and method == "POST":
                numbers = self.seed(
                    int(payload.get("customers", 0)),
                    contacts_per_customer=int(payload.get("contactsPerCustomer", 2)),
                    seed=int(payload.get("seed", 0)),
                    fire_webhooks=bool(payload.get("fireWebhooks", False)),
                )
                return self._json(201, {"customerNumbers": numbers})
            match = re.fullmatch(r"/_fake/customers/(\d+)(/renumber)?", path)
            if match and method == "PATCH" and not match.group(2):
                self.update_customer(int(match.group(1)), **payload)
                return self._json(200, self.get_customer(int(match.group(1))))
            if match and method == "DELETE" and not match.group(2):
                self.delete_customer(int(match.group(1)))
                return Response(status=204)
            if match and method == "POST" and match.group(2):
                self.renumber(int(match.group(1)), int(payload["newNumber"]))
                return Response(status=204)
            if path == "/_fake/customers" and method == "POST":
                number = self.add_customer(payload)
                return self._json(201, self.get_customer(number))
            answer = self._invoice_control(path, method, payload)
            if answer is not None:
                return answer
        except (KeyError, ValueError, TypeError) as exc:
            return self._json(400, {"message": f"{type(exc).__name__}: {exc}"})
        return self._json(404, {"message": f"No test-control endpoint {method} {path}."})

"""The local stack: crmsync running end to end on one machine, without Docker or AWS.

- moto's server plays AWS (DynamoDB + Streams, SQS, Secrets Manager); the tables and queues are
  created from ``template.yaml`` itself (``local.template_resources``), so nothing drifts.
- the e-conomic and HubSpot fakes serve the vendors' APIs on localhost and send real webhooks.
- a gateway serves the template's HTTP API routes and calls the handlers in-process with API
  Gateway (payload 2.0) events;
- a pump plays the Lambda event-source mappings: it drains the live and bulk queues into
  ``sync_worker`` in waves of each mapping's MaximumConcurrency, picking batches as SQS fair queues do
  and honouring partial batch failures and the worker's retry delays (``local.queue_poller``), reads the
  table's stream into ``push_on_change`` (with the template's filter and batch size) and fires
  ``scheduled_pull`` on request;
- several vendor accounts (``add_account``): one company's agreement and portal per tenant, behind the
  same fake hosts (``local.fakes.accounts``).

``run_until_idle`` pumps until webhooks, queue and stream are all quiet, which makes end-to-end
tests deterministic; the same handlers run unchanged on AWS.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import httpx
from aws_lambda_powertools import Metrics
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from crmsync import runtime
from crmsync.models import SyncMode
from crmsync.store import SyncStore
from local.fakes.accounts import OrgRouter
from local.fakes.economic import EconomicFake
from local.fakes.hubspot import HubSpotFake
from local.fakes.serving import serve_in_thread, stop_server
from local.iam import IamEnforcer, RoleOverride, check_event_source_mappings, enforcer_for
from local.lambda_runtime import FakeLambdaContext, http_event, load_handler, sqs_event
from local.moto_process import MotoServerProcess
from local.queue_poller import QueuePoller, signals_in
from local.stream_poller import StreamPump
from local.template_resources import (
    FunctionSpec,
    LocalResources,
    create_resources,
    function_specs,
    match_route,
)
from local.vendors import (
    DEFAULT_ACCOUNT,
    ECONOMIC_APP_SECRET,
    ECONOMIC_GRANT,
    HUBSPOT_CLIENT_SECRET,
    HUBSPOT_TOKEN,
    CrmKind,
    VendorAccount,
    VendorAccounts,
    point_webhooks,
    provision_tenant,
)

REGION = "eu-west-1"


@dataclass
class PumpStats:
    worker_invocations: int = 0
    signals: int = 0
    signal_failures: int = 0
    push_invocations: int = 0
    stream_records: int = 0
    push_failures: int = 0
    pulls: int = 0
    crashes: int = 0
    decisions: dict[str, int] = field(default_factory=dict)
    invocations: dict[str, list[float]] = field(default_factory=dict)
    """Per function (logical id): the duration of every invocation in seconds (the bench prices them)."""


class LocalStack:
    """Start with ``with LocalStack() as stack:``; see the module docstring."""

    def __init__(
        self,
        *,
        hubspot_rate_limit_per_10s: int | None = None,
        economic_rate_limit: tuple[int, float] = (10_000, 60.0),
        log_level: str = "WARNING",
        http_timeout: float | None = None,
        enforce_iam: bool = True,
        iam_override: RoleOverride | None = None,
        serial: bool = False,
    ) -> None:
        """``enforce_iam``: every AWS call a function (or its event-source poller) makes is checked against
        its execution role from the template (``local.iam``), as on AWS; ``iam_override`` edits those
        roles first (tests: ``local.iam.without_action`` / ``with_deny``). ``serial``: one invocation at a
        time across all functions (they share this process's ``crmsync.runtime`` context), for a stack
        whose gateway answers a browser while ``pumping`` moves its queues in another thread."""
        self.serial = serial
        self._one_at_a_time = threading.Lock()
        self.log_level = log_level
        self.http_timeout = http_timeout
        self.enforce_iam = enforce_iam
        self.iam_override = iam_override
        self.iam = IamEnforcer()  # replaced by the template's roles in start() when enforce_iam
        self.economic = EconomicFake(
            app_secret_token=ECONOMIC_APP_SECRET,
            agreement_grant_token=ECONOMIC_GRANT,
            rate_limit=economic_rate_limit,
        )
        self.hubspot = HubSpotFake(
            HUBSPOT_TOKEN,
            client_secret=HUBSPOT_CLIENT_SECRET,
            rate_limit_per_10s=hubspot_rate_limit_per_10s,
            search_rate_limit_per_s=None if hubspot_rate_limit_per_10s is None else 5,
        )
        self.vendors = VendorAccounts(self.economic, self.hubspot)
        self.stats = PumpStats()
        self.crash_next_batch_after: int | None = None
        self._moto: MotoServerProcess | None = None
        self._gateway: BaseWSGIServer | None = None
        self._locks: dict[str, threading.Lock] = {}
        self._stream_pump: StreamPump | None = None
        self._pollers: list[QueuePoller] = []
        self._saved_env: dict[str, str | None] = {}
        self.specs: dict[str, FunctionSpec] = {}
        self.resources: LocalResources | None = None
        self.gateway_url = ""

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        denied = self.iam.denied()
        self.stop()
        # Every AWS call of a run must be allowed by its own function's role, unless the run changed the
        # roles on purpose (``iam_override``): a swallowed AccessDenied would otherwise pass unseen.
        if exc_type is None and denied and self.iam_override is None:
            calls = sorted({f"{d.function}: {d.action} on {d.resource}" for d in denied})
            raise AssertionError(f"AWS calls denied by the template's IAM roles: {calls}")

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log lines from the local servers
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        # Keep-alive between boto3/httpx and the local servers (werkzeug defaults to HTTP/1.0, one TCP
        # connection per call), which halves the per-call latency of moto's server.
        WSGIRequestHandler.protocol_version = "HTTP/1.1"
        self._moto = MotoServerProcess()
        self.aws_endpoint = self._moto.start()
        self._set_env(
            {
                "AWS_ENDPOINT_URL": self.aws_endpoint,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": self.log_level,
                "POWERTOOLS_DEV": "0",
            }
        )
        session = boto3.session.Session()
        self.dynamodb = session.client("dynamodb")
        self.sqs = session.client("sqs")
        self.streams = session.client("dynamodbstreams")
        self.secrets = session.client("secretsmanager")
        self.resources = create_resources(self.dynamodb, self.sqs)
        self.specs = function_specs()
        # One host per vendor, accounts told apart by their credentials (local.fakes.accounts).
        eco_url, hs_url = self.vendors.serve()
        self._gateway, self.gateway_url = serve_in_thread(self._gateway_app, "gateway")
        self._set_env(
            {
                **self.resources.env(),
                "ECONOMIC_REST_URL": eco_url,
                "ECONOMIC_CUSTOMERS_API_URL": f"{eco_url}/customersapi/v3.1.0",
                "HUBSPOT_API_URL": hs_url,
                # Dynamics: the organisations and Entra ID's token endpoint of the fakes, on plain http.
                "ENTRA_LOGIN_URL": f"{self.vendors.dataverse_url}/{OrgRouter.LOGIN}",
                "DATAVERSE_ALLOWED_HOSTS": self.vendors.dataverse_url.removeprefix("http://"),
                "ALLOW_HTTP_VENDORS": "true",
                "SECRETS_MAX_AGE": "5",
                # Retry delays from 1 s instead of 30 s (the vendor's retry_after still counts in full).
                "RETRY_BASE_SECONDS": "1",
                **({"HTTP_TIMEOUT": str(self.http_timeout)} if self.http_timeout else {}),
            }
        )
        runtime.reset()
        self.store = SyncStore(self.dynamodb, self.resources.sync_table_name)
        self.http = httpx.Client(base_url=self.gateway_url, timeout=30)
        if self.enforce_iam:
            try:
                self.iam = enforcer_for(self.resources, override=self.iam_override).start()
                # What CreateEventSourceMapping validates: the poller's rights in the function's role.
                check_event_source_mappings(self.iam, self.specs, self.resources)
            except Exception:
                self.stop()  # `with LocalStack()` calls no __exit__ when start() raises
                raise

    def stop(self) -> None:
        self.iam.stop()
        self.vendors.shutdown()
        stop_server(self._gateway)
        if self._moto is not None:
            self._moto.stop()
        runtime.reset()
        for key, value in self._saved_env.items():
            if key.startswith("POWERTOOLS_"):
                continue  # a late metrics flush must stay disabled (Powertools keeps unflushed metrics)
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def _set_env(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    # -- tenants -------------------------------------------------------------------------------
    @property
    def accounts(self) -> dict[str, VendorAccount]:
        return self.vendors.accounts

    def add_account(self, name: str) -> VendorAccount:
        """Another company's own e-conomic agreement and HubSpot portal on the same fake hosts: own
        data, own rate limits (as the primary account's), own webhooks and credentials."""
        return self.vendors.add(name)

    def add_tenant(
        self,
        tenant_id: str,
        *,
        mode: SyncMode = SyncMode.AUTOMATIC,
        webhook_secret: str = "local-webhook-key",
        account: str = DEFAULT_ACCOUNT,
        crm: CrmKind = "hubspot",
    ) -> str:
        """Provision a tenant against an account of the fakes (``add_account``; the primary one by
        default) and point that account's webhooks at the gateway; returns an API token. ``crm``:
        HubSpot, or the account's own Dynamics 365 organisation (made on first use)."""
        vendor = self.accounts[account]
        if crm == "dynamics":
            self.vendors.enable_dynamics(account)
        token = provision_tenant(
            self.store,
            self.secrets,
            tenant_id,
            mode=mode,
            account=vendor,
            webhook_secret=webhook_secret,
            crm=crm,
        )
        point_webhooks(vendor, f"{self.gateway_url}/webhooks", tenant_id, webhook_secret, crm)
        # Onboarding: connectors set up what they need on the vendor (HubSpot custom properties).
        config = self.store.get_config(tenant_id)
        assert config is not None
        for conn in config.connections:
            runtime.context().connectors.get(config, conn.connection_id)
        return token

    def set_mode(self, tenant_id: str, mode: SyncMode) -> None:
        config = self.store.get_config(tenant_id)
        assert config is not None
        self.store.put_config(config.model_copy(update={"sync_mode": mode}))

    # -- gateway -------------------------------------------------------------------------------
    def _lock(self, name: str) -> threading.Lock:
        if self.serial:
            return self._one_at_a_time
        return self._locks.setdefault(name, threading.Lock())

    def _invoke(self, spec: FunctionSpec, event: dict[str, Any]) -> Any:
        handler = load_handler(spec.code_dir.name, spec.handler)
        # One "container" per function (handlers keep module state), running as the function's role.
        with self._lock(spec.logical_id), self.iam.acting_as(spec.logical_id):
            started = time.perf_counter()
            try:
                return handler(
                    event, FakeLambdaContext(function_name=spec.logical_id, timeout_s=spec.timeout)
                )
            finally:
                self.stats.invocations.setdefault(spec.logical_id, []).append(time.perf_counter() - started)
                # Metrics are disabled locally; Powertools would otherwise keep them and print them
                # once 100 pile up. On Lambda they are flushed to CloudWatch after every invocation.
                Metrics().clear_metrics()

    def _gateway_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        matched = match_route(self.specs, request.method, request.path)
        if matched is None:
            response = Response(json.dumps({"message": "Not Found"}), status=404, mimetype="application/json")
            return response(environ, start_response)
        spec, route, params = matched
        event = http_event(
            request.method,
            request.path,
            query=request.query_string.decode(),
            headers=dict(request.headers),
            body=request.get_data(),
            route_key=route.route_key,
            path_parameters=params,
            host=request.host,
            scheme="http",
        )
        try:
            result = self._invoke(spec, event)
        except Exception:
            # What API Gateway answers when the function fails; the traceback goes to the log.
            logging.getLogger("local.gateway").exception("%s failed", spec.logical_id)
            error = Response(
                json.dumps({"message": "Internal Server Error"}), status=500, mimetype="application/json"
            )
            return error(environ, start_response)
        headers = dict(result.get("headers") or {})
        body: str | bytes = result.get("body") or ""
        if result.get("isBase64Encoded"):  # API Gateway decodes it (the console's gzip answers)
            body = base64.b64decode(body)
        response = Response(body, status=int(result.get("statusCode", 200)), headers=headers)
        return response(environ, start_response)

    # -- event sources -------------------------------------------------------------------------
    def _spec_with(self, kind: str) -> FunctionSpec:
        for spec in self.specs.values():
            if getattr(spec, kind):
                return spec
        raise LookupError(kind)

    def pump_queue(
        self, limit: int | None = None, *, deadline: float | None = None, waves: int | None = None
    ) -> int:
        """Deliver waiting messages of the worker's queues in batches; returns how many were delivered.

        Each of the worker's SQS mappings (live signals, bulk) gets up to its MaximumConcurrency batches
        per wave (``local.queue_poller``); ``waves`` stops after that many (``run_until_idle`` pumps one
        per round, so webhooks and the stream move between them), else it runs until both are empty.
        ``limit`` stops after about that many messages (interleaving edits with a running backfill).
        ``crash_next_batch_after = k`` kills the next worker invocation after its first ``k`` messages,
        as a Lambda timeout or OOM would: their effects stay, nothing of the batch is acknowledged, and
        the whole batch comes back after the visibility timeout.
        """
        spec = self._spec_with("sqs")
        delivered = wave = 0
        while (limit is None or delivered < limit) and (waves is None or wave < waves):
            moved = 0
            for poller in self._queue_pollers(spec):
                for _ in range(poller.concurrency):
                    if deadline is not None and time.monotonic() > deadline:
                        raise TimeoutError(
                            f"deadline passed: the worker's queues still had messages ({delivered} delivered)"
                        )
                    if limit is not None and delivered + moved >= limit:
                        break
                    messages = poller.next_batch()
                    if not messages:
                        break
                    self._worker_batch(spec, poller, messages)
                    moved += len(messages)
            if not moved:
                break
            delivered += moved
            wave += 1
        return delivered

    def _queue_pollers(self, spec: FunctionSpec) -> list[QueuePoller]:
        assert self.resources is not None
        if not self._pollers:
            self._pollers = [
                QueuePoller(
                    self.sqs,
                    self.resources.queue_urls[source.queue_id],
                    self.resources.queue_arns[source.queue_id],
                    source,
                    lambda: self.iam.acting_as(spec.logical_id),
                    self.iam.visibility_set_by_function,
                )
                for source in spec.sqs
            ]
        return self._pollers

    def _worker_batch(self, spec: FunctionSpec, poller: QueuePoller, messages: list[dict[str, Any]]) -> None:
        if self.crash_next_batch_after is not None and len(messages) > self.crash_next_batch_after:
            done_before_crash = messages[: self.crash_next_batch_after]
            self.crash_next_batch_after = None
            with contextlib.suppress(Exception):  # it dies anyway: whatever its first messages did stands
                self._invoke(spec, sqs_event(done_before_crash, poller.arn))
            self.stats.crashes += 1
            poller.give_back(messages)
            return
        try:
            result = self._invoke(spec, sqs_event(messages, poller.arn)) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception:  # the invocation failed as a whole (Powertools raises when every record failed)
            failed = {m["MessageId"] for m in messages}
        self.stats.worker_invocations += 1
        self.stats.signals += sum(signals_in(m["Body"]) for m in messages)
        self.stats.signal_failures += len(failed)
        poller.settle(messages, failed)

    def _as_function(self, spec: FunctionSpec, call: Callable[[], Any]) -> Any:
        """An AWS call the event-source poller makes on behalf of ``spec``'s function (its role)."""
        with self.iam.acting_as(spec.logical_id):
            return call()

    def pump_stream(self, deadline: float | None = None) -> int:
        """Read new stream records and deliver the accepted ones to the push function
        (``local.stream_poller.StreamPump``); raises ``TimeoutError`` past ``deadline``."""
        if self._stream_pump is None:
            assert self.resources is not None
            spec = self._spec_with("streams")
            self._stream_pump = StreamPump(
                self.streams,
                self.sqs,
                spec,
                self.resources,
                invoke=lambda event: self._invoke(spec, event),
                as_function=lambda call: self._as_function(spec, call),
                stats=self.stats,
            )
        return self._stream_pump.pump(deadline)

    def run_pull(self) -> dict[str, Any]:
        """Fire the schedule once (EventBridge Scheduler's event shape is irrelevant to the handler)."""
        spec = self._spec_with("schedules")
        self.stats.pulls += 1
        return self._invoke(spec, {"source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}})

    def flush_webhooks(self) -> None:
        self.vendors.flush_webhooks()

    def run_until_idle(
        self, *, timeout: float = 120.0, quiet_rounds: int = 2, on_round: Callable[[], None] | None = None
    ) -> None:
        """Pump webhooks, queue and stream until nothing moves for ``quiet_rounds`` rounds.

        Every pump gets the run's deadline, so a run that never settles raises ``TimeoutError``
        (within ``timeout`` plus at most one handler invocation) instead of spinning.
        """
        started = time.monotonic()
        deadline = started + timeout
        quiet = rounds = 0
        moved_queue = moved_stream = 0
        while quiet < quiet_rounds:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the local stack did not settle in {timeout:g} s ({rounds} rounds; the last one moved "
                    f"{moved_queue} queue messages and {moved_stream} stream records)"
                )
            rounds += 1
            try:
                self.flush_webhooks()
                moved_queue = self.pump_queue(deadline=deadline, waves=1)
                moved_stream = self.pump_stream(deadline=deadline)
            except TimeoutError as exc:
                raise TimeoutError(
                    f"the local stack did not settle in {timeout:g} s ({rounds} rounds): {exc}"
                ) from exc
            if on_round:
                on_round()
            if moved_queue + moved_stream:
                quiet = 0
            else:
                quiet += 1
                if self._queue_has_invisible():
                    quiet = 0
                    time.sleep(max(0.0, min(0.5, deadline - time.monotonic())))

    def _queue_has_invisible(self) -> bool:
        """Are messages of the worker's queues in flight (a failed one waits to become visible again)?"""
        for poller in self._queue_pollers(self._spec_with("sqs")):
            attrs = self.sqs.get_queue_attributes(
                QueueUrl=poller.url,
                AttributeNames=[
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            if any(int(v) > 0 for v in attrs.values()):  # in flight, or re-queued with a retry delay
                return True
        return False

    def queue_depth(self, logical_id: str) -> int:
        assert self.resources is not None
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=self.resources.queue_urls[logical_id],
            AttributeNames=[f"ApproximateNumberOfMessages{kind}" for kind in ("", "NotVisible", "Delayed")],
        )["Attributes"]
        return sum(int(v) for v in attrs.values())

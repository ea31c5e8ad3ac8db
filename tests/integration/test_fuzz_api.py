"""Fuzz the HTTP API from its own OpenAPI document (schemathesis), handlers called in-process.

The document is the one the api function serves at ``GET /openapi.json`` (lead_conversion, its own
function, is fuzzed from the document its resolver generates). Every generated request (positive
and negative data, schemathesis' coverage cases and its fuzzing phase) is turned into the API
Gateway HTTP API event the Lambda would get and answered by the real handler against moto and the
vendor fakes. Checks: never a 5xx (nor an exception escaping the handler); every 4xx a JSON body
with a clear ``message`` (a 422 also its documented ``detail``: ``loc``, ``msg``, ``type`` per
error); responses that conform to the documented schema, content type and headers (error statuses
other than 422 are not documented, so schemathesis' status-code check is not run); nothing but
valid signals and transfer pages of the tenant on the signals queue.

Runs: as the path's own tenant (a valid token; path parameters and body ids drawn mostly from ids
that exist, so requests get past authorization and "not found" into the logic), and generally (any
tenant id; with that token, another tenant's, a forged one, another scheme or none). Bounded:
``MAX_EXAMPLES`` per operation and phase, a fixed seed, no example database.
"""

from __future__ import annotations

import base64
import inspect
import json
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter
from schemathesis import Case
from schemathesis.checks import CheckFunction
from schemathesis.core.transport import Response
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)

from crmsync import request_quota, runtime
from crmsync.items import ParkedWrite
from crmsync.messages import WorkMessage
from crmsync.models import (
    Base,
    Conflict,
    ConflictStatus,
    ObjectType,
    Record,
    SignalBundle,
)
from local.lambda_runtime import http_event, invoke, load_handler
from tests.integration.conftest import Env

WORK_MESSAGE: TypeAdapter[WorkMessage] = TypeAdapter(WorkMessage)

TENANT = "t1"
OTHER_TENANT = "t2"
CUSTOMER_ID = "cus_" + "a" * 32
UNLINKED_ID = "cus_" + "b" * 32
CONTACT_ID = "con_" + "c" * 32
JOB_ID = "d" * 32
MAX_EXAMPLES = 12


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


# Cursors are opaque base64 JSON: hand-made ones, as a client could tamper with them.
CURSORS = [
    _cursor({"PK": {"S": f"TENANT#{TENANT}"}, "SK": {"S": f"REC#customer#{CUSTOMER_ID}"}}),
    _cursor({"PK": {"S": f"TENANT#{OTHER_TENANT}"}, "SK": {"S": f"REC#customer#{CUSTOMER_ID}"}}),
    _cursor({"PK": {"S": f"TENANT#{TENANT}"}, "SK": {"S": "CONFIG"}}),
    _cursor({"a": 1}),
    _cursor({"PK": 1, "SK": None}),
    _cursor({"PK": {"N": "1"}, "SK": {"S": "x"}}),
    _cursor({}),
    _cursor([1, 2]),
    _cursor("x"),
    base64.urlsafe_b64encode(b"[" * 1400).decode(),
]

# Bounded and reproducible: fixed seed, no example database, no deadline (the first call of a
# handler imports it), few examples per operation; the function-scoped ``env`` is shared by design.
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=False,  # the fixed seed makes it reproducible; derandomize would always pick the simplest values
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
CHECKS: list[CheckFunction] = [
    schemathesis.checks.not_a_server_error,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _seed(env: Env) -> dict[str, list[str]]:
    """Records, a conflict, a parked write and a job of tenant t1: ids the fuzzer can hit."""
    number = env.economic.add_customer(name="Fuzz A/S", fire_webhook=False)
    linked = Record(
        tenant_id=TENANT,
        record_id=CUSTOMER_ID,
        object_type=ObjectType.CUSTOMER,
        fields={"name": "Fuzz A/S", "customer_number": str(number), "city": "Odense"},
        links={"eco": str(number)},
        bases={"eco": Base(fields={"name": "Fuzz A/S", "customer_number": str(number)})},
    )
    env.store.save_record(linked, new_links={"eco": str(number)})
    unlinked = Record(
        tenant_id=TENANT,
        record_id=UNLINKED_ID,
        object_type=ObjectType.CUSTOMER,
        fields={"name": "Fuzz ApS"},
        links={"hs": "4711"},
    )
    env.store.save_record(unlinked, new_links={"hs": "4711"})
    contact = Record(
        tenant_id=TENANT,
        record_id=CONTACT_ID,
        object_type=ObjectType.CONTACT,
        fields={"name": "Ada Fuzz", "email": "ada@example.com", "customer": CUSTOMER_ID},
        links={"hs": "99"},
    )
    env.store.save_record(contact, new_links={"hs": "99"})
    settled = Conflict(
        tenant_id=TENANT,
        record_id=CUSTOMER_ID,
        field="city",
        crm_value="Aarhus",
        accounting_value="Odense",
        rule="latest",
        winner="accounting",
        losing_value="Aarhus",
    )
    env.store.put_conflict(settled)
    env.store.put_conflict(settled.model_copy(update={"status": ConflictStatus.OPEN, "field": "phone"}))
    parked_id = env.store.park(
        TENANT,
        ParkedWrite(
            record_id=CUSTOMER_ID,
            connection="eco",
            object_type=ObjectType.CUSTOMER,
            action="update",
            reason="fuzz",
        ),
        key=f"{CUSTOMER_ID}.eco",
    )
    env.store.put_job(TENANT, JOB_ID, 3, what="fuzz")
    return {
        "record_id": [CUSTOMER_ID, UNLINKED_ID, CONTACT_ID],
        "conflict_id": [settled.conflict_id],
        "parked_id": [parked_id],
        "job_id": [JOB_ID],
    }


def _schema(
    env: Env,
    *,
    parameters: dict[str, Any],
    dictionaries: dict[str, Any],
    coverage: bool,
    document: dict[str, Any] | None = None,
) -> BaseSchema:
    if document is None:
        served = invoke("api", http_event("GET", "/openapi.json"))
        assert served["statusCode"] == 200
        document = json.loads(served["body"])
    config = schemathesis.Config.from_dict(
        {
            "seed": 20260101,
            "dictionaries": dictionaries,
            "parameters": parameters,
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none"},
            "phases": {"coverage": {"enabled": coverage}, "stateful": {"enabled": False}},
        }
    )
    return schemathesis.openapi.from_dict(document, config=config)


@pytest.fixture
def own_tenant(env: Env) -> dict[str, Any]:
    token = env.tenant(TENANT)
    other_token = env.tenant(OTHER_TENANT)
    # The fuzzer sends over a thousand requests a minute as t1: lift the per-tenant request limit
    # (``test_api_quota.py`` tests it) so they reach the logic instead of a 429.
    store = runtime.context().store
    request_quota.install(store, request_quota.TenantRequestQuota(store, requests_per_window=1_000_000))
    return {"token": token, "other_token": other_token, "ids": _seed(env)}


@pytest.fixture
def own_tenant_schema(env: Env, own_tenant: dict[str, Any]) -> BaseSchema:
    ids = own_tenant["ids"]
    dictionaries = {
        **ids,
        "tenant": [TENANT],
        "connection": ["eco", "hs"],
        "version": [0, 1, 2, 3],
        "crm_id": [UNLINKED_ID, CONTACT_ID],
        "accounting_id": [CUSTOMER_ID],
        "cursor": CURSORS,
    }
    # Bodies that name real things too, so requests get past "not found" into the logic.
    bindings = {f"path.{name}": name for name in ids} | {
        "body.tenant_id": "tenant",
        "body.connection_id": "connection",
        "body.connections[*].connection_id": "connection",
        "body.version": "version",
        "body.crm_record_id": "crm_id",
        "body.accounting_record_id": "accounting_id",
        "query.cursor": "cursor",
    }
    return _schema(
        env,
        parameters={"path.tenant_id": TENANT}
        | {key: {"dictionary": name, "probability": 0.7} for key, name in bindings.items()},
        dictionaries={name: {"values": values} for name, values in dictionaries.items()},
        coverage=True,
    )


@pytest.fixture
def lead_schema(env: Env, own_tenant: dict[str, Any]) -> BaseSchema:
    """lead_conversion is its own function (its route is not in the api's document): its own OpenAPI."""
    lead_app = inspect.unwrap(load_handler("lead_conversion")).__globals__["app"]
    document = json.loads(lead_app.get_openapi_json_schema(title="crmsync lead conversion", version="0.1.0"))
    company = env.hubspot.create("companies", {"name": "Lead Fuzz ApS", "lifecyclestage": "lead"})
    contact = env.hubspot.create("contacts", {"firstname": "Ida", "lastname": "Fuzz", "email": "ida@fuzz.dk"})
    env.hubspot.associate(contact, company)
    return _schema(
        env,
        parameters={
            "path.tenant_id": TENANT,
            "path.lead_id": {"dictionary": "lead", "probability": 0.7},
            "body.candidate_record_id": {"dictionary": "customer", "probability": 0.5},
        },
        dictionaries={"lead": {"values": [company, contact]}, "customer": {"values": [CUSTOMER_ID]}},
        coverage=True,
        document=document,
    )


@pytest.fixture
def any_tenant_schema(env: Env, own_tenant: dict[str, Any]) -> BaseSchema:
    return _schema(env, parameters={}, dictionaries={}, coverage=False)


def call_in_process(case: Case, authorization: str | None, function: str = "api") -> Response:
    """Send a generated case through a handler the way API Gateway would; return its answer."""
    kwargs = case.as_transport_kwargs(base_url="https://api.example.com")
    kwargs.pop("cookies", None)
    headers = {k: str(v) for k, v in (kwargs.pop("headers", None) or {}).items()}
    headers.pop("Authorization", None)
    if authorization is not None:
        headers["Authorization"] = authorization
    prepared = requests.Request(headers=headers, **kwargs).prepare()
    url = urlsplit(prepared.url)
    body = prepared.body
    started = time.monotonic()
    out = invoke(
        function,
        http_event(
            str(prepared.method),
            url.path,
            query=url.query,
            headers=dict(prepared.headers),
            body=body,
            host=url.hostname or "localhost",
        ),
    )
    elapsed = time.monotonic() - started
    response_headers = {k: [str(v)] for k, v in (out.get("headers") or {}).items()}
    for k, values in (out.get("multiValueHeaders") or {}).items():
        response_headers[k] = [str(v) for v in values]
    raw = out.get("body") or ""
    content = raw.encode() if isinstance(raw, str) else raw
    return Response(
        status_code=int(out["statusCode"]),
        headers=response_headers,
        content=content,
        request=prepared,
        elapsed=elapsed,
        verify=True,
    )


def check_answer(case: Case, response: Response, env: Env) -> None:
    case.validate_response(response, checks=CHECKS)
    status = response.status_code
    assert status < 500, f"{case.method} {case.formatted_path}: {status} {response.content!r}"
    if 400 <= status < 500:
        assert_clear_refusal(status, response.content)
    for queued in env.queued():
        # whatever a fuzzed request queued is a well-formed message of the path's own tenant
        message = WORK_MESSAGE.validate_python(queued)
        tenant = message.signals[0].tenant_id if isinstance(message, SignalBundle) else message.tenant_id
        assert tenant == TENANT


def assert_clear_refusal(status: int, content: bytes | str) -> dict[str, Any]:
    """A 4xx says what is wrong in a JSON ``message`` (a 422 also per field, as documented)."""
    body = json.loads(content)
    assert isinstance(body, dict), content
    message = body.get("message")
    assert isinstance(message, str) and message.strip(), f"{status} without a clear message: {content!r}"
    assert "Traceback" not in message and 'File "' not in message, message
    if status == 422:
        assert body["detail"] and all(set(d) == {"loc", "msg", "type"} for d in body["detail"]), body
    return body


own_schema = schemathesis.pytest.from_fixture("own_tenant_schema")
lead_conversion_schema = schemathesis.pytest.from_fixture("lead_schema")
any_schema = schemathesis.pytest.from_fixture("any_tenant_schema")


@own_schema.parametrize()
@FUZZ_SETTINGS
def test_api_fuzz_as_the_paths_own_tenant(case: Case, env: Env, own_tenant: dict[str, Any]) -> None:
    response = call_in_process(case, f"Bearer {own_tenant['token']}")
    check_answer(case, response, env)


UNAUTHENTICATED = [None, "", "Bearer", "Bearer forged-token", "Basic dXNlcjpwYXNz", "bearer  "]


@any_schema.parametrize()
@any_schema.given(who=st.sampled_from(["own", "other", *range(len(UNAUTHENTICATED))]))
@FUZZ_SETTINGS
def test_api_fuzz_any_tenant_any_token(
    case: Case, who: str | int, env: Env, own_tenant: dict[str, Any]
) -> None:
    if who == "own":
        authorization: str | None = f"Bearer {own_tenant['token']}"
    elif who == "other":
        authorization = f"Bearer {own_tenant['other_token']}"
    else:
        authorization = UNAUTHENTICATED[int(who)]
    response = call_in_process(case, authorization)
    check_answer(case, response, env)
    if isinstance(who, int):
        # Without a valid token nothing gets through: only the boundary's own refusals.
        assert response.status_code in (400, 401, 404, 415, 422), (authorization, response.status_code)


@lead_conversion_schema.parametrize()
@FUZZ_SETTINGS
def test_lead_conversion_fuzz_as_the_paths_own_tenant(
    case: Case, env: Env, own_tenant: dict[str, Any]
) -> None:
    response = call_in_process(case, f"Bearer {own_tenant['token']}", function="lead_conversion")
    check_answer(case, response, env)


# -- regressions: what the fuzzers found ------------------------------------------------------------


def send(
    function: str,
    method: str,
    path: str,
    token: str | None,
    body: bytes | str | None = None,
    content_type: str | None = "application/json",
    query: str = "",
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if content_type:
        headers["Content-Type"] = content_type
    response: dict[str, Any] = invoke(
        function, http_event(method, path, query=query, headers=headers, body=body)
    )
    return response


def test_a_422_says_what_is_wrong_in_the_shape_the_document_promises(env: Env) -> None:
    """Powertools answered ``{"detail": [{"loc", "type"}]}``: no message, and no ``msg`` though its
    own document (``HTTPValidationError``) requires one, so schemathesis flagged every 422."""
    token = env.tenant(TENANT)
    response = send("api", "POST", f"/tenants/{TENANT}/transfers", token, json.dumps({"source": "erp"}))
    assert response["statusCode"] == 422
    body = assert_clear_refusal(422, response["body"])
    assert body["message"].startswith("invalid request: body.source: Input should be")
    assert body["detail"][0]["loc"] == ["body", "source"] and body["detail"][0]["msg"]
    assert "erp" not in json.dumps(body["detail"])  # the input value is not echoed
    broken = send("api", "POST", f"/tenants/{TENANT}/transfers", token, '{"source": ')
    assert "JSON decode error" in assert_clear_refusal(422, broken["body"])["message"]
    lead = send("lead_conversion", "POST", f"/tenants/{TENANT}/leads/x/convert", token, "{}")
    assert lead["statusCode"] == 422
    assert "path.lead_id" in assert_clear_refusal(422, lead["body"])["message"]


def test_a_response_that_fails_its_own_model_is_a_500_not_the_callers_422() -> None:
    from crmsync.api import validation_errors

    status, body = validation_errors([{"loc": ("response", "version"), "type": "int_type", "msg": "x"}])
    assert status == 500 and "detail" not in body


@pytest.mark.parametrize("function", ["api", "lead_conversion"])
def test_an_unreadable_body_is_refused_with_a_4xx(env: Env, function: str) -> None:
    token = env.tenant(TENANT)
    path = f"/tenants/{TENANT}/transfers" if function == "api" else f"/tenants/{TENANT}/leads/1/convert"
    for body, content_type, status in [
        ('{"source": "crm"}', "multipart/form-data", 415),  # no boundary: Powertools raised ValueError (500)
        ('{"source": "crm"}', "text/plain", 415),
        (b"\xff\xfe{}", "application/json", 400),  # not UTF-8: Powertools raised UnicodeDecodeError (500)
    ]:
        response = send(function, "POST", path, token, body, content_type)
        assert response["statusCode"] == status, (content_type, response)
        assert_clear_refusal(status, response["body"])
    assert env.queued() == []


def test_a_tampered_list_cursor_is_a_400_and_a_real_one_still_pages(env: Env) -> None:
    """A cursor is base64 JSON handed to DynamoDB as ``ExclusiveStartKey``: a made-up one failed
    there (ParamValidationError, a 500), a deep one blew json's recursion limit, and another
    tenant's key went through to the query."""
    token = env.tenant(TENANT)
    env.tenant(OTHER_TENANT)
    _seed(env)
    path = f"/tenants/{TENANT}/link/customers"
    for cursor in CURSORS[1:]:
        response = send("api", "GET", path, token, query=f"cursor={cursor}", content_type=None)
        assert response["statusCode"] == 400, (base64.urlsafe_b64decode(cursor)[:80], response)
        assert assert_clear_refusal(400, response["body"])["message"] == "invalid cursor"
    seen, cursor = [], ""
    while True:
        page = send("api", "GET", path, token, query=f"limit=1&cursor={cursor}", content_type=None)
        assert page["statusCode"] == 200, page
        data = json.loads(page["body"])
        seen += [row["record_id"] for row in data["items"]]
        if not data["cursor"]:
            break
        cursor = data["cursor"]
    assert sorted(seen) == [CUSTOMER_ID, UNLINKED_ID]

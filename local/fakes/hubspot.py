"""A faithful in-memory fake of the HubSpot CRM API (companies, contacts, associations, properties, webhooks).

Why: crmsync's HubSpot connector, the engine tests and the local demo need a HubSpot that behaves like
the real one on every point the sync depends on (all-string properties, batch 207s, upsert by unique
property, the search 10,000-result cap, rate limits and their 429 bodies, webhook batches signed v3),
without an account or network. Facts come from ``vendor-specs/crm-apis.md`` section A and the
official OpenAPI specs; where HubSpot documents nothing the fake picks a plausible behaviour and says so
below (marked *assumption*), so a test never silently relies on it.

Use in-process (``httpx.Client(transport=httpx.WSGITransport(app=fake.app), base_url=...)``) or on a
port (``server, base_url = fake.serve()``). Paths are exactly those of ``https://api.hubapi.com``:

- ``/crm/v3/objects/{companies|contacts}``: list, create, get/patch/delete by id (``idProperty``),
  ``batch/read|create|update|upsert|archive``, ``search``, ``merge``.
- ``/crm/v4/associations/{from}/{to}/batch/read|create|associate/default|archive``,
  ``/crm/v4/objects/{type}/{id}/associations/{toType}[/{toId}]`` and ``.../associations/default/...``.
- ``/crm/v3/properties/{objectType}`` (list, create, get by name, groups list/create/get).
- Test control (no auth, not counted): ``GET /_fake/stats``, ``POST /_fake/reset``,
  ``GET|PUT /_fake/faults`` (PUT a JSON object of ``Faults`` fields; omitted ones are off).

Assumptions (not documented by HubSpot, see crm-apis.md section C):

- GET list ``limit`` above 100 is clamped to 100; the list cursor is the next record id.
- A 429 carries no ``Retry-After`` (HubSpot documents none for API calls, so clients must not rely on
  it); ``send_retry_after=True`` adds one (seconds) for clients that want to test that path. A
  ``TEN_SECONDLY_ROLLING`` 429 carries the ``X-HubSpot-RateLimit-*`` headers with ``Remaining: 0``.
- The search limiter (5/s) is separate from the 10-second/daily limiter and its 429 has
  ``policyName: "SECONDLY"``. The associations API shares the objects' limiter.
- Search 400 texts (paging past 10,000, too many filters) are made up; the category is documented.
- Search is eventually consistent: a created, changed, merged or deleted record shows in search results
  (with its new values) only ``search_index_lag_s`` seconds (default 2) after the write; until then search
  answers from the record's previous indexed state (a new record is missing, a deleted one still found).
  The lag length is an assumption (HubSpot documents only that search is not immediate); ``seed()`` rows
  count as indexed at once. GET/batch reads are never stale.
- Filter limits follow the Jan-2025 docs: 5 groups, 6 filters per group, 18 filters in total.
- Write responses (PATCH, batch update/upsert/create) return the written properties plus the default
  ones, not every property of the record. ``lastmodifieddate`` moves only when a value really changes.
- Moving ``lifecyclestage`` backward is a 400 ``VALIDATION_ERROR`` (the docs say it is not allowed).
- A unique-value clash on write is a 409 ``CONFLICT`` (207 error in batches); a duplicate id in one
  batch update/upsert is a 400 for the whole batch.
- Associating a contact with a company when it has no primary company also makes it primary
  (typeIds 1/2 next to the unlabeled 279/280), as the UI does. ``associatedcompanyid`` is kept read-only.
- Webhooks: ``propertyChange`` subscriptions with ``property_name=None`` mean "every property" (real
  HubSpot needs one subscription per property). Creations also emit ``propertyChange`` for the values
  set. API writes carry ``changeSource: "INTEGRATION"``; ``edit()`` carries ``"CRM_UI"``.
  ``changeFlag`` is sent on creation (``NEW``), deletion (``DELETED``) and merge (``MERGED``) events.
  Failed deliveries are retried ``webhook_max_attempts`` times after ``webhook_retry_delay * attempt``
  seconds (HubSpot: 10 times over 24 h), each attempt with a fresh timestamp and signature.
- A merge answers (as HubSpot's does) with the combined record under a new id (the webhook's
  ``newObjectId``); the event's ``objectId`` stays the primary's old id and every old id reads as the new
  record (GET answers with the new id). ``merge_new_id=False``: the primary keeps its id.
"""

from __future__ import annotations

import argparse
import base64
import copy
import fnmatch
import hashlib
import heapq
import hmac
import itertools
import json
import math
import os
import random
import re
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer
from werkzeug.wrappers import Request, Response

from local.fakes.serving import serve_in_thread, stop_server

# --------------------------------------------------------------------------------------------------
# Vendor constants

OBJECT_TYPES = ("companies", "contacts")
TYPE_ALIASES = {
    "companies": "companies",
    "company": "companies",
    "0-2": "companies",
    "contacts": "contacts",
    "contact": "contacts",
    "0-1": "contacts",
}
OBJECT_TYPE_IDS = {"contacts": "0-1", "companies": "0-2"}
SINGULAR = {"companies": "company", "contacts": "contact"}
LAST_MODIFIED = {"companies": "hs_lastmodifieddate", "contacts": "lastmodifieddate"}
DEFAULT_RETURNED = {"companies": ("name", "domain"), "contacts": ("firstname", "lastname", "email")}
SEARCHABLE = {
    "companies": ("name", "domain", "website", "phone"),
    "contacts": ("firstname", "lastname", "email", "phone", "company"),
}
LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
INDUSTRIES = (  # a subset of HubSpot's option list; enough for tests
    "ACCOUNTING",
    "COMPUTER_SOFTWARE",
    "CONSTRUCTION",
    "FINANCIAL_SERVICES",
    "INFORMATION_TECHNOLOGY_AND_SERVICES",
    "MANAGEMENT_CONSULTING",
    "RETAIL",
    "WHOLESALE",
)
# HUBSPOT_DEFINED association type ids: (from, to) -> (unlabeled, primary)
ASSOC_TYPES = {("contacts", "companies"): (279, 1), ("companies", "contacts"): (280, 2)}
ASSOC_LABELS = {1: "Primary", 2: "Primary"}
PROPERTY_TYPES = ("bool", "date", "datetime", "enumeration", "number", "phone_number", "string")
FIELD_TYPES = (
    "booleancheckbox",
    "calculation_equation",
    "checkbox",
    "date",
    "file",
    "html",
    "number",
    "phonenumber",
    "radio",
    "select",
    "text",
    "textarea",
)
FIELD_TYPES_BY_TYPE = {
    "bool": {"booleancheckbox", "radio", "select"},
    "date": {"date"},
    "datetime": {"date"},
    "enumeration": {"booleancheckbox", "checkbox", "radio", "select"},
    "number": {"number", "calculation_equation"},
    "phone_number": {"phonenumber", "text"},
    "string": {"text", "textarea", "html", "file", "phonenumber"},
}
MAX_UNIQUE_PROPERTIES = 10
WORKER_IDLE_S = 0.5  # the webhook thread exits after this long with nothing to deliver
BATCH_LIMIT = 100
SEARCH_MAX_LIMIT = 200
LIST_MAX_LIMIT = 100
ASSOC_PAGE_LIMIT = 500
SEARCH_FILTER_GROUPS = 5
SEARCH_FILTERS_PER_GROUP = 6
SEARCH_FILTERS_TOTAL = 18
SEARCH_QUERY_MAX = 3000
SEARCH_OPERATORS = (
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
)
KB_LINK = {"knowledge-base": "https://www.hubspot.com/products/service/knowledge-base"}

# --------------------------------------------------------------------------------------------------
# Signatures and small helpers


def sign_v3(client_secret: str, method: str, uri: str, body: str, timestamp_ms: int | str) -> str:
    """HubSpot's v3 request signature: base64(HMAC-SHA256(secret, method + uri + body + timestamp))."""
    source = f"{method}{uri}{body}{timestamp_ms}".encode()
    return base64.b64encode(hmac.new(client_secret.encode(), source, hashlib.sha256).digest()).decode()


def sign_v1(client_secret: str, body: str) -> str:
    """HubSpot's v1 signature (hex SHA-256 of secret + body), sent next to v3 like HubSpot does."""
    return hashlib.sha256(f"{client_secret}{body}".encode()).hexdigest()


def iso_ms(ms: int) -> str:
    """Epoch ms -> HubSpot's ISO 8601 UTC with millisecond precision (``2024-01-15T14:22:10.456Z``)."""
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@lru_cache(maxsize=65536)
def to_ms(raw: str) -> int | None:
    """Parse an epoch-ms string or an ISO 8601 date/datetime (HubSpot accepts both on input)."""
    text = raw.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def _as_ms(value: datetime | int | str) -> int:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, int):
        return value
    parsed = to_ms(value)
    if parsed is None:
        raise ValueError(f"not a timestamp: {value!r}")
    return parsed


def _str_value(value: Any) -> str:
    """HubSpot stores every property value as a string; JSON numbers/bools are coerced like the API."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class ApiError(Exception):
    """An error response: HTTP status plus a body in the spec's ``Error`` shape (or the 429 shape)."""

    def __init__(self, status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def error_body(
    category: str,
    message: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    context: dict[str, list[str]] | None = None,
    sub_category: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
    }
    if errors:
        body["errors"] = errors
    if context:
        body["context"] = context
    if sub_category:
        body["subCategory"] = sub_category
    body["links"] = dict(KB_LINK)
    return body


def _err(status: int, category: str, message: str, **kw: Any) -> ApiError:
    return ApiError(status, error_body(category, message, **kw))


def _bad(message: str, **kw: Any) -> ApiError:
    return _err(400, "VALIDATION_ERROR", message, **kw)


@dataclass
class PropertyProblem:
    """One invalid property value; rendered like HubSpot's ``Property values were not valid`` list."""

    name: str
    error: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"isValid": False, "message": self.message, "error": self.error, "name": self.name}


def _property_error(problems: list[PropertyProblem]) -> ApiError:
    rendered = json.dumps([p.as_dict() for p in problems])
    return _bad(
        f"Property values were not valid: {rendered}",
        errors=[
            {"message": p.message, "code": p.error, "context": {"propertyName": [p.name]}} for p in problems
        ],
        context={"propertyName": [p.name for p in problems]},
    )


# --------------------------------------------------------------------------------------------------
# Configuration dataclasses


class _Associations(dict[tuple[str, str], bool]):
    """(contact id, company id) -> is primary, indexed by contact and by company.

    A plain dict to every reader; the two indexes answer "this contact's companies" and "this
    company's contacts" without scanning every association (which made big backfills quadratic).
    """

    def __init__(self) -> None:
        super().__init__()
        self._contacts: dict[str, dict[str, bool]] = {}
        self._companies: dict[str, dict[str, None]] = {}

    def of_contact(self, contact_id: str) -> dict[str, bool]:
        return self._contacts.get(contact_id, {})

    def of_company(self, company_id: str) -> dict[str, None]:
        return self._companies.get(company_id, {})

    def __setitem__(self, key: tuple[str, str], value: bool) -> None:
        super().__setitem__(key, value)
        contact, company = key
        self._contacts.setdefault(contact, {})[company] = value
        self._companies.setdefault(company, {})[contact] = None

    def __delitem__(self, key: tuple[str, str]) -> None:
        super().__delitem__(key)
        contact, company = key
        self._contacts.get(contact, {}).pop(company, None)
        self._companies.get(company, {}).pop(contact, None)

    def pop(self, key: tuple[str, str], *default: Any) -> Any:  # type: ignore[override]
        if key in self:
            value = self[key]
            del self[key]
            return value
        if default:
            return default[0]
        raise KeyError(key)

    def setdefault(self, key: tuple[str, str], default: bool = False) -> bool:  # type: ignore[override]
        if key not in self:
            self[key] = default
        return self[key]


@dataclass
class Faults:
    """Fault injection; all off by default. Rates are probabilities (0..1) per API call / webhook event.

    API calls (authenticated ones; a fault decided before the handler has no effect and is not counted in
    ``calls``/``reads``/``writes``; every injected fault answer is counted in ``stats()["faults"]``):

    - ``rate_429``: a ``TEN_SECONDLY_ROLLING`` 429 (``Retry-After`` only with ``send_retry_after=True``)
      whose ``X-HubSpot-RateLimit-Interval-Milliseconds`` is ``rate_429_interval_ms`` (HubSpot: 10000;
      a chaos run shortens it to compress time, so clients still take their no-``Retry-After`` path).
    - ``rate_5xx``: a 500/502/503/504 ``INTERNAL_ERROR``.
    - ``rate_timeout``: the call hangs ``timeout_s`` seconds and then answers a 504 without any effect, so
      a client with a shorter timeout sees a read timeout (``stats()["timeouts"]``). Over a socket
      (``serve()``) the hang holds only that request's thread and never the fake's lock; an in-process
      ``WSGITransport`` client (which has no timeouts) simply waits ``timeout_s`` and gets the 504.
    - ``rate_5xx_after_commit`` (writes only): the write happens, then the caller sees a 504.
    - ``rate_timeout_after_commit`` (writes only): the write happens, then the reply hangs ``timeout_s``
      and is a 504 (``stats()["timeouts_after_commit"]``): the classic "timed out, but it was written".
    - ``latency_s`` (fixed) plus a uniform random ``0..latency_max_s`` (``stats()["slow_replies"]``,
      ``stats()["added_latency_s"]``) before every authenticated call.

    Precedence within one call: 429, then 5xx, then timeout; after commit: 5xx, then timeout. A draw is
    made only for a rate that is not 0, so switching a fault off leaves the others' sequence unchanged.

    Webhooks (only with a ``target_url``; every event is still recorded in ``events``):

    - ``webhook_drop_rate``: per event, decided when the request/UI edit that caused it commits. A dropped
      event is never POSTed, not even once, and never retried: it is lost for good, the way an event is
      after HubSpot exhausted its retries (``stats()["webhooks"]["dropped"]``).
    - ``webhook_duplicate_rate``: per event, decided at the same time; the event is queued twice with the
      same ``eventId`` (at-least-once delivery), usually in the same batch (``["duplicated"]``).
    - ``webhook_reorder``: the delivery worker takes up to 99 queued events per POST (a batch); with this
      on it shuffles each batch once before its first attempt (``["reordered"]`` counts batches whose
      order changed). Retries resend the batch in that order; events never move to another batch.
    - Independently of these faults, a batch whose POST fails (transport error or non-2xx) is retried
      until ``webhook_max_attempts`` attempts were made and then given up (``["given_up"]``).

    Seeding: API faults, webhook drop/duplicate, reorder shuffles and random latency use separate
    ``random.Random`` streams seeded from ``seed`` (``seed``, ``seed+1``, ``seed+2``, ``seed+3``). They are
    reseeded by ``reset()`` and whenever faults are replaced (``fake.faults = ...`` or
    ``fake.set_faults(...)``), so a run that switches faults on after seeding is reproducible as long as
    its calls are sequential (concurrent calls draw in arrival order).
    """

    rate_429: float = 0.0
    rate_5xx: float = 0.0
    rate_5xx_after_commit: float = 0.0  # the write happens, then the caller sees a 504
    latency_s: float = 0.0
    webhook_drop_rate: float = 0.0
    webhook_duplicate_rate: float = 0.0
    webhook_reorder: bool = False
    seed: int = 0
    rate_timeout: float = 0.0  # hang timeout_s, then 504, nothing written
    rate_timeout_after_commit: float = 0.0  # the write happens, then hang timeout_s, then 504
    timeout_s: float = 35.0  # longer than the connectors' 30 s client timeout
    latency_max_s: float = 0.0  # extra uniform random latency per call
    rate_429_interval_ms: int = 10_000  # the interval header on injected 429s (HubSpot's window: 10 s)

    def __post_init__(self) -> None:
        for name in (
            "rate_429",
            "rate_5xx",
            "rate_5xx_after_commit",
            "rate_timeout",
            "rate_timeout_after_commit",
            "webhook_drop_rate",
            "webhook_duplicate_rate",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a probability between 0 and 1")
        for name in ("latency_s", "latency_max_s", "timeout_s", "rate_429_interval_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")


@dataclass
class Subscription:
    """A webhook subscription (``property_name=None`` on propertyChange = all properties)."""

    event_type: str
    property_name: str | None = None
    active: bool = True
    id: int = 0


DEFAULT_SUBSCRIPTIONS: tuple[tuple[str, str | None], ...] = (
    ("company.creation", None),
    ("company.deletion", None),
    ("company.propertyChange", None),
    ("company.merge", None),
    ("contact.creation", None),
    ("contact.deletion", None),
    ("contact.propertyChange", None),
    ("contact.associationChange", None),
    ("contact.merge", None),
)
NOT_SUBSCRIBABLE = frozenset(
    {"hs_lastmodifieddate", "lastmodifieddate", "num_unique_conversion_events", "hs_object_id", "createdate"}
)


@dataclass
class StoredObject:
    id: str
    object_type: str
    properties: dict[str, str]
    created_ms: int
    updated_ms: int
    archived: bool = False
    archived_ms: int | None = None


@dataclass
class Delivery:
    """One webhook POST attempt, as recorded for tests."""

    attempt: int
    status: int | None
    events: list[dict[str, Any]]
    headers: dict[str, str]
    body: str
    error: str | None = None


# --------------------------------------------------------------------------------------------------
# Default property definitions


def _property(
    name: str,
    label: str,
    group: str,
    type_: str = "string",
    field_type: str = "text",
    *,
    read_only: bool = False,
    unique: bool = False,
    options: Sequence[str] | None = None,
    calculated: bool = False,
    external_options: bool = False,
    hubspot_defined: bool = True,
    description: str = "",
    now: str = "2019-08-06T02:43:14.491Z",
) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "description": description,
        "groupName": group,
        "options": [
            {"label": o.title(), "value": o, "displayOrder": i, "hidden": False}
            for i, o in enumerate(options or ())
        ],
        "displayOrder": -1,
        "calculated": calculated,
        "externalOptions": external_options,
        "hasUniqueValue": unique,
        "hidden": False,
        "hubspotDefined": hubspot_defined,
        "formField": not read_only,
        "archived": False,
        "createdAt": now,
        "updatedAt": now,
        "modificationMetadata": {
            "archivable": not hubspot_defined,
            "readOnlyDefinition": hubspot_defined,
            "readOnlyValue": read_only,
        },
    }


def default_properties(object_type: str) -> dict[str, dict[str, Any]]:
    """HubSpot's predefined properties that matter to a sync (a realistic subset)."""
    if object_type == "companies":
        g = "companyinformation"
        defs = [
            _property("name", "Company name", g),
            _property("domain", "Company domain name", g),
            _property("website", "Website URL", g),
            _property("phone", "Phone Number", g, "string", "phonenumber"),
            _property("address", "Street Address", g),
            _property("address2", "Street Address 2", g),
            _property("city", "City", g),
            _property("zip", "Postal Code", g),
            _property("state", "State/Region", g),
            _property("country", "Country/Region", g),
            _property("description", "Description", g, "string", "textarea"),
            _property("industry", "Industry", g, "enumeration", "select", options=INDUSTRIES),
            _property("numberofemployees", "Number of Employees", g, "number", "number"),
            _property("annualrevenue", "Annual Revenue", g, "number", "number"),
            _property(
                "hs_additional_domains", "Additional Domains", g, "enumeration", "checkbox", read_only=True
            ),
            _property(
                "num_associated_contacts",
                "Number of Associated Contacts",
                g,
                "number",
                "number",
                read_only=True,
                calculated=True,
            ),
        ]
    else:
        g = "contactinformation"
        defs = [
            _property("firstname", "First Name", g),
            _property("lastname", "Last Name", g),
            _property("email", "Email", g),
            _property("phone", "Phone Number", g, "string", "phonenumber"),
            _property("mobilephone", "Mobile Phone Number", g, "string", "phonenumber"),
            _property("jobtitle", "Job Title", g),
            _property("company", "Company Name", g),
            _property("website", "Website URL", g),
            _property("address", "Street Address", g),
            _property("city", "City", g),
            _property("zip", "Postal Code", g),
            _property("state", "State/Region", g),
            _property("country", "Country/Region", g),
            _property(
                "hs_additional_emails",
                "Additional email addresses",
                g,
                "enumeration",
                "checkbox",
                read_only=True,
            ),
            _property(
                "associatedcompanyid", "Primary Associated Company ID", g, "number", "number", read_only=True
            ),
        ]
    defs += [
        _property("lifecyclestage", "Lifecycle Stage", g, "enumeration", "radio", options=LIFECYCLE_STAGES),
        _property("hubspot_owner_id", "Owner", g, "enumeration", "select", external_options=True),
        _property("createdate", "Create Date", g, "datetime", "date", read_only=True),
        _property(LAST_MODIFIED[object_type], "Last Modified Date", g, "datetime", "date", read_only=True),
        _property("hs_object_id", "Record ID", g, "number", "number", read_only=True),
    ]
    return {d["name"]: d for d in defs}


def default_groups(object_type: str) -> dict[str, dict[str, Any]]:
    name, label = (
        ("companyinformation", "Company information")
        if object_type == "companies"
        else ("contactinformation", "Contact information")
    )
    return {name: {"name": name, "label": label, "displayOrder": 0, "archived": False}}


# --------------------------------------------------------------------------------------------------
# OpenAPI validation (used by the tests and by ``strict_spec`` mode)


def find_spec_dir() -> Path | None:
    """Where HubSpot's OpenAPI files are: $HUBSPOT_SPEC_DIR, $CRMSYNC_REFERENCE_DIR/hubspot, else the
    copy kept in the repository (``vendor-specs/hubspot``, with its provenance)."""
    candidates = [os.environ.get("HUBSPOT_SPEC_DIR")]
    repo = Path(__file__).resolve().parents[2]
    if os.environ.get("CRMSYNC_REFERENCE_DIR"):
        candidates.append(str(Path(os.environ["CRMSYNC_REFERENCE_DIR"]) / "hubspot"))
    candidates.append(str(repo / "vendor-specs" / "hubspot"))
    for candidate in candidates:
        if candidate and (Path(candidate) / "crm-companies-v3.json").is_file():
            return Path(candidate)
    return None


class SpecValidator:
    """Validate JSON bodies against HubSpot's published OpenAPI 3.0 specs.

    OpenAPI 3.0 schemas become JSON Schema draft 4 (``nullable`` -> ``[type, "null"]``) and ``$ref``s
    resolve through a ``referencing`` registry. One documented quirk is patched: the spec types
    ``PublicObjectSearchRequest.sorts`` as strings, while HubSpot's docs, SDK issues and the live API use
    ``{"propertyName", "direction"}`` objects; both are accepted.
    """

    FILES = {
        "companies": "crm-companies-v3.json",
        "contacts": "crm-contacts-v3.json",
        "associations": "crm-associations-v4.json",
        "properties": "crm-properties-v3.json",
        "webhooks": "webhooks-v3.json",
    }

    def __init__(self, spec_dir: Path | None = None) -> None:
        from jsonschema import Draft4Validator, FormatChecker
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4

        directory = spec_dir or find_spec_dir()
        if directory is None:
            raise FileNotFoundError("HubSpot OpenAPI specs not found (set HUBSPOT_SPEC_DIR)")
        self._validator_cls = Draft4Validator
        self._format_checker = FormatChecker()
        self.specs: dict[str, dict[str, Any]] = {}
        resources = []
        for key, filename in self.FILES.items():
            raw = json.loads((directory / filename).read_text())
            converted = self._convert(raw)
            self._patch_quirks(converted)
            self.specs[key] = converted
            resources.append(
                (f"urn:hubspot:{key}", Resource.from_contents(converted, default_specification=DRAFT4))
            )
        self._registry = Registry().with_resources(resources)
        self._validators: dict[tuple[str, str], Any] = {}
        self._operations: list[tuple[str, re.Pattern[str], int, str, dict[str, Any]]] = []
        for key, spec in self.specs.items():
            for path, ops in spec["paths"].items():
                pattern = re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", path) + "$")
                static = sum(1 for part in path.split("/") if part and not part.startswith("{"))
                for method, op in ops.items():
                    if method != "parameters":
                        self._operations.append((method.upper(), pattern, static, key, op))
        self._operations.sort(key=lambda o: -o[2])

    @classmethod
    def _convert(cls, node: Any) -> Any:
        if isinstance(node, list):
            return [cls._convert(n) for n in node]
        if not isinstance(node, dict):
            return node
        out = {k: cls._convert(v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable") is True and "type" in out:
            out["type"] = [out["type"], "null"]
        return out

    @staticmethod
    def _patch_quirks(spec: dict[str, Any]) -> None:
        schemas = spec.get("components", {}).get("schemas", {})
        search = schemas.get("PublicObjectSearchRequest")
        if search:
            search["properties"]["sorts"]["items"] = {
                "anyOf": [
                    {"type": "string"},
                    {
                        "type": "object",
                        "required": ["propertyName"],
                        "properties": {
                            "propertyName": {"type": "string"},
                            "direction": {"enum": ["ASCENDING", "DESCENDING"]},
                        },
                    },
                ]
            }

    def errors(self, spec: str, component: str, instance: Any) -> list[str]:
        """Messages for every way ``instance`` violates ``#/components/schemas/<component>`` of ``spec``."""
        key = (spec, component)
        validator = self._validators.get(key)
        if validator is None:
            ref = {"$ref": f"urn:hubspot:{spec}#/components/schemas/{component}"}
            validator = self._validator_cls(ref, registry=self._registry, format_checker=self._format_checker)
            self._validators[key] = validator
        return [
            f"{component}: {'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in validator.iter_errors(instance)
        ]

    def validate(self, spec: str, component: str, instance: Any) -> None:
        problems = self.errors(spec, component, instance)
        if problems:
            raise AssertionError("\n".join(problems[:20]))

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        for op_method, pattern, _, key, op in self._operations:
            if op_method == method.upper() and pattern.match(path):
                return key, op
        return None

    @staticmethod
    def _schema_name(container: Mapping[str, Any] | None) -> str | None:
        if not container:
            return None
        schema = container.get("content", {}).get("application/json", {}).get("schema", {})
        ref = schema.get("$ref", "")
        return ref.rsplit("/", 1)[-1] if ref else None

    def request_errors(self, method: str, path: str, body: Any) -> list[str]:
        found = self.operation(method, path)
        if found is None:
            return [f"no spec operation for {method} {path}"]
        key, op = found
        name = self._schema_name(op.get("requestBody"))
        return self.errors(key, name, body) if name else []

    def response_errors(self, method: str, path: str, status: int, body: Any) -> list[str]:
        if status == 429:
            return []  # rate-limit bodies use errorType/policyName, not the Error schema (crm-apis.md A9)
        found = self.operation(method, path)
        if found is None:
            return [f"no spec operation for {method} {path}"]
        key, op = found
        if status >= 400:
            return self.errors(key, "Error", body)
        name = self._schema_name(op["responses"].get(str(status)))
        if name is None:
            return (
                [f"{method} {path}: status {status} not in the spec"]
                if str(status) not in op["responses"]
                else []
            )
        return self.errors(key, name, body)


# --------------------------------------------------------------------------------------------------
# The fake


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
    }
)
_TYPE_ARGS = ("otype", "from_t", "to_t", "ptype")


class HubSpotFake:
    """In-memory HubSpot CRM. Thread-safe; one instance is one portal with one private app.

    Constructor arguments (all keyword except the token):

    - ``access_token``: the private-app token accepted in ``Authorization: Bearer``.
    - ``portal_id``, ``app_id``, ``client_secret``: identity used in webhook payloads and signatures.
    - ``target_url``: where webhook batches are POSTed (``None``: events are only recorded in ``events``).
    - ``subscriptions``: ``(eventType, propertyName|None)`` pairs or ``Subscription``s; default as HubSpot
      apps usually subscribe (creation/deletion/propertyChange/merge for both, contact.associationChange).
    - ``webhook_client``: the ``httpx.Client`` used for deliveries (inject a WSGITransport client in tests).
    - ``rate_limit_per_10s`` (default 100, private app Free/Starter), ``daily_limit`` (250,000) and
      ``search_rate_limit_per_s`` (5); ``None`` disables each. ``send_retry_after`` adds ``Retry-After``
      to 429s (off by default: HubSpot documents none).
    - ``faults``: a ``Faults`` (change it at runtime with ``fake.faults = ...`` or ``set_faults``);
      ``clock``: epoch-seconds source (inject to control timestamps and windows).
    - ``strict_spec``: validate every request body and response body against the OpenAPI specs and record
      problems in ``spec_violations`` (tests assert it stays empty).
    - ``null_for_unset``: return requested-but-unset properties as ``null`` like the live API sometimes does
      (off by default because the spec types property values as plain strings).
    - ``search_index_lag_s``: seconds (on ``clock``) before a write shows in search (0: at once).
    - ``merge_new_id``: a merge answers with a record under a *new* id (the webhook's ``newObjectId``); both
      old ids then resolve to it on reads. Default ``True`` (as HubSpot); ``False``: the primary keeps its id.
    """

    def __init__(
        self,
        access_token: str = "pat-na1-fake-token",
        *,
        portal_id: int = 62515,
        app_id: int = 54321,
        client_secret: str = "fake-client-secret",
        target_url: str | None = None,
        subscriptions: Iterable[Subscription | tuple[str, str | None]] | None = None,
        webhook_client: httpx.Client | None = None,
        rate_limit_per_10s: int | None = 100,
        daily_limit: int | None = 250_000,
        search_rate_limit_per_s: int | None = 5,
        send_retry_after: bool = False,
        faults: Faults | None = None,
        clock: Callable[[], float] = time.time,
        webhook_max_attempts: int = 5,
        webhook_retry_delay: float = 0.05,
        strict_spec: bool = False,
        spec_dir: Path | None = None,
        null_for_unset: bool = False,
        search_max_results: int = 10_000,
        search_index_lag_s: float = 2.0,
        merge_new_id: bool = True,
    ) -> None:
        if search_index_lag_s < 0:
            raise ValueError("search_index_lag_s must not be negative")
        self.access_token = access_token
        self.portal_id = portal_id
        self.app_id = app_id
        self.client_secret = client_secret
        self.target_url = target_url
        self.rate_limit_per_10s = rate_limit_per_10s
        self.daily_limit = daily_limit
        self.search_rate_limit_per_s = search_rate_limit_per_s
        self.send_retry_after = send_retry_after
        self._faults = faults or Faults()
        self.clock = clock
        self.webhook_max_attempts = webhook_max_attempts
        self.webhook_retry_delay = webhook_retry_delay
        self.null_for_unset = null_for_unset
        self.search_max_results = search_max_results
        self.search_index_lag_s = search_index_lag_s
        self.merge_new_id = merge_new_id
        self.spec = SpecValidator(spec_dir) if strict_spec else None
        self.spec_violations: list[str] = []
        self._webhook_client = webhook_client
        self._owns_webhook_client = webhook_client is None
        self._subscription_seed = (
            list(subscriptions) if subscriptions is not None else list(DEFAULT_SUBSCRIPTIONS)
        )

        self._lock = threading.RLock()
        self._cv = threading.Condition()
        self._url_map = self._build_map()
        self._server: BaseWSGIServer | None = None
        self._worker: threading.Thread | None = None
        self._stopping = False
        self._wake_hangs = threading.Event()  # set by shutdown() to end injected hangs early
        self.reset()

    # ---------------------------------------------------------------------------------- state

    def reset(self) -> None:
        """Forget every record, association, custom property, counter, event and pending delivery."""
        with self._lock, self._cv:
            self._seed_rngs()
            self._objects: dict[str, dict[str, StoredObject]] = {t: {} for t in OBJECT_TYPES}
            self._ids = {t: itertools.count(1_000_001) for t in OBJECT_TYPES}
            self._properties = {t: default_properties(t) for t in OBJECT_TYPES}
            self._groups = {t: default_groups(t) for t in OBJECT_TYPES}
            self._unique: dict[str, dict[str, dict[str, str]]] = {t: {} for t in OBJECT_TYPES}
            self._unique["contacts"]["email"] = {}
            self._merged_into: dict[str, dict[str, str]] = {t: {} for t in OBJECT_TYPES}
            # (otype, id) -> [(visible from (clock s), snapshot; None = gone)], oldest first: search's view
            self._search_index: dict[tuple[str, str], list[tuple[float, StoredObject | None]]] = {}
            # (contact_id, company_id) -> is_primary
            self._assoc = _Associations()
            self._calls: Counter[str] = Counter()
            self._counters: Counter[str] = Counter()
            self._webhook_counts: Counter[str] = Counter()  # guarded by _cv
            self._windows: dict[str, deque[float]] = {}
            self._search_windows: dict[str, deque[float]] = {}
            self._daily: dict[tuple[str, str], int] = {}
            self.request_log: list[dict[str, Any]] = []
            self.events: list[dict[str, Any]] = []
            self.deliveries: list[Delivery] = []
            self._pending: list[dict[str, Any]] = []
            self._outbox: list[dict[str, Any]] = []
            self._retries: list[tuple[float, int, int, list[dict[str, Any]]]] = []
            self._retry_seq = itertools.count()
            self._inflight = 0
            self._event_ids = itertools.count(100_000_001)
            self.subscriptions: list[Subscription] = []
            for i, sub in enumerate(self._subscription_seed, start=1):
                s = sub if isinstance(sub, Subscription) else Subscription(sub[0], sub[1])
                self.subscriptions.append(
                    Subscription(s.event_type, s.property_name, s.active, s.id or 500_000 + i)
                )
            self.spec_violations.clear()

    def _seed_rngs(self) -> None:
        seed = self._faults.seed
        self.rng = random.Random(seed)  # API call faults
        self._webhook_rng = random.Random(seed + 1)  # webhook drop/duplicate
        self._reorder_rng = random.Random(seed + 2)  # webhook batch shuffles
        self._latency_rng = random.Random(seed + 3)  # random reply latency

    @property
    def faults(self) -> Faults:
        """The active ``Faults``. Assigning a new one is ``set_faults(new)`` (it reseeds the RNGs)."""
        return self._faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        self.set_faults(faults)

    def set_faults(self, faults: Faults | None = None, /, **changes: Any) -> Faults:
        """Switch fault injection at runtime and reseed its RNGs from the (new) ``seed``.

        ``set_faults(Faults(rate_timeout=0.1, seed=7))`` replaces everything, ``set_faults(rate_429=0.2)``
        changes fields of the active faults, ``set_faults(Faults())`` switches everything off. Records,
        counters and queued webhooks are kept; calls already past the fault draw are not affected.
        Returns the active faults.
        """
        new = replace(faults if faults is not None else self._faults, **changes)
        with self._lock, self._cv:
            self._faults = new
            self._seed_rngs()
        return new

    def _hang(self, seconds: float) -> None:
        """Sleep for an injected delay without holding any lock; ``shutdown()`` cuts it short."""
        if seconds > 0:
            self._wake_hangs.wait(seconds)

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # ---------------------------------------------------------------------------------- test control

    def stats(self) -> dict[str, Any]:
        """API call counts: ``calls`` by ``"METHOD /path/template"``, ``reads``, ``writes``, ``total``,
        plus rejected calls (``rate_limited``, ``unauthorized``), injected faults (``faults``: every
        injected fault answer; of them ``timeouts`` and ``timeouts_after_commit``), random latency
        (``slow_replies``, ``added_latency_s``) and webhook counters (see ``Faults``)."""
        with self._lock, self._cv:
            return {
                "calls": dict(self._calls),
                "reads": self._counters["reads"],
                "writes": self._counters["writes"],
                "total": self._counters["reads"] + self._counters["writes"],
                "rate_limited": self._counters["rate_limited"],
                "unauthorized": self._counters["unauthorized"],
                "faults": self._counters["faults"],
                "timeouts": self._counters["timeouts"],
                "timeouts_after_commit": self._counters["timeouts_after_commit"],
                "slow_replies": self._counters["slow_replies"],
                "added_latency_s": round(self._counters["added_latency_us"] / 1e6, 6),
                "webhooks": {
                    "events": len(self.events),
                    "deliveries": len(self.deliveries),
                    "failed_deliveries": sum(1 for d in self.deliveries if d.error or not _ok(d.status)),
                    "pending": len(self._outbox) + len(self._retries),
                    "dropped": self._webhook_counts["dropped"],
                    "duplicated": self._webhook_counts["duplicated"],
                    "reordered": self._webhook_counts["reordered"],
                    "given_up": self._webhook_counts["given_up"],
                },
            }

    def calls(self, method: str, template: str) -> int:
        """Shortcut: how many accepted calls hit ``METHOD template`` (e.g. ``POST /crm/v3/objects/...``)."""
        return self.stats()["calls"].get(f"{method.upper()} {template}", 0)

    def records(self, object_type: str, *, include_archived: bool = False) -> list[dict[str, Any]]:
        """Every record of a type as API-shaped dicts with all properties (and ``associations`` ids)."""
        otype = TYPE_ALIASES[object_type]
        with self._lock:
            out = []
            for obj in sorted(self._objects[otype].values(), key=lambda o: int(o.id)):
                if obj.archived and not include_archived:
                    continue
                item = self._serialize(obj, list(obj.properties))
                item["associations"] = self._associated_ids(otype, obj.id)
                out.append(item)
            return out

    def record(self, object_type: str, object_id: str) -> dict[str, Any] | None:
        return next(
            (r for r in self.records(object_type, include_archived=True) if r["id"] == object_id), None
        )

    def edit(
        self,
        object_type: str,
        object_id: str,
        properties: Mapping[str, Any],
        *,
        change_source: str = "CRM_UI",
        source_id: str = "userId:1001",
    ) -> dict[str, Any]:
        """A salesperson edits a record in the UI: values change, webhooks fire, no API call is counted.

        Raises ``ValueError`` for an unknown/read-only property or a unique-value clash (the UI refuses too).
        The lifecycle forward-only rule is not applied: the UI lets users move stages either way.
        """
        otype = TYPE_ALIASES[object_type]
        with self._lock:
            obj = self._objects[otype].get(object_id)
            if obj is None or obj.archived:
                raise KeyError(f"{otype} {object_id} does not exist")
            try:
                props = self._validate(otype, properties, existing=obj, lifecycle=False)
            except ApiError as exc:
                raise ValueError(exc.body["message"]) from exc
            self._apply(obj, props, (change_source, source_id))
            self._commit_events()
            return self._serialize(obj, list(obj.properties))

    def create(
        self,
        object_type: str,
        properties: Mapping[str, Any],
        *,
        change_source: str = "CRM_UI",
        source_id: str = "userId:1001",
    ) -> str:
        """A salesperson creates a record in the UI (webhooks fire, not counted). Returns the new id."""
        otype = TYPE_ALIASES[object_type]
        with self._lock:
            try:
                obj = self._create(otype, properties, source=(change_source, source_id))
            except ApiError as exc:
                raise ValueError(exc.body["message"]) from exc
            self._commit_events()
            return obj.id

    def delete(self, object_type: str, object_id: str, *, change_source: str = "CRM_UI") -> None:
        """A salesperson deletes (archives) a record in the UI."""
        otype = TYPE_ALIASES[object_type]
        with self._lock:
            obj = self._objects[otype].get(object_id)
            if obj is not None and not obj.archived:
                self._archive(obj, (change_source, "userId:1001"))
            self._commit_events()

    def associate(self, contact_id: str, company_id: str, *, primary: bool | None = None) -> None:
        """A salesperson links a contact to a company in the UI (``primary=None``: primary if it has none)."""
        with self._lock:
            for otype, oid in (("contacts", contact_id), ("companies", company_id)):
                if self._live(otype, oid) is None:
                    raise KeyError(f"{otype} {oid} does not exist")
            self._add_association(contact_id, company_id, primary=primary, source=("CRM_UI", "userId:1001"))
            self._commit_events()

    def seed(self, object_type: str, rows: Iterable[Mapping[str, Any]]) -> list[str]:
        """Fast path for big fixtures: store records directly (no webhooks, no call counting).

        Rows are property maps; ``createdate`` and the last-modified property may be given (ISO, epoch ms
        or ``datetime``) to control timestamps. Property names and unique values are still checked.
        """
        otype = TYPE_ALIASES[object_type]
        lastmod = LAST_MODIFIED[otype]
        ids = []
        with self._lock:
            now = self._now_ms()
            for row in rows:
                props = dict(row)
                created = _as_ms(props.pop("createdate", now))
                modified = _as_ms(props.pop(lastmod, created))
                clean = self._validate(otype, props, existing=None, lifecycle=False)
                self._check_unique(otype, clean, None)
                oid = str(next(self._ids[otype]))
                obj = StoredObject(oid, otype, {}, created, modified)
                self._objects[otype][oid] = obj
                for name, value in clean.items():
                    if value != "":
                        obj.properties[name] = value
                        self._index(otype, oid, name, value)
                self._stamp(obj, created=created, modified=modified)
                self._search_index.pop((otype, oid), None)  # fixtures count as indexed already
                if self.search_index_lag_s > 0:
                    self._search_index[(otype, oid)] = [
                        (float("-inf"), replace(obj, properties=dict(obj.properties)))
                    ]
                ids.append(oid)
        return ids

    def flush_webhooks(self, timeout: float = 5.0) -> bool:
        """Wait until every queued webhook batch was delivered (or gave up). True if the outbox drained."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._outbox or self._retries or self._inflight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cv.wait(min(remaining, 0.05))
            return True

    # ---------------------------------------------------------------------------------- serving

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> tuple[BaseWSGIServer, str]:
        """Serve the fake on ``host:port`` (0 = any free port) from a daemon thread; returns the base URL."""
        server, url = serve_in_thread(self.app, "hubspot-fake", host, port)
        self._server = server
        return server, url

    def shutdown(self) -> None:
        """Stop the server (if serving), the webhook worker, and close the owned webhook client."""
        self._wake_hangs.set()
        stop_server(self._server)
        self._server = None
        with self._cv:
            self._stopping = True
            worker = self._worker
            self._cv.notify_all()
        if worker is not None:
            worker.join(timeout=2)
        self._wake_hangs.clear()
        if self._webhook_client is not None and self._owns_webhook_client:
            self._webhook_client.close()
            self._webhook_client = None
        self._stopping = False

    close = shutdown

    # ---------------------------------------------------------------------------------- WSGI

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
            Rule(f"{p}/groups", methods=["GET"], endpoint="list_groups"),
            Rule(f"{p}/groups", methods=["POST"], endpoint="create_group"),
            Rule(f"{p}/groups/<group_name>", methods=["GET"], endpoint="get_group"),
            Rule(f"{p}/<property_name>", methods=["GET"], endpoint="get_property"),
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

        for name in _TYPE_ARGS:
            if name in args:
                normalized = TYPE_ALIASES.get(args[name])
                if normalized is None:
                    return self._json_response(
                        400, error_body("VALIDATION_ERROR", f"Unable to infer object type from: {args[name]}")
                    )
                args[name] = normalized
        template = self._template(rule.rule, args)
        is_search = endpoint == "search"
        headers: dict[str, str] = {"X-HubSpot-Correlation-Id": correlation}

        # authentication
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if token != self.access_token:
            with self._lock:
                self._counters["unauthorized"] += 1
            message = (
                "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can "
                "find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
                if not token
                else "The access token provided is invalid or has expired."
            )
            body = error_body("INVALID_AUTHENTICATION", message)
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
        limited = self._check_rate_limit(token, is_search, correlation, headers)
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

    def _rate_limited(
        self, policy: str, correlation: str, retry_after: float, headers: dict[str, str]
    ) -> Response:
        messages = {
            "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
            "DAILY": "You have reached your daily limit.",
            "SECONDLY": "You have reached your secondly limit.",
        }
        body = {
            "status": "error",
            "message": messages[policy],
            "errorType": "RATE_LIMIT",
            "correlationId": correlation,
            "policyName": policy,
            "requestId": str(uuid.uuid4()),
        }
        with self._lock:
            self._counters["rate_limited"] += 1
        if self.send_retry_after:
            headers = {**headers, "Retry-After": str(max(1, math.ceil(retry_after)))}
        return self._json_response(429, body, headers)

    def _check_rate_limit(
        self, token: str, is_search: bool, correlation: str, headers: dict[str, str]
    ) -> Response | None:
        now = self.clock()
        with self._lock:
            if is_search:
                if self.search_rate_limit_per_s is None:
                    return None
                window = self._search_windows.setdefault(token, deque())
                while window and window[0] <= now - 1.0:
                    window.popleft()
                if len(window) >= self.search_rate_limit_per_s:
                    wait = window[0] + 1.0 - now
                    return self._rate_limited("SECONDLY", correlation, wait, headers)
                window.append(now)
                return None
            day = datetime.fromtimestamp(now, UTC).date().isoformat()
            used_today = self._daily.get((token, day), 0)
            if self.daily_limit is not None and used_today >= self.daily_limit:
                return self._rate_limited("DAILY", correlation, 3600.0, headers)
            if self.rate_limit_per_10s is not None:
                window = self._windows.setdefault(token, deque())
                while window and window[0] <= now - 10.0:
                    window.popleft()
                if len(window) >= self.rate_limit_per_10s:
                    headers.update(self._limit_headers(0, used_today))
                    return self._rate_limited(
                        "TEN_SECONDLY_ROLLING", correlation, window[0] + 10.0 - now, headers
                    )
                window.append(now)
                remaining = self.rate_limit_per_10s - len(window)
            else:
                remaining = None
            self._daily[(token, day)] = used_today + 1
            headers.update(self._limit_headers(remaining, used_today + 1))
            return None

    def _limit_headers(self, remaining: int | None, used_today: int) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.rate_limit_per_10s is not None and remaining is not None:
            out["X-HubSpot-RateLimit-Max"] = str(self.rate_limit_per_10s)
            out["X-HubSpot-RateLimit-Remaining"] = str(remaining)
            out["X-HubSpot-RateLimit-Interval-Milliseconds"] = "10000"
        if self.daily_limit is not None:
            out["X-HubSpot-RateLimit-Daily"] = str(self.daily_limit)
            out["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(0, self.daily_limit - used_today))
        return out

    # ---------------------------------------------------------------------------------- object helpers

    def _live(self, otype: str, oid: str) -> StoredObject | None:
        oid = self._merged_into[otype].get(oid, oid)
        obj = self._objects[otype].get(oid)
        return obj if obj is not None and not obj.archived else None

    def _is_unique_prop(self, otype: str, name: str) -> bool:
        if otype == "contacts" and name in ("email", "hs_additional_emails"):
            return True
        definition = self._properties[otype].get(name)
        return bool(definition and definition.get("hasUniqueValue"))

    def _unique_key(self, otype: str, name: str) -> str:
        return "email" if otype == "contacts" and name == "hs_additional_emails" else name

    @staticmethod
    def _unique_values(name: str, value: str) -> list[str]:
        if name == "hs_additional_emails":
            return [v.strip().lower() for v in value.split(";") if v.strip()]
        return [value.strip().lower()] if value.strip() else []

    def _index(self, otype: str, oid: str, name: str, value: str) -> None:
        if self._is_unique_prop(otype, name):
            bucket = self._unique[otype].setdefault(self._unique_key(otype, name), {})
            for v in self._unique_values(name, value):
                bucket[v] = oid

    def _unindex(self, otype: str, oid: str, name: str, value: str) -> None:
        if self._is_unique_prop(otype, name):
            bucket = self._unique[otype].get(self._unique_key(otype, name), {})
            for v in self._unique_values(name, value):
                if bucket.get(v) == oid:
                    del bucket[v]

    def _find_unique(self, otype: str, name: str, value: str) -> StoredObject | None:
        bucket = self._unique[otype].get(self._unique_key(otype, name), {})
        oid = bucket.get(value.strip().lower())
        return self._live(otype, oid) if oid else None

    def _check_unique(self, otype: str, props: Mapping[str, str], self_id: str | None) -> None:
        for name, value in props.items():
            if not value or not self._is_unique_prop(otype, name):
                continue
            for v in self._unique_values(name, value):
                holder = self._find_unique(otype, name, v)
                if holder is not None and holder.id != self_id:
                    if otype == "contacts" and name == "email" and self_id is None:
                        raise _err(409, "CONFLICT", f"Contact already exists. Existing ID: {holder.id}")
                    raise _err(
                        409,
                        "CONFLICT",
                        f"A {SINGULAR[otype]} with the unique value {v!r} for property {name!r} already exists. "
                        f"Existing ID: {holder.id}",
                        context={"propertyName": [name], "existingObjectId": [holder.id]},
                    )

    def _validate(
        self, otype: str, properties: Any, *, existing: StoredObject | None, lifecycle: bool = True
    ) -> dict[str, str]:
        """Check names, read-only flags, types and options; return the values as strings."""
        if not isinstance(properties, Mapping):
            raise _bad("properties must be an object of property name to string value")
        problems: list[PropertyProblem] = []
        clean: dict[str, str] = {}
        for name, raw in properties.items():
            definition = self._properties[otype].get(name)
            if definition is None:
                problems.append(
                    PropertyProblem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
                )
                continue
            if definition["modificationMetadata"]["readOnlyValue"]:
                problems.append(PropertyProblem(name, "READ_ONLY_VALUE", f'"{name}" is a read only property'))
                continue
            value = _str_value(raw)
            problem = self._check_value(definition, value)
            if problem is None and lifecycle and name == "lifecyclestage" and existing is not None:
                problem = self._check_lifecycle(existing.properties.get(name, ""), value)
            if problem is not None:
                problems.append(PropertyProblem(name, problem[0], problem[1]))
                continue
            clean[name] = value
        if problems:
            raise _property_error(problems)
        return clean

    @staticmethod
    def _check_value(definition: Mapping[str, Any], value: str) -> tuple[str, str] | None:
        if value == "":
            return None
        ptype, name = definition["type"], definition["name"]
        if ptype == "number":
            try:
                float(value)
            except ValueError:
                return "INVALID_INTEGER", f"{value!r} is not a valid number for {name}"
        elif ptype == "bool":
            if value.lower() not in ("true", "false"):
                return "INVALID_OPTION", f"{value!r} was not one of the allowed options: [true, false]"
        elif ptype in ("date", "datetime"):
            if to_ms(value) is None:
                return "INVALID_DATE", f"{value!r} is not a valid date for {name}"
        elif ptype == "enumeration" and not definition.get("externalOptions"):
            allowed = {o["value"] for o in definition.get("options", [])}
            if name == "lifecyclestage" and value.isdigit():
                return None  # custom stages are numeric ids
            values = value.split(";") if definition["fieldType"] == "checkbox" else [value]
            bad = [v for v in values if v not in allowed]
            if bad:
                return "INVALID_OPTION", f"{bad[0]} was not one of the allowed options: {sorted(allowed)}"
        return None

    @staticmethod
    def _check_lifecycle(current: str, new: str) -> tuple[str, str] | None:
        if not current or not new or current == new:
            return None
        if (
            current in LIFECYCLE_STAGES
            and new in LIFECYCLE_STAGES
            and LIFECYCLE_STAGES.index(new) < LIFECYCLE_STAGES.index(current)
        ):
            return (
                "INVALID_OPTION",
                f"lifecyclestage can only be set forward ({current} -> {new}); "
                "clear the value first to move it backward",
            )
        return None

    def _stamp(self, obj: StoredObject, *, created: int | None = None, modified: int) -> None:
        if created is not None:
            obj.created_ms = created
            obj.properties["createdate"] = iso_ms(created)
            obj.properties["hs_object_id"] = obj.id
        obj.updated_ms = modified
        obj.properties[LAST_MODIFIED[obj.object_type]] = iso_ms(modified)
        self._reindex_later(obj, created=created is not None)

    def _reindex_later(self, obj: StoredObject, *, created: bool = False) -> None:
        """Search sees ``obj`` as it is now only after the indexing lag (see the module docstring).

        With a lag every record keeps at least its last indexed state (the first entry of its history);
        without one and nothing pending, search reads the live record and nothing is kept.
        """
        key = (obj.object_type, obj.id)
        lag = self.search_index_lag_s
        if lag <= 0 and key not in self._search_index:
            return
        snapshot = None if obj.archived else replace(obj, properties=dict(obj.properties))
        history = self._search_index.get(key)
        if history is None:
            # a record indexed while there was no lag: its earlier state is gone, show the new one at once
            history = self._search_index[key] = [] if created else [(float("-inf"), snapshot)]
        visible = max([self.clock() + lag, *(v for v, _ in history[-1:])])  # states never overtake
        history.append((visible, snapshot))

    def _search_view(self, otype: str) -> Iterator[StoredObject]:
        """The records as the search index holds them at this moment (live ones when nothing is pending)."""
        now = self.clock()
        for oid, obj in self._objects[otype].items():
            history = self._search_index.get((otype, oid))
            if not history:
                if not obj.archived:
                    yield obj
                continue
            due = [i for i, (visible, _) in enumerate(history) if visible <= now]
            if due:
                del history[: due[-1]]  # the newest visible state replaces the older ones
            if history[0][0] > now:
                continue  # never indexed yet: a new record is not found
            if len(history) == 1 and self.search_index_lag_s <= 0:
                del self._search_index[(otype, oid)]  # caught up, no lag: search reads the live record
            if history[0][1] is not None:
                yield history[0][1]

    def _apply(self, obj: StoredObject, props: Mapping[str, str], source: tuple[str, str]) -> dict[str, str]:
        """Write validated values (``""`` clears); bump last-modified and emit events if anything changed."""
        self._check_unique(obj.object_type, props, obj.id)
        changed: dict[str, str] = {}
        for name, value in props.items():
            old = obj.properties.get(name, "")
            if old == value:
                continue
            if old:
                self._unindex(obj.object_type, obj.id, name, old)
            if value:
                obj.properties[name] = value
                self._index(obj.object_type, obj.id, name, value)
            else:
                obj.properties.pop(name, None)
            changed[name] = value
        if changed:
            now = self._now_ms()
            self._stamp(obj, modified=max(now, obj.updated_ms))
            for name, value in changed.items():
                self._event_property(obj, name, value, source, now)
        return changed

    def _create(
        self,
        otype: str,
        properties: Any,
        *,
        source: tuple[str, str],
        associations: Any = None,
    ) -> StoredObject:
        props = self._validate(otype, properties, existing=None)
        if otype == "contacts" and not any(props.get(k) for k in ("email", "firstname", "lastname")):
            raise _bad("A contact needs at least one of email, firstname or lastname.")
        self._check_unique(otype, props, None)
        links = self._inline_associations(otype, associations)
        now = self._now_ms()
        oid = str(next(self._ids[otype]))
        obj = StoredObject(oid, otype, {}, now, now)
        self._objects[otype][oid] = obj
        for name, value in props.items():
            if value:
                obj.properties[name] = value
                self._index(otype, oid, name, value)
        self._stamp(obj, created=now, modified=now)
        self._event(SINGULAR[otype] + ".creation", source, now, objectId=int(oid), changeFlag="NEW")
        for name, value in props.items():
            if value:
                self._event_property(obj, name, value, source, now)
        for other_id, primary in links:
            if otype == "contacts":
                self._add_association(oid, other_id, primary=primary or None, source=source)
            else:
                self._add_association(other_id, oid, primary=primary or None, source=source)
        return obj

    def _inline_associations(self, otype: str, associations: Any) -> list[tuple[str, bool]]:
        """Validate ``[{to:{id}, types:[{associationCategory, associationTypeId}]}]`` before creating."""
        if not associations:
            return []
        if not isinstance(associations, list):
            raise _bad("associations must be an array")
        other = "companies" if otype == "contacts" else "contacts"
        unlabeled, primary_id = ASSOC_TYPES[(otype, other)]
        out = []
        for assoc in associations:
            to_id = str((assoc.get("to") or {}).get("id", ""))
            types = assoc.get("types") or []
            type_ids = {
                t.get("associationTypeId") for t in types if t.get("associationCategory") == "HUBSPOT_DEFINED"
            }
            if not types or not type_ids or not type_ids <= {unlabeled, primary_id}:
                raise _bad(
                    f"invalid association type(s) {types} from {SINGULAR[otype]} to {SINGULAR[other]}",
                    sub_category="crm.associations.INVALID_ASSOCIATION_TYPE",
                )
            if self._live(other, to_id) is None:
                raise _bad(
                    f"Association target {SINGULAR[other]} {to_id} does not exist",
                    sub_category="crm.associations.INVALID_OBJECT_IDS",
                    context={"toObjectId": [to_id]},
                )
            out.append((to_id, primary_id in type_ids))
        return out

    def _archive(self, obj: StoredObject, source: tuple[str, str]) -> None:
        now = self._now_ms()
        obj.archived, obj.archived_ms = True, now
        self._reindex_later(obj)
        for name, value in obj.properties.items():
            self._unindex(obj.object_type, obj.id, name, value)
        pairs = (
            [(obj.id, co) for co in self._assoc.of_contact(obj.id)]
            if obj.object_type == "contacts"
            else [(c, obj.id) for c in self._assoc.of_company(obj.id)]
            if obj.object_type == "companies"
            else []
        )
        for contact_id, company_id in pairs:  # each index keeps the associations' insertion order
            self._remove_association(contact_id, company_id, source=source)
        self._event(
            SINGULAR[obj.object_type] + ".deletion", source, now, objectId=int(obj.id), changeFlag="DELETED"
        )

    def _select(self, otype: str, requested: Sequence[str] | None) -> list[str]:
        names = list(requested) if requested else list(DEFAULT_RETURNED[otype])
        for always in ("createdate", LAST_MODIFIED[otype], "hs_object_id"):
            if always not in names:
                names.append(always)
        return names

    def _serialize(
        self,
        obj: StoredObject,
        names: Sequence[str],
        *,
        associations: Sequence[str] = (),
        trace_id: str | None = None,
        echo: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        props: dict[str, Any] = {}
        for name in names:
            if name not in self._properties[obj.object_type]:
                continue  # unknown names in a read are ignored, like HubSpot does
            value = obj.properties.get(name)
            if value:
                props[name] = value
            elif echo is not None and name in echo:
                props[name] = ""
            elif self.null_for_unset:
                props[name] = None
        out: dict[str, Any] = {
            "id": obj.id,
            "properties": props,
            "createdAt": iso_ms(obj.created_ms),
            "updatedAt": iso_ms(obj.updated_ms),
            "archived": obj.archived,
        }
        if obj.archived and obj.archived_ms is not None:
            out["archivedAt"] = iso_ms(obj.archived_ms)
        if trace_id:
            out["objectWriteTraceId"] = trace_id
        blocks = {}
        for to_type in associations:
            results = self._v3_associations(obj.object_type, obj.id, to_type)
            if results:
                blocks[to_type] = {"results": results}
        if blocks:
            out["associations"] = blocks
        return out

    def _write_view(
        self, obj: StoredObject, written: Mapping[str, str], trace_id: str | None
    ) -> dict[str, Any]:
        names = self._select(obj.object_type, [*DEFAULT_RETURNED[obj.object_type], *written])
        return self._serialize(obj, names, trace_id=trace_id, echo=written)

    @staticmethod
    def _parse_list(values: list[str]) -> list[str]:
        out: list[str] = []
        for value in values:
            out += [v.strip() for v in value.split(",") if v.strip()]
        return out

    @staticmethod
    def _flag(request: Request, name: str) -> bool:
        return request.args.get(name, "false").lower() == "true"

    def _resolve(
        self, otype: str, oid: str, id_property: str | None, *, archived: bool = False
    ) -> StoredObject | None:
        if id_property and id_property != "hs_object_id":
            if not self._is_unique_prop(otype, id_property):
                raise _bad(
                    f"Unable to perform update/upsert by non-unique {OBJECT_TYPE_IDS[otype]} property "
                    f"{id_property}"
                )
            return self._find_unique(otype, id_property, oid)
        oid = self._merged_into[otype].get(oid, oid)
        obj = self._objects[otype].get(oid)
        if obj is None or obj.archived != archived:
            return None
        return obj

    @staticmethod
    def _batch_inputs(payload: Any) -> list[dict[str, Any]]:
        if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list):
            raise _bad("Invalid input JSON: 'inputs' is required")
        inputs = payload["inputs"]
        if len(inputs) > BATCH_LIMIT:
            raise _bad(f"Batch input size {len(inputs)} exceeds the limit of {BATCH_LIMIT}")
        if not all(isinstance(i, dict) for i in inputs):
            raise _bad("every input must be an object")
        return inputs

    def _batch_response(
        self, results: list[dict[str, Any]], errors: list[dict[str, Any]], ok_status: int, started: int
    ) -> tuple[int, dict[str, Any]]:
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": iso_ms(started),
            "completedAt": iso_ms(self._now_ms()),
        }
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = errors
            return 207, body
        return ok_status, body

    @staticmethod
    def _standard_error(
        exc: ApiError, trace_id: str | None, extra: Mapping[str, list[str]] | None = None
    ) -> dict[str, Any]:
        context = dict(exc.body.get("context") or {})
        if extra:
            context.update(extra)
        if trace_id:
            context["objectWriteTraceId"] = [trace_id]
        return {
            "status": "error",
            "category": exc.body.get("category", "VALIDATION_ERROR"),
            "message": exc.body.get("message", ""),
            "context": context,
            "errors": exc.body.get("errors", []),
            "links": dict(KB_LINK),
        }

    @staticmethod
    def _check_duplicate_ids(inputs: list[dict[str, Any]]) -> None:
        ids = [str(i.get("id", "")) for i in inputs]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise _bad(f"Duplicate IDs found in batch input: {duplicates}. IDs must be unique")

    # ---------------------------------------------------------------------------------- object handlers

    def _h_list_objects(self, request: Request, payload: Any, otype: str) -> tuple[int, Any]:
        try:
            limit = int(request.args.get("limit", "10"))
        except ValueError as exc:
            raise _bad("limit must be an integer") from exc
        limit = max(1, min(limit, LIST_MAX_LIMIT))
        after = request.args.get("after")
        archived = self._flag(request, "archived")
        names = self._select(otype, self._parse_list(request.args.getlist("properties")))
        assoc = [TYPE_ALIASES.get(a, a) for a in self._parse_list(request.args.getlist("associations"))]
        try:
            start = int(after) if after else 0
        except ValueError as exc:
            raise _bad(f"after must be a paging cursor, got {after!r}") from exc
        candidates = sorted(
            (o for o in self._objects[otype].values() if o.archived == archived and int(o.id) >= start),
            key=lambda o: int(o.id),
        )
        page = candidates[:limit]
        body: dict[str, Any] = {
            "results": [
                self._serialize(o, names, associations=[a for a in assoc if a in OBJECT_TYPES]) for o in page
            ]
        }
        if len(candidates) > limit:
            cursor = str(int(candidates[limit].id))
            body["paging"] = {"next": {"after": cursor, "link": f"?after={cursor}"}}
        return 200, body

    def _h_get_object(self, request: Request, payload: Any, otype: str, object_id: str) -> tuple[int, Any]:
        obj = self._resolve(
            otype, object_id, request.args.get("idProperty"), archived=self._flag(request, "archived")
        )
        if obj is None:
            raise _err(404, "OBJECT_NOT_FOUND", "resource not found", context={"id": [object_id]})
        names = self._select(otype, self._parse_list(request.args.getlist("properties")))
        assoc = [TYPE_ALIASES.get(a, a) for a in self._parse_list(request.args.getlist("associations"))]
        return 200, self._serialize(obj, names, associations=[a for a in assoc if a in OBJECT_TYPES])

    def _h_create_object(self, request: Request, payload: Any, otype: str) -> tuple[int, Any]:
        if not isinstance(payload, dict):
            raise _bad("Invalid input JSON: expected an object with 'properties'")
        obj = self._create(
            otype,
            payload.get("properties", {}),
            source=self._api_source(),
            associations=payload.get("associations"),
        )
        return 201, self._write_view(obj, _strings(payload.get("properties", {})), None)

    def _h_patch_object(self, request: Request, payload: Any, otype: str, object_id: str) -> tuple[int, Any]:
        obj = self._resolve(otype, object_id, request.args.get("idProperty"))
        if obj is None:
            raise _err(404, "OBJECT_NOT_FOUND", "resource not found", context={"id": [object_id]})
        if not isinstance(payload, dict):
            raise _bad("Invalid input JSON: expected an object with 'properties'")
        props = self._validate(otype, payload.get("properties", {}), existing=obj)
        self._apply(obj, props, self._api_source())
        return 200, self._write_view(obj, props, None)

    def _h_delete_object(self, request: Request, payload: Any, otype: str, object_id: str) -> tuple[int, Any]:
        obj = self._live(otype, object_id)
        if obj is not None:
            self._archive(obj, self._api_source())
        return 204, None

    def _h_batch_read(self, request: Request, payload: Any, otype: str) -> tuple[int, Any]:
        started = self._now_ms()
        inputs = self._batch_inputs(payload)
        id_property = payload.get("idProperty")
        archived = self._flag(request, "archived")
        names = self._select(otype, payload.get("properties") or [])
        results, missing = [], []
        for item in inputs:
            oid = str(item.get("id", ""))
            obj = self._resolve(otype, oid, id_property, archived=archived)
            if obj is None:
                missing.append(oid)
            else:
                results.append(self._serialize(obj, names))
        errors = []
        if missing:
            errors.append(
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": f"Could not get some {otype.upper()} objects, they may be deleted or not exist. "
                    "Check that ids are valid.",
                    "context": {"ids": missing},
                    "errors": [],
                    "links": {},
                }
            )
        return self._batch_response(results, errors, 200, started)

    def _h_batch_create(self, request: Request, payload: Any, otype: str) -> tuple[int, Any]:
        started = self._now_ms()
        results, errors = [], []
        for item in self._batch_inputs(payload):
            trace = item.get("objectWriteTraceId")
            try:
                obj = self._create(
                    otype,
                    item.get("properties", {}),
                    source=self._api_source(),
                    associations=item.get("associations"),
                )
            except ApiError as exc:
                errors.append(self._standard_error(exc, trace))
                continue
            results.append(self._write_view(obj, _strings(item.get("properties", {})), trace))
        return self._batch_response(results, errors, 201, started)

    def _h_batch_update(self, request: Request, payload: Any, otype: str) -> tuple[int, Any]:
        started = self._now_ms()
        inputs = self._batch_inputs(payload)
        self._check_duplicate_ids(inputs)
        results, errors = [], []
        for item in inputs:
            trace = item.get("objectWriteTraceId")
            oid = str(item.get("id", ""))
            try:
                obj = self._resolve(otype, oid, item.get("idProperty"))
                if obj is None:
                    raise _err(404, "OBJECT_NOT_FOUND", f"Object {oid} not found", context={"ids": [oid]})
                props = self._validate(otype, item.get("properties", {}), existing=obj)
                self._apply(obj, props, self._api_source())
            except ApiError as exc:
                errors.append(self._standard_error(exc, trace))
                continue
            results.append(self._write_view(obj, props, trace))
        return self._batch_response(results, errors, 200, started)

    def _h_batch_upsert(self, request: Request, payload: Any, otype: str) -> tuple[int, Any]:
        started = self._now_ms()
        inputs = self._batch_inputs(payload)
        self._check_duplicate_ids(inputs)
        for item in inputs:
            id_property = item.get("idProperty") or payload.get("idProperty")
            if (
                not id_property
                or not self._is_unique_prop(otype, id_property)
                or id_property == "hs_additional_emails"
            ):
                raise _bad(
                    f"Unable to perform update/upsert by non-unique {OBJECT_TYPE_IDS[otype]} property "
                    f"{id_property}"
                )
        results, errors = [], []
        for item in inputs:
            trace = item.get("objectWriteTraceId")
            oid = str(item.get("id", ""))
            id_property = item.get("idProperty") or payload.get("idProperty")
            try:
                obj = self._find_unique(otype, id_property, oid) if oid else None
                if obj is None:
                    props = {**_strings(item.get("properties", {})), id_property: oid}
                    obj = self._create(otype, props, source=self._api_source())
                    view = self._write_view(obj, props, trace)
                    view["new"] = True
                else:
                    props = self._validate(otype, item.get("properties", {}), existing=obj)
                    self._apply(obj, props, self._api_source())
                    view = self._write_view(obj, props, trace)
                    view["new"] = False
            except ApiError as exc:
                errors.append(self._standard_error(exc, trace))
                continue
            results.append(view)
        return self._batch_response(results, errors, 200, started)

    def _h_batch_archive(self, request: Request, payload: Any, otype: str) -> tuple[int, Any]:
        for item in self._batch_inputs(payload):
            obj = self._live(otype, str(item.get("id", "")))
            if obj is not None:
                self._archive(obj, self._api_source())
        return 204, None

    def _h_merge(self, request: Request, payload: Any, otype: str) -> tuple[int, Any]:
        if not isinstance(payload, dict):
            raise _bad("primaryObjectId and objectIdToMerge are required")
        primary = self._live(otype, str(payload.get("primaryObjectId", "")))
        merged = self._live(otype, str(payload.get("objectIdToMerge", "")))
        if primary is None or merged is None or primary.id == merged.id:
            raise _bad("primaryObjectId and objectIdToMerge must be two different existing objects")
        source = self._api_source()
        moved = {
            name: value
            for name, value in merged.properties.items()
            if not primary.properties.get(name) and name not in self._system_properties(otype)
        }
        for name, value in merged.properties.items():
            self._unindex(otype, merged.id, name, value)
        links = [
            (c, co, p)
            for (c, co), p in self._assoc.items()
            if merged.id == (c if otype == "contacts" else co)
        ]
        for c, co, _ in links:
            self._assoc.pop((c, co), None)
        merged.archived, merged.archived_ms = True, self._now_ms()
        self._reindex_later(merged)
        self._merged_into[otype][merged.id] = primary.id
        for target, alias in list(self._merged_into[otype].items()):
            if alias == merged.id:
                self._merged_into[otype][target] = primary.id
        self._apply(primary, moved, source)
        for c, co, _ in links:
            self._assoc.setdefault((primary.id, co) if otype == "contacts" else (c, primary.id), False)
        for contact_id in {c for (c, _) in self._assoc}:
            pairs = sorted((p for p in self._assoc if p[0] == contact_id), key=lambda p: int(p[1]))
            if not any(self._assoc[p] for p in pairs):
                self._assoc[pairs[0]] = True
        survivor = self._new_id_for(primary) if self.merge_new_id else primary
        self._refresh_calculated()
        self._event(
            SINGULAR[otype] + ".merge",
            source,
            self._now_ms(),
            objectId=int(primary.id),
            changeFlag="MERGED",
            primaryObjectId=int(primary.id),
            mergedObjectIds=[int(merged.id)],
            newObjectId=int(survivor.id),
            numberOfPropertiesMoved=len(moved),
        )
        return 200, self._serialize(survivor, self._select(otype, None))

    def _new_id_for(self, old: StoredObject) -> StoredObject:
        """The merge result under a new id: ``old`` is archived, its id (and ids merged into it) now
        resolve to the new record, its associations move there."""
        otype = old.object_type
        new = StoredObject(
            str(next(self._ids[otype])), otype, dict(old.properties), old.created_ms, old.updated_ms
        )
        self._objects[otype][new.id] = new
        for name, value in old.properties.items():
            self._unindex(otype, old.id, name, value)
            self._index(otype, new.id, name, value)
        for pair in list(self._assoc):
            if old.id == (pair[0] if otype == "contacts" else pair[1]):
                primary_flag = self._assoc.pop(pair)
                moved = (new.id, pair[1]) if otype == "contacts" else (pair[0], new.id)
                self._assoc[moved] = primary_flag
        old.archived, old.archived_ms = True, self._now_ms()
        self._reindex_later(old)
        self._merged_into[otype][old.id] = new.id
        for target, alias in list(self._merged_into[otype].items()):
            if alias == old.id:
                self._merged_into[otype][target] = new.id
        self._stamp(new, created=old.created_ms, modified=max(self._now_ms(), old.updated_ms))
        return new

    def _system_properties(self, otype: str) -> set[str]:
        return {n for n, d in self._properties[otype].items() if d["modificationMetadata"]["readOnlyValue"]}

    # ---------------------------------------------------------------------------------- search

    def _typed(self, otype: str, name: str, raw: str) -> Any:
        ptype = self._properties[otype][name]["type"]
        if ptype in ("date", "datetime"):
            return to_ms(raw)
        if ptype == "number":
            try:
                return float(raw)
            except ValueError:
                return None
        if ptype == "bool":
            return raw.lower() == "true"
        if ptype == "enumeration":
            return raw
        return raw.lower()

    def _match(self, otype: str, obj: StoredObject, flt: Mapping[str, Any]) -> bool:
        name, op = flt["propertyName"], flt["operator"]
        raw = obj.properties.get(name, "")
        if op == "HAS_PROPERTY":
            return raw != ""
        if op == "NOT_HAS_PROPERTY":
            return raw == ""
        if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            pattern = str(flt.get("value", "")).lower()
            tokens = [raw.lower(), *raw.lower().split()]
            found = bool(raw) and any(fnmatch.fnmatchcase(t, pattern) for t in tokens)
            return found if op == "CONTAINS_TOKEN" else not found
        if op in ("IN", "NOT_IN"):
            # Documented quirk: on string properties the stored value is lower-cased, so IN needs lowercase values.
            stored = self._typed(otype, name, raw) if raw else None
            values = [self._typed_filter(otype, name, v, lower=False) for v in flt.get("values") or []]
            hit = stored is not None and stored in values
            return hit if op == "IN" else not hit
        if raw == "":
            return op == "NEQ"
        stored = self._typed(otype, name, raw)
        value = self._typed_filter(otype, name, flt.get("value", ""))
        if stored is None or value is None:
            return op == "NEQ"
        if op == "EQ":
            return bool(stored == value)
        if op == "NEQ":
            return bool(stored != value)
        if op == "BETWEEN":
            high = self._typed_filter(otype, name, flt.get("highValue", ""))
            return high is not None and value <= stored <= high
        compare: dict[str, Callable[[Any, Any], bool]] = {
            "LT": lambda a, b: a < b,
            "LTE": lambda a, b: a <= b,
            "GT": lambda a, b: a > b,
            "GTE": lambda a, b: a >= b,
        }
        return compare[op](stored, value)

    def _typed_filter(self, otype: str, name: str, raw: Any, *, lower: bool = True) -> Any:
        text = _str_value(raw)
        ptype = self._properties[otype][name]["type"]
        if ptype in ("string", "phone_number") and not lower:
            return text
        return self._typed(otype, name, text)

    def _h_search(self, request: Request, payload: Any, otype: str) -> tuple[int, Any]:
        if not isinstance(payload, dict):
            raise _bad("Invalid search request")
        limit = payload.get("limit", 10)
        if not isinstance(limit, int) or limit < 1 or limit > SEARCH_MAX_LIMIT:
            raise _bad(f"limit must be an integer between 1 and {SEARCH_MAX_LIMIT}, got {limit!r}")
        after_raw = payload.get("after", "0")
        try:
            after = int(after_raw or 0)
        except (TypeError, ValueError) as exc:
            raise _bad(f"after must be formatted as an integer, got {after_raw!r}") from exc
        if after < 0:
            raise _bad("after must not be negative")
        if after >= self.search_max_results:
            raise _bad(
                f"Paging beyond {self.search_max_results} results is not supported: the search endpoints are "
                f"limited to {self.search_max_results} total results for any given query.",
                context={"after": [str(after)]},
            )
        query = payload.get("query")
        if query is not None and len(str(query)) > SEARCH_QUERY_MAX:
            raise _bad(f"query must be at most {SEARCH_QUERY_MAX} characters")
        groups = payload.get("filterGroups") or []
        if not isinstance(groups, list) or not all(
            isinstance(g, dict) and all(isinstance(f, dict) for f in g.get("filters") or []) for g in groups
        ):
            raise _bad("filterGroups must be an array of {filters: [{propertyName, operator, value}]}")
        if len(groups) > SEARCH_FILTER_GROUPS:
            raise _bad(f"Too many filter groups: {len(groups)}; the maximum is {SEARCH_FILTER_GROUPS}")
        total_filters = 0
        for group in groups:
            filters = group.get("filters") or []
            total_filters += len(filters)
            if len(filters) > SEARCH_FILTERS_PER_GROUP:
                raise _bad(
                    f"Too many filters in a group: {len(filters)}; the maximum is {SEARCH_FILTERS_PER_GROUP}"
                )
            for flt in filters:
                if flt.get("operator") not in SEARCH_OPERATORS:
                    raise _bad(f"Unknown operator {flt.get('operator')!r}")
                if flt.get("propertyName") not in self._properties[otype]:
                    raise _bad(f"Unknown property {flt.get('propertyName')!r} in filter")
                if flt["operator"] == "BETWEEN" and "highValue" not in flt:
                    raise _bad("BETWEEN needs value and highValue")
                if flt["operator"] in ("IN", "NOT_IN") and not isinstance(flt.get("values"), list):
                    raise _bad(f"{flt['operator']} needs values")
        if total_filters > SEARCH_FILTERS_TOTAL:
            raise _bad(f"Too many filters: {total_filters}; the maximum is {SEARCH_FILTERS_TOTAL} in total")
        sorts = payload.get("sorts") or []
        if len(sorts) > 1:
            raise _bad("Only one sort is allowed per search")
        sort_prop, descending = "createdate", False
        if sorts:
            sort = sorts[0]
            if isinstance(sort, str):
                descending, sort_prop = sort.startswith("-"), sort.lstrip("-")
            elif not isinstance(sort, dict):
                raise _bad(f"Invalid sort {sort!r}: expected {{propertyName, direction}}")
            else:
                sort_prop = sort.get("propertyName", "")
                descending = str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING"
            if sort_prop not in self._properties[otype]:
                raise _bad(f"Unknown sort property {sort_prop!r}")

        def keep(obj: StoredObject) -> bool:
            if groups and not any(
                all(self._match(otype, obj, f) for f in g.get("filters") or []) for g in groups
            ):
                return False
            if query:
                needle = str(query).lower()
                return any(needle in obj.properties.get(p, "").lower() for p in SEARCHABLE[otype])
            return True

        matches = [o for o in self._search_view(otype) if keep(o)]
        present = [
            (self._typed(otype, sort_prop, o.properties[sort_prop]), int(o.id), o)
            for o in matches
            if o.properties.get(sort_prop)
        ]
        absent = sorted((o for o in matches if not o.properties.get(sort_prop)), key=lambda o: int(o.id))
        present.sort(key=lambda t: (t[0] is None, t[0] if t[0] is not None else 0, t[1]), reverse=descending)
        ordered = [t[2] for t in present] + absent
        page = ordered[after : after + limit]
        names = self._select(otype, payload.get("properties") or [])
        body: dict[str, Any] = {"total": len(ordered), "results": [self._serialize(o, names) for o in page]}
        if after + limit < len(ordered):
            body["paging"] = {"next": {"after": str(after + limit)}}
        return 200, body

    # ---------------------------------------------------------------------------------- associations

    def _pair(self, from_t: str, from_id: str, to_t: str, to_id: str) -> tuple[str, str]:
        if {from_t, to_t} != {"contacts", "companies"}:
            raise _bad(f"Associations between {from_t} and {to_t} are not supported by this fake")
        return (from_id, to_id) if from_t == "contacts" else (to_id, from_id)

    def _add_association(
        self, contact_id: str, company_id: str, *, primary: bool | None, source: tuple[str, str]
    ) -> None:
        has_primary = any(self._assoc.of_contact(contact_id).values())
        existing = self._assoc.get((contact_id, company_id))
        make_primary = (not has_primary) if primary is None else primary
        now = self._now_ms()
        if existing is None:
            self._assoc[(contact_id, company_id)] = False
            self._event_association(
                contact_id, company_id, removed=False, primary=False, source=source, now=now
            )
        if make_primary and not self._assoc[(contact_id, company_id)]:
            for other, is_primary in list(self._assoc.of_contact(contact_id).items()):
                if is_primary:
                    self._assoc[(contact_id, other)] = False
                    self._event_association(
                        contact_id, other, removed=True, primary=True, source=source, now=now
                    )
            self._assoc[(contact_id, company_id)] = True
            self._event_association(
                contact_id, company_id, removed=False, primary=True, source=source, now=now
            )
        self._refresh_calculated({contact_id}, {company_id})

    def _remove_association(self, contact_id: str, company_id: str, *, source: tuple[str, str]) -> None:
        was_primary = self._assoc.pop((contact_id, company_id), None)
        if was_primary is None:
            return
        now = self._now_ms()
        if was_primary:
            self._event_association(
                contact_id, company_id, removed=True, primary=True, source=source, now=now
            )
        self._event_association(contact_id, company_id, removed=True, primary=False, source=source, now=now)
        self._refresh_calculated({contact_id}, {company_id})

    def _refresh_calculated(
        self, contact_ids: set[str] | None = None, company_ids: set[str] | None = None
    ) -> None:
        """Keep ``associatedcompanyid`` and ``num_associated_contacts`` in step (no events, no timestamp).

        Only for the objects an association change touched (all of them when not told): recomputing
        every object on every change made a 20,000-contact backfill quadratic in the fake.
        """
        companies = self._objects["companies"]
        contacts = self._objects["contacts"]
        for cid in companies if company_ids is None else company_ids:
            if cid in companies:
                companies[cid].properties["num_associated_contacts"] = str(len(self._assoc.of_company(cid)))
        for cid in contacts if contact_ids is None else contact_ids:
            if cid not in contacts:
                continue
            primary = next((co for co, p in self._assoc.of_contact(cid).items() if p), None)
            if primary is not None:
                contacts[cid].properties["associatedcompanyid"] = primary
            else:
                contacts[cid].properties.pop("associatedcompanyid", None)

    def _associated(self, otype: str, oid: str) -> list[tuple[str, bool]]:
        """(other id, is primary) for one object, ordered by other id."""
        if otype == "contacts":
            pairs = list(self._assoc.of_contact(oid).items())
        else:
            pairs = [(c, self._assoc[(c, oid)]) for c in self._assoc.of_company(oid)]
        return sorted(pairs, key=lambda t: int(t[0]))

    def _associated_ids(self, otype: str, oid: str) -> dict[str, list[str]]:
        other = "companies" if otype == "contacts" else "contacts"
        return {other: [i for i, _ in self._associated(otype, oid)]}

    def _v3_associations(self, otype: str, oid: str, to_type: str) -> list[dict[str, str]]:
        if {otype, to_type} != {"contacts", "companies"}:
            return []
        label = f"{SINGULAR[otype]}_to_{SINGULAR[to_type]}"
        out = []
        for other, primary in self._associated(otype, oid):
            if primary:
                out.append({"id": other, "type": label})
            out.append({"id": other, "type": f"{label}_unlabeled"})
        return out

    def _v4_types(self, from_t: str, to_t: str, primary: bool) -> list[dict[str, Any]]:
        unlabeled, primary_id = ASSOC_TYPES[(from_t, to_t)]
        types = []
        if primary:
            types.append(
                {"category": "HUBSPOT_DEFINED", "typeId": primary_id, "label": ASSOC_LABELS[primary_id]}
            )
        types.append({"category": "HUBSPOT_DEFINED", "typeId": unlabeled})
        return types

    def _v4_targets(self, from_t: str, from_id: str, to_t: str) -> list[dict[str, Any]]:
        return [
            {"toObjectId": other, "associationTypes": self._v4_types(from_t, to_t, primary)}
            for other, primary in self._associated(from_t, from_id)
        ]

    def _labels_pair(self, from_t: str, from_id: str, to_t: str, to_id: str) -> dict[str, Any]:
        contact_id, company_id = self._pair(from_t, from_id, to_t, to_id)
        primary = self._assoc.get((contact_id, company_id), False)
        return {
            "fromObjectTypeId": OBJECT_TYPE_IDS[from_t],
            "fromObjectId": from_id,
            "toObjectTypeId": OBJECT_TYPE_IDS[to_t],
            "toObjectId": to_id,
            "labels": ["Primary"] if primary else [],
        }

    def _default_result(self, from_t: str, from_id: str, to_t: str, to_id: str) -> list[dict[str, Any]]:
        forward, backward = ASSOC_TYPES[(from_t, to_t)][0], ASSOC_TYPES[(to_t, from_t)][0]
        return [
            {
                "from": {"id": from_id},
                "to": {"id": to_id},
                "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": forward},
            },
            {
                "from": {"id": to_id},
                "to": {"id": from_id},
                "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": backward},
            },
        ]

    def _require_pair(self, from_t: str, from_id: str, to_t: str, to_id: str) -> None:
        self._pair(from_t, from_id, to_t, to_id)
        for otype, oid in ((from_t, from_id), (to_t, to_id)):
            if self._live(otype, oid) is None:
                raise _err(
                    404,
                    "OBJECT_NOT_FOUND",
                    f"No {SINGULAR[otype]} with id {oid} exists",
                    context={"id": [oid]},
                )

    def _h_assoc_batch_read(self, request: Request, payload: Any, from_t: str, to_t: str) -> tuple[int, Any]:
        started = self._now_ms()
        self._pair(from_t, "0", to_t, "0")
        results, errors = [], []
        for item in self._batch_inputs(payload):
            oid = str(item.get("id", ""))
            targets = self._v4_targets(from_t, oid, to_t) if self._live(from_t, oid) else []
            if targets:
                results.append({"from": {"id": oid}, "to": targets})
            else:
                errors.append(
                    {
                        "status": "error",
                        "category": "OBJECT_NOT_FOUND",
                        "subCategory": {"reason": "crm.associations.NO_ASSOCIATIONS_FOUND"},
                        "message": f"No {SINGULAR[to_t]} is associated with {SINGULAR[from_t]} {oid}.",
                        "context": {"fromObjectId": [oid]},
                        "errors": [],
                        "links": {},
                    }
                )
        return self._batch_response(results, errors, 200, started)

    def _h_assoc_batch_create(
        self, request: Request, payload: Any, from_t: str, to_t: str
    ) -> tuple[int, Any]:
        started = self._now_ms()
        results, errors = [], []
        for item in self._batch_inputs(payload):
            from_id = str((item.get("from") or {}).get("id", ""))
            to_id = str((item.get("to") or {}).get("id", ""))
            try:
                self._require_pair(from_t, from_id, to_t, to_id)
                unlabeled, primary_id = ASSOC_TYPES[(from_t, to_t)]
                type_ids = {t.get("associationTypeId") for t in item.get("types") or []}
                if not type_ids or not type_ids <= {unlabeled, primary_id}:
                    raise _bad(
                        f"invalid association types {sorted(map(str, type_ids))} for {from_t} -> {to_t}"
                    )
                contact_id, company_id = self._pair(from_t, from_id, to_t, to_id)
                primary = True if primary_id in type_ids else None
                self._add_association(contact_id, company_id, primary=primary, source=self._api_source())
            except ApiError as exc:
                errors.append(
                    self._standard_error(exc, None, {"fromObjectId": [from_id], "toObjectId": [to_id]})
                )
                continue
            results.append(self._labels_pair(from_t, from_id, to_t, to_id))
        return self._batch_response(results, errors, 201, started)

    def _h_assoc_batch_default(
        self, request: Request, payload: Any, from_t: str, to_t: str
    ) -> tuple[int, Any]:
        started = self._now_ms()
        results, errors = [], []
        for item in self._batch_inputs(payload):
            from_id = str((item.get("from") or {}).get("id", ""))
            to_id = str((item.get("to") or {}).get("id", ""))
            try:
                self._require_pair(from_t, from_id, to_t, to_id)
                contact_id, company_id = self._pair(from_t, from_id, to_t, to_id)
                self._add_association(contact_id, company_id, primary=None, source=self._api_source())
            except ApiError as exc:
                errors.append(
                    self._standard_error(exc, None, {"fromObjectId": [from_id], "toObjectId": [to_id]})
                )
                continue
            results += self._default_result(from_t, from_id, to_t, to_id)
        _, body = self._batch_response(results, errors, 200, started)
        return 200, body  # the spec lists only 200 for this operation; errors ride along in the body

    def _h_assoc_batch_archive(
        self, request: Request, payload: Any, from_t: str, to_t: str
    ) -> tuple[int, Any]:
        for item in self._batch_inputs(payload):
            from_id = str((item.get("from") or {}).get("id", ""))
            for target in item.get("to") or []:
                contact_id, company_id = self._pair(from_t, from_id, to_t, str(target.get("id", "")))
                self._remove_association(contact_id, company_id, source=self._api_source())
        return 204, None

    def _h_assoc_put_default(
        self, request: Request, payload: Any, from_t: str, from_id: str, to_t: str, to_id: str
    ) -> tuple[int, Any]:
        started = self._now_ms()
        self._require_pair(from_t, from_id, to_t, to_id)
        contact_id, company_id = self._pair(from_t, from_id, to_t, to_id)
        self._add_association(contact_id, company_id, primary=None, source=self._api_source())
        return self._batch_response(self._default_result(from_t, from_id, to_t, to_id), [], 200, started)

    def _h_assoc_put_labels(
        self, request: Request, payload: Any, from_t: str, from_id: str, to_t: str, to_id: str
    ) -> tuple[int, Any]:
        self._require_pair(from_t, from_id, to_t, to_id)
        if not isinstance(payload, list) or not payload:
            raise _bad("body must be a non-empty array of {associationCategory, associationTypeId}")
        unlabeled, primary_id = ASSOC_TYPES[(from_t, to_t)]
        type_ids = {t.get("associationTypeId") for t in payload if isinstance(t, dict)}
        if not type_ids <= {unlabeled, primary_id}:
            raise _bad(f"invalid association types for {from_t} -> {to_t}")
        contact_id, company_id = self._pair(from_t, from_id, to_t, to_id)
        self._add_association(
            contact_id,
            company_id,
            primary=True if primary_id in type_ids else None,
            source=self._api_source(),
        )
        return 201, self._labels_pair(from_t, from_id, to_t, to_id)

    def _h_assoc_delete(
        self, request: Request, payload: Any, from_t: str, from_id: str, to_t: str, to_id: str
    ) -> tuple[int, Any]:
        contact_id, company_id = self._pair(from_t, from_id, to_t, to_id)
        self._remove_association(contact_id, company_id, source=self._api_source())
        return 204, None

    def _h_assoc_list(
        self, request: Request, payload: Any, from_t: str, from_id: str, to_t: str
    ) -> tuple[int, Any]:
        self._pair(from_t, from_id, to_t, "0")
        if self._live(from_t, from_id) is None:
            raise _err(404, "OBJECT_NOT_FOUND", f"No {SINGULAR[from_t]} with id {from_id} exists")
        try:
            limit = max(1, min(int(request.args.get("limit", ASSOC_PAGE_LIMIT)), ASSOC_PAGE_LIMIT))
            start = int(request.args.get("after") or 0)
        except ValueError as exc:
            raise _bad("limit and after must be integers") from exc
        targets = self._v4_targets(from_t, from_id, to_t)
        body: dict[str, Any] = {"results": targets[start : start + limit]}
        if start + limit < len(targets):
            body["paging"] = {"next": {"after": str(start + limit)}}
        return 200, body

    # ---------------------------------------------------------------------------------- properties

    def _h_list_properties(self, request: Request, payload: Any, ptype: str) -> tuple[int, Any]:
        return 200, {"results": [copy.deepcopy(p) for p in self._properties[ptype].values()]}

    def _h_get_property(
        self, request: Request, payload: Any, ptype: str, property_name: str
    ) -> tuple[int, Any]:
        definition = self._properties[ptype].get(property_name)
        if definition is None:
            raise _err(
                404, "OBJECT_NOT_FOUND", f"Unable to find property {property_name} for {SINGULAR[ptype]}"
            )
        return 200, copy.deepcopy(definition)

    def _h_create_property(self, request: Request, payload: Any, ptype: str) -> tuple[int, Any]:
        if not isinstance(payload, dict):
            raise _bad("Invalid property definition")
        missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not payload.get(k)]
        if missing:
            raise _bad(f"Missing required field(s): {', '.join(missing)}")
        name, type_, field_type = payload["name"], payload["type"], payload["fieldType"]
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise _bad(f"Property name {name!r} must start with a letter and contain only a-z, 0-9 and _")
        if name in self._properties[ptype]:
            raise _err(
                409, "CONFLICT", f"A property named '{name}' already exists.", context={"name": [name]}
            )
        if type_ not in PROPERTY_TYPES:
            raise _bad(f"type must be one of {list(PROPERTY_TYPES)}")
        if field_type not in FIELD_TYPES:
            raise _bad(f"fieldType must be one of {list(FIELD_TYPES)}")
        if field_type not in FIELD_TYPES_BY_TYPE[type_]:
            raise _bad(f"fieldType {field_type} is not valid for type {type_}")
        if payload["groupName"] not in self._groups[ptype]:
            raise _bad(f"Property group '{payload['groupName']}' does not exist")
        unique = bool(payload.get("hasUniqueValue"))
        if (
            unique
            and sum(1 for p in self._properties[ptype].values() if p["hasUniqueValue"])
            >= MAX_UNIQUE_PROPERTIES
        ):
            raise _bad(f"An object can have at most {MAX_UNIQUE_PROPERTIES} unique value properties")
        options = payload.get("options") or []
        if type_ == "bool" and not options:
            options = [{"label": "Yes", "value": "true"}, {"label": "No", "value": "false"}]
        if type_ == "enumeration" and not options:
            raise _bad("options are required for enumeration properties")
        now = iso_ms(self._now_ms())
        definition = _property(
            name,
            payload["label"],
            payload["groupName"],
            type_,
            field_type,
            unique=unique,
            hubspot_defined=False,
            description=payload.get("description", ""),
            now=now,
        )
        definition["options"] = [
            {
                "label": o.get("label", o.get("value")),
                "value": o["value"],
                "displayOrder": o.get("displayOrder", i),
                "hidden": bool(o.get("hidden", False)),
            }
            for i, o in enumerate(options)
        ]
        definition["hidden"] = bool(payload.get("hidden", False))
        definition["formField"] = bool(payload.get("formField", False))
        definition["displayOrder"] = payload.get("displayOrder", -1)
        self._properties[ptype][name] = definition
        if unique:
            self._unique[ptype].setdefault(name, {})
        return 201, copy.deepcopy(definition)

    def _h_list_groups(self, request: Request, payload: Any, ptype: str) -> tuple[int, Any]:
        return 200, {"results": [dict(g) for g in self._groups[ptype].values()]}

    def _h_get_group(self, request: Request, payload: Any, ptype: str, group_name: str) -> tuple[int, Any]:
        group = self._groups[ptype].get(group_name)
        if group is None:
            raise _err(404, "OBJECT_NOT_FOUND", f"Unable to find property group {group_name}")
        return 200, dict(group)

    def _h_create_group(self, request: Request, payload: Any, ptype: str) -> tuple[int, Any]:
        if not isinstance(payload, dict) or not payload.get("name") or not payload.get("label"):
            raise _bad("name and label are required")
        name = payload["name"]
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise _bad(f"Group name {name!r} must contain only a-z, 0-9 and _")
        if name in self._groups[ptype]:
            raise _err(409, "CONFLICT", f"A property group named '{name}' already exists.")
        group = {
            "name": name,
            "label": payload["label"],
            "displayOrder": payload.get("displayOrder", -1),
            "archived": False,
        }
        self._groups[ptype][name] = group
        return 201, dict(group)

    # ---------------------------------------------------------------------------------- webhooks

    def _api_source(self) -> tuple[str, str]:
        return "INTEGRATION", str(self.app_id)

    def _subscription(self, event_type: str, property_name: str | None = None) -> Subscription | None:
        for sub in self.subscriptions:
            if not sub.active or sub.event_type != event_type:
                continue
            if event_type.endswith(".propertyChange") and sub.property_name not in (None, property_name):
                continue
            return sub
        return None

    def _event(self, event_type: str, source: tuple[str, str], occurred_ms: int, **fields: Any) -> None:
        sub = self._subscription(event_type, fields.get("propertyName"))
        if sub is None:
            return
        event = {
            "eventId": next(self._event_ids),
            "subscriptionId": sub.id,
            "portalId": self.portal_id,
            "appId": self.app_id,
            "occurredAt": occurred_ms,
            "subscriptionType": event_type,
            "attemptNumber": 0,
            "changeSource": source[0],
            "sourceId": source[1],
            **fields,
        }
        self._pending.append(event)

    def _event_property(
        self, obj: StoredObject, name: str, value: str, source: tuple[str, str], now: int
    ) -> None:
        if name in NOT_SUBSCRIBABLE:
            return
        self._event(
            SINGULAR[obj.object_type] + ".propertyChange",
            source,
            now,
            objectId=int(obj.id),
            propertyName=name,
            propertyValue=value,
        )

    def _event_association(
        self,
        contact_id: str,
        company_id: str,
        *,
        removed: bool,
        primary: bool,
        source: tuple[str, str],
        now: int,
    ) -> None:
        for kind, from_id, to_id in (
            ("CONTACT_TO_COMPANY", contact_id, company_id),
            ("COMPANY_TO_CONTACT", company_id, contact_id),
        ):
            self._event(
                "contact.associationChange",
                source,
                now,
                objectId=int(from_id),
                associationType=kind,
                fromObjectId=int(from_id),
                toObjectId=int(to_id),
                associationRemoved=removed,
                isPrimaryAssociation=primary,
            )

    def _commit_events(self) -> None:
        """Move the events of one request/edit to the outbox (so one request's events ship together)."""
        if not self._pending:
            return
        events, self._pending = self._pending, []
        self.events.extend(events)
        if self.target_url is None:
            return
        faults = self._faults
        with self._cv:
            for event in events:
                if faults.webhook_drop_rate and self._webhook_rng.random() < faults.webhook_drop_rate:
                    self._webhook_counts["dropped"] += 1
                    continue
                self._outbox.append(event)
                if (
                    faults.webhook_duplicate_rate
                    and self._webhook_rng.random() < faults.webhook_duplicate_rate
                ):
                    self._outbox.append(dict(event))
                    self._webhook_counts["duplicated"] += 1
            self._ensure_worker()
            self._cv.notify_all()

    def _ensure_worker(self) -> None:
        """Start the delivery thread if none runs (call with ``_cv`` held; the worker clears it the same way)."""
        if self._worker is None:
            self._worker = threading.Thread(
                target=self._deliver_loop, name="hubspot-fake-webhooks", daemon=True
            )
            self._worker.start()

    def _deliver_loop(self) -> None:
        idle_since: float | None = None
        while True:
            with self._cv:
                batch: list[dict[str, Any]] | None = None
                attempt = 0
                while batch is None:
                    now = time.monotonic()
                    idle = not self._retries and not self._outbox
                    if self._stopping or (
                        idle and idle_since is not None and now - idle_since > WORKER_IDLE_S
                    ):
                        self._worker = None  # under _cv: a later commit starts a fresh worker
                        return
                    idle_since = (idle_since or now) if idle else None
                    if self._retries and self._retries[0][0] <= now:
                        _, _, attempt, batch = heapq.heappop(self._retries)
                    elif self._outbox:
                        batch, self._outbox = self._outbox[:99], self._outbox[99:]
                        if self._faults.webhook_reorder and len(batch) > 1:
                            order = [id(e) for e in batch]
                            self._reorder_rng.shuffle(batch)
                            if [id(e) for e in batch] != order:
                                self._webhook_counts["reordered"] += 1
                    else:
                        timeout = (self._retries[0][0] - now) if self._retries else WORKER_IDLE_S
                        self._cv.wait(max(0.001, timeout))
                self._inflight += 1
            try:
                ok = self._deliver(batch, attempt)
                if not ok:
                    with self._cv:
                        if attempt + 1 < self.webhook_max_attempts:
                            due = time.monotonic() + self.webhook_retry_delay * (attempt + 1)
                            heapq.heappush(self._retries, (due, next(self._retry_seq), attempt + 1, batch))
                        else:
                            self._webhook_counts["given_up"] += 1
            finally:
                with self._cv:
                    self._inflight -= 1
                    self._cv.notify_all()

    def _deliver(self, events: list[dict[str, Any]], attempt: int) -> bool:
        target = self.target_url
        if target is None:
            return True
        payload = [{**e, "attemptNumber": attempt} for e in events]
        body = json.dumps(payload, separators=(",", ":"))
        timestamp = str(self._now_ms())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/) (namespace: webhooks-nonprod)",
            "X-HubSpot-Signature-v3": sign_v3(self.client_secret, "POST", target, body, timestamp),
            "X-HubSpot-Request-Timestamp": timestamp,
            "X-HubSpot-Signature": sign_v1(self.client_secret, body),
            "X-HubSpot-Signature-Version": "v1",
        }
        if self._webhook_client is None:
            self._webhook_client = httpx.Client(timeout=5.0)  # HubSpot gives up after 5 s
        status: int | None = None
        error: str | None = None
        try:
            response = self._webhook_client.post(target, content=body.encode(), headers=headers)
            status = response.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self.deliveries.append(Delivery(attempt, status, payload, headers, body, error))
        return error is None and _ok(status)


def _ok(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def _strings(properties: Any) -> dict[str, str]:
    if not isinstance(properties, Mapping):
        return {}
    return {k: _str_value(v) for k, v in properties.items()}


_PLACEHOLDERS = {
    "object_id": "objectId",
    "from_id": "fromObjectId",
    "to_id": "toObjectId",
    "property_name": "propertyName",
    "group_name": "groupName",
}


def main(argv: Sequence[str] | None = None) -> None:
    """Run the fake on a port: ``python -m local.fakes.hubspot --port 8089 --token pat-...``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--token", default="pat-na1-fake-token")
    parser.add_argument("--client-secret", default="fake-client-secret")
    parser.add_argument("--target-url", default=None, help="where webhook batches are POSTed")
    parser.add_argument("--rate-limit", type=int, default=0, help="calls per 10 s (0 = unlimited)")
    args = parser.parse_args(argv)
    fake = HubSpotFake(
        args.token,
        client_secret=args.client_secret,
        target_url=args.target_url,
        rate_limit_per_10s=args.rate_limit or None,
        search_rate_limit_per_s=None if not args.rate_limit else 5,
    )
    _, url = fake.serve(args.host, args.port)
    print(f"HubSpot fake on {url} (token {args.token})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.shutdown()


if __name__ == "__main__":
    main()

"""HubSpot CRM connector: companies <-> canonical customers, contacts <-> canonical contacts.

Decisions (and why):

- **Creates are upserts.** crmsync writes its record id into ``crmsync_record_id``, a custom property with
  ``hasUniqueValue=true`` on companies and contacts, and creates through ``batch/upsert`` with
  ``idProperty=crmsync_record_id``. A retried, replayed or concurrent create therefore updates the record
  the first attempt made instead of duplicating it (HubSpot refuses a second record with the same value).
  Reads return it as ``SourceRecord.record_id``: the worker then reads that record without its link
  item, after checking that the record's link names this object (a person can edit the value).
- **Custom properties** live in a property group ``crmsync`` created by ``ensure_setup()``: accounting-only
  fields (customer number, corporate id, VAT number, e-mail, currency, group, payment terms, VAT zone,
  barred, external number) have no standard company property. ``account_manager`` is the standard
  ``hubspot_owner_id`` (the owner id as HubSpot stores it; an empty value removes the owner).
  ``ensure_setup`` lists the properties first and creates only what is missing, and is cached per
  instance, so calling it per invocation costs nothing after the first.
- **website <-> website only; ``domain`` is never written.** ``domain`` is HubSpot's de-duplication and
  auto-association key; deriving it would make crmsync trigger merges/auto-associations nobody asked for,
  and a derived field would show up as a change of its own on the next read. HubSpot users keep ``domain``.
- **Contact name** = ``firstname + " " + lastname``; writes split on the *last* space ("Anna Marie Jensen"
  -> "Anna Marie" / "Jensen"; a single word goes to ``firstname`` and clears ``lastname``).
  ``notes`` and the canonical ``customer`` field are not stored: the customer link is
  ``parent_external_id``, the contact's primary company (else its first company).
- **Contact -> company link.** A new contact whose company is known is created through ``batch/create``
  with the association inline (types 279 unlabeled + 1 Primary) and ``crmsync_record_id`` among its
  properties: one call per 100 contacts, where an upsert and an association batch take two. Create is
  not an upsert, so whatever that call does not create (HubSpot refuses the batch, e.g. with a 409 because
  an earlier attempt did land and the record id is a unique value; or an input fails) takes the upsert
  path: the spec's upsert input has no ``associations``, so after the upsert the connector creates the
  association through v4 ``batch/create`` with types 279 (unlabeled) + 1 (Primary).
  On updates whose ``parent_external_id`` differs from the current primary company, the new company is
  associated as primary first and the old primary association is then archived (never parentless).
- **Writes** are batched by 100 (ids unique per batch, as HubSpot requires). Per-input
  ``objectWriteTraceId`` (= crmsync record id) ties 207 errors and results back to items (the create
  input has no trace id: its results are tied back by ``crmsync_record_id``); a whole-batch
  400 is bisected to isolate the bad item. Every item gets a result; only ``AuthError`` propagates. The
  returned ``record`` is built from the batch response alone: HubSpot echoes the written properties plus
  its defaults, so ``record.fields`` holds the fields that response covers.
- **changed_since** uses the search API on ``hs_lastmodifieddate`` (companies) / ``lastmodifieddate``
  (contacts), ascending, 200 per page, with *keyset* paging: every page is a new window ``GTE`` the last
  timestamp seen (ids already yielded at that timestamp are skipped), so the 10,000-result cap (paging
  past it is a 400) is never reached and a record modified mid-scan cannot shift an offset and be skipped.
  A full page that shares one timestamp switches to ``EQ timestamp AND hs_object_id GT last id``, sorted
  by id, then continues ``GT timestamp``. HubSpot's search is eventually consistent: callers overlap windows.
- **Errors** (crm-apis.md A8/A9): 401/403 AuthError, 404 NotFoundError, 400 ValidationError, 409
  ConflictError (not retryable: HubSpot has no version tokens, a 409 is a unique-value clash), 429
  RateLimitedError, 423/477/5xx TransientError; request id from ``X-HubSpot-Correlation-Id`` or the body.
- **429 waits.** HubSpot does not document ``Retry-After`` and ``VendorHttp`` honours only that header, so
  the request's ``httpx.Auth`` (which also adds the bearer token) fills it in on 429s that lack it:
  ``TEN_SECONDLY_ROLLING`` -> ``X-HubSpot-RateLimit-Interval-Milliseconds`` (default 10 s, as HubSpot's
  SDK waits), the search API's secondly limit -> 1 s, ``DAILY`` -> none (no retry helps today).
- HubSpot has no concurrency token: ``SourceRecord.version`` is None and ``WriteItem.version`` is ignored.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from crmsync.connectors.base import (
    AuthError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
    SourceRecord,
    TransientError,
    ValidationError,
    VendorError,
    WriteItem,
    WriteResult,
    stale_fields,
)
from crmsync.connectors.http import RetryPolicy, VendorHttp, retry_after_seconds
from crmsync.models import CONTACT_FIELDS, CUSTOMER_FIELDS, Fields, ObjectType, Side
from crmsync.text_rules import clean

BATCH_SIZE = 100
SEARCH_PAGE = 200
LIST_PAGE = 100
ASSOC_PAGE = 500
GROUP_NAME = "crmsync"
RECORD_ID_PROPERTY = "crmsync_record_id"
CONTACT_TO_COMPANY = 279
CONTACT_TO_COMPANY_PRIMARY = 1
PRIMARY_COMPANY = [
    {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": CONTACT_TO_COMPANY},
    {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": CONTACT_TO_COMPANY_PRIMARY},
]
"""A contact's company association: unlabeled + Primary (the contact's ``parent_external_id``)."""
DEFAULT_ROLLING_WAIT = 10.0
SECONDLY_WAIT = 1.0
RETRYABLE_CATEGORIES = frozenset({"RATE_LIMITS", "RATE_LIMIT", "INTERNAL_ERROR", "LOCKED", "TIMEOUT"})

HS_TYPE = {ObjectType.CUSTOMER: "companies", ObjectType.CONTACT: "contacts"}
LAST_MODIFIED = {ObjectType.CUSTOMER: "hs_lastmodifieddate", ObjectType.CONTACT: "lastmodifieddate"}

COMPANY_PROPERTIES: dict[str, str] = {
    "name": "name",
    "website": "website",
    "phone": "phone",
    "address": "address",
    "zip": "zip",
    "city": "city",
    "country": "country",
    "customer_number": "crmsync_customer_number",
    "corporate_id": "crmsync_corporate_id",
    "vat_number": "crmsync_vat_number",
    "email": "crmsync_email",
    "currency": "crmsync_currency",
    "customer_group": "crmsync_customer_group",
    "payment_terms": "crmsync_payment_terms",
    "vat_zone": "crmsync_vat_zone",
    "barred": "crmsync_barred",
    "external_number": "crmsync_external_number",
    "account_manager": "hubspot_owner_id",
    "lifecycle_stage": "lifecyclestage",
}
"""Canonical customer field -> HubSpot company property.

``account_manager`` carries the raw HubSpot owner id; mapping it to an accounting employee number is the
tenant's value map's job, not the connector's."""

CONTACT_PROPERTIES: dict[str, str] = {
    "email": "email",
    "phone": "phone",
    "title": "jobtitle",
    "lifecycle_stage": "lifecyclestage",
}
"""Canonical contact field -> HubSpot contact property (``name`` maps to firstname + lastname)."""

BOOL_FIELDS = frozenset({"barred"})


@dataclass(frozen=True)
class CustomProperty:
    """A property crmsync creates in the ``crmsync`` group (Properties API ``PropertyCreate``)."""

    name: str
    label: str
    type: str = "string"
    field_type: str = "text"
    unique: bool = False

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "groupName": GROUP_NAME,
            "description": f"Maintained by crmsync ({self.label}).",
            "hasUniqueValue": self.unique,
            "formField": False,
        }
        if self.type == "bool":
            out["options"] = [
                {"label": "Yes", "value": "true", "displayOrder": 0, "hidden": False},
                {"label": "No", "value": "false", "displayOrder": 1, "hidden": False},
            ]
        return out


_RECORD_ID = CustomProperty(RECORD_ID_PROPERTY, "crmsync record id", unique=True)
CUSTOM_PROPERTIES: dict[str, tuple[CustomProperty, ...]] = {
    "companies": (
        CustomProperty("crmsync_customer_number", "Customer number (accounting)"),
        CustomProperty("crmsync_corporate_id", "Corporate id"),
        CustomProperty("crmsync_vat_number", "VAT number"),
        CustomProperty("crmsync_email", "Invoice e-mail"),
        CustomProperty("crmsync_currency", "Currency"),
        CustomProperty("crmsync_customer_group", "Customer group"),
        CustomProperty("crmsync_payment_terms", "Payment terms"),
        CustomProperty("crmsync_vat_zone", "VAT zone"),
        CustomProperty("crmsync_barred", "Barred", "bool", "booleancheckbox"),
        CustomProperty("crmsync_external_number", "External number"),
        _RECORD_ID,
    ),
    "contacts": (_RECORD_ID,),
}

T = TypeVar("T")


# --------------------------------------------------------------------------------------------------
# Errors and rate limits


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, httpx.ResponseNotRead):
        return {}
    return data if isinstance(data, dict) else {}


def rate_limit_wait(response: httpx.Response) -> float | None:
    """Seconds to wait after a HubSpot 429, from its policy (HubSpot documents no Retry-After)."""
    body = _body(response)
    policy = str(body.get("policyName") or "")
    message = str(body.get("message") or "").lower()
    if policy == "DAILY" or "daily limit" in message:
        return None
    if policy in ("SECONDLY", "SEARCH") or "secondly limit" in message:
        return SECONDLY_WAIT
    interval = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
    try:
        return max(0.0, float(interval) / 1000) if interval else DEFAULT_ROLLING_WAIT
    except ValueError:
        return DEFAULT_ROLLING_WAIT


def hubspot_error(response: httpx.Response) -> VendorError:
    """Map a HubSpot error response (spec ``Error`` or the 429 shape) to a typed ``VendorError``."""
    body = _body(response)
    status = response.status_code
    message = str(body.get("message") or response.reason_phrase or f"HTTP {status}")
    category = str(body.get("category") or body.get("errorType") or "") or None
    request_id = response.headers.get("X-HubSpot-Correlation-Id") or body.get("correlationId")
    code = str(body.get("policyName")) if status == 429 and body.get("policyName") else category
    kw: dict[str, Any] = {"status": status, "code": code, "request_id": request_id}
    if status in (401, 403):
        return AuthError(message, **kw)
    if status == 404:
        return NotFoundError(message, **kw)
    if status == 409:
        conflict = ConflictError(message, **kw)
        conflict.retryable = False  # a unique-value clash: re-reading and retrying cannot heal it
        return conflict
    if status == 429:
        wait = retry_after_seconds(response)
        return RateLimitedError(
            message, retry_after=wait if wait is not None else rate_limit_wait(response), **kw
        )
    if status in (423, 477) or status >= 500:
        return TransientError(message, **kw)
    if 400 <= status < 500:
        return ValidationError(message, **kw)
    return VendorError(message, **kw)


class HubSpotAuth(httpx.Auth):
    """Bearer token per request, plus a ``Retry-After`` on HubSpot 429s that lack one (see module doc)."""

    requires_response_body = True

    def __init__(self, access_token: str) -> None:
        self._token = access_token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 429 and "Retry-After" not in response.headers:
            wait = rate_limit_wait(response)
            if wait is not None:
                response.headers["Retry-After"] = f"{wait:g}"


# --------------------------------------------------------------------------------------------------
# Field mapping


def split_name(name: str | None) -> tuple[str, str]:
    """Canonical name -> (firstname, lastname), split on the last space."""
    words = (name or "").split()
    if not words:
        return "", ""
    if len(words) == 1:
        return words[0], ""
    return " ".join(words[:-1]), words[-1]


def _to_hubspot_value(value: object) -> str:
    if value is None:
        return ""  # HubSpot clears a property with an empty string
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _bool_value(raw: object) -> bool | None:
    text = str(raw).strip().lower() if raw is not None else ""
    if text == "true":
        return True
    if text == "false":
        return False
    return None


def parse_time(raw: object) -> datetime | None:
    """HubSpot timestamps (ISO 8601 with ``Z``, or epoch ms) -> aware datetime."""
    if raw is None or raw == "":
        return None
    text = str(raw)
    if text.lstrip("-").isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _epoch_ms(moment: datetime) -> int:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1000)


def _chunks(
    items: Sequence[tuple[int, WriteItem]], keys: Callable[[WriteItem], tuple[str, ...]]
) -> list[list[tuple[int, WriteItem]]]:
    """Batches of at most 100 in which every key value is unique (HubSpot rejects duplicate ids)."""
    batches: list[list[tuple[int, WriteItem]]] = []
    seen: list[set[str]] = []
    for entry in items:
        values = keys(entry[1])
        for batch, used in zip(batches, seen, strict=True):
            if len(batch) < BATCH_SIZE and not used.intersection(values):
                batch.append(entry)
                used.update(values)
                break
        else:
            batches.append([entry])
            seen.append(set(values))
    return batches


def _slices(values: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --------------------------------------------------------------------------------------------------
# The connector


class HubSpotConnector:
    """``Connector`` for one HubSpot portal (private-app or OAuth access token)."""

    side = Side.CRM

    def __init__(
        self,
        connection_id: str,
        access_token: str,
        *,
        base_url: str = "https://api.hubapi.com",
        client: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.connection_id = connection_id
        self.base_url = base_url.rstrip("/")
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=30.0)
        self._auth = HubSpotAuth(access_token)
        self.http = VendorHttp(self._client, hubspot_error, retry)
        self._setup_done = False

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    # ------------------------------------------------------------------ plumbing

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, f"{self.base_url}{path}", auth=self._auth, **kwargs)

    def _post(self, path: str, body: Any) -> tuple[dict[str, Any], str | None]:
        response = self._call("POST", path, json=body)
        return (_body(response) if response.status_code != 204 else {}), response.headers.get(
            "X-HubSpot-Correlation-Id"
        )

    @staticmethod
    def _properties(object_type: ObjectType) -> list[str]:
        if object_type is ObjectType.CUSTOMER:
            names = list(COMPANY_PROPERTIES.values())
        else:
            names = ["firstname", "lastname", *CONTACT_PROPERTIES.values()]
        return [*names, RECORD_ID_PROPERTY, LAST_MODIFIED[object_type]]

    # ------------------------------------------------------------------ mapping

    def supported_fields(self, object_type: ObjectType) -> frozenset[str]:
        if object_type is ObjectType.CUSTOMER:
            return frozenset(f for f in CUSTOMER_FIELDS if f in COMPANY_PROPERTIES)
        return frozenset(f for f in CONTACT_FIELDS if f == "name" or f in CONTACT_PROPERTIES)

    def to_properties(self, object_type: ObjectType, fields: Fields) -> dict[str, str]:
        """Canonical fields -> HubSpot property strings (unsupported fields are left out)."""
        props: dict[str, str] = {}
        if object_type is ObjectType.CUSTOMER:
            for name, value in fields.items():
                if name in COMPANY_PROPERTIES:
                    props[COMPANY_PROPERTIES[name]] = _to_hubspot_value(value)
            return props
        for name, value in fields.items():
            if name == "name":
                props["firstname"], props["lastname"] = split_name(None if value is None else str(value))
            elif name in CONTACT_PROPERTIES:
                props[CONTACT_PROPERTIES[name]] = _to_hubspot_value(value)
        return props

    def to_source(
        self,
        object_type: ObjectType,
        obj: dict[str, Any],
        *,
        parent: str | None = None,
        partial: bool = False,
    ) -> SourceRecord:
        """A HubSpot object -> ``SourceRecord``. ``partial``: only fields whose properties are present."""
        props: dict[str, Any] = obj.get("properties") or {}
        fields: Fields = {}
        mapping = COMPANY_PROPERTIES if object_type is ObjectType.CUSTOMER else CONTACT_PROPERTIES
        if object_type is ObjectType.CONTACT and (not partial or "firstname" in props or "lastname" in props):
            parts = [str(props.get(p) or "").strip() for p in ("firstname", "lastname")]
            fields["name"] = clean(object_type, "name", " ".join(p for p in parts if p))
        for name, prop in mapping.items():
            if partial and prop not in props:
                continue
            # crmsync.text_rules: the one cleaning rule for what is read from a vendor
            fields[name] = (
                _bool_value(props.get(prop))
                if name in BOOL_FIELDS
                else clean(object_type, name, props.get(prop))
            )
        modified = parse_time(props.get(LAST_MODIFIED[object_type])) or parse_time(obj.get("updatedAt"))
        return SourceRecord(
            object_type=object_type,
            external_id=str(obj["id"]),
            fields=fields,
            parent_external_id=parent,
            modified_at=modified,
            deleted=bool(obj.get("archived", False)),
            record_id=str(props[RECORD_ID_PROPERTY]) if props.get(RECORD_ID_PROPERTY) else None,
        )

    @staticmethod
    def _parent_from_v3(obj: dict[str, Any]) -> str | None:
        """Primary company from the v3 ``associations`` block (``contact_to_company`` is the primary label)."""
        results = ((obj.get("associations") or {}).get("companies") or {}).get("results") or []
        primary = next((r for r in results if r.get("type") == "contact_to_company"), None)
        chosen = primary or (results[0] if results else None)
        return str(chosen["id"]) if chosen else None

    # ------------------------------------------------------------------ setup

    def ensure_setup(self) -> None:
        """Create the ``crmsync`` group and custom properties that are missing (cached per instance)."""
        if self._setup_done:
            return
        for hs_type, wanted in CUSTOM_PROPERTIES.items():
            existing = {
                p["name"]: p for p in _body(self._call("GET", f"/crm/v3/properties/{hs_type}"))["results"]
            }
            missing = [spec for spec in wanted if spec.name not in existing]
            for spec in wanted:
                have = existing.get(spec.name)
                if have is not None and spec.unique and not have.get("hasUniqueValue"):
                    raise ValidationError(
                        f"HubSpot {hs_type} property {spec.name} exists without hasUniqueValue; crmsync needs it "
                        "unique to make creates idempotent (it cannot be changed: archive it and run setup again)",
                        code="SETUP",
                    )
            if not missing:
                continue
            self._ensure_group(hs_type)
            for spec in missing:
                with contextlib.suppress(ConflictError):  # created concurrently by another worker: fine
                    self._call("POST", f"/crm/v3/properties/{hs_type}", json=spec.body())
        self._setup_done = True

    def _ensure_group(self, hs_type: str) -> None:
        try:
            self._call("GET", f"/crm/v3/properties/{hs_type}/groups/{GROUP_NAME}")
            return
        except NotFoundError:
            pass
        with contextlib.suppress(ConflictError):
            self._call(
                "POST",
                f"/crm/v3/properties/{hs_type}/groups",
                json={"name": GROUP_NAME, "label": "crmsync", "displayOrder": -1},
            )

    # ------------------------------------------------------------------ reads

    def get(self, object_type: ObjectType, external_id: str) -> SourceRecord | None:
        params = {"properties": ",".join(self._properties(object_type)), "archived": "false"}
        if object_type is ObjectType.CONTACT:
            params["associations"] = "companies"
        path = f"/crm/v3/objects/{HS_TYPE[object_type]}/{quote(external_id, safe='')}"
        try:
            obj = _body(self._call("GET", path, params=params))
        except NotFoundError:
            return None
        if obj.get("archived"):
            return None
        parent = self._parent_from_v3(obj) if object_type is ObjectType.CONTACT else None
        return self.to_source(object_type, obj, parent=parent)

    def get_many(self, object_type: ObjectType, external_ids: list[str]) -> dict[str, SourceRecord]:
        ids = list(dict.fromkeys(str(i) for i in external_ids))
        found: dict[str, dict[str, Any]] = {}
        for chunk in _slices(ids, BATCH_SIZE):
            body = {
                "inputs": [{"id": i} for i in chunk],
                "properties": self._properties(object_type),
                "propertiesWithHistory": [],
            }
            data, _ = self._post(f"/crm/v3/objects/{HS_TYPE[object_type]}/batch/read?archived=false", body)
            for obj in data.get("results") or []:
                found[str(obj["id"])] = obj  # missing ids come back as 207 errors: absent from the result
        parents = self._parents(list(found)) if object_type is ObjectType.CONTACT else {}
        return {i: self.to_source(object_type, found[i], parent=parents.get(i)) for i in ids if i in found}

    def contacts_of(self, customer_external_id: str) -> list[SourceRecord]:
        contact_ids: list[str] = []
        after: str | None = None
        path = f"/crm/v4/objects/companies/{quote(customer_external_id, safe='')}/associations/contacts"
        while True:
            params = {"limit": str(ASSOC_PAGE), **({"after": after} if after else {})}
            try:
                data = _body(self._call("GET", path, params=params))
            except NotFoundError:
                return []
            contact_ids += [str(r["toObjectId"]) for r in data.get("results") or []]
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
        records = self.get_many(ObjectType.CONTACT, contact_ids)
        return [records[i] for i in dict.fromkeys(contact_ids) if i in records]

    def _associations(
        self, from_type: str, to_type: str, ids: Sequence[str]
    ) -> dict[str, list[tuple[str, bool]]]:
        """v4 batch read: id -> [(associated id, is primary)], following per-object paging."""
        out: dict[str, list[tuple[str, bool]]] = {}
        pending: list[dict[str, str]] = [{"id": i} for i in dict.fromkeys(ids)]
        while pending:
            batch, pending = pending[:BATCH_SIZE], pending[BATCH_SIZE:]
            data, _ = self._post(f"/crm/v4/associations/{from_type}/{to_type}/batch/read", {"inputs": batch})
            for result in data.get("results") or []:
                from_id = str((result.get("from") or {}).get("id"))
                for target in result.get("to") or []:
                    type_ids = {t.get("typeId") for t in target.get("associationTypes") or []}
                    out.setdefault(from_id, []).append(
                        (str(target["toObjectId"]), CONTACT_TO_COMPANY_PRIMARY in type_ids)
                    )
                after = ((result.get("paging") or {}).get("next") or {}).get("after")
                if after:
                    pending.append({"id": from_id, "after": str(after)})
        return out

    def _parents(self, contact_ids: Sequence[str]) -> dict[str, str]:
        """Contact id -> its primary company id (else its first company)."""
        parents: dict[str, str] = {}
        for contact_id, companies in self._associations("contacts", "companies", contact_ids).items():
            primary = next((c for c, is_primary in companies if is_primary), None)
            parents[contact_id] = primary or companies[0][0]
        return parents

    def _search(
        self, object_type: ObjectType, filters: list[dict[str, str]], sort: str
    ) -> list[dict[str, Any]]:
        body = {
            "filterGroups": [{"filters": filters}],
            "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
            "properties": self._properties(object_type),
            "limit": SEARCH_PAGE,
            "after": "0",
        }
        data, _ = self._post(f"/crm/v3/objects/{HS_TYPE[object_type]}/search", body)
        return list(data.get("results") or [])

    def changed_since(self, object_type: ObjectType, since: datetime) -> Iterator[SourceRecord]:
        """Records with last-modified >= ``since``, oldest first, via keyset windows (see module doc)."""
        lastmod = LAST_MODIFIED[object_type]

        def ms_of(obj: dict[str, Any]) -> int:
            moment = parse_time((obj.get("properties") or {}).get(lastmod)) or parse_time(
                obj.get("updatedAt")
            )
            return _epoch_ms(moment) if moment else 0

        cursor = _epoch_ms(since)
        strict = False  # after a tie run at ``cursor`` every record at it was yielded: continue with GT
        seen: set[str] = set()  # ids yielded whose timestamp == cursor
        while True:
            op = "GT" if strict else "GTE"
            page = self._search(
                object_type, [{"propertyName": lastmod, "operator": op, "value": str(cursor)}], lastmod
            )
            window_start = cursor
            fresh: list[dict[str, Any]] = []
            for obj in page:
                ms = ms_of(obj)
                if ms == cursor and str(obj["id"]) in seen:
                    continue
                if ms > cursor:
                    cursor, strict, seen = ms, False, set()
                seen.add(str(obj["id"]))
                fresh.append(obj)
            yield from self._with_parents(object_type, fresh)
            if len(page) < SEARCH_PAGE:
                return
            if ms_of(page[-1]) == window_start:
                # a full page on one timestamp: walk that timestamp by id, then move strictly past it
                yield from self._tie_run(object_type, window_start, seen)
                cursor, strict, seen = window_start, True, set()

    def _tie_run(self, object_type: ObjectType, ms: int, seen: set[str]) -> Iterator[SourceRecord]:
        lastmod = LAST_MODIFIED[object_type]
        last_id = 0
        while True:
            filters = [
                {"propertyName": lastmod, "operator": "EQ", "value": str(ms)},
                {"propertyName": "hs_object_id", "operator": "GT", "value": str(last_id)},
            ]
            page = self._search(object_type, filters, "hs_object_id")
            fresh = [o for o in page if str(o["id"]) not in seen]
            seen.update(str(o["id"]) for o in fresh)
            yield from self._with_parents(object_type, fresh)
            if len(page) < SEARCH_PAGE:
                return
            last_id = int(page[-1]["id"])

    def _with_parents(self, object_type: ObjectType, objects: list[dict[str, Any]]) -> Iterator[SourceRecord]:
        if not objects:
            return
        parents = self._parents([str(o["id"]) for o in objects]) if object_type is ObjectType.CONTACT else {}
        for obj in objects:
            yield self.to_source(object_type, obj, parent=parents.get(str(obj["id"])))

    def list_all(self, object_type: ObjectType) -> Iterator[SourceRecord]:
        params = {
            "limit": str(LIST_PAGE),
            "properties": ",".join(self._properties(object_type)),
            "archived": "false",
        }
        if object_type is ObjectType.CONTACT:
            params["associations"] = "companies"
        after: str | None = None
        while True:
            query = {**params, **({"after": after} if after else {})}
            data = _body(self._call("GET", f"/crm/v3/objects/{HS_TYPE[object_type]}", params=query))
            for obj in data.get("results") or []:
                parent = self._parent_from_v3(obj) if object_type is ObjectType.CONTACT else None
                yield self.to_source(object_type, obj, parent=parent)
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    # ------------------------------------------------------------------ writes

    def merge(self, object_type: ObjectType, primary_id: str, merged_id: str) -> str:
        """Merge ``merged_id`` into ``primary_id`` (HubSpot keeps the primary; associations move to it)."""
        body, _ = self._post(
            f"/crm/v3/objects/{HS_TYPE[object_type]}/merge",
            {"primaryObjectId": primary_id, "objectIdToMerge": merged_id},
        )
        return str(body.get("id", primary_id))

    def delete(self, object_type: ObjectType, external_id: str) -> None:
        """Archive a company or contact (HubSpot's delete; restorable for 90 days); gone counts as done."""
        try:
            self._call("DELETE", f"/crm/v3/objects/{HS_TYPE[object_type]}/{external_id}")
        except NotFoundError:
            return

    def write(self, object_type: ObjectType, items: list[WriteItem]) -> list[WriteResult]:
        results: dict[int, WriteResult] = {}
        created: set[str] = set()  # external ids HubSpot reported as new (no associations to read)
        linked: set[int] = set()  # items created with their company association inline
        creates = [(i, it) for i, it in enumerate(items) if it.external_id is None]
        updates = [(i, it) for i, it in enumerate(items) if it.external_id is not None]
        updates = self._drop_stale(object_type, updates, results)
        if object_type is ObjectType.CONTACT:
            with_parent = [(i, it) for i, it in creates if it.parent_external_id]
            creates = [(i, it) for i, it in creates if not it.parent_external_id]
            for batch in _chunks(with_parent, lambda it: (it.record_id,)):
                creates += self._create_with_parent(batch, results, linked)
        for batch in _chunks(creates, lambda it: (it.record_id,)):
            self._write_batch(object_type, "upsert", batch, results, created)
        for batch in _chunks(updates, lambda it: (it.record_id, f"id:{it.external_id}")):
            self._write_batch(object_type, "update", batch, results, created)
        if object_type is ObjectType.CONTACT:
            self._link_parents(items, results, created, skip=linked)
        return [results[i] for i in range(len(items))]

    def _create_with_parent(
        self,
        batch: list[tuple[int, WriteItem]],
        results: dict[int, WriteResult],
        linked: set[int],
    ) -> list[tuple[int, WriteItem]]:
        """Create contacts with their primary company inline; returns those left for the upsert path."""
        inputs: list[dict[str, Any]] = [
            {
                "properties": self.to_properties(ObjectType.CONTACT, it.fields)
                | {RECORD_ID_PROPERTY: it.record_id},
                "associations": [{"to": {"id": str(it.parent_external_id)}, "types": PRIMARY_COMPANY}],
            }
            for _, it in batch
        ]
        try:
            data, request_id = self._post("/crm/v3/objects/contacts/batch/create", {"inputs": inputs})
        except AuthError:
            raise
        except VendorError as exc:
            if not exc.retryable:
                return batch  # refused as a whole (a clash with an earlier attempt, a bad input): upsert
            for i, it in batch:
                results[i] = self._failed(
                    it, exc.message, exc.code, exc.retryable, exc.request_id, exc.retry_after
                )
            return []
        left = {it.record_id: (i, it) for i, it in batch}
        for obj in data.get("results") or []:
            entry = left.pop(str((obj.get("properties") or {}).get(RECORD_ID_PROPERTY)), None)
            if entry is None:
                continue
            index, item = entry
            linked.add(index)
            results[index] = WriteResult(
                record_id=item.record_id,
                ok=True,
                external_id=str(obj["id"]),
                record=self.to_source(ObjectType.CONTACT, obj, parent=item.parent_external_id, partial=True),
                request_id=request_id,
            )
        return list(left.values())  # an input HubSpot refused (207) or did not answer: upsert

    def _drop_stale(
        self, object_type: ObjectType, updates: list[tuple[int, WriteItem]], results: dict[int, WriteResult]
    ) -> list[tuple[int, WriteItem]]:
        """Read the update targets first (one batch read per 100) and hold back the ones a person changed.

        HubSpot's batch update has no version check; without this read a salesperson's edit whose
        webhook is still on its way would be overwritten, and its webhook would then read as an echo.
        """
        checked = [(i, it) for i, it in updates if it.expected]
        if not checked:
            return updates
        current = self.get_many(object_type, [str(it.external_id) for _, it in checked])
        keep = []
        for i, it in updates:
            now = current.get(str(it.external_id))
            changed = stale_fields(it.expected, now.fields) if it.expected and now is not None else []
            if changed:
                results[i] = WriteResult(
                    record_id=it.record_id,
                    ok=False,
                    external_id=it.external_id,
                    error=f"changed in HubSpot since last read: {', '.join(changed)}",
                    error_code="stale",
                )
            else:
                keep.append((i, it))
        return keep

    def _input(self, object_type: ObjectType, mode: str, item: WriteItem) -> dict[str, Any]:
        props = self.to_properties(object_type, item.fields)
        if mode == "upsert":
            return {
                "id": item.record_id,
                "idProperty": RECORD_ID_PROPERTY,
                "properties": props,
                "objectWriteTraceId": item.record_id,
            }
        return {"id": str(item.external_id), "properties": props, "objectWriteTraceId": item.record_id}

    def _write_batch(
        self,
        object_type: ObjectType,
        mode: str,
        batch: list[tuple[int, WriteItem]],
        results: dict[int, WriteResult],
        created: set[str],
    ) -> None:
        if mode == "update":
            empty = [(i, it) for i, it in batch if not self.to_properties(object_type, it.fields)]
            for i, it in empty:
                results[i] = WriteResult(record_id=it.record_id, ok=True, external_id=it.external_id)
            batch = [(i, it) for i, it in batch if i not in results]
            if not batch:
                return
        body = {"inputs": [self._input(object_type, mode, it) for _, it in batch]}
        try:
            data, request_id = self._post(f"/crm/v3/objects/{HS_TYPE[object_type]}/batch/{mode}", body)
        except AuthError:
            raise
        except ValidationError as exc:
            if len(batch) > 1:  # one bad input can fail the whole batch: bisect to isolate it
                half = len(batch) // 2
                self._write_batch(object_type, mode, batch[:half], results, created)
                self._write_batch(object_type, mode, batch[half:], results, created)
                return
            results[batch[0][0]] = self._failed(
                batch[0][1], exc.message, exc.code, exc.retryable, exc.request_id
            )
            return
        except VendorError as exc:
            for i, it in batch:
                results[i] = self._failed(
                    it, exc.message, exc.code, exc.retryable, exc.request_id, exc.retry_after
                )
            return
        self._collect(object_type, mode, batch, data, request_id, results, created)

    def _collect(
        self,
        object_type: ObjectType,
        mode: str,
        batch: list[tuple[int, WriteItem]],
        data: dict[str, Any],
        request_id: str | None,
        results: dict[int, WriteResult],
        created: set[str],
    ) -> None:
        """Tie batch results and 207 errors back to items (trace id, else id / crmsync record id)."""
        by_trace = {it.record_id: i for i, it in batch}
        by_key = {(it.record_id if mode == "upsert" else str(it.external_id)): i for i, it in batch}
        items = dict(batch)
        for obj in data.get("results") or []:
            props = obj.get("properties") or {}
            index = by_trace.get(str(obj.get("objectWriteTraceId")))
            if index is None:
                key = props.get(RECORD_ID_PROPERTY) if mode == "upsert" else str(obj.get("id"))
                index = by_key.get(str(key))
            if index is None or index in results:
                continue
            item = items[index]
            if obj.get("new") is True:
                created.add(str(obj["id"]))
            parent = item.parent_external_id if object_type is ObjectType.CONTACT else None
            results[index] = WriteResult(
                record_id=item.record_id,
                ok=True,
                external_id=str(obj["id"]),
                record=self.to_source(object_type, obj, parent=parent, partial=True),
                request_id=request_id,
            )
        for error in data.get("errors") or []:
            context = error.get("context") or {}
            category = str(error.get("category") or "") or None
            message = str(error.get("message") or "HubSpot rejected this input")
            retryable = category in RETRYABLE_CATEGORIES
            targets = [by_trace[t] for t in context.get("objectWriteTraceId") or [] if t in by_trace]
            targets += [by_key[k] for k in context.get("ids") or context.get("id") or [] if k in by_key]
            if not targets:  # an error HubSpot could not attribute: it belongs to every unanswered item
                targets = [i for i, _ in batch if i not in results]
            for index in targets:
                if index not in results:
                    results[index] = self._failed(items[index], message, category, retryable, request_id)
        for index, item in batch:
            if index not in results:
                results[index] = self._failed(
                    item,
                    "HubSpot returned neither a result nor an error for this input",
                    "NO_RESULT",
                    True,
                    request_id,
                )

    @staticmethod
    def _failed(
        item: WriteItem,
        message: str,
        code: str | None,
        retryable: bool,
        request_id: str | None,
        retry_after: float | None = None,
    ) -> WriteResult:
        return WriteResult(
            record_id=item.record_id,
            ok=False,
            external_id=item.external_id,
            error=message,
            error_code=code,
            retryable=retryable,
            request_id=request_id,
            retry_after=retry_after,
        )

    def _link_parents(
        self,
        items: list[WriteItem],
        results: dict[int, WriteResult],
        created: set[str],
        *,
        skip: set[int],
    ) -> None:
        """Make each written contact's primary company its ``parent_external_id`` (see module doc).

        ``skip``: items created with the association inline (nothing left to do)."""
        wanted: dict[int, tuple[str, str]] = {}
        for index, item in enumerate(items):
            if index in skip:
                continue
            result = results[index]
            if item.parent_external_id and result.ok and result.external_id:
                wanted[index] = (result.external_id, item.parent_external_id)
        if not wanted:
            return
        existing_ids = [cid for cid, _ in wanted.values() if cid not in created]
        current = self._associations("contacts", "companies", existing_ids) if existing_ids else {}
        to_create: list[tuple[int, str, str]] = []
        to_archive: dict[str, set[str]] = {}
        for index, (contact_id, company_id) in wanted.items():
            links = current.get(contact_id, [])
            primary = next((c for c, is_primary in links if is_primary), None)
            if primary == company_id:
                continue
            to_create.append((index, contact_id, company_id))
            if primary is not None:
                to_archive.setdefault(contact_id, set()).add(primary)
        failed = self._create_links(to_create, results)
        archive = [
            {"from": {"id": contact_id}, "to": [{"id": c} for c in sorted(old)]}
            for contact_id, old in to_archive.items()
            if contact_id not in failed
        ]
        for chunk in _slices(archive, BATCH_SIZE):
            try:
                self._post("/crm/v4/associations/contacts/companies/batch/archive", {"inputs": list(chunk)})
            except AuthError:
                raise
            except VendorError:
                pass  # the new primary is in place; a stale extra association is harmless and retried next time

    def _create_links(
        self, to_create: list[tuple[int, str, str]], results: dict[int, WriteResult]
    ) -> set[str]:
        """Associate contacts with their companies (unlabeled + Primary); returns contact ids that failed."""
        failed: set[str] = set()
        for chunk in _slices(to_create, BATCH_SIZE):
            inputs = [
                {"from": {"id": cid}, "to": {"id": company}, "types": PRIMARY_COMPANY}
                for _, cid, company in chunk
            ]
            try:
                data, request_id = self._post(
                    "/crm/v4/associations/contacts/companies/batch/create", {"inputs": inputs}
                )
                errors: list[tuple[set[str], str, str | None, bool]] = [
                    (
                        set((e.get("context") or {}).get("fromObjectId") or [c for _, c, _ in chunk]),
                        str(e.get("message") or "association failed"),
                        str(e.get("category") or "") or None,
                        str(e.get("category") or "") in RETRYABLE_CATEGORIES,
                    )
                    for e in data.get("errors") or []
                ]
            except AuthError:
                raise
            except VendorError as exc:
                request_id = exc.request_id
                errors = [({c for _, c, _ in chunk}, exc.message, exc.code, exc.retryable)]
            for contact_ids, message, code, retryable in errors:
                for index, cid, company in chunk:
                    if cid in contact_ids:
                        failed.add(cid)
                        result = results[index]
                        results[index] = result.model_copy(
                            update={
                                "ok": False,
                                "error": f"contact written, but linking it to company {company} failed: {message}",
                                "error_code": code,
                                "retryable": retryable,
                                "request_id": request_id,
                            }
                        )
        return failed

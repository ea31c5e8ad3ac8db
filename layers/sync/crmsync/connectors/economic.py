"""e-conomic connector: customers and their contact persons on the accounting side.

Which API serves what, and why
------------------------------
e-conomic serves customers through two APIs over one database: the legacy REST API
(``restapi.e-conomic.com``) and the Customers API v3.1.0 (``apis.e-conomic.com/customersapi``).

* **Customer reads: legacy.** Only the legacy customer has ``lastUpdated``, and only there can it be
  filtered and sorted on, so it is the one way to ask "what changed since T"; pages hold 1000 whole
  records. Pages are walked by *keyset*, not by ``skippages``: each next page asks for the rows after
  the last ``(lastUpdated, customerNumber)`` seen, sorted by both. With ``skippages`` a customer edited
  during the walk moves to the end of the sort order, every later row shifts one place forward and the
  row on the page boundary is skipped for good (the next pull starts after it). The keyset walk cannot
  skip, costs the same number of calls, and handles any number of rows sharing one ``lastUpdated``
  second. ``list_all`` uses the same walk on ``customerNumber`` (a delete between pages shifts too).
  The walk uses only documented filter grammar (``$gt``/``$eq``/``$and``/``$or``, parentheses,
  multi-property sort); it has not yet been run against a live agreement.
* **Customer creates: legacy POST /customers.** One call answers with the whole stored entity incl.
  ``lastUpdated`` (the Customers API answers only the number), and Idempotency-Key replay was verified
  live there. The key is derived from ``(connection_id, record_id)``, so a retried create (a lost
  response retried by VendorHttp, or the engine re-running the item) never makes a second customer.
  A replay is confirmed with a GET, because the replayed customer may have been deleted since.
* **Customer updates: Customers API GET + PUT with ``objectVersion``.** Both APIs' PUT is a full
  replace, so both need read-modify-write; only the Customers API rejects the PUT (409) when a
  bookkeeper changed the customer between our GET and PUT, where a legacy PUT would silently undo their
  change. Only the canonical fields of the WriteItem are overlaid on the fresh GET; every other property
  (ean, mobilePhone, creditLimit, layout, iban, ...) goes back exactly as read, nulls are never sent, and
  required references are never cleared. A 409 re-reads and retries, a bounded number of times. An
  update that changes nothing is not sent at all.
* **external_number: legacy PUT.** ``publicEntryNumber`` exists only in the legacy API, so an update
  that carries ``external_number`` writes it afterwards by a legacy read-modify-write that changes only
  that property (the body is the customer as read, restricted to the PUT schema's writable properties).
  Legacy PUT has no version guard; only the moment between its GET and PUT is exposed.
  ``account_manager`` is the legacy ``salesPerson`` = Customers API ``ourRef`` (employee number).
* **Booked invoices: legacy** ``GET /customers/:n/invoices/booked?pagesize=1`` (``has_booked_invoices``).
* **Contacts: Customers API throughout.** It lists contacts of all customers at once (cursor pages of
  1000; the legacy API needs one call per customer), filters on ``customerNumber``/``lastUpdated``/
  ``isDeleted``, and guards PUT with ``objectVersion``. Deleted contacts stay visible with ``isDeleted``:
  ``changed_since`` yields them with ``SourceRecord.deleted``; ``get``/``get_many``/``contacts_of``/
  ``list_all`` leave them out (they no longer exist). Cursor pages cannot be sorted, so
  ``changed_since`` for contacts collects the matching contacts and yields them oldest first.

Write results: a create answers with the stored entity (legacy) or the new number (contacts), an update
with 204. The returned ``SourceRecord`` is built from what was sent, which is exactly what is stored,
instead of paying a GET per write; its ``modified_at``/``version`` are therefore unknown (None) except
for legacy creates and legacy PUTs (an update carrying ``external_number`` returns the stored entity the
PUT answered with). A record built from the Customers API leaves ``external_number`` out of ``fields``:
it cannot know it, and a missing key means "unknown" to the engine where None would mean "empty".
``WriteItem.version`` is not used: customers are read through the legacy API, which has no
objectVersion, so every update reads a fresh one. Customer deletions are not visible to
``changed_since`` (deleted rows vanish): they arrive by webhook, and ``get`` then answers None.
"""

from __future__ import annotations

import contextvars
import re
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from crmsync.connectors.base import (
    AuthError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
    SourceRecord,
    StaleError,
    TransientError,
    ValidationError,
    VendorError,
    WriteItem,
    WriteResult,
    stale_fields,
)
from crmsync.connectors.http import RetryPolicy, VendorHttp, retry_after_seconds
from crmsync.models import CUSTOMER_FIELDS, Fields, FieldValue, ObjectType, Side, normalize
from crmsync.text_rules import clean_fields

PAGE_SIZE = 1000
IN_FILTER_MAX = 200
WRITE_CONCURRENCY = 4
"""e-conomic writes in flight at once per invocation (no batch endpoint exists). e-conomic documents no
concurrency limit, only its rate limits, which the shared rate budget and the pacer enforce per call;
four keeps a page of 100 writes from taking 100 round trips back to back."""
CONFLICT_RETRIES = 3
_IDEMPOTENCY_NAMESPACE = uuid.UUID("6f6b2f53-2a55-4d8e-9a8e-0e6f7c6e0c11")

CUSTOMER_SUPPORTED: frozenset[str] = frozenset(CUSTOMER_FIELDS) - {"lifecycle_stage"}  # CRM-only
CONTACT_SUPPORTED: frozenset[str] = frozenset({"name", "email", "phone", "notes"})
"""e-conomic contacts have no title; ``customer`` travels as ``parent_external_id``."""

# canonical -> legacy property
_LEGACY_SCALARS = {
    "name": "name",
    "corporate_id": "corporateIdentificationNumber",
    "vat_number": "vatNumber",
    "email": "email",
    "phone": "telephoneAndFaxNumber",
    "website": "website",
    "address": "address",
    "zip": "zip",
    "city": "city",
    "country": "country",
    "currency": "currency",
    "external_number": "publicEntryNumber",
}
# canonical -> (legacy reference object, its number property)
_LEGACY_REFS = {
    "customer_group": ("customerGroup", "customerGroupNumber"),
    "payment_terms": ("paymentTerms", "paymentTermsNumber"),
    "vat_zone": ("vatZone", "vatZoneNumber"),
}
# canonical -> (optional legacy reference object, its number property): left out when empty
_LEGACY_OPTIONAL_REFS = {"account_manager": ("salesPerson", "employeeNumber")}
_LEGACY_ONLY = frozenset({"external_number"})
"""Canonical fields the Customers API does not know: written by a legacy PUT (see module doc)."""
PUBLIC_ENTRY_NUMBER_MAX = 50
_LEGACY_PUT_PROPERTIES = frozenset(
    {
        "address",
        "attention",
        "barred",
        "city",
        "corporateIdentificationNumber",
        "country",
        "creditLimit",
        "currency",
        "customerContact",
        "customerGroup",
        "customerNumber",
        "defaultDeliveryLocation",
        "eInvoicingDisabledByDefault",
        "ean",
        "email",
        "layout",
        "mobilePhone",
        "name",
        "pNumber",
        "paymentTerms",
        "priceGroup",
        "publicEntryNumber",
        "salesPerson",
        "telephoneAndFaxNumber",
        "vatNumber",
        "vatZone",
        "website",
        "zip",
    }
)
"""The writable properties of the legacy PUT schema (customers.customerNo.put). A customer as read,
restricted to these, loses what the schema marks read-only (balance) or lacks (dueAmount, lastUpdated,
self, metaData and the links: contacts, invoices, templates, totals, deliveryLocations)."""
# canonical -> Customers API property
_API_SCALARS = {
    "name": "name",
    "corporate_id": "cvrNo",
    "vat_number": "vatNo",
    "email": "email",
    "phone": "phone",
    "website": "homepage",
    "address": "address1",
    "zip": "postCode",
    "city": "city",
    "country": "country",
    "currency": "currency",
}
_API_REFS = {"customer_group": "customerGroupNumber", "payment_terms": "paymentTermId", "vat_zone": "zone"}
_API_OPTIONAL_REFS = {"account_manager": "ourRef"}
"""References that may be empty: the Customers API's ``ourRef`` is the legacy ``salesPerson``."""
_API_REQUIRED = frozenset({"name", "currency"})
_CONTACT_PROPS = {"name": "name", "email": "email", "phone": "phone", "notes": "notes"}
_CONTACT_READ_ONLY = ("userInterfaceNumber", "lastUpdated", "isDeleted", "active")


class EconomicDefaults(BaseModel):
    """References e-conomic requires on every customer, used when the CRM record does not carry them."""

    model_config = ConfigDict(extra="forbid")

    customer_group: int = Field(ge=1)
    payment_terms: int = Field(ge=1)
    vat_zone: int = Field(ge=1)
    currency: str = Field(min_length=3, max_length=3)
    layout: int | None = Field(default=None, ge=1)


# --------------------------------------------------------------------------------------------------
# Error mapping


def _annotated(errors: Any, path: str = "") -> Iterator[tuple[str, str, str | None]]:
    """Flatten legacy "annotated errors" ({prop: {errors: [...]}} / lists with arrayIndex)."""
    if isinstance(errors, list):
        for entry in errors:
            if isinstance(entry, str):
                yield path, entry, None
            elif isinstance(entry, dict):
                index = entry.get("arrayIndex")
                yield from _annotated(entry, f"{path}[{index}]" if index is not None else path)
        return
    if not isinstance(errors, dict):
        return
    for prop, value in errors.items():
        if prop == "arrayIndex":
            continue
        where = f"{path}.{prop}" if path else prop
        if prop == "errors" and isinstance(value, list):
            for error in value:
                if isinstance(error, dict):
                    yield (
                        path,
                        str(error.get("message") or error.get("errorMessage") or ""),
                        error.get("errorCode"),
                    )
            continue
        yield from _annotated(value, where)


_RATE_HEADER = re.compile(r"token-limit-(\d+)-per-(\d+)-seconds:\s*(\d+)\s*/\s*(\d+)")
PACE_RESERVE = 0.02
"""Keep this share of the token bucket in reserve (at least 5 calls' worth) before pausing."""


def economic_pacer(response: httpx.Response) -> float | None:
    """Honour ``X-RateLimiting`` (``token-limit-10000-per-60-seconds: 9950/10000``) and ``X-CallCost``.

    e-conomic's bucket refills ``limit`` tokens per ``window`` seconds. When what is left drops under the
    reserve, wait as long as the bucket needs to refill the shortfall at its average rate, so a worker
    slows down instead of running into 429s (a 429 without ``Retry-After`` waits the same way).
    """
    match = _RATE_HEADER.search(response.headers.get("X-RateLimiting", ""))
    if match is None:
        return None
    limit, window, used = int(match.group(1)), int(match.group(2)), int(match.group(3))
    if limit <= 0:
        return None
    try:
        cost = max(1, int(response.headers.get("X-CallCost", "1")))
    except ValueError:
        cost = 1
    reserve = max(5 * cost, int(limit * PACE_RESERVE))
    shortfall = reserve - (limit - used)
    if response.status_code == 429:
        shortfall = max(shortfall, cost)
    if shortfall <= 0:
        return None
    return shortfall * window / limit


def map_economic_error(response: httpx.Response) -> VendorError:
    """Turn a legacy error body or a ProblemDetails body into a typed VendorError."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    request_id = response.headers.get("X-RequestId")
    message = response.reason_phrase or "error"
    details: list[str] = []
    code: str | None = None
    if isinstance(body, dict):
        request_id = request_id or body.get("logId") or body.get("traceId")
        if "title" in body or "traceId" in body:  # ProblemDetails (Customers API)
            message = str(body.get("detail") or body.get("title") or message)
            for error in body.get("errors") or []:
                if isinstance(error, dict):
                    details.append(f"{error.get('property') or '?'}: {error.get('message')}")
                    code = code or error.get("errorCode")
        else:  # legacy REST
            message = str(body.get("message") or message)
            for where, text, error_code in _annotated(body.get("errors")):
                details.append(f"{where}: {text}" if where else text)
                code = code or error_code
        code = code or body.get("errorCode")
    text = f"e-conomic {status}: {message}" + (f" ({'; '.join(details)})" if details else "")
    kw: dict[str, Any] = {"status": status, "code": code, "request_id": request_id}
    if status in (401, 403):
        return AuthError(text, **kw)
    if status == 404:
        return NotFoundError(text, **kw)
    if status == 409:
        return ConflictError(text, **kw)
    if status == 429:
        return RateLimitedError(text, retry_after=retry_after_seconds(response), **kw)
    if status in (400, 405, 415, 422):
        return ValidationError(text, **kw)
    return TransientError(text, **kw)


def _refuse_stale(expected: Fields, current: Fields) -> None:
    """The read-modify-write already reads the record: compare it with what crmsync last saw (free)."""
    changed = stale_fields(expected, current)
    if changed:
        raise StaleError(f"changed in e-conomic since last read: {', '.join(changed)}", code="stale")


# --------------------------------------------------------------------------------------------------
# Value helpers


def _utc_second(moment: datetime) -> str:
    """e-conomic's filter format: UTC, whole seconds, ``Z`` (an offset like +00:00 is rejected)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _as_bool(value: FieldValue) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes")


def _as_number(value: FieldValue, name: str) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not 1 <= int(text) <= 999_999_999:
        raise ValidationError(f"{name} must be a positive whole number, got {value!r}", code="invalid_field")
    return int(text)


def _public_entry_number(fields: Fields) -> str | None:
    """The ``external_number`` to write as ``publicEntryNumber``, refused up front when e-conomic would."""
    value = normalize(fields.get("external_number"))
    if value is None:
        return None
    text = str(value)
    if len(text) > PUBLIC_ENTRY_NUMBER_MAX:
        raise ValidationError(
            f"external_number is longer than e-conomic's {PUBLIC_ENTRY_NUMBER_MAX} characters: {text!r}",
            code="invalid_field",
        )
    return text


def _chunks(values: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --------------------------------------------------------------------------------------------------
# Connector


class EconomicConnector:
    """One e-conomic agreement (one connection) seen through canonical customer/contact fields."""

    side: Side = Side.ACCOUNTING

    def __init__(
        self,
        connection_id: str,
        app_secret_token: str,
        agreement_grant_token: str,
        defaults: EconomicDefaults,
        *,
        rest_base_url: str = "https://restapi.e-conomic.com",
        customers_api_url: str = "https://apis.e-conomic.com/customersapi/v3.1.0",
        client: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.connection_id = connection_id
        self.defaults = defaults
        self.rest_base_url = rest_base_url.rstrip("/")
        self.customers_api_url = customers_api_url.rstrip("/")
        self._headers = {
            "X-AppSecretToken": app_secret_token,
            "X-AgreementGrantToken": agreement_grant_token,
            "Accept": "application/json",
        }
        self._owns_client = client is None
        self.http = VendorHttp(
            client or httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0)),
            map_economic_error,
            retry,
            pacer=economic_pacer,
        )

    def close(self) -> None:
        if self._owns_client:
            self.http.client.close()

    # ---------------------------------------------------------------- protocol: reads

    def supported_fields(self, object_type: ObjectType) -> frozenset[str]:
        return CUSTOMER_SUPPORTED if object_type is ObjectType.CUSTOMER else CONTACT_SUPPORTED

    def ensure_setup(self) -> None:
        """Nothing to create on e-conomic; a one-row read proves the tokens (AuthError if not)."""
        self._call("GET", f"{self.rest_base_url}/customers", params={"pagesize": 1})

    def get(self, object_type: ObjectType, external_id: str) -> SourceRecord | None:
        if not external_id.isdigit():
            return None
        try:
            if object_type is ObjectType.CUSTOMER:
                data = self._call("GET", f"{self.rest_base_url}/customers/{external_id}").json()
                return self._customer_from_legacy(data)
            data = self._call("GET", f"{self.customers_api_url}/Contacts/{external_id}").json()
        except NotFoundError:
            return None
        record = self._contact_from_api(data)
        return None if record.deleted else record

    def get_many(self, object_type: ObjectType, external_ids: list[str]) -> dict[str, SourceRecord]:
        """``$in:`` filters of up to 200 numbers per call; unknown and deleted ids are absent."""
        numbers = sorted({int(i) for i in external_ids if i.isdigit()})
        found: dict[str, SourceRecord] = {}
        for chunk in _chunks(numbers, IN_FILTER_MAX):
            wanted = f"[{','.join(map(str, chunk))}]"
            if object_type is ObjectType.CUSTOMER:
                for data in self._legacy_customer_pages(
                    f"customerNumber$in:{wanted}", "customerNumber", None
                ):
                    record = self._customer_from_legacy(data)
                    found[record.external_id] = record
            else:
                for data in self._contact_pages(f"number$in:{wanted}"):
                    record = self._contact_from_api(data)
                    if not record.deleted:
                        found[record.external_id] = record
        return found

    def contacts_of(self, customer_external_id: str) -> list[SourceRecord]:
        if not customer_external_id.isdigit():
            return []
        query = f"customerNumber$eq:{int(customer_external_id)}$and:isDeleted$eq:false"
        return [self._contact_from_api(data) for data in self._contact_pages(query)]

    def changed_since(self, object_type: ObjectType, since: datetime) -> Iterator[SourceRecord]:
        start = _utc_second(since)
        if object_type is ObjectType.CUSTOMER:

            def after(last: dict[str, Any]) -> str:
                stamp, number = last.get("lastUpdated") or start, int(last["customerNumber"])
                return f"lastUpdated$gt:{stamp}$or:(lastUpdated$eq:{stamp}$and:customerNumber$gt:{number})"

            pages = self._legacy_customer_pages(
                f"lastUpdated$gte:{start}", "lastUpdated,customerNumber", after
            )
            for data in pages:
                yield self._customer_from_legacy(data)
            return
        records = [self._contact_from_api(data) for data in self._contact_pages(f"lastUpdated$gte:{start}")]
        epoch = datetime.min.replace(tzinfo=UTC)
        records.sort(key=lambda r: (r.modified_at or epoch, int(r.external_id)))
        yield from records

    def list_all(self, object_type: ObjectType) -> Iterator[SourceRecord]:
        """Every existing record (deleted contacts are left out), in pages of 1000."""
        if object_type is ObjectType.CUSTOMER:

            def after(last: dict[str, Any]) -> str:
                return f"customerNumber$gt:{int(last['customerNumber'])}"

            for data in self._legacy_customer_pages(None, "customerNumber", after):
                yield self._customer_from_legacy(data)
            return
        for data in self._contact_pages("isDeleted$eq:false"):
            yield self._contact_from_api(data)

    def has_booked_invoices(self, customer_number: str) -> bool:
        """Whether e-conomic holds any booked invoice for the customer (one row of one page is enough).

        A customer with booked invoices can never be deleted in e-conomic. An unknown number raises
        ``NotFoundError`` rather than answering False: the number may be stale (a renumbered customer),
        so "no such customer" must not read as "no invoices".
        """
        number = _as_number(customer_number, "customer_number")
        data = self._call(
            "GET", f"{self.rest_base_url}/customers/{number}/invoices/booked", params={"pagesize": 1}
        ).json()
        results = (data.get("pagination") or {}).get("results")
        return bool(data.get("collection")) or (isinstance(results, int) and results > 0)

    # ---------------------------------------------------------------- protocol: writes

    def delete(self, object_type: ObjectType, external_id: str) -> None:
        """Delete a customer (legacy) or a contact (Customers API); already gone counts as done.

        e-conomic refuses to delete a customer with booked invoices (a ``ValidationError`` the caller
        keeps as the reason). No Idempotency-Key: DELETE is idempotent by itself (404 = done), and a
        key derived from the number would replay an old answer once e-conomic reuses that number.
        """
        if object_type is ObjectType.CUSTOMER:
            url = f"{self.rest_base_url}/customers/{_as_number(external_id, 'external_id')}"
        else:
            url = f"{self.customers_api_url}/Contacts/{_as_number(external_id, 'external_id')}"
        try:
            self._call("DELETE", url)
        except NotFoundError:
            return

    def write(self, object_type: ObjectType, items: list[WriteItem]) -> list[WriteResult]:
        """e-conomic has no batch write: the first item alone (it proves the tokens), then the rest
        ``WRITE_CONCURRENCY`` at a time. Every call still passes the connection's shared rate budget
        and the pacer, so concurrency shortens the invocation, never raises the rate. After an
        AuthError the items not yet sent fail unsent. Results come back in the items' order."""
        auth_failure: list[AuthError] = []

        def write_one(item: WriteItem) -> WriteResult:
            if auth_failure:
                return self._failed(item, auth_failure[0])
            try:
                record = self._write_one(object_type, item)
            except AuthError as exc:
                auth_failure.append(exc)
                return self._failed(item, exc)
            except VendorError as exc:
                return self._failed(item, exc)
            return WriteResult(
                record_id=item.record_id,
                ok=True,
                external_id=record.external_id,
                record=record,
                request_id=self._last_request_id(),
            )

        if not items:
            return []
        first = write_one(items[0])
        rest = items[1:]
        if len(rest) <= 1:
            return [first, *map(write_one, rest)]
        with ThreadPoolExecutor(max_workers=min(WRITE_CONCURRENCY, len(rest))) as pool:
            # Each write runs in a copy of the caller's context: Powertools' Logger keys and the local
            # stack's IAM check (local/iam.py) follow the invocation into the writer threads.
            futures = [pool.submit(contextvars.copy_context().run, write_one, item) for item in rest]
            return [first, *(future.result() for future in futures)]

    def _write_one(self, object_type: ObjectType, item: WriteItem) -> SourceRecord:
        if object_type is ObjectType.CUSTOMER:
            return self._create_customer(item) if item.external_id is None else self._update_customer(item)
        return self._create_contact(item) if item.external_id is None else self._update_contact(item)

    # ---------------------------------------------------------------- customers

    def _create_customer(self, item: WriteItem) -> SourceRecord:
        body = self._legacy_create_body(item.fields)
        key = self.idempotency_key(ObjectType.CUSTOMER, item.record_id)
        for attempt in range(3):
            response = self._call(
                "POST", f"{self.rest_base_url}/customers", json=body, headers={"Idempotency-Key": key}
            )
            data = response.json()
            if response.headers.get("X-ResultFromCache", "").lower() != "true":
                return self._customer_from_legacy(data)
            current = self.get(ObjectType.CUSTOMER, str(data["customerNumber"]))
            if current is not None:
                return current
            key = f"{self.idempotency_key(ObjectType.CUSTOMER, item.record_id)}-{attempt + 1}"
        raise TransientError("e-conomic kept replaying a create whose customer no longer exists")

    def _legacy_create_body(self, fields: Fields) -> dict[str, Any]:
        name = normalize(fields.get("name"))
        if not name:
            raise ValidationError("an e-conomic customer needs a name", code="missing_name")
        currency = normalize(fields.get("currency")) or self.defaults.currency
        body: dict[str, Any] = {"name": str(name), "currency": str(currency).upper()}
        defaults = {
            "customer_group": self.defaults.customer_group,
            "payment_terms": self.defaults.payment_terms,
            "vat_zone": self.defaults.vat_zone,
        }
        for canonical, (prop, number_prop) in _LEGACY_REFS.items():
            value = fields.get(canonical)
            number = defaults[canonical] if normalize(value) is None else _as_number(value, canonical)
            body[prop] = {number_prop: number}
        if self.defaults.layout is not None:
            body["layout"] = {"layoutNumber": self.defaults.layout}
        _public_entry_number(fields)
        for canonical, prop in _LEGACY_SCALARS.items():
            value = normalize(fields.get(canonical))
            if value is not None and canonical not in ("name", "currency"):
                body[prop] = str(value)
        for canonical, (prop, number_prop) in _LEGACY_OPTIONAL_REFS.items():
            if normalize(fields.get(canonical)) is not None:
                body[prop] = {number_prop: _as_number(fields[canonical], canonical)}
        if normalize(fields.get("customer_number")) is not None:
            body["customerNumber"] = _as_number(fields["customer_number"], "customer_number")
        if normalize(fields.get("barred")) is not None and _as_bool(fields["barred"]):
            body["barred"] = True
        return body

    def _update_customer(self, item: WriteItem) -> SourceRecord:
        """Customers API for what it knows, then a legacy PUT for ``external_number`` if the item has it.

        ``external_number`` is checked before the first write, so a value e-conomic would refuse never
        leaves the item half written (the Customers API part is validated before its own PUT).
        """
        number = str(_as_number(item.external_id, "external_id"))
        api_fields = {k: v for k, v in item.fields.items() if k not in _LEGACY_ONLY}
        if "external_number" not in item.fields:
            return self._update_customer_api(number, api_fields, item.expected)
        entry = _public_entry_number(item.fields)
        if api_fields:
            self._update_customer_api(number, api_fields, item.expected)
        return self._update_public_entry_number(number, entry)

    def _update_customer_api(
        self, number: str, fields: Fields, expected: Fields | None = None
    ) -> SourceRecord:
        url = f"{self.customers_api_url}/Customers/{number}"
        for attempt in range(CONFLICT_RETRIES + 1):
            current = {k: v for k, v in self._call("GET", url).json().items() if v is not None}
            _refuse_stale(expected or {}, self._customer_from_api(current).fields)
            body = self._overlay_customer(current, fields, number)
            if body == current:
                return self._customer_from_api(current)
            try:
                self._call("PUT", url, json=body)
            except ConflictError:
                if attempt == CONFLICT_RETRIES:
                    raise
                continue
            return self._customer_from_api(body, written=True)
        raise AssertionError("unreachable")  # pragma: no cover

    def _update_public_entry_number(self, number: str, value: str | None) -> SourceRecord:
        """Legacy read-modify-write of ``publicEntryNumber`` alone (the Customers API lacks it).

        The legacy PUT has no version guard: only the few milliseconds between its GET and PUT are
        exposed to a concurrent edit, and only properties the legacy API knows. The PUT answers with the
        stored customer, so the returned record is what e-conomic holds, not what was asked for.
        """
        url = f"{self.rest_base_url}/customers/{number}"
        current: dict[str, Any] = self._call("GET", url).json()
        if normalize(current.get("publicEntryNumber")) == value:
            return self._customer_from_legacy(current)
        body = {k: v for k, v in current.items() if k in _LEGACY_PUT_PROPERTIES and v is not None}
        body.pop("publicEntryNumber", None)
        if value is not None:
            body["publicEntryNumber"] = value
        return self._customer_from_legacy(self._call("PUT", url, json=body).json())

    @staticmethod
    def _overlay_customer(current: dict[str, Any], fields: Fields, number: str) -> dict[str, Any]:
        """The PUT body: the customer as read, with only the canonical fields of the item replaced."""
        body = dict(current)
        body["customerNumber"] = int(number)
        for canonical, raw in fields.items():
            value = normalize(raw)
            if canonical == "customer_number":
                if value is not None and value != number:
                    raise ValidationError(
                        "e-conomic customers can only be renumbered in e-conomic itself", code="renumber"
                    )
            elif canonical in _API_SCALARS:
                prop = _API_SCALARS[canonical]
                if value is not None:
                    body[prop] = str(value).upper() if canonical == "currency" else str(value)
                elif canonical not in _API_REQUIRED:
                    body.pop(prop, None)
            elif canonical in _API_REFS and value is not None:
                body[_API_REFS[canonical]] = _as_number(value, canonical)
            elif canonical in _API_OPTIONAL_REFS:
                if value is not None:
                    body[_API_OPTIONAL_REFS[canonical]] = _as_number(value, canonical)
                else:
                    body.pop(_API_OPTIONAL_REFS[canonical], None)
            elif canonical == "barred" and value is not None:
                body["access"] = not _as_bool(value)
        return body

    def _legacy_customer_pages(
        self, first_filter: str | None, sort: str, after: Callable[[dict[str, Any]], str] | None
    ) -> Iterator[dict[str, Any]]:
        """Walk legacy /customers by keyset: each next page filters on the last row seen."""
        query = first_filter
        while True:
            params: dict[str, Any] = {"skippages": 0, "pagesize": PAGE_SIZE, "sort": sort}
            if query:
                params["filter"] = query
            data = self._call("GET", f"{self.rest_base_url}/customers", params=params).json()
            collection = data.get("collection") or []
            yield from collection
            if after is None or not collection or "nextPage" not in (data.get("pagination") or {}):
                return
            query = after(collection[-1])

    def _customer_from_legacy(self, data: dict[str, Any]) -> SourceRecord:
        fields: Fields = {canonical: normalize(data.get(prop)) for canonical, prop in _LEGACY_SCALARS.items()}
        fields["customer_number"] = normalize(data.get("customerNumber"))
        for canonical, (prop, number_prop) in (_LEGACY_REFS | _LEGACY_OPTIONAL_REFS).items():
            fields[canonical] = normalize((data.get(prop) or {}).get(number_prop))
        fields["barred"] = bool(data.get("barred", False))
        return SourceRecord(
            object_type=ObjectType.CUSTOMER,
            external_id=str(data["customerNumber"]),
            fields=clean_fields(ObjectType.CUSTOMER, fields),  # crmsync.text_rules: one cleaning rule
            modified_at=_parse_time(data.get("lastUpdated")),
        )

    def _customer_from_api(self, data: dict[str, Any], *, written: bool = False) -> SourceRecord:
        """``written``: ``data`` is a body we sent, whose objectVersion is already outdated.

        The Customers API cannot see legacy-only fields (``external_number``): they are left out of
        ``fields`` (unknown), never set to None, which would tell the engine they are empty.
        """
        fields: Fields = {canonical: normalize(data.get(prop)) for canonical, prop in _API_SCALARS.items()}
        fields["customer_number"] = normalize(data.get("customerNumber"))
        for canonical, prop in (_API_REFS | _API_OPTIONAL_REFS).items():
            fields[canonical] = normalize(data.get(prop))
        fields["barred"] = not data.get("access", False)
        return SourceRecord(
            object_type=ObjectType.CUSTOMER,
            external_id=str(data["customerNumber"]),
            fields=clean_fields(ObjectType.CUSTOMER, fields),  # crmsync.text_rules: one cleaning rule
            version=None if written else data.get("objectVersion"),
        )

    # ---------------------------------------------------------------- contacts

    def _create_contact(self, item: WriteItem) -> SourceRecord:
        parent = item.parent_external_id
        if not parent or not parent.isdigit():
            raise ValidationError("an e-conomic contact needs its customer's number", code="missing_parent")
        name = normalize(item.fields.get("name"))
        if not name:
            raise ValidationError("an e-conomic contact needs a name", code="missing_name")
        body: dict[str, Any] = {"customerNumber": int(parent), "name": str(name)}
        for canonical, prop in _CONTACT_PROPS.items():
            value = normalize(item.fields.get(canonical))
            if value is not None and canonical != "name":
                body[prop] = str(value)
        key = self.idempotency_key(ObjectType.CONTACT, item.record_id)
        for attempt in range(3):
            response = self._call(
                "POST", f"{self.customers_api_url}/Contacts", json=body, headers={"Idempotency-Key": key}
            )
            number = str(response.json()["number"])
            if response.headers.get("X-ResultFromCache", "").lower() != "true":
                return self._contact_from_api({**body, "number": number}, written=True)
            current = self.get(ObjectType.CONTACT, number)
            if current is not None:
                return current
            key = f"{self.idempotency_key(ObjectType.CONTACT, item.record_id)}-{attempt + 1}"
        raise TransientError("e-conomic kept replaying a create whose contact no longer exists")

    def _update_contact(self, item: WriteItem) -> SourceRecord:
        number = _as_number(item.external_id, "external_id")
        url = f"{self.customers_api_url}/Contacts/{number}"
        for attempt in range(CONFLICT_RETRIES + 1):
            current = {k: v for k, v in self._call("GET", url).json().items() if v is not None}
            if current.get("isDeleted"):
                raise NotFoundError(f"e-conomic contact {number} is deleted", status=404, code="deleted")
            _refuse_stale(item.expected, self._contact_from_api(current).fields)
            body = {k: v for k, v in current.items() if k not in _CONTACT_READ_ONLY}
            for canonical, raw in item.fields.items():
                prop, value = _CONTACT_PROPS.get(canonical), normalize(raw)
                if prop is None:
                    continue
                if value is not None:
                    body[prop] = str(value)
                elif canonical != "name":
                    body.pop(prop, None)
            if item.parent_external_id and item.parent_external_id.isdigit():
                body["customerNumber"] = int(item.parent_external_id)
            if body == {k: v for k, v in current.items() if k not in _CONTACT_READ_ONLY}:
                return self._contact_from_api(current)
            try:
                self._call("PUT", f"{self.customers_api_url}/Contacts", json=body)
            except ConflictError:
                if attempt == CONFLICT_RETRIES:
                    raise
                continue
            return self._contact_from_api(body, written=True)
        raise AssertionError("unreachable")  # pragma: no cover

    def _contact_pages(self, query: str | None) -> Iterator[dict[str, Any]]:
        """Walk /Contacts by cursor (1000 per page)."""
        cursor: str | None = None
        while True:
            params: dict[str, str] = {}
            if query:
                params["filter"] = query
            if cursor:
                params["cursor"] = cursor
            data = self._call("GET", f"{self.customers_api_url}/Contacts", params=params).json()
            yield from data.get("items") or []
            cursor = data.get("cursor")
            if not cursor:
                return

    def _contact_from_api(self, data: dict[str, Any], *, written: bool = False) -> SourceRecord:
        """``written``: ``data`` is a body we sent, whose objectVersion is already outdated."""
        fields: Fields = {canonical: normalize(data.get(prop)) for canonical, prop in _CONTACT_PROPS.items()}
        customer = data.get("customerNumber")
        return SourceRecord(
            object_type=ObjectType.CONTACT,
            external_id=str(data["number"]),
            fields=clean_fields(ObjectType.CONTACT, fields),  # crmsync.text_rules: one cleaning rule
            parent_external_id=str(customer) if customer is not None else None,
            modified_at=_parse_time(data.get("lastUpdated")),
            version=None if written else data.get("objectVersion"),
            deleted=bool(data.get("isDeleted", False)),
        )

    # ---------------------------------------------------------------- plumbing

    def idempotency_key(self, object_type: ObjectType, record_id: str) -> str:
        """Stable per (connection, record): a re-sent create replays instead of duplicating."""
        return str(
            uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f"{self.connection_id}:{object_type.value}:{record_id}")
        )

    def _call(
        self, method: str, url: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        return self.http.request(method, url, headers={**self._headers, **(headers or {})}, **kwargs)

    def _last_request_id(self) -> str | None:
        response = self.http.last_response
        return response.headers.get("X-RequestId") if response is not None else None

    @staticmethod
    def _failed(item: WriteItem, exc: VendorError) -> WriteResult:
        return WriteResult(
            record_id=item.record_id,
            ok=False,
            external_id=item.external_id,
            error=exc.message,
            error_code=exc.code or type(exc).__name__,
            retryable=exc.retryable,
            request_id=exc.request_id,
            retry_after=exc.retry_after,
        )

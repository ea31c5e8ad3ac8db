"""In-memory fake of Visma e-conomic: legacy REST, Customers API v3.1.0 and customer webhooks.

One shared state is served through two API surfaces of one WSGI app, so a single base URL serves both:

* legacy REST at ``/`` (like ``https://restapi.e-conomic.com``): ``/customers``,
  ``/customers/{n}``, ``/customers/{n}/contacts[/{m}]``, ``/customers/{n}/invoices/booked``;
* the Customers API at ``/customersapi/v3.1.0/`` (like ``https://apis.e-conomic.com/customersapi/v3.1.0/``):
  ``/Customers``, ``/Customers/{number}``, ``/Contacts``, ``/Contacts/{number}``;
* a test-control surface at ``/_fake/`` (stats, reset, faults, webhook URL, seeding, bookkeeper edits).

Each customer is stored once, under the Customers API's property names (the superset) plus a few
legacy-only ones (``publicEntryNumber``, ``customerContact``, ``balance``, ``dueAmount``); both views are
rendered from it, so a change through either API is visible through the other. Every change stamps
``lastUpdated`` (second precision, UTC) and a new ``objectVersion``.

Behaviour follows the e-conomic fact sheet (economic-api.md) and the official schemas. Where the real
API is undocumented the fake makes a choice, listed here so nobody mistakes it for a verified fact:

* A PUT through either API is a full replace *of the properties that API exposes*; properties only
  the other API knows (e.g. ``iban`` for legacy, ``publicEntryNumber`` for the Customers API) survive.
* Customers API: ``name``, ``currency``, ``customerGroupNumber``, ``paymentTermId`` and ``zone`` are
  required on POST/PUT (the legacy API requires the same references). A missing ``objectVersion`` on
  PUT is a 400 validation error; a stale one is 409. A ``null`` property value is a 400 validation error
  on POST/PUT even where the schema marks it ``nullable`` (the API's "Nulling" rule: "We do not generally
  accept null as a value ... To null a property you must exclude it"); GETs may still show nulls. Booleans follow the documented rule "a false
  boolean is omitted": an omitted ``access`` therefore means *barred*.
* A customer created without a number gets the lowest number a delete/renumber freed (the live API
  reused a deleted number; which one is undocumented), else the highest + 1 (``reuse_deleted_numbers``).
* Contacts are never physically deleted: DELETE /Contacts marks ``isDeleted``; lists include deleted
  contacts (legacy shows ``deleted: true``). Deleting a customer marks its contacts deleted.
* Webhooks: one customer event type ("Customer updated") with ``[OLDNUMBER]``/``[NEWNUMBER]``; on
  create, update and delete both carry the customer's number, on renumber the old and the new one. No
  separate contact event is known to exist, so a contact change fires its customer's webhook. Delivery
  is a POST with body ``{}`` unless a body template is configured; failed deliveries are retried a few
  times.
* Idempotency-Key (non-GET, both APIs): successful (2xx) responses are cached for an hour and replayed
  with ``X-ResultFromCache: true``; failures are not cached, so a retry can still succeed.
* Booked invoices exist only as test state (``book_invoice``; the fake does no invoicing). Booking one
  adds its gross amount to the customer's ``balance`` but does not touch ``lastUpdated`` or fire the
  customer webhook; VAT defaults to 25 % in VAT zone 1 and 0 elsewhere, and amounts in base currency
  equal the invoice amounts (no exchange rates). A renumbered customer keeps its booked invoices.
  A customer with booked invoices cannot be deleted (documented); the refusal is a 400 with a fake-chosen
  error code, through both APIs.
* Error codes other than E04500, E04810 and E06000 are the fake's own choice.
* Every API call costs ``call_costs[method]`` tokens (1 by default) from one bucket shared by both
  APIs; test-control calls are free and not counted.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import json
import math
import operator
import random
import re
import threading
import time
import unicodedata
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote_plus

import httpx
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer
from werkzeug.wrappers import Request, Response

from local.fakes.serving import serve_in_thread, stop_server

__all__ = [
    "CUSTOMERS_API_PREFIX",
    "EconomicFake",
    "EconomicFaults",
    "FakeClock",
    "ReferenceData",
    "ScheduledFault",
    "WebhookDelivery",
    "WebhookEvent",
    "generate_customers",
]

LEGACY_PUBLIC_BASE = "https://restapi.e-conomic.com"
CUSTOMERS_API_PREFIX = "/customersapi/v3.1.0"
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 20
MAX_IN_VALUES = 200
MAX_NUMBER = 999_999_999

E_REQUIRED = "E04300"  # fake-chosen
E_TYPE = "E04010"  # fake-chosen
E_RANGE = "E04020"  # fake-chosen
E_NO_IDENTIFIER = "E04500"  # documented
E_NOT_FOUND = "E06000"  # documented
E_DUPLICATE = "E06010"  # fake-chosen
E_PAGE_SIZE = "E04810"  # verified live
E_HAS_BOOKED_INVOICES = "E06020"  # fake-chosen
DOMESTIC_VAT_RATE = 0.25


# --------------------------------------------------------------------------------------------------
# Small value types


class FakeClock:
    """Wall clock that stamps ``lastUpdated``; tests freeze or advance it to control second boundaries."""

    def __init__(self) -> None:
        self._frozen: datetime | None = None
        self._offset = timedelta(0)

    def now(self) -> datetime:
        base = self._frozen if self._frozen is not None else datetime.now(UTC)
        return base + self._offset

    def freeze(self, at: datetime | None = None) -> None:
        self._frozen = (at or datetime.now(UTC)).astimezone(UTC)
        self._offset = timedelta(0)

    def unfreeze(self) -> None:
        self._frozen = None
        self._offset = timedelta(0)

    def advance(self, seconds: float) -> None:
        self._offset += timedelta(seconds=seconds)


@dataclass
class EconomicFaults:
    """Random fault injection; everything is off by default and ``seed`` makes runs reproducible.

    Rates are probabilities (0..1) per API call (after authentication, the token bucket and routing) or
    per webhook call. A fault answered before the handler has no effect. Precedence within one call:
    429, 5xx, lost response (writes), timeout, timeout after commit (writes). A draw is made for each of
    429 and 5xx on every call and for lost responses on every write (as before), for the timeouts only
    when their rate is not 0. Every
    injected fault answer (random or ``inject``-ed) is counted in ``stats()["faults"]``.

    Seeding: API faults, webhook drop/duplicate, webhook reorder shuffles and random latency use separate
    ``random.Random`` streams seeded from ``seed`` (``seed``, ``seed+1``, ``seed+2``, ``seed+3``). They are
    reseeded by ``reset()`` and whenever faults are replaced (``fake.faults = ...`` or ``set_faults``), so
    a run that switches faults on after seeding is reproducible as long as its calls are sequential.
    """

    rate_429: float = 0.0
    rate_5xx: float = 0.0
    latency: float = 0.0
    """Fixed seconds added before every API call."""
    webhook_drop_rate: float = 0.0
    """Webhook calls never sent (no attempt, no retry); logged with ``dropped=True``."""
    webhook_duplicate_rate: float = 0.0
    """Webhook calls sent twice in a row (the second logged with ``duplicate=True``)."""
    lost_response_rate: float = 0.0
    """Writes that are committed but answered with 504, as if the response was lost on the way."""
    retry_after: float = 1.0
    """``Retry-After`` seconds sent with randomly injected 429s."""
    seed: int = 0
    rate_timeout: float = 0.0
    """Calls that hang ``timeout_s`` seconds and then answer 504 without any effect, so a client with a
    shorter timeout sees a read timeout (``stats()["timeouts"]``). The hang holds neither the fake's lock
    nor other requests (the server is threaded); an in-process ``WSGITransport`` client, which has no
    timeouts, waits ``timeout_s`` and gets the 504."""
    rate_timeout_after_commit: float = 0.0
    """Writes that are committed (2xx, cached under their Idempotency-Key) and then hang ``timeout_s``
    before a 504 (``stats()["timeouts_after_commit"]``): "timed out, but it was written"."""
    timeout_s: float = 35.0
    """How long an injected timeout hangs (default: longer than the connector's 30 s client timeout)."""
    latency_max_s: float = 0.0
    """Extra uniform random latency ``0..latency_max_s`` before every API call, on top of ``latency``
    (``stats()["slow_replies"]``, ``stats()["added_latency_s"]``)."""
    webhook_reorder: bool = False
    """Deliver the webhook calls queued when the delivery worker picks up work (a batch, as HubSpot's
    fake does with its POST batches) in a shuffled order (``stats()["webhooks"]["reordered"]`` counts
    batches whose order changed). Combine with ``webhook_delay_s`` to let calls pile up."""
    webhook_delay_s: float = 0.0
    """Hold the oldest queued webhook call back until it is this many seconds old; the calls queued by
    then go out with it as one batch (so a call waits at most this long, the first exactly this long;
    ``stats()["webhooks"]["delayed"]`` counts calls held back)."""

    def __post_init__(self) -> None:
        for name in (
            "rate_429",
            "rate_5xx",
            "lost_response_rate",
            "rate_timeout",
            "rate_timeout_after_commit",
            "webhook_drop_rate",
            "webhook_duplicate_rate",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a probability between 0 and 1")
        for name in ("latency", "latency_max_s", "timeout_s", "webhook_delay_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")


@dataclass
class ScheduledFault:
    """A deterministic fault for the next matching call(s); see ``EconomicFake.inject``."""

    status: int
    remaining: int = 1
    retry_after: float | None = None
    method: str | None = None
    path_contains: str | None = None
    after_commit: bool = False
    hang_s: float | None = None
    """Seconds the reply hangs (outside the fake's lock) before the fault answer: an injected timeout
    (``None``: no timeout; ``0`` still counts as one)."""

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        return not self.path_contains or self.path_contains.lower() in path.lower()


@dataclass
class ReferenceData:
    """What references may point at (customer groups, payment terms, ...); unknown ones are a 400 E06000."""

    customer_groups: set[int] = field(default_factory=lambda: {1, 2, 3})
    payment_terms: set[int] = field(default_factory=lambda: {1, 2, 3, 4, 5, 6, 7, 8})
    vat_zones: set[int] = field(default_factory=lambda: {1, 2, 3, 4})
    layouts: set[int] = field(default_factory=lambda: {16, 19, 20, 21})
    currencies: set[str] = field(
        default_factory=lambda: {"DKK", "EUR", "SEK", "NOK", "GBP", "USD", "CHF", "PLN"}
    )


@dataclass(frozen=True)
class WebhookEvent:
    old_number: int
    new_number: int
    action: str
    """created | updated | deleted | renumbered | contact (informational: the real webhook has no action)."""
    at: datetime


@dataclass
class WebhookDelivery:
    event: WebhookEvent
    url: str
    body: str
    content_type: str
    status: int | None = None
    error: str | None = None
    attempts: int = 0
    dropped: bool = False
    duplicate: bool = False


@dataclass
class _CustomerRow:
    number: int
    data: dict[str, Any]
    last_updated: datetime
    object_version: str


@dataclass
class _ContactRow:
    number: int
    customer_number: int
    data: dict[str, Any]
    sort_key: int
    deleted: bool
    last_updated: datetime
    object_version: str


@dataclass
class _BookedInvoiceRow:
    number: int
    customer_number: int
    data: dict[str, Any]
    """What was invoiced, frozen at booking time (date, amounts, recipient, references)."""


@dataclass(frozen=True)
class _Spec:
    kind: str  # str | int | num | bool | datetime
    max_length: int | None = None
    min_length: int = 0
    nullable: bool = True


@dataclass(frozen=True)
class _FilterField:
    get: Callable[[Any], Any]
    kind: str
    ops: frozenset[str] | None = None  # None: every operator


@dataclass
class _Ctx:
    request: Request
    request_id: str
    api: str  # legacy | customers
    base: str
    cost: int = 1
    hang_s: float = 0.0  # an injected hang, slept after the lock is released


_MISSING = object()

# --------------------------------------------------------------------------------------------------
# Field tables

_LEGACY_SCALARS: dict[str, tuple[str, _Spec]] = {
    "name": ("name", _Spec("str", 255, 1)),
    "currency": ("currency", _Spec("str", 3, 3)),
    "address": ("address1", _Spec("str", 510)),
    "city": ("city", _Spec("str", 50)),
    "zip": ("postCode", _Spec("str", 30)),
    "country": ("country", _Spec("str", 50)),
    "email": ("email", _Spec("str", 255)),
    "telephoneAndFaxNumber": ("phone", _Spec("str", 255)),
    "mobilePhone": ("mobilePhone", _Spec("str", 50)),
    "website": ("homepage", _Spec("str", 255)),
    "corporateIdentificationNumber": ("cvrNo", _Spec("str", 40)),
    "vatNumber": ("vatNo", _Spec("str", 20)),
    "ean": ("eanLocationNumber", _Spec("str", 13)),
    "pNumber": ("pnr", _Spec("str", 10, 10)),
    "publicEntryNumber": ("publicEntryNumber", _Spec("str", 50)),
    "creditLimit": ("creditMaximum", _Spec("num")),
    "barred": ("barred", _Spec("bool")),
}

# legacy reference object -> (number property, internal key, self path)
_LEGACY_REFS: dict[str, tuple[str, str, str]] = {
    "customerGroup": ("customerGroupNumber", "customerGroupNumber", "/customer-groups/{ref}"),
    "paymentTerms": ("paymentTermsNumber", "paymentTermId", "/payment-terms/{ref}"),
    "vatZone": ("vatZoneNumber", "zone", "/vat-zones/{ref}"),
    "layout": ("layoutNumber", "layoutGroup", "/layouts/{ref}"),
    "salesPerson": ("employeeNumber", "ourRef", "/employees/{ref}"),
    "attention": ("customerContactNumber", "defaultAttention", "/customers/{n}/contacts/{ref}"),
    "customerContact": ("customerContactNumber", "customerContact", "/customers/{n}/contacts/{ref}"),
    "defaultDeliveryLocation": (
        "deliveryLocationNumber",
        "defaultDeliveryLocation",
        "/customers/{n}/delivery-locations/{ref}",
    ),
}
_LEGACY_REQUIRED = ("name", "currency", "customerGroup", "paymentTerms", "vatZone")
_LEGACY_NOT_ON_POST = frozenset({"attention", "customerContact", "defaultDeliveryLocation"})
_LEGACY_WRITABLE_KEYS = frozenset(
    [key for key, _ in _LEGACY_SCALARS.values()] + [key for _, key, _ in _LEGACY_REFS.values()]
)

_S = _Spec
_API_CUSTOMER_FIELDS: dict[str, _Spec] = {
    "customerGroupNumber": _S("int", nullable=False),
    "zone": _S("int", nullable=False),
    "currency": _S("str", 3),
    "access": _S("bool", nullable=False),
    "name": _S("str", 255),
    "address1": _S("str", 255),
    "address2": _S("str", 255),
    "postCode": _S("str", 30),
    "city": _S("str", 50),
    "country": _S("str", 50),
    "contactPerson": _S("str", 50),
    "phone": _S("str", 255),
    "email": _S("str", 255),
    "paymentDays": _S("int"),
    "bankAccount": _S("str", 50),
    "cvrNo": _S("str", 40),
    "ourRef": _S("int"),
    "layoutGroup": _S("int"),
    "paymentTermId": _S("int"),
    "homepage": _S("str", 255),
    "defaultTheirRef": _S("int"),
    "defaultAttention": _S("int"),
    "layoutGroupPrint": _S("int"),
    "language": _S("int"),
    "discountGroupNumber": _S("int"),
    "priceGroupNumber": _S("int"),
    "defaultDeliveryLocation": _S("int"),
    "eanLocationNumber": _S("str", 13),
    "voucherNumber": _S("str", 30),
    "county": _S("str", 50),
    "vatNo": _S("str", 50),
    "creditMaximum": _S("num"),
    "recipientPeppol": _S("str", 30),
    "defaultDiscountPct": _S("num"),
    "bankGiroNumber": _S("str", 20),
    "iban": _S("str", 50),
    "swift": _S("str", 20),
    "directDebitMandateDate": _S("str", 40),
    "pnr": _S("str", 40),
    "nemHandelReceiverType": _S("int"),
    "mobilePhone": _S("str", 50),
    "emailAttachmentLanguage": _S("int", nullable=False),
    "defaultDisableEInvoicing": _S("bool", nullable=False),
    "defaultInvoiceRecipient": _S("str", 255),
    "defaultInvoiceTemplate": _S("int"),
    "defaultOrderRecipient": _S("str", 255),
    "defaultOrderTemplate": _S("int"),
    "defaultQuoteRecipient": _S("str", 255),
    "defaultQuoteTemplate": _S("int"),
    "defaultReminderRecipient": _S("str", 255),
    "defaultReminderTemplate": _S("int"),
    "defaultStatementOfAccountRecipient": _S("str", 255),
    "defaultStatementOfAccountTemplate": _S("int"),
}
_API_CUSTOMER_REQUIRED = ("name", "currency", "customerGroupNumber", "paymentTermId", "zone")
_API_CUSTOMER_KEYS = frozenset(("barred" if k == "access" else k) for k in _API_CUSTOMER_FIELDS)

_API_CONTACT_FIELDS: dict[str, _Spec] = {
    "customerNumber": _S("int", nullable=False),
    "name": _S("str", 255, nullable=False),
    "email": _S("str", 255),
    "phone": _S("str", 50),
    "notes": _S("str", 2000),
    "eInvoiceId": _S("str", 50),
    "receiveQuotes": _S("bool", nullable=False),
    "receiveOrders": _S("bool", nullable=False),
    "receiveInvoices": _S("bool", nullable=False),
    "receiveEInvoices": _S("bool", nullable=False),
    "receiveStatementOfAccounts": _S("bool", nullable=False),
    "receiveReminders": _S("bool", nullable=False),
}
_CONTACT_NOTIFICATIONS = {
    "invoices": "receiveInvoices",
    "orders": "receiveOrders",
    "quotations": "receiveQuotes",
    "reminders": "receiveReminders",
}

_CMP_OPS = frozenset({"eq", "ne", "lt", "lte", "gt", "gte"})
_NUM_OPS = _CMP_OPS | {"in", "nin"}


def _data_getter(key: str, default: Any = None) -> Callable[[Any], Any]:
    def get(row: Any) -> Any:
        return row.data.get(key, default)

    return get


def _number(row: Any) -> int:
    return int(row.number)


def _last_updated(row: Any) -> datetime:
    return row.last_updated  # type: ignore[no-any-return]


def _customer_of(row: _ContactRow) -> int:
    return row.customer_number


def _sort_key(row: _ContactRow) -> int:
    return row.sort_key


def _deleted(row: _ContactRow) -> bool:
    return row.deleted


def _active(row: _ContactRow) -> bool:
    return not row.deleted


_LEGACY_CUSTOMER_FILTER: dict[str, _FilterField] = {
    "address": _FilterField(_data_getter("address1"), "str"),
    "balance": _FilterField(_data_getter("balance"), "num"),
    "barred": _FilterField(_data_getter("barred", False), "bool"),
    "city": _FilterField(_data_getter("city"), "str"),
    "corporateIdentificationNumber": _FilterField(_data_getter("cvrNo"), "str"),
    "country": _FilterField(_data_getter("country"), "str"),
    "creditLimit": _FilterField(_data_getter("creditMaximum"), "num"),
    "currency": _FilterField(_data_getter("currency"), "str"),
    "customerNumber": _FilterField(_number, "int"),
    "ean": _FilterField(_data_getter("eanLocationNumber"), "str"),
    "email": _FilterField(_data_getter("email"), "str"),
    "lastUpdated": _FilterField(_last_updated, "datetime"),
    "mobilePhone": _FilterField(_data_getter("mobilePhone"), "str"),
    "name": _FilterField(_data_getter("name"), "str"),
    "pNumber": _FilterField(_data_getter("pnr"), "str"),
    "publicEntryNumber": _FilterField(_data_getter("publicEntryNumber"), "str"),
    "telephoneAndFaxNumber": _FilterField(_data_getter("phone"), "str"),
    "vatNumber": _FilterField(_data_getter("vatNo"), "str"),
    "website": _FilterField(_data_getter("homepage"), "str"),
    "zip": _FilterField(_data_getter("postCode"), "str"),
    "customerGroup.customerGroupNumber": _FilterField(_data_getter("customerGroupNumber"), "int"),
}
_LEGACY_CUSTOMER_SORTABLE = frozenset(_LEGACY_CUSTOMER_FILTER) - {
    "barred",
    "customerGroup.customerGroupNumber",
    "pNumber",
}

_LEGACY_CONTACT_FILTER: dict[str, _FilterField] = {
    "customerContactNumber": _FilterField(_number, "int"),
    "email": _FilterField(_data_getter("email"), "str"),
    "name": _FilterField(_data_getter("name"), "str"),
    "phone": _FilterField(_data_getter("phone"), "str"),
    "eInvoiceId": _FilterField(_data_getter("eInvoiceId"), "str"),
    "customer.customerNumber": _FilterField(_customer_of, "int"),
    "sortKey": _FilterField(_sort_key, "int"),
}
_LEGACY_CONTACT_SORTABLE = frozenset(_LEGACY_CONTACT_FILTER)


def _invoice_customer(row: _BookedInvoiceRow) -> int:
    return row.customer_number


def _recipient_getter(key: str) -> Callable[[Any], Any]:
    def get(row: Any) -> Any:
        return row.data["recipient"].get(key)

    return get


_LEGACY_BOOKED_INVOICE_FILTER: dict[str, _FilterField] = {
    "bookedInvoiceNumber": _FilterField(_number, "int"),
    "date": _FilterField(_data_getter("date"), "str"),
    "currency": _FilterField(_data_getter("currency"), "str"),
    "customer.customerNumber": _FilterField(_invoice_customer, "int"),
    "paymentTerms.paymentTermsNumber": _FilterField(_data_getter("paymentTermsNumber"), "int"),
    "recipient.name": _FilterField(_recipient_getter("name"), "str"),
    "recipient.city": _FilterField(_recipient_getter("city"), "str"),
    "references.salesPerson.employeeNumber": _FilterField(_data_getter("salesPerson"), "int"),
}
_LEGACY_BOOKED_INVOICE_SORTABLE = frozenset(_LEGACY_BOOKED_INVOICE_FILTER)

_API_CUSTOMER_FILTER: dict[str, _FilterField] = {"customerNumber": _FilterField(_number, "int", _NUM_OPS)}
_API_CONTACT_FILTER: dict[str, _FilterField] = {
    "number": _FilterField(_number, "int", _NUM_OPS),
    "customerNumber": _FilterField(_customer_of, "int", _NUM_OPS),
    "userInterfaceNumber": _FilterField(_sort_key, "int", _NUM_OPS),
    "name": _FilterField(_data_getter("name"), "str", _NUM_OPS | {"like"}),
    "email": _FilterField(_data_getter("email"), "str", _NUM_OPS | {"like"}),
    "eInvoiceId": _FilterField(_data_getter("eInvoiceId"), "str", _CMP_OPS),
    "lastUpdated": _FilterField(_last_updated, "datetime", _CMP_OPS),
    "isDeleted": _FilterField(_deleted, "bool", _CMP_OPS),
    "active": _FilterField(_active, "bool", _CMP_OPS),
}

# --------------------------------------------------------------------------------------------------
# Filter language (shared by both APIs): name$eq:Joe$and:(city$like:*port$or:age$lt:40)


class FilterError(ValueError):
    """The filter does not parse or uses a property/operator the resource does not allow."""

    def __init__(self, message: str, *, unknown_field: str | None = None) -> None:
        super().__init__(message)
        self.unknown_field = unknown_field


@dataclass(frozen=True)
class _Pred:
    field: str
    op: str
    value: Any  # str | None (for $null:) | list for $in/$nin
    like: re.Pattern[str] | None = None


@dataclass(frozen=True)
class _BoolOp:
    op: str
    items: tuple[Any, ...]


_PRED_HEAD = re.compile(r"([A-Za-z][A-Za-z0-9_.]*)\$(gte|gt|lte|lt|eq|ne|like|in|nin):")
_ESCAPABLE = "$()*,[]"


class _FilterParser:
    """Recursive descent: ``$and:`` binds tighter than ``$or:``; parentheses group."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def parse(self) -> Any:
        node = self._or()
        if self.i != len(self.s):
            raise FilterError(f"Unexpected input at position {self.i}: '{self.s[self.i :]}'.")
        return node

    def _consume(self, token: str) -> bool:
        if self.s.startswith(token, self.i):
            self.i += len(token)
            return True
        return False

    def _or(self) -> Any:
        items = [self._and()]
        while self._consume("$or:"):
            items.append(self._and())
        return items[0] if len(items) == 1 else _BoolOp("or", tuple(items))

    def _and(self) -> Any:
        items = [self._primary()]
        while self._consume("$and:"):
            items.append(self._primary())
        return items[0] if len(items) == 1 else _BoolOp("and", tuple(items))

    def _primary(self) -> Any:
        if self._consume("("):
            node = self._or()
            if not self._consume(")"):
                raise FilterError("Missing closing parenthesis.")
            return node
        match = _PRED_HEAD.match(self.s, self.i)
        if not match:
            raise FilterError(f"Could not parse predicate at position {self.i}.")
        self.i = match.end()
        name, op = match.group(1), match.group(2)
        if op in ("in", "nin"):
            return _Pred(name, op, self._list())
        text, pattern, wildcard, is_null = self._value(stop_at=")")
        if is_null:
            return _Pred(name, op, None)
        like = None
        if op == "like":
            like = re.compile(pattern if wildcard else f".*{pattern}.*", re.IGNORECASE | re.DOTALL)
        return _Pred(name, op, text, like)

    def _value(self, stop_at: str) -> tuple[str, str, bool, bool]:
        """Read one value up to an unescaped terminator: (text, like-regex, has wildcard, is $null:)."""
        text: list[str] = []
        regex: list[str] = []
        wildcard = False
        is_null = False
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in stop_at:
                break
            if c == "$":
                if self.s.startswith("$and:", self.i) or self.s.startswith("$or:", self.i):
                    break
                if self.s.startswith("$null:", self.i):
                    is_null = True
                    self.i += len("$null:")
                    continue
                nxt = self.s[self.i + 1 : self.i + 2]
                if nxt and nxt in _ESCAPABLE:
                    text.append(nxt)
                    regex.append(re.escape(nxt))
                    self.i += 2
                    continue
                raise FilterError(f"Unescaped '$' at position {self.i}.")
            if c == "*":
                wildcard = True
                regex.append(".*")
            else:
                regex.append(re.escape(c))
            text.append(c)
            self.i += 1
        if is_null and text:
            raise FilterError("$null: cannot be combined with a value.")
        return "".join(text), "".join(regex), wildcard, is_null

    def _list(self) -> list[str | None]:
        if not self._consume("["):
            raise FilterError("$in:/$nin: expects a bracketed list.")
        values: list[str | None] = []
        while True:
            text, _, _, is_null = self._value(stop_at=",]")
            values.append(None if is_null else text)
            if self._consume(","):
                continue
            if self._consume("]"):
                break
            raise FilterError("Unterminated list.")
        if len(values) > MAX_IN_VALUES:
            raise FilterError(f"The max supported length of an array is {MAX_IN_VALUES}.")
        return values


_FILTER_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?Z?)?$")


def _coerce(value: str | None, kind: str, name: str) -> Any:
    if value is None:
        return None
    try:
        if kind == "int":
            if not re.fullmatch(r"-?\d+", value):
                raise ValueError(value)
            return int(value)
        if kind == "num":
            return float(value)
        if kind == "bool":
            lowered = value.lower()
            if lowered not in ("true", "false"):
                raise ValueError(value)
            return lowered == "true"
        if kind == "datetime":
            m = _FILTER_TIME.match(value)
            if not m:
                raise ValueError(value)
            year, month, day, hour, minute, second = (int(p) if p else 0 for p in m.groups())
            return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as exc:
        raise FilterError(f"Invalid value '{value}' for property '{name}'.") from exc
    return value.casefold()


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


_COMPARE = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}


def compile_filter(text: str, fields: Mapping[str, _FilterField]) -> Callable[[Any], bool]:
    """Parse an e-conomic filter into a predicate over stored rows (raises FilterError)."""
    return _compile(_FilterParser(text).parse(), fields)


def _compile(node: Any, fields: Mapping[str, _FilterField]) -> Callable[[Any], bool]:
    if isinstance(node, _BoolOp):
        parts = [_compile(item, fields) for item in node.items]
        if node.op == "and":
            return lambda row: all(part(row) for part in parts)
        return lambda row: any(part(row) for part in parts)
    spec = fields.get(node.field)
    if spec is None:
        raise FilterError(f"Filtering is not allowed on property '{node.field}'.", unknown_field=node.field)
    if spec.ops is not None and node.op not in spec.ops:
        raise FilterError(f"Operator '${node.op}:' is not allowed on property '{node.field}'.")
    get = spec.get
    if node.op in ("in", "nin"):
        wanted = {_coerce(v, spec.kind, node.field) for v in node.value}
        negate = node.op == "nin"
        return lambda row: (_fold(get(row)) in wanted) != negate
    if node.op == "like":
        if node.like is None:
            raise FilterError("$null: cannot be used with $like:.")
        pattern = node.like
        return lambda row: (v := get(row)) is not None and pattern.fullmatch(str(v)) is not None
    target = _coerce(node.value, spec.kind, node.field)
    if node.op == "eq":
        return lambda row: _fold(get(row)) == target
    if node.op == "ne":
        return lambda row: _fold(get(row)) != target
    if target is None:
        raise FilterError(f"$null: cannot be used with ${node.op}:.")
    compare = _COMPARE[node.op]
    return lambda row: (v := _fold(get(row))) is not None and compare(v, target)


# --------------------------------------------------------------------------------------------------
# Helpers


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _net_urlencode(value: str) -> str:
    """Encode a query value like .NET's HttpUtility.UrlEncode, as e-conomic's links show it.

    Recorded: ``filter=name$like:Torsten`` comes back as ``filter=name%24like%3aTorsten``.
    """
    encoded = quote_plus(value, safe="-_.!*()")
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded)


def _check_value(value: Any, spec: _Spec) -> str | None:
    """Type/length check of one written value; returns a message template with ``{p}`` or None."""
    if value is None:
        names = {"str": "String", "int": "Integer", "num": "Number", "bool": "Boolean", "datetime": "String"}
        return f"Expected {names[spec.kind]} but got Null."
    if spec.kind in ("str", "datetime"):
        if not isinstance(value, str):
            return f"Expected String but got {type(value).__name__}."
        if spec.max_length is not None and len(value) > spec.max_length:
            return f"{{p}} is too long. Max length is {spec.max_length}."
        if len(value) < spec.min_length:
            return f"{{p}} is too short. Min length is {spec.min_length}."
    elif spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return f"Expected Integer but got {type(value).__name__}."
    elif spec.kind == "num":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"Expected Number but got {type(value).__name__}."
    elif spec.kind == "bool" and not isinstance(value, bool):
        return f"Expected Boolean but got {type(value).__name__}."
    return None


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_NUMBER:
        return None
    return int(value)


def _ref_from_self(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    tail = value.rstrip("/").rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


class _TokenBucket:
    """e-conomic's token bucket: ``limit`` tokens refilled evenly over ``window`` seconds."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.tokens = float(limit)
        self._at = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.limit, self.tokens + (now - self._at) * self.limit / self.window)
        self._at = now

    def take(self, cost: int) -> float | None:
        """Spend ``cost`` tokens; returns None when allowed, else seconds until it would be."""
        self._refill()
        if self.tokens >= cost:
            self.tokens -= cost
            return None
        return max(1.0, math.ceil((cost - self.tokens) * self.window / self.limit))

    def header(self) -> str:
        used = max(0, round(self.limit - self.tokens))
        window = int(self.window) if float(self.window).is_integer() else self.window
        return f"token-limit-{self.limit}-per-{window}-seconds: {used}/{self.limit}"


_PROBLEM_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

_BOOKED_INVOICES_MESSAGE = "The customer has booked invoices and cannot be deleted."
_NOT_FOUND_HINT = (
    "The API tries to provide all the resource urls you need. If you have hard coded urls yourself, then "
    "try to look at the enclosing collection for hypermedia information on where the resource you are "
    "looking for could be."
)

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
}


# --------------------------------------------------------------------------------------------------
# The fake


class EconomicFake:
    """An in-memory e-conomic agreement. ``fake.app`` is the WSGI app; ``serve()`` runs it on localhost.

    Test control (Python; bookkeeper-style writes bump ``lastUpdated``/``objectVersion`` and fire the
    webhook but are not API calls): ``reset``, ``seed``, ``add_customer``, ``update_customer``,
    ``delete_customer``, ``renumber``, ``add_contact``, ``update_contact``, ``delete_contact``,
    ``book_invoice``, ``get_customer``, ``get_contact``, ``contacts_of``, ``customer_numbers``, ``stats``,
    ``reset_stats``, ``set_webhook``, ``flush_webhooks``, ``set_faults`` (or assign ``faults``), ``inject``,
    ``on_request``, ``clock``.

    Test control (HTTP, free and unauthenticated): ``GET /_fake/stats``, ``POST /_fake/reset``,
    ``GET|PUT /_fake/webhook`` (``{"url", "body", "contentType"}``), ``POST /_fake/webhooks/flush``,
    ``GET|PUT /_fake/faults`` (PUT an object of ``EconomicFaults`` fields; omitted ones are off),
    ``POST /_fake/seed`` (``{"customers", "contactsPerCustomer", "seed", "fireWebhooks"}``),
    ``POST /_fake/customers`` (legacy body), ``PATCH|DELETE /_fake/customers/{n}`` and
    ``POST /_fake/customers/{n}/renumber`` (``{"newNumber"}``).
    """

    def __init__(
        self,
        *,
        app_secret_token: str = "test-app-secret",
        agreement_grant_token: str = "test-grant-token",
        rate_limit: tuple[int, float] = (1_000_000, 60.0),
        call_costs: Mapping[str, int] | None = None,
        faults: EconomicFaults | None = None,
        clock: FakeClock | None = None,
        reference: ReferenceData | None = None,
        webhook_url: str | None = None,
        webhook_body: str | None = None,
        webhook_content_type: str = "application/json",
        webhook_client: httpx.Client | None = None,
        webhook_sink: Callable[[WebhookDelivery], int | None] | None = None,
        webhook_max_attempts: int = 3,
        webhook_retry_delay: float = 0.05,
        cursor_page_size: int = 1000,
        link_base: str | None = None,
        idempotency_ttl: float = 3600.0,
        reuse_deleted_numbers: bool = True,
    ) -> None:
        """``link_base`` pins the host in legacy ``self``/paging links (default: the request's host).

        ``reuse_deleted_numbers``: a customer created without a number gets the lowest number freed by a
        delete or renumber (anywhere in the range, not only the highest), else highest + 1. ``False``:
        always highest + 1 (which still reuses a deleted highest number)."""
        self.app_secret_token = app_secret_token
        self.agreement_grant_token = agreement_grant_token
        self.rate_limit = rate_limit
        self.call_costs = dict(call_costs or {})
        self.clock = clock or FakeClock()
        self.reference = reference or ReferenceData()
        self.cursor_page_size = cursor_page_size
        self.link_base = link_base.rstrip("/") if link_base else None
        self.idempotency_ttl = idempotency_ttl
        self.reuse_deleted_numbers = reuse_deleted_numbers
        self.webhook_url = webhook_url
        self.webhook_body = webhook_body
        self.webhook_content_type = webhook_content_type
        self.webhook_sink = webhook_sink
        self.webhook_max_attempts = webhook_max_attempts
        self.webhook_retry_delay = webhook_retry_delay
        self._webhook_client = webhook_client
        self._owns_webhook_client = webhook_client is None
        self._lock = threading.RLock()
        self._hooks: list[Callable[[str, str], None]] = []
        self._outbox: deque[tuple[float, WebhookEvent]] = deque()  # (queued at, monotonic), event
        self._outbox_cv = threading.Condition()
        self._pending = 0
        self._generation = 0  # bumped by reset(): calls taken out before it are not delivered
        self._wake_hangs = threading.Event()  # set by shutdown() to end injected hangs early
        self._worker: threading.Thread | None = None
        self._stopping = False
        self._server: BaseWSGIServer | None = None
        self._map = Map(
            [
                Rule(rule, endpoint=endpoint, methods=list(methods))
                for endpoint, (_, rule, methods) in _ROUTES.items()
            ],
            strict_slashes=False,
        )
        self._faults = faults or EconomicFaults()
        self.reset()

    # ---------------------------------------------------------------- state and test control

    def reset(self) -> None:
        """Forget all customers, contacts, idempotency keys, stats and webhook logs (config stays)."""
        with self._lock:
            self._customers: dict[int, _CustomerRow] = {}
            self._contacts: dict[int, _ContactRow] = {}
            self._sort_keys: dict[int, int] = {}  # customer number -> highest contact sortKey used
            self._freed_numbers: set[int] = set()  # customer numbers a delete or renumber gave up
            self._booked: dict[int, _BookedInvoiceRow] = {}
            self._next_contact = 1
            self._version_counter = 0
            self._idempotency: dict[str, tuple[float, int, dict[str, str], bytes]] = {}
            self._bucket = _TokenBucket(*self.rate_limit)
            self._scheduled: list[ScheduledFault] = []
            self.reset_stats()
            self.webhook_events: list[WebhookEvent] = []
            self.webhook_log: list[WebhookDelivery] = []
            self._webhook_counts: Counter[str] = Counter()
            self._seed_rngs()
        with self._outbox_cv:
            self._pending -= len(self._outbox)
            self._outbox.clear()
            self._generation += 1
            self._outbox_cv.notify_all()

    def reset_stats(self) -> None:
        with self._lock:
            self._calls: Counter[str] = Counter()
            self._statuses: Counter[int] = Counter()
            self._fault_counts: Counter[str] = Counter()

    @property
    def faults(self) -> EconomicFaults:
        """The active faults. Assigning new ones is ``set_faults(new)`` (it reseeds the RNGs)."""
        return self._faults

    @faults.setter
    def faults(self, faults: EconomicFaults) -> None:
        self.set_faults(faults)

    def set_faults(self, faults: EconomicFaults | None = None, /, **changes: Any) -> EconomicFaults:
        """Switch random fault injection at runtime and reseed its RNGs from the (new) ``seed``.

        ``set_faults(EconomicFaults(rate_timeout=0.1, seed=7))`` replaces everything,
        ``set_faults(rate_429=0.2)`` changes fields of the active faults, ``set_faults(EconomicFaults())``
        switches everything off. Data, stats, scheduled ``inject`` faults and queued webhooks are kept.
        Returns the active faults.
        """
        new = replace(faults if faults is not None else self._faults, **changes)
        with self._lock:
            self._faults = new
            self._seed_rngs()
        return new

    def _seed_rngs(self) -> None:
        seed = self._faults.seed
        self._rng = random.Random(seed)  # API call faults
        self._webhook_rng = random.Random(seed + 1)  # webhook drop/duplicate
        self._reorder_rng = random.Random(seed + 2)  # webhook batch shuffles
        self._latency_rng = random.Random(seed + 3)  # random reply latency

    def inject(
        self,
        status: int,
        *,
        count: int = 1,
        retry_after: float | None = None,
        method: str | None = None,
        path_contains: str | None = None,
        after_commit: bool = False,
        hang_s: float | None = None,
    ) -> None:
        """Answer the next ``count`` matching API calls with ``status``.

        ``after_commit=True`` lets a write happen first and then loses its response (the client sees
        ``status``), which is what makes idempotency keys necessary. ``hang_s`` makes the reply hang that
        long first (an injected timeout; with ``after_commit`` only when the write succeeded).
        """
        with self._lock:
            self._scheduled.append(
                ScheduledFault(status, count, retry_after, method, path_contains, after_commit, hang_s)
            )

    def on_request(self, callback: Callable[[str, str], None]) -> None:
        """Call ``callback(method, path)`` before each API call is handled (e.g. a concurrent bookkeeper)."""
        self._hooks.append(callback)

    def set_webhook(
        self, url_template: str | None, body_template: str | None = None, content_type: str | None = None
    ) -> None:
        """Configure the "Customer updated" webhook; ``[OLDNUMBER]``/``[NEWNUMBER]`` are merged in."""
        self.webhook_url = url_template
        self.webhook_body = body_template
        if content_type:
            self.webhook_content_type = content_type

    def stats(self) -> dict[str, Any]:
        """API calls by ``"METHOD /template"``, read/write totals and sizes; test-control is not counted.

        Injected faults: ``faults`` (every injected fault answer), of them ``timeouts`` and
        ``timeouts_after_commit``; random latency: ``slow_replies`` and ``added_latency_s``. Webhooks:
        ``events``, ``delivered``, ``dropped``, ``duplicated``, ``reordered`` (batches), ``delayed``,
        ``failed`` (calls that still failed after the retries) and ``pending``.
        """
        with self._lock:
            reads = sum(n for key, n in self._calls.items() if key.startswith("GET "))
            total = sum(self._calls.values())
            return {
                "calls": dict(sorted(self._calls.items())),
                "reads": reads,
                "writes": total - reads,
                "total": total,
                "throttled": self._statuses.get(429, 0),
                "statuses": {str(k): v for k, v in sorted(self._statuses.items())},
                "customers": len(self._customers),
                "contacts": sum(1 for c in self._contacts.values() if not c.deleted),
                "faults": self._fault_counts["faults"],
                "timeouts": self._fault_counts["timeouts"],
                "timeouts_after_commit": self._fault_counts["timeouts_after_commit"],
                "slow_replies": self._fault_counts["slow_replies"],
                "added_latency_s": round(self._fault_counts["added_latency_us"] / 1e6, 6),
                "webhooks": {
                    "events": len(self.webhook_events),
                    "delivered": sum(1 for d in self.webhook_log if d.status and d.status < 300),
                    "dropped": sum(1 for d in self.webhook_log if d.dropped),
                    "duplicated": sum(1 for d in self.webhook_log if d.duplicate),
                    "reordered": self._webhook_counts["reordered"],
                    "delayed": self._webhook_counts["delayed"],
                    "failed": sum(
                        1 for d in self.webhook_log if not d.dropped and not (d.status and d.status < 300)
                    ),
                    "pending": self._pending,
                },
            }

    def customer_numbers(self) -> list[int]:
        with self._lock:
            return sorted(self._customers)

    def get_customer(self, number: int, view: str = "legacy") -> dict[str, Any] | None:
        """The customer as the legacy API (``view="legacy"``) or the Customers API (``"api"``) shows it."""
        with self._lock:
            row = self._customers.get(number)
            if row is None:
                return None
            base = self.link_base or LEGACY_PUBLIC_BASE
            return (
                self._legacy_customer(row, base, single=True) if view == "legacy" else self._api_customer(row)
            )

    def get_contact(self, number: int) -> dict[str, Any] | None:
        with self._lock:
            row = self._contacts.get(number)
            return None if row is None else self._api_contact(row)

    def all_contacts(self, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Every contact (Customers API shape), for comparisons over a whole agreement."""
        with self._lock:
            return [
                self._api_contact(c)
                for c in sorted(self._contacts.values(), key=_number)
                if include_deleted or not c.deleted
            ]

    def contacts_of(self, customer_number: int, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            return [
                self._api_contact(c)
                for c in sorted(self._contacts.values(), key=_number)
                if c.customer_number == customer_number and (include_deleted or not c.deleted)
            ]

    def add_customer(
        self, body: Mapping[str, Any] | None = None, /, *, fire_webhook: bool = True, **fields: Any
    ) -> int:
        """Create a customer as a bookkeeper would in the UI (not an API call); returns its number.

        Takes legacy property names (references may be plain numbers, e.g. ``customerGroup=1``) and
        Customers-API-only names (e.g. ``iban``). Missing required references default to 1 / DKK.
        """
        merged = {**(body or {}), **fields}
        contacts = merged.pop("contacts", None) or []
        number = merged.pop("customerNumber", None)
        merged.setdefault("currency", "DKK")
        for ref in ("customerGroup", "paymentTerms", "vatZone"):
            merged.setdefault(ref, 1)
        if not merged.get("name"):
            raise ValueError("name is required")
        with self._lock:
            values = self._bookkeeper_values(merged)
            if number is None:
                number = self._next_customer_number()
            if number in self._customers:
                raise ValueError(f"customer {number} exists")
            row = self._create_customer_row(int(number), values)
            for contact in contacts:
                self._create_contact_row(row.number, dict(contact))
            if fire_webhook:
                self._fire(row.number, row.number, "created")
            return row.number

    def update_customer(self, number: int, /, *, fire_webhook: bool = True, **fields: Any) -> None:
        """Bookkeeper edit of some properties (legacy or Customers API names); ``None`` clears one."""
        with self._lock:
            row = self._require_customer(number)
            clear = [k for k, v in fields.items() if v is None]
            values = self._bookkeeper_values({k: v for k, v in fields.items() if v is not None})
            for key in clear:
                for internal in self._internal_keys(key):
                    row.data.pop(internal, None)
            row.data.update(values)
            self._touch(row)
            if fire_webhook:
                self._fire(number, number, "updated")

    def delete_customer(self, number: int, /, *, fire_webhook: bool = True) -> None:
        with self._lock:
            self._require_customer(number)
            if self._has_booked_invoices(number):
                raise ValueError(f"customer {number} has booked invoices and cannot be deleted")
            self._delete_customer_row(number)
            if fire_webhook:
                self._fire(number, number, "deleted")

    def renumber(self, old: int, new: int) -> None:
        """Change a customer's number (only possible in the e-conomic UI); fires OLD/NEW numbers."""
        with self._lock:
            row = self._require_customer(old)
            if new in self._customers or _positive_int(new) is None:
                raise ValueError(f"cannot renumber {old} to {new}")
            del self._customers[old]
            self._freed_numbers.add(old)
            row.number = new
            self._customers[new] = row
            self._sort_keys[new] = self._sort_keys.pop(old, 0)
            self._touch(row)
            for contact in self._contacts.values():
                if contact.customer_number == old:
                    contact.customer_number = new
                    self._touch(contact)
            for invoice in self._booked.values():
                if invoice.customer_number == old:
                    invoice.customer_number = new
            self._fire(old, new, "renumbered")

    def add_contact(self, customer_number: int, /, *, fire_webhook: bool = True, **fields: Any) -> int:
        """Create a contact person (Customers API names: name, email, phone, notes, ...)."""
        if not fields.get("name"):
            raise ValueError("name is required")
        with self._lock:
            self._require_customer(customer_number)
            row = self._create_contact_row(customer_number, fields)
            if fire_webhook:
                self._fire(customer_number, customer_number, "contact")
            return row.number

    def update_contact(self, number: int, /, *, fire_webhook: bool = True, **fields: Any) -> None:
        with self._lock:
            row = self._contacts.get(number)
            if row is None or row.deleted:
                raise KeyError(number)
            for key, value in fields.items():
                if key not in _API_CONTACT_FIELDS or key == "customerNumber":
                    raise ValueError(f"unknown contact property {key}")
                if value is None:
                    row.data.pop(key, None)
                else:
                    row.data[key] = value
            self._touch(row)
            if fire_webhook:
                self._fire(row.customer_number, row.customer_number, "contact")

    def delete_contact(self, number: int, /, *, fire_webhook: bool = True) -> None:
        with self._lock:
            row = self._contacts.get(number)
            if row is None or row.deleted:
                raise KeyError(number)
            row.deleted = True
            self._touch(row)
            if fire_webhook:
                self._fire(row.customer_number, row.customer_number, "contact")

    def book_invoice(
        self,
        customer_number: int,
        /,
        *,
        amount: float = 1000.0,
        vat_amount: float | None = None,
        currency: str | None = None,
        date: str | None = None,
    ) -> int:
        """Book an invoice for a customer as a bookkeeper would (not an API call); returns its number.

        ``amount`` is the net amount (negative: a credit note). VAT defaults to 25 % in VAT zone 1
        (domestic) and 0 elsewhere; ``currency`` defaults to the customer's, ``date`` to the clock's day.
        """
        with self._lock:
            d = self._require_customer(customer_number).data
            currency = (currency or d.get("currency") or "DKK").upper()
            if currency not in self.reference.currencies:
                raise ValueError(f"currency {currency} does not exist")
            if vat_amount is None:
                vat_amount = amount * DOMESTIC_VAT_RATE if d.get("zone") == 1 else 0.0
            net, vat = round(float(amount), 2), round(float(vat_amount), 2)
            recipient = {
                "name": d.get("name"),
                "address": (d.get("address1") or "")[:250] or None,
                "zip": (d.get("postCode") or "")[:50] or None,
                "city": d.get("city"),
                "country": d.get("country"),
                "ean": d.get("eanLocationNumber"),
                "cvr": d.get("cvrNo"),
                "vatZone": d.get("zone"),
            }
            number = max(self._booked, default=0) + 1
            self._booked[number] = _BookedInvoiceRow(
                number,
                customer_number,
                {
                    "date": date or self.clock.now().astimezone(UTC).date().isoformat(),
                    "currency": currency,
                    "netAmount": net,
                    "grossAmount": round(net + vat, 2),
                    "vatAmount": vat,
                    "paymentTermsNumber": d.get("paymentTermId"),
                    "layoutNumber": d.get("layoutGroup"),
                    "salesPerson": d.get("ourRef"),
                    "recipient": {k: v for k, v in recipient.items() if v is not None},
                },
            )
            d["balance"] = round(float(d.get("balance", 0.0)) + net + vat, 2)
            return number

    def seed(
        self,
        customers: int | Iterable[Mapping[str, Any]],
        *,
        contacts_per_customer: int = 2,
        seed: int = 0,
        fire_webhooks: bool = False,
    ) -> list[int]:
        """Load generated (``customers`` = count) or given customers with their contacts; returns numbers.

        Seeding is the agreement's state before the integration connects, so no webhooks by default.
        """
        if isinstance(customers, int):
            start = max(self._customers, default=0) + 1
            customers = generate_customers(customers, contacts_per_customer, seed, start_number=start)
        return [self.add_customer(dict(c), fire_webhook=fire_webhooks) for c in customers]

    # ---------------------------------------------------------------- serving

    @property
    def app(self) -> Callable[..., Iterable[bytes]]:
        return self._wsgi

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> tuple[BaseWSGIServer, str]:
        """Serve on localhost in a daemon thread; returns the server and its base URL."""
        server, url = serve_in_thread(self.app, "economic-fake", host, port)
        self._server = server
        return server, url

    def shutdown(self) -> None:
        """Stop the HTTP server (if serving), injected hangs and the webhook worker (it drains first)."""
        self._wake_hangs.set()
        stop_server(self._server)
        self._server = None
        with self._outbox_cv:
            self._stopping = True
            self._outbox_cv.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=5)
            self._worker = None
        self._wake_hangs.clear()
        self._stopping = False
        if self._owns_webhook_client and self._webhook_client is not None:
            self._webhook_client.close()
            self._webhook_client = None

    close = shutdown

    def __enter__(self) -> EconomicFake:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # ---------------------------------------------------------------- webhooks

    def flush_webhooks(self, timeout: float = 5.0) -> bool:
        """Wait until every queued webhook has been delivered (or dropped); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._outbox_cv:
            while self._pending > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._outbox_cv.wait(remaining)
        return True

    def _fire(self, old: int, new: int, action: str) -> None:
        event = WebhookEvent(old, new, action, self.clock.now())
        self.webhook_events.append(event)
        if not self.webhook_url:
            return
        with self._outbox_cv:
            self._outbox.append((time.monotonic(), event))
            self._pending += 1
            self._outbox_cv.notify_all()
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._deliver_loop, name="economic-webhooks", daemon=True
                )
                self._worker.start()

    def _deliver_loop(self) -> None:
        while True:
            with self._outbox_cv:
                while not self._stopping:  # stopping: deliver what is queued without waiting
                    if not self._outbox:
                        self._outbox_cv.wait()
                        continue
                    wait = self._outbox[0][0] + self._faults.webhook_delay_s - time.monotonic()
                    if wait <= 0:
                        break
                    self._outbox_cv.wait(wait)
                if not self._outbox:
                    return
                batch = [event for _, event in self._outbox]
                self._outbox.clear()
                generation = self._generation
                faults = self._faults
                reordered = False
                if faults.webhook_reorder and len(batch) > 1:
                    order = list(batch)
                    self._reorder_rng.shuffle(batch)
                    reordered = batch != order
            if faults.webhook_delay_s or reordered:
                with self._lock:  # never take _lock while holding _outbox_cv (_fire nests them the other way)
                    self._webhook_counts["delayed"] += len(batch) if faults.webhook_delay_s else 0
                    self._webhook_counts["reordered"] += reordered
            for event in batch:
                try:
                    if generation == self._generation:
                        self._deliver(event)
                finally:
                    with self._outbox_cv:
                        self._pending -= 1
                        self._outbox_cv.notify_all()

    @staticmethod
    def _merge(template: str, event: WebhookEvent) -> str:
        text = re.sub(r"\[OLDNUMBER\]", str(event.old_number), template, flags=re.IGNORECASE)
        return re.sub(r"\[NEWNUMBER\]", str(event.new_number), text, flags=re.IGNORECASE)

    def _deliver(self, event: WebhookEvent) -> None:
        url_template = self.webhook_url
        if not url_template:
            return
        url = self._merge(url_template, event)
        body = self._merge(self.webhook_body, event) if self.webhook_body else "{}"
        if self._webhook_rng.random() < self._faults.webhook_drop_rate:
            self.webhook_log.append(
                WebhookDelivery(event, url, body, self.webhook_content_type, dropped=True)
            )
            return
        copies = 2 if self._webhook_rng.random() < self._faults.webhook_duplicate_rate else 1
        for copy in range(copies):
            delivery = WebhookDelivery(event, url, body, self.webhook_content_type, duplicate=copy > 0)
            self._send(delivery)
            self.webhook_log.append(delivery)

    def _send(self, delivery: WebhookDelivery) -> None:
        for attempt in range(1, self.webhook_max_attempts + 1):
            delivery.attempts = attempt
            try:
                if self.webhook_sink is not None:
                    delivery.status = self.webhook_sink(delivery) or 200
                else:
                    if self._webhook_client is None:
                        self._webhook_client = httpx.Client(timeout=5.0)
                    response = self._webhook_client.post(
                        delivery.url,
                        content=delivery.body.encode(),
                        headers={"Content-Type": delivery.content_type},
                    )
                    delivery.status = response.status_code
                delivery.error = None
            except Exception as exc:  # a receiver failure must never kill the worker
                delivery.status, delivery.error = None, f"{type(exc).__name__}: {exc}"
            if delivery.status is not None and delivery.status < 500:
                return
            if attempt < self.webhook_max_attempts:
                time.sleep(self.webhook_retry_delay)

    # ---------------------------------------------------------------- mutations (lock held)

    def _next_version(self) -> str:
        self._version_counter += 1
        return base64.b64encode(self._version_counter.to_bytes(8, "big")).decode()

    def _stamp(self) -> datetime:
        return self.clock.now().astimezone(UTC).replace(microsecond=0)

    def _touch(self, row: _CustomerRow | _ContactRow) -> None:
        row.last_updated = self._stamp()
        row.object_version = self._next_version()

    def _next_customer_number(self) -> int:
        # The live API reused a deleted number (economic-api.md §2); which one it picks is not documented,
        # so the fake takes the lowest freed one: a number from the middle of the range comes back too.
        while self.reuse_deleted_numbers and self._freed_numbers:
            lowest = min(self._freed_numbers)
            if lowest not in self._customers:
                return lowest
            self._freed_numbers.discard(lowest)  # taken again since (a create that named it)
        return max(self._customers, default=0) + 1

    def _create_customer_row(self, number: int, values: dict[str, Any]) -> _CustomerRow:
        data: dict[str, Any] = {"balance": 0.0, "dueAmount": 0.0}
        data.update(values)
        row = _CustomerRow(number, data, self._stamp(), self._next_version())
        self._customers[number] = row
        return row

    def _create_contact_row(self, customer_number: int, values: dict[str, Any]) -> _ContactRow:
        number = self._next_contact
        self._next_contact += 1
        sort_key = self._sort_keys.get(customer_number, 0) + 1
        self._sort_keys[customer_number] = sort_key
        data = {k: v for k, v in values.items() if k in _API_CONTACT_FIELDS and k != "customerNumber"}
        row = _ContactRow(number, customer_number, data, sort_key, False, self._stamp(), self._next_version())
        self._contacts[number] = row
        return row

    def _delete_customer_row(self, number: int) -> None:
        del self._customers[number]
        self._freed_numbers.add(number)
        self._sort_keys.pop(number, None)
        for contact in self._contacts.values():
            if contact.customer_number == number and not contact.deleted:
                contact.deleted = True
                self._touch(contact)

    def _require_customer(self, number: int) -> _CustomerRow:
        row = self._customers.get(number)
        if row is None:
            raise KeyError(number)
        return row

    def _has_booked_invoices(self, customer_number: int) -> bool:
        return any(row.customer_number == customer_number for row in self._booked.values())

    def _reference_exists(self, internal_key: str, number: int) -> bool:
        known = {
            "customerGroupNumber": self.reference.customer_groups,
            "paymentTermId": self.reference.payment_terms,
            "zone": self.reference.vat_zones,
            "layoutGroup": self.reference.layouts,
        }.get(internal_key)
        return known is None or number in known

    @staticmethod
    def _internal_keys(name: str) -> list[str]:
        if name in _LEGACY_SCALARS:
            return [_LEGACY_SCALARS[name][0]]
        if name in _LEGACY_REFS:
            return [_LEGACY_REFS[name][1]]
        if name == "access":
            return ["barred"]
        if name in _API_CUSTOMER_FIELDS or name in ("balance", "dueAmount"):
            return [name]
        raise ValueError(f"unknown customer property {name}")

    def _bookkeeper_values(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, value in fields.items():
            if name in _LEGACY_REFS:
                number: Any = value.get(_LEGACY_REFS[name][0]) if isinstance(value, Mapping) else value
                values[_LEGACY_REFS[name][1]] = int(number)
            elif name in _LEGACY_SCALARS:
                key, spec = _LEGACY_SCALARS[name]
                problem = _check_value(value, spec)
                if problem:
                    raise ValueError(problem.format(p=name))
                values[key] = value
            elif name == "access":
                values["barred"] = not value
            elif name in _API_CUSTOMER_FIELDS or name in ("balance", "dueAmount"):
                values[name] = value
            else:
                raise ValueError(f"unknown customer property {name}")
        return values

    # ---------------------------------------------------------------- rendering

    def _legacy_customer(self, row: _CustomerRow, base: str, *, single: bool) -> dict[str, Any]:
        d, n = row.data, row.number
        me = f"{base}/customers/{n}"

        def ref(name: str) -> dict[str, Any] | None:
            num_prop, key, path = _LEGACY_REFS[name]
            value = d.get(key)
            if value is None:
                return None
            out: dict[str, Any] = {num_prop: value}
            if name in ("attention", "customerContact"):
                out["customer"] = {"customerNumber": n, "self": me}
            out["self"] = base + path.format(n=n, ref=value)
            return out

        def scalar(name: str) -> Any:
            return d.get(_LEGACY_SCALARS[name][0])

        body: dict[str, Any] = {"customerNumber": n}
        ordered: list[tuple[str, Any]] = [
            ("currency", scalar("currency")),
            ("paymentTerms", ref("paymentTerms")),
            ("customerGroup", ref("customerGroup")),
            ("address", scalar("address")),
            ("balance", d.get("balance", 0.0)),
            ("dueAmount", d.get("dueAmount", 0.0)),
            ("barred", True if d.get("barred") else None),
            ("city", scalar("city")),
            ("country", scalar("country")),
            ("corporateIdentificationNumber", scalar("corporateIdentificationNumber")),
            ("creditLimit", scalar("creditLimit")),
            ("ean", scalar("ean")),
            ("email", scalar("email")),
            ("name", scalar("name")),
            ("pNumber", scalar("pNumber")),
            ("publicEntryNumber", scalar("publicEntryNumber")),
            ("zip", scalar("zip")),
            ("telephoneAndFaxNumber", scalar("telephoneAndFaxNumber")),
            ("mobilePhone", scalar("mobilePhone")),
            ("vatNumber", scalar("vatNumber")),
            ("website", scalar("website")),
            ("vatZone", ref("vatZone")),
            ("layout", ref("layout")),
            ("attention", ref("attention")),
            ("customerContact", ref("customerContact")),
            ("salesPerson", ref("salesPerson")),
            ("lastUpdated", _iso(row.last_updated)),
            ("contacts", f"{me}/contacts"),
            ("defaultDeliveryLocation", ref("defaultDeliveryLocation")),
            (
                "templates",
                {
                    "invoice": f"{me}/templates/invoice",
                    "invoiceLine": f"{me}/templates/invoiceline",
                    "self": f"{me}/templates",
                },
            ),
            (
                "totals",
                {
                    "drafts": f"{base}/invoices/totals/drafts/customers/{n}",
                    "booked": f"{base}/invoices/totals/booked/customers/{n}",
                    "self": f"{me}/totals",
                },
            ),
            ("deliveryLocations", f"{me}/delivery-locations"),
            (
                "invoices",
                {
                    "drafts": f"{me}/invoices/drafts",
                    "booked": f"{me}/invoices/booked",
                    "self": f"{me}/invoices",
                },
            ),
            ("eInvoicingDisabledByDefault", bool(d.get("defaultDisableEInvoicing", False))),
        ]
        body.update((k, v) for k, v in ordered if v is not None)
        if single:
            body["metaData"] = {
                "delete": {"description": "Delete this customer.", "href": me, "httpMethod": "delete"},
                "replace": {"description": "Replace this customer.", "href": me, "httpMethod": "put"},
            }
        body["self"] = me
        return body

    def _legacy_contact(self, row: _ContactRow, base: str) -> dict[str, Any]:
        d = row.data
        customer_self = f"{base}/customers/{row.customer_number}"
        body: dict[str, Any] = {"customerContactNumber": row.number}
        for key in ("email", "name", "phone", "eInvoiceId", "notes"):
            if d.get(key) is not None:
                body[key] = d[key]
        notifications = [name for name, key in _CONTACT_NOTIFICATIONS.items() if d.get(key)]
        if notifications:
            body["emailNotifications"] = notifications
        if row.deleted:
            body["deleted"] = True
        body["customer"] = {"customerNumber": row.customer_number, "self": customer_self}
        body["sortKey"] = row.sort_key
        body["self"] = f"{customer_self}/contacts/{row.number}"
        return body

    def _legacy_booked_invoice(self, row: _BookedInvoiceRow, base: str) -> dict[str, Any]:
        d, me = row.data, f"{base}/invoices/booked/{row.number}"
        body: dict[str, Any] = {
            "bookedInvoiceNumber": row.number,
            "date": d["date"],
            "currency": d["currency"],
            "netAmount": d["netAmount"],
            "netAmountInBaseCurrency": d["netAmount"],
            "grossAmount": d["grossAmount"],
            "vatAmount": d["vatAmount"],
            "roundingAmount": 0.0,
            "remainder": d["grossAmount"],
            "remainderInBaseCurrency": d["grossAmount"],
        }
        if d.get("paymentTermsNumber") is not None:
            body["paymentTerms"] = {
                "paymentTermsNumber": d["paymentTermsNumber"],
                "self": f"{base}/payment-terms/{d['paymentTermsNumber']}",
            }
        customer_self = f"{base}/customers/{row.customer_number}"
        body["customer"] = {"customerNumber": row.customer_number, "self": customer_self}
        recipient = dict(d["recipient"])
        if recipient.get("vatZone") is not None:
            zone = recipient["vatZone"]
            recipient["vatZone"] = {"vatZoneNumber": zone, "self": f"{base}/vat-zones/{zone}"}
        body["recipient"] = recipient
        if d.get("salesPerson") is not None:
            employee = d["salesPerson"]
            body["references"] = {
                "salesPerson": {"employeeNumber": employee, "self": f"{base}/employees/{employee}"}
            }
        body["pdf"] = {"download": f"{me}/pdf"}
        if d.get("layoutNumber") is not None:
            body["layout"] = {
                "layoutNumber": d["layoutNumber"],
                "self": f"{base}/layouts/{d['layoutNumber']}",
            }
        body["self"] = me
        return body

    def _api_customer(self, row: _CustomerRow) -> dict[str, Any]:
        d = row.data
        body: dict[str, Any] = {"customerNumber": row.number}
        for key in _API_CUSTOMER_FIELDS:
            value = (not d.get("barred", False)) if key == "access" else d.get(key)
            if value is None or value is False:
                continue
            body[key] = value
        body["objectVersion"] = row.object_version
        return body

    def _api_contact(self, row: _ContactRow) -> dict[str, Any]:
        d = row.data
        body: dict[str, Any] = {
            "number": row.number,
            "customerNumber": row.customer_number,
            "userInterfaceNumber": row.sort_key,
        }
        for key in _API_CONTACT_FIELDS:
            if key == "customerNumber":
                continue
            value = d.get(key)
            if value is None or value is False:
                continue
            body[key] = value
        body["lastUpdated"] = _iso(row.last_updated)
        body["objectVersion"] = row.object_version
        if row.deleted:
            body["isDeleted"] = True
        else:
            body["active"] = True
        return body

    # ---------------------------------------------------------------- responses

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

    # ---------------------------------------------------------------- legacy collections

    def _legacy_collection(
        self,
        ctx: _Ctx,
        rows: list[Any],
        fields: Mapping[str, _FilterField],
        sortable: frozenset[str],
        render: Callable[[Any], dict[str, Any]],
        *,
        create_description: str | None,
    ) -> Response:
        request = ctx.request
        params = parse_qsl(request.query_string.decode("utf-8", "replace"), keep_blank_values=True)
        lookup = {k.lower(): v for k, v in params}
        size = DEFAULT_PAGE_SIZE
        if "pagesize" in lookup:
            raw = lookup["pagesize"]
            if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
                return self._legacy_error(
                    ctx,
                    400,
                    f"pagesize must be a positive whole number between 1 and {MAX_PAGE_SIZE}.",
                    "Use pagesize between 1 and 1000 and follow pagination.nextPage.",
                    error_code=E_PAGE_SIZE,
                )
            size = int(raw)
        skip = 0
        if "skippages" in lookup:
            raw = lookup["skippages"]
            if not raw.isdigit():
                return self._legacy_error(
                    ctx, 400, "skippages must be a positive whole number.", error_code=E_PAGE_SIZE
                )
            skip = int(raw)
        total = len(rows)
        if lookup.get("filter"):
            try:
                predicate = compile_filter(lookup["filter"], fields)
            except FilterError as exc:
                return self._legacy_error(
                    ctx,
                    400,
                    "Could not parse query string filter.",
                    "Please refer to the documentation on filtering: https://restdocs.e-conomic.com/#filtering",
                    errors=[str(exc)],
                    extra={"allowedFilteringFields": list(fields)},
                )
            rows = [row for row in rows if predicate(row)]
        if lookup.get("sort"):
            problem = self._legacy_sort(rows, lookup["sort"], fields, sortable)
            if problem:
                return self._legacy_error(
                    ctx,
                    400,
                    "Could not parse query string sort parameter.",
                    "Please refer to the documentation on sorting: https://restdocs.e-conomic.com/#sorting",
                    errors=[problem],
                )
        results = len(rows)
        page = rows[skip * size : (skip + 1) * size]
        last = max(0, math.ceil(results / size) - 1)
        url = ctx.base + request.path

        def link(page_index: int) -> str:
            out, seen_skip, seen_size = [], False, False
            for k, v in params:
                if k.lower() == "skippages":
                    out.append((k, str(page_index)))
                    seen_skip = True
                    continue
                seen_size = seen_size or k.lower() == "pagesize"
                out.append((k, v))
            if not seen_skip:
                out.append(("skippages", str(page_index)))
            if not seen_size:
                out.append(("pagesize", str(size)))
            return url + "?" + "&".join(f"{k}={_net_urlencode(v)}" for k, v in out)

        pagination: dict[str, Any] = {
            "maxPageSizeAllowed": MAX_PAGE_SIZE,
            "skipPages": skip,
            "pageSize": size,
            "results": results,
            "resultsWithoutFilter": total,
            "firstPage": link(0),
        }
        if skip > 0:
            pagination["previousPage"] = link(skip - 1)
        if skip < last:
            pagination["nextPage"] = link(skip + 1)
        pagination["lastPage"] = link(last)
        self_url = url + ("?" + "&".join(f"{k}={_net_urlencode(v)}" for k, v in params) if params else "")
        body: dict[str, Any] = {"collection": [render(row) for row in page], "pagination": pagination}
        if create_description:
            body["metaData"] = {
                "create": {"description": create_description, "href": self_url, "httpMethod": "post"}
            }
        body["self"] = self_url
        return self._json(200, body)

    @staticmethod
    def _legacy_sort(
        rows: list[Any], sort: str, fields: Mapping[str, _FilterField], sortable: frozenset[str]
    ) -> str | None:
        keys: list[tuple[Callable[[Any], Any], bool, bool]] = []
        for raw in sort.split(","):
            item = raw.strip()
            desc = alpha = False
            while item[:1] in ("-", "~"):
                desc = desc or item[0] == "-"
                alpha = alpha or item[0] == "~"
                item = item[1:]
            name = next((f for f in sortable if f.lower() == item.lower()), None)
            if name is None:
                return f"Sorting is not allowed on property '{item}'."
            keys.append((fields[name].get, desc, alpha))
        for get, desc, alpha in reversed(keys):

            def sort_key(row: Any, get: Callable[[Any], Any] = get, alpha: bool = alpha) -> tuple[bool, Any]:
                value = get(row)
                if value is None:
                    return (False, "")
                return (True, str(value).casefold() if alpha else _fold(value))

            rows.sort(key=sort_key, reverse=desc)
        return None

    # ---------------------------------------------------------------- legacy handlers

    def _h_legacy_customers_get(self, ctx: _Ctx, body: Any) -> Response:
        rows = [self._customers[n] for n in sorted(self._customers)]
        return self._legacy_collection(
            ctx,
            rows,
            _LEGACY_CUSTOMER_FILTER,
            _LEGACY_CUSTOMER_SORTABLE,
            lambda row: self._legacy_customer(row, ctx.base, single=False),
            create_description="Create a new customer",
        )

    def _parse_legacy_customer(
        self, body: Any, *, creating: bool
    ) -> tuple[dict[str, Any], dict[str, Any], int | None]:
        """Validate a legacy write body: (internal values, annotated errors, customerNumber in body)."""
        errors: dict[str, Any] = {}

        def fail(prop: str, code: str, message: str, value: Any = _MISSING, hint: str = "") -> None:
            error: dict[str, Any] = {"errorCode": code, "message": message}
            if value is not _MISSING:
                error["value"] = value
            error["developerHint"] = hint or "Please check your request data."
            errors.setdefault(prop, {"errors": []})["errors"].append(error)

        if not isinstance(body, dict):
            fail("customer", E_TYPE, "The request body must be a JSON object.")
            return {}, errors, None
        values: dict[str, Any] = {}
        for prop in _LEGACY_REQUIRED:
            if prop not in body:
                fail(prop, E_REQUIRED, f"Property {prop} is required.")
        number: int | None = None
        if "customerNumber" in body:
            raw = body["customerNumber"]
            if raw is None or isinstance(raw, bool) or not isinstance(raw, int):
                fail("customerNumber", E_TYPE, f"Expected Integer but got {type(raw).__name__}.", raw)
            elif not 1 <= raw <= MAX_NUMBER:
                fail("customerNumber", E_RANGE, f"Integer {raw} is less than minimum value of 1.", raw)
            else:
                number = raw
        for prop, (key, spec) in _LEGACY_SCALARS.items():
            if prop not in body:
                continue
            problem = _check_value(body[prop], spec)
            if problem:
                fail(prop, E_TYPE, problem.format(p=prop), body[prop])
            else:
                values[key] = body[prop]
        for prop, (num_prop, key, path) in _LEGACY_REFS.items():
            if prop not in body or (creating and prop in _LEGACY_NOT_ON_POST):
                continue
            ref = body[prop]
            if not isinstance(ref, dict):
                kind = "Null" if ref is None else type(ref).__name__
                fail(prop, E_TYPE, f"Expected Object but got {kind}.", ref)
                continue
            ident = _positive_int(ref.get(num_prop)) or _ref_from_self(ref.get("self"))
            if ident is None:
                fail(
                    prop,
                    E_NO_IDENTIFIER,
                    f"No identifiers present on {prop}. Please include either a self link or a {num_prop}.",
                    hint=f"Find a list of resources at {LEGACY_PUBLIC_BASE}{path.split('{')[0]}.",
                )
            elif not self._reference_exists(key, ident):
                fail(
                    prop,
                    E_NOT_FOUND,
                    f"{prop} does not exist.",
                    ident,
                    hint=f"Find a list of resources at {LEGACY_PUBLIC_BASE}{path.split('{')[0]}.",
                )
            else:
                values[key] = ident
        currency = values.get("currency")
        if isinstance(currency, str) and currency.upper() not in self.reference.currencies:
            values.pop("currency")
            fail(
                "currency",
                E_NOT_FOUND,
                "currency does not exist.",
                currency,
                hint=f"Find a list of currencies at {LEGACY_PUBLIC_BASE}/currencies.",
            )
        return values, errors, number

    def _validation_error(self, ctx: _Ctx, errors: dict[str, Any]) -> Response:
        return self._legacy_error(
            ctx,
            400,
            "Validation error.",
            "Inspect validation errors and correct your request.",
            errors=errors,
        )

    def _h_legacy_customers_post(self, ctx: _Ctx, body: Any) -> Response:
        values, errors, number = self._parse_legacy_customer(body, creating=True)
        if number is not None and number in self._customers:
            errors["customerNumber"] = {
                "errors": [
                    {
                        "errorCode": E_DUPLICATE,
                        "message": f"Customer number {number} is already in use.",
                        "value": number,
                        "developerHint": "Omit customerNumber to have one assigned.",
                    }
                ]
            }
        if errors:
            return self._validation_error(ctx, errors)
        row = self._create_customer_row(number or self._next_customer_number(), values)
        self._fire(row.number, row.number, "created")
        response = self._json(201, self._legacy_customer(row, ctx.base, single=True))
        response.headers["Location"] = f"{ctx.base}/customers/{row.number}"
        return response

    def _h_legacy_customer_get(self, ctx: _Ctx, body: Any, number: int) -> Response:
        row = self._customers.get(number)
        if row is None:
            return self._legacy_error(ctx, 404, "Resource not found.", _NOT_FOUND_HINT)
        return self._json(200, self._legacy_customer(row, ctx.base, single=True))

    def _h_legacy_customer_put(self, ctx: _Ctx, body: Any, number: int) -> Response:
        values, errors, _ = self._parse_legacy_customer(body, creating=False)
        if errors:
            return self._validation_error(ctx, errors)
        row = self._customers.get(number)
        if row is None:
            row = self._create_customer_row(number, values)
            self._fire(number, number, "created")
            response = self._json(201, self._legacy_customer(row, ctx.base, single=True))
            response.headers["Location"] = f"{ctx.base}/customers/{number}"
            return response
        for key in _LEGACY_WRITABLE_KEYS:
            row.data.pop(key, None)
        row.data.update(values)
        self._touch(row)
        self._fire(number, number, "updated")
        return self._json(200, self._legacy_customer(row, ctx.base, single=True))

    def _h_legacy_customer_delete(self, ctx: _Ctx, body: Any, number: int) -> Response:
        if number not in self._customers:
            return self._legacy_error(
                ctx, 404, "Resource not found.", _NOT_FOUND_HINT, error_code=E_NOT_FOUND
            )
        if self._has_booked_invoices(number):
            return self._legacy_error(ctx, 400, _BOOKED_INVOICES_MESSAGE, error_code=E_HAS_BOOKED_INVOICES)
        self._delete_customer_row(number)
        self._fire(number, number, "deleted")
        return Response(status=204)

    def _h_legacy_contacts_get(self, ctx: _Ctx, body: Any, number: int) -> Response:
        if number not in self._customers:
            return self._legacy_error(ctx, 404, "Resource not found.", _NOT_FOUND_HINT)
        rows = sorted((c for c in self._contacts.values() if c.customer_number == number), key=_number)
        return self._legacy_collection(
            ctx,
            rows,
            _LEGACY_CONTACT_FILTER,
            _LEGACY_CONTACT_SORTABLE,
            lambda row: self._legacy_contact(row, ctx.base),
            create_description=None,
        )

    def _h_legacy_booked_invoices_get(self, ctx: _Ctx, body: Any, number: int) -> Response:
        if number not in self._customers:
            return self._legacy_error(ctx, 404, "Resource not found.", _NOT_FOUND_HINT)
        rows = sorted((i for i in self._booked.values() if i.customer_number == number), key=_number)
        return self._legacy_collection(
            ctx,
            rows,
            _LEGACY_BOOKED_INVOICE_FILTER,
            _LEGACY_BOOKED_INVOICE_SORTABLE,
            lambda row: self._legacy_booked_invoice(row, ctx.base),
            create_description=None,
        )

    def _h_legacy_contact_get(self, ctx: _Ctx, body: Any, number: int, contact: int) -> Response:
        row = self._contacts.get(contact)
        if row is None or row.customer_number != number:
            return self._legacy_error(ctx, 404, "Resource not found.", _NOT_FOUND_HINT)
        return self._json(200, self._legacy_contact(row, ctx.base))

    # ---------------------------------------------------------------- Customers API handlers

    def _cursor_page(
        self, ctx: _Ctx, rows: list[Any], fields: Mapping[str, _FilterField], render: Any
    ) -> Response:
        args = ctx.request.args
        cursor = args.get("cursor")
        if cursor:
            if not cursor.isdigit():
                return self._problem(
                    ctx, 400, "Invalid cursor.", errors=[{"message": "Invalid cursor.", "property": "cursor"}]
                )
            rows = rows[bisect.bisect_left(rows, int(cursor), key=_number) :]
        if args.get("filter"):
            try:
                predicate = compile_filter(args["filter"], fields)
            except FilterError as exc:
                return self._problem(
                    ctx,
                    400,
                    str(exc),
                    errors=[{"message": str(exc), "errorCode": "InvalidFilter", "property": "filter"}],
                    error_code="InvalidFilter",
                )
            rows = [row for row in rows if predicate(row)]
        page = rows[: self.cursor_page_size + 1]
        body: dict[str, Any] = {}
        if len(page) > self.cursor_page_size:
            body["cursor"] = str(page[-1].number)
            page = page[:-1]
        body["items"] = [render(row) for row in page]
        return self._json(200, body)

    def _parse_api(
        self, body: Any, specs: Mapping[str, _Spec], required: Iterable[str]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        if not isinstance(body, dict):
            return {}, [
                {"message": "The request body must be a JSON object.", "errorCode": E_TYPE, "property": ""}
            ]
        errors: list[dict[str, Any]] = []
        values: dict[str, Any] = {}
        for prop in required:
            if body.get(prop) is None:
                errors.append(
                    {"message": f"'{prop}' is required.", "errorCode": E_REQUIRED, "property": prop}
                )
        for prop, value in body.items():  # "We do not generally accept null as a value" (Nulling)
            if value is None and prop not in required:
                errors.append({"message": "Null is not allowed.", "errorCode": E_TYPE, "property": prop})
        for prop, spec in specs.items():
            if prop not in body or body[prop] is None:
                continue
            value = body[prop]
            problem = _check_value(value, spec)
            if problem:
                errors.append({"message": problem.format(p=prop), "errorCode": E_TYPE, "property": prop})
            else:
                values[prop] = value
        return values, errors

    def _api_customer_values(self, body: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        values, errors = self._parse_api(body, _API_CUSTOMER_FIELDS, _API_CUSTOMER_REQUIRED)
        for key in ("customerGroupNumber", "paymentTermId", "zone", "layoutGroup"):
            if key in values and not self._reference_exists(key, values[key]):
                errors.append(
                    {"message": f"{key} does not exist.", "errorCode": E_NOT_FOUND, "property": key}
                )
                values.pop(key)
        currency = values.get("currency")
        if isinstance(currency, str) and currency.upper() not in self.reference.currencies:
            errors.append(
                {"message": "currency does not exist.", "errorCode": E_NOT_FOUND, "property": "currency"}
            )
        values["barred"] = not values.pop("access", False)
        return values, errors

    def _h_api_customers_get(self, ctx: _Ctx, body: Any) -> Response:
        rows = [self._customers[n] for n in sorted(self._customers)]
        return self._cursor_page(ctx, rows, _API_CUSTOMER_FILTER, self._api_customer)

    def _h_api_customers_post(self, ctx: _Ctx, body: Any) -> Response:
        values, errors = self._api_customer_values(body)
        number = body.get("customerNumber") if isinstance(body, dict) else None
        if number is not None and _positive_int(number) is None:
            errors.append(
                {"message": "Invalid customer number.", "errorCode": E_RANGE, "property": "customerNumber"}
            )
        elif number is not None and number in self._customers:
            errors.append(
                {
                    "message": "Customer number already exists.",
                    "errorCode": E_DUPLICATE,
                    "property": "customerNumber",
                }
            )
        if errors:
            return self._problem(ctx, 400, "Validation failed.", errors=errors, error_code="ValidationError")
        row = self._create_customer_row(number or self._next_customer_number(), values)
        self._fire(row.number, row.number, "created")
        response = self._json(201, {"customerNumber": row.number})
        response.headers["Location"] = f"{ctx.base}{CUSTOMERS_API_PREFIX}/Customers/{row.number}"
        return response

    def _h_api_customer_get(self, ctx: _Ctx, body: Any, number: int) -> Response:
        row = self._customers.get(number)
        if row is None:
            return self._problem(ctx, 404, f"Customer {number} was not found.", error_code="NotFound")
        return self._json(200, self._api_customer(row))

    def _h_api_customer_put(self, ctx: _Ctx, body: Any, number: int) -> Response:
        values, errors = self._api_customer_values(body)
        if isinstance(body, dict):
            if body.get("customerNumber") not in (None, number):
                errors.append(
                    {
                        "message": "customerNumber in the body does not match the URL.",
                        "errorCode": E_RANGE,
                        "property": "customerNumber",
                    }
                )
            if not body.get("objectVersion"):
                errors.append(
                    {
                        "message": "'objectVersion' is required.",
                        "errorCode": E_REQUIRED,
                        "property": "objectVersion",
                    }
                )
        row = self._customers.get(number)
        if row is None:
            return self._problem(ctx, 404, f"Customer {number} was not found.", error_code="NotFound")
        if errors:
            return self._problem(ctx, 400, "Validation failed.", errors=errors, error_code="ValidationError")
        if body["objectVersion"] != row.object_version:
            return self._conflict(ctx)
        for key in _API_CUSTOMER_KEYS:
            row.data.pop(key, None)
        row.data.update(values)
        self._touch(row)
        self._fire(number, number, "updated")
        return Response(status=204)

    def _conflict(self, ctx: _Ctx) -> Response:
        return self._problem(
            ctx,
            409,
            "Update conflict. Version does not match. The resource has been updated by another user. "
            "Retrieve the resource/object and try the update again.",
            errors=[
                {"message": "Version does not match.", "errorCode": "Conflict", "property": "objectVersion"}
            ],
            error_code="Conflict",
        )

    def _h_api_customer_delete(self, ctx: _Ctx, body: Any, number: int) -> Response:
        if number not in self._customers:
            return self._problem(ctx, 404, f"Customer {number} was not found.", error_code="NotFound")
        if self._has_booked_invoices(number):
            return self._problem(
                ctx,
                400,
                _BOOKED_INVOICES_MESSAGE,
                errors=[
                    {
                        "message": _BOOKED_INVOICES_MESSAGE,
                        "errorCode": E_HAS_BOOKED_INVOICES,
                        "property": "customerNumber",
                    }
                ],
                error_code=E_HAS_BOOKED_INVOICES,
            )
        self._delete_customer_row(number)
        self._fire(number, number, "deleted")
        return Response(status=204)

    def _h_api_contacts_get(self, ctx: _Ctx, body: Any) -> Response:
        rows = [self._contacts[n] for n in sorted(self._contacts)]
        return self._cursor_page(ctx, rows, _API_CONTACT_FILTER, self._api_contact)

    def _api_contact_values(self, body: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        values, errors = self._parse_api(body, _API_CONTACT_FIELDS, ("customerNumber", "name"))
        customer = values.get("customerNumber")
        if customer is not None and customer not in self._customers:
            errors.append(
                {
                    "message": "customerNumber does not exist.",
                    "errorCode": E_NOT_FOUND,
                    "property": "customerNumber",
                }
            )
        return values, errors

    def _h_api_contacts_post(self, ctx: _Ctx, body: Any) -> Response:
        values, errors = self._api_contact_values(body)
        if errors:
            return self._problem(ctx, 400, "Validation failed.", errors=errors, error_code="ValidationError")
        row = self._create_contact_row(values["customerNumber"], values)
        self._fire(row.customer_number, row.customer_number, "contact")
        response = self._json(201, {"number": row.number})
        response.headers["Location"] = f"{ctx.base}{CUSTOMERS_API_PREFIX}/Contacts/{row.number}"
        return response

    def _h_api_contacts_put(self, ctx: _Ctx, body: Any) -> Response:
        values, errors = self._api_contact_values(body)
        number = body.get("number") if isinstance(body, dict) else None
        if _positive_int(number) is None:
            errors.append({"message": "'number' is required.", "errorCode": E_REQUIRED, "property": "number"})
        elif isinstance(body, dict) and not body.get("objectVersion"):
            errors.append(
                {
                    "message": "'objectVersion' is required.",
                    "errorCode": E_REQUIRED,
                    "property": "objectVersion",
                }
            )
        row = self._contacts.get(number) if isinstance(number, int) else None
        if _positive_int(number) is not None and (row is None or row.deleted):
            return self._problem(ctx, 404, f"Contact {number} was not found.", error_code="NotFound")
        if errors or row is None:
            return self._problem(ctx, 400, "Validation failed.", errors=errors, error_code="ValidationError")
        if body["objectVersion"] != row.object_version:
            return self._conflict(ctx)
        old_customer = row.customer_number
        row.customer_number = values.pop("customerNumber")
        row.data = values
        self._touch(row)
        self._fire(row.customer_number, row.customer_number, "contact")
        if old_customer != row.customer_number and old_customer in self._customers:
            self._fire(old_customer, old_customer, "contact")
        return Response(status=204)

    def _h_api_contact_get(self, ctx: _Ctx, body: Any, number: int) -> Response:
        row = self._contacts.get(number)
        if row is None:
            return self._problem(ctx, 404, f"Contact {number} was not found.", error_code="NotFound")
        return self._json(200, self._api_contact(row))

    def _h_api_contact_delete(self, ctx: _Ctx, body: Any, number: int) -> Response:
        row = self._contacts.get(number)
        if row is None or row.deleted:
            return self._problem(ctx, 404, f"Contact {number} was not found.", error_code="NotFound")
        row.deleted = True
        self._touch(row)
        self._fire(row.customer_number, row.customer_number, "contact")
        return Response(status=204)

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
        except (KeyError, ValueError, TypeError) as exc:
            return self._json(400, {"message": f"{type(exc).__name__}: {exc}"})
        return self._json(404, {"message": f"No test-control endpoint {method} {path}."})


# --------------------------------------------------------------------------------------------------
# Realistic seed data

# fmt: off
_LEGAL_FORMS = {
    "DK": ["A/S", "ApS", "ApS", "ApS", "I/S", "K/S"],
    "SE": ["AB", "AB", "HB"],
    "NO": ["AS", "AS", "ASA"],
    "DE": ["GmbH", "GmbH", "AG", "KG", "GmbH & Co. KG"],
    "NL": ["B.V.", "B.V.", "N.V."],
    "GB": ["Ltd", "Ltd", "PLC", "LLP"],
    "FI": ["Oy", "Oy", "Oyj"],
}
_STEMS = {
    "DK": [
        "Nordvest", "Jensen", "Hansen & Søn", "Østjysk", "Vestergaard", "Skovbo", "Fjordhøj", "Lyngby",
        "Kastrup", "Møllerup", "Birkholm", "Dalgas", "Frederiksen", "Thy", "Sønderborg", "Aarhus",
        "Nørrebro", "Brøndum", "Kildegaard", "Rask", "Mortensen", "Holm", "Strandvejens", "Bakkegård",
    ],
    "SE": ["Lindqvist", "Nordström", "Göta", "Skåne", "Bergström", "Ekholm", "Vänern", "Malmö"],
    "NO": ["Fjell", "Nordlys", "Bergen", "Haugland", "Vestland", "Solberg", "Trøndelag"],
    "DE": ["Müller", "Schneider", "Nordsee", "Weber", "Hanse", "Becker", "Rhein", "Schwarzwald"],
    "NL": ["Van Dijk", "De Vries", "Jansen", "Bakker", "Oranje", "Van der Berg", "Zuidas"],
    "GB": ["Thornbury", "Ashworth", "Kingsley", "Pennine", "Harrow", "Whitfield", "Calder"],
    "FI": ["Virtanen", "Korhonen", "Saimaa", "Pohjola", "Lahti", "Mäkinen"],
}
_TRADES = {
    "DK": [
        "Maskinfabrik", "Tømrer", "VVS", "El-service", "Logistik", "Rådgivning", "Byggeri", "Foods",
        "Trading", "Revision", "IT", "Transport", "Auto", "Design", "Emballage", "Smedie", "Ejendomme",
        "Engros", "Installation", "Tandklinik", "Consult", "Blomster", "Købmand", "Maling",
    ],
    "SE": ["Bygg", "Konsult", "Logistik", "Trä", "Mekaniska Verkstad", "Handel", "Data"],
    "NO": ["Transport", "Bygg", "Fisk", "Handel", "Elektro", "Eiendom"],
    "DE": ["Logistik", "Maschinenbau", "Handel", "Elektrotechnik", "Verpackung", "Bau", "Software"],
    "NL": ["Installatietechniek", "Logistiek", "Handel", "Bouw", "Techniek", "Transport"],
    "GB": ["Engineering", "Logistics", "Trading", "Consulting", "Supplies", "Software"],
    "FI": ["Rakennus", "Kuljetus", "Kauppa", "Tekniikka", "Puu"],
}
_CITIES = {
    "DK": [
        ("1050", "København K"), ("2100", "København Ø"), ("2300", "København S"), ("8000", "Aarhus C"),
        ("5000", "Odense C"), ("9000", "Aalborg"), ("6700", "Esbjerg"), ("7100", "Vejle"),
        ("8700", "Horsens"), ("4000", "Roskilde"), ("2800", "Kongens Lyngby"), ("6000", "Kolding"),
        ("8600", "Silkeborg"), ("7400", "Herning"), ("3000", "Helsingør"), ("4700", "Næstved"),
        ("8900", "Randers"), ("6400", "Sønderborg"),
    ],
    "SE": [("111 22", "Stockholm"), ("411 05", "Göteborg"), ("211 20", "Malmö"), ("753 20", "Uppsala")],
    "NO": [("0150", "Oslo"), ("5003", "Bergen"), ("7011", "Trondheim"), ("4006", "Stavanger")],
    "DE": [("20095", "Hamburg"), ("10115", "Berlin"), ("24103", "Kiel"), ("80331", "München"),
           ("50667", "Köln")],
    "NL": [("1012 AB", "Amsterdam"), ("3011 AD", "Rotterdam"), ("3511 AA", "Utrecht")],
    "GB": [("EC1A 1BB", "London"), ("M1 1AE", "Manchester"), ("LS1 4AP", "Leeds"), ("B1 1AA", "Birmingham")],
    "FI": [("00100", "Helsinki"), ("33100", "Tampere"), ("20100", "Turku")],
}
_STREETS = {
    "DK": [
        "Vestergade", "Nørregade", "Østergade", "Søndergade", "Industrivej", "Hovedgaden", "Strandvejen",
        "Håndværkervej", "Banegårdspladsen", "Kongensgade", "Møllevej", "Skovvej", "Havnegade", "Erhvervsvej",
    ],
    "SE": ["Storgatan", "Drottninggatan", "Kungsgatan", "Industrivägen"],
    "NO": ["Storgata", "Kirkegata", "Havnegata", "Industriveien"],
    "DE": ["Hauptstraße", "Bahnhofstraße", "Industriestraße", "Hafenstraße", "Lindenallee"],
    "NL": ["Keizersgracht", "Stationsweg", "Industrieweg", "Havenstraat"],
    "GB": ["High Street", "Station Road", "Church Lane", "Mill Road"],
    "FI": ["Mannerheimintie", "Teollisuuskatu", "Satamakatu"],
}
_COUNTRY_NAMES = {
    "DK": "Danmark", "SE": "Sverige", "NO": "Norge", "DE": "Tyskland",
    "NL": "Holland", "GB": "Storbritannien", "FI": "Finland",
}
_PHONE_PREFIX = {"DK": "+45", "SE": "+46", "NO": "+47", "DE": "+49", "NL": "+31", "GB": "+44", "FI": "+358"}
_TLD = {"DK": "dk", "SE": "se", "NO": "no", "DE": "de", "NL": "nl", "GB": "co.uk", "FI": "fi"}
_CURRENCY = {"DK": "DKK", "SE": "SEK", "NO": "NOK", "GB": "GBP"}
_EU = {"SE", "DE", "NL", "FI"}
_FIRST_NAMES = {
    "DK": ["Mette", "Lars", "Anne", "Søren", "Camilla", "Jesper", "Louise", "Mads", "Pia", "Rasmus", "Sofie",
           "Jørgen"],
    "SE": ["Anna", "Erik", "Karin", "Lars", "Maria", "Johan"],
    "NO": ["Ingrid", "Ole", "Kari", "Bjørn", "Silje"],
    "DE": ["Julia", "Thomas", "Sabine", "Stefan", "Katrin", "Jürgen"],
    "NL": ["Sanne", "Jeroen", "Femke", "Daan"],
    "GB": ["Emma", "James", "Olivia", "Oliver", "Charlotte"],
    "FI": ["Aino", "Mikko", "Laura", "Jukka"],
}
_LAST_NAMES = {
    "DK": ["Nielsen", "Jensen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen",
           "Rasmussen", "Jørgensen", "Madsen", "Kristensen", "Østergaard", "Møller"],
    "SE": ["Johansson", "Andersson", "Karlsson", "Nilsson", "Eriksson"],
    "NO": ["Hansen", "Johansen", "Olsen", "Larsen", "Berg"],
    "DE": ["Müller", "Schmidt", "Fischer", "Wagner", "Hoffmann"],
    "NL": ["de Jong", "Jansen", "Visser", "Smit"],
    "GB": ["Smith", "Jones", "Taylor", "Brown", "Wilson"],
    "FI": ["Virtanen", "Korhonen", "Nieminen", "Mäkelä"],
}
_CONTACT_NOTES = [
    None, None, None, "Bogholderi", "Indkøbschef", "Direktør", "Faktura sendes hertil", "Økonomiansvarlig",
    "Kontaktes vedr. levering", "Foretrækker mail",
]
_COUNTRY_WEIGHTS = [("DK", 70), ("SE", 8), ("DE", 8), ("NO", 5), ("NL", 4), ("GB", 3), ("FI", 2)]
# fmt: on


def _ascii_slug(text: str) -> str:
    for src, dst in (
        ("æ", "ae"),
        ("ø", "oe"),
        ("å", "aa"),
        ("ä", "ae"),
        ("ö", "oe"),
        ("ü", "ue"),
        ("ß", "ss"),
    ):
        text = text.replace(src, dst).replace(src.upper(), dst.capitalize())
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def _cvr(rng: random.Random) -> str:
    """An 8-digit Danish CVR number that passes the modulus-11 check."""
    weights = (2, 7, 6, 5, 4, 3, 2, 1)
    while True:
        digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(6)]
        partial = sum(d * w for d, w in zip(digits, weights, strict=False))
        last = (-partial) % 11
        if last < 10:
            return "".join(map(str, [*digits, last]))


def _corporate_ids(country: str, rng: random.Random) -> tuple[str, str | None]:
    """(corporate identification number, VAT number or None) in each country's usual shape."""
    digits = "".join(str(rng.randint(0, 9)) for _ in range(10))
    if country == "DK":
        return _cvr(rng), None
    if country == "SE":
        org = f"556{digits[:3]}-{digits[3:7]}"
        return org, f"SE556{digits[:7]}01"
    if country == "NO":
        return f"9{digits[:8]}", None
    if country == "DE":
        return f"HRB {digits[:5]}", f"DE{digits[:9]}"
    if country == "NL":
        return digits[:8], f"NL{digits[:9]}B01"
    if country == "GB":
        return f"0{digits[:7]}", None
    return f"{digits[:7]}-{rng.randint(0, 9)}", f"FI{digits[:8]}"


def _phone(country: str, rng: random.Random) -> str:
    groups = " ".join(f"{rng.randint(10, 99)}" for _ in range(4))
    return f"{_PHONE_PREFIX[country]} {groups}"


def generate_customers(
    n: int, contacts_per_customer: int = 2, seed: int = 0, *, start_number: int = 1
) -> list[dict[str, Any]]:
    """Deterministic, realistic Danish/European companies as legacy POST /customers bodies.

    Each dict is a valid ``customers.post`` body plus ``customerNumber`` and ``contacts`` (a list of
    Customers-API contact bodies without ``customerNumber``: name, email, phone, optional notes).
    Domestic (DK) customers use customer group 1 / VAT zone 1; EU ones group 2 / zone 2; others zone 3.
    """
    rng = random.Random(seed)
    countries = [c for c, _ in _COUNTRY_WEIGHTS]
    weights = [w for _, w in _COUNTRY_WEIGHTS]
    used_names: set[str] = set()
    used_emails: set[str] = set()
    out: list[dict[str, Any]] = []
    for i in range(n):
        country = rng.choices(countries, weights)[0]
        stem, trade = rng.choice(_STEMS[country]), rng.choice(_TRADES[country])
        legal = rng.choice(_LEGAL_FORMS[country])
        zip_code, city = rng.choice(_CITIES[country])
        name = f"{stem} {trade} {legal}"
        if name in used_names:
            name = f"{stem} {trade} {city} {legal}"
        if name in used_names:
            name = f"{stem} {trade} {legal} ({i + start_number})"
        used_names.add(name)
        slug = _ascii_slug(f"{stem}{trade}")[:40]
        domain = f"{slug}.{_TLD[country]}"
        corporate_id, vat_number = _corporate_ids(country, rng)
        domestic = country == "DK"
        body: dict[str, Any] = {
            "customerNumber": start_number + i,
            "name": name,
            "currency": _CURRENCY.get(country, "EUR"),
            "customerGroup": {"customerGroupNumber": 1 if domestic else 2},
            "paymentTerms": {"paymentTermsNumber": rng.choices([1, 2, 3, 4, 5], [10, 30, 5, 20, 35])[0]},
            "vatZone": {"vatZoneNumber": 1 if domestic else (2 if country in _EU else 3)},
            "address": f"{rng.choice(_STREETS[country])} {rng.randint(1, 180)}",
            "zip": zip_code,
            "city": city,
            "country": _COUNTRY_NAMES[country],
            "corporateIdentificationNumber": corporate_id,
            "email": rng.choice(["info", "faktura", "kontakt", "regnskab", "post"]) + f"@{domain}",
            "telephoneAndFaxNumber": _phone(country, rng),
            "website": f"www.{domain}",
        }
        if vat_number:
            body["vatNumber"] = vat_number
        if rng.random() < 0.3:
            body["mobilePhone"] = _phone(country, rng)
        if domestic and rng.random() < 0.05:
            body["ean"] = "5798" + "".join(str(rng.randint(0, 9)) for _ in range(9))
        if rng.random() < 0.2:
            body["creditLimit"] = float(rng.choice([10_000, 25_000, 50_000, 100_000]))
        if rng.random() < 0.04:
            body["barred"] = True
        contacts = []
        for _ in range(contacts_per_customer):
            first = rng.choice(_FIRST_NAMES[country])
            last = rng.choice(_LAST_NAMES[country])
            email = f"{_ascii_slug(first)}.{_ascii_slug(last)}@{domain}"
            suffix = 2
            while email in used_emails:  # CRMs treat a contact e-mail as unique; keep generated ones so
                email = f"{_ascii_slug(first)}.{_ascii_slug(last)}{suffix}@{domain}"
                suffix += 1
            used_emails.add(email)
            contact: dict[str, Any] = {
                "name": f"{first} {last}",
                "email": email,
                "phone": _phone(country, rng),
            }
            note = rng.choice(_CONTACT_NOTES)
            if note:
                contact["notes"] = note
            contacts.append(contact)
        body["contacts"] = contacts
        out.append(body)
    return out


def main(argv: list[str] | None = None) -> None:
    """``python -m local.fakes.economic --port 8081 --customers 200``: serve a seeded fake until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--contacts-per-customer", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--webhook-url", default=None)
    parser.add_argument("--app-secret-token", default="test-app-secret")
    parser.add_argument("--agreement-grant-token", default="test-grant-token")
    args = parser.parse_args(argv)
    fake = EconomicFake(
        app_secret_token=args.app_secret_token,
        agreement_grant_token=args.agreement_grant_token,
        webhook_url=args.webhook_url,
    )
    fake.seed(args.customers, contacts_per_customer=args.contacts_per_customer, seed=args.seed)
    _, base_url = fake.serve(args.host, args.port)
    print(f"e-conomic fake on {base_url} (Customers API at {base_url}{CUSTOMERS_API_PREFIX})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.shutdown()


if __name__ == "__main__":
    main()

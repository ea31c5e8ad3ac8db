"""Constants, error codes and the small value types (rows, field specs, request context) of the e-conomic fake."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from werkzeug.wrappers import Request

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
DEFAULT_DAYS_OF_CREDIT = 14
"""Due date of a booked invoice when the bookkeeper gives none (fake-chosen: payment terms are not modelled)."""
INVOICE_BOOKED = "invoice booked"
"""``WebhookEvent.action`` of the "Invoice booked" webhook (its numbers are the invoice's)."""


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


@dataclass
class _EmployeeRow:
    number: int
    data: dict[str, Any]
    """name, email, phone, barred, employeeGroup (number)."""


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

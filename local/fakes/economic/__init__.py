"""In-memory fake of Visma e-conomic: legacy REST, Customers API v3.1.0 and customer webhooks.

One shared state is served through two API surfaces of one WSGI app, so a single base URL serves both:

* legacy REST at ``/`` (like ``https://restapi.e-conomic.com``): ``/customers``,
  ``/customers/{n}``, ``/customers/{n}/contacts[/{m}]``, ``/customers/{n}/invoices/booked``, and
  (``invoices_api``) ``/invoices/booked[/{n}]``, ``/invoices/paid|unpaid|overdue|not-due``,
  ``/invoices/totals/booked/...`` and ``/employees[/{n}]``;
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
  customer webhook; it fires the "Invoice booked" webhook (``[INVOICENO]``, ``set_invoice_webhook``)
  instead. VAT defaults to 25 % in VAT zone 1 and 0 elsewhere, the due date to 14 days after the
  invoice date; amounts in base currency are the invoice amounts times ``exchangeRate / 100`` (default
  100). ``register_payment`` lowers ``remainder`` and ``balance`` without any webhook (e-conomic has no
  payment event); paid/unpaid/overdue/not-due are derived from ``remainder`` and ``dueDate`` against
  the clock's UTC day (details in ``invoices_api``). A renumbered customer keeps its booked invoices.
  A customer with booked invoices cannot be deleted (documented); the refusal is a 400 with a fake-chosen
  error code, through both APIs.
* Error codes other than E04500, E04810 and E06000 are the fake's own choice.
* Every API call costs ``call_costs[method]`` tokens (1 by default) from one bucket shared by both
  APIs; test-control calls are free and not counted.

Package layout (one module per resource/concern; ``EconomicFake`` combines the mixins):

* ``fake``: ``EconomicFake`` (state, configuration, serving); ``app``: WSGI dispatch, auth, faults,
  idempotency, error bodies and the ``/_fake`` surface; ``legacy``: legacy REST; ``customers_api``:
  Customers API v3.1.0; ``rendering``: both APIs' bodies; ``store``: shared mutations; ``bookkeeper``:
  Python test control; ``invoices_api``: booked invoices, totals, employees and their test control;
  ``webhooks``: outbox and delivery worker; ``ratelimit``: the token bucket;
  ``filters``: the filter language; ``fields``: field tables; ``faults``, ``model``, ``helpers``;
  ``seed_data``: generated customers; ``cli``/``__main__``: ``python -m local.fakes.economic``.
"""

from local.fakes.economic.cli import main
from local.fakes.economic.fake import EconomicFake
from local.fakes.economic.faults import EconomicFaults, FakeClock, ScheduledFault
from local.fakes.economic.filters import FilterError, compile_filter
from local.fakes.economic.model import (
    CUSTOMERS_API_PREFIX,
    DEFAULT_PAGE_SIZE,
    DOMESTIC_VAT_RATE,
    E_DUPLICATE,
    E_HAS_BOOKED_INVOICES,
    E_NO_IDENTIFIER,
    E_NOT_FOUND,
    E_PAGE_SIZE,
    E_RANGE,
    E_REQUIRED,
    E_TYPE,
    LEGACY_PUBLIC_BASE,
    MAX_IN_VALUES,
    MAX_NUMBER,
    MAX_PAGE_SIZE,
    ReferenceData,
    WebhookDelivery,
    WebhookEvent,
)
from local.fakes.economic.seed_data import generate_customers

__all__ = [
    "CUSTOMERS_API_PREFIX",
    "DEFAULT_PAGE_SIZE",
    "DOMESTIC_VAT_RATE",
    "E_DUPLICATE",
    "E_HAS_BOOKED_INVOICES",
    "E_NOT_FOUND",
    "E_NO_IDENTIFIER",
    "E_PAGE_SIZE",
    "E_RANGE",
    "E_REQUIRED",
    "E_TYPE",
    "LEGACY_PUBLIC_BASE",
    "MAX_IN_VALUES",
    "MAX_NUMBER",
    "MAX_PAGE_SIZE",
    "EconomicFake",
    "EconomicFaults",
    "FakeClock",
    "FilterError",
    "ReferenceData",
    "ScheduledFault",
    "WebhookDelivery",
    "WebhookEvent",
    "compile_filter",
    "generate_customers",
    "main",
]

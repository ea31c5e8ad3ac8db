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

Layout: this module holds ``EconomicConnector`` (setup, delete, the concurrent ``write``); its other
methods come from one mixin per concern: ``economic_client`` (HTTP plumbing, defaults, idempotency
keys), ``economic_errors`` and ``economic_pacing`` (error mapping, rate headers), ``economic_mapping``
(field maps, value checks, record builders), ``economic_reads``, ``economic_customers`` and
``economic_contacts`` (the writes). Their public names are re-exported here.
"""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor

from crmsync.connectors.base import (
    AuthError,
    NotFoundError,
    SourceRecord,
    VendorError,
    WriteItem,
    WriteResult,
)
from crmsync.connectors.economic_client import CONFLICT_RETRIES, EconomicDefaults
from crmsync.connectors.economic_contacts import EconomicContactWrites
from crmsync.connectors.economic_customers import EconomicCustomerWrites
from crmsync.connectors.economic_errors import map_economic_error
from crmsync.connectors.economic_facts import EconomicFacts
from crmsync.connectors.economic_mapping import (
    CONTACT_SUPPORTED,
    CUSTOMER_SUPPORTED,
    PUBLIC_ENTRY_NUMBER_MAX,
    _as_number,
)
from crmsync.connectors.economic_pacing import PACE_RESERVE, economic_pacer
from crmsync.connectors.economic_reads import IN_FILTER_MAX, PAGE_SIZE
from crmsync.models import ObjectType, Side

WRITE_CONCURRENCY = 4
"""e-conomic writes in flight at once per invocation (no batch endpoint exists). e-conomic documents no
concurrency limit, only its rate limits, which the shared rate budget and the pacer enforce per call;
four keeps a page of 100 writes from taking 100 round trips back to back."""

__all__ = [
    "CONFLICT_RETRIES",
    "CONTACT_SUPPORTED",
    "CUSTOMER_SUPPORTED",
    "IN_FILTER_MAX",
    "PACE_RESERVE",
    "PAGE_SIZE",
    "PUBLIC_ENTRY_NUMBER_MAX",
    "WRITE_CONCURRENCY",
    "EconomicConnector",
    "EconomicDefaults",
    "economic_pacer",
    "map_economic_error",
]


class EconomicConnector(EconomicCustomerWrites, EconomicContactWrites, EconomicFacts):
    """One e-conomic agreement (one connection) seen through canonical customer/contact fields."""

    side: Side = Side.ACCOUNTING

    def supported_fields(self, object_type: ObjectType) -> frozenset[str]:
        return CUSTOMER_SUPPORTED if object_type is ObjectType.CUSTOMER else CONTACT_SUPPORTED

    def ensure_setup(self) -> None:
        """Nothing to create on e-conomic; a one-row read proves the tokens (AuthError if not)."""
        self._call("GET", f"{self.rest_base_url}/customers", params={"pagesize": 1})

    def delete(self, object_type: ObjectType, external_id: str) -> None:
        """Delete a customer (legacy) or a contact (Customers API); already gone counts as done.

        e-conomic refuses to delete a customer with booked invoices (a ``VendorRefusedError`` the caller
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

"""Booked invoices, invoice totals and employees of the legacy REST API, plus their test control.

Endpoints (legacy REST, read-only like the real ones for booked invoices):

* ``GET /invoices`` (links), ``/invoices/booked``, ``/invoices/booked/{n}``, ``/invoices/paid``,
  ``/invoices/unpaid``, ``/invoices/overdue``, ``/invoices/not-due``: collections with
  ``skippages``/``pagesize``/``filter``/``sort`` like every legacy collection. Booked invoices are
  immutable: PUT/DELETE on one is a 405 (booking happens only through the bookkeeper, see below).
* ``GET /invoices/totals/booked[/customers/{n}][/employees/{n}][/paid|/unpaid[/overdue|/not-overdue]]``,
  optionally ending in ``/customers`` or ``/employees`` to group. Grouped answers carry the totals of the
  whole selection plus ``customers``/``employees``: one entry per customer/employee with invoices in it.
* ``GET /employees``, ``GET /employees/{n}``.

State derivation (the fake's choices where the docs are silent): *paid* is ``remainder == 0``, *unpaid*
``remainder != 0`` (an open credit note is unpaid with a negative remainder), *overdue* is unpaid with
``dueDate`` before the fake clock's UTC day, *not-due* the other unpaid ones. Totals are in base currency:
``netAmountInBaseCurrency`` sums the net amounts (before VAT), ``grossRemainderInBaseCurrency`` (unpaid
selections only) the remainders; ``minDate``/``maxDate`` are the invoice dates (absent when empty).
Base-currency amounts are the invoice amounts times ``exchangeRate / 100`` (100 = base currency).

Test control (Python, not API calls): ``book_invoice`` and ``register_payment`` (in ``bookkeeper``;
booking fires "Invoice booked", a payment fires nothing: e-conomic has no payment event; both share
``store._create_booked_row``), ``seed_booked_invoices`` (many, fast, no webhooks), ``add_employee``,
``seed_employees``, ``set_invoice_webhook``, ``get_booked_invoice`` (here).
HTTP (free, unauthenticated): ``POST /_fake/invoices`` (book), ``POST /_fake/invoices/{n}/payments``,
``POST /_fake/invoices/seed``, ``POST /_fake/employees``, ``GET|PUT /_fake/invoice-webhook``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, timedelta
from typing import Any

from werkzeug.wrappers import Response

from local.fakes.economic.fields import (
    _LEGACY_BOOKED_INVOICE_FILTER,
    _LEGACY_BOOKED_INVOICE_SORTABLE,
    _data_getter,
    _number,
)
from local.fakes.economic.helpers import _NOT_FOUND_HINT
from local.fakes.economic.model import (
    LEGACY_PUBLIC_BASE,
    _BookedInvoiceRow,
    _Ctx,
    _EmployeeRow,
    _FilterField,
)

INVOICE_ROUTES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "invoices_root": ("/invoices", "/invoices", ("GET",)),
    "invoices_booked": ("/invoices/booked", "/invoices/booked", ("GET",)),
    "invoices_booked_one": (
        "/invoices/booked/{bookedInvoiceNumber}",
        "/invoices/booked/<int:invoice>",
        ("GET",),
    ),
    "invoices_paid": ("/invoices/paid", "/invoices/paid", ("GET",)),
    "invoices_unpaid": ("/invoices/unpaid", "/invoices/unpaid", ("GET",)),
    "invoices_overdue": ("/invoices/overdue", "/invoices/overdue", ("GET",)),
    "invoices_not_due": ("/invoices/not-due", "/invoices/not-due", ("GET",)),
    "invoices_totals_booked": ("/invoices/totals/booked", "/invoices/totals/booked", ("GET",)),
    "invoices_totals_booked_sub": (
        "/invoices/totals/booked/{selection}",
        "/invoices/totals/booked/<path:rest>",
        ("GET",),
    ),
    "employees": ("/employees", "/employees", ("GET",)),
    "employee": ("/employees/{employeeNumber}", "/employees/<int:number>", ("GET",)),
}

_EMPLOYEE_FILTER: dict[str, _FilterField] = {
    "employeeNumber": _FilterField(_number, "int"),
    "name": _FilterField(_data_getter("name"), "str"),
    "email": _FilterField(_data_getter("email"), "str"),
    "phone": _FilterField(_data_getter("phone"), "str"),
    "barred": _FilterField(_data_getter("barred", False), "bool"),
    "employeeGroup.employeeGroupNumber": _FilterField(_data_getter("employeeGroup"), "int"),
}


def _base_amount(row: _BookedInvoiceRow, key: str) -> float:
    return round(float(row.data[key]) * float(row.data.get("exchangeRate", 100.0)) / 100.0, 2)


class InvoicesApiMixin:
    """Handlers of the invoice/employee endpoints and their bookkeeper-style test control."""

    # ---------------------------------------------------------------- derivation

    def _today(self) -> str:
        return self.clock.now().astimezone(UTC).date().isoformat()

    def _invoice_state(self, row: _BookedInvoiceRow, today: str) -> str:
        if float(row.data["remainder"]) == 0:
            return "paid"
        return "overdue" if row.data["dueDate"] < today else "not-due"

    def _invoices_in(self, state: str | None) -> list[_BookedInvoiceRow]:
        today = self._today()
        rows = sorted(self._booked.values(), key=_number)
        if state is None:
            return rows
        wanted = {"paid": ("paid",), "unpaid": ("overdue", "not-due")}.get(state, (state,))
        return [row for row in rows if self._invoice_state(row, today) in wanted]

    def _legacy_booked_invoice(self, row: _BookedInvoiceRow, base: str) -> dict[str, Any]:
        """The rendering's body plus what the invoice endpoints need: due date, exchange rate, base amounts
        and the remainder left after payments."""
        body: dict[str, Any] = super()._legacy_booked_invoice(row, base)  # type: ignore[misc]
        d = row.data
        if "dueDate" not in d:
            return body
        out: dict[str, Any] = {}
        for key, value in body.items():
            out[key] = value
            if key == "currency":
                out["exchangeRate"] = d.get("exchangeRate", 100.0)
            elif key == "netAmount":
                out["netAmountInBaseCurrency"] = _base_amount(row, "netAmount")
            elif key == "grossAmount":
                out["grossAmountInBaseCurrency"] = _base_amount(row, "grossAmount")
        out["netAmountInBaseCurrency"] = _base_amount(row, "netAmount")
        out["remainder"] = d["remainder"]
        out["remainderInBaseCurrency"] = _base_amount(row, "remainder")
        out["dueDate"] = d["dueDate"]
        out["self"] = out.pop("self")
        return out

    # ---------------------------------------------------------------- collections

    def _invoice_collection(self, ctx: _Ctx, state: str | None) -> Response:
        return self._legacy_collection(
            ctx,
            self._invoices_in(state),
            _LEGACY_BOOKED_INVOICE_FILTER,
            _LEGACY_BOOKED_INVOICE_SORTABLE,
            lambda row: self._legacy_booked_invoice(row, ctx.base),
            create_description=None,
        )

    def _h_invoices_root_get(self, ctx: _Ctx, body: Any) -> Response:
        base = f"{ctx.base}/invoices"
        links = {
            "drafts": f"{base}/drafts",
            "booked": f"{base}/booked",
            "paid": f"{base}/paid",
            "unpaid": f"{base}/unpaid",
            "overdue": f"{base}/overdue",
            "notDue": f"{base}/not-due",
            "sent": f"{base}/sent",
            "totals": f"{base}/totals",
            "self": base,
        }
        return self._json(200, links)

    def _h_invoices_booked_get(self, ctx: _Ctx, body: Any) -> Response:
        return self._invoice_collection(ctx, None)

    def _h_invoices_paid_get(self, ctx: _Ctx, body: Any) -> Response:
        return self._invoice_collection(ctx, "paid")

    def _h_invoices_unpaid_get(self, ctx: _Ctx, body: Any) -> Response:
        return self._invoice_collection(ctx, "unpaid")

    def _h_invoices_overdue_get(self, ctx: _Ctx, body: Any) -> Response:
        return self._invoice_collection(ctx, "overdue")

    def _h_invoices_not_due_get(self, ctx: _Ctx, body: Any) -> Response:
        return self._invoice_collection(ctx, "not-due")

    def _h_invoices_booked_one_get(self, ctx: _Ctx, body: Any, invoice: int) -> Response:
        row = self._booked.get(invoice)
        if row is None:
            return self._legacy_error(ctx, 404, "Resource not found.", _NOT_FOUND_HINT)
        return self._json(200, self._legacy_booked_invoice(row, ctx.base))

    # ---------------------------------------------------------------- totals

    def _h_invoices_totals_booked_get(self, ctx: _Ctx, body: Any) -> Response:
        return self._totals(ctx, "")

    def _h_invoices_totals_booked_sub_get(self, ctx: _Ctx, body: Any, rest: str) -> Response:
        return self._totals(ctx, rest)

    def _totals(self, ctx: _Ctx, rest: str) -> Response:
        parsed = _parse_totals_path(rest)
        if parsed is None:
            return self._legacy_error(ctx, 404, "Resource not found.", _NOT_FOUND_HINT)
        state, customer, employee, group = parsed
        rows = [
            row
            for row in self._invoices_in(state)
            if (customer is None or row.customer_number == customer)
            and (employee is None or row.data.get("salesPerson") == employee)
        ]
        unpaid = state in ("unpaid", "overdue", "not-due")
        me = f"{ctx.base}/invoices/totals/booked" + (f"/{rest.strip('/')}" if rest.strip("/") else "")
        out = _sums(rows, unpaid)
        if group is None:
            for link in ("customers", "employees"):
                out[link] = f"{me}/{link}"
            if state is None:
                out["paid"], out["unpaid"] = f"{me}/paid", f"{me}/unpaid"
            elif state == "unpaid":
                out["overdue"], out["notOverdue"] = f"{me}/overdue", f"{me}/not-overdue"
        else:
            key_of: Callable[[_BookedInvoiceRow], Any] = (
                (lambda r: r.customer_number)
                if group == "customers"
                else (lambda r: r.data.get("salesPerson"))
            )
            groups: dict[int, list[_BookedInvoiceRow]] = {}
            for row in rows:
                key = key_of(row)
                if key is not None:
                    groups.setdefault(int(key), []).append(row)
            items = []
            for key in sorted(groups):
                item = _sums(groups[key], unpaid)
                if group == "customers":
                    item["customer"] = {"customerNumber": key, "self": f"{ctx.base}/customers/{key}"}
                else:
                    item["employee"] = {"employeeNumber": key, "self": f"{ctx.base}/employees/{key}"}
                item["self"] = f"{me}/{key}"
                items.append(item)
            out[group] = items
        out["self"] = me
        return self._json(200, out)

    # ---------------------------------------------------------------- employees

    def _legacy_employee(self, row: _EmployeeRow, base: str) -> dict[str, Any]:
        d, me = row.data, f"{base}/employees/{row.number}"
        body: dict[str, Any] = {"employeeNumber": row.number}
        group = d.get("employeeGroup")
        if group is not None:
            body["employeeGroup"] = {"employeeGroupNumber": group, "self": f"{base}/employee-groups/{group}"}
        for key in ("name", "email", "phone"):
            if d.get(key) is not None:
                body[key] = d[key]
        body["barred"] = bool(d.get("barred", False))
        body["customers"] = f"{me}/customers"
        body["draftInvoices"] = f"{me}/invoices/drafts"
        body["bookedInvoices"] = f"{me}/invoices/booked"
        body["self"] = me
        return body

    def _h_employees_get(self, ctx: _Ctx, body: Any) -> Response:
        return self._legacy_collection(
            ctx,
            sorted(self._employees.values(), key=_number),
            _EMPLOYEE_FILTER,
            frozenset(_EMPLOYEE_FILTER),
            lambda row: self._legacy_employee(row, ctx.base),
            create_description=None,
        )

    def _h_employee_get(self, ctx: _Ctx, body: Any, number: int) -> Response:
        row = self._employees.get(number)
        if row is None:
            return self._legacy_error(ctx, 404, "Resource not found.", _NOT_FOUND_HINT)
        return self._json(200, self._legacy_employee(row, ctx.base))

    # ---------------------------------------------------------------- test control (Python)

    def set_invoice_webhook(
        self, url_template: str | None, body_template: str | None = None, content_type: str | None = None
    ) -> None:
        """Configure the "Invoice booked" webhook; ``[INVOICENO]`` is merged into URL and body."""
        self.invoice_webhook_url = url_template
        self.invoice_webhook_body = body_template
        if content_type:
            self.invoice_webhook_content_type = content_type

    def get_booked_invoice(self, number: int) -> dict[str, Any] | None:
        """The booked invoice as ``GET /invoices/booked/{n}`` shows it (not an API call)."""
        with self._lock:
            row = self._booked.get(number)
            return (
                None
                if row is None
                else self._legacy_booked_invoice(row, self.link_base or LEGACY_PUBLIC_BASE)
            )

    def seed_booked_invoices(
        self,
        count: int,
        *,
        customers: Iterable[int] | None = None,
        start: str | None = None,
        days: int = 365,
        paid_share: float = 0.6,
        credit_note_share: float = 0.05,
        seed: int = 0,
    ) -> list[int]:
        """Book ``count`` generated invoices fast (no webhooks), spread over ``customers`` (default: all)
        and over ``days`` days from ``start`` (default: ``days`` before today). ``paid_share`` of them are
        paid in full, a few partly, the rest not at all; ``credit_note_share`` are credit notes."""
        rng = random.Random(seed)
        with self._lock:
            numbers = list(customers) if customers is not None else sorted(self._customers)
            if not numbers:
                raise ValueError("no customers to invoice")
            first = (
                date.fromisoformat(start) if start else date.fromisoformat(self._today()) - timedelta(days)
            )
            out: list[int] = []
            for i in range(count):
                day = first + timedelta(days=rng.randrange(max(days, 1)))
                credit = rng.random() < credit_note_share
                net = round(rng.uniform(100, 20_000), 2) * (-1 if credit else 1)
                row = self._create_booked_row(
                    numbers[i % len(numbers)],
                    amount=net,
                    vat_amount=None,
                    currency=None,
                    invoice_date=day.isoformat(),
                    due_date=(day + timedelta(days=rng.choice((8, 14, 30)))).isoformat(),
                    sales_person=None,
                    exchange_rate=None,
                )
                roll = rng.random()
                if roll < paid_share:
                    self.register_payment(row.number)
                elif roll < paid_share + (1 - paid_share) / 4 and not credit:
                    self.register_payment(row.number, round(float(row.data["remainder"]) / 2, 2))
                out.append(row.number)
            return out

    def add_employee(
        self,
        number: int | None = None,
        *,
        name: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        barred: bool = False,
        employee_group: int = 1,
    ) -> int:
        """Create an employee (Settings > Employees in the UI; not an API call); returns its number."""
        with self._lock:
            if number is None:
                number = max(self._employees, default=0) + 1
            if number in self._employees or number < 1:
                raise ValueError(f"employee {number} exists or is not a valid number")
            data = {
                "name": name,
                "email": email,
                "phone": phone,
                "barred": barred,
                "employeeGroup": employee_group,
            }
            self._employees[number] = _EmployeeRow(number, {k: v for k, v in data.items() if v is not None})
            return number

    def seed_employees(self, count: int, *, domain: str = "example.dk") -> list[int]:
        """Create ``count`` employees named ``Employee {n}`` with ``employee{n}@{domain}``."""
        return [
            self.add_employee(name=f"Employee {i}", email=f"employee{i}@{domain}")
            for i in range(1, count + 1)
        ]

    # ---------------------------------------------------------------- test control (HTTP)

    def _invoice_control(self, path: str, method: str, payload: Mapping[str, Any]) -> Response | None:
        if path == "/_fake/invoices" and method == "POST":
            number = self.book_invoice(
                int(payload["customerNumber"]),
                amount=float(payload.get("netAmount", 1000.0)),
                currency=payload.get("currency"),
                date=payload.get("date"),
                due_date=payload.get("dueDate"),
                sales_person=payload.get("salesPerson"),
                exchange_rate=payload.get("exchangeRate"),
                fire_webhook=bool(payload.get("fireWebhook", True)),
            )
            return self._json(201, self.get_booked_invoice(number))
        if path == "/_fake/invoices/seed" and method == "POST":
            numbers = self.seed_booked_invoices(
                int(payload.get("count", 0)), seed=int(payload.get("seed", 0)), start=payload.get("start")
            )
            return self._json(201, {"bookedInvoiceNumbers": numbers})
        match = re.fullmatch(r"/_fake/invoices/(\d+)/payments", path)
        if match and method == "POST":
            amount = payload.get("amount")
            left = self.register_payment(int(match.group(1)), None if amount is None else float(amount))
            return self._json(200, {"remainder": left})
        if path == "/_fake/employees" and method == "POST":
            count = payload.get("count")
            if count is not None:
                return self._json(201, {"employeeNumbers": self.seed_employees(int(count))})
            number = self.add_employee(
                payload.get("employeeNumber"),
                name=payload.get("name"),
                email=payload.get("email"),
                phone=payload.get("phone"),
                barred=bool(payload.get("barred", False)),
            )
            return self._json(201, {"employeeNumber": number})
        if path == "/_fake/invoice-webhook" and method == "PUT":
            self.set_invoice_webhook(payload.get("url"), payload.get("body"), payload.get("contentType"))
        if path == "/_fake/invoice-webhook" and method in ("GET", "PUT"):
            return self._json(200, {"url": self.invoice_webhook_url, "body": self.invoice_webhook_body})
        return None


def _parse_totals_path(rest: str) -> tuple[str | None, int | None, int | None, str | None] | None:
    """``customers/7/unpaid/overdue/customers`` -> (state, customer filter, employee filter, grouping)."""
    parts = [p for p in rest.split("/") if p]
    state: str | None = None
    customer: int | None = None
    employee: int | None = None
    group: str | None = None
    i = 0
    while i < len(parts):
        part = parts[i]
        nxt = parts[i + 1] if i + 1 < len(parts) else None
        if group is not None:
            return None
        if part in ("paid", "unpaid") and state is None:
            state = part
        elif part in ("overdue", "not-overdue") and state == "unpaid" and parts[i - 1] == "unpaid":
            state = "overdue" if part == "overdue" else "not-due"
        elif part in ("customers", "employees") and nxt is not None and nxt.isdigit():
            if (customer if part == "customers" else employee) is not None:
                return None
            if part == "customers":
                customer = int(nxt)
            else:
                employee = int(nxt)
            i += 1
        elif part in ("customers", "employees") and nxt is None:
            group = part
        else:
            return None
        i += 1
    return state, customer, employee, group


def _sums(rows: list[_BookedInvoiceRow], unpaid: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "netAmountInBaseCurrency": round(sum(_base_amount(r, "netAmount") for r in rows), 2),
        "invoiceCount": len(rows),
    }
    if rows:
        out["maxDate"] = max(r.data["date"] for r in rows)
        out["minDate"] = min(r.data["date"] for r in rows)
    if unpaid:
        out["grossRemainderInBaseCurrency"] = round(sum(_base_amount(r, "remainder") for r in rows), 2)
    return out

"""The Customers API v3.1.0 (``/customersapi/v3.1.0``): ``/Customers`` and ``/Contacts``."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from typing import Any

from werkzeug.wrappers import Response

from local.fakes.economic.fields import (
    _API_CONTACT_FIELDS,
    _API_CONTACT_FILTER,
    _API_CUSTOMER_FIELDS,
    _API_CUSTOMER_FILTER,
    _API_CUSTOMER_KEYS,
    _API_CUSTOMER_REQUIRED,
    _number,
)
from local.fakes.economic.filters import FilterError, compile_filter
from local.fakes.economic.helpers import _BOOKED_INVOICES_MESSAGE, _check_value, _positive_int
from local.fakes.economic.model import (
    CUSTOMERS_API_PREFIX,
    E_DUPLICATE,
    E_HAS_BOOKED_INVOICES,
    E_NOT_FOUND,
    E_RANGE,
    E_REQUIRED,
    E_TYPE,
    _Ctx,
    _FilterField,
    _Spec,
)


class CustomersApiMixin:
    """Cursor paging, validation and the Customers/Contacts handlers of the Customers API."""

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

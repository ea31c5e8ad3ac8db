"""The legacy REST API (``restapi.e-conomic.com``): customers, contacts and booked invoices."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.wrappers import Response

from local.fakes.economic.fields import (
    _LEGACY_BOOKED_INVOICE_FILTER,
    _LEGACY_BOOKED_INVOICE_SORTABLE,
    _LEGACY_CONTACT_FILTER,
    _LEGACY_CONTACT_SORTABLE,
    _LEGACY_CUSTOMER_FILTER,
    _LEGACY_CUSTOMER_SORTABLE,
    _LEGACY_NOT_ON_POST,
    _LEGACY_REFS,
    _LEGACY_REQUIRED,
    _LEGACY_SCALARS,
    _LEGACY_WRITABLE_KEYS,
    _number,
)
from local.fakes.economic.filters import FilterError, _fold, compile_filter
from local.fakes.economic.helpers import (
    _BOOKED_INVOICES_MESSAGE,
    _NOT_FOUND_HINT,
    _check_value,
    _net_urlencode,
    _positive_int,
    _ref_from_self,
)
from local.fakes.economic.model import (
    _MISSING,
    DEFAULT_PAGE_SIZE,
    E_DUPLICATE,
    E_HAS_BOOKED_INVOICES,
    E_NO_IDENTIFIER,
    E_NOT_FOUND,
    E_PAGE_SIZE,
    E_RANGE,
    E_REQUIRED,
    E_TYPE,
    LEGACY_PUBLIC_BASE,
    MAX_NUMBER,
    MAX_PAGE_SIZE,
    _Ctx,
    _FilterField,
)


class LegacyRestMixin:
    """Legacy collections (paging, filter, sort) and the legacy customer/contact/booked-invoice handlers."""

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

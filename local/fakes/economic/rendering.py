"""Rendering stored rows as the legacy API and the Customers API show them."""

from __future__ import annotations

from typing import Any

from local.fakes.economic.fields import (
    _API_CONTACT_FIELDS,
    _API_CUSTOMER_FIELDS,
    _CONTACT_NOTIFICATIONS,
    _LEGACY_REFS,
    _LEGACY_SCALARS,
)
from local.fakes.economic.helpers import _iso
from local.fakes.economic.model import _BookedInvoiceRow, _ContactRow, _CustomerRow


class RenderingMixin:
    """Legacy customer/contact/booked-invoice bodies and Customers API customer/contact bodies."""

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

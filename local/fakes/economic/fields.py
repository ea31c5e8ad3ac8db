"""Field tables of both APIs: writable legacy/Customers-API properties and what each resource may filter/sort on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from local.fakes.economic.model import _BookedInvoiceRow, _ContactRow, _FilterField, _Spec

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

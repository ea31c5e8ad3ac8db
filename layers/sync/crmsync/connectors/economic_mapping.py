"""Canonical fields <-> e-conomic properties (legacy REST and Customers API), and the value checks
e-conomic would otherwise fail a write on.

The two APIs name the same customer properties differently; keeping both maps and the record
builders together makes sure a customer read from either API yields the same canonical fields."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from crmsync.connectors.base import SourceRecord, StaleError, VendorRefusedError, stale_fields
from crmsync.models import CUSTOMER_FIELDS, Fields, FieldValue, ObjectType, normalize
from crmsync.text_rules import clean_fields

CUSTOMER_SUPPORTED: frozenset[str] = frozenset(CUSTOMER_FIELDS) - {
    "lifecycle_stage",
    "parent_account",
}  # CRM-only
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
"""Canonical fields the Customers API does not know: written by a legacy PUT (see ``economic``)."""
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


def _refuse_stale(expected: Fields, current: Fields) -> None:
    """The read-modify-write already reads the record: compare it with what crmsync last saw (free)."""
    changed = stale_fields(expected, current)
    if changed:
        raise StaleError(f"changed in e-conomic since last read: {', '.join(changed)}", code="stale")


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
        raise VendorRefusedError(
            f"{name} must be a positive whole number, got {value!r}", code="invalid_field"
        )
    return int(text)


def _public_entry_number(fields: Fields) -> str | None:
    """The ``external_number`` to write as ``publicEntryNumber``, refused up front when e-conomic would."""
    value = normalize(fields.get("external_number"))
    if value is None:
        return None
    text = str(value)
    if len(text) > PUBLIC_ENTRY_NUMBER_MAX:
        raise VendorRefusedError(
            f"external_number is longer than e-conomic's {PUBLIC_ENTRY_NUMBER_MAX} characters: {text!r}",
            code="invalid_field",
        )
    return text


class EconomicRecords:
    """Record builders of ``EconomicConnector`` (no I/O): API bodies -> ``SourceRecord`` and back."""

    @staticmethod
    def _overlay_customer(current: dict[str, Any], fields: Fields, number: str) -> dict[str, Any]:
        """The PUT body: the customer as read, with only the canonical fields of the item replaced."""
        body = dict(current)
        body["customerNumber"] = int(number)
        for canonical, raw in fields.items():
            value = normalize(raw)
            if canonical == "customer_number":
                if value is not None and value != number:
                    raise VendorRefusedError(
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

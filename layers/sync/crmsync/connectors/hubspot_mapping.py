"""Canonical fields <-> HubSpot properties, and HubSpot objects -> ``SourceRecord``.

One place that knows the property names and value formats, so reads, searches and write results
all build records the same way (and the same cleaning rule applies to each)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from crmsync.connectors.base import SourceRecord
from crmsync.connectors.values import parse_time as parse_time  # re-exported: the connector and tests use it
from crmsync.connectors.values import split_name as split_name
from crmsync.models import CONTACT_FIELDS, CUSTOMER_FIELDS, Fields, ObjectType
from crmsync.text_rules import clean

RECORD_ID_PROPERTY = "crmsync_record_id"
PARENT_COMPANY_PROPERTY = "hs_parent_company_id"
"""A company's parent company (read-only; HubSpot keeps it from the parent/child association, type 14):
read with the company at no extra call, it travels as the company's ``parent_external_id`` and the sync
layer makes it the canonical ``parent_account``. Never written: the CRM owns the hierarchy."""


HS_TYPE = {ObjectType.CUSTOMER: "companies", ObjectType.CONTACT: "contacts"}
LAST_MODIFIED = {ObjectType.CUSTOMER: "hs_lastmodifieddate", ObjectType.CONTACT: "lastmodifieddate"}

COMPANY_PROPERTIES: dict[str, str] = {
    "name": "name",
    "website": "website",
    "phone": "phone",
    "address": "address",
    "zip": "zip",
    "city": "city",
    "country": "country",
    "customer_number": "crmsync_customer_number",
    "corporate_id": "crmsync_corporate_id",
    "vat_number": "crmsync_vat_number",
    "email": "crmsync_email",
    "currency": "crmsync_currency",
    "customer_group": "crmsync_customer_group",
    "payment_terms": "crmsync_payment_terms",
    "vat_zone": "crmsync_vat_zone",
    "barred": "crmsync_barred",
    "external_number": "crmsync_external_number",
    "account_manager": "hubspot_owner_id",
    "lifecycle_stage": "lifecyclestage",
}
"""Canonical customer field -> HubSpot company property.

``account_manager`` carries the raw HubSpot owner id; mapping it to an accounting employee number is the
tenant's value map's job, not the connector's."""

CONTACT_PROPERTIES: dict[str, str] = {
    "email": "email",
    "phone": "phone",
    "title": "jobtitle",
    "lifecycle_stage": "lifecyclestage",
}
"""Canonical contact field -> HubSpot contact property (``name`` maps to firstname + lastname)."""

BOOL_FIELDS = frozenset({"barred"})


def _to_hubspot_value(value: object) -> str:
    if value is None:
        return ""  # HubSpot clears a property with an empty string
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _bool_value(raw: object) -> bool | None:
    text = str(raw).strip().lower() if raw is not None else ""
    if text == "true":
        return True
    if text == "false":
        return False
    return None


def _epoch_ms(moment: datetime) -> int:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1000)


class HubSpotMapping:
    """Mapping half of ``HubSpotConnector``: no I/O, only property names and values."""

    @staticmethod
    def _properties(object_type: ObjectType) -> list[str]:
        if object_type is ObjectType.CUSTOMER:
            names = [*COMPANY_PROPERTIES.values(), PARENT_COMPANY_PROPERTY]
        else:
            names = ["firstname", "lastname", *CONTACT_PROPERTIES.values()]
        return [*names, RECORD_ID_PROPERTY, LAST_MODIFIED[object_type]]

    def supported_fields(self, object_type: ObjectType) -> frozenset[str]:
        if object_type is ObjectType.CUSTOMER:
            return frozenset(f for f in CUSTOMER_FIELDS if f in COMPANY_PROPERTIES or f == "parent_account")
        return frozenset(f for f in CONTACT_FIELDS if f == "name" or f in CONTACT_PROPERTIES)

    def to_properties(self, object_type: ObjectType, fields: Fields) -> dict[str, str]:
        """Canonical fields -> HubSpot property strings (unsupported fields are left out)."""
        props: dict[str, str] = {}
        if object_type is ObjectType.CUSTOMER:
            for name, value in fields.items():
                if name in COMPANY_PROPERTIES:
                    props[COMPANY_PROPERTIES[name]] = _to_hubspot_value(value)
            return props
        for name, value in fields.items():
            if name == "name":
                props["firstname"], props["lastname"] = split_name(None if value is None else str(value))
            elif name in CONTACT_PROPERTIES:
                props[CONTACT_PROPERTIES[name]] = _to_hubspot_value(value)
        return props

    def to_source(
        self,
        object_type: ObjectType,
        obj: dict[str, Any],
        *,
        parent: str | None = None,
        partial: bool = False,
    ) -> SourceRecord:
        """A HubSpot object -> ``SourceRecord``. ``partial``: only fields whose properties are present."""
        props: dict[str, Any] = obj.get("properties") or {}
        fields: Fields = {}
        mapping = COMPANY_PROPERTIES if object_type is ObjectType.CUSTOMER else CONTACT_PROPERTIES
        if object_type is ObjectType.CONTACT and (not partial or "firstname" in props or "lastname" in props):
            parts = [str(props.get(p) or "").strip() for p in ("firstname", "lastname")]
            fields["name"] = clean(object_type, "name", " ".join(p for p in parts if p))
        for name, prop in mapping.items():
            if partial and prop not in props:
                continue
            # crmsync.text_rules: the one cleaning rule for what is read from a vendor
            fields[name] = (
                _bool_value(props.get(prop))
                if name in BOOL_FIELDS
                else clean(object_type, name, props.get(prop))
            )
        if object_type is ObjectType.CUSTOMER and parent is None and PARENT_COMPANY_PROPERTY in props:
            parent = str(props[PARENT_COMPANY_PROPERTY] or "") or None
        modified = parse_time(props.get(LAST_MODIFIED[object_type])) or parse_time(obj.get("updatedAt"))
        return SourceRecord(
            object_type=object_type,
            external_id=str(obj["id"]),
            fields=fields,
            parent_external_id=parent,
            modified_at=modified,
            deleted=bool(obj.get("archived", False)),
            record_id=str(props[RECORD_ID_PROPERTY]) if props.get(RECORD_ID_PROPERTY) else None,
        )

    @staticmethod
    def _parent_from_v3(obj: dict[str, Any]) -> str | None:
        """Primary company from the v3 ``associations`` block (``contact_to_company`` is the primary label)."""
        results = ((obj.get("associations") or {}).get("companies") or {}).get("results") or []
        primary = next((r for r in results if r.get("type") == "contact_to_company"), None)
        chosen = primary or (results[0] if results else None)
        return str(chosen["id"]) if chosen else None

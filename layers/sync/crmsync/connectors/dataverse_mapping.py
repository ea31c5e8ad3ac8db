"""Canonical fields <-> Dataverse columns, and rows -> ``SourceRecord``.

Accounts hold the customer fields Dataverse has a standard column for; the accounting-only ones
(corporate id, VAT number, currency, group, terms, VAT zone, barred, external number) and
``lifecycle_stage`` have none and are not supported (no custom columns are created). The canonical
``address`` (multi-line) is spread over ``address1_line1..3``: line 1, line 2, the rest joined.
``account_manager`` is the owner's systemuser id, written as ``ownerid@odata.bind`` (an empty value is
not written: the owner is SystemRequired; the tenant's value map translates ids to employee numbers); an
account owned by crmsync's own application user (Dataverse's default owner of what it creates) reads as
having none.
Contacts: ``name`` <-> ``firstname`` + ``lastname`` (split on the last space, as for HubSpot), e-mail
(``emailaddress1``), phone (``telephone1``) and job title; ``mobilephone`` has no canonical field, and the
canonical ``notes`` is not mapped (contact ``description`` would hold it; not in the brief, left out).
The parent account travels as ``parent_external_id`` (``_parentcustomerid_value`` when that lookup
points to an account).

A merged-away row (Dataverse keeps it, deactivated, with ``merged`` and ``masterid``: the survivor) is
gone under its own id: ``to_source`` marks it ``deleted`` and ``merged_into`` names the survivor, which
the reads follow (``DataverseReads.get``), as HubSpot answers a merged-away id with its survivor.

An account's parent account (``_parentaccountid_value``, the hierarchy) travels as its
``parent_external_id`` too; the sync layer turns it into the canonical ``parent_account`` (the parent's
crmsync record id). It is read, never written: the CRM owns the hierarchy (``to_columns`` ignores it).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from crmsync.connectors.base import SourceRecord
from crmsync.connectors.values import parse_time as parse_time  # re-exported: the connector and tests use it
from crmsync.connectors.values import split_name as split_name
from crmsync.models import CONTACT_FIELDS, CUSTOMER_FIELDS, Fields, FieldValue, ObjectType, normalize
from crmsync.text_rules import clean

ENTITY_SET = {ObjectType.CUSTOMER: "accounts", ObjectType.CONTACT: "contacts"}
PRIMARY_KEY = {ObjectType.CUSTOMER: "accountid", ObjectType.CONTACT: "contactid"}
RECORD_NAMESPACE = uuid.UUID("6f1c1d5e-3b8a-5c2e-9d47-2a1e0c9b7f31")
"""Fixed namespace of the deterministic ids of created rows (uuid5 of the crmsync record id)."""

ACCOUNT_COLUMNS: dict[str, str] = {
    "name": "name",
    "customer_number": "accountnumber",
    "phone": "telephone1",
    "email": "emailaddress1",
    "website": "websiteurl",
    "zip": "address1_postalcode",
    "city": "address1_city",
    "country": "address1_country",
}
"""Canonical customer field -> account column (plus ``address`` and ``account_manager``, see above)."""
ADDRESS_LINES = ("address1_line1", "address1_line2", "address1_line3")
OWNER = "_ownerid_value"
PARENT_ACCOUNT = "_parentaccountid_value"
PARENT_CUSTOMER = "_parentcustomerid_value"
LOOKUP_TYPE = "@Microsoft.Dynamics.CRM.lookuplogicalname"
MERGED, MASTER = "merged", "_masterid_value"

DATAVERSE_STANDARD_FIELDS = frozenset(
    {*ACCOUNT_COLUMNS, "address", "account_manager", "parent_account", "lifecycle_stage"}
)
"""Customer fields with a standard account column (or none by design: the CRM-only lifecycle stage)."""
CUSTOM_COLUMN = re.compile(r"^[a-z][a-z0-9]{1,7}_[a-z0-9_]{1,40}$")
"""A column an organisation added: its solution publisher's prefix, ``_``, the name (``new_customergroup``)."""

CONTACT_COLUMNS: dict[str, str] = {
    "email": "emailaddress1",
    "phone": "telephone1",
    "title": "jobtitle",
}
"""Canonical contact field -> contact column (``name`` maps to firstname + lastname)."""

SELECT: dict[ObjectType, tuple[str, ...]] = {
    ObjectType.CUSTOMER: (
        "accountid",
        *ACCOUNT_COLUMNS.values(),
        *ADDRESS_LINES,
        OWNER,
        PARENT_ACCOUNT,
        MERGED,
        MASTER,
        "modifiedon",
    ),
    ObjectType.CONTACT: (
        "contactid",
        "firstname",
        "lastname",
        *CONTACT_COLUMNS.values(),
        PARENT_CUSTOMER,
        MERGED,
        MASTER,
        "modifiedon",
    ),
}


def record_guid(record_id: str) -> str:
    """The id a create gives the row: the same for every attempt of the same crmsync record."""
    return str(uuid.uuid5(RECORD_NAMESPACE, record_id))


def is_guid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def odata_time(moment: datetime) -> str:
    """An OData DateTimeOffset literal in UTC (``2026-12-07T10:00:00Z``)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parent_account_of(row: dict[str, Any]) -> str | None:
    """The parent account of an account row (the hierarchy), when it has one."""
    value = row.get(PARENT_ACCOUNT)
    return str(value) if value else None


def merged_into(row: dict[str, Any]) -> str | None:
    """The row this one was merged into (its ``masterid``), when it was merged away."""
    master = row.get(MASTER)
    return str(master) if row.get(MERGED) and master else None


def _text(value: FieldValue) -> str | None:
    text = normalize(value)
    return None if text is None else str(text)


def _address_columns(value: FieldValue) -> dict[str, Any]:
    lines = [line.strip() for line in (_text(value) or "").splitlines() if line.strip()]
    rest = ", ".join(lines[2:]) if len(lines) > 2 else None
    values = [lines[0] if lines else None, lines[1] if len(lines) > 1 else None, rest]
    return dict(zip(ADDRESS_LINES, values, strict=True))


class DataverseMapping:
    """Mapping half of ``DataverseConnector``: no I/O, only columns and values."""

    custom_columns: Mapping[str, str] = {}
    """Canonical customer field -> a column the organisation added to accounts (``new_customergroup``):
    the accounting-owned fields Dataverse has no standard column for, where the operator created one."""
    application_user_id: str | None = None
    """crmsync's application user: Dataverse makes it the owner of every row crmsync creates without
    one, which is not an account manager anyone chose (read as none, so it is no change either)."""

    def select(self, object_type: ObjectType) -> str:
        """The ``$select`` of a row: the mapped standard columns and this organisation's custom ones."""
        extra = tuple(self.custom_columns.values()) if object_type is ObjectType.CUSTOMER else ()
        return ",".join((*SELECT[object_type], *extra))

    def supported_fields(self, object_type: ObjectType) -> frozenset[str]:
        if object_type is ObjectType.CUSTOMER:
            names = {*ACCOUNT_COLUMNS, "address", "account_manager", "parent_account", *self.custom_columns}
            return frozenset(f for f in CUSTOMER_FIELDS if f in names)
        return frozenset(f for f in CONTACT_FIELDS if f == "name" or f in CONTACT_COLUMNS)

    def to_columns(
        self, object_type: ObjectType, fields: Fields, parent_external_id: str | None = None
    ) -> dict[str, Any]:
        """Canonical fields -> a create/update body (unsupported fields are left out)."""
        body: dict[str, Any] = {}
        if object_type is ObjectType.CUSTOMER:
            for name, value in fields.items():
                if name in ACCOUNT_COLUMNS:
                    body[ACCOUNT_COLUMNS[name]] = _text(value)
                elif name == "address":
                    body.update(_address_columns(value))
                elif name == "account_manager" and _text(value):
                    body["ownerid@odata.bind"] = f"/systemusers({_text(value)})"
                elif name in self.custom_columns:
                    body[self.custom_columns[name]] = _text(value)
            return body
        for name, value in fields.items():
            if name == "name":
                first, last = split_name(_text(value))
                body["firstname"], body["lastname"] = first or None, last or None
            elif name in CONTACT_COLUMNS:
                body[CONTACT_COLUMNS[name]] = _text(value)
        if parent_external_id:
            body["parentcustomerid_account@odata.bind"] = f"/accounts({parent_external_id})"
        return body

    def to_source(self, object_type: ObjectType, row: dict[str, Any]) -> SourceRecord:
        """A row (as read, or as returned by a write with ``return=representation``) -> ``SourceRecord``."""
        fields: Fields = {}
        parent: str | None = None
        if object_type is ObjectType.CUSTOMER:
            for name, column in ACCOUNT_COLUMNS.items():
                fields[name] = clean(object_type, name, row.get(column))
            lines = [str(row.get(c) or "").strip() for c in ADDRESS_LINES]
            fields["address"] = clean(object_type, "address", "\n".join(line for line in lines if line))
            owner = row.get(OWNER)
            if owner and self.application_user_id and str(owner).lower() == self.application_user_id.lower():
                owner = None
            fields["account_manager"] = clean(object_type, "account_manager", owner)
            for name, column in self.custom_columns.items():
                fields[name] = clean(object_type, name, row.get(column))
            parent = parent_account_of(row)
        else:
            parts = [str(row.get(c) or "").strip() for c in ("firstname", "lastname")]
            fields["name"] = clean(object_type, "name", " ".join(p for p in parts if p))
            for name, column in CONTACT_COLUMNS.items():
                fields[name] = clean(object_type, name, row.get(column))
            kind = row.get(PARENT_CUSTOMER + LOOKUP_TYPE)
            if row.get(PARENT_CUSTOMER) and kind in (None, "account"):
                parent = str(row[PARENT_CUSTOMER])
        return SourceRecord(
            object_type=object_type,
            external_id=str(row[PRIMARY_KEY[object_type]]),
            fields=fields,
            parent_external_id=parent,
            modified_at=parse_time(row.get("modifiedon")),
            version=str(row["@odata.etag"]) if row.get("@odata.etag") else None,
            deleted=merged_into(row) is not None,
        )

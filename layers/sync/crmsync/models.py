"""Canonical models: the shapes every part of crmsync agrees on.

Field values are normalised scalars (``str``, ``bool`` or ``None``): an empty string and a
missing value are the same thing (``None``), so ``""`` vs ``null`` never looks like a change.
Numbers that are identifiers (customer numbers, group numbers) are kept as strings so that both
vendors' representations compare equal.

What a value of each field may be (kind, empty or not, the vendors' length limits, tab/newline) and
the cleaning rule for values read from a vendor are one table: ``crmsync.text_rules``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, computed_field

FieldValue = str | bool | None
Fields = dict[str, FieldValue]


class Side(StrEnum):
    CRM = "crm"
    ACCOUNTING = "accounting"

    @property
    def other(self) -> Side:
        return Side.ACCOUNTING if self is Side.CRM else Side.CRM


class ObjectType(StrEnum):
    CUSTOMER = "customer"
    CONTACT = "contact"


class SyncMode(StrEnum):
    OFF = "off"
    MANUAL = "manual"
    AUTOMATIC = "automatic"


class DeletePolicy(StrEnum):
    """What a deletion on one side means for the other (see ``crmsync.deletes``)."""

    NEVER = "never"
    APPROVE = "approve"
    AUTOMATIC = "automatic"


class ConnectionKind(StrEnum):
    ECONOMIC = "economic"
    HUBSPOT = "hubspot"
    DYNAMICS = "dynamics"
    """Dynamics 365 / Dataverse (Web API v9.2; ``crmsync.connectors.dataverse``)."""

    @property
    def side(self) -> Side:
        return Side.ACCOUNTING if self is ConnectionKind.ECONOMIC else Side.CRM

    @property
    def secret_keys(self) -> tuple[str, ...]:
        """The keys the connection's secret must hold (HubSpot: a private app's; ``required_secret_keys``
        picks per secret, for ``connectors.registry`` and ``config_checks``)."""
        return _SECRET_KEYS[self]


_SECRET_KEYS = {
    ConnectionKind.ECONOMIC: ("app_secret_token", "agreement_grant_token"),
    ConnectionKind.HUBSPOT: ("access_token",),
    ConnectionKind.DYNAMICS: ("tenant_id", "client_id", "client_secret"),
}
"""Dynamics: the Entra ID (directory) tenant, the app registration's client id and a client secret."""

HUBSPOT_PUBLIC_APP_KEYS = ("refresh_token", "client_id", "client_secret")
"""A HubSpot public app's secret (OAuth refresh-token grant) instead of a private app's ``access_token``."""


def required_secret_keys(kind: ConnectionKind, secret: Mapping[str, Any]) -> tuple[str, ...]:
    """The keys ``secret`` must hold for a ``kind`` connection (``connectors.registry`` builds from them,
    ``config_checks`` refuses a secret lacking one). A HubSpot secret with a ``refresh_token`` is a public
    app's and needs ``HUBSPOT_PUBLIC_APP_KEYS``; any other HubSpot secret a private app's ``access_token``."""
    if kind is ConnectionKind.HUBSPOT and secret.get("refresh_token"):
        return HUBSPOT_PUBLIC_APP_KEYS
    return kind.secret_keys


class Environment(StrEnum):
    TEST = "test"
    PRODUCTION = "production"


CUSTOMER_FIELDS: tuple[str, ...] = (
    "name",
    "customer_number",
    "corporate_id",
    "vat_number",
    "email",
    "phone",
    "website",
    "address",
    "zip",
    "city",
    "country",
    "currency",
    "customer_group",
    "payment_terms",
    "vat_zone",
    "barred",
    "external_number",
    "account_manager",
    "lifecycle_stage",
    "parent_account",
)
"""Canonical customer fields (CRM company / account <-> accounting customer).

``external_number`` is a second number both systems know the customer by (the CRM's account number
or an old ERP id): HubSpot property ``crmsync_external_number`` <-> e-conomic ``publicEntryNumber``.
``account_manager`` holds the accounting employee number (e-conomic ``salesPerson``); the CRM's owner
id is translated through the tenant's value map (``config.value_maps``).

``lifecycle_stage`` exists only in the CRM (HubSpot ``lifecyclestage``): it gates transfer timing and
lead conversion and is never written to accounting (the accounting connector does not support it).

``parent_account`` is the crmsync record id of the customer's parent in the CRM's account hierarchy
(Dynamics ``parentaccountid``: a customer's cost centres are child accounts, each linked to its own
accounting customer). A CRM-only relation, like the contact's ``customer``: read from the CRM, shown
in the record and the compare view, never written to accounting (which has no hierarchy).
"""

CONTACT_FIELDS: tuple[str, ...] = ("name", "email", "phone", "title", "notes", "customer", "lifecycle_stage")
"""Canonical contact fields. ``customer`` holds the crmsync record id of the contact's customer."""

FIELDS_BY_TYPE: dict[ObjectType, tuple[str, ...]] = {
    ObjectType.CUSTOMER: CUSTOMER_FIELDS,
    ObjectType.CONTACT: CONTACT_FIELDS,
}


def normalize(value: Any) -> FieldValue:
    """Fold a vendor value into a canonical scalar (empty -> None, numbers -> str)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return str(int(value)) if float(value).is_integer() else str(value)
    text = str(value).strip()
    return text or None


def utcnow() -> datetime:
    return datetime.now(UTC)


class CustomerFields(BaseModel):
    """Validated view of canonical customer fields (used at API boundaries)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    customer_number: str | None = None
    corporate_id: str | None = None
    vat_number: str | None = None
    email: str | None = None
    phone: str | None = None
    website: str | None = None
    address: str | None = None
    zip: str | None = None
    city: str | None = None
    country: str | None = None
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    customer_group: str | None = None
    payment_terms: str | None = None
    vat_zone: str | None = None
    barred: bool | None = None
    external_number: str | None = None
    account_manager: str | None = None
    lifecycle_stage: str | None = None


class ContactFields(BaseModel):
    """Validated view of canonical contact fields."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    title: str | None = None
    notes: str | None = None
    customer: str | None = None
    lifecycle_stage: str | None = None


class Signal(BaseModel):
    """Something may have changed: the only thing entry points produce.

    The worker re-reads the source record, so a signal carries no field values it must trust.
    ``hint`` carries vendor extras (e-conomic ``old_number`` on renumbering, HubSpot event type).
    """

    model_config = ConfigDict(extra="forbid")

    tenant_id: str
    connection_id: str
    object_type: ObjectType
    external_id: str
    source: str = Field(description="webhook | pull | api | replay")
    hint: dict[str, str] = Field(default_factory=dict)
    received_at: datetime = Field(default_factory=utcnow)


class SignalBundle(BaseModel):
    """Up to 100 signals in one queue message (a pull page, a webhook delivery).

    One SQS request per hundred signals instead of one per signal: cheaper, and the worker batch-reads
    their sources together. A signal of a bundle that fails is re-queued on its own, so retries, parking
    and the DLQ work per signal.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["signals"] = "signals"
    signals: list[Signal] = Field(min_length=1, max_length=100)


class Base(BaseModel):
    """What crmsync last saw on (or wrote to) one connection for one record.

    The 3-way compare is: incoming source view vs this base vs the record.
    """

    fields: Fields = Field(default_factory=dict)
    version: str | None = None
    modified_at: datetime | None = None
    written_by_us: bool = False
    deleted: bool = False
    updated_at: datetime = Field(default_factory=utcnow)


class SourceRecord(BaseModel):
    """One vendor record seen through canonical field names."""

    object_type: ObjectType
    external_id: str
    fields: Fields
    parent_external_id: str | None = Field(
        default=None, description="contacts: the external id of their customer on the same side"
    )
    modified_at: datetime | None = None
    version: str | None = Field(default=None, description="vendor concurrency token, if any")
    deleted: bool = False
    record_id: str | None = Field(
        default=None,
        description="crmsync's record id as the vendor keeps it (HubSpot's crmsync_record_id): a hint "
        "that saves a link read, trusted only when that record's link names this external id",
    )


class Record(BaseModel):
    """crmsync's canonical view of one customer or contact of a tenant."""

    tenant_id: str
    record_id: str
    object_type: ObjectType
    fields: Fields = Field(default_factory=dict)
    field_sources: dict[str, str] = Field(
        default_factory=dict, description="per field: the connection the current value came from"
    )
    field_times: dict[str, datetime] = Field(
        default_factory=dict, description="per field: the source's modification time of the value"
    )
    links: dict[str, str] = Field(default_factory=dict, description="connection id -> external id")
    bases: dict[str, Base] = Field(default_factory=dict, description="connection id -> base")
    blocked: list[str] = Field(
        default_factory=list,
        description="connections this record must not be created on (it was unlinked from them)",
    )
    allow_create: list[str] = Field(
        default_factory=list,
        description="connections where a person approved creating this record (manual mode, transfer all)",
    )
    held: list[str] = Field(
        default_factory=list,
        description="fields held for a person's decision (a `manual` conflict): written nowhere until resolved",
    )
    unmapped: dict[str, str] = Field(
        default_factory=dict,
        description="picklist fields whose CRM value has no value mapping (held for that field only)",
    )
    parked: dict[str, str] = Field(
        default_factory=dict, description="connection -> why the last write there was refused (parked)"
    )
    forced: dict[str, list[str]] = Field(
        default_factory=dict,
        description="connection -> fields a person resolved: written there once, whatever the direction",
    )
    version: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    _log: list[str] | None = PrivateAttr(default=None)
    """The timeline entries the stored item carries (JSON), as read with this version; None when this
    copy did not come from the table (see ``SyncStore.save_record``)."""


class ConflictStatus(StrEnum):
    OPEN = "open"
    """Held (rule ``manual``): waits for a person; the field is written nowhere meanwhile."""
    AUTO = "auto"
    """Settled by the field's rule; the losing value is kept here and can be restored."""
    OVERRIDDEN = "overridden"
    """An edit on the side that does not own the field; the owner's value was written back."""
    RESOLVED = "resolved"
    RESTORED = "restored"


class Conflict(BaseModel):
    """A field changed on both sides since their bases, to different values (or a non-owner edit).

    Nothing is silently lost: both values, both times, the rule and the losing value are kept.
    """

    tenant_id: str
    record_id: str
    object_type: ObjectType = ObjectType.CUSTOMER
    field: str
    crm_value: FieldValue
    accounting_value: FieldValue
    crm_time: datetime | None = None
    accounting_time: datetime | None = None
    rule: str
    winner: str
    losing_value: FieldValue
    status: ConflictStatus = ConflictStatus.AUTO
    detected_at: datetime = Field(default_factory=utcnow)
    resolution: FieldValue = None
    resolved_at: datetime | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def conflict_id(self) -> str:
        """Stable id: an open conflict is one per field; settled ones are kept per detection time."""
        stamp = "open" if self.status is ConflictStatus.OPEN else self.detected_at.strftime("%Y%m%dT%H%M%S%f")
        return f"{self.record_id}.{self.field}.{stamp}"

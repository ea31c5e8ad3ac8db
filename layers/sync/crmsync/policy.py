"""Field policy: per object type and field, which way values flow and who wins a conflict.

The defaults follow the field-direction table integrators of CRM <-> e-conomic ship: general data,
addresses, contact persons and the account manager are CRM -> accounting once linked; customer
group, payment terms (and the bookkeeping fields currency, VAT zone, barred, the customer number) are
accounting -> CRM. Price group, discount, invoicing entity and delivery locations are not modelled
yet (e-conomic's priceGroup reference is malformed in its schema; delivery locations are a sub-object).

Directions are stated from crmsync's point of view: ``to_crm`` means the accounting side owns the
field and its value is written to the CRM; a CRM edit of such a field is overwritten by the owner's
value on the next push (and the edit is journalled, never silently lost).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crmsync.models import FIELDS_BY_TYPE, ObjectType, Side


class Direction(StrEnum):
    TO_CRM = "to_crm"
    TO_ACCOUNTING = "to_accounting"
    BOTH = "both"
    NONE = "none"


class ConflictRule(StrEnum):
    LATEST = "latest"
    CRM_WINS = "crm_wins"
    ACCOUNTING_WINS = "accounting_wins"
    MANUAL = "manual"


class FieldRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    direction: Direction
    rule: ConflictRule = ConflictRule.LATEST


BOTH_LATEST = FieldRule(direction=Direction.BOTH)
FROM_ACCOUNTING = FieldRule(direction=Direction.TO_CRM)
FROM_CRM = FieldRule(direction=Direction.TO_ACCOUNTING)

DEFAULT_CUSTOMER_RULES: dict[str, FieldRule] = {
    # General data and the address: the CRM owns them once linked (integrators' field-direction table).
    **{
        f: FROM_CRM
        for f in (
            "name",
            "corporate_id",
            "vat_number",
            "email",
            "phone",
            "website",
            "address",
            "zip",
            "city",
            "country",
            "external_number",
            "account_manager",
        )
    },
    # Bookkeeping data is owned by accounting: the customer number is e-conomic's identifier.
    **{
        f: FROM_ACCOUNTING
        for f in ("customer_number", "currency", "customer_group", "payment_terms", "vat_zone", "barred")
    },
    # CRM-only: recorded from the CRM, never written anywhere (accounting has no such field).
    "lifecycle_stage": FROM_CRM,
    "parent_account": FROM_CRM,
}
DEFAULT_CONTACT_RULES: dict[str, FieldRule] = {
    # Contact persons: CRM -> accounting once linked.
    **{f: FROM_CRM for f in ("name", "email", "phone", "title", "notes", "customer")},
    "lifecycle_stage": FROM_CRM,
}

NEVER_COPIED_ON_CREATE: frozenset[str] = frozenset({"customer_number"})
"""Identifiers the target assigns itself: a create on the accounting side never carries the CRM's copy
of a customer number (e-conomic numbers are unique and reused after delete; it assigns a new one)."""


class FieldPolicy(BaseModel):
    """The per-tenant policy; unknown field names are rejected so a typo cannot disable a field."""

    model_config = ConfigDict(extra="forbid")

    customer: dict[str, FieldRule] = Field(default_factory=lambda: dict(DEFAULT_CUSTOMER_RULES))
    contact: dict[str, FieldRule] = Field(default_factory=lambda: dict(DEFAULT_CONTACT_RULES))

    @model_validator(mode="after")
    def _known_fields(self) -> FieldPolicy:
        for object_type in ObjectType:
            unknown = set(self.rules(object_type)) - set(FIELDS_BY_TYPE[object_type])
            if unknown:
                raise ValueError(f"unknown {object_type} fields in policy: {sorted(unknown)}")
        return self

    def rules(self, object_type: ObjectType) -> dict[str, FieldRule]:
        return self.customer if object_type is ObjectType.CUSTOMER else self.contact

    def rule(self, object_type: ObjectType, field: str) -> FieldRule:
        return self.rules(object_type).get(field, FieldRule(direction=Direction.NONE))

    def flows_from(self, object_type: ObjectType, field: str, side: Side) -> bool:
        """May an edit made on ``side`` change crmsync's value of the field?"""
        direction = self.rule(object_type, field).direction
        if direction is Direction.BOTH:
            return True
        if side is Side.ACCOUNTING:
            return direction is Direction.TO_CRM
        return direction is Direction.TO_ACCOUNTING

    def flows_to(self, object_type: ObjectType, field: str, side: Side) -> bool:
        """Is crmsync's value of the field written to ``side``?"""
        return self.flows_from(object_type, field, side.other)

    def copied_on_create(self, object_type: ObjectType, field: str, side: Side) -> bool:
        """Is the field part of a record created on ``side``?

        Directions govern changes *once linked*; a record created on the other side (transfer all,
        automatic mode, "create on the other side") is a full copy of every field that flows at all,
        so a customer that starts in accounting arrives in the CRM with its name and address.
        """
        if self.flows_to(object_type, field, side):
            return True
        if self.rule(object_type, field).direction is Direction.NONE:
            return False
        return not (side is Side.ACCOUNTING and field in NEVER_COPIED_ON_CREATE)

    def owner(self, object_type: ObjectType, field: str) -> str:
        """Who owns the field: ``crm``, ``accounting``, ``both`` or ``none`` (for the compare view)."""
        direction = self.rule(object_type, field).direction
        return {
            Direction.TO_CRM: Side.ACCOUNTING.value,
            Direction.TO_ACCOUNTING: Side.CRM.value,
            Direction.BOTH: "both",
            Direction.NONE: "none",
        }[direction]

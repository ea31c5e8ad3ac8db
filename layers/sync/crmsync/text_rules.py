"""Field rules: one table of what a value of each canonical field may be, and one cleaning rule.

**The table** (``FIELD_SPECS``, per object type and canonical field): the value's kind, whether it may
be empty, its maximum length and whether it may hold tab/newline. It is derived from the canonical
models (``crmsync.models``: strings, ``barred`` a boolean) and the vendors' own limits:

* e-conomic: the per-property ``maxLength`` of the legacy REST schemas
  (``vendor-specs/economic/legacy-schemas/customers.customerNumber.get.schema.json``,
  ``customers.customerNumber.contacts.contactNumber.get.schema.json``) and of the Customers API
  (``vendor-specs/economic/openapi/openapi-Customers.json``: ``Customer``, ``Contact``). crmsync writes
  customers through both (legacy create and ``publicEntryNumber``, Customers API update), so a field's
  maximum is the smaller of the two (``vatNumber`` 20 legacy / ``vatNo`` 50 API -> 20; ``address`` 510
  legacy / ``address1`` 255 API -> 255). References (customer group, payment terms, VAT zone, sales
  person) are int32 numbers there.
* HubSpot: 65,536 characters per property value (fields e-conomic does not hold: lifecycle stage, title).

Lengths count UTF-16 code units, as both vendors (.NET, JavaScript) do: a character outside the Basic
Multilingual Plane (most emoji) counts twice.

A field may be **empty** only where both sides allow empty: never the ``name`` (e-conomic requires one,
and a cleared name on one side only is a value the other side cannot hold), nor the fields e-conomic
requires or always has a value for (currency, customer group, payment terms, VAT zone, barred), nor a
contact's customer.

**The cleaning rule** (``clean``, applied by the connectors to every value read from a vendor, and to
every value a person gives before it is checked): remove C0 control characters (U+0000-U+001F, U+007F)
and C1 control characters (U+0080-U+009F), the bidirectional overrides and isolates (U+202A-U+202E,
U+2066-U+2069) and the zero-width characters (U+200B-U+200D, U+FEFF). Tab and newline are kept only in
fields that allow them (``multiline``: address, notes), with CR LF and a lone CR turned into LF; in
every other field a run of tab/newline/CR becomes one space. A contact's name has its whitespace runs
collapsed (HubSpot keeps it as first + last name, which cannot hold them). Then surrounding whitespace
is stripped, an empty text is ``None`` (``crmsync.models.normalize``), and a currency code is upper case.

The API does not clean silently what a person typed: ``problems`` refuses a value with such characters
(or a tab/newline in a single-line field), of the wrong kind, empty where not allowed or too long.
Values read from a vendor that are too long for the other vendor are parked by the preflight
(``too_long``), not truncated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from crmsync.models import FIELDS_BY_TYPE, Fields, FieldValue, ObjectType, normalize


class Kind(StrEnum):
    TEXT = "text"
    BOOL = "boolean"
    REFERENCE = "reference number"
    """An accounting reference (group, terms, zone, employee, customer number): 1..999999999, as text."""
    CURRENCY = "currency code"
    RECORD_ID = "customer record id"


HUBSPOT_MAX = 65_536
"""HubSpot: characters per property value."""
REFERENCE_MAX = 999_999_999


@dataclass(frozen=True)
class FieldSpec:
    kind: Kind
    required: bool = False
    """Never empty (``None`` / ``""``)."""
    max_length: int | None = HUBSPOT_MAX
    multiline: bool = False
    """Tab and newline allowed."""
    collapse_spaces: bool = False
    source: str = "HubSpot property value limit"


def _eco(max_length: int, source: str, *, required: bool = False, multiline: bool = False) -> FieldSpec:
    return FieldSpec(Kind.TEXT, required=required, max_length=max_length, multiline=multiline, source=source)


_REF = FieldSpec(Kind.REFERENCE, required=True, max_length=9, source="e-conomic int32 reference")
_CUSTOMER: dict[str, FieldSpec] = {
    "name": _eco(255, "e-conomic customer name maxLength 255, minLength 1", required=True),
    "customer_number": FieldSpec(
        Kind.REFERENCE, required=True, max_length=9, source="e-conomic customerNumber (assigned by e-conomic)"
    ),
    "corporate_id": _eco(40, "e-conomic corporateIdentificationNumber / cvrNo maxLength 40"),
    "vat_number": _eco(20, "e-conomic vatNumber maxLength 20 (legacy; vatNo 50)"),
    "email": _eco(255, "e-conomic email maxLength 255"),
    "phone": _eco(255, "e-conomic telephoneAndFaxNumber / phone maxLength 255"),
    "website": _eco(255, "e-conomic website / homepage maxLength 255"),
    "address": _eco(255, "e-conomic address1 maxLength 255 (legacy address 510)", multiline=True),
    "zip": _eco(30, "e-conomic zip / postCode maxLength 30"),
    "city": _eco(50, "e-conomic city maxLength 50"),
    "country": _eco(50, "e-conomic country maxLength 50"),
    "currency": FieldSpec(Kind.CURRENCY, required=True, max_length=3, source="e-conomic currency, ISO 4217"),
    "customer_group": _REF,
    "payment_terms": _REF,
    "vat_zone": _REF,
    "barred": FieldSpec(Kind.BOOL, required=True, max_length=None, source="e-conomic barred (boolean)"),
    "external_number": _eco(50, "e-conomic publicEntryNumber maxLength 50"),
    "account_manager": FieldSpec(
        Kind.REFERENCE, max_length=9, source="e-conomic salesPerson / ourRef (int32, optional)"
    ),
    "lifecycle_stage": FieldSpec(Kind.TEXT),
    "parent_account": FieldSpec(
        Kind.RECORD_ID, max_length=None, source="crmsync customer record id (the CRM's parent account)"
    ),
}
_CONTACT: dict[str, FieldSpec] = {
    "name": FieldSpec(
        Kind.TEXT,
        required=True,
        max_length=255,
        collapse_spaces=True,
        source="e-conomic contact name maxLength 255 (required)",
    ),
    "email": _eco(255, "e-conomic contact email maxLength 255"),
    "phone": _eco(50, "e-conomic contact phone maxLength 50"),
    "title": FieldSpec(Kind.TEXT),
    "notes": _eco(2000, "e-conomic contact notes maxLength 2000", multiline=True),
    "customer": FieldSpec(
        Kind.RECORD_ID,
        required=True,
        max_length=None,
        source="crmsync customer record id (contact's customer)",
    ),
    "lifecycle_stage": FieldSpec(Kind.TEXT),
}
FIELD_SPECS: dict[ObjectType, dict[str, FieldSpec]] = {
    ObjectType.CUSTOMER: _CUSTOMER,
    ObjectType.CONTACT: _CONTACT,
}
assert all(set(FIELD_SPECS[o]) == set(FIELDS_BY_TYPE[o]) for o in ObjectType), "one spec per canonical field"

_FORBIDDEN = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200d\u202a-\u202e\u2066-\u2069\ufeff"
"""Always removed / refused (tab, LF and CR are handled by ``multiline``)."""
_FORBIDDEN_RE = re.compile(f"[{_FORBIDDEN}]")
_LINE_BREAKS_RE = re.compile(r"[\t\r\n]+")
_SPACES_RE = re.compile(r"\s+")
_RECORD_ID_RE = re.compile(r"cus_[0-9a-f]{32}")
_CURRENCY_RE = re.compile(r"[A-Z]{3}")


def spec(object_type: ObjectType, field: str) -> FieldSpec:
    return FIELD_SPECS[object_type][field]


def clean_text(text: str, *, multiline: bool = False, collapse_spaces: bool = False) -> str:
    """The cleaning rule on one text (see the module doc); not stripped."""
    text = _FORBIDDEN_RE.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n") if multiline else _LINE_BREAKS_RE.sub(" ", text)
    if collapse_spaces:
        text = _SPACES_RE.sub(" ", text)
    return text


def clean(object_type: ObjectType, field: str, value: object) -> FieldValue:
    """A vendor's (or a person's) value -> the canonical value of the field (see the module doc)."""
    rule = FIELD_SPECS[object_type].get(field)
    if isinstance(value, str) and rule is not None and rule.kind is not Kind.BOOL:
        value = clean_text(value, multiline=rule.multiline, collapse_spaces=rule.collapse_spaces)
    out = normalize(value)
    if isinstance(out, str) and rule is not None and rule.kind is Kind.CURRENCY:
        out = out.upper()
    return out


def clean_fields(object_type: ObjectType, fields: Fields) -> Fields:
    """``clean`` for every field read from a vendor."""
    return {name: clean(object_type, name, value) for name, value in fields.items()}


def length(text: str) -> int:
    """Length as the vendors count it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _describe(char: str) -> str:
    return f"U+{ord(char):04X}"


def problems(object_type: ObjectType, field: str, value: object) -> list[str]:
    """Why ``value`` (as a person gave it) cannot be the field's value; empty: it can (after ``clean``)."""
    rule = FIELD_SPECS[object_type][field]
    if value is None or (isinstance(value, str) and not value.strip()):
        return [f"{field} cannot be empty"] if rule.required else []
    if rule.kind is Kind.BOOL:
        return [] if isinstance(value, bool) else [f"{field} must be a boolean (true or false)"]
    if not isinstance(value, str):
        return [f"{field} must be a string ({rule.kind.value})"]
    bad = _FORBIDDEN_RE.search(value)
    if bad:
        return [
            f"{field} must not contain control, bidirectional or zero-width characters ({_describe(bad[0])})"
        ]
    if not rule.multiline and (found := _LINE_BREAKS_RE.search(value)):
        return [
            f"{field} must not contain tab or line breaks ({_describe(found[0][0])}); it is a single line"
        ]
    text = clean(object_type, field, value)
    assert isinstance(text, str)
    if rule.kind is Kind.REFERENCE and not (
        text.isascii() and text.isdigit() and 0 < int(text) <= REFERENCE_MAX
    ):
        return [f"{field} must be a reference number (1 to {REFERENCE_MAX})"]
    if rule.kind is Kind.CURRENCY and not _CURRENCY_RE.fullmatch(text):
        return [f"{field} must be a 3-letter ISO 4217 currency code"]
    if rule.kind is Kind.RECORD_ID and not _RECORD_ID_RE.fullmatch(text):
        return [f"{field} must be a customer record id (cus_ and 32 hex digits)"]
    if rule.max_length is not None and length(text) > rule.max_length:
        return [f"{field} is longer than {rule.max_length} characters ({rule.source})"]
    return []


def too_long(object_type: ObjectType, fields: Fields) -> list[str]:
    """Reasons a write of ``fields`` exceeds the table's maxima (for the preflight: parked, not truncated)."""
    reasons = []
    for name, value in fields.items():
        rule = FIELD_SPECS[object_type].get(name)
        if (
            rule is None
            or rule.kind is not Kind.TEXT
            or rule.max_length is None
            or not isinstance(value, str)
        ):
            continue  # references and codes have checks of their own
        if (n := length(value)) > rule.max_length:
            reasons.append(f"{name} is {n} characters, longer than {rule.max_length} ({rule.source})")
    return reasons

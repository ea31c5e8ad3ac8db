"""Value mapping for picklist fields: CRM option values <-> accounting numbers.

crmsync's canonical value of a mapped field is the *accounting* value (a customer group number, a
payment terms number, an employee number). A CRM value is translated on the way in and back on the way
out. A value with no mapping is never guessed: the field is held (that field only, the rest of the
record flows) and shown in the compare view until somebody adds the mapping.

``account_manager`` is always mapped: a HubSpot owner id and an e-conomic employee number are
different id spaces, so without a mapping nothing crosses for that field.

A map's values are written to the vendors, so each pair is checked when the config is given
(``checked_pairs``, called by ``TenantConfig``'s validation: a 422 naming the field and the rule). The
accounting value must be a valid value of the field (``crmsync.text_rules``: a reference number, a
currency code); the CRM value must not be empty, hold control, bidirectional or zero-width characters,
tab or line breaks, nor be longer than HubSpot's 65,536 characters. Both are stored in the form the
connectors read values in (``text_rules.clean``: stripped, a currency code upper case), so a mapping
matches what is read; two CRM values that are the same in that form are refused.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crmsync import text_rules
from crmsync.models import Fields, ObjectType, Side

MAPPABLE_FIELDS: frozenset[str] = frozenset(
    {"customer_group", "payment_terms", "vat_zone", "currency", "account_manager"}
)
ALWAYS_MAPPED: frozenset[str] = frozenset({"account_manager"})


class ValueMap(BaseModel):
    """One field's mapping: CRM value -> accounting value, one to one."""

    model_config = ConfigDict(extra="forbid")

    pairs: dict[str, str] = Field(description="CRM value -> accounting value")

    @model_validator(mode="after")
    def _one_to_one(self) -> ValueMap:
        values = list(self.pairs.values())
        doubles = sorted({v for v in values if values.count(v) > 1})
        if doubles:
            raise ValueError(f"accounting values mapped from more than one CRM value: {doubles}")
        return self

    def to_accounting(self, crm_value: str) -> str | None:
        return self.pairs.get(crm_value)

    def to_crm(self, accounting_value: str) -> str | None:
        for crm, acc in self.pairs.items():
            if acc == accounting_value:
                return crm
        return None


def _crm_value_problems(value: str) -> list[str]:
    """Why ``value`` cannot be a CRM (HubSpot) option value. ``text_rules`` has no public check for a
    value outside its field table, so this applies its public pieces: the cleaning rule and the length."""
    if not value.strip():
        return ["cannot be empty"]
    for char in value:
        if text_rules.clean_text(char) != char:
            kind = (
                "tab or line breaks"
                if char in "\t\r\n"
                else "control, bidirectional or zero-width characters"
            )
            return [f"must not contain {kind} (U+{ord(char):04X})"]
    if (n := text_rules.length(value)) > text_rules.HUBSPOT_MAX:
        return [f"is {n} characters, longer than {text_rules.HUBSPOT_MAX} (HubSpot property value limit)"]
    return []


def checked_pairs(field: str, pairs: dict[str, str]) -> dict[str, str]:
    """``pairs`` of mappable ``field`` in canonical form; ``ValueError`` naming the field and the rule."""
    reasons: list[str] = []
    out: dict[str, str] = {}
    for crm, accounting in pairs.items():
        crm_reasons = _crm_value_problems(crm)
        reasons += [f"value_maps.{field}: a CRM value {r}" for r in crm_reasons]
        acc_reasons = (
            [f"{field} cannot be empty"]
            if not accounting.strip()
            else text_rules.problems(ObjectType.CUSTOMER, field, accounting)
        )
        reasons += [f"value_maps.{field}: an accounting value: {r}" for r in acc_reasons]
        if crm_reasons or acc_reasons:
            continue
        key = str(text_rules.clean(ObjectType.CUSTOMER, field, crm))
        if key in out:
            reasons.append(f"value_maps.{field}: two CRM values are the same once cleaned (spacing, case)")
        out[key] = str(text_rules.clean(ObjectType.CUSTOMER, field, accounting))
    values = list(out.values())
    if len(values) != len(set(values)):
        reasons.append(f"value_maps.{field}: two accounting values are the same once cleaned (spacing, case)")
    if reasons:
        raise ValueError("; ".join(dict.fromkeys(reasons)))
    return out


def _mapped(maps: dict[str, ValueMap]) -> dict[str, ValueMap]:
    return {**{f: ValueMap(pairs={}) for f in ALWAYS_MAPPED}, **maps}


def map_for(name: str, maps: dict[str, ValueMap]) -> ValueMap | None:
    """The mapping that applies to a field (``None``: its values pass through unchanged)."""
    return _mapped(maps).get(name)


def _translate(
    fields: Fields, maps: dict[str, ValueMap], convert: Callable[[ValueMap, str], str | None]
) -> tuple[Fields, dict[str, str]]:
    """Translate the mapped fields; a value without a mapping is left out and returned as unmapped.

    Leaving it out makes the engine treat the field as "not seen" rather than as a change; an empty
    value needs no mapping.
    """
    out = dict(fields)
    unmapped: dict[str, str] = {}
    for name, value_map in _mapped(maps).items():
        value = out.get(name)
        if value is None:
            continue
        translated = convert(value_map, str(value))
        if translated is None:
            unmapped[name] = str(value)
            del out[name]
        else:
            out[name] = translated
    return out, unmapped


def from_crm(fields: Fields, maps: dict[str, ValueMap]) -> tuple[Fields, dict[str, str]]:
    """CRM values -> canonical, and the CRM values that have no mapping."""
    return _translate(fields, maps, ValueMap.to_accounting)


def to_crm(fields: Fields, maps: dict[str, ValueMap]) -> tuple[Fields, dict[str, str]]:
    """Canonical -> CRM values, and the accounting values that have no CRM value."""
    return _translate(fields, maps, ValueMap.to_crm)


def translates(side: Side, object_type: ObjectType) -> bool:
    """Only CRM companies hold mapped values (customer picklists); every other record is canonical as read."""
    return side is Side.CRM and object_type is ObjectType.CUSTOMER


def to_canonical(
    side: Side, object_type: ObjectType, fields: Fields, maps: dict[str, ValueMap]
) -> tuple[Fields, dict[str, str] | None]:
    """A vendor record's fields in crmsync's canonical values, and the values with no mapping (``None``:
    this side and type are not mapped at all). The one place values come in through the value maps."""
    if not translates(side, object_type):
        return dict(fields), None
    return from_crm(fields, maps)


def to_vendor(side: Side, object_type: ObjectType, fields: Fields, maps: dict[str, ValueMap]) -> Fields:
    """Canonical values as the target side takes them; a value with no mapping stays behind (not
    written). The one place values go out through the value maps."""
    if not translates(side, object_type):
        return dict(fields)
    return to_crm(fields, maps)[0]

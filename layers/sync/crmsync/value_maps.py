"""Value mapping for picklist fields: CRM option values <-> accounting numbers.

crmsync's canonical value of a mapped field is the *accounting* value (a customer group number, a
payment terms number, an employee number). A CRM value is translated on the way in and back on the way
out. A value with no mapping is never guessed: the field is held (that field only, the rest of the
record flows) and shown in the compare view until somebody adds the mapping.

``account_manager`` is always mapped: a HubSpot owner id and an e-conomic employee number are
different id spaces, so without a mapping nothing crosses for that field.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crmsync.models import Fields

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

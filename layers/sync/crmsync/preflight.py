"""Accounting-aware preflight: refuse a write e-conomic would refuse, or should not accept, before it is sent.

A refused write is parked with its reason (visible, replayable) instead of being sent and retried:
e-conomic answers a bad reference with a 400 that no retry fixes, and some changes it accepts are
still wrong for the books (changing the currency of a customer that has booked invoices).

Lengths: a value read from the CRM that is longer than e-conomic accepts (``crmsync.text_rules``, the
one table of field rules: e.g. a city of 51 characters, a VAT number of 21) is parked with the field,
its length and the limit, never truncated (a cut value would be pushed back to the CRM as an edit).
"""

from __future__ import annotations

from collections.abc import Callable

from stdnum.eu import vat as eu_vat

from crmsync.models import Fields, FieldValue, ObjectType
from crmsync.text_rules import too_long

REFS = ("customer_group", "payment_terms", "vat_zone")
VAT_COUNTRIES: frozenset[str] = frozenset({*(c.upper() for c in eu_vat.MEMBER_STATES), "NO", "GB", "CH"})
"""Countries whose VAT numbers python-stdnum validates; elsewhere a VAT number passes unchecked."""
CORPORATE_ID_COUNTRIES: frozenset[str] = frozenset({"DK", "NO", "SE", "FI"})
"""Countries whose corporate id is a check-digit national id (CVR, orgnr, Y-tunnus); elsewhere the field
holds register numbers (e.g. German "HRB 12345") that cannot be validated, so they pass unchecked."""


def _is_ref(value: FieldValue) -> bool:
    return isinstance(value, str) and value.isdigit() and 0 < int(value) < 10**9


def check_customer(
    fields: Fields,
    *,
    creating: bool,
    record_fields: Fields,
    has_booked_invoices: Callable[[], bool] | None = None,
) -> list[str]:
    """Reasons to refuse writing ``fields`` to an accounting customer (empty: go ahead).

    ``record_fields`` is the whole record (the country may not be part of this write);
    ``has_booked_invoices`` is asked only when the write changes the currency of an existing customer.
    """
    reasons: list[str] = []
    if creating and not fields.get("name"):
        reasons.append("a customer needs a name")
    reasons += too_long(ObjectType.CUSTOMER, fields)
    for ref in REFS:
        value = fields.get(ref)
        if value is not None and not _is_ref(value):
            reasons.append(f"{ref} {value!r} is not an accounting reference number (missing value mapping?)")
    ids = {name: fields.get(name) for name in ("corporate_id", "vat_number") if fields.get(name)}
    if ids:
        # Only now: the matching module brings phonenumbers and rapidfuzz, which a worker that writes
        # no id never needs (cold start).
        from crmsync.matching import country_code, normalize_vat

        country = country_code(str(fields.get("country") or record_fields.get("country") or "") or None)
        for name, countries in (("corporate_id", CORPORATE_ID_COUNTRIES), ("vat_number", VAT_COUNTRIES)):
            value = ids.get(name)
            if country in countries and isinstance(value, str) and normalize_vat(value, country) is None:
                reasons.append(f"{name} {value!r} is not valid for {country}")
    currency = fields.get("currency")
    if currency is not None and not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
        reasons.append(f"currency {currency!r} is not an ISO 4217 code")
    elif not creating and currency is not None and has_booked_invoices is not None and has_booked_invoices():
        reasons.append("the currency of a customer with booked invoices cannot change")
    return reasons


def check_contact(fields: Fields) -> list[str]:
    """Reasons to refuse writing ``fields`` to an accounting contact (empty: go ahead): its lengths."""
    return too_long(ObjectType.CONTACT, fields)

"""Phone numbers as E.164, and the country an international number reveals.

Local numbers are only comparable once read in a country; the number's own prefix can supply that
country for the record's other keys."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

from crmsync.match.countries import country_code


@lru_cache(maxsize=65536)
def normalize_phone(value: str | None, country: str | None = None) -> str | None:
    """E.164 ("+4533123456") or None if the number is not valid; ``country`` resolves local numbers."""
    if not value:
        return None
    text = value.strip()
    region = country_code(country) if country else None
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text.startswith("+") and region is None:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _phone_country(value: str | None) -> str | None:
    """The region of an international number ("+46 8 ...", "0045 ..."), else None."""
    e164 = normalize_phone(value)
    if e164 is None:
        return None
    region = phonenumbers.region_code_for_number(phonenumbers.parse(e164))
    return region if region and region != "ZZ" else None

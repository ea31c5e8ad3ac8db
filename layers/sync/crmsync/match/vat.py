"""VAT ids and national company ids, validated and reduced to one canonical form.

A valid VAT id is the strongest exact key; an invalid one (bad check digit) must never match, so
validation happens here, once, while keys are computed."""

from __future__ import annotations

import re
from functools import lru_cache

from stdnum.ch import uid as ch_uid
from stdnum.dk import cvr as dk_cvr
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError
from stdnum.fi import ytunnus as fi_ytunnus
from stdnum.fr import siren as fr_siren
from stdnum.gb import vat as gb_vat
from stdnum.no import orgnr as no_orgnr
from stdnum.se import orgnr as se_orgnr

from crmsync.match.countries import country_code

_VAT_NOISE = re.compile(r"[\s.\-/:,]")
_VAT_SUFFIX = re.compile(r"(?<=\d)(?:MVA|MWST|TVA|IVA|TPV)$")
_VAT_PREFIXES = frozenset({*eu_vat.MEMBER_STATES, "el", "gb", "no"})


def _vat_for(country: str, number: str) -> str | None:
    """Validate an *unprefixed* number for one country; canonical "<prefix><compact>" or None."""
    if country == "DK":
        return "DK" + dk_cvr.validate(number)
    if country == "NO":
        return "NO" + no_orgnr.validate(number)
    if country == "SE":
        if len(number) == 10:
            return "SE" + se_orgnr.validate(number) + "01"
        return "SE" + eu_vat.validate("SE" + number)[2:]
    if country == "FI":
        return "FI" + fi_ytunnus.validate(number)
    if country == "CH":
        return ch_uid.validate("CHE" + number)
    if country == "GB":
        return "GB" + gb_vat.validate(number)
    if country == "FR" and len(number) == 9:
        return eu_vat.validate("FR" + fr_siren.to_tva(fr_siren.validate(number)))
    prefix = "EL" if country == "GR" else country
    if prefix.lower() not in _VAT_PREFIXES:
        return None
    return eu_vat.validate(prefix + number)


@lru_cache(maxsize=65536)
def normalize_vat(value: str | None, country: str | None = None) -> str | None:
    """Canonical country-prefixed VAT id ("DK12345678") or None when it is not valid.

    Accepts prefixed VAT numbers (any EU state, GB, NO "…MVA", CH "CHE-…"), and national company ids
    when ``country`` says which country: DK CVR, NO orgnr, SE orgnr, FI Y-tunnus, FR SIREN, BE
    enterprise number. A national id and the VAT number of the same company give the same result.
    Without a prefix and without a known country nothing can be validated, so the answer is None.
    """
    if not value:
        return None
    number = _VAT_SUFFIX.sub("", _VAT_NOISE.sub("", value.upper()))
    if not number or not number.isalnum():
        return None
    cc = country_code(country) if country else None
    try:
        if number.startswith("CHE"):
            return ch_uid.validate(number)
        head = number[:2]
        if head.isalpha() and head.lower() in _VAT_PREFIXES:
            rest = number[2:]
            if head == "NO":
                return "NO" + no_orgnr.validate(rest)
            if head == "GB":
                return "GB" + gb_vat.validate(rest)
            return eu_vat.validate(number)
        if cc is None or not number[:1].isdigit():
            return None
        return _vat_for(cc, number)
    except (ValidationError, ValueError):
        return None

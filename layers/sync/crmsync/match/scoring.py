"""Scoring: evidence for and against two records being one company, added up like log-odds.

Kept apart from the search so the weights can be tuned (bench/matching.py) without touching how
candidates are found."""

from __future__ import annotations

import math
from itertools import pairwise

from pydantic import BaseModel, ConfigDict, Field

from crmsync.match.keys import IdentityKeys
from crmsync.match.names import name_similarity
from crmsync.match.places import _same_address, _same_city


class Score(BaseModel):
    """How alike two records are (0..1) and why; ``veto`` = proven different (valid VAT ids differ)."""

    model_config = ConfigDict(frozen=True)

    value: float = Field(ge=0.0, le=1.0)
    reasons: list[str] = Field(default_factory=list)
    veto: bool = False


# Evidence weights (log-odds-like). Tuned on bench/matching.py; see that module for the numbers.
_NAME_CURVE: tuple[tuple[float, float], ...] = ((0.5, -3.0), (0.7, -2.0), (0.8, 0.0), (0.9, 2.0), (1.0, 3.5))
_W_ZIP_CITY = 2.0
_W_ZIP = 1.5
_W_CITY = 1.0
_W_PLACE_DIFFERS = -3.0
_W_ZIP_DIFFERS = -2.0
_W_ADDRESS = 1.5
_W_ADDRESS_DIFFERS = -0.5
_W_DOMAIN = 3.5
_W_DOMAIN_NAME_DIFFERS = 1.0
"""A shared domain when the names are unlike (a group's domain, a web agency's): a hint, no more."""
_NAME_UNLIKE = 0.6
_W_LEGAL_DIFFERS = -3.5
_LEGAL_DIFFERS_CAP = 0.2
"""Another legal form ("ApS" / "A/S") with no identifier in common: another legal entity. It costs
3.5 and the score stays at or below 0.2 (``weak``, under the ``check`` band) however much else
agrees; a lead that only has the name still sees it, marked weak, with "legal form differs"."""
_W_DOMAIN_DIFFERS = -1.5
_W_PHONE = 3.0
_W_PHONE_DIFFERS = -1.0
_W_MAILBOX = 3.0
_W_VAT = 6.0
_W_VAT_DIFFERS = -20.0
_W_COUNTRY_DIFFERS = -3.0
_W_NUMBER_DIFFERS = -3.0
_BIAS = 2.0


def _name_weight(similarity: float) -> float:
    curve = _NAME_CURVE
    if similarity <= curve[0][0]:
        return curve[0][1]
    for (x0, y0), (x1, y1) in pairwise(curve):
        if similarity <= x1:
            return y0 + (y1 - y0) * (similarity - x0) / (x1 - x0)
    return curve[-1][1]


def _evidence(a: IdentityKeys, b: IdentityKeys) -> tuple[float, list[str], bool]:
    """(log-odds sum, reasons, veto) for two records; missing values are neutral."""
    total = 0.0
    reasons: list[str] = []
    veto = False
    similarity: float | None = None
    if a.name_norm and b.name_norm:
        similarity = name_similarity(a.name_norm, b.name_norm)
        total += _name_weight(similarity)
        reasons.append(f"name {similarity:.2f}")
    same_zip = a.zip is not None and a.zip == b.zip
    both_zip = a.zip is not None and b.zip is not None
    both_city = a.city_norm is not None and b.city_norm is not None
    same_city = both_city and _same_city(a.city_norm or "", b.city_norm or "")
    if same_zip and same_city:
        total += _W_ZIP_CITY
        reasons.append("same zip+city")
    elif same_zip:
        total += _W_ZIP
        reasons.append("same zip" + (", city differs" if both_city else ""))
    elif same_city:
        total += _W_CITY
        reasons.append("same city")
    elif both_city:
        total += _W_PLACE_DIFFERS
        reasons.append("city differs")
    elif both_zip:
        total += _W_ZIP_DIFFERS
        reasons.append("zip differs")
    # a street address only means something within one place ("Hovedgaden 12" is in many towns)
    place_differs = both_city and not same_city and not same_zip
    if a.address_norm and b.address_norm and not place_differs:
        if _same_address(a.address_norm, b.address_norm):
            total += _W_ADDRESS
            reasons.append("same address")
        else:
            total += _W_ADDRESS_DIFFERS
    if a.domains and b.domains:
        if a.domains & b.domains:
            unlike = similarity is not None and similarity < _NAME_UNLIKE
            total += _W_DOMAIN_NAME_DIFFERS if unlike else _W_DOMAIN
            reasons.append("same domain")
        else:
            total += _W_DOMAIN_DIFFERS
            reasons.append("domain differs")
    if a.mailbox and a.mailbox == b.mailbox:
        total += _W_MAILBOX
        reasons.append("same free-mail address")
    if a.phone_e164 and b.phone_e164:
        if a.phone_e164 == b.phone_e164:
            total += _W_PHONE
            reasons.append("same phone")
        else:
            total += _W_PHONE_DIFFERS
            reasons.append("phone differs")
    if a.vat and b.vat:
        if a.vat == b.vat:
            total += _W_VAT
            reasons.append("same vat")
        else:
            total += _W_VAT_DIFFERS
            veto = True
            reasons.append("vat differs")
    other_entity = False
    if a.legal and b.legal and a.legal != b.legal:
        reasons.append("legal form differs")
        other_entity = not _shared_identifier(a, b)
    if a.country and b.country and a.country != b.country:
        total += _W_COUNTRY_DIFFERS
        reasons.append("country differs")
    if a.customer_number and b.customer_number and a.customer_number != b.customer_number:
        total += _W_NUMBER_DIFFERS
        reasons.append("customer number differs")
    if other_entity:
        total = min(total + _W_LEGAL_DIFFERS, _BIAS + math.log(_LEGAL_DIFFERS_CAP / (1 - _LEGAL_DIFFERS_CAP)))
    return total, reasons, veto


def _shared_identifier(a: IdentityKeys, b: IdentityKeys) -> bool:
    """Another key agrees: VAT id, company domain, phone or the same free-mail address."""
    return bool(
        (a.vat and a.vat == b.vat)
        or (a.domains & b.domains)
        or (a.phone_e164 and a.phone_e164 == b.phone_e164)
        or (a.mailbox and a.mailbox == b.mailbox)
    )


def _squash(total: float) -> float:
    return 1.0 / (1.0 + math.exp(-(total - _BIAS)))


def score(subject: IdentityKeys, candidate: IdentityKeys) -> Score:
    """Score one candidate against a subject (symmetric); the evidence is described in ``crmsync.matching``."""
    total, reasons, veto = _evidence(subject, candidate)
    return Score(value=round(_squash(total), 4), reasons=reasons, veto=veto)

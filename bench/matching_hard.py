"""Hard negatives of the matching benchmark: a pool company that looks like the subject's but is not.

Issue 18 names four false offers; each kind here produces one of them (``hard_negative``)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from bench.matching_tables import LEGAL_FORMS, STEMS, TRADES

if TYPE_CHECKING:
    from bench.matching_data import Company


HARD_NEGATIVE_KINDS = ("trade-town", "legal-form", "shared-domain", "surname")
# surnames a few letters apart that are different families, per country
SIMILAR_SURNAMES = {
    "DK": [("Larsen", "Olsen"), ("Jensen", "Hansen"), ("Andersen", "Pedersen"), ("Nielsen", "Nissen"),
           ("Jørgensen", "Mortensen"), ("Madsen", "Mathiesen"), ("Christensen", "Kristiansen")],
    "NO": [("Larsen", "Olsen"), ("Hansen", "Johansen"), ("Jensen", "Hansen"), ("Nilsen", "Olsen")],
    "SE": [("Larsson", "Olsson"), ("Nilsson", "Olsson"), ("Karlsson", "Carlström"), ("Andersson", "Persson")],
}  # fmt: skip
# legal forms of one country that are the same form in another language (not a different entity)
SAME_FORM = {"DE": [{"GmbH & Co. KG", "KG"}], "BE": [{"BV", "SRL"}, {"NV", "SA"}]}


def _other_legal(country: str, legal: str, rng: random.Random) -> str:
    same = next((forms for forms in SAME_FORM.get(country, []) if legal in forms), {legal})
    return rng.choice([form for form in LEGAL_FORMS[country] if form not in same])


def hard_negative(fresh: Callable[..., Company], rng: random.Random) -> tuple[Company, str, Company]:
    """(pool lookalike, kind, CRM company): the four false offers of issue 18 (see ``HARD_NEGATIVE_KINDS``).

    * trade-town: "Jensen Byg" vs "Nordlys Byg" in the same town (a shared trade word),
    * legal-form: "Brøndum Byg ApS" vs "Brøndum Byg A/S" in the same town, nothing else in common,
    * shared-domain: another company of a group, e-mail on the group's domain, an unrelated name,
    * surname: "Larsen VVS" vs "Olsen VVS" in the same town.
    """
    kind = rng.choice(HARD_NEGATIVE_KINDS)
    if kind == "surname":
        country = rng.choice(list(SIMILAR_SURNAMES))
        first, second = rng.sample(rng.choice(SIMILAR_SURNAMES[country]), 2)
        trade = rng.choice(TRADES[country])
        lookalike = fresh(country=country, name=f"{first} {trade}")
        subject = fresh(country=country, name=f"{second} {trade}")
        subject.city = lookalike.city
    elif kind == "trade-town":
        lookalike = fresh()
        country = lookalike.country
        trade = rng.choice(TRADES[country])
        first, second = rng.sample(STEMS[country], 2)
        lookalike.name = f"{first} {trade}"
        subject = fresh(country=country, name=f"{second} {trade}")
        subject.city = lookalike.city
    elif kind == "legal-form":
        lookalike = fresh()
        subject = fresh(country=lookalike.country, name=lookalike.name)
        subject.legal = _other_legal(subject.country, lookalike.legal, rng)
        subject.city = lookalike.city
        subject.extra["keep_legal"] = True
    else:
        lookalike = fresh()
        while lookalike.domain is None:
            lookalike = fresh()
        subject = fresh(country=lookalike.country)
        subject.domain = lookalike.domain
        subject.extra["shared_domain"] = True
        if rng.random() < 0.5:
            subject.city = lookalike.city
    return lookalike, kind, subject

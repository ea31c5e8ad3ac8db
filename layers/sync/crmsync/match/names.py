"""Company names: legal forms stripped, then compared fuzzily.

"Brøndum Byg A/S" and "Brøndum Byg ApS" are the same name to a person; the legal form says little
about identity and would otherwise dominate short names."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from rapidfuzz import fuzz

from crmsync.match.text import _NON_ALNUM, fold

_LEGAL_FORMS_TEXT = (
    # Nordic
    "A/S", "AS", "A.S.", "ApS", "IVS", "I/S", "K/S", "P/S", "AMBA", "A.m.b.A.", "FMBA", "F.m.b.a.",
    "SMBA", "S.m.b.a.", "Aktieselskab", "Aktieselskabet", "Anpartsselskab", "Anpartsselskabet",
    "Interessentskab", "Interessentskabet", "Kommanditselskab", "Kommanditselskabet", "Partnerselskab",
    "Iværksætterselskab", "Enkeltmandsvirksomhed", "EMV", "AB", "Aktiebolag", "Aktiebolaget", "AB (publ)",
    "HB", "Handelsbolag", "KB", "Kommanditbolag", "Ek. för.", "Ekonomisk förening", "ASA", "Aksjeselskap",
    "Allmennaksjeselskap", "ANS", "DA", "ENK", "NUF", "Oy", "Oyj", "Osakeyhtiö", "Ky", "Tmi", "Ay", "ehf", "hf",
    # German-speaking
    "GmbH", "G.m.b.H.", "gGmbH", "mbH", "Gesellschaft mbH", "Gesellschaft mit beschränkter Haftung",
    "GmbH & Co. KG", "GmbH & Co KG", "GmbH und Co. KG", "AG & Co. KG", "KG", "KGaA", "AG", "Aktiengesellschaft",
    "OHG", "GbR", "e.K.", "e.Kfm.", "eG", "e.G.", "e.V.", "UG", "UG (haftungsbeschränkt)", "SE", "Sàrl",
    # Benelux
    "BV", "B.V.", "NV", "N.V.", "VOF", "V.O.F.", "CV", "C.V.", "BVBA", "B.V.B.A.", "CVBA", "SPRL", "SCRL", "VZW",
    "ASBL", "Comm.V.", "Besloten Vennootschap", "Naamloze Vennootschap",
    # French, Iberian, Italian
    "SA", "S.A.", "SAS", "S.A.S.", "SASU", "SARL", "S.A.R.L.", "EURL", "SNC", "SCI", "SCA", "SC",
    "Société Anonyme", "Société par actions simplifiée", "Société à responsabilité limitée",
    "SL", "S.L.", "SLU", "S.L.U.", "S.A.U.", "Lda", "Lda.", "Limitada", "Unipessoal",
    "S.p.A.", "SpA", "S.r.l.", "Srl", "S.r.l.s.", "Srls", "S.n.c.", "S.a.s.", "Scarl", "S.c.a.r.l.",
    # Central/Eastern Europe
    "Sp. z o.o.", "Sp. z o. o.", "Sp.z o.o.", "Sp z oo", "spółka z ograniczoną odpowiedzialnością",
    "Sp. j.", "Sp.j.", "Sp. k.", "Sp.k.", "S.K.A.", "s.r.o.", "spol. s r.o.", "spol. s r. o.", "a.s.",
    "k.s.", "v.o.s.", "Kft", "Kft.", "Zrt", "Zrt.", "Nyrt", "Nyrt.", "Bt.", "Kkt.", "d.o.o.", "d.d.",
    "j.d.o.o.", "OÜ", "SIA", "UAB", "OOD", "EOOD", "AD", "EAD", "EPE", "IKE",
    # English-speaking
    "Ltd", "Ltd.", "Limited", "PLC", "P.L.C.", "LLP", "LP", "L.P.", "LLC", "L.L.C.", "Inc", "Inc.",
    "Incorporated", "Corp", "Corp.", "Corporation", "CIC", "DAC", "Unlimited", "Pty Ltd", "Pty. Ltd.",
    "PLLC",
    # "& Co." leftovers: stripped only at the end
    "Co", "Co.", "Cie", "Cie.", "Company", "Compagnie", "& Co", "& Co.", "& Cie", "og Co", "und Co",
    "publ", "(publ)",
)  # fmt: skip
"""Legal forms, written the way people write them; each is normalised like a name before use."""

_LEGAL_PREFIXES_TEXT = (
    "A/S", "AS", "AB", "Oy", "Oyj", "SIA", "UAB", "OÜ", "Aktieselskabet", "Aktiebolaget", "Interessentskabet",
)  # fmt: skip
"""Legal forms that also appear in front of the name ("Oy Karl Fazer Ab", "AS Tallinna Vesi")."""

_CONNECTORS = frozenset({"and", "og", "und", "och", "et", "en"})
_SLASHED = re.compile(r"(?<![a-z0-9])([a-z])/([a-z])(?![a-z0-9])")


def _name_tokens(text: str) -> list[str]:
    """Fold, join dotted/slashed abbreviations ("G.m.b.H.", "A/S"), split into words, drop "and"."""
    text = fold(text)
    text = _SLASHED.sub(r"\1\2", text)
    text = text.replace(".", "")
    return [token for token in _NON_ALNUM.sub(" ", text).split() if token not in _CONNECTORS]


def _form_table(forms: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    table = {tuple(_name_tokens(form)) for form in forms}
    table.discard(())
    return tuple(sorted(table, key=len, reverse=True))


_LEGAL_SUFFIXES = _form_table(_LEGAL_FORMS_TEXT)
_LEGAL_PREFIXES = _form_table(_LEGAL_PREFIXES_TEXT)


def _strip_legal(tokens: list[str]) -> list[str]:
    """Strip legal forms at the end (repeatedly: "GmbH & Co. KG") and at the start; keep one word."""
    changed = True
    while changed:
        changed = False
        for form in _LEGAL_SUFFIXES:
            size = len(form)
            if len(tokens) > size and tuple(tokens[-size:]) == form:
                tokens = tokens[:-size]
                changed = True
                break
    for form in _LEGAL_PREFIXES:
        size = len(form)
        if len(tokens) > size and tuple(tokens[:size]) == form:
            tokens = tokens[size:]
            break
    return tokens


@lru_cache(maxsize=65536)
def normalize_name(name: str | None) -> str:
    """Company name for comparison: folded, no punctuation, no legal form; "" when there is none."""
    if not name:
        return ""
    return " ".join(_strip_legal(_name_tokens(name)))


def name_similarity(a: str, b: str) -> float:
    """0..1 similarity of two *normalised* names (typos, word order and extra words tolerated)."""
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    return float(fuzz.WRatio(a, b, processor=None)) / 100.0

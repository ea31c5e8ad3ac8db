"""Company names: legal forms stripped, then compared fuzzily.

"Brøndum Byg A/S" and "Brøndum Byg ApS" are the same name to a person; the legal form says little
about identity and would otherwise dominate short names."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

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

_LEGAL_KINDS_TEXT: dict[str, tuple[str, ...]] = {
    "as": ("A/S", "AS", "Aktieselskab", "Aktieselskabet", "Aksjeselskap"),
    "asa": ("ASA", "Allmennaksjeselskap"),
    "aps": ("ApS", "Anpartsselskab", "Anpartsselskabet"),
    "ivs": ("IVS", "Iværksætterselskab"),
    "ab": ("AB", "AB (publ)", "Aktiebolag", "Aktiebolaget"),
    "oy": ("Oy", "Osakeyhtiö"),
    "oyj": ("Oyj",),
    "ag": ("AG", "Aktiengesellschaft", "SA", "Société Anonyme", "NV", "Naamloze Vennootschap", "S.p.A."),
    "gmbh": (
        "GmbH", "gGmbH", "mbH", "Gesellschaft mbH", "Gesellschaft mit beschränkter Haftung", "UG",
        "UG (haftungsbeschränkt)", "SARL", "Société à responsabilité limitée", "EURL", "SPRL", "BV", "BVBA",
        "Besloten Vennootschap", "SRL", "Sp. z o.o.", "Sp. z o. o.", "Sp.z o.o.", "Sp z oo",
        "spółka z ograniczoną odpowiedzialnością", "s.r.o.", "spol. s r.o.", "spol. s r. o.", "d.o.o.",
        "Kft", "OOD", "EOOD", "Ltd", "Limited", "Pty Ltd", "LLC", "SL", "Lda",
    ),
    "sas": ("SAS", "SASU", "Société par actions simplifiée"),
    "plc": ("PLC",),
    "inc": ("Inc", "Incorporated", "Corp", "Corporation"),
    "kg": (
        "KG", "GmbH & Co. KG", "AG & Co. KG", "K/S", "Kommanditselskab", "Kommanditselskabet", "KB",
        "Kommanditbolag", "Ky", "CV", "Comm.V.", "Sp. k.", "LP",
    ),
    "kgaa": ("KGaA",),
    "ohg": (
        "OHG", "GbR", "I/S", "Interessentskab", "Interessentskabet", "HB", "Handelsbolag", "ANS", "DA", "VOF",
        "SNC", "Ay", "Sp. j.", "v.o.s.",
    ),
    "ps": ("P/S", "Partnerselskab"),
    "llp": ("LLP", "PLLC"),
    "sole": ("e.K.", "e.Kfm.", "EMV", "Enkeltmandsvirksomhed", "ENK", "Tmi"),
    "coop": ("AMBA", "A.m.b.A.", "FMBA", "SMBA", "eG", "Ek. för.", "Ekonomisk förening", "CVBA", "SCRL"),
    "assoc": ("e.V.", "VZW", "ASBL"),
}  # fmt: skip
"""Kinds of legal entity: the spellings and translations of one form. Forms missing here compare as none."""

GENERIC_WORDS_TEXT = (
    # trades, Nordic
    "Byg", "Bygg", "Byggeri", "VVS", "El", "Elektro", "Elektrik", "Maskinfabrik", "Maskin", "Tømrer", "Snedker",
    "Snekkeri", "Consult", "Konsult", "Rådgivning", "Revision", "Transport", "Auto", "Handel", "Import", "Export",
    "Ejendomme", "Eiendom", "Fastigheter", "Rengøring", "Städ", "Malerfirma", "Maler", "Måleri", "Maling",
    "Smedie", "Trælast", "Trä", "Data", "Software", "Logistik", "Design", "Arkitekter", "Entreprise", "Gartneri",
    "Kloak", "Tag", "Køleteknik", "Vinduer", "Murer", "Rör", "Rør", "Verkstad", "Teknik", "Service", "Holding",
    "Invest", "Gruppen", "Group",
    # German, Dutch, French, English, Finnish, Polish
    "Bau", "Maschinenbau", "Maschinen", "Metallbau", "Haustechnik", "Immobilien", "Beratung", "Spedition",
    "Holzbau", "Dachdeckerei", "Treuhand", "Informatik", "Transporte", "Bouw", "Installatietechniek",
    "Logistiek", "Techniek", "Advies", "Metaal", "Schilders", "Construct", "Logistics", "Menuiserie",
    "Électricité", "Bâtiment", "Transports", "Conseil", "Logistique", "Informatique", "Plomberie", "Métallerie",
    "Engineering", "Trading", "Consulting", "Supplies", "Builders", "Plumbing", "Electrical", "Haulage",
    "Joinery", "Services", "Solutions", "Systems", "Rakennus", "Kuljetus", "Kauppa", "Tekniikka", "Puu",
    "Sähkö", "Konepaja", "Logistiikka", "Budownictwo", "Logistyka", "Instalacje", "Meble", "Stal", "Serwis",
)  # fmt: skip
"""Trade words many unrelated companies share; a name is told apart by its other words."""

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
_LEGAL_KINDS: dict[tuple[str, ...], str] = {
    tuple(_name_tokens(form)): kind for kind, forms in _LEGAL_KINDS_TEXT.items() for form in forms
}
GENERIC_WORDS = frozenset(word for text in GENERIC_WORDS_TEXT for word in _name_tokens(text))
_GENERIC_TYPO = sorted(word for word in GENERIC_WORDS if len(word) >= 3)


def _split_legal(tokens: list[str]) -> tuple[list[str], list[tuple[str, ...]]]:
    """Strip legal forms at the end (repeatedly: "GmbH & Co. KG") and at the start; keep one word.

    Returns the remaining words and the forms stripped, outermost first."""
    forms: list[tuple[str, ...]] = []
    changed = True
    while changed:
        changed = False
        for form in _LEGAL_SUFFIXES:
            size = len(form)
            if len(tokens) > size and tuple(tokens[-size:]) == form:
                tokens = tokens[:-size]
                forms.append(form)
                changed = True
                break
    for form in _LEGAL_PREFIXES:
        size = len(form)
        if len(tokens) > size and tuple(tokens[:size]) == form:
            tokens = tokens[size:]
            forms.append(form)
            break
    return tokens, forms


def _strip_legal(tokens: list[str]) -> list[str]:
    return _split_legal(tokens)[0]


@lru_cache(maxsize=65536)
def normalize_name(name: str | None) -> str:
    """Company name for comparison: folded, no punctuation, no legal form; "" when there is none."""
    if not name:
        return ""
    return " ".join(_strip_legal(_name_tokens(name)))


@lru_cache(maxsize=65536)
def legal_form(name: str | None) -> str | None:
    """The kind of legal entity a name states ("aps", "as", "gmbh", ...), None when it states none.

    Spellings and translations of one form are one kind ("A/S" = "AS" = "Aktieselskab"; Swiss and
    Belgian "AG" = "SA" = "NV"; "GmbH" = "Sàrl" = "BV" = "SRL"); "& Co." and "(publ)" say nothing."""
    if not name:
        return None
    for form in _split_legal(_name_tokens(name))[1]:
        kind = _LEGAL_KINDS.get(form)
        if kind:
            return kind
    return None


def name_similarity(a: str, b: str) -> float:
    """0..1 similarity of two *normalised* names (typos, word order and extra words tolerated).

    Trade words do not make names alike: "Jensen Byg" and "Nordlys Byg" are compared as "jensen" and
    "nordlys" (``GENERIC_WORDS``). Two surnames that are more than one typo apart are different
    names however alike they look ("Larsen" / "Olsen", "Hansen" / "Johansen"): at most 0.6. Two
    names that each state a trade, and not the same one, are two businesses ("Jensen Byg" / "Jensen
    VVS"): at most 0.7.
    """
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    similarity = float(fuzz.WRatio(a, b, processor=None)) / 100.0
    core_a, trades_a, surnames_a = _parts(a)
    core_b, trades_b, surnames_b = _parts(b)
    if core_a and core_b and core_a != core_b and (trades_a or trades_b):
        similarity = min(
            similarity, float(fuzz.WRatio(" ".join(core_a), " ".join(core_b), processor=None)) / 100.0
        )
    if similarity <= _DIFFERENT_SURNAME:
        return similarity
    if surnames_a and surnames_b and _different_surnames(surnames_a, surnames_b):
        similarity = _DIFFERENT_SURNAME
    elif trades_a and trades_b and not any(OSA.distance(x, y) <= 1 for x in trades_a for y in trades_b):
        similarity = min(similarity, _DIFFERENT_TRADE)
    return similarity


NameParts = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]


@lru_cache(maxsize=65536)
def _parts(name: str) -> NameParts:
    """(words that are not trade words, trade words, surnames) of a normalised name."""
    words = tuple(name.split())
    core = tuple(word for word in words if not _generic(word))
    trades = tuple(word for word in words if word not in core)
    return core, trades, _surnames(core or words)


@lru_cache(maxsize=16384)
def _generic(word: str) -> bool:
    """A trade word, or one typo away from one ("bgy")."""
    if word in GENERIC_WORDS:
        return True
    return (
        len(word) >= 3
        and process.extractOne(word, _GENERIC_TYPO, scorer=OSA.distance, score_cutoff=1) is not None
    )


_DIFFERENT_SURNAME = 0.6
_DIFFERENT_TRADE = 0.7
_SURNAME_ENDINGS = ("sen", "son", "nen")


def _surnames(words: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(word for word in words if len(word) >= 5 and word.endswith(_SURNAME_ENDINGS))


def _different_surnames(surnames_a: tuple[str, ...], surnames_b: tuple[str, ...]) -> bool:
    """Each name has a surname the other lacks (one typo apart still counts as the same surname)."""
    alone_a = [s for s in surnames_a if all(OSA.distance(s, t) > 1 for t in surnames_b)]
    alone_b = [t for t in surnames_b if all(OSA.distance(s, t) > 1 for s in surnames_a)]
    return bool(alone_a and alone_b)

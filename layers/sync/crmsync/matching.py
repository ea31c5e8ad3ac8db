"""Identity and duplicate search: which record on the other side is this customer?

Pure functions and value objects (no I/O, no AWS, no environment) so the same code serves the
initial transfer, the "possible duplicates" API and the tests.

How a subject is matched against a pool of records from the other side:

1. **Exact keys**, in the order of ``MatchKey``: an existing link (the caller's business: a linked
   record is never searched for), the accounting customer number, an external number, a valid VAT id.
   The first key that *any* candidate shares decides: if exactly one candidate shares it, that is an
   exact match; if several do (two customers with the same VAT id), nothing matches exactly and the
   sharers become scored candidates with a "shared by n records" reason. Invalid ids (bad check
   digit, unknown country) are dropped while computing the keys, so they can never match exactly.
   A unique key can still be contradicted, and then it is only a (high-scoring) candidate: a
   customer or external number by a *different valid* VAT id; a VAT id, which only names the legal
   entity and is shared by its branch accounts, by another city or another company domain.
2. **Scored candidates**: evidence is added up like log-odds (Fellegi-Sunter style): name similarity
   (rapidfuzz ``WRatio`` on normalised names), zip/city, street address (within the same place),
   non-free-mail e-mail/web domain, the same free-mail address, E.164 phone, country, a different
   customer number. Agreement adds, disagreement subtracts, a value missing on either side is
   neutral. A different valid VAT id on both sides is a veto (-20: never offered). The sum is
   squashed to 0..1. The same name in another city with another domain or phone ends up below the
   offer threshold: many companies share a name, few share a name *and* a place *and* a phone.

**Scored candidates never auto-link by default.** ``MatchPolicy.auto_link_threshold`` is ``None``, so
a scored candidate is only *offered* to a person. If a tenant sets it, a scored candidate may
auto-link only when its score is at or above that threshold, it is the only candidate there, it has
no VAT veto and no exact key was ambiguous; below the threshold nothing ever auto-links.

Speed (blocking): ``MatchIndex`` computes every pool record's keys once and builds dictionaries for
the exact keys and for blocking: VAT id, customer/external number, phone, zip, domain and the first
word of the name (blocks above a size cap are skipped). Per subject the candidates are the union of
those blocks and the 60 best distinct normalised names by ``rapidfuzz.process.extract`` with the
plain Indel ``ratio`` and a cutoff of 50 (a C loop, ~0.4 ms over 10,000 names; ``WRatio`` there cost
6 ms and found no more). Only that union, typically 100-200 records, is scored in full. Measured with
``python -m bench.matching --timing``: an index of 10,000 records builds in ~0.9 s, a subject is
decided in ~2 ms. The functions also accept a plain iterable of ``(record_id, fields)`` and build a
throw-away index, which is fine for small pools; pass a ``MatchIndex`` when matching many subjects.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from itertools import pairwise

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from rapidfuzz import fuzz, process
from stdnum.ch import uid as ch_uid
from stdnum.dk import cvr as dk_cvr
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError
from stdnum.fi import ytunnus as fi_ytunnus
from stdnum.fr import siren as fr_siren
from stdnum.gb import vat as gb_vat
from stdnum.no import orgnr as no_orgnr
from stdnum.se import orgnr as se_orgnr

from crmsync.models import Fields, FieldValue

# --------------------------------------------------------------------------------------------------
# Text folding
# --------------------------------------------------------------------------------------------------

# Letters NFKD does not decompose, or decomposes the "wrong" way for Nordic/German names: ø would
# vanish and ö would become o, so "Brøndum" and "Broendum" would differ. Both spellings fold alike.
_LETTERS = str.maketrans(
    {
        "æ": "ae",
        "ø": "oe",
        "å": "aa",
        "ö": "oe",
        "ä": "ae",
        "ü": "ue",
        "ß": "ss",
        "œ": "oe",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "\u0131": "i",  # dotless i
        "ħ": "h",
    }
)
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """Lower-case ASCII with Nordic/German letters transliterated (æ→ae, ø→oe, å→aa, ß→ss, ö/ä/ü)."""
    text = unicodedata.normalize("NFC", text).casefold().translate(_LETTERS)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _words(text: str) -> list[str]:
    return _NON_ALNUM.sub(" ", fold(text)).split()


# --------------------------------------------------------------------------------------------------
# Company names
# --------------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------------
# Countries
# --------------------------------------------------------------------------------------------------

_COUNTRY_NAMES: dict[str, tuple[str, ...]] = {
    "AT": ("Austria", "Østrig", "Österreich", "Oesterreich", "Autriche", "AUT"),
    "BE": ("Belgium", "Belgien", "België", "Belgie", "Belgique", "Belgio", "BEL"),
    "BG": ("Bulgaria", "Bulgarien", "Bulgarie", "България", "Balgariya", "BGR"),
    "HR": ("Croatia", "Kroatien", "Hrvatska", "Croatie", "HRV"),
    "CY": ("Cyprus", "Cypern", "Zypern", "Chypre", "Κύπρος", "Kypros", "Kibris", "CYP"),
    "CZ": ("Czech Republic", "Czechia", "Tjekkiet", "Tjekkiske Republik", "Tschechien", "Tschechische Republik",
           "Česko", "Česká republika", "Ceska republika", "Tjeckien", "Tsjekkia", "République tchèque", "CZE"),
    "DK": ("Denmark", "Danmark", "Dänemark", "Daenemark", "Danemark", "Tanska", "Dania", "Denemarken",
           "Danimarca", "Dinamarca", "DNK"),
    "EE": ("Estonia", "Estland", "Eesti", "Estonie", "Viro", "EST"),
    "FI": ("Finland", "Finnland", "Suomi", "Finlande", "Finlandia", "FIN"),
    "FR": ("France", "Frankrig", "Frankreich", "Frankrike", "Frankrijk", "Francia", "Ranska", "Francja", "FRA"),
    "DE": ("Germany", "Tyskland", "Deutschland", "Allemagne", "Duitsland", "Germania", "Alemania", "Saksa",
           "Niemcy", "Federal Republic of Germany", "Bundesrepublik Deutschland", "BRD", "DEU"),
    "GR": ("Greece", "Grækenland", "Griechenland", "Grekland", "Hellas", "Ελλάδα", "Ellada", "Grèce", "GRC",
           "EL"),
    "HU": ("Hungary", "Ungarn", "Magyarország", "Ungern", "Hongrie", "HUN"),
    "IS": ("Iceland", "Island", "Ísland", "Islande", "ISL"),
    "IE": ("Ireland", "Irland", "Éire", "Eire", "Irlande", "Republic of Ireland", "IRL"),
    "IT": ("Italy", "Italien", "Italia", "Italie", "Italië", "ITA"),
    "LV": ("Latvia", "Letland", "Lettland", "Latvija", "Lettonie", "LVA"),
    "LI": ("Liechtenstein", "LIE"),
    "LT": ("Lithuania", "Litauen", "Lietuva", "Lituanie", "LTU"),
    "LU": ("Luxembourg", "Luxemburg", "Lëtzebuerg", "LUX"),
    "MT": ("Malta", "Malte", "MLT"),
    "NL": ("Netherlands", "The Netherlands", "Holland", "Nederland", "Nederlandene", "Niederlande", "Pays-Bas",
           "Nederländerna", "Alankomaat", "Paesi Bassi", "Países Bajos", "NLD"),
    "NO": ("Norway", "Norge", "Noreg", "Norwegen", "Norvège", "Norja", "Norwegia", "NOR"),
    "PL": ("Poland", "Polen", "Polska", "Pologne", "Puola", "POL"),
    "PT": ("Portugal", "PRT"),
    "RO": ("Romania", "Rumænien", "Rumänien", "România", "Roumanie", "ROU"),
    "SK": ("Slovakia", "Slovakiet", "Slowakei", "Slovensko", "Slovaquie", "Slovak Republic", "SVK"),
    "SI": ("Slovenia", "Slovenien", "Slowenien", "Slovenija", "Slovénie", "SVN"),
    "ES": ("Spain", "Spanien", "España", "Espana", "Espagne", "Espanja", "Hiszpania", "ESP"),
    "SE": ("Sweden", "Sverige", "Schweden", "Suède", "Ruotsi", "Zweden", "Svezia", "Suecia", "Szwecja", "SWE"),
    "CH": ("Switzerland", "Schweiz", "Suisse", "Svizzera", "Svizra", "Sveits", "Zwitserland", "Confoederatio Helvetica",
           "Helvetia", "CHE"),
    "GB": ("United Kingdom", "UK", "U.K.", "Great Britain", "Britain", "England", "Scotland", "Wales",
           "Northern Ireland", "Storbritannien", "Storbritannia", "Großbritannien", "Grossbritannien",
           "Vereinigtes Königreich", "Royaume-Uni", "Verenigd Koninkrijk", "Iso-Britannia", "Wielka Brytania",
           "England (UK)", "GBR"),
    "US": ("United States", "United States of America", "USA", "U.S.A.", "U.S.", "America", "Amerika", "USA (US)",
           "Vereinigte Staaten", "Forenede Stater", "Förenta staterna", "États-Unis", "Etats-Unis", "Verenigde Staten"),
    "FO": ("Faroe Islands", "Færøerne", "Føroyar", "Färöer", "FRO"),
    "GL": ("Greenland", "Grønland", "Kalaallit Nunaat", "Grönland", "GRL"),
    "CA": ("Canada", "Kanada", "CAN"),
}  # fmt: skip
"""ISO-3166 alpha-2 -> names in English, Danish, the native language(s), neighbours; alpha-3 codes."""


def _country_key(text: str) -> str:
    return " ".join(_words(text))


_COUNTRY_LOOKUP: dict[str, str] = {}
for _code, _names in _COUNTRY_NAMES.items():
    _COUNTRY_LOOKUP[_code.lower()] = _code
    for _name in _names:
        _COUNTRY_LOOKUP[_name.casefold()] = _code
        if _country_key(_name):
            _COUNTRY_LOOKUP[_country_key(_name)] = _code
_COUNTRY_LOOKUP["uk"] = "GB"
_COUNTRY_LOOKUP["el"] = "GR"
_COUNTRY_PART = re.compile(r"[,;/()\-]")


@lru_cache(maxsize=4096)
def country_code(text: str | None) -> str | None:
    """ISO-3166 alpha-2 code for a free-text country ("Danmark", "Deutschland", "DNK", "dk"), or None."""
    if not text:
        return None
    raw = text.strip().casefold()
    code = _COUNTRY_LOOKUP.get(raw) or _COUNTRY_LOOKUP.get(_country_key(text))
    if code:
        return code
    # "Denmark (DK)", "DK - Danmark": any unambiguous part.
    parts = {_COUNTRY_LOOKUP.get(_country_key(part)) for part in _COUNTRY_PART.split(text) if part.strip()}
    parts.discard(None)
    return parts.pop() if len(parts) == 1 else None


# --------------------------------------------------------------------------------------------------
# VAT ids
# --------------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------------
# E-mail and web domains
# --------------------------------------------------------------------------------------------------

FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "gmail.com", "googlemail.com", "icloud.com", "me.com", "mac.com", "aol.com", "msn.com", "proton.me",
        "pm.me", "tutanota.com", "tuta.io", "hushmail.com", "fastmail.com", "fastmail.fm", "mail.com",
        "email.com", "usa.net", "rocketmail.com", "comcast.net", "verizon.net", "att.net", "sbcglobal.net",
        "mailbox.org", "posteo.de", "qq.com", "163.com", "126.com", "naver.com", "rediffmail.com",
        # Denmark
        "mail.dk", "jubii.dk", "ofir.dk", "get2net.dk", "tdcadsl.dk", "youmail.dk", "stofanet.dk", "webspeed.dk",
        "pc.dk", "post.tele.dk", "city.dk", "email.dk", "sol.dk", "worldonline.dk", "privat.dk", "fiberpost.dk",
        "c.dk", "forum.dk", "image.dk", "oncable.dk", "post.cybercity.dk", "mail.tele.dk", "tiscali.dk",
        # Sweden, Norway, Finland
        "telia.com", "bredband.net", "comhem.se", "spray.se", "passagen.se", "home.se", "swipnet.se", "tele2.se",
        "bahnhof.se", "online.no", "broadpark.no", "getmail.no", "frisurf.no", "c2i.net", "start.no",
        "suomi24.fi", "luukku.com", "kolumbus.fi", "welho.com", "elisanet.fi", "saunalahti.fi",
        # Germany, Austria, Switzerland
        "web.de", "t-online.de", "freenet.de", "arcor.de", "online.de", "gmx.de", "aon.at", "chello.at",
        "bluewin.ch", "hispeed.ch", "sunrise.ch",
        # France, Benelux, Italy, Iberia
        "orange.fr", "wanadoo.fr", "free.fr", "sfr.fr", "laposte.net", "neuf.fr", "club-internet.fr",
        "hetnet.nl", "home.nl", "ziggo.nl", "kpnmail.nl", "planet.nl", "chello.nl", "xs4all.nl", "telenet.be",
        "skynet.be", "proximus.be", "scarlet.be", "pandora.be", "libero.it", "virgilio.it", "alice.it",
        "tiscali.it", "tin.it", "sapo.pt", "terra.es", "telefonica.net",
        # UK, Ireland
        "btinternet.com", "sky.com", "virginmedia.com", "blueyonder.co.uk", "talktalk.net", "ntlworld.com",
        "tiscali.co.uk", "eircom.net",
        # Central/Eastern Europe
        "seznam.cz", "centrum.cz", "atlas.cz", "email.cz", "post.cz", "wp.pl", "o2.pl", "onet.pl", "interia.pl",
        "op.pl", "gazeta.pl", "tlen.pl", "poczta.onet.pl", "freemail.hu", "citromail.hu", "mail.ru", "bk.ru",
        "list.ru", "inbox.ru", "rambler.ru", "inbox.lv", "abv.bg", "mail.bg",
    }
)  # fmt: skip
"""Mailbox providers whose domain says nothing about which company a customer is."""

FREE_MAIL_BRANDS: frozenset[str] = frozenset(
    {
        "gmail",
        "hotmail",
        "outlook",
        "live",
        "windowslive",
        "yahoo",
        "ymail",
        "gmx",
        "protonmail",
        "yandex",
        "aol",
    }
)
"""Providers with a domain per country (hotmail.dk, outlook.de, yahoo.co.uk, gmx.net, yandex.ru)."""

SHARED_WEB_HOSTS: frozenset[str] = frozenset(
    {
        "facebook.com", "fb.com", "linkedin.com", "instagram.com", "twitter.com", "x.com", "youtube.com",
        "tiktok.com", "google.com", "sites.google.com", "business.site", "krak.dk", "proff.dk", "cvr.dk",
        "degulesider.dk", "allabolag.se", "proff.se", "proff.no", "gulesider.no", "yelp.com",
    }
)  # fmt: skip
"""Web addresses many companies share (profile pages), never a company's own domain."""

_SCHEME = re.compile(r"^[a-z][a-z0-9+.\-]*://")
_WWW = re.compile(r"^www\d*\.")
_DOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?)+$")


def is_free_mail(domain: str) -> bool:
    """True for consumer mailbox domains (gmail.com, hotmail.dk, yahoo.co.uk, mail.dk, web.de, ...)."""
    domain = domain.lower().strip(".")
    if domain in FREE_MAIL_DOMAINS:
        return True
    labels = domain.split(".")
    # brand + public suffix: "hotmail.dk", "yahoo.co.uk", "outlook.com.au" (not "live.example.com")
    return (
        labels[0] in FREE_MAIL_BRANDS
        and 2 <= len(labels) <= 3
        and all(len(label) <= 3 for label in labels[1:])
    )


def _clean_domain(host: str) -> str | None:
    host = host.strip().lower().strip(".")
    host = _WWW.sub("", host)
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return None
    return host if _DOMAIN.match(host) else None


def email_domain(email: str | None) -> str | None:
    """The company domain of an e-mail address; None for free-mail providers and garbage."""
    if not email or "@" not in email:
        return None
    domain = _clean_domain(email.strip().rsplit("@", 1)[1].rstrip(">"))
    if domain is None or is_free_mail(domain):
        return None
    return domain


def _mailbox(email: str | None) -> str | None:
    """A free-mail address itself ("jens.hansen@gmail.com"): a person's mailbox, so it still identifies.

    Company-domain addresses return None; their domain already counts.
    """
    if not email or "@" not in email:
        return None
    local, _, host = email.strip().lower().rpartition("@")
    domain = _clean_domain(host)
    if not local or domain is None or not is_free_mail(domain):
        return None
    return f"{local}@{domain}"


def website_domain(website: str | None) -> str | None:
    """The domain of a web address ("https://www.example.dk/kontakt" -> "example.dk"), minus profile hosts."""
    if not website:
        return None
    text = website.strip().lower()
    if "@" in text and "/" not in text:
        return email_domain(text)
    text = _SCHEME.sub("", text)
    host = re.split(r"[/?#]", text, maxsplit=1)[0].rsplit("@", 1)[-1].split(":", 1)[0]
    domain = _clean_domain(host)
    if domain is None or domain in SHARED_WEB_HOSTS or is_free_mail(domain):
        return None
    return domain


# --------------------------------------------------------------------------------------------------
# Phones, places, numbers
# --------------------------------------------------------------------------------------------------


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


_CC_TLDS: frozenset[str] = frozenset({code.lower() for code in _COUNTRY_NAMES} - {"us", "ca"})
"""Country-code domains that mostly mean what they say (not .co, .io, .me, .tv)."""


def _domain_country(domain: str | None) -> str | None:
    if not domain:
        return None
    tld = domain.rsplit(".", 1)[-1]
    if tld == "uk":
        return "GB"
    return tld.upper() if tld in _CC_TLDS else None


# Letters in front of a postal code that only say which country it is in ("DK-2100", "D-10115").
_ZIP_COUNTRY_PREFIX = re.compile(
    r"^(?:DK|D|DE|S|SE|N|NO|FI|SF|F|FR|B|BE|NL|A|AT|CH|PL|L|LU|I|IT|E|ES|P|PT|CZ|SK|H|HU|IS|FO|GL)[\s\-]*(?=\d)"
)
_ZIP_ALPHA_FIRST = frozenset({"GB", "IE", "MT", "CA"})


def normalize_zip(value: str | None, country: str | None = None) -> str | None:
    """Postal code without blanks and country prefix ("DK-2100" -> "2100", "111 22" -> "11122")."""
    if not value:
        return None
    text = value.strip().upper()
    if country not in _ZIP_ALPHA_FIRST:
        text = _ZIP_COUNTRY_PREFIX.sub("", text)
    text = re.sub(r"[\s\-.]", "", text)
    return text or None


_CITY_ALIASES: dict[str, str] = {
    "copenhagen": "koebenhavn",
    "kobenhavn": "koebenhavn",
    "kbh": "koebenhavn",
    "arhus": "aarhus",
    "elsinore": "helsingoer",
    "gothenburg": "goeteborg",
    "goteborg": "goeteborg",
    "malmo": "malmoe",
    "munich": "muenchen",
    "munchen": "muenchen",
    "cologne": "koeln",
    "koln": "koeln",
    "nuremberg": "nuernberg",
    "nurnberg": "nuernberg",
    "hanover": "hannover",
    "dusseldorf": "duesseldorf",
    "the hague": "den haag",
    "s gravenhage": "den haag",
    "brussels": "bruxelles",
    "brussel": "bruxelles",
    "antwerp": "antwerpen",
    "anvers": "antwerpen",
    "ghent": "gent",
    "gand": "gent",
    "vienna": "wien",
    "warsaw": "warszawa",
    "cracow": "krakow",
    "prague": "praha",
    "lisbon": "lisboa",
    "helsingfors": "helsinki",
    "abo": "turku",
    "aabo": "turku",
    "zurich": "zuerich",
    "geneva": "geneve",
    "genf": "geneve",
    "milan": "milano",
    "rome": "roma",
    "florence": "firenze",
    "venice": "venezia",
    "luxemburg": "luxembourg",
    "tromso": "tromsoe",
}
"""Exonyms and de-accented spellings of cities with more than one common name (folded)."""

# District suffixes of Danish/Nordic postal towns ("København Ø", "Aarhus C", "Odense SØ").
_CITY_DISTRICTS = frozenset({"c", "k", "n", "s", "v", "o", "oe", "nv", "sv", "soe", "noe", "no", "so", "sk"})


@lru_cache(maxsize=16384)
def normalize_city(value: str | None) -> str | None:
    """Folded city without district letters and with one spelling per city ("Copenhagen" = "København K")."""
    if not value:
        return None
    words = _words(value)
    while len(words) > 1 and words[-1] in _CITY_DISTRICTS:
        words.pop()
    words = [word for word in words if not word.isdigit()]
    if not words:
        return None
    city = " ".join(words)
    return _CITY_ALIASES.get(city, city)


# Street words reduced to their usual abbreviation, so "Nørregade" == "Nørreg." and "Hauptstraße" ==
# "Hauptstr."; applied to the end of every word because Nordic and German streets are compounds.
_STREET_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("strasse", "str"),
    ("gatan", "g"),
    ("gata", "g"),
    ("gade", "g"),
    ("gaden", "g"),
    ("vaegen", "v"),
    ("vaeg", "v"),
    ("vejen", "v"),
    ("vej", "v"),
    ("veien", "v"),
    ("vei", "v"),
    ("alle", "al"),
    ("allee", "al"),
    ("plads", "pl"),
    ("platz", "pl"),
    ("torv", "tv"),
    ("street", "st"),
    ("road", "rd"),
    ("avenue", "ave"),
    ("av", "ave"),
    ("boulevard", "blvd"),
    ("bd", "blvd"),
    ("straat", "str"),
    ("laan", "ln"),
    ("lane", "ln"),
    ("weg", "wg"),
    ("katu", "k"),
    ("tie", "t"),
)
_HOUSE_NUMBER = re.compile(r"\d+[a-z]?")


@lru_cache(maxsize=65536)
def normalize_address(value: str | None) -> str | None:
    """Street address for comparison: folded, abbreviations unified, floor/door marks kept as words."""
    if not value:
        return None
    text = fold(value).replace(".", " ")
    words: list[str] = []
    for word in _NON_ALNUM.sub(" ", text).split():
        for long, short in _STREET_SUFFIXES:
            if word.endswith(long) and len(word) >= len(long):
                word = word[: -len(long)] + short
                break
        words.append(word)
    return " ".join(words) or None


def _same_address(a: str, b: str) -> bool:
    """Same street and same house number(s); the street name may carry a typo."""
    if a == b:
        return True
    if _HOUSE_NUMBER.findall(a)[:1] != _HOUSE_NUMBER.findall(b)[:1]:
        return False
    return fuzz.ratio(a, b, processor=None) >= 88.0


def _same_city(a: str, b: str) -> bool:
    return a == b or (min(len(a), len(b)) >= 5 and fuzz.ratio(a, b, processor=None) >= 88.0)


def _number(value: FieldValue) -> str | None:
    """Identifier as a string; "0042" and "42" are the same customer number."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    if not text:
        return None
    return str(int(text)) if text.isdigit() else text.casefold()


def _text(value: FieldValue) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


# --------------------------------------------------------------------------------------------------
# Identity keys
# --------------------------------------------------------------------------------------------------


class MatchKey(StrEnum):
    """Exact keys, strongest first; a link beats a customer number beats an external number beats VAT."""

    LINK = "link"
    CUSTOMER_NUMBER = "customer_number"
    EXTERNAL_NUMBER = "external_number"
    VAT_ID = "vat_id"


EXACT_KEY_ORDER: tuple[MatchKey, ...] = tuple(MatchKey)
"""The order exact keys are tried in; ``LINK`` is resolved by the caller before matching."""

EXTERNAL_NUMBER_FIELD = "external_number"
"""Canonical field holding the other side's id (or a number both systems carry, e.g. an old ERP id)."""


@dataclass(frozen=True, slots=True)
class IdentityKeys:
    """Everything matching reads from one record, normalised once."""

    record_id: str | None = None
    customer_number: str | None = None
    external_number: str | None = None
    vat: str | None = None
    name_norm: str = ""
    zip: str | None = None
    city_norm: str | None = None
    address_norm: str | None = None
    domain: str | None = None
    domains: frozenset[str] = field(default_factory=frozenset)
    mailbox: str | None = None
    phone_e164: str | None = None
    country: str | None = None

    @classmethod
    def from_fields(
        cls,
        fields: Mapping[str, FieldValue],
        *,
        record_id: str | None = None,
        default_country: str | None = None,
    ) -> IdentityKeys:
        """Keys of one record; ``default_country`` (the tenant's) resolves local phones and national ids."""
        country = country_code(_text(fields.get("country")))
        phone = _text(fields.get("phone"))
        web = website_domain(_text(fields.get("website")))
        mail = email_domain(_text(fields.get("email")))
        domains = frozenset(d for d in (web, mail) if d)
        # The country that local phone numbers and national ids are read in: the record's own, else
        # what an international phone number or a country-code domain says, else the tenant's.
        home = (
            country
            or _phone_country(phone)
            or _domain_country(web)
            or _domain_country(mail)
            or (country_code(default_country) if default_country else None)
        )
        vat = normalize_vat(_text(fields.get("vat_number")), home) or normalize_vat(
            _text(fields.get("corporate_id")), home
        )
        return cls(
            record_id=record_id,
            customer_number=_number(fields.get("customer_number")),
            external_number=_number(fields.get(EXTERNAL_NUMBER_FIELD)),
            vat=vat,
            name_norm=normalize_name(_text(fields.get("name"))),
            zip=normalize_zip(_text(fields.get("zip")), country),
            city_norm=normalize_city(_text(fields.get("city"))),
            address_norm=normalize_address(_text(fields.get("address"))),
            domain=web or mail,
            domains=domains,
            mailbox=_mailbox(_text(fields.get("email"))),
            phone_e164=normalize_phone(phone, home),
            country=country,
        )


def identity_keys(
    fields: Mapping[str, FieldValue] | IdentityKeys,
    *,
    record_id: str | None = None,
    default_country: str | None = None,
) -> IdentityKeys:
    """``IdentityKeys.from_fields`` that passes already computed keys through."""
    if isinstance(fields, IdentityKeys):
        return fields
    return IdentityKeys.from_fields(fields, record_id=record_id, default_country=default_country)


# --------------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------------


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
_W_ZIP_DIFFERS = -1.0
_W_ADDRESS = 1.5
_W_ADDRESS_DIFFERS = -0.5
_W_DOMAIN = 3.5
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
            total += _W_DOMAIN
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
    if a.country and b.country and a.country != b.country:
        total += _W_COUNTRY_DIFFERS
        reasons.append("country differs")
    if a.customer_number and b.customer_number and a.customer_number != b.customer_number:
        total += _W_NUMBER_DIFFERS
        reasons.append("customer number differs")
    return total, reasons, veto


def _squash(total: float) -> float:
    return 1.0 / (1.0 + math.exp(-(total - _BIAS)))


def score(subject: IdentityKeys, candidate: IdentityKeys) -> Score:
    """Score one candidate against a subject (symmetric); see the module docstring for the evidence."""
    total, reasons, veto = _evidence(subject, candidate)
    return Score(value=round(_squash(total), 4), reasons=reasons, veto=veto)


# --------------------------------------------------------------------------------------------------
# Pool index
# --------------------------------------------------------------------------------------------------

Pool = Iterable[tuple[str, Fields]]

_NAME_LIMIT = 60
_NAME_CUTOFF = 50.0
_BLOCK_CAP = 400
"""Blocks bigger than this (a zip code shared by hundreds of records) add nothing but time."""
_WORD_CAP = 100
"""First-word blocks ("jensen ...") bigger than this are left to the name search."""


class MatchIndex:
    """A pool of records prepared for many searches: keys computed once, exact and blocking maps built."""

    def __init__(self, pool: Pool, *, default_country: str | None = None) -> None:
        self.default_country = country_code(default_country) if default_country else None
        self.keys: list[IdentityKeys] = []
        self._by: dict[str, dict[str, list[int]]] = {
            "customer_number": {},
            "external_number": {},
            "vat": {},
            "domain": {},
            "phone": {},
            "zip": {},
            "word": {},
        }
        self._names: list[str] = []
        self._name_rows: list[list[int]] = []
        name_slot: dict[str, int] = {}
        for record_id, fields in pool:
            keys = IdentityKeys.from_fields(fields, record_id=record_id, default_country=self.default_country)
            row = len(self.keys)
            self.keys.append(keys)
            self._add("customer_number", keys.customer_number, row)
            self._add("external_number", keys.external_number, row)
            self._add("external_number", _number(record_id), row)
            self._add("vat", keys.vat, row)
            self._add("phone", keys.phone_e164, row)
            self._add("zip", keys.zip, row)
            for domain in keys.domains:
                self._add("domain", domain, row)
            if keys.name_norm:
                self._add("word", keys.name_norm.split(" ", 1)[0], row)
                slot = name_slot.get(keys.name_norm)
                if slot is None:
                    slot = name_slot[keys.name_norm] = len(self._names)
                    self._names.append(keys.name_norm)
                    self._name_rows.append([])
                self._name_rows[slot].append(row)

    def _add(self, key: str, value: str | None, row: int) -> None:
        if value:
            rows = self._by[key].setdefault(value, [])
            if not rows or rows[-1] != row:
                rows.append(row)

    def __len__(self) -> int:
        return len(self.keys)

    def subject_keys(self, subject: Mapping[str, FieldValue] | IdentityKeys) -> IdentityKeys:
        return identity_keys(subject, default_country=self.default_country)

    def exact_rows(self, key: MatchKey, subject: IdentityKeys) -> list[int]:
        """Pool rows sharing one exact key with the subject (empty when the subject lacks the key)."""
        if key is MatchKey.CUSTOMER_NUMBER and subject.customer_number:
            return list(self._by["customer_number"].get(subject.customer_number, ()))
        if key is MatchKey.EXTERNAL_NUMBER and subject.external_number:
            return list(self._by["external_number"].get(subject.external_number, ()))
        if key is MatchKey.VAT_ID and subject.vat:
            return list(self._by["vat"].get(subject.vat, ()))
        return []

    def block(self, subject: IdentityKeys) -> set[int]:
        """Rows worth scoring: shared VAT/number/domain/phone/zip, plus the most similar names."""
        rows: set[int] = set()
        for key, value in (
            ("vat", subject.vat),
            ("customer_number", subject.customer_number),
            ("external_number", subject.external_number),
            ("phone", subject.phone_e164),
            ("zip", subject.zip),
        ):
            if value:
                hits = self._by[key].get(value, ())
                if len(hits) <= _BLOCK_CAP:
                    rows.update(hits)
        for domain in subject.domains:
            hits = self._by["domain"].get(domain, ())
            if len(hits) <= _BLOCK_CAP:
                rows.update(hits)
        if subject.name_norm:
            # "Brøndum" finds "Brøndum Byg og Anlæg", which the whole-name search ranks too low
            hits = self._by["word"].get(subject.name_norm.split(" ", 1)[0], ())
            if len(hits) <= _WORD_CAP:
                rows.update(hits)
        if subject.name_norm and self._names:
            # plain Indel ratio: ~15x cheaper than WRatio and, with a wider limit, finds as much
            for _name, _similarity, slot in process.extract(
                subject.name_norm,
                self._names,
                scorer=fuzz.ratio,
                processor=None,
                limit=_NAME_LIMIT,
                score_cutoff=_NAME_CUTOFF,
            ):
                rows.update(self._name_rows[slot])
        return rows


def _as_index(pool: Pool | MatchIndex, default_country: str | None) -> MatchIndex:
    return pool if isinstance(pool, MatchIndex) else MatchIndex(pool, default_country=default_country)


# --------------------------------------------------------------------------------------------------
# Results and policy
# --------------------------------------------------------------------------------------------------


class ExactMatch(BaseModel):
    """The one candidate that shares the strongest exact key with the subject."""

    model_config = ConfigDict(frozen=True)

    record_id: str
    key: MatchKey


class Candidate(BaseModel):
    """A scored candidate offered to a person (or auto-linked if the policy allows)."""

    model_config = ConfigDict(frozen=True)

    record_id: str
    score: float = Field(ge=0.0, le=1.0)
    reasons: list[str] = Field(default_factory=list)
    veto: bool = False


DEFAULT_OFFER_THRESHOLD = 0.10
"""Lowest score that is offered, chosen with ``python -m bench.matching --sweep``.

Offers are "precise" when no candidate the evidence proves to be another company is shown: a VAT
veto, or another city plus another domain or phone with no identifier in common. The highest score
the weights allow such a candidate is 0.076 (same name, other city, other phone), so 0.08 is the
lowest precise threshold; 0.10 keeps a margin and had the same recall@5 (0.992 at 2,000 pairs) on
the benchmark's default seed.
"""


class MatchPolicy(BaseModel):
    """Per-tenant matching policy. By default only exact keys auto-link; scored candidates are offered."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    auto_link_exact: bool = True
    offer_threshold: float = Field(default=DEFAULT_OFFER_THRESHOLD, ge=0.0, le=1.0)
    auto_link_threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="None: scored candidates never auto-link. Otherwise the sole candidate at or above it may.",
    )
    max_candidates: int = Field(default=5, ge=1, le=50)
    default_country: str | None = Field(
        default=None, description="The tenant's home country: resolves local phone numbers and national ids."
    )

    @field_validator("default_country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = country_code(value)
        if code is None:
            raise ValueError(f"unknown country: {value!r}")
        return code

    @model_validator(mode="after")
    def _auto_link_above_offer(self) -> MatchPolicy:
        if self.auto_link_threshold is not None and self.auto_link_threshold < self.offer_threshold:
            raise ValueError("auto_link_threshold must not be below offer_threshold")
        return self


class MatchDecision(BaseModel):
    """What to do with a subject: link it to ``auto_link`` (found by ``key``) or offer ``candidates``."""

    auto_link: str | None = None
    key: MatchKey | None = None
    candidates: list[Candidate] = Field(default_factory=list)


# --------------------------------------------------------------------------------------------------
# Search
# --------------------------------------------------------------------------------------------------


def _exact(subject: IdentityKeys, index: MatchIndex) -> tuple[ExactMatch | None, dict[int, str]]:
    """The exact match, or None plus a note per row that shared a key ambiguously or contradicted."""
    notes: dict[int, str] = {}
    for key in EXACT_KEY_ORDER:
        if key is MatchKey.LINK:
            continue
        rows = index.exact_rows(key, subject)
        if not rows:
            continue
        if len(rows) > 1:
            for row in rows:
                notes[row] = f"{key.value} shared by {len(rows)} records"
            return None, notes
        row = rows[0]
        other = index.keys[row]
        conflict = _contradiction(key, subject, other)
        if conflict:
            notes[row] = f"same {key.value} but {conflict}"
            return None, notes
        return ExactMatch(record_id=other.record_id or "", key=key), notes
    return None, notes


def _contradiction(key: MatchKey, subject: IdentityKeys, other: IdentityKeys) -> str | None:
    """Why an exact key should not be trusted for this pair, if the rest of the records disagree.

    A number someone typed into the CRM is a deliberate link; only a different valid VAT id overrules
    it. A shared VAT id only says "same legal entity": one entity often has several accounts
    (branches, departments), so another city or another company domain makes it a candidate instead.
    """
    if key is not MatchKey.VAT_ID:
        return "vat differs" if subject.vat and other.vat and subject.vat != other.vat else None
    if subject.city_norm and other.city_norm and not _same_city(subject.city_norm, other.city_norm):
        return "city differs"
    if subject.domains and other.domains and not subject.domains & other.domains:
        return "domain differs"
    return None


def exact_match(
    subject: Fields | IdentityKeys, candidates: Pool | MatchIndex, *, default_country: str | None = None
) -> ExactMatch | None:
    """The candidate sharing the first exact key (customer number, external number, VAT id), if unique."""
    index = _as_index(candidates, default_country)
    return _exact(index.subject_keys(subject), index)[0]


def _scored(
    subject: IdentityKeys, index: MatchIndex, notes: Mapping[int, str], threshold: float
) -> list[Candidate]:
    rows = index.block(subject) | set(notes)
    out: list[Candidate] = []
    for row in rows:
        other = index.keys[row]
        total, reasons, veto = _evidence(subject, other)
        note = notes.get(row)
        if note:
            reasons.insert(0, note)
        value = _squash(total)
        if value >= threshold:
            out.append(
                Candidate(record_id=other.record_id or "", score=round(value, 4), reasons=reasons, veto=veto)
            )
    out.sort(key=lambda candidate: (-candidate.score, candidate.record_id))
    return out


def find_candidates(
    subject: Fields | IdentityKeys,
    pool: Pool | MatchIndex,
    *,
    limit: int = 5,
    threshold: float = DEFAULT_OFFER_THRESHOLD,
    default_country: str | None = None,
) -> list[Candidate]:
    """Scored candidates at or above ``threshold``, best first, at most ``limit``."""
    index = _as_index(pool, default_country)
    keys = index.subject_keys(subject)
    notes = _exact(keys, index)[1]
    return _scored(keys, index, notes, threshold)[:limit]


def decide(
    subject: Fields | IdentityKeys, pool: Pool | MatchIndex, policy: MatchPolicy | None = None
) -> MatchDecision:
    """Exact key -> auto-link (if the policy allows); otherwise offer the best scored candidates.

    A scored candidate auto-links only with ``policy.auto_link_threshold`` set, when it is the only
    candidate at or above it, carries no VAT veto and no exact key was ambiguous.
    """
    policy = policy or MatchPolicy()
    index = _as_index(pool, policy.default_country)
    keys = identity_keys(subject, default_country=policy.default_country or index.default_country)
    exact, notes = _exact(keys, index)
    candidates = _scored(keys, index, notes, policy.offer_threshold)
    if exact is not None:
        scored = next((c.reasons for c in candidates if c.record_id == exact.record_id), [])
        first = Candidate(
            record_id=exact.record_id, score=1.0, reasons=[f"same {exact.key.value} (exact key)", *scored]
        )
        candidates = [first, *(c for c in candidates if c.record_id != exact.record_id)]
        if policy.auto_link_exact:
            return MatchDecision(
                auto_link=exact.record_id, key=exact.key, candidates=candidates[: policy.max_candidates]
            )
    elif policy.auto_link_threshold is not None and not notes:
        above = [c for c in candidates if c.score >= policy.auto_link_threshold]
        if len(above) == 1 and not above[0].veto:
            return MatchDecision(auto_link=above[0].record_id, candidates=candidates[: policy.max_candidates])
    return MatchDecision(candidates=candidates[: policy.max_candidates])

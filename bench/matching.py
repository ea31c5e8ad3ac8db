"""Matching benchmark: labeled CRM-subject vs. accounting-pool pairs; prints one line of numbers.

    python -m bench.matching [pairs] [--seed N] [--sweep] [--timing]

Generates, with a fixed seed, European companies (DK, SE, NO, DE, NL, BE, FR, GB, FI, PL, CH) and for
each tenant an accounting pool (e-conomic side, ~2,500 customers) plus CRM subjects (HubSpot side):

* positives: the subject is the CRM's view of a pool customer, typed by someone else: typos, other
  legal-form spelling (A/S, AS, Aktieselskab, none), case/accent variants (Brøndum, Broendum,
  BRØNDUM), street abbreviations (vej/v., Straße/Str.), other zip/country spellings, missing fields,
  a direct line instead of the switchboard, contact e-mails on gmail.com. ~4% moved (other city and
  zip), ~4% are known to the CRM by a trade name unlike the registered one. Only ~30% carry the
  accounting customer number, ~35% a VAT/company id (3% of those with a typo), ~5% a shared ERP id.
  For ~10% the pool also holds a same-name company elsewhere, for ~3% a second account with the same
  VAT id (a branch): that VAT id is ambiguous, or, if only the branch records it, contradicted by
  the branch's other city/domain; either way it must not auto-link.
* negatives: the subject's company is not in the pool. About half are traps: the pool holds a company
  with the same name in another city, with another domain/phone/VAT id. Some carry a customer number
  from an earlier system (never one of the pool's numbers).

Labels live only in the pair list; the matcher sees canonical fields and record ids that carry no
hint (accounting ids are the customer numbers, which are shuffled relative to the companies).

Printed: ``auto_link_precision`` = correct auto-links / auto-links made by ``decide`` with the default
``MatchPolicy()`` (no tenant country, exact keys only); ``candidate_recall_at_5`` = positives whose true
counterpart is auto-linked or among the top-5 offered candidates. ``--sweep`` writes, to stderr,
recall, trap offers and "proven different" offers per offer threshold, what a scored auto-link
threshold would do, and the missed positives; that is where ``DEFAULT_OFFER_THRESHOLD`` comes from.
``--timing`` writes index build time and per-subject time against one pool of 10,000.

Limits: the data is synthetic. Exact keys are right by construction except for the shared-VAT
branches, so auto-link precision mostly tests that ambiguity and contradiction are respected; the
missed positives are moved companies with nothing else in common and trade names with no shared
domain, phone or VAT id, which no matcher can find from these fields.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass, field, replace
from typing import Any

import phonenumbers
from stdnum import luhn
from stdnum.ch import uid as ch_uid
from stdnum.dk import cvr as dk_cvr
from stdnum.eu import vat as eu_vat
from stdnum.fi import ytunnus as fi_ytunnus
from stdnum.fr import siren as fr_siren
from stdnum.gb import vat as gb_vat
from stdnum.no import orgnr as no_orgnr

from crmsync.matching import Candidate, MatchIndex, MatchPolicy, decide, find_candidates, fold
from crmsync.models import Fields

DEFAULT_SEED = 20240611
POOL_SIZE = 2500
PAIRS_PER_TENANT = 500
POSITIVE_SHARE = 0.7

# fmt: off
COUNTRY_WEIGHTS = {"DK": 40, "SE": 10, "NO": 7, "DE": 10, "NL": 6, "BE": 4, "FR": 5, "GB": 7, "FI": 5, "PL": 4, "CH": 2}
STEMS = {
    "DK": ["Brøndum", "Jensen", "Nielsen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen",
           "Rasmussen", "Jørgensen", "Madsen", "Kristensen", "Østergaard", "Møller", "Kjær", "Bøgh", "Nørgaard",
           "Skovgaard", "Dalsgaard", "Vestjysk", "Nordsjællands", "Fynsk", "Midtjysk", "Sønderjysk", "Aarhus",
           "Thygesen", "Lykke", "Fjord", "Nordlys", "Bæk", "Holm", "Lund", "Krogh", "Dahl", "Søgaard"],
    "SE": ["Svensson", "Johansson", "Andersson", "Karlsson", "Nilsson", "Eriksson", "Lindqvist", "Åberg",
           "Bergström", "Sjöberg", "Norrlands", "Skånska", "Västkust", "Göta", "Mälar", "Fjäll"],
    "NO": ["Hansen", "Johansen", "Olsen", "Berg", "Haugen", "Bakken", "Nordvik", "Fjellstad", "Sørlandet",
           "Vestland", "Trøndelag", "Kystverk", "Bjørnstad", "Løkken"],
    "DE": ["Müller", "Schmidt", "Fischer", "Wagner", "Hoffmann", "Schröder", "Köhler", "Weiß", "Becker",
           "Nordsee", "Elbe", "Hanse", "Bayerische", "Rheinische", "Schwäbische", "Märkische"],
    "NL": ["de Jong", "Jansen", "Visser", "Smit", "de Vries", "van Dijk", "Bakker", "Mulder", "Hollandse",
           "Zeeuwse", "Brabantse", "Noord"],
    "BE": ["Peeters", "Janssens", "Maes", "Dubois", "Lambert", "Vlaamse", "Brusselse", "Wouters", "Lemaire"],
    "FR": ["Dubois", "Lefèvre", "Moreau", "Girard", "Rousseau", "Bretagne", "Provençale", "Lyonnaise",
           "Normande", "Mercier", "Fontaine"],
    "GB": ["Smith", "Jones", "Taylor", "Brown", "Wilson", "Thames", "Pennine", "Northern", "Highland",
           "Cotswold", "Mercia", "Albion"],
    "FI": ["Virtanen", "Korhonen", "Nieminen", "Mäkelä", "Hämäläinen", "Laine", "Pohjolan", "Suomen", "Järvi",
           "Savon", "Karjalan"],
    "PL": ["Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kamiński", "Zieliński", "Mazowsze", "Pomorze",
           "Śląsk", "Wielkopolska"],
    "CH": ["Meier", "Keller", "Brunner", "Zürcher", "Berner", "Alpen", "Helvetia", "Gerber"],
}
TRADES = {
    "DK": ["Byg", "VVS", "El", "Maskinfabrik", "Tømrer", "Consult", "Revision", "Transport", "Auto", "Handel",
           "Import", "Ejendomme", "Rengøring", "Malerfirma", "Smedie", "Trælast", "Data", "Software", "Logistik",
           "Design", "Arkitekter", "Entreprise", "Gartneri", "Kloak", "Tag", "Køleteknik", "Vinduer", "Murer"],
    "SE": ["Bygg", "El", "Rör", "Konsult", "Transport", "Maskin", "Data", "Handel", "Fastigheter", "Trä",
           "Måleri", "Städ", "Logistik", "Verkstad"],
    "NO": ["Bygg", "Elektro", "Rør", "Transport", "Maskin", "Eiendom", "Handel", "Rådgivning", "Data", "Snekkeri",
           "Maling"],
    "DE": ["Bau", "Elektro", "Maschinenbau", "Logistik", "Handel", "Software", "Metallbau", "Haustechnik",
           "Immobilien", "Beratung", "Spedition", "Holzbau", "Dachdeckerei"],
    "NL": ["Bouw", "Installatietechniek", "Logistiek", "Handel", "Techniek", "Transport", "Advies", "Metaal",
           "Schilders"],
    "BE": ["Bouw", "Construct", "Transport", "Logistics", "Techniek", "Consult", "Menuiserie", "Électricité"],
    "FR": ["Bâtiment", "Électricité", "Transports", "Menuiserie", "Conseil", "Logistique", "Informatique",
           "Plomberie", "Métallerie"],
    "GB": ["Engineering", "Logistics", "Trading", "Consulting", "Supplies", "Software", "Builders",
           "Plumbing", "Electrical", "Haulage", "Joinery"],
    "FI": ["Rakennus", "Kuljetus", "Kauppa", "Tekniikka", "Puu", "Sähkö", "Konepaja", "Logistiikka", "Data"],
    "PL": ["Budownictwo", "Transport", "Logistyka", "Handel", "Instalacje", "Meble", "Stal", "Serwis"],
    "CH": ["Bau", "Elektro", "Treuhand", "Maschinen", "Informatik", "Holzbau", "Transporte"],
}
# legal form key -> spellings seen in the wild (the first one is how the accounting system holds it)
LEGAL_FORMS = {
    "DK": {"A/S": ["A/S", "AS", "A.S.", "Aktieselskab", "a/s", ""], "ApS": ["ApS", "APS", "Aps", "Anpartsselskab", ""],
           "I/S": ["I/S", "IS", ""], "IVS": ["IVS", ""], "P/S": ["P/S", ""]},
    "SE": {"AB": ["AB", "Aktiebolag", "AB (publ)", "ab", ""], "HB": ["HB", "Handelsbolag", ""]},
    "NO": {"AS": ["AS", "A/S", "as", "Aksjeselskap", ""], "ASA": ["ASA", ""], "ANS": ["ANS", ""]},
    "DE": {"GmbH": ["GmbH", "G.m.b.H.", "GMBH", "Gmbh", ""], "GmbH & Co. KG": ["GmbH & Co. KG", "GmbH & Co KG", ""],
           "AG": ["AG", "Aktiengesellschaft", ""], "KG": ["KG", ""], "e.K.": ["e.K.", ""]},
    "NL": {"B.V.": ["B.V.", "BV", "bv", "B.V", ""], "N.V.": ["N.V.", "NV", ""], "VOF": ["VOF", "V.O.F.", ""]},
    "BE": {"BV": ["BV", "B.V.", "BVBA", ""], "NV": ["NV", "N.V.", ""], "SRL": ["SRL", "S.R.L.", ""],
           "SA": ["SA", "S.A.", ""]},
    "FR": {"SAS": ["SAS", "S.A.S.", ""], "SARL": ["SARL", "S.A.R.L.", "Sarl", ""], "SA": ["SA", "S.A.", ""]},
    "GB": {"Ltd": ["Ltd", "Ltd.", "Limited", "LTD", ""], "PLC": ["PLC", "plc", ""], "LLP": ["LLP", ""]},
    "FI": {"Oy": ["Oy", "OY", "Osakeyhtiö", ""], "Oyj": ["Oyj", ""], "Ky": ["Ky", ""]},
    "PL": {"Sp. z o.o.": ["Sp. z o.o.", "Sp. z o. o.", "sp. z o.o.", "Sp z oo", ""], "S.A.": ["S.A.", "SA", ""]},
    "CH": {"AG": ["AG", "SA", ""], "GmbH": ["GmbH", "Sàrl", ""]},
}
CITIES: dict[str, list[tuple[str, str, str | None]]] = {
    "DK": [("1050", "København K", "Copenhagen"), ("2100", "København Ø", "Copenhagen"),
           ("2300", "København S", "Copenhagen"), ("8000", "Aarhus C", "Århus"), ("5000", "Odense C", None),
           ("9000", "Aalborg", None), ("6700", "Esbjerg", None), ("7100", "Vejle", None), ("8700", "Horsens", None),
           ("4000", "Roskilde", None), ("2800", "Kongens Lyngby", "Lyngby"), ("6000", "Kolding", None),
           ("8600", "Silkeborg", None), ("7400", "Herning", None), ("3000", "Helsingør", "Elsinore"),
           ("4700", "Næstved", None), ("8900", "Randers", None), ("6400", "Sønderborg", None),
           ("7000", "Fredericia", None), ("8800", "Viborg", None), ("4600", "Køge", None), ("2630", "Taastrup", None),
           ("4200", "Slagelse", None), ("3400", "Hillerød", None), ("5700", "Svendborg", None),
           ("9800", "Hjørring", None), ("9900", "Frederikshavn", None), ("2605", "Brøndby", None),
           ("2600", "Glostrup", None), ("2750", "Ballerup", None), ("7500", "Holstebro", None),
           ("6100", "Haderslev", None), ("7800", "Skive", None), ("4100", "Ringsted", None)],
    "SE": [("111 22", "Stockholm", None), ("411 05", "Göteborg", "Gothenburg"), ("211 20", "Malmö", None),
           ("753 20", "Uppsala", None), ("582 22", "Linköping", None), ("702 10", "Örebro", None),
           ("721 30", "Västerås", None), ("903 26", "Umeå", None), ("252 25", "Helsingborg", None)],
    "NO": [("0150", "Oslo", None), ("5003", "Bergen", None), ("7011", "Trondheim", None),
           ("4006", "Stavanger", None), ("9008", "Tromsø", None), ("4610", "Kristiansand", None),
           ("3015", "Drammen", None)],
    "DE": [("20095", "Hamburg", None), ("10115", "Berlin", None), ("24103", "Kiel", None),
           ("80331", "München", "Munich"), ("50667", "Köln", "Cologne"), ("60311", "Frankfurt am Main", None),
           ("70173", "Stuttgart", None), ("40213", "Düsseldorf", None), ("28195", "Bremen", None),
           ("30159", "Hannover", None), ("90402", "Nürnberg", "Nuremberg"), ("24937", "Flensburg", None)],
    "NL": [("1012 AB", "Amsterdam", None), ("3011 AD", "Rotterdam", None), ("3511 AA", "Utrecht", None),
           ("2511 BT", "Den Haag", "The Hague"), ("5611 AA", "Eindhoven", None), ("9711 AA", "Groningen", None)],
    "BE": [("1000", "Bruxelles", "Brussels"), ("2000", "Antwerpen", "Antwerp"), ("9000", "Gent", "Ghent"),
           ("3000", "Leuven", None), ("4000", "Liège", None), ("8000", "Brugge", None)],
    "FR": [("75001", "Paris", None), ("69001", "Lyon", None), ("13001", "Marseille", None),
           ("31000", "Toulouse", None), ("33000", "Bordeaux", None), ("59000", "Lille", None),
           ("44000", "Nantes", None), ("67000", "Strasbourg", None)],
    "GB": [("EC1A 1BB", "London", None), ("M1 1AE", "Manchester", None), ("LS1 4AP", "Leeds", None),
           ("B1 1AA", "Birmingham", None), ("BS1 4DJ", "Bristol", None), ("EH1 1YZ", "Edinburgh", None),
           ("G1 1XQ", "Glasgow", None), ("L1 8JQ", "Liverpool", None)],
    "FI": [("00100", "Helsinki", "Helsingfors"), ("33100", "Tampere", None), ("20100", "Turku", "Åbo"),
           ("90100", "Oulu", None), ("40100", "Jyväskylä", None), ("02100", "Espoo", None)],
    "PL": [("00-001", "Warszawa", "Warsaw"), ("30-001", "Kraków", None), ("80-001", "Gdańsk", None),
           ("50-001", "Wrocław", None), ("60-001", "Poznań", None)],
    "CH": [("8001", "Zürich", "Zurich"), ("3011", "Bern", None), ("4051", "Basel", None),
           ("1201", "Genève", "Geneva")],
}
# street stem, suffix, abbreviation of the suffix
STREET_SUFFIXES = {
    "DK": [("vej", "v."), ("gade", "g."), ("vejen", "v."), (" Allé", " Alle"), ("stræde", "str.")],
    "SE": [("vägen", "v."), ("gatan", "g.")],
    "NO": [("veien", "v."), ("gata", "g."), (" gate", " g.")],
    "DE": [("straße", "str."), ("straße", "strasse"), ("weg", "weg"), ("allee", "allee")],
    "NL": [("straat", "str."), ("weg", "weg"), ("laan", "ln.")],
    "BE": [("straat", "str."), ("laan", "ln.")],
    "FR": [("Rue ", "R. "), ("Avenue ", "Av. "), ("Boulevard ", "Bd ")],
    "GB": [(" Street", " St"), (" Road", " Rd"), (" Lane", " Ln")],
    "FI": [("katu", "k."), ("tie", "t.")],
    "PL": [("ul. ", "ulica ")],
    "CH": [("strasse", "str."), ("weg", "weg")],
}
STREET_STEMS = {
    "DK": ["Vester", "Nørre", "Øster", "Sønder", "Industri", "Hoved", "Strand", "Håndværker", "Konge", "Mølle",
           "Skov", "Havne", "Erhvervs", "Kirke", "Bygade", "Ny", "Enghave", "Rosen", "Birke", "Lærke"],
    "SE": ["Stor", "Drottning", "Kungs", "Industri", "Hamn", "Kyrk", "Skol", "Ström"],
    "NO": ["Stor", "Kirke", "Havne", "Industri", "Kongens", "Skole", "Fjord"],
    "DE": ["Haupt", "Bahnhof", "Industrie", "Hafen", "Linden", "Garten", "Schul", "Kirch", "Berg"],
    "NL": ["Keizers", "Stations", "Industrie", "Haven", "Kerk", "Molen", "Dorps"],
    "BE": ["Kerk", "Stations", "Markt", "Molen", "Nieuw"],
    "FR": ["de la République", "Victor Hugo", "de Paris", "du Port", "Jean Jaurès", "de la Gare"],
    "GB": ["High", "Station", "Church", "Mill", "Park", "Victoria", "King"],
    "FI": ["Mannerheimin", "Teollisuus", "Satama", "Kauppa", "Rauta"],
    "PL": ["Marszałkowska", "Długa", "Polna", "Leśna", "Słoneczna"],
    "CH": ["Bahnhof", "Haupt", "See", "Dorf"],
}
# how the accounting system (Danish) and the CRM (anyone) write the country
COUNTRY_SPELLINGS = {
    "DK": (["Danmark"], ["Danmark", "Denmark", "DK", "danmark", "DENMARK", "Dänemark"]),
    "SE": (["Sverige"], ["Sweden", "Sverige", "SE", "Schweden"]),
    "NO": (["Norge"], ["Norway", "Norge", "NO"]),
    "DE": (["Tyskland", "Deutschland"], ["Germany", "Deutschland", "DE", "Tyskland"]),
    "NL": (["Holland", "Nederlandene"], ["Netherlands", "The Netherlands", "Nederland", "NL", "Holland"]),
    "BE": (["Belgien"], ["Belgium", "België", "Belgique", "BE"]),
    "FR": (["Frankrig"], ["France", "FR", "Frankrig"]),
    "GB": (["Storbritannien", "England"], ["United Kingdom", "UK", "GB", "Great Britain", "England"]),
    "FI": (["Finland"], ["Finland", "Suomi", "FI"]),
    "PL": (["Polen"], ["Poland", "Polska", "PL"]),
    "CH": (["Schweiz"], ["Switzerland", "Schweiz", "CH", "Suisse"]),
}
TLD = {"DK": "dk", "SE": "se", "NO": "no", "DE": "de", "NL": "nl", "BE": "be", "FR": "fr", "GB": "co.uk",
       "FI": "fi", "PL": "pl", "CH": "ch"}
# national significant number templates: leading digits + how many random digits follow
PHONE_TEMPLATES = {
    "DK": [("3", 7), ("4", 7), ("7", 7), ("8", 7), ("9", 7), ("2", 7)], "SE": [("8", 7), ("31", 7), ("40", 6)],
    "NO": [("2", 7), ("5", 7), ("9", 7)], "DE": [("30", 8), ("40", 8), ("89", 8), ("221", 7)],
    "NL": [("20", 7), ("10", 7), ("30", 7)], "BE": [("2", 7), ("3", 7), ("9", 7)],
    "FR": [("1", 8), ("4", 8), ("5", 8)], "GB": [("20", 8), ("161", 7), ("113", 7)],
    "FI": [("9", 7), ("2", 7)], "PL": [("22", 7), ("12", 7), ("58", 7)], "CH": [("44", 7), ("31", 7), ("61", 7)],
}
FREE_MAIL = ["gmail.com", "hotmail.com", "outlook.dk", "live.dk", "yahoo.com", "mail.dk", "gmx.de", "icloud.com"]
MAIL_LOCALS = ["info", "kontakt", "post", "mail", "office", "faktura", "regnskab", "sales", "hello"]
FIRST_NAMES = ["anna", "lars", "mette", "jens", "erik", "sofie", "thomas", "julia", "peter", "maria", "ole", "karin"]
BRAND_SYLLABLES = ["no", "va", "ter", "lin", "ka", "ro", "mex", "tec", "sol", "vi", "dan", "flex", "pro", "ax",
                   "el", "tra", "nor", "bo", "ma", "ri", "zen", "quo", "lux", "ve", "sta", "gro", "fi", "on"]
# fmt: on
KEYBOARD_NEIGHBOURS = {
    "a": "qsz", "b": "vgn", "c": "xdv", "d": "sfe", "e": "wrd", "f": "dgr", "g": "fht", "h": "gjy", "i": "uok",
    "j": "hku", "k": "jli", "l": "kop", "m": "nj", "n": "bmh", "o": "ipl", "p": "ol", "r": "etf", "s": "adw",
    "t": "ryg", "u": "yij", "v": "cbf", "w": "qes", "y": "tuh", "z": "xas",
}  # fmt: skip
NORDIC_ASCII = {"ø": ["o", "oe"], "æ": ["ae", "a"], "å": ["aa", "a"], "ö": ["o", "oe"], "ä": ["a", "ae"],
                "ü": ["u", "ue"], "ß": ["ss"], "é": ["e"], "è": ["e"], "ł": ["l"], "ś": ["s"], "ń": ["n"]}  # fmt: skip


# --------------------------------------------------------------------------------------------------
# The truth: companies
# --------------------------------------------------------------------------------------------------


@dataclass
class Company:
    """One real company; both systems' records are views of it."""

    uid: int
    country: str
    name: str  # without legal form
    legal: str  # key into LEGAL_FORMS[country]
    city: tuple[str, str, str | None]
    street: tuple[str, str, str]  # stem, suffix, abbreviated suffix
    house: int
    domain: str | None  # None: the company uses a free-mail address
    free_mail: str | None
    phone: str  # E.164
    vat: str | None  # canonical VAT id
    national_id: str | None  # CVR, orgnr, Y-tunnus, SIREN, ...
    erp_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _slug(text: str) -> str:
    return "".join(ch for ch in fold(text) if ch.isalnum())


def _digits(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randint(0, 9)) for _ in range(n))


def _company_ids(country: str, rng: random.Random) -> tuple[str | None, str | None]:
    """(canonical VAT id, national company id) with valid check digits, found by drawing until valid."""
    while True:
        if country == "DK":
            cvr = str(rng.randint(1, 9)) + _digits(rng, 7)
            if dk_cvr.is_valid(cvr):
                return "DK" + cvr, cvr
        elif country == "SE":
            body = "55" + _digits(rng, 7)
            org = body + luhn.calc_check_digit(body)
            return f"SE{org}01", f"{org[:6]}-{org[6:]}"
        elif country == "NO":
            org = "9" + _digits(rng, 8)
            if no_orgnr.is_valid(org):
                return "NO" + org, org
        elif country == "FI":
            body = str(rng.randint(1, 3)) + _digits(rng, 7)
            if fi_ytunnus.is_valid(body):
                return "FI" + body, f"{body[:7]}-{body[7]}"
        elif country == "DE":
            number = "DE" + str(rng.randint(1, 3)) + _digits(rng, 8)
            if eu_vat.is_valid(number):
                return number, f"HRB {rng.randint(10000, 99999)}"
        elif country == "NL":
            number = "NL" + str(rng.randint(0, 8)) + _digits(rng, 8) + "B01"
            if eu_vat.is_valid(number):
                return number, _digits(rng, 8)
        elif country == "BE":
            body = "0" + str(rng.randint(2, 9)) + _digits(rng, 6)
            number = f"BE{body}{97 - int(body) % 97:02d}"
            if eu_vat.is_valid(number):
                return number, f"{number[2:6]}.{number[6:9]}.{number[9:]}"
        elif country == "FR":
            body = str(rng.randint(3, 9)) + _digits(rng, 7)
            siren = body + luhn.calc_check_digit(body)
            return eu_vat.validate("FR" + fr_siren.to_tva(siren)), siren
        elif country == "GB":
            number = str(rng.randint(1, 9)) + _digits(rng, 8)
            if gb_vat.is_valid(number):
                return "GB" + number, "0" + _digits(rng, 7)
        elif country == "PL":
            number = "PL" + str(rng.randint(1, 9)) + _digits(rng, 9)
            if eu_vat.is_valid(number):
                return number, None
        elif country == "CH":
            body = "CHE" + str(rng.randint(1, 9)) + _digits(rng, 7)
            check = ch_uid.calc_check_digit(body[3:])
            if check.isdigit() and len(check) == 1:
                return body + check, None


def _phone(country: str, rng: random.Random) -> str:
    code = phonenumbers.country_code_for_region(country)
    while True:
        lead, rest = rng.choice(PHONE_TEMPLATES[country])
        number = phonenumbers.parse(f"+{code}{lead}{_digits(rng, rest)}")
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _brand(rng: random.Random) -> str:
    return "".join(rng.choice(BRAND_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def _company_name(country: str, rng: random.Random) -> str:
    stem, trade = rng.choice(STEMS[country]), rng.choice(TRADES[country])
    roll = rng.random()
    if roll < 0.45:
        return f"{stem} {trade}"
    if roll < 0.6:
        other = rng.choice(STEMS[country])
        joiner = {"DK": "og", "NO": "og", "SE": "och", "DE": "und"}.get(country, "and")
        return f"{stem} & {other}" if rng.random() < 0.7 else f"{stem} {joiner} {other}"
    if roll < 0.85:
        brand = _brand(rng)
        return f"{brand} {trade}" if rng.random() < 0.6 else brand
    if roll < 0.93:
        return f"{stem} {trade} {rng.choice(CITIES[country])[1]}"
    return f"{_brand(rng)} {stem}"


_TAKEN_DOMAINS: set[str] = set()


def new_company(
    uid: int, rng: random.Random, *, country: str | None = None, name: str | None = None
) -> Company:
    """A fresh company; ``name`` forces the name (same-name traps)."""
    country = country or rng.choices(list(COUNTRY_WEIGHTS), list(COUNTRY_WEIGHTS.values()))[0]
    name = name or _company_name(country, rng)
    legal = rng.choice(list(LEGAL_FORMS[country]))
    stem = rng.choice(STREET_STEMS[country])
    suffix, abbreviation = rng.choice(STREET_SUFFIXES[country])
    free = rng.random() < 0.12
    slug = _slug(name)[:30] or f"firma{uid}"
    domain = None
    while not free and (domain is None or domain in _TAKEN_DOMAINS):
        # a domain belongs to one company: a later same-name company gets another one
        tail = rng.choice(
            ["", "", "-" + _slug(country), str(rng.randint(1, 99)), "-" + _slug(rng.choice(TRADES[country]))]
        )
        domain = f"{slug}{tail}.{TLD[country]}"
    if domain:
        _TAKEN_DOMAINS.add(domain)
    vat, national = _company_ids(country, rng)
    return Company(
        uid=uid,
        country=country,
        name=name,
        legal=legal,
        city=rng.choice(CITIES[country]),
        street=(stem, suffix, abbreviation),
        house=rng.randint(1, 180),
        domain=domain,
        free_mail=f"{slug}{rng.randint(1, 999)}@{rng.choice(FREE_MAIL)}" if free else None,
        phone=_phone(country, rng),
        vat=vat,
        national_id=national,
    )


def moved(company: Company, rng: random.Random) -> Company:
    """Same company, new address (and sometimes a new switchboard number)."""
    city = rng.choice([c for c in CITIES[company.country] if c != company.city] or CITIES[company.country])
    phone = _phone(company.country, rng) if rng.random() < 0.5 else company.phone
    return replace(company, city=city, house=rng.randint(1, 180), phone=phone)


# --------------------------------------------------------------------------------------------------
# Views: the accounting record and the CRM record of a company
# --------------------------------------------------------------------------------------------------


def _street(company: Company, abbreviate: bool) -> str:
    stem, suffix, short = company.street
    part = short if abbreviate else suffix
    if company.country == "FR":
        return f"{company.house} {part}{stem}"
    if company.country == "PL":
        return f"{part}{stem} {company.house}"
    return f"{stem}{part} {company.house}"


def _format_phone(e164: str, rng: random.Random, country: str) -> str:
    number = phonenumbers.parse(e164)
    style = rng.random()
    if style < 0.35:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    if style < 0.55:
        return e164
    if style < 0.7:
        return "00" + e164[1:]
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return national if rng.random() < 0.7 else national.replace(" ", "")


def accounting_view(company: Company, number: int, rng: random.Random) -> Fields:
    """The e-conomic customer: complete-ish, legal form as registered, Danish country names."""
    spelled = LEGAL_FORMS[company.country][company.legal][0]
    zip_code, city, _alias = company.city
    record: Fields = {
        "name": f"{company.name} {spelled}".strip(),
        "customer_number": str(number),
        "address": _street(company, abbreviate=rng.random() < 0.3) if rng.random() < 0.95 else None,
        "zip": zip_code if rng.random() < 0.95 else None,
        "city": city if rng.random() < 0.95 else None,
        "country": rng.choice(COUNTRY_SPELLINGS[company.country][0]) if rng.random() < 0.95 else None,
        "phone": _format_phone(company.phone, rng, company.country) if rng.random() < 0.85 else None,
    }
    if company.domain:
        if rng.random() < 0.85:
            record["email"] = f"{rng.choice(MAIL_LOCALS)}@{company.domain}"
        if rng.random() < 0.5:
            record["website"] = rng.choice(["www.", "https://www.", "http://", ""]) + company.domain
    elif company.free_mail and rng.random() < 0.9:
        record["email"] = company.free_mail
    if company.vat and rng.random() < 0.85:
        if company.country == "DK" or (company.country in ("SE", "NO", "FI") and rng.random() < 0.5):
            record["corporate_id"] = company.national_id
        else:
            record["vat_number"] = company.vat
            if company.national_id and rng.random() < 0.5:
                record["corporate_id"] = company.national_id
    if company.erp_id:
        record["external_number"] = company.erp_id
    return record


def _typo(text: str, rng: random.Random) -> str:
    positions = [i for i, ch in enumerate(text) if ch.isalpha() and i > 0]
    if len(positions) < 3:
        return text
    i = rng.choice(positions)
    kind = rng.random()
    if kind < 0.3 and i + 1 < len(text) and text[i + 1].isalpha():
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if kind < 0.55:
        return text[:i] + text[i + 1 :]
    if kind < 0.75:
        return text[:i] + text[i] + text[i:]
    near = KEYBOARD_NEIGHBOURS.get(text[i].lower())
    return text[:i] + rng.choice(near) + text[i + 1 :] if near else text[:i] + text[i + 1 :]


def _name_variant(company: Company, rng: random.Random) -> str:
    name = company.name
    roll = rng.random()
    if roll < 0.15:
        for src, options in NORDIC_ASCII.items():
            name = name.replace(src, rng.choice(options)).replace(
                src.upper(), rng.choice(options).capitalize()
            )
    if rng.random() < 0.1 and " & " in name:
        name = name.replace(" & ", rng.choice([" og ", " and ", "&", " + "]))
    typos = rng.choices([0, 1, 2], [0.62, 0.3, 0.08])[0]
    for _ in range(typos):
        name = _typo(name, rng)
    words = name.split()
    if rng.random() < 0.05 and len(words) > 1:
        words.pop()  # "Brøndum Byg Aarhus" -> "Brøndum Byg", "Brøndum Byg" -> "Brøndum"
    name = " ".join(words)
    legal = rng.choice(LEGAL_FORMS[company.country][company.legal])
    name = f"{name} {legal}".strip()
    case = rng.random()
    if case < 0.1:
        name = name.upper()
    elif case < 0.17:
        name = name.lower()
    return name


def crm_view(company: Company, rng: random.Random, *, customer_number: str | None = None) -> Fields:
    """The HubSpot company: typed by a salesperson, partial, in their own spelling."""
    zip_code, city, alias = company.city
    record: Fields = {"name": _name_variant(company, rng)}
    if customer_number:
        record["customer_number"] = customer_number
    if rng.random() < 0.6:
        record["address"] = _street(company, abbreviate=rng.random() < 0.5)
    if rng.random() < 0.75:
        record["zip"] = rng.choice(
            [zip_code, zip_code, f"{company.country}-{zip_code}", zip_code.replace(" ", "")]
        )
    if rng.random() < 0.8:
        shown = alias if alias and rng.random() < 0.3 else city
        record["city"] = shown.upper() if rng.random() < 0.1 else shown
    if rng.random() < 0.55:
        record["country"] = rng.choice(COUNTRY_SPELLINGS[company.country][1])
    if rng.random() < 0.55:
        own = rng.random() < 0.85
        record["phone"] = _format_phone(
            company.phone if own else _phone(company.country, rng), rng, company.country
        )
    if company.domain:
        if rng.random() < 0.5:
            local = rng.choice(FIRST_NAMES) if rng.random() < 0.6 else rng.choice(MAIL_LOCALS)
            record["email"] = f"{local}@{company.domain}"
        if rng.random() < 0.65:
            record["website"] = (
                rng.choice(["https://www.", "www.", "http://", "", "https://"])
                + company.domain
                + rng.choice(["", "/", "/kontakt"])
            )
    elif rng.random() < 0.5:
        # a contact person's own mailbox: same provider maybe, different address
        record["email"] = (
            company.free_mail
            if rng.random() < 0.3
            else f"{rng.choice(FIRST_NAMES)}{rng.randint(1, 99)}@{rng.choice(FREE_MAIL)}"
        )
    if company.vat and rng.random() < 0.35:
        value = rng.choice([company.vat, company.national_id or company.vat])
        if rng.random() < 0.5:
            value = " ".join(value[i : i + 2] for i in range(0, len(value), 2))
        if rng.random() < 0.03:
            value = _typo_digits(value, rng)
        record["vat_number" if value.replace(" ", "")[:2].isalpha() else "corporate_id"] = value
    if company.erp_id:
        record["external_number"] = company.erp_id
    return record


def _typo_digits(value: str, rng: random.Random) -> str:
    positions = [i for i, ch in enumerate(value) if ch.isdigit()]
    i = rng.choice(positions)
    return value[:i] + str((int(value[i]) + rng.randint(1, 9)) % 10) + value[i + 1 :]


# --------------------------------------------------------------------------------------------------
# Tenants: one pool and its labeled pairs
# --------------------------------------------------------------------------------------------------


@dataclass
class Pair:
    subject: Fields
    truth: str | None  # pool record id of the counterpart; None for negatives
    kind: str


def build_tenant(
    rng: random.Random, pairs: int, pool_size: int, uid_start: int
) -> tuple[list[tuple[str, Fields]], list[Pair]]:
    """An accounting pool and labeled CRM subjects against it."""
    uid = uid_start
    positives = round(pairs * POSITIVE_SHARE)
    pool_companies: list[tuple[Company, str]] = []  # (company, role)
    out: list[tuple[Company | None, str, Company]] = []  # (pool company or None, kind, subject company)

    def fresh(**kwargs: Any) -> Company:
        nonlocal uid
        uid += 1
        return new_company(uid, rng, **kwargs)

    for _ in range(positives):
        company = fresh()
        kind = "positive"
        roll = rng.random()
        if roll < 0.05:
            company.erp_id = f"ERP-{rng.randint(100000, 999999)}"
            kind = "erp"
        pool_companies.append((company, "counterpart"))
        subject_company = company
        if rng.random() < 0.04:
            subject_company = moved(company, rng)
            kind = "moved"
        elif rng.random() < 0.04:
            # the CRM knows the trade name, accounting the registered one ("Netto" vs "Salling Group")
            subject_company = replace(company, name=_brand(rng))
            kind = "trade-name"
        if rng.random() < 0.1:
            twin = fresh(country=company.country, name=company.name)
            pool_companies.append((twin, "twin"))
            kind += "+twin"
        if rng.random() < 0.03 and company.vat:
            branch = fresh(country=company.country, name=company.name)
            branch.vat, branch.national_id, branch.legal = company.vat, company.national_id, company.legal
            pool_companies.append((branch, "branch"))
            kind += "+shared-vat"
        out.append((company, kind, subject_company))
    for _ in range(pairs - positives):
        roll = rng.random()
        if roll < 0.5:
            twin = fresh()
            pool_companies.append((twin, "trap-twin"))
            out.append((None, "trap", fresh(country=twin.country, name=twin.name)))
        else:
            out.append((None, "negative", fresh()))
    while len(pool_companies) < pool_size:
        pool_companies.append((fresh(), "other"))

    # customer numbers are shuffled so record ids say nothing about roles or pair order
    numbers = rng.sample(range(1000, 1000 + 4 * pool_size), len(pool_companies))
    number_of: dict[int, str] = {}
    pool: list[tuple[str, Fields]] = []
    for (company, _role), number in zip(pool_companies, numbers, strict=True):
        number_of[company.uid] = str(number)
        pool.append((str(number), accounting_view(company, number, rng)))
    rng.shuffle(pool)

    labeled: list[Pair] = []
    for counterpart, kind, subject_company in out:
        if counterpart is not None:
            truth = number_of[counterpart.uid]
            carried = truth if rng.random() < 0.3 else None
            labeled.append(Pair(crm_view(subject_company, rng, customer_number=carried), truth, kind))
        else:
            stale = str(rng.randint(900000, 999999)) if rng.random() < 0.1 else None
            labeled.append(Pair(crm_view(subject_company, rng, customer_number=stale), None, kind))
    rng.shuffle(labeled)
    return pool, labeled


def generate(pairs: int, seed: int) -> list[tuple[list[tuple[str, Fields]], list[Pair]]]:
    """Tenants of ~500 pairs each against pools of ``POOL_SIZE`` (smaller runs get smaller pools)."""
    rng = random.Random(seed)
    _TAKEN_DOMAINS.clear()
    tenants = max(1, round(pairs / PAIRS_PER_TENANT))
    out = []
    done = 0
    for t in range(tenants):
        count = (pairs - done) if t == tenants - 1 else pairs // tenants
        pool_size = min(POOL_SIZE, max(4 * count, 600))
        out.append(build_tenant(rng, count, pool_size, uid_start=t * 1_000_000))
        done += count
    return out


# --------------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------------


def run(pairs: int = 2000, seed: int = DEFAULT_SEED, *, sweep: bool = False) -> dict[str, float]:
    """Generate, match with the default policy, and measure; ``sweep`` adds threshold diagnostics."""
    policy = MatchPolicy()
    tenants = generate(pairs, seed)
    auto_links = correct_links = positives = found = 0
    matched = 0.0
    rows: list[tuple[Pair, list[Candidate], str | None]] = []
    for pool, labeled in tenants:
        index = MatchIndex(pool)
        started = time.perf_counter()
        for pair in labeled:
            decision = decide(pair.subject, index, policy)
            if decision.auto_link is not None:
                auto_links += 1
                correct_links += decision.auto_link == pair.truth
            if pair.truth is not None:
                positives += 1
                top = {c.record_id for c in decision.candidates[:5]}
                found += decision.auto_link == pair.truth or pair.truth in top
            if sweep:
                rows.append(
                    (pair, find_candidates(pair.subject, index, limit=10, threshold=0.0), decision.auto_link)
                )
        matched += time.perf_counter() - started
    result = {
        "auto_link_precision": correct_links / auto_links if auto_links else 1.0,
        "candidate_recall_at_5": found / positives if positives else 1.0,
        "pairs": float(sum(len(labeled) for _, labeled in tenants)),
        "auto_links": float(auto_links),
        "ms_per_subject": 1000 * matched / max(1, sum(len(labeled) for _, labeled in tenants)),
    }
    if sweep:
        _sweep(rows)
    return result


def proven_different(candidate: Candidate) -> bool:
    """Evidence says another company: VAT veto, or another city and another domain or phone.

    A candidate sharing an identifier (VAT id: a branch of the same legal entity; domain, phone or
    free-mail address: the same company at a new address) is never "proven different".
    """
    reasons = set(candidate.reasons)
    if reasons & {"same vat", "same domain", "same phone", "same free-mail address"}:
        return False
    return candidate.veto or (
        "city differs" in reasons and bool(reasons & {"domain differs", "phone differs"})
    )


def _sweep(rows: list[tuple[Pair, list[Candidate], str | None]]) -> None:
    """Offer-threshold and scored-auto-link diagnostics on stderr."""
    log = sys.stderr
    positives = [r for r in rows if r[0].truth is not None]
    traps = [r for r in rows if r[0].kind == "trap"]
    negatives = [r for r in rows if r[0].truth is None]
    print("offer_threshold recall@5 traps_offered negatives_offered proven_different_offered", file=log)
    for step in range(5, 61):
        t = step / 100
        hit = sum(
            auto == pair.truth or pair.truth in {c.record_id for c in cands[:5] if c.score >= t}
            for pair, cands, auto in positives
        )
        trapped = sum(any(c.score >= t for c in cands) for _, cands, _ in traps)
        offered = sum(any(c.score >= t for c in cands) for _, cands, _ in negatives)
        different = sum(
            c.score >= t and c.record_id != pair.truth and proven_different(c)
            for pair, cands, _ in rows
            for c in cands[:5]
        )
        print(
            f"{t:.2f} {hit / len(positives):.4f} {trapped}/{len(traps)} {offered}/{len(negatives)} {different}",
            file=log,
        )
    print("auto_link_threshold links correct precision (scored, when not exact)", file=log)
    for t in (0.9, 0.95, 0.98, 0.99, 0.995, 0.999):
        links = correct = 0
        for pair, cands, auto in rows:
            if auto is not None:
                continue
            above = [c for c in cands if c.score >= t]
            if len(above) == 1 and not above[0].veto:
                links += 1
                correct += above[0].record_id == pair.truth
        print(f"{t} {links} {correct} {correct / links if links else 1.0:.4f}", file=log)
    misses = [
        (pair, cands[:3])
        for pair, cands, auto in positives
        if auto != pair.truth and pair.truth not in {c.record_id for c in cands[:5]}
    ]
    for pair, cands in misses[:15]:
        print(
            f"MISS {pair.kind} {pair.truth} {pair.subject} -> {[(c.record_id, c.score, c.reasons) for c in cands]}",
            file=log,
        )


def timing(pool_size: int = 10_000, subjects: int = 300, seed: int = DEFAULT_SEED) -> dict[str, float]:
    """Index build time and per-subject ``decide`` time against one pool of ``pool_size`` records."""
    rng = random.Random(seed)
    _TAKEN_DOMAINS.clear()
    pool, labeled = build_tenant(rng, subjects, pool_size, uid_start=0)
    started = time.perf_counter()
    index = MatchIndex(pool)
    built = time.perf_counter() - started
    started = time.perf_counter()
    for pair in labeled:
        decide(pair.subject, index)
    per = (time.perf_counter() - started) / len(labeled)
    return {"pool": float(len(index)), "index_seconds": built, "ms_per_subject": 1000 * per}


def main(argv: list[str]) -> None:
    pairs = int(argv[0]) if argv and argv[0].isdigit() else 2000
    seed = int(argv[argv.index("--seed") + 1]) if "--seed" in argv else DEFAULT_SEED
    started = time.perf_counter()
    result = run(pairs, seed, sweep="--sweep" in argv)
    print(
        f"auto_link_precision={result['auto_link_precision']:.4f} "
        f"candidate_recall_at_5={result['candidate_recall_at_5']:.4f} pairs={int(result['pairs'])}"
    )
    print(
        f"seconds={time.perf_counter() - started:.1f} auto_links={int(result['auto_links'])} "
        f"ms_per_subject={result['ms_per_subject']:.2f}",
        file=sys.stderr,
    )
    if "--timing" in argv:
        print(" ".join(f"{k}={v:.3f}" for k, v in timing().items()), file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])

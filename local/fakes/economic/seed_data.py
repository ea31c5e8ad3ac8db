"""Realistic, deterministic seed data: Danish/European companies with contact persons."""

from __future__ import annotations

import random
import re
import unicodedata
from typing import Any

# fmt: off
_LEGAL_FORMS = {
    "DK": ["A/S", "ApS", "ApS", "ApS", "I/S", "K/S"],
    "SE": ["AB", "AB", "HB"],
    "NO": ["AS", "AS", "ASA"],
    "DE": ["GmbH", "GmbH", "AG", "KG", "GmbH & Co. KG"],
    "NL": ["B.V.", "B.V.", "N.V."],
    "GB": ["Ltd", "Ltd", "PLC", "LLP"],
    "FI": ["Oy", "Oy", "Oyj"],
}
_STEMS = {
    "DK": [
        "Nordvest", "Jensen", "Hansen & Søn", "Østjysk", "Vestergaard", "Skovbo", "Fjordhøj", "Lyngby",
        "Kastrup", "Møllerup", "Birkholm", "Dalgas", "Frederiksen", "Thy", "Sønderborg", "Aarhus",
        "Nørrebro", "Brøndum", "Kildegaard", "Rask", "Mortensen", "Holm", "Strandvejens", "Bakkegård",
    ],
    "SE": ["Lindqvist", "Nordström", "Göta", "Skåne", "Bergström", "Ekholm", "Vänern", "Malmö"],
    "NO": ["Fjell", "Nordlys", "Bergen", "Haugland", "Vestland", "Solberg", "Trøndelag"],
    "DE": ["Müller", "Schneider", "Nordsee", "Weber", "Hanse", "Becker", "Rhein", "Schwarzwald"],
    "NL": ["Van Dijk", "De Vries", "Jansen", "Bakker", "Oranje", "Van der Berg", "Zuidas"],
    "GB": ["Thornbury", "Ashworth", "Kingsley", "Pennine", "Harrow", "Whitfield", "Calder"],
    "FI": ["Virtanen", "Korhonen", "Saimaa", "Pohjola", "Lahti", "Mäkinen"],
}
_TRADES = {
    "DK": [
        "Maskinfabrik", "Tømrer", "VVS", "El-service", "Logistik", "Rådgivning", "Byggeri", "Foods",
        "Trading", "Revision", "IT", "Transport", "Auto", "Design", "Emballage", "Smedie", "Ejendomme",
        "Engros", "Installation", "Tandklinik", "Consult", "Blomster", "Købmand", "Maling",
    ],
    "SE": ["Bygg", "Konsult", "Logistik", "Trä", "Mekaniska Verkstad", "Handel", "Data"],
    "NO": ["Transport", "Bygg", "Fisk", "Handel", "Elektro", "Eiendom"],
    "DE": ["Logistik", "Maschinenbau", "Handel", "Elektrotechnik", "Verpackung", "Bau", "Software"],
    "NL": ["Installatietechniek", "Logistiek", "Handel", "Bouw", "Techniek", "Transport"],
    "GB": ["Engineering", "Logistics", "Trading", "Consulting", "Supplies", "Software"],
    "FI": ["Rakennus", "Kuljetus", "Kauppa", "Tekniikka", "Puu"],
}
_CITIES = {
    "DK": [
        ("1050", "København K"), ("2100", "København Ø"), ("2300", "København S"), ("8000", "Aarhus C"),
        ("5000", "Odense C"), ("9000", "Aalborg"), ("6700", "Esbjerg"), ("7100", "Vejle"),
        ("8700", "Horsens"), ("4000", "Roskilde"), ("2800", "Kongens Lyngby"), ("6000", "Kolding"),
        ("8600", "Silkeborg"), ("7400", "Herning"), ("3000", "Helsingør"), ("4700", "Næstved"),
        ("8900", "Randers"), ("6400", "Sønderborg"),
    ],
    "SE": [("111 22", "Stockholm"), ("411 05", "Göteborg"), ("211 20", "Malmö"), ("753 20", "Uppsala")],
    "NO": [("0150", "Oslo"), ("5003", "Bergen"), ("7011", "Trondheim"), ("4006", "Stavanger")],
    "DE": [("20095", "Hamburg"), ("10115", "Berlin"), ("24103", "Kiel"), ("80331", "München"),
           ("50667", "Köln")],
    "NL": [("1012 AB", "Amsterdam"), ("3011 AD", "Rotterdam"), ("3511 AA", "Utrecht")],
    "GB": [("EC1A 1BB", "London"), ("M1 1AE", "Manchester"), ("LS1 4AP", "Leeds"), ("B1 1AA", "Birmingham")],
    "FI": [("00100", "Helsinki"), ("33100", "Tampere"), ("20100", "Turku")],
}
_STREETS = {
    "DK": [
        "Vestergade", "Nørregade", "Østergade", "Søndergade", "Industrivej", "Hovedgaden", "Strandvejen",
        "Håndværkervej", "Banegårdspladsen", "Kongensgade", "Møllevej", "Skovvej", "Havnegade", "Erhvervsvej",
    ],
    "SE": ["Storgatan", "Drottninggatan", "Kungsgatan", "Industrivägen"],
    "NO": ["Storgata", "Kirkegata", "Havnegata", "Industriveien"],
    "DE": ["Hauptstraße", "Bahnhofstraße", "Industriestraße", "Hafenstraße", "Lindenallee"],
    "NL": ["Keizersgracht", "Stationsweg", "Industrieweg", "Havenstraat"],
    "GB": ["High Street", "Station Road", "Church Lane", "Mill Road"],
    "FI": ["Mannerheimintie", "Teollisuuskatu", "Satamakatu"],
}
_COUNTRY_NAMES = {
    "DK": "Danmark", "SE": "Sverige", "NO": "Norge", "DE": "Tyskland",
    "NL": "Holland", "GB": "Storbritannien", "FI": "Finland",
}
_PHONE_PREFIX = {"DK": "+45", "SE": "+46", "NO": "+47", "DE": "+49", "NL": "+31", "GB": "+44", "FI": "+358"}
_TLD = {"DK": "dk", "SE": "se", "NO": "no", "DE": "de", "NL": "nl", "GB": "co.uk", "FI": "fi"}
_CURRENCY = {"DK": "DKK", "SE": "SEK", "NO": "NOK", "GB": "GBP"}
_EU = {"SE", "DE", "NL", "FI"}
_FIRST_NAMES = {
    "DK": ["Mette", "Lars", "Anne", "Søren", "Camilla", "Jesper", "Louise", "Mads", "Pia", "Rasmus", "Sofie",
           "Jørgen"],
    "SE": ["Anna", "Erik", "Karin", "Lars", "Maria", "Johan"],
    "NO": ["Ingrid", "Ole", "Kari", "Bjørn", "Silje"],
    "DE": ["Julia", "Thomas", "Sabine", "Stefan", "Katrin", "Jürgen"],
    "NL": ["Sanne", "Jeroen", "Femke", "Daan"],
    "GB": ["Emma", "James", "Olivia", "Oliver", "Charlotte"],
    "FI": ["Aino", "Mikko", "Laura", "Jukka"],
}
_LAST_NAMES = {
    "DK": ["Nielsen", "Jensen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen",
           "Rasmussen", "Jørgensen", "Madsen", "Kristensen", "Østergaard", "Møller"],
    "SE": ["Johansson", "Andersson", "Karlsson", "Nilsson", "Eriksson"],
    "NO": ["Hansen", "Johansen", "Olsen", "Larsen", "Berg"],
    "DE": ["Müller", "Schmidt", "Fischer", "Wagner", "Hoffmann"],
    "NL": ["de Jong", "Jansen", "Visser", "Smit"],
    "GB": ["Smith", "Jones", "Taylor", "Brown", "Wilson"],
    "FI": ["Virtanen", "Korhonen", "Nieminen", "Mäkelä"],
}
_CONTACT_NOTES = [
    None, None, None, "Bogholderi", "Indkøbschef", "Direktør", "Faktura sendes hertil", "Økonomiansvarlig",
    "Kontaktes vedr. levering", "Foretrækker mail",
]
_COUNTRY_WEIGHTS = [("DK", 70), ("SE", 8), ("DE", 8), ("NO", 5), ("NL", 4), ("GB", 3), ("FI", 2)]
# fmt: on


def _ascii_slug(text: str) -> str:
    for src, dst in (
        ("æ", "ae"),
        ("ø", "oe"),
        ("å", "aa"),
        ("ä", "ae"),
        ("ö", "oe"),
        ("ü", "ue"),
        ("ß", "ss"),
    ):
        text = text.replace(src, dst).replace(src.upper(), dst.capitalize())
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def _cvr(rng: random.Random) -> str:
    """An 8-digit Danish CVR number that passes the modulus-11 check."""
    weights = (2, 7, 6, 5, 4, 3, 2, 1)
    while True:
        digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(6)]
        partial = sum(d * w for d, w in zip(digits, weights, strict=False))
        last = (-partial) % 11
        if last < 10:
            return "".join(map(str, [*digits, last]))


def _corporate_ids(country: str, rng: random.Random) -> tuple[str, str | None]:
    """(corporate identification number, VAT number or None) in each country's usual shape."""
    digits = "".join(str(rng.randint(0, 9)) for _ in range(10))
    if country == "DK":
        return _cvr(rng), None
    if country == "SE":
        org = f"556{digits[:3]}-{digits[3:7]}"
        return org, f"SE556{digits[:7]}01"
    if country == "NO":
        return f"9{digits[:8]}", None
    if country == "DE":
        return f"HRB {digits[:5]}", f"DE{digits[:9]}"
    if country == "NL":
        return digits[:8], f"NL{digits[:9]}B01"
    if country == "GB":
        return f"0{digits[:7]}", None
    return f"{digits[:7]}-{rng.randint(0, 9)}", f"FI{digits[:8]}"


def _phone(country: str, rng: random.Random) -> str:
    groups = " ".join(f"{rng.randint(10, 99)}" for _ in range(4))
    return f"{_PHONE_PREFIX[country]} {groups}"


def generate_customers(
    n: int, contacts_per_customer: int = 2, seed: int = 0, *, start_number: int = 1
) -> list[dict[str, Any]]:
    """Deterministic, realistic Danish/European companies as legacy POST /customers bodies.

    Each dict is a valid ``customers.post`` body plus ``customerNumber`` and ``contacts`` (a list of
    Customers-API contact bodies without ``customerNumber``: name, email, phone, optional notes).
    Domestic (DK) customers use customer group 1 / VAT zone 1; EU ones group 2 / zone 2; others zone 3.
    """
    rng = random.Random(seed)
    countries = [c for c, _ in _COUNTRY_WEIGHTS]
    weights = [w for _, w in _COUNTRY_WEIGHTS]
    used_names: set[str] = set()
    used_emails: set[str] = set()
    out: list[dict[str, Any]] = []
    for i in range(n):
        country = rng.choices(countries, weights)[0]
        stem, trade = rng.choice(_STEMS[country]), rng.choice(_TRADES[country])
        legal = rng.choice(_LEGAL_FORMS[country])
        zip_code, city = rng.choice(_CITIES[country])
        name = f"{stem} {trade} {legal}"
        if name in used_names:
            name = f"{stem} {trade} {city} {legal}"
        if name in used_names:
            name = f"{stem} {trade} {legal} ({i + start_number})"
        used_names.add(name)
        slug = _ascii_slug(f"{stem}{trade}")[:40]
        domain = f"{slug}.{_TLD[country]}"
        corporate_id, vat_number = _corporate_ids(country, rng)
        domestic = country == "DK"
        body: dict[str, Any] = {
            "customerNumber": start_number + i,
            "name": name,
            "currency": _CURRENCY.get(country, "EUR"),
            "customerGroup": {"customerGroupNumber": 1 if domestic else 2},
            "paymentTerms": {"paymentTermsNumber": rng.choices([1, 2, 3, 4, 5], [10, 30, 5, 20, 35])[0]},
            "vatZone": {"vatZoneNumber": 1 if domestic else (2 if country in _EU else 3)},
            "address": f"{rng.choice(_STREETS[country])} {rng.randint(1, 180)}",
            "zip": zip_code,
            "city": city,
            "country": _COUNTRY_NAMES[country],
            "corporateIdentificationNumber": corporate_id,
            "email": rng.choice(["info", "faktura", "kontakt", "regnskab", "post"]) + f"@{domain}",
            "telephoneAndFaxNumber": _phone(country, rng),
            "website": f"www.{domain}",
        }
        if vat_number:
            body["vatNumber"] = vat_number
        if rng.random() < 0.3:
            body["mobilePhone"] = _phone(country, rng)
        if domestic and rng.random() < 0.05:
            body["ean"] = "5798" + "".join(str(rng.randint(0, 9)) for _ in range(9))
        if rng.random() < 0.2:
            body["creditLimit"] = float(rng.choice([10_000, 25_000, 50_000, 100_000]))
        if rng.random() < 0.04:
            body["barred"] = True
        contacts = []
        for _ in range(contacts_per_customer):
            first = rng.choice(_FIRST_NAMES[country])
            last = rng.choice(_LAST_NAMES[country])
            email = f"{_ascii_slug(first)}.{_ascii_slug(last)}@{domain}"
            suffix = 2
            while email in used_emails:  # CRMs treat a contact e-mail as unique; keep generated ones so
                email = f"{_ascii_slug(first)}.{_ascii_slug(last)}{suffix}@{domain}"
                suffix += 1
            used_emails.add(email)
            contact: dict[str, Any] = {
                "name": f"{first} {last}",
                "email": email,
                "phone": _phone(country, rng),
            }
            note = rng.choice(_CONTACT_NOTES)
            if note:
                contact["notes"] = note
            contacts.append(contact)
        body["contacts"] = contacts
        out.append(body)
    return out

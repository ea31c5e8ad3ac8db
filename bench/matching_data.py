"""The labeled generator of the matching benchmark: companies, their two views, tenants of pairs.

See ``bench.matching`` for what is generated and how it is measured."""

from __future__ import annotations

import random
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

from bench.matching_hard import hard_negative
from bench.matching_tables import (
    BRAND_SYLLABLES,
    CITIES,
    COUNTRY_SPELLINGS,
    COUNTRY_WEIGHTS,
    FIRST_NAMES,
    FREE_MAIL,
    KEYBOARD_NEIGHBOURS,
    LEGAL_FORMS,
    MAIL_LOCALS,
    NORDIC_ASCII,
    PAIRS_PER_TENANT,
    PHONE_TEMPLATES,
    POOL_SIZE,
    POSITIVE_SHARE,
    STEMS,
    STREET_STEMS,
    STREET_SUFFIXES,
    TLD,
    TRADES,
)
from crmsync.matching import fold
from crmsync.models import Fields

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
    spellings = LEGAL_FORMS[company.country][company.legal]
    if company.extra.get("keep_legal"):
        spellings = [spelled for spelled in spellings if spelled]
    legal = rng.choice(spellings)
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
    if company.extra.get("shared_domain") and "email" not in record and "website" not in record:
        record["email"] = f"{rng.choice(FIRST_NAMES)}@{company.domain}"
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
        if roll < 0.3:
            twin = fresh()
            pool_companies.append((twin, "trap-twin"))
            out.append((None, "trap", fresh(country=twin.country, name=twin.name)))
        elif roll < 0.7:
            lookalike, kind, subject_company = hard_negative(fresh, rng)
            pool_companies.append((lookalike, "lookalike"))
            out.append((None, kind, subject_company))
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

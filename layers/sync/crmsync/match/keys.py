"""Identity keys: everything matching reads from one record, normalised once.

Computing the keys once per record (not per comparison) is what keeps a search over thousands of
records fast, and gives scoring and the index one shared view of a record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from crmsync.match.countries import _domain_country, country_code
from crmsync.match.domains import _mailbox, email_domain, website_domain
from crmsync.match.names import legal_form, normalize_name
from crmsync.match.phones import _phone_country, normalize_phone
from crmsync.match.places import normalize_address, normalize_city, normalize_zip
from crmsync.match.vat import normalize_vat
from crmsync.models import FieldValue


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
    legal: str | None = None
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
            legal=legal_form(_text(fields.get("name"))),
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

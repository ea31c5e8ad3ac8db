"""The field rule table, the one cleaning rule, its use by both connectors, and the preflight's lengths."""

from __future__ import annotations

import random
from collections.abc import Iterator

import httpx
import pytest

from crmsync import preflight, text_rules
from crmsync.connectors.economic import EconomicConnector, EconomicDefaults
from crmsync.connectors.http import RetryPolicy
from crmsync.connectors.hubspot import HubSpotConnector
from crmsync.models import (
    CONTACT_FIELDS,
    CUSTOMER_FIELDS,
    ContactFields,
    CustomerFields,
    ObjectType,
)
from crmsync.text_rules import FIELD_SPECS, Kind, clean, clean_text, problems, spec
from local.fakes.economic import CUSTOMERS_API_PREFIX, EconomicFake

CUSTOMER, CONTACT = ObjectType.CUSTOMER, ObjectType.CONTACT
NASTY = (
    "\x00\x07\x1b\x7f\x85\x9f\u200b\u200c\u200d\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
)


# -- the table ------------------------------------------------------------------------------------


def test_one_rule_per_canonical_field_and_kinds_follow_the_models():
    assert set(FIELD_SPECS[CUSTOMER]) == set(CUSTOMER_FIELDS)
    assert set(FIELD_SPECS[CONTACT]) == set(CONTACT_FIELDS)
    for object_type, model in ((CUSTOMER, CustomerFields), (CONTACT, ContactFields)):
        for name, info in model.model_fields.items():
            boolean = info.annotation == (bool | None)
            assert (spec(object_type, name).kind is Kind.BOOL) == boolean, name


@pytest.mark.parametrize(
    ("object_type", "field", "max_length"),
    [
        (CUSTOMER, "name", 255),
        (CUSTOMER, "corporate_id", 40),
        (CUSTOMER, "vat_number", 20),  # legacy vatNumber 20 < Customers API vatNo 50
        (CUSTOMER, "email", 255),
        (CUSTOMER, "phone", 255),
        (CUSTOMER, "website", 255),
        (CUSTOMER, "address", 255),  # Customers API address1 255 < legacy address 510
        (CUSTOMER, "zip", 30),
        (CUSTOMER, "city", 50),
        (CUSTOMER, "country", 50),
        (CUSTOMER, "external_number", 50),
        (CUSTOMER, "lifecycle_stage", 65_536),  # HubSpot only
        (CONTACT, "name", 255),
        (CONTACT, "email", 255),
        (CONTACT, "phone", 50),
        (CONTACT, "notes", 2000),
        (CONTACT, "title", 65_536),  # HubSpot only
    ],
)
def test_maxima_are_the_vendors(object_type: ObjectType, field: str, max_length: int):
    assert spec(object_type, field).max_length == max_length
    assert problems(object_type, field, "x" * max_length) == []
    assert problems(object_type, field, "x" * (max_length + 1)) == [
        f"{field} is longer than {max_length} characters ({spec(object_type, field).source})"
    ]


def test_lengths_count_utf16_units_like_the_vendors():
    assert text_rules.length("😀") == 2
    assert problems(CUSTOMER, "city", "😀" * 25) == []
    assert problems(CUSTOMER, "city", "😀" * 25 + "x") != []


@pytest.mark.parametrize(
    ("object_type", "field"),
    [
        (CUSTOMER, "name"),
        (CUSTOMER, "customer_number"),
        (CUSTOMER, "currency"),
        (CUSTOMER, "customer_group"),
        (CUSTOMER, "payment_terms"),
        (CUSTOMER, "vat_zone"),
        (CUSTOMER, "barred"),
        (CONTACT, "name"),
        (CONTACT, "customer"),
    ],
)
def test_required_fields_are_never_empty(object_type: ObjectType, field: str):
    for empty in (None, "", "  "):
        assert problems(object_type, field, empty) == [f"{field} cannot be empty"]


def test_optional_fields_may_be_cleared():
    for field in ("city", "vat_number", "account_manager", "lifecycle_stage", "external_number"):
        assert problems(CUSTOMER, field, None) == []
        assert problems(CUSTOMER, field, "") == []


def test_kinds():
    assert problems(CUSTOMER, "name", False) == ["name must be a string (text)"]
    assert problems(CUSTOMER, "name", 7) == ["name must be a string (text)"]
    assert problems(CUSTOMER, "name", {"a": 1}) == ["name must be a string (text)"]
    assert problems(CUSTOMER, "barred", True) == []
    assert problems(CUSTOMER, "barred", "true") == ["barred must be a boolean (true or false)"]
    assert problems(CUSTOMER, "customer_group", "12") == []
    assert problems(CUSTOMER, "customer_group", "0") != []
    assert problems(CUSTOMER, "customer_group", "1000000000") != []
    assert problems(CUSTOMER, "customer_group", "١٢") != []  # Arabic-Indic digits are not a reference
    assert problems(CUSTOMER, "currency", "eur") == []
    assert problems(CUSTOMER, "currency", "EURO") != []
    assert problems(CONTACT, "customer", "cus_" + "a" * 32) == []
    assert problems(CONTACT, "customer", "con_" + "a" * 32) != []


@pytest.mark.parametrize("char", list(NASTY))
def test_control_bidi_and_zero_width_characters_are_refused(char: str):
    reasons = problems(CUSTOMER, "name", f"Acme{char}A/S")
    assert reasons == [
        f"name must not contain control, bidirectional or zero-width characters (U+{ord(char):04X})"
    ]
    assert problems(CONTACT, "notes", f"line{char}") != []


def test_tab_and_newline_only_where_the_field_allows_them():
    assert problems(CUSTOMER, "address", "Vej 1\nBygning 2\r\n\tbagvej") == []
    assert problems(CONTACT, "notes", "a\tb\nc") == []
    for field in ("name", "city", "email"):
        assert problems(CUSTOMER, field, "a\nb") != []
        assert problems(CUSTOMER, field, "a\tb") != []


# -- the cleaning rule ----------------------------------------------------------------------------


def test_cleaning_strips_the_characters_and_keeps_lines_only_where_allowed():
    assert clean_text(f"Ac{NASTY}me") == "Acme"
    assert clean(CUSTOMER, "name", f"  Acme{NASTY} A/S\u200b ") == "Acme A/S"
    assert clean(CUSTOMER, "name", "Acme\r\n\tA/S") == "Acme A/S"
    assert clean(CUSTOMER, "address", "Vej 1\r\nBygning 2\rBag\tvej") == "Vej 1\nBygning 2\nBag\tvej"
    assert clean(CONTACT, "notes", "a\x00\nb") == "a\nb"
    assert clean(CONTACT, "name", "Anna \t Maria  Berg") == "Anna Maria Berg"
    assert clean(CUSTOMER, "name", "Acme  A/S") == "Acme  A/S"  # only a contact's name is collapsed


def test_cleaning_folds_empty_to_none_and_keeps_other_kinds():
    assert clean(CUSTOMER, "city", "\u200b\ufeff ") is None
    assert clean(CUSTOMER, "city", "") is None
    assert clean(CUSTOMER, "barred", True) is True
    assert clean(CUSTOMER, "currency", " eur ") == "EUR"
    assert clean(CUSTOMER, "customer_group", 3) == "3"


def test_a_cleaned_value_passes_the_rule_and_cleaning_is_idempotent():
    for object_type, fields in ((CUSTOMER, CUSTOMER_FIELDS), (CONTACT, CONTACT_FIELDS)):
        for field in fields:
            if spec(object_type, field).kind is not Kind.TEXT:
                continue
            once = clean(object_type, field, f" a{NASTY}\r\n b\t ")
            assert clean(object_type, field, once) == once
            assert problems(object_type, field, once) == []


# -- connectors: what a vendor holds is cleaned on the way in --------------------------------------


def test_hubspot_values_with_nul_and_zero_width_characters_are_cleaned():
    hs = HubSpotConnector("hs-1", "token", client=httpx.Client())
    company = hs.to_source(
        CUSTOMER,
        {
            "id": "1",
            "properties": {"name": "Acme\x00 A/S\u200b", "city": "\ufeffAarhus", "address": "Vej 1\r\n2"},
        },
    )
    assert company.fields["name"] == "Acme A/S"
    assert company.fields["city"] == "Aarhus"
    assert company.fields["address"] == "Vej 1\n2"
    contact = hs.to_source(
        CONTACT,
        {
            "id": "2",
            "properties": {"firstname": "An\u200dna  Maria", "lastname": "Berg\x00", "jobtitle": "\u202eCEO"},
        },
    )
    assert contact.fields["name"] == "Anna Maria Berg"
    assert contact.fields["title"] == "CEO"


@pytest.fixture
def economic() -> Iterator[tuple[EconomicFake, EconomicConnector]]:
    fake = EconomicFake()
    base = "http://economic.test"
    connector = EconomicConnector(
        "eco-1",
        "test-app-secret",
        "test-grant-token",
        EconomicDefaults(customer_group=1, payment_terms=5, vat_zone=1, currency="DKK"),
        rest_base_url=base,
        customers_api_url=f"{base}{CUSTOMERS_API_PREFIX}",
        client=httpx.Client(transport=httpx.WSGITransport(app=fake.app), base_url=base),
        retry=RetryPolicy(sleep=lambda _: None, rng=random.Random(0)),
    )
    yield fake, connector
    fake.shutdown()


def test_economic_values_with_nul_and_zero_width_characters_are_cleaned(
    economic: tuple[EconomicFake, EconomicConnector],
):
    fake, connector = economic
    fake.seed(1, contacts_per_customer=0, seed=3)
    number = fake.customer_numbers()[0]
    fake.update_customer(number, name="Acme\x00 A/S\u200b", city="\u2066Aarhus\u2069", fire_webhook=False)
    customer = connector.get(CUSTOMER, str(number))
    assert customer is not None
    assert customer.fields["name"] == "Acme A/S"
    assert customer.fields["city"] == "Aarhus"
    contact_number = fake.add_contact(
        number, name="An\u200bna\x00 Berg", notes="a\x00\r\nb", fire_webhook=False
    )
    contact = connector.get(CONTACT, str(contact_number))
    assert contact is not None
    assert contact.fields["name"] == "Anna Berg"
    assert contact.fields["notes"] == "a\nb"


# -- preflight: too long for e-conomic is parked with its reason ----------------------------------


def test_preflight_parks_values_longer_than_economic_accepts():
    reasons = preflight.check_customer(
        {"name": "Acme", "city": "x" * 51, "vat_number": "DK" + "1" * 19},
        creating=False,
        record_fields={},
    )
    assert "city is 51 characters, longer than 50 (e-conomic city maxLength 50)" in reasons
    assert any(r.startswith("vat_number is 21 characters, longer than 20") for r in reasons)
    assert preflight.check_customer({"name": "x" * 255}, creating=True, record_fields={}) == []
    assert preflight.check_contact({"phone": "1" * 51}) == [
        "phone is 51 characters, longer than 50 (e-conomic contact phone maxLength 50)"
    ]

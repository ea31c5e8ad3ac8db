"""Resolution values through the API in-process: a value of the field's kind, or a 422 naming the field.

The rule table is ``crmsync.text_rules``; these are the API's answers to what people (and scripts) send.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from crmsync.models import Base, Conflict, ConflictStatus, ObjectType, Record
from local.lambda_runtime import http_event, invoke
from tests.integration.conftest import Env

TENANT = "vals"
CUSTOMER = "cus_" + "b" * 32
CONTACT = "con_" + "c" * 32


def call(method: str, path: str, token: str, body: Any = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    response = invoke(
        "api", http_event(method, path, headers=headers, body=json.dumps(body) if body is not None else None)
    )
    response["json"] = json.loads(response["body"]) if response.get("body") else None
    return response


def resolve(token: str, record_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    return call("POST", f"/tenants/{TENANT}/records/{record_id}/resolve", token, {"fields": fields})


@pytest.fixture
def token(env: Env) -> str:
    token = env.tenant(TENANT)
    customer = Record(
        tenant_id=TENANT,
        record_id=CUSTOMER,
        object_type=ObjectType.CUSTOMER,
        fields={"name": "Acme A/S", "city": "Aarhus", "barred": False, "currency": "DKK"},
        links={"eco": "7", "hs": "901"},
        bases={
            "eco": Base(fields={"name": "Acme A/S", "city": "Aarhus", "barred": False}),
            "hs": Base(fields={"name": None, "city": "Aarhus", "barred": False}),
        },
    )
    contact = Record(
        tenant_id=TENANT,
        record_id=CONTACT,
        object_type=ObjectType.CONTACT,
        fields={"name": "Anna Berg", "phone": "+45 1", "customer": CUSTOMER},
        links={"eco": "3"},
    )
    env.store.save_record(customer, new_links={"eco": "7", "hs": "901"})
    env.store.save_record(contact, new_links={"eco": "3"})
    return token


def record(env: Env, record_id: str = CUSTOMER) -> Record:
    found = env.store.get_record(TENANT, record_id)
    assert found is not None
    return found


def refused(response: dict[str, Any], *words: str) -> str:
    assert response["statusCode"] == 422, response["body"]
    message = response["json"]["message"]
    for word in words:
        assert word in message, message
    return str(message)


@pytest.mark.parametrize(
    ("field", "choice", "words"),
    [
        ("name", {"take": "value"}, ("name", "needs a `value`")),
        ("name", {"take": "value", "value": None}, ("name cannot be empty",)),
        ("name", {"take": "value", "value": ""}, ("name cannot be empty",)),
        ("name", {"take": "value", "value": "   "}, ("name cannot be empty",)),
        ("name", {"take": "value", "value": False}, ("name must be a string",)),
        ("name", {"take": "value", "value": 42}, ("value",)),
        ("name", {"take": "value", "value": {"a": 1}}, ("value",)),
        ("name", {"take": "value", "value": "x" * 256}, ("name is longer than 255",)),
        ("name", {"take": "value", "value": "Acme\u202eS/A"}, ("name must not contain", "U+202E")),
        ("name", {"take": "value", "value": "Acme\x00A/S"}, ("name must not contain", "U+0000")),
        ("city", {"take": "value", "value": "Aar\u200bhus"}, ("city must not contain", "U+200B")),
        ("city", {"take": "value", "value": "Aar\u2066hus"}, ("city must not contain", "U+2066")),
        ("city", {"take": "value", "value": "Aar\thus"}, ("city must not contain tab or line breaks",)),
        ("city", {"take": "value", "value": "x" * 51}, ("city is longer than 50",)),
        ("vat_number", {"take": "value", "value": "DK" + "1" * 19}, ("vat_number is longer than 20",)),
        ("barred", {"take": "value", "value": "true"}, ("barred must be a boolean",)),
        ("barred", {"take": "value", "value": None}, ("barred cannot be empty",)),
        ("currency", {"take": "value", "value": "kroner"}, ("currency must be a 3-letter",)),
        ("customer_group", {"take": "value", "value": "VIP"}, ("customer_group must be a reference number",)),
        ("email", {"take": "value", "value": "a@b.dk" + "x" * 250}, ("email is longer than 255",)),
    ],
)
def test_a_value_the_field_cannot_hold_is_a_422_naming_the_field_and_the_rule(
    env: Env, token: str, field: str, choice: dict[str, Any], words: tuple[str, ...]
) -> None:
    refused(resolve(token, CUSTOMER, {field: choice}), *words)
    assert record(env).version == 1  # nothing stored, nothing forced


def test_a_bidi_override_and_a_nul_in_a_resolve_value_are_422(env: Env, token: str) -> None:
    for value in ("Evil\u202etxt.exe", "Nul\x00byte"):
        response = resolve(token, CUSTOMER, {"city": {"take": "value", "value": value}})
        refused(response, "city", "control, bidirectional or zero-width")
    assert record(env).fields["city"] == "Aarhus"


def test_a_limit_of_the_records_own_type_is_a_422_too(env: Env, token: str) -> None:
    """A contact's phone holds 50 characters in e-conomic (a customer's 255): checked on the record."""
    long_phone = "+45 " + "1" * 47
    refused(
        resolve(token, CONTACT, {"phone": {"take": "value", "value": long_phone}}), "phone is longer than 50"
    )
    refused(resolve(token, CONTACT, {"name": {"take": "value", "value": None}}), "name cannot be empty")
    assert record(env, CONTACT).fields["phone"] == "+45 1"


def test_taking_a_sides_empty_required_value_is_a_422(env: Env, token: str) -> None:
    response = resolve(token, CUSTOMER, {"name": {"take": "crm"}})
    refused(response, "name", "the crm value cannot be taken", "cannot be empty")
    assert record(env).fields["name"] == "Acme A/S"


def test_accepted_values_are_stored_in_their_canonical_form(env: Env, token: str) -> None:
    response = resolve(
        token,
        CUSTOMER,
        {
            "name": {"take": "value", "value": "  Acme Nord A/S "},
            "address": {"take": "value", "value": "Vej 1\r\nBygning 2"},
            "city": {"take": "value", "value": None},
            "currency": {"take": "value", "value": "eur"},
            "barred": {"take": "value", "value": True},
        },
    )
    assert response["statusCode"] == 200, response["body"]
    fields = record(env).fields
    assert fields["name"] == "Acme Nord A/S"
    assert fields["address"] == "Vej 1\nBygning 2"
    assert fields["city"] is None
    assert fields["currency"] == "EUR"
    assert fields["barred"] is True
    contact = resolve(token, CONTACT, {"name": {"take": "value", "value": "Anna  Maria Berg"}})
    assert contact["statusCode"] == 200, contact["body"]
    assert record(env, CONTACT).fields["name"] == "Anna Maria Berg"  # HubSpot's first + last name


def test_restoring_a_losing_value_the_field_cannot_hold_is_a_422(env: Env, token: str) -> None:
    item = Conflict(
        tenant_id=TENANT,
        record_id=CUSTOMER,
        field="name",
        crm_value=None,
        accounting_value="Acme A/S",
        rule="latest",
        winner="accounting",
        losing_value=None,
        status=ConflictStatus.AUTO,
    )
    env.store.put_conflict(item)
    response = call("POST", f"/tenants/{TENANT}/conflicts/{item.conflict_id}/restore", token)
    refused(response, "name cannot be empty")
    assert record(env).fields["name"] == "Acme A/S"

"""PUT /config is checked against reality and against the field rules (issue 14, item 2).

A change that brings a connection into use (another environment, a new connection) needs that
connection's secret ``crmsync/<path tenant>/<connection>/<environment>`` (422 naming it otherwise);
unchanged connections are not re-read. Value maps and e-conomic accounting defaults hold values the
vendors can take (422 naming the field and the rule).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from crmsync import runtime
from crmsync.config import MIN_LOOKBACK_SECONDS
from local.vendors import ECONOMIC_APP_SECRET, ECONOMIC_GRANT, HUBSPOT_TOKEN
from tests.integration.conftest import Env
from tests.integration.test_api import call

ECO_SECRET = {"app_secret_token": ECONOMIC_APP_SECRET, "agreement_grant_token": ECONOMIC_GRANT}
HS_SECRET = {"access_token": HUBSPOT_TOKEN}


def put_secret(env: Env, name: str, value: dict[str, Any]) -> None:
    env.secrets.create_secret(Name=name, SecretString=json.dumps(value))


def config_of(env: Env, tenant: str, token: str) -> dict[str, Any]:
    got = call("GET", f"/tenants/{tenant}/config", token)
    assert got["statusCode"] == 200
    return got["json"]


def put(tenant: str, token: str, config: dict[str, Any]) -> dict[str, Any]:
    return call("PUT", f"/tenants/{tenant}/config", token, config)


def refused(response: dict[str, Any], *fragments: str) -> None:
    assert response["statusCode"] == 422, response["body"]
    for fragment in fragments:
        assert fragment in response["json"]["message"], response["json"]["message"]


@pytest.fixture
def reads(env: Env, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The secret names the API reads through the runtime's credential store."""
    names: list[str] = []
    connectors = runtime.context().connectors
    inner = connectors.credentials

    def counting(name: str) -> dict[str, Any]:
        names.append(name)
        return inner(name)

    monkeypatch.setattr(connectors, "credentials", counting)
    return names


# -- Task A: secrets ------------------------------------------------------------------------------


def test_switch_to_production_without_secrets_is_422_naming_the_secret(env: Env):
    token = env.tenant("acme")
    config = config_of(env, "acme", token)
    config["environment"] = "production"
    response = put("acme", token, config)
    refused(response, "connection 'hs' has no secret crmsync/acme/hs/production")
    assert "crmsync/acme/eco/production" in response["json"]["message"]
    assert config_of(env, "acme", token)["environment"] == "test"  # nothing stored


def test_switch_with_only_one_secret_names_the_missing_one(env: Env):
    token = env.tenant("acme")
    put_secret(env, "crmsync/acme/eco/production", ECO_SECRET)
    config = config_of(env, "acme", token)
    config["environment"] = "production"
    response = put("acme", token, config)
    refused(response, "crmsync/acme/hs/production")
    assert "crmsync/acme/eco/production" not in response["json"]["message"]


def test_adding_a_connection_without_a_secret_is_422(env: Env):
    token = env.tenant("acme")
    config = config_of(env, "acme", token)
    config["connections"].append({"connection_id": "eco2", "kind": "economic"})
    refused(put("acme", token, config), "connection 'eco2' has no secret crmsync/acme/eco2/test")


def test_a_secret_without_the_connector_keys_is_422(env: Env):
    token = env.tenant("acme")
    put_secret(env, "crmsync/acme/eco2/test", {"app_secret_token": "x"})
    config = config_of(env, "acme", token)
    config["connections"].append({"connection_id": "eco2", "kind": "economic"})
    refused(put("acme", token, config), "secret crmsync/acme/eco2/test lacks agreement_grant_token")


def test_with_the_secrets_present_the_change_is_200(env: Env):
    token = env.tenant("acme")
    put_secret(env, "crmsync/acme/eco/production", ECO_SECRET)
    put_secret(env, "crmsync/acme/hs/production", HS_SECRET)
    config = config_of(env, "acme", token)
    config["environment"] = "production"
    response = put("acme", token, config)
    assert response["statusCode"] == 200, response["body"]
    assert response["json"]["environment"] == "production"
    put_secret(env, "crmsync/acme/eco2/production", ECO_SECRET)
    config = response["json"]
    config["connections"].append({"connection_id": "eco2", "kind": "economic"})
    added = put("acme", token, config)
    assert added["statusCode"] == 200, added["body"]
    assert [c["connection_id"] for c in added["json"]["connections"]] == ["eco", "hs", "eco2"]


def test_other_tenants_secrets_never_satisfy_the_check(env: Env):
    token = env.tenant("acme")
    env.tenant("acme-2")
    for tenant in ("acme-2", "other"):  # production secrets of every connection, of other tenants
        put_secret(env, f"crmsync/{tenant}/eco/production", ECO_SECRET)
        put_secret(env, f"crmsync/{tenant}/hs/production", HS_SECRET)
    config = config_of(env, "acme", token)
    config["environment"] = "production"
    refused(put("acme", token, config), "crmsync/acme/hs/production", "crmsync/acme/eco/production")
    # A body naming another tenant is refused before any secret is read.
    config["tenant_id"] = "acme-2"
    assert put("acme", token, config)["statusCode"] == 409


def test_unchanged_connections_are_not_re_read(env: Env, reads: list[str]):
    token = env.tenant("acme")
    config = config_of(env, "acme", token)
    config["lookback_seconds"] = 900
    saved = put("acme", token, config)
    assert saved["statusCode"] == 200, saved["body"]
    assert reads == []  # same environment, same connections: no secret read
    put_secret(env, "crmsync/acme/eco2/test", ECO_SECRET)
    config = saved["json"]
    config["connections"].append({"connection_id": "eco2", "kind": "economic"})
    assert put("acme", token, config)["statusCode"] == 200
    assert reads == ["crmsync/acme/eco2/test"]  # only the added connection


# -- Task B: value maps and accounting defaults ----------------------------------------------------


@pytest.mark.parametrize(
    ("field", "pairs", "fragments"),
    [
        ("currency", {"eu\u200br": "EUR"}, ("value_maps.currency", "zero-width", "U+200B")),
        ("customer_group", {"gold\u202e": "3"}, ("value_maps.customer_group", "bidirectional", "U+202E")),
        ("customer_group", {"gold\x07": "3"}, ("control", "U+0007")),
        ("customer_group", {"gold\nsilver": "3"}, ("tab or line breaks", "U+000A")),
        ("customer_group", {"   ": "3"}, ("value_maps.customer_group: a CRM value cannot be empty",)),
        ("customer_group", {"x" * 65_537: "3"}, ("longer than 65536", "HubSpot property value limit")),
        ("customer_group", {"gold": "abc"}, ("customer_group must be a reference number",)),
        ("payment_terms", {"net30": "0"}, ("payment_terms must be a reference number",)),
        ("account_manager", {"owner-1": ""}, ("account_manager cannot be empty",)),
        ("account_manager", {"owner-1": "1\u200b"}, ("account_manager must not contain control",)),
        ("currency", {"euro": "EURO"}, ("value_maps.currency", "3-letter ISO 4217 currency code")),
        ("vat_zone", {"eu": "1", " eu ": "2"}, ("two CRM values are the same once cleaned",)),
    ],
)
def test_invalid_value_map_pairs_are_422_naming_field_and_rule(
    env: Env, field: str, pairs: dict[str, str], fragments: tuple[str, ...]
):
    token = env.tenant("acme")
    config = config_of(env, "acme", token)
    config["value_maps"] = {field: {"pairs": pairs}}
    response = put("acme", token, config)
    refused(response, *fragments)
    assert response["json"]["detail"][0]["loc"] == ["body", "value_maps"]


def test_valid_value_maps_are_stored_in_the_form_the_connectors_read(env: Env):
    token = env.tenant("acme")
    config = config_of(env, "acme", token)
    config["value_maps"] = {
        "currency": {"pairs": {" eur ": "eur", "Dollar": "USD"}},
        "account_manager": {"pairs": {"12345": "7"}},
        "customer_group": {"pairs": {"x" * 65_536: "999999999"}},
    }
    response = put("acme", token, config)
    assert response["statusCode"] == 200, response["body"]
    maps = config_of(env, "acme", token)["value_maps"]
    assert maps["currency"]["pairs"] == {"EUR": "EUR", "DOLLAR": "USD"}
    assert maps["account_manager"]["pairs"] == {"12345": "7"}
    assert maps["customer_group"]["pairs"] == {"x" * 65_536: "999999999"}


@pytest.mark.parametrize(
    ("defaults", "fragments"),
    [
        ({"currency": "DK1"}, ("accounting_defaults.currency", "3-letter ISO 4217 currency code")),
        ({"currency": "D\u200bK"}, ("accounting_defaults.currency", "zero-width")),
        ({"customer_group": 1_000_000_000}, ("accounting_defaults.customer_group", "reference number")),
        ({"vat_zone": 0}, ("vat_zone",)),
        ({"layout": 0}, ("layout",)),
    ],
)
def test_invalid_accounting_defaults_are_422_naming_field_and_rule(
    env: Env, defaults: dict[str, Any], fragments: tuple[str, ...]
):
    token = env.tenant("acme")
    config = config_of(env, "acme", token)
    config["connections"][0]["accounting_defaults"].update(defaults)
    refused(put("acme", token, config), *fragments)


def test_accounting_default_currency_is_stored_upper_case(env: Env):
    token = env.tenant("acme")
    config = config_of(env, "acme", token)
    config["connections"][0]["accounting_defaults"]["currency"] = "eur"
    assert put("acme", token, config)["statusCode"] == 200
    assert config_of(env, "acme", token)["connections"][0]["accounting_defaults"]["currency"] == "EUR"


def test_a_lookback_shorter_than_the_search_indexing_lag_is_422(env: Env):
    """The pull's overlap must cover HubSpot's search indexing lag, or late-indexed changes are missed."""
    token = env.tenant("acme")
    config = config_of(env, "acme", token)
    for too_short in (0, MIN_LOOKBACK_SECONDS - 1):
        config["lookback_seconds"] = too_short
        refused(put("acme", token, config), "lookback_seconds", str(MIN_LOOKBACK_SECONDS))
    assert config_of(env, "acme", token)["lookback_seconds"] == 600, "nothing stored"
    config["lookback_seconds"] = MIN_LOOKBACK_SECONDS
    assert put("acme", token, config)["statusCode"] == 200
    assert config_of(env, "acme", token)["lookback_seconds"] == MIN_LOOKBACK_SECONDS

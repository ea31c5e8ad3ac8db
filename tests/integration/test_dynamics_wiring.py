"""A ``dynamics`` connection in a tenant config becomes a Dataverse connector (against the in-process fake).

The org URL must be on the deployment's allow-list, the secret must hold the Entra ID keys, and the
access token is shared through the provider's token cache: two containers make one token call.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from crmsync.config import TenantConfig
from crmsync.connectors.base import WriteItem
from crmsync.connectors.dataverse import DataverseConnector
from crmsync.connectors.oauth import InMemoryTokenCache
from crmsync.connectors.registry import ConnectionUnavailable, ConnectorProvider
from crmsync.models import ConnectionKind, ObjectType, Side
from crmsync.settings import Settings
from local.fakes.dataverse import DataverseFake

pytestmark = pytest.mark.timeout(30)

ORG = "http://contoso.crm4.local"
APP_USER = "7c2c6f0e-5a4b-4c1e-9d5e-2f8e1a3b4c5d"
SECRET = {"tenant_id": "entra-tenant", "client_id": "app-id", "client_secret": "s3cret"}


@pytest.fixture
def fake() -> DataverseFake:
    return DataverseFake(
        org_url=ORG,
        client_id="app-id",
        client_secret="s3cret",
        tenant="entra-tenant",
        application_user_id=APP_USER,
    )


def config(org_url: str = ORG) -> TenantConfig:
    return TenantConfig.model_validate(
        {
            "tenant_id": "t1",
            "connections": [
                {"connection_id": "eco", "kind": "economic"},
                {"connection_id": "dyn", "kind": "dynamics", "dynamics": {"org_url": org_url}},
            ],
        }
    )


def provider(fake: DataverseFake, secret: dict[str, Any] | None = None, **settings: Any) -> ConnectorProvider:
    cfg = Settings(
        table_name="t",
        entra_login_url=ORG,  # the fake serves the token endpoint on its own host
        dataverse_allowed_hosts=("*.crm4.local:80",),
        allow_http_vendors=True,
        **settings,
    )
    client = httpx.Client(transport=httpx.WSGITransport(app=fake.app))
    return ConnectorProvider(cfg, lambda _name: dict(secret or SECRET), client)


def test_a_dynamics_connection_builds_a_dataverse_connector_that_reads_the_org(fake: DataverseFake):
    fake.seed("account", [{"name": "Fjordhuset A/S", "accountnumber": "1001"}])
    connector = provider(fake).get(config(), "dyn")
    assert isinstance(connector, DataverseConnector) and connector.side is Side.CRM
    (record,) = connector.list_all(ObjectType.CUSTOMER)
    assert record.fields["name"] == "Fjordhuset A/S" and record.fields["customer_number"] == "1001"
    assert ConnectionKind.DYNAMICS.side is Side.CRM


def test_an_org_url_off_the_allow_list_makes_the_connection_unavailable(fake: DataverseFake):
    with pytest.raises(ConnectionUnavailable, match="not an allowed Dataverse host"):
        provider(fake).get(config("http://contoso.evil.example"), "dyn")
    assert fake.token_count == 0, "no secret was sent anywhere"


def test_a_secret_without_the_entra_keys_makes_the_connection_unavailable(fake: DataverseFake):
    with pytest.raises(ConnectionUnavailable, match="lacks client_secret"):
        provider(fake, {"tenant_id": "entra-tenant", "client_id": "app-id"}).get(config(), "dyn")


def test_containers_sharing_a_token_cache_ask_entra_once(fake: DataverseFake):
    shared = InMemoryTokenCache()
    first, second = provider(fake), provider(fake)
    for each in (first, second):
        each.token_cache_factory = lambda _tenant: shared
    first.get(config(), "dyn").list_all(ObjectType.CUSTOMER)
    list(second.get(config(), "dyn").list_all(ObjectType.CUSTOMER))
    assert fake.token_count == 1


def test_the_config_requires_dynamics_settings_on_a_dynamics_connection_only():
    with pytest.raises(ValidationError, match="dynamics"):
        TenantConfig.model_validate(
            {"tenant_id": "t1", "connections": [{"connection_id": "dyn", "kind": "dynamics"}]}
        )
    with pytest.raises(ValidationError, match="dynamics"):
        TenantConfig.model_validate(
            {
                "tenant_id": "t1",
                "connections": [
                    {"connection_id": "hs", "kind": "hubspot", "dynamics": {"org_url": ORG}},
                ],
            }
        )


def test_the_deployment_settings_read_the_dataverse_allow_list_and_login_url():
    settings = Settings.from_env(
        {
            "TABLE_NAME": "t",
            "DATAVERSE_ALLOWED_HOSTS": " crm.example.local, *.corp.example ,",
            "ENTRA_LOGIN_URL": "https://login.microsoftonline.us",
        }
    )
    assert settings.dataverse_allowed_hosts == ("crm.example.local", "*.corp.example")
    assert settings.entra_login_url == "https://login.microsoftonline.us"
    assert settings.allow_http_vendors is False


def test_custom_account_columns_carry_the_accounting_fields_dataverse_has_no_column_for():
    """The operator added columns for e-conomic's customer group and payment terms: the connector reads
    and writes them as canonical fields (the default policy: accounting -> CRM)."""
    fake = DataverseFake(
        org_url=ORG,
        client_id="app-id",
        client_secret="s3cret",
        tenant="entra-tenant",
        application_user_id=APP_USER,
        custom_columns={"account": {"new_customergroup": 100, "new_paymentterms": 100}},
    )
    columns = {"customer_group": "new_customergroup", "payment_terms": "new_paymentterms"}
    cfg = config()
    cfg.connection("dyn").dynamics.columns = columns  # type: ignore[union-attr]
    connector = provider(fake).get(cfg, "dyn")
    assert {"customer_group", "payment_terms"} <= connector.supported_fields(ObjectType.CUSTOMER)
    (result,) = connector.write(
        ObjectType.CUSTOMER,
        [WriteItem(record_id="cus_" + "a" * 32, fields={"name": "Fjordhuset A/S", "customer_group": "2"})],
    )
    assert result.ok, result.error
    row = fake.row("account", str(result.external_id))
    assert row is not None and row["new_customergroup"] == "2"
    fake.person_edit("account", str(result.external_id), {"new_paymentterms": "14"})
    read = connector.get(ObjectType.CUSTOMER, str(result.external_id))
    assert read is not None and (read.fields["customer_group"], read.fields["payment_terms"]) == ("2", "14")


def test_custom_columns_take_only_fields_without_a_standard_column_and_custom_names():
    def with_columns(columns: dict[str, str]) -> None:
        TenantConfig.model_validate(
            {
                "tenant_id": "t1",
                "connections": [
                    {
                        "connection_id": "dyn",
                        "kind": "dynamics",
                        "dynamics": {"org_url": ORG, "columns": columns},
                    }
                ],
            }
        )

    with_columns({"customer_group": "new_customergroup", "barred": "cr1a2_barred"})
    with pytest.raises(ValidationError, match="standard account column"):
        with_columns({"name": "new_name"})
    with pytest.raises(ValidationError, match="custom column"):
        with_columns({"customer_group": "accountnumber"})
    with pytest.raises(ValidationError, match="one column per field"):
        with_columns({"customer_group": "new_x", "payment_terms": "new_x"})

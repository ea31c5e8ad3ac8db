"""Build (and cache) the connector for a tenant connection from its secret and the deployment endpoints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from crmsync.config import TenantConfig
from crmsync.connectors.base import Connector
from crmsync.models import ConnectionKind
from crmsync.settings import Settings

CredentialReader = Callable[[str], dict[str, Any]]


class ConnectorProvider:
    """One connector per (tenant, connection, environment), sharing one pooled httpx client."""

    def __init__(self, settings: Settings, credentials: CredentialReader, client: httpx.Client | None = None):
        self.settings = settings
        self.credentials = credentials
        self.client = client or httpx.Client(timeout=settings.http_timeout)
        self._cache: dict[tuple[str, str, str], Connector] = {}
        self.gate_factory: Callable[[TenantConfig, str], Callable[[], None]] | None = None
        """Builds the shared rate budget of a tenant connection (set by the composition root)."""

    def secret(self, config: TenantConfig, connection_id: str) -> dict[str, Any]:
        return self.credentials(config.secret_name(self.settings.secret_prefix, connection_id))

    def get(self, config: TenantConfig, connection_id: str) -> Connector:
        key = (config.tenant_id, connection_id, config.environment.value)
        if key not in self._cache:
            connector = self._build(config, connection_id)
            if self.gate_factory is not None:
                connector.http.gate = self.gate_factory(config, connection_id)
            connector.ensure_setup()  # once per container: e.g. HubSpot custom properties exist
            self._cache[key] = connector
        return self._cache[key]

    def _build(self, config: TenantConfig, connection_id: str) -> Connector:
        conn = config.connection(connection_id)
        secret = self.secret(config, connection_id)
        if conn.kind is ConnectionKind.ECONOMIC:
            from crmsync.connectors.economic import EconomicConnector, EconomicDefaults

            defaults = conn.accounting_defaults
            assert defaults is not None  # filled in by TenantConfig validation
            return EconomicConnector(
                connection_id,
                secret["app_secret_token"],
                secret["agreement_grant_token"],
                EconomicDefaults(**defaults.model_dump()),
                rest_base_url=self.settings.economic_rest_url,
                customers_api_url=self.settings.economic_customers_api_url,
                client=self.client,
            )
        from crmsync.connectors.hubspot import HubSpotConnector

        return HubSpotConnector(
            connection_id,
            secret["access_token"],
            base_url=self.settings.hubspot_api_url,
            client=self.client,
        )

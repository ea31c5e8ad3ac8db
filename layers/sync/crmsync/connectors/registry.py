"""Build (and cache) the connector for a tenant connection from its secret and the deployment endpoints."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import httpx

from crmsync.config import ConnectionConfig, TenantConfig
from crmsync.connectors.base import Connector
from crmsync.connectors.oauth import TokenCache
from crmsync.models import ConnectionKind, required_secret_keys
from crmsync.settings import Settings

CredentialReader = Callable[[str], dict[str, Any]]


class ConnectionUnavailable(Exception):
    """A tenant connection cannot be built: its secret is missing or unreadable, or lacks a key.

    The failure belongs to that tenant connection alone (``crmsync.service`` contains it there); the
    message names the connection and the kind of failure, never a secret's value.
    """

    def __init__(self, tenant_id: str, connection_id: str, reason: str) -> None:
        super().__init__(f"connection {connection_id} of tenant {tenant_id}: {reason}")
        self.tenant_id = tenant_id
        self.connection_id = connection_id
        self.reason = reason


def _fingerprint(*parts: str) -> str:
    """A short, irreversible name for who a shared token belongs to (it names no secret)."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


class ConnectorProvider:
    """One connector per (tenant, connection, environment), sharing one pooled httpx client."""

    def __init__(self, settings: Settings, credentials: CredentialReader, client: httpx.Client | None = None):
        self.settings = settings
        self.credentials = credentials
        self.client = client or httpx.Client(timeout=settings.http_timeout)
        self._cache: dict[tuple[str, str, str], Connector] = {}
        self._built_from: dict[tuple[str, str, str], dict[str, Any]] = {}
        """The secret each cached connector was built from: a rotated secret rebuilds it."""
        self._tried: dict[tuple[str, str, str], dict[str, Any] | None] = {}
        """The secret last read for each connection (``None``: unreadable)."""
        self._failed_with: dict[tuple[str, str, str], dict[str, Any] | None] = {}
        """The secret a connection failed with (``None``: unreadable), to notice when it is changed."""
        self.gate_factory: Callable[[TenantConfig, str], Callable[[], None]] | None = None
        """Builds the shared rate budget of a tenant connection (set by the composition root)."""
        self.token_cache_factory: Callable[[str], TokenCache] | None = None
        """A tenant's shared OAuth token cache (set by the composition root; else one per instance)."""
        self._gated_with: dict[tuple[str, str, str], object] = {}
        """The limits each cached connector's budget was built with: a config change rebuilds it."""

    def secret(self, config: TenantConfig, connection_id: str) -> dict[str, Any]:
        """The connection's secret; ``ConnectionUnavailable`` when it cannot be read (missing, not JSON)."""
        try:
            return self.credentials(config.secret_name(self.settings.secret_prefix, connection_id))
        except Exception as exc:  # GetParameterError, TransformParameterError, ValueError: no value in it
            raise ConnectionUnavailable(
                config.tenant_id,
                connection_id,
                f"its {config.environment.value} credentials could not be read ({type(exc).__name__})",
            ) from exc

    def get(self, config: TenantConfig, connection_id: str) -> Connector:
        key = (config.tenant_id, connection_id, config.environment.value)
        config.connection(connection_id)  # UnknownConnection for one the config does not have
        try:
            secret = self.secret(config, connection_id)  # cached by the credential reader (max age)
        except ConnectionUnavailable:
            self._tried[key] = None
            raise
        self._tried[key] = secret
        if key not in self._cache or self._built_from.get(key) != secret:
            self._cache.pop(key, None)
            connector = self._build(config, connection_id, secret)
            if self.gate_factory is not None:
                connector.http.gate = self.gate_factory(config, connection_id)
            connector.ensure_setup()  # once per container: e.g. HubSpot custom properties exist
            self._cache[key] = connector
            self._built_from[key] = secret
            self._gated_with[key] = config.connection(connection_id).limits()
        elif self.gate_factory is not None and self._gated_with.get(key) != (
            limits := config.connection(connection_id).limits()
        ):
            # The tenant changed the connection's rate budget (another tier): it counts from now on.
            self._cache[key].http.gate = self.gate_factory(config, connection_id)
            self._gated_with[key] = limits
        return self._cache[key]

    def forget(self, config: TenantConfig, connection_id: str) -> None:
        """Drop a connection's connector (its credentials failed): the next use builds it again."""
        key = (config.tenant_id, connection_id, config.environment.value)
        self._cache.pop(key, None)
        self._built_from.pop(key, None)
        self._failed_with[key] = self._tried.get(key)

    def credentials_changed(self, config: TenantConfig, connection_id: str) -> bool:
        """Has the secret changed since this container saw the connection fail? (No vendor call; the
        secret is read through the credential cache.) ``False`` when it never failed here."""
        key = (config.tenant_id, connection_id, config.environment.value)
        if key not in self._failed_with:
            return False
        try:
            secret = self.secret(config, connection_id)
        except ConnectionUnavailable:
            return False
        if secret == self._failed_with[key]:
            return False
        del self._failed_with[key]
        return True

    def _build(self, config: TenantConfig, connection_id: str, secret: dict[str, Any]) -> Connector:
        conn = config.connection(connection_id)
        missing = [k for k in required_secret_keys(conn.kind, secret) if not secret.get(k)]
        if missing:
            raise ConnectionUnavailable(
                config.tenant_id, connection_id, f"its secret lacks {', '.join(sorted(missing))}"
            )
        if conn.kind is ConnectionKind.ECONOMIC:
            return self._economic(conn, secret)
        if conn.kind is ConnectionKind.DYNAMICS:
            return self._dynamics(config, conn, secret)
        return self._hubspot(config, conn, secret)

    def _hubspot(self, config: TenantConfig, conn: ConnectionConfig, secret: dict[str, Any]) -> Connector:
        """A private app's ``access_token``, or a public app's refresh token behind ``RefreshTokenAuth``.

        The public app's access token is shared like Dataverse's (``token_cache_factory``), keyed by
        connection, environment and a fingerprint of client id and refresh token: a secret switched to
        another portal never picks up the previous portal's still-valid token from the cache. A refresh
        token HubSpot answers in place of the stored one stays in memory (``crmsync.connectors.hubspot``).
        """
        from crmsync.connectors.hubspot import HubSpotConnector  # each vendor's modules load on first use

        base_url = self.settings.hubspot_api_url.rstrip("/")
        if not secret.get("refresh_token"):
            return HubSpotConnector(
                conn.connection_id, secret["access_token"], base_url=base_url, client=self.client
            )
        from crmsync.connectors.hubspot import refresh_token_rotated
        from crmsync.connectors.oauth import InMemoryTokenCache, RefreshTokenAuth

        fingerprint = _fingerprint(secret["client_id"], secret["refresh_token"])
        auth = RefreshTokenAuth(
            secret["client_id"],
            secret["client_secret"],
            secret["refresh_token"],
            token_url=f"{base_url}/oauth/v1/token",
            cache=self.token_cache_factory(config.tenant_id)
            if self.token_cache_factory
            else InMemoryTokenCache(),
            cache_key=f"{conn.connection_id}#{config.environment.value}#{fingerprint}",
            client=self.client,
            on_refresh_token=refresh_token_rotated(conn.connection_id),
        )
        return HubSpotConnector(conn.connection_id, auth=auth, base_url=base_url, client=self.client)

    def _economic(self, conn: ConnectionConfig, secret: dict[str, Any]) -> Connector:
        from crmsync.connectors.economic import EconomicConnector, EconomicDefaults

        defaults = conn.accounting_defaults
        assert defaults is not None  # filled in by TenantConfig validation
        return EconomicConnector(
            conn.connection_id,
            secret["app_secret_token"],
            secret["agreement_grant_token"],
            EconomicDefaults(**defaults.model_dump()),
            rest_base_url=self.settings.economic_rest_url,
            customers_api_url=self.settings.economic_customers_api_url,
            client=self.client,
        )

    def _dynamics(self, config: TenantConfig, conn: ConnectionConfig, secret: dict[str, Any]) -> Connector:
        """Dataverse behind Entra ID client credentials; the org URL must be on the allow-list.

        The access token is shared by the tenant connection's instances through ``token_cache_factory``
        (the sync table; one instance renews at a time), keyed by connection, environment (the two
        environments are two organisations, or two app registrations) and a fingerprint of directory,
        app and organisation: a secret or org URL switched elsewhere never picks up the old token.
        """
        from crmsync.connectors.dataverse import DataverseConnector
        from crmsync.connectors.dataverse_urls import DEFAULT_ALLOWED_HOSTS, OrgUrlError, org_root
        from crmsync.connectors.oauth import ClientCredentialsAuth, InMemoryTokenCache

        assert conn.dynamics is not None  # required by TenantConfig validation
        hosts = (*DEFAULT_ALLOWED_HOSTS, *self.settings.dataverse_allowed_hosts)
        insecure = self.settings.allow_http_vendors
        try:
            root = org_root(conn.dynamics.org_url, hosts, allow_http=insecure)
            auth = ClientCredentialsAuth(
                secret["tenant_id"],
                secret["client_id"],
                secret["client_secret"],
                root,
                login_base=self.settings.entra_login_url,
                cache=self.token_cache_factory(config.tenant_id)
                if self.token_cache_factory
                else InMemoryTokenCache(),
                cache_key=f"{conn.connection_id}#{config.environment.value}#{_fingerprint(secret['tenant_id'], secret['client_id'], root)}",
                client=self.client,
            )
        except (OrgUrlError, ValueError) as exc:
            raise ConnectionUnavailable(config.tenant_id, conn.connection_id, str(exc)) from exc
        connector = DataverseConnector(
            conn.connection_id,
            root,
            auth,
            client=self.client,
            allowed_hosts=hosts,
            application_user_id=conn.dynamics.application_user_id,
            custom_columns=conn.dynamics.columns,
            allow_http=insecure,
        )
        connector.fact_columns = dict(conn.dynamics.fact_columns)
        return connector

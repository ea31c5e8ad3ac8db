"""Deployment settings and credentials: the only module that reads the environment.

Handlers call ``Settings.from_env()`` once per cold start and pass the values down; the domain
code receives plain arguments. Credentials come from Secrets Manager through Powertools
Parameters (cached ``max_age`` seconds), one JSON secret per tenant connection and environment.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, Field


class Settings(BaseModel):
    table_name: str = Field(min_length=1)
    """The sync table (``TABLE_NAME``): required, so a function deployed without it fails at its first
    invocation with a clear error instead of calling DynamoDB with an empty name."""
    idempotency_table_name: str = ""
    signals_queue_url: str = ""
    bulk_queue_url: str = ""
    """Bulk work's own queue (backfills, transfer pages); empty: everything goes to the signals queue."""
    secret_prefix: str = "crmsync/"  # noqa: S105 - a name prefix, not a secret
    stage: str = "test"
    economic_rest_url: str = "https://restapi.e-conomic.com"
    economic_customers_api_url: str = "https://apis.e-conomic.com/customersapi/v3.1.0"
    hubspot_api_url: str = "https://api.hubapi.com"
    entra_login_url: str = "https://login.microsoftonline.com"
    """Entra ID's token endpoint host (Dynamics): a deployment setting, never a tenant's (the client
    secret is sent there); sovereign clouds use their own (e.g. https://login.microsoftonline.us)."""
    dataverse_allowed_hosts: tuple[str, ...] = ()
    """Host patterns added to the Dataverse allow-list (``DATAVERSE_ALLOWED_HOSTS``, comma-separated;
    e.g. an on-premises ``crm.example.local``): a tenant's org URL must match one."""
    allow_http_vendors: bool = False
    """Only the local stack sets it (``ALLOW_HTTP_VENDORS``): its fakes answer on plain http."""
    secrets_max_age: int = Field(default=300, ge=0)
    api_tenant_requests_per_minute: int | None = Field(default=None, ge=1)
    """Per-tenant API request limit (``crmsync.request_quota``); None: its default, 600 a minute."""
    retry_base_seconds: float = Field(default=30.0, gt=0, le=900)
    """First retry delay of a failed queue message (``signal_queue.retry_delay``); the local stack
    shortens it, a deployment keeps the default."""
    http_timeout: float = 20.0

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {
            "table_name": env.get("TABLE_NAME", ""),
            "idempotency_table_name": env.get("IDEMPOTENCY_TABLE_NAME", ""),
            "signals_queue_url": env.get("SIGNALS_QUEUE_URL", ""),
            "bulk_queue_url": env.get("BULK_QUEUE_URL", ""),
            "secret_prefix": env.get("SECRET_PREFIX", "crmsync/"),
            "stage": env.get("STAGE", "test"),
        }
        # Vendor endpoints are overridable only by the deployment (local stack, sandbox), never by a tenant.
        for key, var in (
            ("economic_rest_url", "ECONOMIC_REST_URL"),
            ("economic_customers_api_url", "ECONOMIC_CUSTOMERS_API_URL"),
            ("hubspot_api_url", "HUBSPOT_API_URL"),
            ("secrets_max_age", "SECRETS_MAX_AGE"),
            ("http_timeout", "HTTP_TIMEOUT"),
            ("retry_base_seconds", "RETRY_BASE_SECONDS"),
            ("api_tenant_requests_per_minute", "API_TENANT_REQUESTS_PER_MINUTE"),
            ("entra_login_url", "ENTRA_LOGIN_URL"),
            ("allow_http_vendors", "ALLOW_HTTP_VENDORS"),
        ):
            if env.get(var):
                values[key] = env[var]
        hosts = env.get("DATAVERSE_ALLOWED_HOSTS", "")
        values["dataverse_allowed_hosts"] = tuple(h.strip() for h in hosts.split(",") if h.strip())
        return cls.model_validate(values)


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()


class CredentialStore:
    """Reads one connection's JSON secret through a Powertools ``SecretsProvider`` (cached ``max_age``).

    The provider is owned by the container's context rather than Powertools' module-wide default,
    so its boto3 client is built lazily and is replaced together with the rest of the context.
    """

    def __init__(self, boto3_client: Any, max_age: int = 300) -> None:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        self._provider = SecretsProvider(boto3_client=boto3_client)
        self.max_age = max_age

    def __call__(self, secret_name: str) -> dict[str, Any]:
        value = self._provider.get(secret_name, transform="json", max_age=self.max_age)
        if not isinstance(value, dict):
            raise ValueError(f"secret {secret_name} is not a JSON object")
        return value

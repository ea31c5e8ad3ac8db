"""The HTTP plumbing and connection state every part of the e-conomic connector shares.

One ``VendorHttp`` (retries, typed errors, pacing) and one set of token headers per agreement, used
by both APIs; idempotency keys are derived here so every create path uses the same ones."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from crmsync.connectors.base import VendorError, WriteItem, WriteResult
from crmsync.connectors.economic_errors import map_economic_error
from crmsync.connectors.economic_pacing import economic_pacer
from crmsync.connectors.http import RetryPolicy, VendorHttp
from crmsync.models import ObjectType

CONFLICT_RETRIES = 3
_IDEMPOTENCY_NAMESPACE = uuid.UUID("6f6b2f53-2a55-4d8e-9a8e-0e6f7c6e0c11")


class EconomicDefaults(BaseModel):
    """References e-conomic requires on every customer, used when the CRM record does not carry them."""

    model_config = ConfigDict(extra="forbid")

    customer_group: int = Field(ge=1)
    payment_terms: int = Field(ge=1)
    vat_zone: int = Field(ge=1)
    currency: str = Field(min_length=3, max_length=3)
    layout: int | None = Field(default=None, ge=1)


class EconomicClient:
    """Connection state and raw requests; the base of every ``EconomicConnector`` part."""

    def __init__(
        self,
        connection_id: str,
        app_secret_token: str,
        agreement_grant_token: str,
        defaults: EconomicDefaults,
        *,
        rest_base_url: str = "https://restapi.e-conomic.com",
        customers_api_url: str = "https://apis.e-conomic.com/customersapi/v3.1.0",
        client: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.connection_id = connection_id
        self.defaults = defaults
        self.rest_base_url = rest_base_url.rstrip("/")
        self.customers_api_url = customers_api_url.rstrip("/")
        self._headers = {
            "X-AppSecretToken": app_secret_token,
            "X-AgreementGrantToken": agreement_grant_token,
            "Accept": "application/json",
        }
        self._owns_client = client is None
        self.http = VendorHttp(
            client or httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0)),
            map_economic_error,
            retry,
            pacer=economic_pacer,
        )

    def close(self) -> None:
        if self._owns_client:
            self.http.client.close()

    def idempotency_key(self, object_type: ObjectType, record_id: str) -> str:
        """Stable per (connection, record): a re-sent create replays instead of duplicating."""
        return str(
            uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f"{self.connection_id}:{object_type.value}:{record_id}")
        )

    def _call(
        self, method: str, url: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        return self.http.request(method, url, headers={**self._headers, **(headers or {})}, **kwargs)

    def _last_request_id(self) -> str | None:
        response = self.http.last_response
        return response.headers.get("X-RequestId") if response is not None else None

    @staticmethod
    def _failed(item: WriteItem, exc: VendorError) -> WriteResult:
        return WriteResult(
            record_id=item.record_id,
            ok=False,
            external_id=item.external_id,
            error=exc.message,
            error_code=exc.code or type(exc).__name__,
            retryable=exc.retryable,
            request_id=exc.request_id,
            retry_after=exc.retry_after,
        )

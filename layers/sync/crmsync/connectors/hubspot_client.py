"""The HTTP plumbing every part of the HubSpot connector shares.

One client, one auth and one ``VendorHttp`` (retries, typed errors) per connector instance; the
parts (setup, reads, search, associations, writes) only add endpoints on top of ``_call``/``_post``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import httpx

from crmsync.connectors.http import RetryPolicy, VendorHttp
from crmsync.connectors.hubspot_errors import HubSpotAuth, _body, hubspot_error

BATCH_SIZE = 100
T = TypeVar("T")


def _slices(values: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class HubSpotClient:
    """Connection state and raw requests; the base of every ``HubSpotConnector`` part."""

    def __init__(
        self,
        connection_id: str,
        access_token: str,
        *,
        base_url: str = "https://api.hubapi.com",
        client: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.connection_id = connection_id
        self.base_url = base_url.rstrip("/")
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=30.0)
        self._auth = HubSpotAuth(access_token)
        self.http = VendorHttp(self._client, hubspot_error, retry)
        self._setup_done = False

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, f"{self.base_url}{path}", auth=self._auth, **kwargs)

    def _post(self, path: str, body: Any) -> tuple[dict[str, Any], str | None]:
        response = self._call("POST", path, json=body)
        return (_body(response) if response.status_code != 204 else {}), response.headers.get(
            "X-HubSpot-Correlation-Id"
        )

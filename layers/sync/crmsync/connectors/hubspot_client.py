"""The HTTP plumbing every part of the HubSpot connector shares.

One client, one auth and one ``VendorHttp`` (retries, typed errors) per connector instance; the
parts (setup, reads, search, associations, writes) only add endpoints on top of ``_call``/``_post``.
The auth is a private app's access token or a public app's OAuth ``httpx.Auth`` (``crmsync.connectors.hubspot``
explains the choice about rotated refresh tokens)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import httpx
from aws_lambda_powertools import Logger

from crmsync.connectors.http import RetryPolicy, VendorHttp
from crmsync.connectors.hubspot_errors import HubSpotAuth, _body, hubspot_error

BATCH_SIZE = 100
T = TypeVar("T")
logger = Logger(child=True)


def refresh_token_rotated(connection_id: str) -> Callable[[str], None]:
    """``RefreshTokenAuth``'s ``on_refresh_token`` for a HubSpot connection: warn, keep the secret as is.

    The new token lives on in the auth (this instance's memory) only; the warning names the connection,
    never a token (see ``crmsync.connectors.hubspot`` for why it is not written back).
    """

    def warn(_new_token: str) -> None:
        logger.warning(
            "HubSpot answered a different refresh token (HubSpot documents that they do not rotate); "
            "it is used by this instance only, the connection's secret keeps the old one",
            extra={"connection": connection_id},
        )

    return warn


def _slices(values: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class HubSpotClient:
    """Connection state and raw requests; the base of every ``HubSpotConnector`` part."""

    def __init__(
        self,
        connection_id: str,
        access_token: str | None = None,
        *,
        auth: httpx.Auth | None = None,
        base_url: str = "https://api.hubapi.com",
        client: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.connection_id = connection_id
        self.base_url = base_url.rstrip("/")
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=30.0)
        self._auth = HubSpotAuth(access_token, inner=auth)  # exactly one of the two (ValueError if not)
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

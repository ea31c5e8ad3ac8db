"""The HTTP plumbing every part of the Dataverse connector shares: URLs, OData headers, paging.

One ``VendorHttp`` (retries, Retry-After, the tenant's rate gate, call counting) and one ``httpx.Auth``
(bearer tokens, see ``crmsync.connectors.oauth``) per connector. Every request carries the OData
headers; every URL is built under the validated org root, and a ``@odata.nextLink`` / ``deltaLink``
is followed unchanged (it is opaque) but only when it points below that root: the bearer token is
never sent anywhere else.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from crmsync.connectors.base import VendorError, VendorRefusedError
from crmsync.connectors.dataverse_errors import dataverse_error
from crmsync.connectors.dataverse_urls import DEFAULT_ALLOWED_HOSTS, org_root
from crmsync.connectors.http import RetryPolicy, VendorHttp

ODATA_HEADERS = {"OData-MaxVersion": "4.0", "OData-Version": "4.0", "Accept": "application/json"}
ANNOTATIONS = 'odata.include-annotations="*"'
PAGE_SIZE = 5000
"""Dataverse's default and largest page (``Prefer: odata.maxpagesize``)."""
_SAFE = "$,()'*@:"
MAX_PAGES = 10_000
"""A bound on every paging loop (50 million rows at full pages): a server that keeps answering with a
nextLink cannot keep a Lambda busy forever."""


class DataverseClient:
    """Connection state and raw requests; the base of every ``DataverseConnector`` part."""

    def __init__(
        self,
        connection_id: str,
        org_url: str,
        auth: httpx.Auth,
        *,
        client: httpx.Client,
        api_version: str = "v9.2",
        allowed_hosts: Iterable[str] = DEFAULT_ALLOWED_HOSTS,
        application_user_id: str | None = None,
        custom_columns: Mapping[str, str] | None = None,
        allow_http: bool = False,
        retry: RetryPolicy | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        if not api_version.startswith("v") or not api_version[1:].replace(".", "").isdigit():
            raise ValueError(f"not a Web API version: {api_version!r}")
        self.connection_id = connection_id
        self.org_url = org_root(org_url, allowed_hosts, allow_http=allow_http)
        self.api_base = f"{self.org_url}/api/data/{api_version}"
        self.application_user_id = application_user_id
        self.custom_columns: Mapping[str, str] = dict(custom_columns or {})
        self.page_size = max(1, min(PAGE_SIZE, page_size))
        self._auth = auth
        self._client = client
        self.http = VendorHttp(client, dataverse_error, retry)
        self._setup_done = False

    def url(self, path: str, params: dict[str, str] | None = None) -> str:
        """An absolute URL below the Web API base (OData's ``$`` and ``,`` kept readable)."""
        query = f"?{urlencode(params, safe=_SAFE, quote_via=quote)}" if params else ""
        return f"{self.api_base}/{path.lstrip('/')}{query}"

    def _call(
        self,
        method: str,
        url: str,
        *,
        prefer: Iterable[str] = (),
        headers: dict[str, str] | None = None,
        body: Any = None,
        content: bytes | None = None,
        ok: tuple[int, ...] = (200, 201, 204),
    ) -> httpx.Response:
        if not url.startswith(self.api_base + "/"):
            raise VendorRefusedError("Dataverse answered with a link outside the org", code="foreign_link")
        sent = {**ODATA_HEADERS, **(headers or {})}
        preferences = list(prefer)
        if preferences:
            sent["Prefer"] = ", ".join(preferences)
        kwargs: dict[str, Any] = {"headers": sent, "auth": self._auth, "ok": ok}
        if body is not None:
            sent["Content-Type"] = "application/json"
            kwargs["content"] = json.dumps(body, ensure_ascii=False).encode("utf-8")
        elif content is not None:
            kwargs["content"] = content  # the caller's headers carry its Content-Type
        return self.http.request(method, url, **kwargs)

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        if response.status_code == 204 or not response.content:
            return {}
        try:
            data = response.json()
        except ValueError as exc:
            raise VendorError(
                "Dataverse answered with a body that is not JSON", status=response.status_code
            ) from exc
        return data if isinstance(data, dict) else {}

    def _pages(
        self, url: str, *, prefer: Iterable[str] = (ANNOTATIONS,), final_key: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every page of a collection, following ``@odata.nextLink`` unchanged (bounded)."""
        preferences = [*prefer, f"odata.maxpagesize={self.page_size}"]
        for _ in range(MAX_PAGES):
            page = self._json(self._call("GET", url, prefer=preferences))
            yield page
            next_link = page.get("@odata.nextLink")
            if not next_link:
                return
            url = str(next_link)
        raise VendorError(
            f"more than {MAX_PAGES} pages: stopped following @odata.nextLink", code="too_many_pages"
        )

    def _rows(self, url: str) -> Iterator[dict[str, Any]]:
        for page in self._pages(url):
            yield from (row for row in page.get("value") or [] if isinstance(row, dict))

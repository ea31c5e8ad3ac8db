"""Several vendor accounts behind one host, as the real APIs have them.

HubSpot serves every portal from ``api.hubapi.com`` and tells them apart by the private app's token;
e-conomic serves every agreement from ``restapi.e-conomic.com`` (and the Customers API host) and tells
them apart by ``X-AgreementGrantToken``. Two tenants of crmsync are two companies with their own
accounts, their own data, rate limits and webhooks, so a multi-tenant test needs the same: one fake per
account, and this router in front choosing the fake by the credential the request carries. A request
whose credential no fake knows goes to the first (primary) fake, which answers 401 in its vendor's shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

WSGIApp = Callable[..., Iterable[bytes]]


class Fake(Protocol):
    @property
    def app(self) -> WSGIApp: ...


def hubspot_credential(environ: dict[str, Any]) -> str:
    """The bearer token of ``Authorization`` (HubSpot's private app tokens)."""
    auth = str(environ.get("HTTP_AUTHORIZATION", ""))
    return auth[7:].strip() if auth.lower().startswith("bearer ") else ""


def economic_credential(environ: dict[str, Any]) -> str:
    """The agreement grant token (REST API and Customers API alike)."""
    return str(environ.get("HTTP_X_AGREEMENTGRANTTOKEN", ""))


class AccountRouter:
    """A WSGI app dispatching each request to the fake of the account its credential belongs to."""

    def __init__(self, primary: Fake, credential: Callable[[dict[str, Any]], str], primary_key: str) -> None:
        self._credential = credential
        self._fakes: dict[str, Fake] = {primary_key: primary}
        self._primary = primary

    def add(self, key: str, fake: Fake) -> None:
        if key in self._fakes:
            raise ValueError("an account with this credential exists already")
        self._fakes[key] = fake

    def fake_for(self, environ: dict[str, Any]) -> Fake:
        return self._fakes.get(self._credential(environ), self._primary)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return self.fake_for(environ).app(environ, start_response)


class OrgRouter:
    """Dynamics organisations behind one local host: each account's Dataverse fake under ``/<org>``.

    Dataverse gives every organisation its own host (``<org>.crm4.dynamics.com``) and Entra ID serves
    every directory's token endpoint from one host (``login.microsoftonline.com/<directory>/...``). The
    local stack has one port for all of them: ``/<org>/api/data/v9.2/...`` goes to the org's fake (with
    ``SCRIPT_NAME=/<org>``, so the fake sees its own paths; its links carry the prefix because its
    ``org_url`` does), ``/login/<directory>/oauth2/v2.0/token`` to the fake of that directory. crmsync
    treats the host as an on-premises server with one path per organisation (``dataverse_urls``).
    """

    LOGIN = "login"

    def __init__(self) -> None:
        self._orgs: dict[str, Fake] = {}
        self._directories: dict[str, Fake] = {}

    def add(self, org: str, directory: str, fake: Fake) -> None:
        if org == self.LOGIN or org in self._orgs or directory in self._directories:
            raise ValueError(f"organisation {org!r} or directory {directory!r} exists already")
        self._orgs[org] = fake
        self._directories[directory] = fake

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        head, _, rest = path.lstrip("/").partition("/")
        if head == self.LOGIN:
            directory = rest.partition("/")[0]
            fake = self._directories.get(directory)
            environ = {**environ, "PATH_INFO": f"/{rest}"}
        else:
            fake = self._orgs.get(head)
            environ = {**environ, "SCRIPT_NAME": f"/{head}", "PATH_INFO": f"/{rest}"}
        if fake is None:
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"error":{"code":"0x80040217","message":"no such organisation"}}']
        return fake.app(environ, start_response)

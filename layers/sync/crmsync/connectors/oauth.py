"""OAuth2 access tokens as ``httpx.Auth``: Entra ID client credentials (Dataverse) and HubSpot refresh tokens.

Why a shared cache with a lease: every Lambda instance of a connection would otherwise fetch its own
token on its cold start and again on every expiry. Tokens live in a ``TokenCache`` (DynamoDB in
production: ``crmsync.store.tokens_cache``; ``InMemoryTokenCache`` for tests and one process). A token
due for renewal is renewed by the one instance holding the cache's lease (a conditional write); the
others keep using a token that is still valid, or poll the cache briefly (``wait_seconds`` in
``poll_seconds`` steps) and then read the renewed one. A waiter that sees no new token in time raises
``TransientError`` (retryable): the holder may have died, its lease then runs out after
``lease_seconds`` and the next attempt takes over.

Lifetimes come from ``expires_in`` (Entra ID: random 60-90 minutes; HubSpot: 30 minutes), never a
constant. A token is renewed ``renew_margin`` ahead of its expiry: 10 % of its lifetime, at most 5
minutes, so a token handed out is good for the request it is used in.

A 401 on an API call made with a cached token renews once (unless another instance already replaced
that token) and resends; a second 401 is left to the error mapper (``AuthError``). A refusal by the
token endpoint (``invalid_client``, ``invalid_grant``, ...) is an ``AuthError`` whose reason names the
error code, never a secret (vendor text is scrubbed of the secrets before it is quoted).
"""

from __future__ import annotations

import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator
from typing import Any, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crmsync.connectors.base import AuthError, TransientError

Clock = Callable[[], float]
Sleep = Callable[[float], None]
MAX_RENEW_MARGIN = 300.0
LEASE_SECONDS = 30.0
WAIT_SECONDS = 5.0
POLL_SECONDS = 0.25
REFUSALS = frozenset({400, 401, 403})


class CachedToken(BaseModel):
    """An access token and when to renew it (epoch seconds). No refresh token or secret is cached."""

    model_config = ConfigDict(frozen=True)

    access_token: str
    expires_at: float
    renew_at: float

    def usable(self, now: float) -> bool:
        """Still accepted by the API (possibly due for renewal)."""
        return now < self.expires_at

    def fresh(self, now: float) -> bool:
        """Not yet due for renewal."""
        return now < self.renew_at


def renew_margin(lifetime: float) -> float:
    """Renew ahead of expiry by 10 % of the lifetime, at most 5 minutes."""
    return min(MAX_RENEW_MARGIN, max(0.0, lifetime) * 0.1)


class TokenCache(Protocol):
    """Where instances share tokens and the right to renew one (one lease holder at a time)."""

    def get(self, key: str) -> CachedToken | None: ...

    def try_lease(self, key: str, holder: str, seconds: float) -> bool:
        """Take the renewal lease when nobody holds it, it ran out, or ``holder`` holds it already."""
        ...

    def put(self, key: str, token: CachedToken, holder: str) -> None: ...

    def release(self, key: str, holder: str) -> None: ...


class InMemoryTokenCache:
    """``TokenCache`` for tests and a single process (thread-safe)."""

    def __init__(self, clock: Clock = time.time) -> None:
        self.clock = clock
        self._tokens: dict[str, CachedToken] = {}
        self._leases: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> CachedToken | None:
        with self._lock:
            return self._tokens.get(key)

    def try_lease(self, key: str, holder: str, seconds: float) -> bool:
        with self._lock:
            now = self.clock()
            current = self._leases.get(key)
            if current is None or current[1] < now or current[0] == holder:
                self._leases[key] = (holder, now + seconds)
                return True
            return False

    def put(self, key: str, token: CachedToken, holder: str) -> None:
        with self._lock:
            self._tokens[key] = token

    def release(self, key: str, holder: str) -> None:
        with self._lock:
            if self._leases.get(key, ("", 0.0))[0] == holder:
                del self._leases[key]


class TokenResponse(BaseModel):
    """The token endpoint's answer (RFC 6749 5.1); ``expires_in`` may arrive as a string (Entra v1)."""

    access_token: str = Field(min_length=1)
    expires_in: int = Field(gt=0)
    token_type: str = "Bearer"  # noqa: S105 (a token type name, not a secret)
    refresh_token: str | None = None


class TokenErrorBody(BaseModel):
    """RFC 6749 5.2 (Entra ID) or HubSpot's ``{status, message, category}`` error."""

    error: str | None = None
    error_description: str | None = None
    status: str | None = None
    message: str | None = None
    category: str | None = None


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text[:300]


class OAuthTokenAuth(httpx.Auth, ABC):
    """Bearer tokens from a token endpoint, shared through a ``TokenCache`` (see the module doc)."""

    def __init__(
        self,
        *,
        token_url: str,
        cache: TokenCache,
        cache_key: str,
        client: httpx.Client,
        clock: Clock = time.time,
        sleep: Sleep = time.sleep,
        lease_seconds: float = LEASE_SECONDS,
        wait_seconds: float = WAIT_SECONDS,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.token_url = token_url
        self.cache = cache
        self.cache_key = cache_key
        self.client = client
        self.clock = clock
        self.sleep = sleep
        self.lease_seconds = lease_seconds
        self.wait_seconds = wait_seconds
        self.poll_seconds = poll_seconds
        self.holder = uuid.uuid4().hex
        self.token_calls = 0
        self._local: CachedToken | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(token_url={self.token_url!r}, cache_key={self.cache_key!r})"

    # -- what a subclass supplies ----------------------------------------------------------------
    @abstractmethod
    def _form(self) -> dict[str, str]: ...

    @abstractmethod
    def _secrets(self) -> tuple[str, ...]: ...

    def _accepted(self, answer: TokenResponse) -> None:
        """Hook for what a response carries besides the access token (a rotated refresh token)."""

    # -- httpx.Auth ------------------------------------------------------------------------------
    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.access_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            renewed = self.access_token(rejected=token)
            if renewed != token:
                request.headers["Authorization"] = f"Bearer {renewed}"
                yield request

    # -- tokens ----------------------------------------------------------------------------------
    def access_token(self, rejected: str | None = None) -> str:
        """A usable access token; ``rejected``: the API refused this one, do not hand it out again."""
        with self._lock:
            now = self.clock()
            local = self._local
            if local is not None and local.access_token != rejected and local.fresh(now):
                return local.access_token
            token = self._shared(rejected)
            self._local = token
            return token.access_token

    def _good(self, token: CachedToken | None, rejected: str | None, now: float) -> bool:
        return token is not None and token.access_token != rejected and token.fresh(now)

    def _shared(self, rejected: str | None) -> CachedToken:
        deadline = self.clock() + self.wait_seconds
        while True:
            cached = self.cache.get(self.cache_key)
            now = self.clock()
            if cached is not None and self._good(cached, rejected, now):
                return cached
            if self.cache.try_lease(self.cache_key, self.holder, self.lease_seconds):
                try:
                    cached = self.cache.get(self.cache_key)  # renewed while we asked for the lease?
                    if cached is not None and self._good(cached, rejected, self.clock()):
                        return cached
                    token = self._fetch()
                    self.cache.put(self.cache_key, token, self.holder)
                    return token
                finally:
                    self.cache.release(self.cache_key, self.holder)
            if cached is not None and cached.access_token != rejected and cached.usable(now):
                return cached  # another instance renews it; this one is still accepted meanwhile
            if self.clock() >= deadline:
                raise TransientError(
                    "another instance is renewing the access token and has not finished",
                    code="token_renewal_pending",
                    retry_after=self.lease_seconds,
                )
            self.sleep(self.poll_seconds)

    def _fetch(self) -> CachedToken:
        self.token_calls += 1
        try:
            response = self.client.post(
                self.token_url, data=self._form(), headers={"Accept": "application/json"}
            )
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise TransientError(f"token endpoint unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise self._refusal(response)
        try:
            answer = TokenResponse.model_validate_json(response.content)
        except ValidationError as exc:
            raise TransientError("token endpoint answered without a usable access token") from exc
        self._accepted(answer)
        now = self.clock()
        return CachedToken(
            access_token=answer.access_token,
            expires_at=now + answer.expires_in,
            renew_at=now + answer.expires_in - renew_margin(answer.expires_in),
        )

    def _refusal(self, response: httpx.Response) -> AuthError | TransientError:
        try:
            body = TokenErrorBody.model_validate_json(response.content)
        except ValidationError:
            body = TokenErrorBody()
        code = body.error or body.status or body.category or f"http_{response.status_code}"
        detail = _scrub(body.error_description or body.message or "", self._secrets())
        detail = detail.splitlines()[0] if detail else ""
        text = f"token endpoint refused ({response.status_code} {code})" + (f": {detail}" if detail else "")
        request_id = response.headers.get("x-ms-request-id") or response.headers.get(
            "X-HubSpot-Correlation-Id"
        )
        if response.status_code in REFUSALS:
            return AuthError(text, status=response.status_code, code=code, request_id=request_id)
        return TransientError(text, status=response.status_code, code=code, request_id=request_id)


class ClientCredentialsAuth(OAuthTokenAuth):
    """Entra ID client credentials for one Dataverse environment (scope ``<org url>/.default``)."""

    def __init__(
        self,
        tenant: str,
        client_id: str,
        client_secret: str,
        org_url: str,
        *,
        login_base: str = "https://login.microsoftonline.com",
        **kwargs: Any,
    ) -> None:
        if not tenant or not all(c.isalnum() or c in ".-" for c in tenant):
            raise ValueError("tenant must be a directory id or domain name")
        kwargs.setdefault("cache_key", f"entra:{tenant}:{client_id}:{org_url.rstrip('/')}")
        super().__init__(token_url=f"{login_base.rstrip('/')}/{tenant}/oauth2/v2.0/token", **kwargs)
        self._client_id = client_id
        self._client_secret = client_secret
        self.scope = f"{org_url.rstrip('/')}/.default"

    def _form(self) -> dict[str, str]:
        return {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "scope": self.scope,
        }

    def _secrets(self) -> tuple[str, ...]:
        return (self._client_secret,)


class RefreshTokenAuth(OAuthTokenAuth):
    """HubSpot public-app tokens from a refresh token (30-minute access tokens).

    A response carrying another refresh token replaces the stored one: in this instance at once, and
    wherever the caller keeps it through ``on_refresh_token`` (e.g. the connection's secret).
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        *,
        token_url: str = "https://api.hubapi.com/oauth/v1/token",  # noqa: S107 (an endpoint)
        on_refresh_token: Callable[[str], None] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("cache_key", f"hubspot:{client_id}")
        super().__init__(token_url=token_url, **kwargs)
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self.on_refresh_token = on_refresh_token

    def _form(self) -> dict[str, str]:
        return {
            "grant_type": "refresh_token",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "refresh_token": self._refresh_token,
        }

    def _secrets(self) -> tuple[str, ...]:
        return (self._client_secret, self._refresh_token)

    def _accepted(self, answer: TokenResponse) -> None:
        rotated = answer.refresh_token
        if rotated and rotated != self._refresh_token:
            self._refresh_token = rotated
            if self.on_refresh_token is not None:
                self.on_refresh_token(rotated)

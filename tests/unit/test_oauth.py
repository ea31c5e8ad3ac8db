"""OAuth token providers: lifetimes from expires_in, renewal ahead of expiry, single flight, refusals."""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from crmsync.connectors.base import AuthError, TransientError
from crmsync.connectors.oauth import (
    CachedToken,
    ClientCredentialsAuth,
    InMemoryTokenCache,
    RefreshTokenAuth,
    TokenCache,
    renew_margin,
)

SECRET = "s3cr3t-value-never-logged"
ORG = "https://contoso.crm4.dynamics.com"
TOKEN_URL = "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Endpoints:
    """A token endpoint and an API behind one MockTransport; records what it was sent."""

    def __init__(self, clock: Clock, expires_in: Any = 4500) -> None:
        self.clock = clock
        self.expires_in = expires_in
        self.forms: list[dict[str, str]] = []
        self.issued = 0
        self.refusal: tuple[int, dict[str, Any]] | None = None
        self.valid: set[str] = set()
        self.rotate_to: str | None = None
        self.delay = 0.0
        self.accept_new = True
        self.lock = threading.Lock()

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            if self.delay:
                time.sleep(self.delay)
            with self.lock:
                self.forms.append(form)
                if self.refusal:
                    return httpx.Response(self.refusal[0], json=self.refusal[1])
                self.issued += 1
                token = f"at-{self.issued}"
                if self.accept_new:
                    self.valid.add(token)
            body: dict[str, Any] = {
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "access_token": token,
            }
            if self.rotate_to:
                body["refresh_token"] = self.rotate_to
            return httpx.Response(200, json=body)
        auth = request.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ") in self.valid:
            return httpx.Response(200, json={"ok": True, "auth": auth})
        return httpx.Response(401, json={"error": {"code": "", "message": "unauthorized"}})


def make(
    endpoints: Endpoints, cache: TokenCache | None = None, **kw: Any
) -> tuple[ClientCredentialsAuth, httpx.Client]:
    client = httpx.Client(transport=httpx.MockTransport(endpoints.handler))
    kw.setdefault("sleep", lambda s: None)
    auth = ClientCredentialsAuth(
        "tenant-1",
        "client-1",
        SECRET,
        ORG,
        cache=cache or InMemoryTokenCache(endpoints.clock),
        client=client,
        clock=endpoints.clock,
        **kw,
    )
    return auth, client


def test_client_credentials_request_and_lifetime_from_expires_in() -> None:
    clock = Clock()
    ep = Endpoints(clock, expires_in="3900")  # Entra v1 sends a string; never assume 3600
    auth, client = make(ep)
    assert client.get(f"{ORG}/api/data/v9.2/WhoAmI", auth=auth).status_code == 200
    assert ep.forms == [
        {
            "grant_type": "client_credentials",
            "client_id": "client-1",
            "client_secret": SECRET,
            "scope": f"{ORG}/.default",
        }
    ]
    token = auth.cache.get(auth.cache_key)
    assert token is not None and token.expires_at == clock.now + 3900
    assert token.renew_at == clock.now + 3900 - 300, "5 minutes ahead (10 % would be 6.5)"
    assert auth.token_url == TOKEN_URL
    assert SECRET not in repr(auth)


def test_renewal_ahead_of_expiry_not_before() -> None:
    clock = Clock()
    ep = Endpoints(clock, expires_in=1800)
    auth, client = make(ep)
    for _ in range(3):
        client.get(f"{ORG}/api/data/v9.2/x", auth=auth)
    assert ep.issued == 1
    clock.now += 1800 - renew_margin(1800) - 1
    client.get(f"{ORG}/api/data/v9.2/x", auth=auth)
    assert ep.issued == 1
    clock.now += 2  # inside the margin (3 minutes for a 30-minute token)
    client.get(f"{ORG}/api/data/v9.2/x", auth=auth)
    assert ep.issued == 2
    assert renew_margin(4500) == 300 and renew_margin(600) == 60


def test_two_instances_sharing_a_cache_make_one_token_call() -> None:
    clock = Clock()
    ep = Endpoints(clock)
    ep.delay = 0.2
    cache = InMemoryTokenCache(clock)
    auths = [make(ep, cache, sleep=time.sleep, poll_seconds=0.01)[0] for _ in range(4)]
    tokens: list[str] = []

    def run(a: ClientCredentialsAuth) -> None:
        tokens.append(a.access_token())

    threads = [threading.Thread(target=run, args=(a,)) for a in auths]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ep.issued == 1 and tokens == ["at-1"] * 4
    assert sum(a.token_calls for a in auths) == 1


def test_instances_keep_a_still_valid_token_while_another_renews() -> None:
    clock = Clock()
    ep = Endpoints(clock, expires_in=1000)
    cache = InMemoryTokenCache(clock)
    first, _ = make(ep, cache)
    assert first.access_token() == "at-1"
    clock.now += 950  # due for renewal, still valid
    assert cache.try_lease(first.cache_key, "someone-else", 30)
    second, _ = make(ep, cache)
    assert second.access_token() == "at-1", "another holds the lease: keep the usable token"
    assert ep.issued == 1


def test_a_waiter_times_out_when_the_holder_never_delivers() -> None:
    clock = Clock()
    ep = Endpoints(clock)
    cache = InMemoryTokenCache(clock)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.now += seconds

    auth, _ = make(ep, cache, sleep=sleep, lease_seconds=30)
    assert cache.try_lease(auth.cache_key, "stuck-holder", 30)
    with pytest.raises(TransientError) as caught:
        auth.access_token()
    assert caught.value.retryable and ep.issued == 0
    assert sleeps and set(sleeps) == {0.25} and sum(sleeps) == pytest.approx(5.0)
    clock.now += 30  # the stuck holder's lease has run out: the next attempt takes over
    assert auth.access_token() == "at-1"


def test_a_waiter_reads_the_token_the_holder_put() -> None:
    clock = Clock()
    ep = Endpoints(clock)
    cache = InMemoryTokenCache(clock)
    auth, _ = make(ep, cache)
    assert cache.try_lease(auth.cache_key, "other", 30)
    polls = {"n": 0}

    def sleep(seconds: float) -> None:
        polls["n"] += 1
        if polls["n"] == 3:
            cache.put(
                auth.cache_key,
                CachedToken(access_token="theirs", expires_at=clock.now + 99, renew_at=clock.now + 90),
                "other",
            )

    auth.sleep = sleep
    assert auth.access_token() == "theirs" and ep.issued == 0


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (
            401,
            {
                "error": "invalid_client",
                "error_description": f"AADSTS7000215: Invalid client secret {SECRET}.\r\nTrace ID: x",
            },
            "invalid_client",
        ),
        (400, {"error": "invalid_grant", "error_description": "AADSTS70000: grant expired"}, "invalid_grant"),
        (
            400,
            {"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token"},
            "BAD_REFRESH_TOKEN",
        ),
    ],
)
def test_a_refusal_is_an_auth_error_naming_no_secret(status: int, body: dict[str, Any], code: str) -> None:
    ep = Endpoints(Clock())
    ep.refusal = (status, body)
    auth, client = make(ep)
    with pytest.raises(AuthError) as caught:
        client.get(f"{ORG}/api/data/v9.2/x", auth=auth)
    assert caught.value.code == code and SECRET not in str(caught.value) and code in str(caught.value)


def test_token_endpoint_outage_is_transient() -> None:
    ep = Endpoints(Clock())
    ep.refusal = (503, {})
    auth, _ = make(ep)
    with pytest.raises(TransientError):
        auth.access_token()


def test_a_401_with_a_cached_token_renews_once() -> None:
    clock = Clock()
    ep = Endpoints(clock)
    auth, client = make(ep)
    assert client.get(f"{ORG}/api/data/v9.2/x", auth=auth).status_code == 200
    ep.valid.clear()  # the org revoked the token early
    ep.valid.add("at-2")
    response = client.get(f"{ORG}/api/data/v9.2/x", auth=auth)
    assert response.status_code == 200 and response.json()["auth"] == "Bearer at-2" and ep.issued == 2
    ep.valid.clear()  # every token refused: one renewal, then the 401 stands (AuthError by the mapper)
    ep.accept_new = False
    assert client.get(f"{ORG}/api/data/v9.2/x", auth=auth).status_code == 401
    assert ep.issued == 3


def test_a_401_after_another_instance_renewed_uses_theirs() -> None:
    clock = Clock()
    ep = Endpoints(clock)
    cache = InMemoryTokenCache(clock)
    mine, client = make(ep, cache)
    theirs, _ = make(ep, cache)
    mine.access_token()
    ep.valid.clear()
    theirs.access_token(rejected="at-1")  # the other instance saw the 401 first and renewed
    assert client.get(f"{ORG}/api/data/v9.2/x", auth=mine).json()["auth"] == "Bearer at-2"
    assert ep.issued == 2


def test_refresh_token_grant_and_rotation() -> None:
    clock = Clock()
    ep = Endpoints(clock, expires_in=1800)
    ep.rotate_to = "rt-2"
    saved: list[str] = []
    client = httpx.Client(transport=httpx.MockTransport(ep.handler))
    auth = RefreshTokenAuth(
        "hs-client",
        SECRET,
        "rt-1",
        cache=InMemoryTokenCache(clock),
        client=client,
        clock=clock,
        on_refresh_token=saved.append,
    )
    assert auth.token_url == "https://api.hubapi.com/oauth/v1/token"
    assert auth.access_token() == "at-1"
    assert ep.forms[0] == {
        "grant_type": "refresh_token",
        "client_id": "hs-client",
        "client_secret": SECRET,
        "refresh_token": "rt-1",
    }
    assert saved == ["rt-2"]
    clock.now += 1800
    auth.access_token()
    assert ep.forms[1]["refresh_token"] == "rt-2" and saved == ["rt-2"], (
        "the rotated token is used, saved once"
    )


def test_in_memory_lease_is_one_holder_at_a_time() -> None:
    clock = Clock()
    cache = InMemoryTokenCache(clock)
    assert cache.try_lease("k", "a", 10) and cache.try_lease("k", "a", 10)
    assert not cache.try_lease("k", "b", 10)
    cache.release("k", "b")  # not b's to release
    assert not cache.try_lease("k", "b", 10)
    clock.now += 11
    assert cache.try_lease("k", "b", 10), "an expired lease can be taken over"
    cache.release("k", "b")
    assert cache.try_lease("k", "a", 10)


def test_tenant_must_not_change_the_token_path() -> None:
    with pytest.raises(ValueError):
        ClientCredentialsAuth("x/../y", "c", SECRET, ORG, cache=InMemoryTokenCache(), client=httpx.Client())

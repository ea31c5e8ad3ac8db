"""The HubSpot fake's public-app OAuth (``POST /oauth/v1/token``) against HubSpot's ``auth-oauth-v1.json``.

Answers are validated against the official spec's components, as the fake's CRM endpoints are in
``test_hubspot_fake.py``; behaviour follows hubspot-accounting-facts-and-journal.md section 5.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from local.fakes.hubspot import HubSpotFake, OAuthSpecValidator

CLIENT_ID = "app-client-id"
CLIENT_SECRET = "app-client-secret"
REFRESH = "na1-initial-refresh-token"
PRIVATE = "pat-na1-private"
COMPANIES = "/crm/v3/objects/companies"


class Clock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def spec() -> OAuthSpecValidator:
    return OAuthSpecValidator()


def make(**kw: Any) -> tuple[HubSpotFake, httpx.Client, Clock]:
    clock = Clock()
    kw.setdefault("rate_limit_per_10s", None)
    kw.setdefault("search_rate_limit_per_s", None)
    fake = HubSpotFake(
        PRIVATE,
        clock=clock,
        client_secret=CLIENT_SECRET,
        oauth_client_id=CLIENT_ID,
        oauth_refresh_token=REFRESH,
        strict_spec=True,
        **kw,
    )
    client = httpx.Client(transport=httpx.WSGITransport(app=fake.app), base_url="https://api.hubapi.com")
    return fake, client, clock


def grant(client: httpx.Client, refresh: str = REFRESH, **form: str) -> httpx.Response:
    data = {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": refresh,
        **form,
    }
    return client.post("/oauth/v1/token", data=data)


def bearer(client: httpx.Client, token: str) -> httpx.Response:
    return client.get(COMPANIES, headers={"Authorization": f"Bearer {token}"})


def test_the_refresh_grant_answers_the_spec_shape_and_its_token_reads_the_portal(spec: OAuthSpecValidator):
    fake, client, _ = make()
    answer = grant(client)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    spec.validate("oauth", "TokenResponseIF", body)
    spec.validate("oauth", "AccessTokenResponse", body)
    assert not spec.response_errors("POST", "/oauth/v1/token", 200, body)
    assert body["expires_in"] == 1800 and body["token_type"] == "bearer"
    assert body["refresh_token"] == REFRESH, "HubSpot's refresh tokens do not rotate by default"
    assert body["hub_id"] == fake.portal_id and body["access_token"] != PRIVATE

    assert bearer(client, body["access_token"]).status_code == 200
    assert bearer(client, PRIVATE).status_code == 200, "the private-app token still works"
    stats = fake.stats()
    assert stats["oauth"] == {"token_calls": 1, "refused": 0, "expired": 0}
    assert stats["reads"] == 2 and stats["calls"] == {f"GET {COMPANIES}": 2}, "a token call is no API call"
    assert all("oauth" not in entry["path"] for entry in fake.request_log)
    assert fake.spec_violations == []


def test_the_spec_validator_would_catch_a_wrong_token_answer(spec: OAuthSpecValidator):
    bad = {"access_token": "x", "expires_in": "1800", "token_type": "bearer", "refresh_token": "r"}
    problems = spec.errors("oauth", "AccessTokenResponse", bad)
    assert any("token_use" in p for p in problems) and any("expires_in" in p for p in problems)


def test_an_expired_access_token_is_a_401_expired_authentication(spec: OAuthSpecValidator):
    fake, client, clock = make()
    token = grant(client).json()["access_token"]
    clock.now += 1799
    assert bearer(client, token).status_code == 200
    clock.now += 1 + 9 * 60 + 30
    refused = bearer(client, token)
    assert refused.status_code == 401
    body = refused.json()
    spec.validate("companies", "Error", body)
    assert body["category"] == "EXPIRED_AUTHENTICATION" and body["status"] == "error"
    assert body["message"] == "The OAuth token used to make this call expired 9 minute(s) ago."
    assert re.fullmatch(r"[0-9a-f-]{36}", body["correlationId"])
    assert fake.stats()["unauthorized"] == 1 and fake.stats()["oauth"]["expired"] == 1
    assert grant(client).status_code == 200, "the refresh token still works after the access token expired"


def test_an_unknown_bearer_token_keeps_the_invalid_authentication_answer():
    _, client, _ = make()
    refused = bearer(client, "fake-oauth-never-issued")
    assert refused.status_code == 401 and refused.json()["category"] == "INVALID_AUTHENTICATION"
    missing = client.get(COMPANIES)
    assert missing.status_code == 401 and "credentials not found" in missing.json()["message"]


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"client_id": "someone-else"}, "BAD_CLIENT_ID"),
        ({"client_id": ""}, "BAD_CLIENT_ID"),
        ({"client_secret": "wrong-secret"}, "BAD_CLIENT_SECRET"),
        ({"refresh_token": "na1-not-issued"}, "BAD_REFRESH_TOKEN"),
        ({"refresh_token": ""}, "BAD_REFRESH_TOKEN"),
        ({"grant_type": "authorization_code", "code": "abc"}, "BAD_GRANT_TYPE"),
        ({"grant_type": ""}, "BAD_GRANT_TYPE"),
    ],
)
def test_refusals_are_400s_with_hubspots_status_code(
    spec: OAuthSpecValidator, form: dict[str, str], code: str
):
    fake, client, _ = make()
    refresh = form.pop("refresh_token", REFRESH)
    refused = grant(client, refresh, **form)
    assert refused.status_code == 400
    body = refused.json()
    spec.validate("oauth", "Error", body)
    assert body["status"] == code and "access_token" not in body
    for value in (*form.values(), refresh, CLIENT_SECRET):
        assert not value or value not in refused.text, "a refusal does not echo what was sent"
    assert fake.stats()["oauth"] == {"token_calls": 1, "refused": 1, "expired": 0}
    assert fake.spec_violations == []


def test_the_refresh_token_message_is_the_one_clients_match_on():
    _, client, _ = make()
    assert grant(client, "na1-revoked").json()["message"] == "missing or invalid refresh token"
    assert grant(client, client_id="x").json()["message"] == "missing or unknown client id"


def test_client_secret_and_refresh_token_may_come_as_query_parameters():
    _, client, _ = make()
    answer = client.post(
        "/oauth/v1/token",
        params={"client_secret": CLIENT_SECRET, "refresh_token": REFRESH},
        data={"grant_type": "refresh_token", "client_id": CLIENT_ID},
    )
    assert answer.status_code == 200 and answer.json()["refresh_token"] == REFRESH


def test_the_token_endpoint_takes_no_get():
    _, client, _ = make()
    assert client.get("/oauth/v1/token").status_code == 405


def test_rotation_mode_replaces_the_refresh_token_and_invalidates_the_old_one():
    fake, client, _ = make(rotate_refresh_tokens=True)
    first = grant(client).json()
    assert first["refresh_token"] != REFRESH and fake.refresh_tokens() == [first["refresh_token"]]
    raced = grant(client)  # a second instance still holding the old refresh token
    assert raced.status_code == 400 and raced.json()["status"] == "BAD_REFRESH_TOKEN"
    second = grant(client, first["refresh_token"]).json()
    assert second["refresh_token"] not in (REFRESH, first["refresh_token"])
    assert bearer(client, first["access_token"]).status_code == 200, "earlier access tokens live on"
    assert bearer(client, second["access_token"]).status_code == 200


def test_revoke_plays_an_uninstall():
    fake, client, _ = make()
    token = grant(client).json()["access_token"]
    fake.revoke_oauth()
    assert bearer(client, token).json()["category"] == "INVALID_AUTHENTICATION"
    assert grant(client).json()["status"] == "BAD_REFRESH_TOKEN" and fake.refresh_tokens() == []
    assert bearer(client, PRIVATE).status_code == 200


def test_reset_restores_the_constructed_oauth_state():
    fake, client, _ = make(rotate_refresh_tokens=True)
    token = grant(client).json()["access_token"]
    fake.reset()
    assert fake.refresh_tokens() == [REFRESH] and fake.stats()["oauth"]["token_calls"] == 0
    assert bearer(client, token).status_code == 401
    assert grant(client).status_code == 200


def test_oauth_tokens_of_the_app_share_one_rate_limit_window():
    _, client, _ = make(rate_limit_per_10s=2)
    first, second = (grant(client).json()["access_token"] for _ in range(2))
    assert bearer(client, first).status_code == 200 and bearer(client, second).status_code == 200
    limited = bearer(client, first)
    assert limited.status_code == 429 and limited.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert bearer(client, PRIVATE).status_code == 200, "the private app has a window of its own"


def test_defaults_keep_the_private_app_fake_and_use_the_app_secret():
    fake = HubSpotFake(client_secret="one-app-secret")
    assert fake.oauth_client_secret == "one-app-secret" and fake.oauth_expires_in == 1800
    assert fake.refresh_tokens() == ["fake-refresh-token"] and fake.rotate_refresh_tokens is False
    client = httpx.Client(transport=httpx.WSGITransport(app=fake.app), base_url="https://api.hubapi.com")
    assert bearer(client, "pat-na1-fake-token").status_code == 200
    with pytest.raises(ValueError, match="oauth_expires_in"):
        HubSpotFake(oauth_expires_in=0)


def test_a_served_fake_grants_over_http():
    fake, _, _ = make()
    _, url = fake.serve()
    try:
        with httpx.Client(base_url=url, timeout=5) as client:
            token = grant(client).json()["access_token"]
            assert bearer(client, token).status_code == 200
    finally:
        fake.shutdown()

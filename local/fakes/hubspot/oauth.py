"""Public-app OAuth on the HubSpot fake: ``POST /oauth/v1/token`` (refresh-token grant) and its access tokens.

Why: crmsync's public-app connections renew 30-minute access tokens once for all Lambda instances
(``crmsync.connectors.oauth``). To test that, the fake must expire the tokens it issues on its own clock,
refuse a bad refresh token as HubSpot does, and optionally rotate refresh tokens so that a refresh race
fails loudly instead of passing by luck (fake checklist item 21; hubspot-accounting-facts-and-journal.md
section 5; spec ``auth-oauth-v1.json``).

- The grant reads ``grant_type``, ``client_id``, ``client_secret`` and ``refresh_token`` from the form body
  (the spec also lists the last two as query parameters: read as well, the body wins). A 200 is the spec's
  ``AccessTokenResponse``: ``access_token``, ``refresh_token``, ``expires_in`` (``oauth_expires_in``, default
  1800), ``token_type: "bearer"``, ``token_use: "access_token"``, ``hub_id``, ``scopes``.
- Refusals are 400s carrying HubSpot's code in ``status`` (what clients match on) plus the ``category``
  and ``correlationId`` the spec's ``Error`` requires: ``BAD_CLIENT_ID`` "missing or unknown client id",
  ``BAD_REFRESH_TOKEN`` "missing or invalid refresh token" (both seen in the wild). *Assumptions* (HubSpot
  documents no code): a wrong client secret is ``BAD_CLIENT_SECRET``; a grant other than
  ``refresh_token`` (the only one the fake implements) is ``BAD_GRANT_TYPE``.
- An issued access token is accepted as a bearer token next to the private-app token until
  ``expires_in`` seconds (on ``clock``) after issue; then a 401 ``EXPIRED_AUTHENTICATION`` "The OAuth token
  used to make this call expired N minute(s) ago." (the body captured in supaglue-labs/supaglue#244).
- Rate limits count all OAuth tokens of the portal in one window (HubSpot's limit is per app and account,
  not per token); the limits themselves are still the constructor's.
- ``rotate_refresh_tokens=True``: every grant answers a new refresh token and invalidates the one it used
  (not HubSpot's documented behaviour). Access tokens issued before stay valid until they expire.
- Token calls are not API calls: no faults, no rate limit, not in ``calls`` nor ``request_log`` (whose
  entries would hold secrets); ``stats()["oauth"]`` counts them (``token_calls``, ``refused``, ``expired``).
- ``reset()`` restores the constructed state: issued tokens are forgotten, the initial refresh token is
  the only valid one. ``revoke_oauth()`` plays an uninstall: every refresh and access token stops working.
"""

from __future__ import annotations

import secrets
import uuid
from collections import Counter
from typing import Any

from werkzeug.wrappers import Request, Response

from local.fakes.hubspot.helpers import error_body
from local.fakes.hubspot.spec import SpecValidator

TOKEN_PATH = "/oauth/v1/token"
DEFAULT_SCOPES = (
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "oauth",
)
_REFUSALS = {
    "BAD_GRANT_TYPE": "grant_type must be refresh_token",
    "BAD_CLIENT_ID": "missing or unknown client id",
    "BAD_CLIENT_SECRET": "client secret does not match the client id",
    "BAD_REFRESH_TOKEN": "missing or invalid refresh token",
}


class OAuthSpecValidator(SpecValidator):
    """``SpecValidator`` that also knows ``auth-oauth-v1.json`` (used by ``strict_spec`` fakes and tests)."""

    FILES = {**SpecValidator.FILES, "oauth": "auth-oauth-v1.json"}


class OAuthMixin:
    """The token endpoint, the access tokens it issued, and the bearer check for both kinds of token."""

    # -- state -----------------------------------------------------------------------------------

    def _reset_oauth(self) -> None:
        """Forget issued tokens; only the configured refresh token is valid (called by ``reset()``)."""
        self._access_expiry: dict[str, float] = {}  # issued access token -> expiry (clock seconds)
        self._refresh_tokens: set[str] = {self.oauth_refresh_token}
        self._oauth_counts: Counter[str] = Counter()

    def refresh_tokens(self) -> list[str]:
        """The refresh tokens the token endpoint accepts now (one, unless none after ``revoke_oauth()``)."""
        with self._lock:
            return sorted(self._refresh_tokens)

    def revoke_oauth(self) -> None:
        """The app is uninstalled: every refresh token and issued access token stops working."""
        with self._lock:
            self._refresh_tokens.clear()
            self._access_expiry.clear()

    def oauth_stats(self) -> dict[str, int]:
        """``token_calls`` (every token request), ``refused`` (of them), ``expired`` (401s for expired tokens)."""
        with self._lock:
            return {name: self._oauth_counts[name] for name in ("token_calls", "refused", "expired")}

    # -- bearer tokens ---------------------------------------------------------------------------

    def _bearer_problem(self, token: str) -> tuple[str, str] | None:
        """``None`` when ``token`` may call the API, else the 401's ``(category, message)``."""
        if token and token == self.access_token:
            return None
        with self._lock:
            expires_at = self._access_expiry.get(token) if token else None
            if expires_at is not None:
                now = self.clock()
                if now < expires_at:
                    return None
                self._oauth_counts["expired"] += 1
                minutes = int((now - expires_at) // 60)
                return (
                    "EXPIRED_AUTHENTICATION",
                    f"The OAuth token used to make this call expired {minutes} minute(s) ago.",
                )
        if not token:
            return (
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can "
                "find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            )
        return "INVALID_AUTHENTICATION", "The access token provided is invalid or has expired."

    def _rate_key(self, token: str) -> str:
        """The rate-limit window a call counts in: one for every OAuth token of the app, else per token."""
        with self._lock:
            return "oauth-app" if token in self._access_expiry else token

    # -- the token endpoint ----------------------------------------------------------------------

    def _oauth_token(self, request: Request, correlation: str) -> Response:
        """``POST /oauth/v1/token``: the refresh-token grant (see the module doc)."""
        params = {**request.args.to_dict(), **request.form.to_dict()}
        headers = {"X-HubSpot-Correlation-Id": correlation}
        with self._lock:
            self._oauth_counts["token_calls"] += 1
            code = self._grant_refusal(params)
            if code is None:
                status, body = 200, self._grant(params["refresh_token"])
            else:
                self._oauth_counts["refused"] += 1
                status, body = 400, error_body("VALIDATION_ERROR", _REFUSALS[code])
                body["status"] = code  # HubSpot's OAuth errors carry their code here
                body["correlationId"] = correlation
        if self.spec is not None:
            for problem in self.spec.response_errors("POST", TOKEN_PATH, status, body):
                self.spec_violations.append(f"response POST {TOKEN_PATH} {status}: {problem}")
        return self._json_response(status, body, headers)

    def _grant_refusal(self, params: dict[str, str]) -> str | None:
        """The refusal code for a token request, ``None`` when it is granted. Caller holds the lock."""
        if params.get("grant_type") != "refresh_token":
            return "BAD_GRANT_TYPE"
        if params.get("client_id") != self.oauth_client_id:
            return "BAD_CLIENT_ID"
        if params.get("client_secret") != self.oauth_client_secret:
            return "BAD_CLIENT_SECRET"
        if params.get("refresh_token") not in self._refresh_tokens:
            return "BAD_REFRESH_TOKEN"
        return None

    def _grant(self, refresh_token: str) -> dict[str, Any]:
        """Issue an access token (and, rotating, a new refresh token). Caller holds the lock."""
        if self.rotate_refresh_tokens:
            self._refresh_tokens.discard(refresh_token)
            refresh_token = f"na1-{uuid.uuid4()}"
            self._refresh_tokens.add(refresh_token)
        access_token = f"fake-oauth-{self.portal_id}-{secrets.token_urlsafe(32)}"
        self._access_expiry[access_token] = self.clock() + self.oauth_expires_in
        return {
            "access_token": access_token,
            "refresh_token": refresh_token,
            "expires_in": self.oauth_expires_in,
            "token_type": "bearer",
            "token_use": "access_token",
            "hub_id": self.portal_id,
            "scopes": list(self.oauth_scopes),
        }

"""Microsoft identity platform token endpoint (client credentials) and bearer-token checks.

Facts: ``POST https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token`` with ``grant_type=
client_credentials``, ``client_id``, ``client_secret``, ``scope=<environment-url>/.default``; access tokens
live a random 60-90 minutes (``expires_in`` 3600..5400); no refresh token in this flow.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from local.fakes.dataverse.odata import Resp


def _aad_error(status: int, error: str, code: int, description: str) -> Resp:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
    body = {
        "error": error,
        "error_description": f"AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {corr} Timestamp: {now}",
        "error_codes": [code],
        "timestamp": now,
        "trace_id": trace,
        "correlation_id": corr,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }
    return Resp(status, body, {"Content-Type": "application/json; charset=utf-8"})


class AuthMixin:
    """Issues tokens for the one application user and validates ``Authorization: Bearer``."""

    def _h_token(self, tenant: str, form: dict[str, str]) -> Resp:
        self.token_count += 1
        if self._faults.token_fail > 0:
            self._faults.token_fail -= 1
            return _aad_error(503, "temporarily_unavailable", 50196, "The server is temporarily unavailable.")
        if tenant != self.tenant:
            return _aad_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        if form.get("grant_type") != "client_credentials":
            return _aad_error(
                400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
            )
        if form.get("client_id") != self.client_id:
            return _aad_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{form.get('client_id')}' was not found in the directory.",
            )
        if form.get("client_secret") != self.client_secret:
            return _aad_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client "
                f"secret value, not the client secret ID, for a secret added to app '{self.client_id}'.",
            )
        scope = form.get("scope", "")
        if scope.rstrip("/") not in (f"{self.org_url}/.default", f"{self.org_url}//.default"):
            return _aad_error(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client "
                "credential flows must have a scope value with /.default suffixed to the resource identifier.",
            )
        lifetime = self._token_rng.randint(3600, 5400)
        token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9." + secrets.token_urlsafe(48)
        self._tokens[token] = {"user": self.application_user_id, "expires": self.clock() + lifetime}
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }
        return Resp(
            200, body, {"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store"}
        )

    def issue_token(self) -> str:
        """A valid token without an HTTP round trip (for tests that are not about auth)."""
        lifetime = self._token_rng.randint(3600, 5400)
        token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9." + secrets.token_urlsafe(48)
        self._tokens[token] = {"user": self.application_user_id, "expires": self.clock() + lifetime}
        return token

    def expire_token(self, access_token: str) -> None:
        """Make ``access_token`` expired: its next use answers 401."""
        if access_token in self._tokens:
            self._tokens[access_token]["expires"] = self.clock() - 1

    def revoke_tokens(self) -> int:
        """Entra ID revokes every access token it issued (their next use answers 401); returns how many."""
        tokens = list(self._tokens)
        for token in tokens:
            self.expire_token(token)
        return len(tokens)

    def _authenticate(self, authorization: str) -> tuple[str | None, Resp | None]:
        token = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
        entry = self._tokens.get(token)
        if entry is not None and entry["expires"] > self.clock():
            return entry["user"], None
        challenge = (
            f"Bearer authorization_uri=https://login.microsoftonline.com/{self.tenant}/oauth2/authorize, "
            f"resource_id={self.org_url}/"
        )
        return None, Resp(401, None, {"WWW-Authenticate": challenge})

"""OAuth access tokens shared by the Lambda instances of a connection, and the lease to renew them.

| item        | PK        | SK                   | attributes                                                    |
|-------------|-----------|----------------------|---------------------------------------------------------------|
| oauth token | TENANT#t  | OAUTH#<connection>   | ``token``, ``expires_at``, ``renew_at``, ``ttl``; ``holder``, ``lease_until`` |

One item per connection holds the current access token and the renewal lease
(``crmsync.connectors.oauth`` explains the single flight). The lease is one conditional update:
``attribute_not_exists(lease_until) OR lease_until < :now OR holder = :me``, so one instance renews
while the others keep using the still-valid token or wait. ``ttl`` (the table's TTL attribute) is the
token's expiry: DynamoDB removes an expired token's item (lazily; readers check the expiry anyway).

Only the access token is stored (no client secret, no refresh token). The table is encrypted at rest;
the sync table's stream carries these items too, but its only consumer filters on ``REC#`` keys.

``token_cache(tenant_id)`` returns the ``TokenCache`` of one tenant (the key is the connection id).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from crmsync.connectors.oauth import CachedToken
from crmsync.store.table import Table, VersionConflict, _s, tenant_pk


def _num(value: float) -> dict[str, str]:
    return {"N": repr(float(value))}


class TokenCacheRepo(Table):
    """Shared OAuth tokens and their renewal lease (see the module doc)."""

    def _token_key(self, tenant_id: str, connection_id: str) -> dict[str, Any]:
        return {"PK": _s(tenant_pk(tenant_id)), "SK": _s(f"OAUTH#{connection_id}")}

    def oauth_token(self, tenant_id: str, connection_id: str) -> CachedToken | None:
        item = self._get(tenant_pk(tenant_id), f"OAUTH#{connection_id}")
        if not item or "token" not in item:
            return None
        return CachedToken(
            access_token=item["token"]["S"],
            expires_at=float(item["expires_at"]["N"]),
            renew_at=float(item["renew_at"]["N"]),
        )

    def oauth_try_lease(
        self, tenant_id: str, connection_id: str, holder: str, seconds: float, now: float
    ) -> bool:
        """Take (or extend) the renewal lease; False while another holder's lease runs."""
        try:
            self._call(
                "update_item",
                Key=self._token_key(tenant_id, connection_id),
                UpdateExpression="SET holder = :me, lease_until = :until",
                ConditionExpression="attribute_not_exists(lease_until) OR lease_until < :now OR holder = :me",
                ExpressionAttributeValues={
                    ":me": _s(holder),
                    ":until": _num(now + seconds),
                    ":now": _num(now),
                },
            )
        except VersionConflict:
            return False
        return True

    def oauth_put(self, tenant_id: str, connection_id: str, token: CachedToken, holder: str) -> None:
        """Store a renewed token (the lease attributes are left as they are)."""
        self._call(
            "update_item",
            Key=self._token_key(tenant_id, connection_id),
            UpdateExpression="SET #token = :t, expires_at = :e, renew_at = :r, #ttl = :ttl",
            ExpressionAttributeNames={"#token": "token", "#ttl": "ttl"},
            ExpressionAttributeValues={
                ":t": _s(token.access_token),
                ":e": _num(token.expires_at),
                ":r": _num(token.renew_at),
                ":ttl": {"N": str(math.ceil(token.expires_at))},
            },
        )

    def oauth_release(self, tenant_id: str, connection_id: str, holder: str) -> None:
        """End the lease if ``holder`` still holds it (a lease taken over meanwhile is left alone)."""
        try:
            self._call(
                "update_item",
                Key=self._token_key(tenant_id, connection_id),
                UpdateExpression="REMOVE holder, lease_until",
                ConditionExpression="holder = :me",
                ExpressionAttributeValues={":me": _s(holder)},
            )
        except VersionConflict:
            return

    def token_cache(self, tenant_id: str, clock: Callable[[], float] = time.time) -> TenantTokenCache:
        return TenantTokenCache(self, tenant_id, clock)


class TenantTokenCache:
    """``crmsync.connectors.oauth.TokenCache`` over ``TokenCacheRepo`` for one tenant (key = connection id)."""

    def __init__(self, repo: TokenCacheRepo, tenant_id: str, clock: Callable[[], float] = time.time) -> None:
        self.repo = repo
        self.tenant_id = tenant_id
        self.clock = clock

    def get(self, key: str) -> CachedToken | None:
        return self.repo.oauth_token(self.tenant_id, key)

    def try_lease(self, key: str, holder: str, seconds: float) -> bool:
        return self.repo.oauth_try_lease(self.tenant_id, key, holder, seconds, self.clock())

    def put(self, key: str, token: CachedToken, holder: str) -> None:
        self.repo.oauth_put(self.tenant_id, key, token, holder)

    def release(self, key: str, holder: str) -> None:
        self.repo.oauth_release(self.tenant_id, key, holder)

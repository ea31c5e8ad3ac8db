"""API tokens: issue, check, list, revoke, rotate. Only a token's SHA-256 is ever stored.

A token is 32 random bytes (URL-safe base64), shown once when issued. It carries a **name** (what it
is for: "front end", "ci"), a **creation** and an **expiry** time (``DEFAULT_TOKEN_LIFETIME``, 90
days, unless asked otherwise). Its **id** is the first ``TOKEN_ID_CHARS`` hex digits of its hash: enough
to name it in a listing and to revoke it, useless to authenticate with.

Stored (see ``store/config.py``): ``TOKEN#<hash>`` -> tenant, id, name, times (what a request looks up), and
``TENANT#t`` / ``TOKEN#<id>`` -> hash, name, times (the tenant's listing). Both are written and deleted
together, in one transaction; both carry a ``ttl`` 30 days after expiry, so DynamoDB removes expired
tokens eventually (the check never relies on that: it compares the expiry itself).

Listing and revoking go through the tenant's partition: a token id of another tenant is simply not
found there, so it cannot be revoked through this tenant.

**Revocation is immediate.** Nothing caches tokens: every request reads the token item (strongly
consistent), so a revoked or expired token gets 401 on its next request. Should a cache ever be
added, it must keep an entry at most 60 seconds (the promise is "401 within a minute").

**Tokens issued before names and expiry existed** (an item with a tenant and nothing else) are
valid until ``LEGACY_TOKEN_EXPIRY`` (90 days after this change), then refused like any expired token.
They have no listing entry, so they are not listed and cannot be revoked by id; issue new tokens and
let the old ones lapse (or delete their ``TOKEN#<hash>`` items by hand to cut them off sooner).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from crmsync.items import LEGACY_TOKEN_EXPIRY, TokenInfo
from crmsync.models import utcnow
from crmsync.store import SyncStore, VersionConflict

DEFAULT_TOKEN_LIFETIME = timedelta(days=90)
MAX_TOKEN_LIFETIME = timedelta(days=3 * 365)
TOKEN_ID_CHARS = 12
MAX_TOKEN_NAME = 80
MAX_TOKEN_CHARS = 200
"""A bearer token longer than this is refused unread (ours are 43 characters)."""


class Unauthorized(Exception):
    pass


class Forbidden(Exception):
    pass


class TokenNotFound(Exception):
    pass


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def authorize(
    store: SyncStore, tenant_id: str, authorization: str | None, *, now: datetime | None = None
) -> None:
    """Raise ``Unauthorized`` (401) unless the header carries a live token; ``Forbidden`` (403) if it is
    another tenant's. Unknown, revoked and expired tokens look the same to the caller."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing bearer token")
    if len(token) > MAX_TOKEN_CHARS:
        raise Unauthorized("unknown, expired or revoked token")
    item = store.token(hash_token(token))
    if item is None or item.expired(now or utcnow()):
        raise Unauthorized("unknown, expired or revoked token")
    if item.tenant_id != tenant_id:
        raise Forbidden("this token belongs to another tenant")


def issue_token(
    store: SyncStore,
    tenant_id: str,
    *,
    name: str = "",
    lifetime: timedelta = DEFAULT_TOKEN_LIFETIME,
    now: datetime | None = None,
) -> str:
    """Create a new API token for the tenant and return it (shown once; only its hash is stored)."""
    if not timedelta(0) < lifetime <= MAX_TOKEN_LIFETIME:
        raise ValueError(f"a token lives more than 0 and at most {MAX_TOKEN_LIFETIME.days} days")
    if len(name) > MAX_TOKEN_NAME:
        raise ValueError(f"a token name has at most {MAX_TOKEN_NAME} characters")
    created = now or utcnow()
    for _ in range(3):  # a clash of 48-bit ids within one tenant is unlikely; never overwrite one
        token = new_token()
        digest = hash_token(token)
        try:
            store.put_token(
                digest,
                tenant_id,
                token_id=digest[:TOKEN_ID_CHARS],
                name=name,
                created_at=created.isoformat(),
                expires_at=(created + lifetime).isoformat(),
            )
        except VersionConflict:
            continue
        return token
    raise RuntimeError("could not issue a token with a fresh id")


def list_tokens(store: SyncStore, tenant_id: str) -> list[TokenInfo]:
    """The tenant's tokens (expired ones included until DynamoDB's TTL removes them), oldest first."""
    infos = store.tenant_tokens(tenant_id)
    return sorted(infos, key=lambda info: (info.created_at or LEGACY_TOKEN_EXPIRY, info.token_id))


def revoke_token(store: SyncStore, tenant_id: str, token_id: str) -> None:
    """Revoke one of this tenant's tokens by id; ``TokenNotFound`` if the tenant has no such token."""
    if not store.delete_token(tenant_id, token_id):
        raise TokenNotFound(token_id)


def rotate_token(
    store: SyncStore,
    tenant_id: str,
    token_id: str,
    *,
    lifetime: timedelta = DEFAULT_TOKEN_LIFETIME,
    now: datetime | None = None,
) -> str:
    """Issue a new token with the old one's name, then revoke the old one; returns the new token."""
    old = next((t for t in list_tokens(store, tenant_id) if t.token_id == token_id), None)
    if old is None:
        raise TokenNotFound(token_id)
    token = issue_token(store, tenant_id, name=old.name, lifetime=lifetime, now=now)
    store.delete_token(tenant_id, token_id)  # already gone (revoked meanwhile) is as good
    return token

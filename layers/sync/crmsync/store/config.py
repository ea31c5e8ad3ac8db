"""Tenant configuration, the tenant list and API tokens.

| item        | PK            | SK                 | attributes                                   |
|-------------|---------------|--------------------|----------------------------------------------|
| config      | TENANT#t      | CONFIG             | ``data`` (``TenantConfig`` JSON), ``version``  |
| tenant list | TENANTS       | TENANT#t           | (key only)                                   |
| api token   | TOKEN#<hash>  | TOKEN              | tenant, id, name, times; TTL                 |
| token list  | TENANT#t      | TOKEN#<token id>   | ``hash``, name, times; TTL                   |

The config carries a ``version`` written with a condition (optimistic locking); it is written in one
transaction with the tenant's entry in ``TENANTS``, the one partition that lists every tenant (for the
scheduled pull). A request looks its token up by hash (``TOKEN#<hash>``, the only item keyed by a
secret); the tenant's listing (``TOKEN#<id>`` in the tenant's partition) is what the API shows and the
only way to revoke: by id, within the tenant's partition. See ``crmsync/tokens.py``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from crmsync.config import TenantConfig
from crmsync.items import TokenInfo
from crmsync.store.table import StoreError, Table, VersionConflict, _n, _s, tenant_pk

_TOKEN_FIELDS = frozenset({"tenant_id", "token_id", "name", "created_at", "expires_at"})
TOKEN_TTL_AFTER_EXPIRY = timedelta(days=30)
"""Expired API tokens stay listed (as expired) this long, then DynamoDB's TTL removes them."""


class ConfigRepo(Table):
    """Tenant configs (versioned) and the list of tenants."""

    def get_config(self, tenant_id: str) -> TenantConfig | None:
        """The config as stored (what the API shows and takes back)."""
        return self.get_config_with_pairs(tenant_id)[0]

    def get_config_with_pairs(self, tenant_id: str) -> tuple[TenantConfig | None, dict[str, str]]:
        """The config and, from the same item (one read), the automatic account-manager pairs the last
        refresh stored beside it (``manager_pairs``, kept by ``put_config``; ``store.account_managers``)."""
        item = self._get(tenant_pk(tenant_id), "CONFIG")
        if item is None:
            return None, {}
        config = TenantConfig.model_validate_json(item["data"]["S"])
        config.version = int(item["version"]["N"])
        pairs = json.loads(item["manager_pairs"]["S"]) if "manager_pairs" in item else {}
        return config, {str(k): str(v) for k, v in pairs.items()}

    def put_config(self, config: TenantConfig) -> TenantConfig:
        """Conditional on the version read (0 = new tenant)."""
        new_version = config.version + 1
        stored = config.model_copy(update={"version": new_version})
        condition = "attribute_not_exists(PK)" if config.version == 0 else "version = :v"
        values = {} if config.version == 0 else {":v": _n(config.version)}
        try:
            self._transact(
                [
                    {
                        # An update, not a put: the item's other attributes (the automatic
                        # account-manager pairs) stay as they are.
                        "Update": {
                            "TableName": self.table,
                            "Key": {"PK": _s(tenant_pk(config.tenant_id)), "SK": _s("CONFIG")},
                            "UpdateExpression": "SET #data = :data, #version = :nv",
                            "ExpressionAttributeNames": {"#data": "data", "#version": "version"},
                            "ConditionExpression": condition.replace("version", "#version"),
                            "ExpressionAttributeValues": {
                                ":data": _s(stored.model_dump_json()),
                                ":nv": _n(new_version),
                                **values,
                            },
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {"PK": _s("TENANTS"), "SK": _s(tenant_pk(config.tenant_id))},
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                raise VersionConflict("config changed") from exc
            raise StoreError(str(exc)) from exc
        return stored

    def list_tenants(self) -> list[str]:
        return [item["SK"]["S"].removeprefix("TENANT#") for item in self._query("TENANTS", "TENANT#")]


class TokensRepo(Table):
    """API tokens: the lookup item by hash and the tenant's listing entry, written and revoked together."""

    def put_token(
        self,
        token_hash: str,
        tenant_id: str,
        *,
        token_id: str,
        name: str,
        created_at: str,
        expires_at: str,
    ) -> None:
        """Store a token (hash) and its listing entry together; ``VersionConflict`` if either exists."""
        ttl = _n(int((datetime.fromisoformat(expires_at) + TOKEN_TTL_AFTER_EXPIRY).timestamp()))
        about = {
            "tenant_id": _s(tenant_id),
            "token_id": _s(token_id),
            "name": _s(name),
            "created_at": _s(created_at),
            "expires_at": _s(expires_at),
            "ttl": ttl,
        }
        try:
            self._transact(
                [
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {"PK": _s(f"TOKEN#{token_hash}"), "SK": _s("TOKEN"), **about},
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {
                                "PK": _s(tenant_pk(tenant_id)),
                                "SK": _s(f"TOKEN#{token_id}"),
                                "hash": _s(token_hash),
                                **about,
                            },
                            "ConditionExpression": "attribute_not_exists(SK)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                raise VersionConflict("token id or hash exists") from exc
            raise StoreError(str(exc)) from exc

    @staticmethod
    def _token_info(item: dict[str, Any]) -> TokenInfo:
        """An item as its listing entry (tokens from before names and expiry lack them: defaults)."""
        return TokenInfo.model_validate({k: v["S"] for k, v in item.items() if k in _TOKEN_FIELDS})

    def token(self, token_hash: str) -> TokenInfo | None:
        """The token's tenant, id, name, creation and expiry (what a request checks)."""
        item = self._get(f"TOKEN#{token_hash}", "TOKEN")
        return self._token_info(item) if item else None

    def token_tenant(self, token_hash: str) -> str | None:
        item = self._get(f"TOKEN#{token_hash}", "TOKEN")
        return item["tenant_id"]["S"] if item else None

    def tenant_tokens(self, tenant_id: str) -> list[TokenInfo]:
        """The listing entries of the tenant's tokens (never the hashes)."""
        return [self._token_info(item) for item in self._query(tenant_pk(tenant_id), "TOKEN#")]

    def delete_token(self, tenant_id: str, token_id: str) -> bool:
        """Revoke the tenant's token ``token_id`` (both items at once); False if the tenant has none such."""
        entry = self._get(tenant_pk(tenant_id), f"TOKEN#{token_id}")
        if entry is None:
            return False
        try:
            self._transact(
                [
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": {"PK": _s(f"TOKEN#{entry['hash']['S']}"), "SK": _s("TOKEN")},
                        }
                    },
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": {"PK": _s(tenant_pk(tenant_id)), "SK": _s(f"TOKEN#{token_id}")},
                            "ConditionExpression": "attribute_exists(SK)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                return False  # revoked meanwhile
            raise StoreError(str(exc)) from exc
        return True

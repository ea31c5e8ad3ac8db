"""The tenant's automatic account-manager map (``crmsync.account_managers``).

| item           | PK        | SK      | attributes                                                          |
|----------------|-----------|---------|---------------------------------------------------------------------|
| manager map    | TENANT#t  | AMMAP   | ``data`` (``ManagerMap`` JSON, ``pack``-ed), ``built_at``            |

One item per tenant, replaced by every refresh. The map's automatic pairs are also written, as small
plain JSON, to the tenant's config item (attribute ``manager_pairs``; ``put_config`` updates only the
config's own attributes, so they stay): loading a config reads them in the same GetItem, never the
per-user matches, which can be large (one per CRM user; compressed, like a record).
"""

from __future__ import annotations

import json

from crmsync.account_managers import ManagerMap
from crmsync.store.table import Table, _s, attr_text, pack, tenant_pk

MANAGER_MAP_SK = "AMMAP"


class AccountManagersRepo(Table):
    """The automatic account-manager map of each tenant (see the module doc)."""

    def put_manager_map(self, tenant_id: str, manager_map: ManagerMap) -> None:
        """Store the map, and its pairs on the config item (read with the config, no extra read)."""
        pairs = _s(json.dumps(manager_map.pairs, sort_keys=True))
        self._call(
            "put_item",
            Item={
                "PK": _s(tenant_pk(tenant_id)),
                "SK": _s(MANAGER_MAP_SK),
                "data": pack(manager_map.model_dump_json()),
                "built_at": _s(manager_map.built_at.isoformat()),
            },
        )
        self._call(
            "update_item",
            Key={"PK": _s(tenant_pk(tenant_id)), "SK": _s("CONFIG")},
            UpdateExpression="SET manager_pairs = :p",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues={":p": pairs},
        )

    def manager_map(self, tenant_id: str) -> ManagerMap | None:
        item = self._get(tenant_pk(tenant_id), MANAGER_MAP_SK)
        return ManagerMap.model_validate_json(attr_text(item["data"])) if item else None

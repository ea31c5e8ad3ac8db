"""Connection states: whether a connection works (``ok``) or ``needs_attention`` (see crmsync/health.py).

| item       | PK        | SK                      | attributes                                    |
|------------|-----------|-------------------------|-----------------------------------------------|
| conn state | TENANT#t  | CONNSTATE#<connection>  | ``data``: state, since, and what failed (JSON) |
| webhook seen | TENANT#t | SEEN#<connection>      | ``at``: when its last webhook was handled (ISO) |

A connection without an item is ``ok``. Read with BatchGetItem and written with UpdateItem only: every
function that syncs has both rights (no PutItem / GetItem needed in their IAM roles for this).
"""

from __future__ import annotations

from collections.abc import Iterable

from crmsync.items import ConnectionState
from crmsync.store.table import Table, _s, tenant_pk


class ConnectionStatesRepo(Table):
    """Read the states of connections; mark one failed or ok."""

    def connection_states(self, tenant_id: str, connection_ids: Iterable[str]) -> dict[str, ConnectionState]:
        """The stored state of these connections (a connection without an item is ``ok``)."""
        keys = {(tenant_pk(tenant_id), f"CONNSTATE#{c}") for c in connection_ids}
        if not keys:
            return {}
        found = self._batch_get(keys)
        return {
            sk.removeprefix("CONNSTATE#"): ConnectionState.model_validate_json(item["data"]["S"])
            for (_, sk), item in found.items()
        }

    def connection_failed(
        self, tenant_id: str, connection_id: str, state: ConnectionState, since: str
    ) -> ConnectionState:
        """Record a failure of a connection (``since``: now, unless it already needed attention);
        returns the stored state."""
        current = self.connection_states(tenant_id, [connection_id]).get(connection_id)
        if current is not None and current.needs_attention and current.since:
            since = current.since
        stored = state.model_copy(update={"since": since})
        self._call(
            "update_item",
            Key={"PK": _s(tenant_pk(tenant_id)), "SK": _s(f"CONNSTATE#{connection_id}")},
            UpdateExpression="SET #d = :d",
            ExpressionAttributeNames={"#d": "data"},
            ExpressionAttributeValues={":d": _s(stored.model_dump_json(exclude_none=True))},
        )
        return stored

    def connection_ok(self, tenant_id: str, connection_id: str, at: str) -> None:
        """The connection works again (only written when it was marked otherwise)."""
        self._call(
            "update_item",
            Key={"PK": _s(tenant_pk(tenant_id)), "SK": _s(f"CONNSTATE#{connection_id}")},
            UpdateExpression="SET #d = :d",
            ExpressionAttributeNames={"#d": "data"},
            ExpressionAttributeValues={":d": _s(ConnectionState(state="ok", since=at).model_dump_json())},
        )

    def mark_webhook_seen(self, tenant_id: str, connection_id: str, at: str) -> None:
        """A webhook of the connection was handled (the worker writes it at most once a minute)."""
        self._call(
            "update_item",
            Key={"PK": _s(tenant_pk(tenant_id)), "SK": _s(f"SEEN#{connection_id}")},
            UpdateExpression="SET #at = :at",
            ExpressionAttributeNames={"#at": "at"},
            ExpressionAttributeValues={":at": _s(at)},
        )

    def webhooks_seen(self, tenant_id: str, connection_ids: Iterable[str]) -> dict[str, str]:
        """connection -> when its last webhook was handled (absent: none since this was recorded)."""
        keys = {(tenant_pk(tenant_id), f"SEEN#{c}") for c in connection_ids}
        if not keys:
            return {}
        return {sk.removeprefix("SEEN#"): item["at"]["S"] for (_, sk), item in self._batch_get(keys).items()}

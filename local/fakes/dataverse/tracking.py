"""Change tracking: delta links (``$deltatoken=<version>!<MM/dd/yyyy HH:mm:ss>``), deleted rows, expiry.

Why versions: Dataverse's delta token carries the row version the client has seen; a delta answers every
row whose ``versionnumber`` is above it (new or changed, as normal rows) and then every deletion since, as
``$deletedEntity`` rows, so a row created and deleted between two polls is still reported as deleted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from local.fakes.dataverse.entities import Table
from local.fakes.dataverse.errors import E_INVALID_ARG, E_ODATA, ApiError
from local.fakes.dataverse.odata import Req, Resp

_TOKEN_TIME = "%m/%d/%Y %H:%M:%S"
EXPIRED_MESSAGE = "Version stamp associated with the client has expired. Please perform a full sync."


class TrackingMixin:
    """``Prefer: odata.track-changes`` starts tracking (see ``CrudMixin._h_list``); this answers delta links."""

    delta_expired_status = 400  # assumption: Dataverse's status for an expired token is not documented

    def _token_time(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).strftime(_TOKEN_TIME)

    def _delta(self, req: Req, table: Table, select: list[str] | None) -> Resp:
        for name in ("$filter", "$orderby", "$expand", "$top"):
            if name in req.query:
                raise ApiError(
                    400,
                    E_ODATA,
                    f'The "{name}" query parameter isn\'t supported when Change Tracking is enabled.',
                )
        raw = unquote(req.query["$deltatoken"])
        version_text, bang, when_text = raw.partition("!")
        try:
            since = int(version_text)
            issued = (
                datetime.strptime(when_text, _TOKEN_TIME).replace(tzinfo=UTC).timestamp() if bang else None
            )
        except ValueError:
            raise ApiError(400, E_ODATA, f"The delta token '{raw}' is not valid.") from None
        too_old = issued is not None and self.clock() - issued > self.change_tracking_expiry_days * 86400
        if self._faults.expire_delta_tokens or too_old:
            raise ApiError(self.delta_expired_status, E_INVALID_ARG, EXPIRED_MESSAGE)
        changed = sorted(
            (r for r in self._rows[table.name].values() if r["versionnumber"] > since),
            key=lambda r: r["versionnumber"],
        )
        value: list[dict[str, Any]] = [self._render(table, r, select, req) for r in changed]
        deleted_context = f"{self._api_url()}/$metadata#{table.entity_set}/$deletedEntity"
        seen: set[str] = set()
        for version, row_id in self._deleted[table.name]:
            if version > since and row_id not in seen and row_id not in self._rows[table.name]:
                seen.add(row_id)
                value.append({"@odata.context": deleted_context, "id": row_id, "reason": "deleted"})
        body = {
            "@odata.context": self._context(table, select, "/$delta"),
            "value": value,
            "@odata.deltaLink": self._delta_link(table, req.query.get("$select"), self._version),
        }
        return Resp(
            200, body, {"Content-Type": "application/json; odata.metadata=minimal", **self._applied(req)}
        )

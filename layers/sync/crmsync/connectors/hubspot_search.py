"""``changed_since``: the search API walked by keyset windows on the last-modified timestamp.

Offset paging stops at 10,000 results and skips records modified mid-scan; keyset windows do neither
(see ``crmsync.connectors.hubspot`` for the walk)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from crmsync.connectors.base import SourceRecord
from crmsync.connectors.hubspot_mapping import HS_TYPE, LAST_MODIFIED, _epoch_ms, parse_time
from crmsync.connectors.hubspot_reads import HubSpotReads
from crmsync.models import ObjectType

SEARCH_PAGE = 200


class HubSpotSearch(HubSpotReads):
    """Search paging of ``HubSpotConnector``."""

    def _search(
        self, object_type: ObjectType, filters: list[dict[str, str]], sort: str
    ) -> list[dict[str, Any]]:
        body = {
            "filterGroups": [{"filters": filters}],
            "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
            "properties": self._properties(object_type),
            "limit": SEARCH_PAGE,
            "after": "0",
        }
        data, _ = self._post(f"/crm/v3/objects/{HS_TYPE[object_type]}/search", body)
        return list(data.get("results") or [])

    def changed_since(self, object_type: ObjectType, since: datetime) -> Iterator[SourceRecord]:
        """Records with last-modified >= ``since``, oldest first, via keyset windows (see ``hubspot``)."""
        lastmod = LAST_MODIFIED[object_type]

        def ms_of(obj: dict[str, Any]) -> int:
            moment = parse_time((obj.get("properties") or {}).get(lastmod)) or parse_time(
                obj.get("updatedAt")
            )
            return _epoch_ms(moment) if moment else 0

        cursor = _epoch_ms(since)
        strict = False  # after a tie run at ``cursor`` every record at it was yielded: continue with GT
        seen: set[str] = set()  # ids yielded whose timestamp == cursor
        while True:
            op = "GT" if strict else "GTE"
            page = self._search(
                object_type, [{"propertyName": lastmod, "operator": op, "value": str(cursor)}], lastmod
            )
            window_start = cursor
            fresh: list[dict[str, Any]] = []
            for obj in page:
                ms = ms_of(obj)
                if ms == cursor and str(obj["id"]) in seen:
                    continue
                if ms > cursor:
                    cursor, strict, seen = ms, False, set()
                seen.add(str(obj["id"]))
                fresh.append(obj)
            yield from self._with_parents(object_type, fresh)
            if len(page) < SEARCH_PAGE:
                return
            if ms_of(page[-1]) == window_start:
                # a full page on one timestamp: walk that timestamp by id, then move strictly past it
                yield from self._tie_run(object_type, window_start, seen)
                cursor, strict, seen = window_start, True, set()

    def _tie_run(self, object_type: ObjectType, ms: int, seen: set[str]) -> Iterator[SourceRecord]:
        lastmod = LAST_MODIFIED[object_type]
        last_id = 0
        while True:
            filters = [
                {"propertyName": lastmod, "operator": "EQ", "value": str(ms)},
                {"propertyName": "hs_object_id", "operator": "GT", "value": str(last_id)},
            ]
            page = self._search(object_type, filters, "hs_object_id")
            fresh = [o for o in page if str(o["id"]) not in seen]
            seen.update(str(o["id"]) for o in fresh)
            yield from self._with_parents(object_type, fresh)
            if len(page) < SEARCH_PAGE:
                return
            last_id = int(page[-1]["id"])

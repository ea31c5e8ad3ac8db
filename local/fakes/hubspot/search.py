"""CRM search: the eventually consistent search index (indexing lag), filters, sorting and paging."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from werkzeug.wrappers import Request

from local.fakes.hubspot.constants import (
    SEARCH_FILTER_GROUPS,
    SEARCH_FILTERS_PER_GROUP,
    SEARCH_FILTERS_TOTAL,
    SEARCH_MAX_LIMIT,
    SEARCH_OPERATORS,
    SEARCH_QUERY_MAX,
    SEARCHABLE,
)
from local.fakes.hubspot.helpers import _bad, _str_value, to_ms
from local.fakes.hubspot.model import StoredObject


class SearchMixin:
    """The search index's view of the records and the ``POST /crm/v3/objects/{type}/search`` handler."""

    def _reindex_later(self, obj: StoredObject, *, created: bool = False) -> None:
        """Search sees ``obj`` as it is now only after the indexing lag (see the package docstring).

        With a lag every record keeps at least its last indexed state (the first entry of its history);
        without one and nothing pending, search reads the live record and nothing is kept.
        """
        key = (obj.object_type, obj.id)
        lag = self.search_index_lag_s
        if lag <= 0 and key not in self._search_index:
            return
        snapshot = None if obj.archived else replace(obj, properties=dict(obj.properties))
        history = self._search_index.get(key)
        if history is None:
            # a record indexed while there was no lag: its earlier state is gone, show the new one at once
            history = self._search_index[key] = [] if created else [(float("-inf"), snapshot)]
        visible = max([self.clock() + lag, *(v for v, _ in history[-1:])])  # states never overtake
        history.append((visible, snapshot))

    def _search_view(self, otype: str) -> Iterator[StoredObject]:
        """The records as the search index holds them at this moment (live ones when nothing is pending)."""
        now = self.clock()
        for oid, obj in self._objects[otype].items():
            history = self._search_index.get((otype, oid))
            if not history:
                if not obj.archived:
                    yield obj
                continue
            due = [i for i, (visible, _) in enumerate(history) if visible <= now]
            if due:
                del history[: due[-1]]  # the newest visible state replaces the older ones
            if history[0][0] > now:
                continue  # never indexed yet: a new record is not found
            if len(history) == 1 and self.search_index_lag_s <= 0:
                del self._search_index[(otype, oid)]  # caught up, no lag: search reads the live record
            if history[0][1] is not None:
                yield history[0][1]

    # ---------------------------------------------------------------------------------- search

    def _typed(self, otype: str, name: str, raw: str) -> Any:
        ptype = self._properties[otype][name]["type"]
        if ptype in ("date", "datetime"):
            return to_ms(raw)
        if ptype == "number":
            try:
                return float(raw)
            except ValueError:
                return None
        if ptype == "bool":
            return raw.lower() == "true"
        if ptype == "enumeration":
            return raw
        return raw.lower()

    def _match(self, otype: str, obj: StoredObject, flt: Mapping[str, Any]) -> bool:
        name, op = flt["propertyName"], flt["operator"]
        raw = obj.properties.get(name, "")
        if op == "HAS_PROPERTY":
            return raw != ""
        if op == "NOT_HAS_PROPERTY":
            return raw == ""
        if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            pattern = str(flt.get("value", "")).lower()
            tokens = [raw.lower(), *raw.lower().split()]
            found = bool(raw) and any(fnmatch.fnmatchcase(t, pattern) for t in tokens)
            return found if op == "CONTAINS_TOKEN" else not found
        if op in ("IN", "NOT_IN"):
            # Documented quirk: on string properties the stored value is lower-cased, so IN needs lowercase values.
            stored = self._typed(otype, name, raw) if raw else None
            values = [self._typed_filter(otype, name, v, lower=False) for v in flt.get("values") or []]
            hit = stored is not None and stored in values
            return hit if op == "IN" else not hit
        if raw == "":
            return op == "NEQ"
        stored = self._typed(otype, name, raw)
        value = self._typed_filter(otype, name, flt.get("value", ""))
        if stored is None or value is None:
            return op == "NEQ"
        if op == "EQ":
            return bool(stored == value)
        if op == "NEQ":
            return bool(stored != value)
        if op == "BETWEEN":
            high = self._typed_filter(otype, name, flt.get("highValue", ""))
            return high is not None and value <= stored <= high
        compare: dict[str, Callable[[Any, Any], bool]] = {
            "LT": lambda a, b: a < b,
            "LTE": lambda a, b: a <= b,
            "GT": lambda a, b: a > b,
            "GTE": lambda a, b: a >= b,
        }
        return compare[op](stored, value)

    def _typed_filter(self, otype: str, name: str, raw: Any, *, lower: bool = True) -> Any:
        text = _str_value(raw)
        ptype = self._properties[otype][name]["type"]
        if ptype in ("string", "phone_number") and not lower:
            return text
        return self._typed(otype, name, text)

    def _h_search(self, request: Request, payload: Any, otype: str) -> tuple[int, Any]:
        if not isinstance(payload, dict):
            raise _bad("Invalid search request")
        limit = payload.get("limit", 10)
        if not isinstance(limit, int) or limit < 1 or limit > SEARCH_MAX_LIMIT:
            raise _bad(f"limit must be an integer between 1 and {SEARCH_MAX_LIMIT}, got {limit!r}")
        after_raw = payload.get("after", "0")
        try:
            after = int(after_raw or 0)
        except (TypeError, ValueError) as exc:
            raise _bad(f"after must be formatted as an integer, got {after_raw!r}") from exc
        if after < 0:
            raise _bad("after must not be negative")
        if after >= self.search_max_results:
            raise _bad(
                f"Paging beyond {self.search_max_results} results is not supported: the search endpoints are "
                f"limited to {self.search_max_results} total results for any given query.",
                context={"after": [str(after)]},
            )
        query = payload.get("query")
        if query is not None and len(str(query)) > SEARCH_QUERY_MAX:
            raise _bad(f"query must be at most {SEARCH_QUERY_MAX} characters")
        groups = payload.get("filterGroups") or []
        if not isinstance(groups, list) or not all(
            isinstance(g, dict) and all(isinstance(f, dict) for f in g.get("filters") or []) for g in groups
        ):
            raise _bad("filterGroups must be an array of {filters: [{propertyName, operator, value}]}")
        if len(groups) > SEARCH_FILTER_GROUPS:
            raise _bad(f"Too many filter groups: {len(groups)}; the maximum is {SEARCH_FILTER_GROUPS}")
        total_filters = 0
        for group in groups:
            filters = group.get("filters") or []
            total_filters += len(filters)
            if len(filters) > SEARCH_FILTERS_PER_GROUP:
                raise _bad(
                    f"Too many filters in a group: {len(filters)}; the maximum is {SEARCH_FILTERS_PER_GROUP}"
                )
            for flt in filters:
                if flt.get("operator") not in SEARCH_OPERATORS:
                    raise _bad(f"Unknown operator {flt.get('operator')!r}")
                if flt.get("propertyName") not in self._properties[otype]:
                    raise _bad(f"Unknown property {flt.get('propertyName')!r} in filter")
                if flt["operator"] == "BETWEEN" and "highValue" not in flt:
                    raise _bad("BETWEEN needs value and highValue")
                if flt["operator"] in ("IN", "NOT_IN") and not isinstance(flt.get("values"), list):
                    raise _bad(f"{flt['operator']} needs values")
        if total_filters > SEARCH_FILTERS_TOTAL:
            raise _bad(f"Too many filters: {total_filters}; the maximum is {SEARCH_FILTERS_TOTAL} in total")
        sorts = payload.get("sorts") or []
        if len(sorts) > 1:
            raise _bad("Only one sort is allowed per search")
        sort_prop, descending = "createdate", False
        if sorts:
            sort = sorts[0]
            if isinstance(sort, str):
                descending, sort_prop = sort.startswith("-"), sort.lstrip("-")
            elif not isinstance(sort, dict):
                raise _bad(f"Invalid sort {sort!r}: expected {{propertyName, direction}}")
            else:
                sort_prop = sort.get("propertyName", "")
                descending = str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING"
            if sort_prop not in self._properties[otype]:
                raise _bad(f"Unknown sort property {sort_prop!r}")

        def keep(obj: StoredObject) -> bool:
            if groups and not any(
                all(self._match(otype, obj, f) for f in g.get("filters") or []) for g in groups
            ):
                return False
            if query:
                needle = str(query).lower()
                return any(needle in obj.properties.get(p, "").lower() for p in SEARCHABLE[otype])
            return True

        matches = [o for o in self._search_view(otype) if keep(o)]
        present = [
            (self._typed(otype, sort_prop, o.properties[sort_prop]), int(o.id), o)
            for o in matches
            if o.properties.get(sort_prop)
        ]
        absent = sorted((o for o in matches if not o.properties.get(sort_prop)), key=lambda o: int(o.id))
        present.sort(key=lambda t: (t[0] is None, t[0] if t[0] is not None else 0, t[1]), reverse=descending)
        ordered = [t[2] for t in present] + absent
        page = ordered[after : after + limit]
        names = self._select(otype, payload.get("properties") or [])
        body: dict[str, Any] = {"total": len(ordered), "results": [self._serialize(o, names) for o in page]}
        if after + limit < len(ordered):
            body["paging"] = {"next": {"after": str(after + limit)}}
        return 200, body

"""Merging two records (``POST /crm/v3/objects/{type}/merge``)."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request

from local.fakes.hubspot.constants import SINGULAR
from local.fakes.hubspot.helpers import _bad
from local.fakes.hubspot.model import StoredObject


class MergeMixin:
    """The merge handler: properties, associations and ids move to the surviving record."""

    def _h_merge(self, request: Request, payload: Any, otype: str) -> tuple[int, Any]:
        if not isinstance(payload, dict):
            raise _bad("primaryObjectId and objectIdToMerge are required")
        primary = self._live(otype, str(payload.get("primaryObjectId", "")))
        merged = self._live(otype, str(payload.get("objectIdToMerge", "")))
        if primary is None or merged is None or primary.id == merged.id:
            raise _bad("primaryObjectId and objectIdToMerge must be two different existing objects")
        source = self._api_source()
        moved = {
            name: value
            for name, value in merged.properties.items()
            if not primary.properties.get(name) and name not in self._system_properties(otype)
        }
        for name, value in merged.properties.items():
            self._unindex(otype, merged.id, name, value)
        links = [
            (c, co, p)
            for (c, co), p in self._assoc.items()
            if merged.id == (c if otype == "contacts" else co)
        ]
        for c, co, _ in links:
            self._assoc.pop((c, co), None)
        merged.archived, merged.archived_ms = True, self._now_ms()
        self._reindex_later(merged)
        self._merged_into[otype][merged.id] = primary.id
        for target, alias in list(self._merged_into[otype].items()):
            if alias == merged.id:
                self._merged_into[otype][target] = primary.id
        self._apply(primary, moved, source)
        for c, co, _ in links:
            self._assoc.setdefault((primary.id, co) if otype == "contacts" else (c, primary.id), False)
        for contact_id in {c for (c, _) in self._assoc}:
            pairs = sorted((p for p in self._assoc if p[0] == contact_id), key=lambda p: int(p[1]))
            if not any(self._assoc[p] for p in pairs):
                self._assoc[pairs[0]] = True
        survivor = self._new_id_for(primary) if self.merge_new_id else primary
        self._refresh_calculated()
        self._event(
            SINGULAR[otype] + ".merge",
            source,
            self._now_ms(),
            objectId=int(primary.id),
            changeFlag="MERGED",
            primaryObjectId=int(primary.id),
            mergedObjectIds=[int(merged.id)],
            newObjectId=int(survivor.id),
            numberOfPropertiesMoved=len(moved),
        )
        return 200, self._serialize(survivor, self._select(otype, None))

    def _new_id_for(self, old: StoredObject) -> StoredObject:
        """The merge result under a new id: ``old`` is archived, its id (and ids merged into it) now
        resolve to the new record, its associations move there."""
        otype = old.object_type
        new = StoredObject(
            str(next(self._ids[otype])), otype, dict(old.properties), old.created_ms, old.updated_ms
        )
        self._objects[otype][new.id] = new
        for name, value in old.properties.items():
            self._unindex(otype, old.id, name, value)
            self._index(otype, new.id, name, value)
        for pair in list(self._assoc):
            if old.id == (pair[0] if otype == "contacts" else pair[1]):
                primary_flag = self._assoc.pop(pair)
                moved = (new.id, pair[1]) if otype == "contacts" else (pair[0], new.id)
                self._assoc[moved] = primary_flag
        old.archived, old.archived_ms = True, self._now_ms()
        self._reindex_later(old)
        self._merged_into[otype][old.id] = new.id
        for target, alias in list(self._merged_into[otype].items()):
            if alias == old.id:
                self._merged_into[otype][target] = new.id
        self._stamp(new, created=old.created_ms, modified=max(self._now_ms(), old.updated_ms))
        return new

    def _system_properties(self, otype: str) -> set[str]:
        return {n for n, d in self._properties[otype].items() if d["modificationMetadata"]["readOnlyValue"]}

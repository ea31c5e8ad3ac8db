"""Batch writes: creates (upserts, or inline-associated contact creates), updates, and tying each
batch result or 207 error back to its item.

HubSpot writes 100 records per call but answers per input; every item must get its own result,
and one bad input must not fail the other 99 (a whole-batch 400 is bisected)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from crmsync.connectors.base import (
    AuthError,
    VendorError,
    VendorRefusedError,
    WriteItem,
    WriteResult,
    stale_fields,
    stale_result,
)
from crmsync.connectors.hubspot_associations import PRIMARY_COMPANY
from crmsync.connectors.hubspot_client import BATCH_SIZE
from crmsync.connectors.hubspot_errors import RETRYABLE_CATEGORIES
from crmsync.connectors.hubspot_mapping import HS_TYPE, RECORD_ID_PROPERTY
from crmsync.connectors.hubspot_reads import HubSpotReads
from crmsync.models import ObjectType


def _chunks(
    items: Sequence[tuple[int, WriteItem]], keys: Callable[[WriteItem], tuple[str, ...]]
) -> list[list[tuple[int, WriteItem]]]:
    """Batches of at most 100 in which every key value is unique (HubSpot rejects duplicate ids)."""
    batches: list[list[tuple[int, WriteItem]]] = []
    seen: list[set[str]] = []
    for entry in items:
        values = keys(entry[1])
        for batch, used in zip(batches, seen, strict=True):
            if len(batch) < BATCH_SIZE and not used.intersection(values):
                batch.append(entry)
                used.update(values)
                break
        else:
            batches.append([entry])
            seen.append(set(values))
    return batches


class HubSpotWrites(HubSpotReads):
    """Write batches of ``HubSpotConnector`` (``write`` itself orchestrates them)."""

    def _create_with_parent(
        self,
        batch: list[tuple[int, WriteItem]],
        results: dict[int, WriteResult],
        linked: set[int],
    ) -> list[tuple[int, WriteItem]]:
        """Create contacts with their primary company inline; returns those left for the upsert path."""
        inputs: list[dict[str, Any]] = [
            {
                "properties": self.to_properties(ObjectType.CONTACT, it.fields)
                | {RECORD_ID_PROPERTY: it.record_id},
                "associations": [{"to": {"id": str(it.parent_external_id)}, "types": PRIMARY_COMPANY}],
            }
            for _, it in batch
        ]
        try:
            data, request_id = self._post("/crm/v3/objects/contacts/batch/create", {"inputs": inputs})
        except AuthError:
            raise
        except VendorError as exc:
            if not exc.retryable:
                return batch  # refused as a whole (a clash with an earlier attempt, a bad input): upsert
            for i, it in batch:
                results[i] = self._failed(
                    it, exc.message, exc.code, exc.retryable, exc.request_id, exc.retry_after
                )
            return []
        left = {it.record_id: (i, it) for i, it in batch}
        for obj in data.get("results") or []:
            entry = left.pop(str((obj.get("properties") or {}).get(RECORD_ID_PROPERTY)), None)
            if entry is None:
                continue
            index, item = entry
            linked.add(index)
            results[index] = WriteResult(
                record_id=item.record_id,
                ok=True,
                external_id=str(obj["id"]),
                record=self.to_source(ObjectType.CONTACT, obj, parent=item.parent_external_id, partial=True),
                request_id=request_id,
            )
        return list(left.values())  # an input HubSpot refused (207) or did not answer: upsert

    def _drop_stale(
        self, object_type: ObjectType, updates: list[tuple[int, WriteItem]], results: dict[int, WriteResult]
    ) -> list[tuple[int, WriteItem]]:
        """Read the update targets first (one batch read per 100) and hold back the ones a person changed.

        HubSpot's batch update has no version check; without this read a salesperson's edit whose
        webhook is still on its way would be overwritten, and its webhook would then read as an echo.
        """
        checked = [(i, it) for i, it in updates if it.expected]
        if not checked:
            return updates
        current = self.get_many(object_type, [str(it.external_id) for _, it in checked])
        keep = []
        for i, it in updates:
            now = current.get(str(it.external_id))
            changed = stale_fields(it.expected, now.fields) if it.expected and now is not None else []
            if changed:
                results[i] = stale_result(it, changed, "HubSpot")
            else:
                keep.append((i, it))
        return keep

    def _input(self, object_type: ObjectType, mode: str, item: WriteItem) -> dict[str, Any]:
        props = self.to_properties(object_type, item.fields)
        if mode == "upsert":
            return {
                "id": item.record_id,
                "idProperty": RECORD_ID_PROPERTY,
                "properties": props,
                "objectWriteTraceId": item.record_id,
            }
        return {"id": str(item.external_id), "properties": props, "objectWriteTraceId": item.record_id}

    def _write_batch(
        self,
        object_type: ObjectType,
        mode: str,
        batch: list[tuple[int, WriteItem]],
        results: dict[int, WriteResult],
        created: set[str],
    ) -> None:
        if mode == "update":
            empty = [(i, it) for i, it in batch if not self.to_properties(object_type, it.fields)]
            for i, it in empty:
                results[i] = WriteResult(record_id=it.record_id, ok=True, external_id=it.external_id)
            batch = [(i, it) for i, it in batch if i not in results]
            if not batch:
                return
        body = {"inputs": [self._input(object_type, mode, it) for _, it in batch]}
        try:
            data, request_id = self._post(f"/crm/v3/objects/{HS_TYPE[object_type]}/batch/{mode}", body)
        except AuthError:
            raise
        except VendorRefusedError as exc:
            if len(batch) > 1:  # one bad input can fail the whole batch: bisect to isolate it
                half = len(batch) // 2
                self._write_batch(object_type, mode, batch[:half], results, created)
                self._write_batch(object_type, mode, batch[half:], results, created)
                return
            results[batch[0][0]] = self._failed(
                batch[0][1], exc.message, exc.code, exc.retryable, exc.request_id
            )
            return
        except VendorError as exc:
            for i, it in batch:
                results[i] = self._failed(
                    it, exc.message, exc.code, exc.retryable, exc.request_id, exc.retry_after
                )
            return
        self._collect(object_type, mode, batch, data, request_id, results, created)

    def _collect(
        self,
        object_type: ObjectType,
        mode: str,
        batch: list[tuple[int, WriteItem]],
        data: dict[str, Any],
        request_id: str | None,
        results: dict[int, WriteResult],
        created: set[str],
    ) -> None:
        """Tie batch results and 207 errors back to items (trace id, else id / crmsync record id)."""
        by_trace = {it.record_id: i for i, it in batch}
        by_key = {(it.record_id if mode == "upsert" else str(it.external_id)): i for i, it in batch}
        items = dict(batch)
        for obj in data.get("results") or []:
            props = obj.get("properties") or {}
            index = by_trace.get(str(obj.get("objectWriteTraceId")))
            if index is None:
                key = props.get(RECORD_ID_PROPERTY) if mode == "upsert" else str(obj.get("id"))
                index = by_key.get(str(key))
            if index is None or index in results:
                continue
            item = items[index]
            if obj.get("new") is True:
                created.add(str(obj["id"]))
            parent = item.parent_external_id if object_type is ObjectType.CONTACT else None
            results[index] = WriteResult(
                record_id=item.record_id,
                ok=True,
                external_id=str(obj["id"]),
                record=self.to_source(object_type, obj, parent=parent, partial=True),
                request_id=request_id,
            )
        for error in data.get("errors") or []:
            context = error.get("context") or {}
            category = str(error.get("category") or "") or None
            message = str(error.get("message") or "HubSpot rejected this input")
            retryable = category in RETRYABLE_CATEGORIES
            targets = [by_trace[t] for t in context.get("objectWriteTraceId") or [] if t in by_trace]
            targets += [by_key[k] for k in context.get("ids") or context.get("id") or [] if k in by_key]
            if not targets:  # an error HubSpot could not attribute: it belongs to every unanswered item
                targets = [i for i, _ in batch if i not in results]
            for index in targets:
                if index not in results:
                    results[index] = self._failed(items[index], message, category, retryable, request_id)
        for index, item in batch:
            if index not in results:
                results[index] = self._failed(
                    item,
                    "HubSpot returned neither a result nor an error for this input",
                    "NO_RESULT",
                    True,
                    request_id,
                )

    @staticmethod
    def _failed(
        item: WriteItem,
        message: str,
        code: str | None,
        retryable: bool,
        request_id: str | None,
        retry_after: float | None = None,
    ) -> WriteResult:
        return WriteResult(
            record_id=item.record_id,
            ok=False,
            external_id=item.external_id,
            error=message,
            error_code=code,
            retryable=retryable,
            request_id=request_id,
            retry_after=retry_after,
        )

"""Writes: creates with deterministic ids, updates with ``If-Match``, ``$batch`` with per-item outcomes.

One write is one request; more are sent as ``$batch`` bodies of ``BATCH_SIZE`` independent requests
with ``Prefer: odata.continue-on-error`` (see the connector docstring for why not change sets). Every
request asks for ``return=representation`` so the result carries the row and its new ETag. What a
first round cannot settle is settled after it: a duplicate id on create is read back (an earlier attempt
created it), and a 412 on update is compared with the item's ``expected`` values on a fresh read.
"""

from __future__ import annotations

from typing import Any

import httpx

from crmsync.connectors.base import (
    AuthError,
    ConflictError,
    NotFoundError,
    StaleError,
    TransientError,
    VendorError,
    WriteItem,
    WriteResult,
    stale_fields,
    stale_result,
)
from crmsync.connectors.dataverse_batch import BatchPart, decode_batch, encode_batch
from crmsync.connectors.dataverse_client import ANNOTATIONS
from crmsync.connectors.dataverse_errors import dataverse_error, is_duplicate_key
from crmsync.connectors.dataverse_mapping import ENTITY_SET, PRIMARY_KEY, is_guid, record_guid
from crmsync.connectors.dataverse_reads import DataverseReads
from crmsync.models import ObjectType

BATCH_SIZE = 100
"""Requests per ``$batch`` (Dataverse allows 1,000): bounds the body, the batch's execution time (it
counts against the 20-minutes-per-5-minutes service protection limit as one long request) and what one
failed batch (a 429, a timeout) sends back to the retry path."""
Outcome = httpx.Response | VendorError


def _failed(item: WriteItem, error: VendorError, code: str | None = None) -> WriteResult:
    return WriteResult(
        record_id=item.record_id,
        ok=False,
        external_id=item.external_id,
        error=error.message,
        error_code=code or error.code,
        retryable=error.retryable,
        request_id=error.request_id,
        retry_after=error.retry_after,
    )


class DataverseWrites(DataverseReads):
    """``write`` of ``DataverseConnector``."""

    def _part(self, object_type: ObjectType, item: WriteItem, etag: str | None = None) -> BatchPart:
        body = self.to_columns(object_type, item.fields, item.parent_external_id)
        headers = {"Prefer": f"return=representation, {ANNOTATIONS}"}
        select = {"$select": self.select(object_type)}
        if item.external_id is None:
            body[PRIMARY_KEY[object_type]] = record_guid(item.record_id)
            return BatchPart("POST", self.url(ENTITY_SET[object_type], select), body, headers)
        headers["If-Match"] = etag or item.version or "*"  # "*": an update never creates
        url = self.url(f"{ENTITY_SET[object_type]}({item.external_id})", select)
        return BatchPart("PATCH", url, body, headers)

    def _send(self, parts: list[BatchPart]) -> list[Outcome]:
        """One request, or ``$batch`` bodies of ``BATCH_SIZE``; an outcome per part, in order."""
        if len(parts) == 1:
            part = parts[0]
            try:
                return [self._call(part.method, part.url, headers=part.headers, body=part.body)]
            except AuthError:
                raise
            except VendorError as exc:
                return [exc]
        outcomes: list[Outcome] = []
        for start in range(0, len(parts), BATCH_SIZE):
            outcomes += self._send_batch(parts[start : start + BATCH_SIZE])
        return outcomes

    def _send_batch(self, parts: list[BatchPart]) -> list[Outcome]:
        content_type, content = encode_batch(parts)
        headers = {"Content-Type": content_type}
        try:
            response = self._call(
                "POST",
                self.url("$batch"),
                headers=headers,
                content=content,
                prefer=["odata.continue-on-error"],
                ok=(200,),
            )
            answers = decode_batch(response.headers.get("Content-Type", ""), response.content)
        except AuthError:
            raise
        except VendorError as exc:
            return [exc] * len(parts)
        except (ValueError, UnicodeDecodeError) as exc:
            failure = TransientError(f"unreadable $batch answer: {exc}", code="bad_batch")
            return [failure] * len(parts)
        outcomes: list[Outcome] = []
        for index in range(len(parts)):
            if index >= len(answers):
                outcomes.append(TransientError("no answer for this request in the batch", code="no_result"))
                continue
            answer = answers[index]
            if answer.status_code >= 300:
                error = dataverse_error(answer)
                if isinstance(error, AuthError):
                    raise error
                outcomes.append(error)
            else:
                outcomes.append(answer)
        return outcomes

    def _written(self, object_type: ObjectType, item: WriteItem, response: httpx.Response) -> WriteResult:
        row = self._json(response)
        external_id = item.external_id or record_guid(item.record_id)
        record = self.to_source(object_type, row) if row.get(PRIMARY_KEY[object_type]) else None
        return WriteResult(
            record_id=item.record_id,
            ok=True,
            external_id=record.external_id if record else external_id,
            record=record,
            request_id=response.headers.get("REQ_ID") or response.headers.get("x-ms-service-request-id"),
        )

    def write(self, object_type: ObjectType, items: list[WriteItem]) -> list[WriteResult]:
        results: dict[int, WriteResult] = {}
        pending: list[tuple[int, WriteItem]] = []
        for index, item in enumerate(items):
            if item.external_id is not None and not is_guid(item.external_id):
                results[index] = _failed(item, NotFoundError("not a Dataverse id"), "not_found")
            elif item.external_id is not None and not self.to_columns(
                object_type, item.fields, item.parent_external_id
            ):
                results[index] = WriteResult(record_id=item.record_id, ok=True, external_id=item.external_id)
            else:
                pending.append((index, item))
        outcomes = self._send([self._part(object_type, item) for _, item in pending])
        duplicates: list[tuple[int, WriteItem]] = []
        stale: list[tuple[int, WriteItem]] = []
        for (index, item), outcome in zip(pending, outcomes, strict=True):
            if isinstance(outcome, httpx.Response):
                results[index] = self._written(object_type, item, outcome)
            elif item.external_id is None and is_duplicate_key(outcome):
                duplicates.append((index, item))
            elif item.external_id is not None and isinstance(outcome, StaleError):
                stale.append((index, item))
            else:
                results[index] = _failed(item, outcome)
        for settle, entries in ((self._read_back, duplicates), (self._settle_stale, stale)):
            try:
                settle(object_type, entries, results)
            except AuthError:
                raise
            except VendorError as exc:  # the read behind it failed: those items alone get the failure
                for index, item in entries:
                    results.setdefault(index, _failed(item, exc, "check_failed"))
        return [results[i] for i in range(len(items))]

    def _read_back(
        self, object_type: ObjectType, created: list[tuple[int, WriteItem]], results: dict[int, WriteResult]
    ) -> None:
        """A create whose deterministic id exists: an earlier attempt created it. Read it, report ok."""
        if not created:
            return
        rows = self.get_many(object_type, [record_guid(item.record_id) for _, item in created])
        for index, item in created:
            record = rows.get(record_guid(item.record_id))
            if record is None:
                error = TransientError("the id exists but its row cannot be read yet", code="duplicate_id")
                results[index] = _failed(item, error)
            else:
                results[index] = WriteResult(
                    record_id=item.record_id, ok=True, external_id=record.external_id, record=record
                )

    def _settle_stale(
        self, object_type: ObjectType, stale: list[tuple[int, WriteItem]], results: dict[int, WriteResult]
    ) -> None:
        """412 on update: the row changed since crmsync's read. Only a change to a field of ours is stale.

        A fresh read decides: fields in ``expected`` that differ now -> ``stale`` (the caller reconciles
        the person's edit first); no expected values -> ``stale`` too (which fields changed is unknown,
        reconciling is the safe way); nothing of ours changed -> the update is sent once more with the
        fresh ETag (a second 412 is a retryable ``ConflictError``).
        """
        if not stale:
            return
        current = self.get_many(object_type, [str(item.external_id) for _, item in stale])
        again: list[tuple[int, WriteItem, str | None]] = []
        for index, item in stale:
            now = current.get(str(item.external_id))
            if now is None:
                results[index] = _failed(item, NotFoundError("the row was deleted in Dataverse"), "not_found")
                continue
            changed = stale_fields(item.expected, now.fields) if item.expected else ["unknown fields"]
            if changed:
                results[index] = stale_result(item, changed, "Dataverse")
            else:
                again.append((index, item, now.version))
        if not again:
            return
        outcomes = self._send([self._part(object_type, item, etag or "*") for _, item, etag in again])
        for (index, item, _), outcome in zip(again, outcomes, strict=True):
            if isinstance(outcome, httpx.Response):
                results[index] = self._written(object_type, item, outcome)
            elif isinstance(outcome, StaleError):
                results[index] = _failed(item, self._conflict(outcome), "precondition_failed")
            else:
                results[index] = _failed(item, outcome)

    @staticmethod
    def _conflict(error: VendorError) -> ConflictError:
        kw: dict[str, Any] = {"status": error.status, "code": error.code, "request_id": error.request_id}
        return ConflictError(f"changed again while retrying: {error.message}", **kw)

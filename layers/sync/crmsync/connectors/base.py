"""The contract between the sync layer and a vendor connector.

A connector turns vendor records into canonical ``SourceRecord``s and canonical ``WriteItem``s into
vendor calls. It never decides *what* to sync (that is the engine) and never touches DynamoDB.
Errors are typed so the caller can tell "retry later" from "the vendor refuses this record".
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from crmsync.models import Fields, ObjectType, Side
from crmsync.models import (
    SourceRecord as SourceRecord,  # lives in the models: the engine imports no connector
)

if TYPE_CHECKING:  # http imports the error types from here
    from crmsync.connectors.http import VendorHttp


class WriteItem(BaseModel):
    """A create (``external_id`` is None) or a partial update of canonical fields."""

    record_id: str
    external_id: str | None = None
    fields: Fields
    parent_external_id: str | None = None
    version: str | None = None
    expected: Fields = Field(
        default_factory=dict,
        description="update: the values crmsync last saw there; a differing one makes the write stale",
    )


class WriteResult(BaseModel):
    """Outcome of one ``WriteItem``. ``record`` is the vendor's state after the write, if returned."""

    record_id: str
    ok: bool
    external_id: str | None = None
    record: SourceRecord | None = None
    error: str | None = None
    error_code: str | None = None
    retryable: bool = False
    request_id: str | None = None
    retry_after: float | None = None
    """Seconds the vendor (or the rate budget) asked to wait before this write is tried again."""


class VendorError(Exception):
    """Base for vendor failures; ``retryable`` tells the caller whether waiting may help."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.retry_after = retry_after
        """Seconds to wait before trying again, when known (a 429's ``Retry-After``, a spent budget)."""


class AuthError(VendorError):
    """401/403: credentials wrong or missing scope; no retry helps."""


class NotFoundError(VendorError):
    """404 for a single resource."""


class VendorRefusedError(VendorError):
    """The vendor refuses this payload (400/422): park it with the reason."""


class ConflictError(VendorError):
    """409: concurrent change (e-conomic objectVersion) or duplicate; re-read and retry."""

    retryable = True


def stale_fields(expected: Fields, current: Fields) -> list[str]:
    """Fields whose current value differs from what crmsync expected there (fields the read lacks are skipped)."""
    return sorted(n for n, v in expected.items() if n in current and current[n] != v)


def stale_result(item: WriteItem, changed: list[str], vendor: str) -> WriteResult:
    """The result of an update not sent: ``changed`` fields moved on the target since crmsync read them."""
    return WriteResult(
        record_id=item.record_id,
        ok=False,
        external_id=item.external_id,
        error=f"changed in {vendor} since last read: {', '.join(changed)}",
        error_code=StaleError.code,
    )


class StaleError(VendorError):
    """The target changed a field crmsync is about to write since crmsync last saw it: nothing written.

    The caller reconciles the target's current state first (the edit applies, conflicts or is kept as
    overridden) and plans again, so a person's edit is never overwritten unseen.
    """

    code = "stale"


class RateLimitedError(VendorError):
    """429: honour ``retry_after`` seconds."""

    retryable = True


class TransientError(VendorError):
    """5xx, timeouts, connection errors."""

    retryable = True


@runtime_checkable
class Connector(Protocol):
    """What the sync layer needs from a vendor. One instance per tenant connection."""

    connection_id: str
    side: Side
    http: VendorHttp

    def supported_fields(self, object_type: ObjectType) -> frozenset[str]:
        """Canonical fields this vendor stores for the object type (others are never sent)."""
        ...

    def ensure_setup(self) -> None:
        """Idempotently create what the connector needs on the vendor (e.g. custom properties)."""
        ...

    def get(self, object_type: ObjectType, external_id: str) -> SourceRecord | None:
        """Current state of one record; ``None`` when it does not exist (deleted)."""
        ...

    def get_many(self, object_type: ObjectType, external_ids: list[str]) -> dict[str, SourceRecord]:
        """Batch read where the vendor has one; missing ids are absent from the result."""
        ...

    def contacts_of(self, customer_external_id: str) -> list[SourceRecord]:
        """The contact persons attached to one customer on this side."""
        ...

    def changed_since(self, object_type: ObjectType, since: datetime) -> Iterator[SourceRecord]:
        """Records modified at or after ``since`` (inclusive), oldest first, all pages."""
        ...

    def list_all(self, object_type: ObjectType) -> Iterator[SourceRecord]:
        """Every record of the type, in the vendor's largest pages."""
        ...

    def delete(self, object_type: ObjectType, external_id: str) -> None:
        """Delete one record (only ever for a deletion a tenant allowed or a person approved)."""
        ...

    def write(self, object_type: ObjectType, items: list[WriteItem]) -> list[WriteResult]:
        """Create/update records, batched where the vendor allows; one result per item, same order."""
        ...


class DeltaExpired(VendorError):
    """A change-tracking link older than the vendor keeps changes: every row must be read again."""


class DeltaPage(BaseModel):
    """One page of a change-tracking read: its rows, its deletions, and where the read goes on."""

    records: list[SourceRecord]
    deleted: list[str] = Field(default_factory=list, description="external ids the vendor reports deleted")
    next_link: str | None = Field(None, description="the rest of this read (opaque): resume it here")
    delta_link: str | None = Field(None, description="on the last page: the changes since this read")


@runtime_checkable
class DeltaReader(Protocol):
    """A connector that reads changes by the vendor's change tracking (Dataverse): what the pull uses
    instead of ``changed_since`` when the connector has it (checked with ``isinstance``).

    Change tracking reports deletions in the vendor's own words and needs no time window (no overlap,
    no clock skew); the link it returns is opaque and moves only after its changes were enqueued.
    """

    def change_pages(self, object_type: ObjectType, link: str | None = None) -> Iterator[DeltaPage]:
        """The pages of a change read, lazily: from ``link`` (None: every row, a backfill; a delta link:
        the changes since; a page's ``next_link``: the rest of a read in progress). The last page
        carries the ``delta_link``, every other page its ``next_link``.

        Raises ``DeltaExpired`` when the link is too old to answer; the caller then reads every row
        again (``link=None``).
        """
        ...

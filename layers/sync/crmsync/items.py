"""The typed items the store keeps besides records and conflicts: what its repositories take and give.

Each is a pydantic model, so the store's callers (the flow, the API) never build or read ad-hoc dicts,
and the API shows the same shapes in its OpenAPI document. Stored as JSON in one ``data`` attribute;
older items (written before a field existed) read with that field's default.

- ``ParkedWrite`` / ``ParkedMessage``: a refused write, or a queue message that could not be done
  (``parking``); ``parked_entry`` reads either (an entry without ``kind`` is a write).
- ``PendingDelete``: a deletion waiting for a person (``deletes``).
- ``Job``: a bulk transfer's counters (``routes.transfers``).
- ``ConnectionState``: ``ok`` / ``needs_attention`` of a tenant connection (``connection_state``).
- ``TokenInfo``: an API token's listing entry, never the token (``tokens``).
- ``TimelineEntry``: one entry of a record's timeline (``store.timeline``).
- ``DeltaCheckpoint`` / ``FullCompare``: how far the pull read a connection's change tracking, and the
  last full compare an expired token forced (``pull``, ``store.checkpoints``, shown by ``health``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter

from crmsync.models import ObjectType

MESSAGE_KINDS = ("signal", "push", "transfer_page")


class _Parked(BaseModel):
    """What every parked entry carries once stored: its id, how often it was parked, and when last."""

    id: str = Field("", description="the parked id (replay or drop it by this)")
    attempts: int = Field(1, description="how often it was parked (a record refused again counts up)")
    parked_at: str | None = Field(None, description="when it was parked last (ISO 8601)")
    reason: str = Field(description="why: the vendor's message, or why the work could not go on")

    def stored(self) -> dict[str, Any]:
        """The JSON the item keeps (its id, attempts and time live in the item's own attributes)."""
        return self.model_dump(mode="json", exclude={"id", "attempts", "parked_at"})


class ParkedWrite(_Parked):
    """A write the target refused: one per record and connection, replayed from the current state."""

    kind: Literal["write"] = "write"
    record_id: str
    connection: str
    object_type: ObjectType
    action: str = Field(description="`create` or `update`")
    error_code: str | None = None
    request_id: str | None = Field(None, description="the vendor's request id (for its support)")
    fields: list[str] = Field(default_factory=list, description="the fields the write carried")


class ParkedMessage(_Parked):
    """A queue message that exhausted its retries or whose connection needs attention, kept whole."""

    kind: Literal["signal", "push", "transfer_page"]
    message: dict[str, Any] = Field(description="the queue message as it was (it carries no field values)")
    record_id: str | None = None


def _parked_kind(value: Any) -> str:
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return "message" if kind in MESSAGE_KINDS else "write"


ParkedEntry = Annotated[
    Annotated[ParkedWrite, Tag("write")] | Annotated[ParkedMessage, Tag("message")],
    Discriminator(_parked_kind),
]
"""A parked write or message (an entry stored without ``kind`` is a write: items from before kinds)."""

_PARKED: TypeAdapter[ParkedWrite | ParkedMessage] = TypeAdapter(ParkedEntry)


def parked_entry(data: dict[str, Any]) -> ParkedWrite | ParkedMessage:
    return _PARKED.validate_python(data)


class PendingDelete(BaseModel):
    """A record deleted on one side, waiting for a person to approve or reject its deletion elsewhere."""

    record_id: str
    object_type: ObjectType
    name: str | None = None
    deleted_on: str = Field(description="the connection it was deleted on")
    targets: dict[str, str] = Field(description="connection -> external id it would be deleted on")
    at: datetime | None = None
    reason: str | None = Field(None, description="the mass-delete guard's reason, or the vendor's refusal")


class Job(BaseModel):
    """A bulk job's counters and times, with what it does (a transfer) and its plan's counts."""

    job_id: str
    total: int
    done: int = 0
    failed: int = 0
    created_at: str
    updated_at: str
    what: str | None = None
    plan: dict[str, Any] | None = None


NEEDS_ATTENTION = "needs_attention"


class ConnectionState(BaseModel):
    """Whether a tenant connection works; while it needs attention, why, since when, and the next probe."""

    state: Literal["ok", "needs_attention"]
    since: str | None = None
    reason: str | None = None
    error: str | None = None
    failures: int = 0
    last_failure_at: str | None = None
    next_probe_at: str | None = None
    config_version: int | None = None
    secret_checked: bool = Field(False, exclude=True)
    """This invocation already asked whether the secret changed (never stored)."""

    @property
    def needs_attention(self) -> bool:
        return self.state == NEEDS_ATTENTION


LEGACY_TOKEN_EXPIRY = datetime(2027, 3, 7, tzinfo=UTC)
"""When tokens issued without an expiry stop working: 90 days after expiries were introduced (``tokens``)."""


class TokenInfo(BaseModel):
    """What a listing shows of an API token (never the token, never its full hash)."""

    model_config = ConfigDict(frozen=True)

    token_id: str = Field("", description="empty on tokens from before ids (they are not listed)")
    tenant_id: str
    name: str = ""
    created_at: datetime | None = None
    expires_at: datetime = LEGACY_TOKEN_EXPIRY

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def as_dict(self, now: datetime) -> dict[str, str | bool | None]:
        return {
            "token_id": self.token_id,
            "name": self.name,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "expires_at": self.expires_at.isoformat(),
            "expired": self.expired(now),
        }


class FieldChange(TypedDict):
    """One field's values around a change (``TimelineEntry.changes``)."""

    before: Any
    after: Any


class TimelineEntry(TypedDict, total=False):
    """One timeline entry, as ``timeline`` returns it (callers write plain dicts of the same shape with
    ``journal`` / ``journal_many`` / ``save_record(log=...)``; stored as JSON, so ``at`` reads back as
    ISO text). Every entry has ``at`` and ``decision``; the rest depends on the kind. A TypedDict, not
    a pydantic model: one is built per signal on the hot path and stored as JSON as it is."""

    at: str | datetime
    """When it happened (written as a datetime, read back as ISO 8601 text); the timeline's order."""
    kind: str
    """``signal`` (a change seen on a side), ``write`` (crmsync wrote to a vendor) or ``resolution``
    (a person settled a conflict or a delete); absent on some older decisions (``linked``, ...)."""
    decision: str
    """What was decided: ``created``, ``applied``, ``unchanged``, ``echo``, ``conflict``, ``ignored``,
    ``source_deleted``, ``written``, ``parked``, ``deleted``, ``resolved``, ``linked``, ``unlinked``,
    ``id_reused``, ``lead_converted``, ``delete_rejected``, ..."""
    signal: str
    """Where a signal came from: ``webhook``, ``pull``, ``api`` or ``replay``."""
    connection: str
    """The connection the signal came from or the write went to."""
    external_id: str | None
    """The record's id on that connection."""
    changes: dict[str, FieldChange]
    """Field name -> its value before and after."""
    conflicts: list[str]
    """A signal's fields in conflict (held for a person or settled by their rule)."""
    held: list[str]
    """A signal's fields not applied while a conflict on them is open."""
    overridden: list[str]
    """A signal's fields this side does not own: its edit is kept (restorable), the owner's value stays."""
    unmapped: list[str]
    """A signal's source fields with no mapping (shown, never synced)."""
    renumbered_from: str | None
    """The external id the record had on ``connection`` before the vendor renumbered it."""
    action: str
    """A write's action: ``create`` or ``update``."""
    request_id: str | None
    """The vendor's request id of a write (for its support)."""
    reason: str
    """Why a write was parked (the vendor's message)."""
    other_side: str
    """``source_deleted``: what became of the other side (``kept``, ``pending``, ``propagated``...)."""
    merged: str
    """``linked``: the record merged into this one when two were linked."""
    links: list[str]
    """``linked``: the connections the record is linked on afterwards."""
    split_into: str
    """``unlinked``: the record the CRM side was split into."""
    merged_id: str | None
    """A vendor merge: the external id that was merged away."""
    outcome: str
    """``lead_converted``: how (``existing``, ``merged``, ``created``, ``walk_in``...)."""
    lead: str | None
    """``lead_converted``: the lead's id."""


class FullCompare(BaseModel):
    """A full compare the pull ran because the vendor refused its change-tracking token (too old).

    Kept so a person can see it happened: every row was read again and compared with what crmsync
    holds (nothing deleted by absence, nothing duplicated: links exist).
    """

    object_type: ObjectType
    at: datetime = Field(description="when it ran (its rows were all enqueued before it was stored)")
    reason: str = Field(description="why: the vendor's words")
    rows: int = Field(description="rows read and compared")


class DeltaCheckpoint(BaseModel):
    """How far the scheduled pull read a connection's change tracking for one object type.

    ``delta_link`` is the vendor's opaque link to the changes since the last complete read; it moves only
    after every signal of a read was enqueued. ``resume_link`` is where a read still in progress goes on
    (a backfill or full compare bigger than one run's share): each page's signals are enqueued before
    it moves, so a run that stops (its page share spent, a timeout) loses nothing and repeats at most
    one page. Never shown by the API (only useful to the pull).
    """

    delta_link: str | None = None
    resume_link: str | None = None
    last_success: datetime
    last_seen: int = Field(0, description="rows and deletions the last read returned")
    last_full_compare: FullCompare | None = None


class FactsEntry(BaseModel):
    """The accounting facts last written to one record's CRM company (``store.facts``; values as text)."""

    record_id: str
    customer_number: str
    hash: str
    values: dict[str, str | None]
    updated_at: datetime

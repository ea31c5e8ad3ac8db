"""The worker's queue messages: one discriminated union, parsed once at the boundary.

Seven kinds travel on the signals and bulk queues (``signal_queue``): a ``SignalBundle`` (``kind:
"signals"``, up to 100 signals), a bare ``Signal`` (older messages and hand-sent ones: no ``kind``), a
``PushRequest`` (``"push"``), a ``TransferPage`` (``"transfer_page"``), a ``FactsRefresh``
(``"facts"``), ``JournalNotes`` (``"notes"``) and a ``DriftRun`` (``"drift"``). ``WorkMessage`` tells them
apart by ``kind`` and ``WorkRecord`` is the SQS record whose body is one of them, for Powertools'
``BatchProcessor(model=...)``: a body that is none of them fails its record before any code runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Json, Tag

from crmsync.models import Signal, SignalBundle


class PushRequest(BaseModel):
    """A push that failed on a retryable vendor error, moved from the stream to the signals queue.

    The stream must not block its shard retrying a vendor that throttles; the queue retries with its own
    visibility timeout, and after ``maxReceiveCount`` the request is parked and moves to the DLQ.
    The record is read again when the request runs, so a replay never sends an old payload.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["push"] = "push"
    tenant_id: str
    record_ids: list[str] = Field(min_length=1, max_length=100)
    replay: bool = Field(default=False, exclude_if=lambda v: not v)
    """A person replayed it: tried even while its connection needs attention."""
    bulk: bool = Field(default=False, exclude_if=lambda v: not v)
    """Retrying bulk work (a backfill's pushes): goes to the bulk queue (``signal_queue``)."""


class TransferPage(BaseModel):
    """One page of an applied transfer, processed by the worker like a signal (SQS message)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["transfer_page"] = "transfer_page"
    tenant_id: str
    job_id: str
    page: int = Field(
        default=0, ge=0, description="the page's number in its job: progress counts once per page"
    )
    links: list[tuple[str, str]] = Field(default_factory=list)
    creates: dict[str, list[str]] = Field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.links) + sum(len(v) for v in self.creates.values())


class FactsRefresh(BaseModel):
    """Refresh a tenant's accounting facts in the CRM (``crmsync.facts_refresh``): all linked customers
    (the scheduled run, ``bulk``), or the customer of one booked invoice (e-conomic's webhook)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["facts"] = "facts"
    tenant_id: str
    invoice: int | None = Field(default=None, ge=1, description="the booked invoice's number")
    bulk: bool = Field(default=False, exclude_if=lambda v: not v)


class DriftRun(BaseModel):
    """Compare every record of a tenant with both sides (``crmsync.drift``): bulk work."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["drift"] = "drift"
    tenant_id: str
    bulk: bool = True


class JournalNote(BaseModel):
    """One note for the CRM journal (``crmsync.journal_notes``): the record it is about and its text."""

    model_config = ConfigDict(extra="forbid")

    record_id: str
    text: str = Field(max_length=10_000)
    at: datetime
    key: str = Field(description="stable per timeline entry: CRMs that take client ids never duplicate it")


class JournalNotes(BaseModel):
    """Notes to create in a tenant's CRM (bulk lane: a note never delays a sync)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["notes"] = "notes"
    tenant_id: str
    notes: list[JournalNote] = Field(min_length=1, max_length=100)
    bulk: bool = True


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("kind", "signal"))
    return str(getattr(value, "kind", "signal"))


WorkMessage = Annotated[
    Annotated[SignalBundle, Tag("signals")]
    | Annotated[Signal, Tag("signal")]
    | Annotated[PushRequest, Tag("push")]
    | Annotated[TransferPage, Tag("transfer_page")]
    | Annotated[FactsRefresh, Tag("facts")]
    | Annotated[JournalNotes, Tag("notes")]
    | Annotated[DriftRun, Tag("drift")],
    Discriminator(_kind),
]


class WorkRecord(SqsRecordModel):
    """An SQS record of the worker's queues, its body parsed into a ``WorkMessage``."""

    body: Json[WorkMessage]

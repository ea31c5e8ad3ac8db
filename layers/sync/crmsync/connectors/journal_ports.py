"""What the CRM journal needs from a CRM connector: notes on companies (``NotesWriter``).

HubSpot: notes associated to the company (``hubspot_journal``); Dynamics 365: annotations regarding the
account (``dataverse_notes``). Checked with ``isinstance`` (a CRM without them: the journal is skipped).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from crmsync.connectors.base import VendorError


class CrmNote(BaseModel):
    """One journal entry on a company's timeline: plain text at a point in time."""

    company_id: str
    body: str
    at: datetime
    key: str | None = Field(
        default=None,
        description="a stable key of the entry: a CRM that lets the client choose ids (Dataverse) "
        "derives the note's id from it, so a resent note is not a second one",
    )


class NotesNotAllWritten(VendorError):
    """``create_notes`` stopped. ``ids`` is in input order (None: refused, unknown or unsent);
    ``unknown`` are the input indexes that may or may not have been created (not to be resent
    blindly), ``unsent`` those never sent (safe to send again)."""

    def __init__(
        self, message: str, *, ids: list[str | None], unknown: list[int], unsent: list[int], **kw: Any
    ) -> None:
        super().__init__(message, **kw)
        self.ids = ids
        self.unknown = unknown
        self.unsent = unsent


@runtime_checkable
class NotesWriter(Protocol):
    def create_notes(self, notes: list[CrmNote]) -> list[str | None]:
        """Create the notes; their ids in input order (None: the CRM refused that note)."""
        ...

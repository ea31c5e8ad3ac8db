"""The CRM journal on Dynamics: notes (``annotation`` rows) regarding the account.

One ``POST annotations`` per note, 100 to a ``$batch`` with continue-on-error: ``subject`` "crmsync",
``notetext`` the entry's text (plain, cut to the column's 100,000 characters), bound to the account with
the polymorphic lookup's target-specific navigation property ``objectid_account``. The row id is derived
from the note's key (``CrmNote.key``, uuid5), so a resent note meets the duplicate key and counts as
created: unlike HubSpot's batch create, a retry never makes a second note. A refused note (the account
was deleted, say) answers None for it; a batch refused as a whole (429 after the retries, 5xx) raises,
and the worker's retry sends it again, safely.
"""

from __future__ import annotations

import uuid

from crmsync.connectors.base import TransientError, VendorError
from crmsync.connectors.dataverse_batch import BatchPart
from crmsync.connectors.dataverse_errors import is_duplicate_key
from crmsync.connectors.dataverse_mapping import RECORD_NAMESPACE, is_guid
from crmsync.connectors.dataverse_writes import DataverseWrites
from crmsync.connectors.journal_ports import CrmNote

NOTE_TEXT_MAX = 100_000
SUBJECT = "crmsync"


def note_guid(note: CrmNote) -> str:
    key = note.key or f"{note.company_id}|{note.at.isoformat()}|{note.body}"
    return str(uuid.uuid5(RECORD_NAMESPACE, f"note|{key}"))


class DataverseNotes(DataverseWrites):
    """``create_notes`` of ``DataverseConnector`` (``journal_ports.NotesWriter``)."""

    def create_notes(self, notes: list[CrmNote]) -> list[str | None]:
        ids: list[str | None] = [None] * len(notes)
        sent: list[int] = []
        parts: list[BatchPart] = []
        for index, item in enumerate(notes):
            if not is_guid(item.company_id):
                continue
            body = {
                "annotationid": note_guid(item),
                "subject": SUBJECT,
                "notetext": item.body[:NOTE_TEXT_MAX],
                "objectid_account@odata.bind": f"/accounts({item.company_id})",
            }
            sent.append(index)
            parts.append(BatchPart("POST", self.url("annotations"), body, {}))
        retryable: VendorError | None = None
        for index, outcome in zip(sent, self._send(parts) if parts else [], strict=True):
            if not isinstance(outcome, VendorError) or is_duplicate_key(outcome):
                ids[index] = note_guid(notes[index])  # created now, or by an earlier attempt
            elif outcome.retryable and retryable is None:
                retryable = outcome
        if retryable is not None:
            raise TransientError(f"Dataverse did not take the notes: {retryable.message}", code="notes_batch")
        return ids

"""A journal in HubSpot (notes on companies), the portal's owners, and company parents.

- **Notes** (``create_notes``): one note per journal entry, tied to its company with the HUBSPOT_DEFINED
  association type 190 (note -> company), 100 per ``POST /crm/v3/objects/notes/batch/create``. The text
  is plain: it is HTML-escaped (``hs_note_body`` is HTML; line breaks become ``<br>``) and cut to
  HubSpot's 65,536 characters; ``hs_timestamp`` (required, places the note on the timeline) is ``at``
  in UTC. Answers the note ids in input order, ``None`` where HubSpot refused the note (a whole-batch
  400 is bisected down to the refused note; a 207 error names its input by ``objectWriteTraceId``).
- **Batch create is not idempotent**: a resent batch makes a second set of notes. So the create is sent
  *without* the client's automatic retries on 5xx and timeouts (only a 429, or a spent rate budget,
  which HubSpot refused before doing anything, is waited out and resent). A 5xx or a timeout leaves the
  outcome of that batch unknown: ``create_notes`` stops there and raises ``NotesNotAllWritten`` with
  the ids known so far (``ids``), the indexes whose outcome is unknown (``unknown``, not to be resent
  blindly: look at the company's notes first, or accept a possible duplicate) and the indexes never
  sent (``unsent``, safe to send again). Only an ``AuthError`` propagates as itself.
- **Rate budget**: the connector has no priority of its own; the budget gate reads the caller's
  ``ctx.priority``, so a journal or facts run sets ``Priority.BULK`` (as pulls do) to leave live
  changes their share.
- **Owners** (``owners``): ``GET /crm/v3/owners`` (active owners, 100 a page, ``after`` cursor).
  ``CrmUser`` is defined here, not in ``connectors.base``: base.py had no such model, but other people
  were editing the shared modules at the time; moving it there later changes no caller.
- **Parents** (``parent_companies``): one v4 batch read companies -> companies per 100 ids. The answer
  holds both directions in one list; the parent is the association with type 14 (child -> parent)
  from the child. No parent (or an unknown company): ``None``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel

from crmsync.connectors.base import AuthError, RateLimitedError, TransientError, VendorError
from crmsync.connectors.http import VendorHttp
from crmsync.connectors.hubspot_client import BATCH_SIZE, HubSpotClient, _slices
from crmsync.connectors.hubspot_errors import _body, hubspot_error
from crmsync.connectors.journal_ports import CrmNote, NotesNotAllWritten

logger = Logger(child=True)

NOTE_TO_COMPANY = 190
CHILD_TO_PARENT = 14
PARENT_TO_CHILD = 13
NOTE_BODY_MAX = 65_536
_CUT = " [...]"
OWNERS_PAGE = 100


class CrmUser(BaseModel):
    """A CRM user who can own records (HubSpot: an owner; ``id`` is the owner id)."""

    id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None


def note_html(text: str) -> str:
    """Plain text -> ``hs_note_body`` HTML (escaped, ``<br>`` line breaks), at most 65,536 characters."""
    out = html.escape(text).replace("\r\n", "\n").replace("\n", "<br>")
    if len(out) <= NOTE_BODY_MAX:
        return out
    out = out[: NOTE_BODY_MAX - len(_CUT)]
    for start, end in (("&", ";"), ("<", ">")):  # never end inside an entity or a <br>
        if out.rfind(start) > out.rfind(end):
            out = out[: out.rfind(start)]
    return out + _CUT


def iso_utc(at: datetime) -> str:
    """``hs_timestamp``: UTC ISO 8601 with milliseconds (a naive datetime is taken as UTC)."""
    moment = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class _Unknown(Exception):
    """A (sub-)batch whose outcome is unknown: ``indexes`` may or may not have been created."""

    def __init__(self, cause: VendorError, indexes: list[int]) -> None:
        super().__init__(cause.message)
        self.cause = cause
        self.indexes = indexes


class HubSpotJournal(HubSpotClient):
    """``create_notes``, ``owners`` and ``parent_companies`` of ``HubSpotConnector``."""

    # -- notes ---------------------------------------------------------------------------------------

    def create_notes(self, notes: list[CrmNote]) -> list[str | None]:
        """Create the notes (100 a call); note ids in input order, None where refused (see module doc)."""
        ids: list[str | None] = [None] * len(notes)
        done: set[int] = set()  # created or refused: the outcome is known
        batches = list(_slices(range(len(notes)), BATCH_SIZE))
        for number, batch in enumerate(batches):
            try:
                self._note_batch(notes, list(batch), ids, done)
            except _Unknown as exc:
                unknown = exc.indexes
                rest = [i for later in batches[number:] for i in later]
                unsent = [i for i in rest if i not in done and i not in set(unknown)]
                raise NotesNotAllWritten(
                    f"HubSpot note batch outcome unknown ({exc.cause.message}); not resent",
                    ids=ids,
                    unknown=unknown,
                    unsent=unsent,
                    status=exc.cause.status,
                    code=exc.cause.code,
                    request_id=exc.cause.request_id,
                ) from exc.cause
            except RateLimitedError as exc:
                unsent = [i for later in batches[number:] for i in later if i not in done]
                raise NotesNotAllWritten(
                    f"HubSpot rate limit: {exc.message}",
                    ids=ids,
                    unknown=[],
                    unsent=unsent,
                    status=exc.status,
                    code=exc.code,
                    retry_after=exc.retry_after,
                ) from exc
        return ids

    def _note_batch(
        self, notes: Sequence[CrmNote], batch: list[int], ids: list[str | None], done: set[int]
    ) -> None:
        inputs: list[dict[str, Any]] = [
            {
                "properties": {
                    "hs_timestamp": iso_utc(notes[i].at),
                    "hs_note_body": note_html(notes[i].body),
                },
                "associations": [
                    {
                        "to": {"id": notes[i].company_id},
                        "types": [
                            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": NOTE_TO_COMPANY}
                        ],
                    }
                ],
                "objectWriteTraceId": str(i),
            }
            for i in batch
        ]
        try:
            data = self._post_once("/crm/v3/objects/notes/batch/create", {"inputs": inputs})
        except (AuthError, RateLimitedError):
            raise
        except TransientError as exc:  # 5xx, timeout: the batch may have landed
            raise _Unknown(exc, batch) from exc
        except VendorError as exc:
            if exc.status is None or not 400 <= exc.status < 500:
                raise _Unknown(exc, batch) from exc
            if len(batch) > 1:  # one bad note refuses the batch: bisect to find it
                half = len(batch) // 2
                self._note_batch(notes, batch[:half], ids, done)
                self._note_batch(notes, batch[half:], ids, done)
                return
            done.add(batch[0])
            logger.warning(
                "HubSpot refused a journal note",
                extra={"company": notes[batch[0]].company_id, "error": exc.message, "code": exc.code},
            )
            return
        done.update(batch)  # answered: created, or refused in a 207
        unanswered = {str(i): i for i in batch}
        bodies: dict[str, list[int]] = {}
        for i, sent in zip(batch, inputs, strict=True):
            bodies.setdefault(str(sent["properties"]["hs_note_body"]), []).append(i)
        for result in data.get("results") or []:
            index = unanswered.pop(str(result.get("objectWriteTraceId")), None)
            if index is None:  # no trace id echoed: tie it back by its body
                body = str((result.get("properties") or {}).get("hs_note_body"))
                waiting = [i for i in bodies.get(body, []) if str(i) in unanswered]
                if not waiting:
                    continue
                index = unanswered.pop(str(waiting[0]))
            ids[index] = str(result["id"])
        for error in data.get("errors") or []:
            logger.warning(
                "HubSpot refused a journal note",
                extra={
                    "inputs": (error.get("context") or {}).get("objectWriteTraceId"),
                    "error": error.get("message"),
                },
            )

    def _post_once(self, path: str, body: Any) -> dict[str, Any]:
        """POST without resending after a 5xx or a timeout (a create that may have landed); a 429 or a
        spent rate budget (nothing was done) is waited out and resent within the retry policy."""
        policy = self.http.retry
        once = VendorHttp(self._client, hubspot_error, replace(policy, attempts=1))
        once.gate = self.http.gate
        once.calls = self.http.calls  # one call count per connector
        attempt = 0
        while True:
            try:
                response = once.request("POST", f"{self.base_url}{path}", auth=self._auth, json=body)
            except RateLimitedError as exc:
                attempt += 1
                wait = exc.retry_after
                if attempt >= policy.attempts or wait is None or wait > policy.max_retry_after:
                    raise
                policy.sleep(wait)
                continue
            return _body(response)

    # -- owners --------------------------------------------------------------------------------------

    def owners(self) -> list[CrmUser]:
        """The portal's active owners (``GET /crm/v3/owners``, every page)."""
        users: list[CrmUser] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": OWNERS_PAGE, "archived": "false"}
            if after:
                params["after"] = after
            data = _body(self._call("GET", "/crm/v3/owners", params=params))
            for owner in data.get("results") or []:
                users.append(
                    CrmUser(
                        id=str(owner["id"]),
                        first_name=owner.get("firstName") or None,
                        last_name=owner.get("lastName") or None,
                        email=owner.get("email") or None,
                    )
                )
            after = (((data.get("paging") or {}).get("next")) or {}).get("after")
            if not after:
                return users

    # -- company hierarchy ----------------------------------------------------------------------------

    def parent_companies(self, company_ids: list[str]) -> dict[str, str | None]:
        """Company id -> its parent company id (type 14 from the child), None without one."""
        parents: dict[str, str | None] = dict.fromkeys(company_ids)
        pending: list[dict[str, str]] = [{"id": i} for i in dict.fromkeys(company_ids)]
        while pending:
            batch, pending = pending[:BATCH_SIZE], pending[BATCH_SIZE:]
            data, _ = self._post("/crm/v4/associations/companies/companies/batch/read", {"inputs": batch})
            for result in data.get("results") or []:
                child = str((result.get("from") or {}).get("id"))
                for target in result.get("to") or []:
                    type_ids = {t.get("typeId") for t in target.get("associationTypes") or []}
                    if CHILD_TO_PARENT in type_ids:
                        parents[child] = str(target["toObjectId"])
                after = ((result.get("paging") or {}).get("next") or {}).get("after")
                if after:
                    pending.append({"id": child, "after": str(after)})
        return parents

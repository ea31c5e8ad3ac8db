"""Owners (``GET /crm/v3/owners``, ``GET /crm/v3/owners/{ownerId}``) and ``add_owner`` for tests.

Shape: ``PublicOwner`` of ``crm-owners-v3.json`` (``id``, ``email``, ``firstName``, ``lastName``,
``userId``, ``type``, ``archived``, ``createdAt``, ``updatedAt``, ``teams``). Paging: ``limit``
(default 100) and ``after``. *Assumptions*: ``limit`` above 500 is clamped to 500; the cursor is the
next owner's id; ``email`` filters case-insensitively; ``archived=true`` lists only archived owners
(deactivated users), as for objects.
"""

from __future__ import annotations

import itertools
from typing import Any

from werkzeug.wrappers import Request

from local.fakes.hubspot.constants import OWNERS_PAGE_MAX
from local.fakes.hubspot.helpers import _bad, _err, iso_ms


class OwnersMixin:
    """The portal's owners (users who can own records)."""

    def _reset_owners(self) -> None:
        """Forget every owner (called by ``reset()``)."""
        self._owners: dict[str, dict[str, Any]] = {}
        self._owner_ids = itertools.count(90_000_001)
        self._user_ids = itertools.count(7_000_001)

    def add_owner(
        self,
        email: str | None,
        first_name: str | None = None,
        last_name: str | None = None,
        *,
        archived: bool = False,
        owner_type: str = "PERSON",
        teams: list[dict[str, Any]] | None = None,
    ) -> str:
        """A portal admin adds a user (an owner); returns the owner id (not counted, no webhook).

        ``email``/names ``None`` are left out of the answer (a queue owner has no e-mail)."""
        with self._lock:
            now = iso_ms(self._now_ms())
            owner_id = str(next(self._owner_ids))
            owner: dict[str, Any] = {
                "id": owner_id,
                "type": owner_type,
                "archived": archived,
                "createdAt": now,
                "updatedAt": now,
                "teams": list(teams or []),
            }
            if owner_type == "PERSON":
                user_id = next(self._user_ids)
                owner["userId"] = user_id
                owner["userIdIncludingInactive"] = user_id
            for key, value in (("email", email), ("firstName", first_name), ("lastName", last_name)):
                if value is not None:
                    owner[key] = value
            self._owners[owner_id] = owner
            return owner_id

    def archive_owner(self, owner_id: str) -> None:
        """A user is deactivated: the owner moves to the ``archived=true`` listing."""
        with self._lock:
            owner = self._owners[owner_id]
            owner["archived"] = True
            owner["updatedAt"] = iso_ms(self._now_ms())
            owner.pop("userId", None)  # an inactive user keeps only userIdIncludingInactive

    def _h_owners_list(self, request: Request, payload: Any) -> tuple[int, Any]:
        try:
            limit = max(1, min(int(request.args.get("limit", "100")), OWNERS_PAGE_MAX))
            start = int(request.args.get("after") or 0)
        except ValueError as exc:
            raise _bad("limit and after must be integers") from exc
        archived = self._flag(request, "archived")
        email = (request.args.get("email") or "").strip().lower()
        candidates = [
            dict(o)
            for oid, o in sorted(self._owners.items(), key=lambda t: int(t[0]))
            if int(oid) >= start
            and o["archived"] == archived
            and (not email or o.get("email", "").lower() == email)
        ]
        body: dict[str, Any] = {"results": candidates[:limit]}
        if len(candidates) > limit:
            cursor = candidates[limit]["id"]
            body["paging"] = {
                "next": {"after": cursor, "link": f"https://api.hubapi.com/crm/v3/owners/?after={cursor}"}
            }
        return 200, body

    def _h_owner_get(self, request: Request, payload: Any, owner_id: str) -> tuple[int, Any]:
        owner = self._owners.get(owner_id)
        if owner is None or owner["archived"] != self._flag(request, "archived"):
            raise _err(404, "OBJECT_NOT_FOUND", f"No owner with id {owner_id}", context={"id": [owner_id]})
        return 200, dict(owner)

"""Reads: by id, by account, everything, changed since a time, and change-tracking deltas.

Reads ask for ``odata.include-annotations="*"`` so a contact's ``_parentcustomerid_value`` comes with
its lookup type (account or contact). Leads and system users are read in the simplest form (lead
conversion comes later; users map owners to people).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from crmsync.connectors.base import DeltaPage, NotFoundError, SourceRecord, VendorRefusedError
from crmsync.connectors.dataverse_client import ANNOTATIONS, DataverseClient
from crmsync.connectors.dataverse_mapping import (
    ENTITY_SET,
    PARENT_CUSTOMER,
    PRIMARY_KEY,
    DataverseMapping,
    is_guid,
    merged_into,
    odata_time,
    parent_account_of,
)
from crmsync.models import ObjectType

MERGE_HOPS = 5
"""Merged-away rows followed to their survivor at most (a survivor merged again is one more hop)."""
IDS_PER_FILTER = 50
"""Ids per ``$filter=id eq a or id eq b ...`` read (keeps the URL far below its limits)."""
USER_SELECT = "systemuserid,fullname,firstname,lastname,internalemailaddress,employeeid"


class DataverseUser(BaseModel):
    """A system user: the owner behind ``account_manager`` (its employee id maps it to accounting)."""

    id: str
    fullname: str | None = None
    email: str | None = None
    employee_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None


class DataverseReads(DataverseClient, DataverseMapping):
    """``get``, ``get_many``, ``contacts_of``, ``list_all``, ``changed_since`` and ``changes``."""

    def _collection(self, object_type: ObjectType, **params: str) -> str:
        return self.url(ENTITY_SET[object_type], {"$select": self.select(object_type), **params})

    def _row(self, entity_set: str, external_id: str, select: str) -> dict[str, Any] | None:
        if not is_guid(external_id):
            return None  # not a Dataverse id: no such row (and never a path of our making)
        try:
            return self._json(
                self._call(
                    "GET", self.url(f"{entity_set}({external_id})", {"$select": select}), prefer=[ANNOTATIONS]
                )
            )
        except NotFoundError:
            return None

    def get(self, object_type: ObjectType, external_id: str) -> SourceRecord | None:
        """One row; a merged-away row answers with its survivor (another ``external_id``: the sync layer
        re-points the link), a chain of merges is followed up to ``MERGE_HOPS``."""
        row = self._row(ENTITY_SET[object_type], external_id, self.select(object_type))
        for _ in range(MERGE_HOPS):
            master = merged_into(row) if row else None
            if master is None:
                break
            row = self._row(ENTITY_SET[object_type], master, self.select(object_type))
        return self.to_source(object_type, row) if row and not merged_into(row) else None

    def get_parent_account(self, external_id: str) -> str | None:
        """The parent account of an account (the hierarchy has no canonical field yet)."""
        row = self._row("accounts", external_id, "accountid,_parentaccountid_value")
        return parent_account_of(row) if row else None

    def get_many(self, object_type: ObjectType, external_ids: list[str]) -> dict[str, SourceRecord]:
        ids = [i.lower() for i in dict.fromkeys(external_ids) if is_guid(i)]
        key = PRIMARY_KEY[object_type]
        found: dict[str, SourceRecord] = {}
        for start in range(0, len(ids), IDS_PER_FILTER):
            chunk = ids[start : start + IDS_PER_FILTER]
            where = " or ".join(f"{key} eq {i}" for i in chunk)
            for row in self._rows(self._collection(object_type, **{"$filter": where})):
                if merged_into(row):
                    continue  # left out: the caller reads it alone (``get`` follows it to its survivor)
                record = self.to_source(object_type, row)
                found[record.external_id.lower()] = record
        return {i: found[i.lower()] for i in external_ids if i.lower() in found}

    def contacts_of(self, customer_external_id: str) -> list[SourceRecord]:
        if not is_guid(customer_external_id):
            return []
        where = f"{PARENT_CUSTOMER} eq {customer_external_id.lower()}"
        rows = self._rows(self._collection(ObjectType.CONTACT, **{"$filter": where}))
        return [self.to_source(ObjectType.CONTACT, row) for row in rows if not merged_into(row)]

    def list_all(self, object_type: ObjectType) -> Iterator[SourceRecord]:
        """Every live row (merged-away rows are not records any more)."""
        for row in self._rows(self._collection(object_type)):
            if not merged_into(row):
                yield self.to_source(object_type, row)

    def changed_since(self, object_type: ObjectType, since: datetime) -> Iterator[SourceRecord]:
        """Rows with ``modifiedon`` at or after ``since``, oldest first (ties by id), all pages.

        The fallback to change tracking (``changes``): ``modifiedon`` has whole-second precision in
        filters, so callers overlap windows, as with every vendor.
        """
        url = self._collection(
            object_type,
            **{
                "$filter": f"modifiedon ge {odata_time(since)}",
                "$orderby": f"modifiedon asc,{PRIMARY_KEY[object_type]} asc",
            },
        )
        for row in self._rows(url):
            yield self.to_source(object_type, row)

    def change_pages(self, object_type: ObjectType, link: str | None = None) -> Iterator[DeltaPage]:
        """A change-tracking read, page by page (``DeltaReader``): from ``link`` (None: every row with
        ``Prefer: odata.track-changes``; a delta or next link is opaque and followed as is).

        ``DeltaExpired`` when a delta link is older than the org keeps changes (default 7 days). Change
        tracking must be enabled on the table: a read that ends without a delta link is refused.
        """
        prefer = [ANNOTATIONS, "odata.track-changes"]
        for page in self._pages(link or self._collection(object_type), prefer=prefer):
            records: list[SourceRecord] = []
            deleted: list[str] = []
            for row in page.get("value") or []:
                if not isinstance(row, dict):
                    continue
                if row.get("reason") == "deleted" or "$deletedEntity" in str(row.get("@odata.context", "")):
                    deleted.append(str(row.get("id")))
                elif row.get(PRIMARY_KEY[object_type]):
                    records.append(self.to_source(object_type, row))
            next_link, delta_link = page.get("@odata.nextLink"), page.get("@odata.deltaLink")
            if not next_link and not delta_link:
                if not link:
                    raise VendorRefusedError(
                        "Dataverse returned no delta link: is change tracking enabled on the table?",
                        code="no_delta_link",
                    )
                delta_link = link  # nothing changed (an empty answer): the same link still holds
            yield DeltaPage(
                records=records,
                deleted=deleted,
                next_link=str(next_link) if next_link else None,
                delta_link=None if next_link else str(delta_link),
            )

    def changes(
        self, object_type: ObjectType, delta_link: str | None = None
    ) -> tuple[list[SourceRecord], list[str], str]:
        """A whole change read at once: (changed rows, deleted ids, the next delta link). For small
        reads and tests; the pull goes page by page (``change_pages``)."""
        records: list[SourceRecord] = []
        deleted: list[str] = []
        link = delta_link
        for page in self.change_pages(object_type, delta_link):
            records += page.records
            deleted += page.deleted
            link = page.delta_link or link
        assert link is not None  # the last page carries one (change_pages refuses a read without)
        return records, deleted, link

    def users(self) -> list[DataverseUser]:
        """Every system user (application users included): id, names, e-mail, employee id."""
        rows = self._rows(self.url("systemusers", {"$select": USER_SELECT}))
        return [
            DataverseUser(
                id=str(row["systemuserid"]),
                fullname=row.get("fullname"),
                email=row.get("internalemailaddress"),
                employee_id=row.get("employeeid"),
                first_name=row.get("firstname"),
                last_name=row.get("lastname"),
            )
            for row in rows
        ]

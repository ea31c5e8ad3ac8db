"""Reads: customers through the legacy REST API (keyset pages), contacts through the Customers API
(cursor pages).

Only the legacy customer has ``lastUpdated`` to filter and sort on, and only the Customers API lists
all contacts at once (see ``crmsync.connectors.economic``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from crmsync.connectors.base import NotFoundError, SourceRecord
from crmsync.connectors.economic_client import EconomicClient
from crmsync.connectors.economic_mapping import EconomicRecords, _as_number, _utc_second
from crmsync.models import ObjectType

PAGE_SIZE = 1000
IN_FILTER_MAX = 200


def _chunks(values: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class EconomicReads(EconomicClient, EconomicRecords):
    """``get``, ``get_many``, ``contacts_of``, ``changed_since``, ``list_all`` of ``EconomicConnector``."""

    def get(self, object_type: ObjectType, external_id: str) -> SourceRecord | None:
        if not external_id.isdigit():
            return None
        try:
            if object_type is ObjectType.CUSTOMER:
                data = self._call("GET", f"{self.rest_base_url}/customers/{external_id}").json()
                return self._customer_from_legacy(data)
            data = self._call("GET", f"{self.customers_api_url}/Contacts/{external_id}").json()
        except NotFoundError:
            return None
        record = self._contact_from_api(data)
        return None if record.deleted else record

    def get_many(self, object_type: ObjectType, external_ids: list[str]) -> dict[str, SourceRecord]:
        """``$in:`` filters of up to 200 numbers per call; unknown and deleted ids are absent."""
        numbers = sorted({int(i) for i in external_ids if i.isdigit()})
        found: dict[str, SourceRecord] = {}
        for chunk in _chunks(numbers, IN_FILTER_MAX):
            wanted = f"[{','.join(map(str, chunk))}]"
            if object_type is ObjectType.CUSTOMER:
                for data in self._legacy_customer_pages(
                    f"customerNumber$in:{wanted}", "customerNumber", None
                ):
                    record = self._customer_from_legacy(data)
                    found[record.external_id] = record
            else:
                for data in self._contact_pages(f"number$in:{wanted}"):
                    record = self._contact_from_api(data)
                    if not record.deleted:
                        found[record.external_id] = record
        return found

    def contacts_of(self, customer_external_id: str) -> list[SourceRecord]:
        if not customer_external_id.isdigit():
            return []
        query = f"customerNumber$eq:{int(customer_external_id)}$and:isDeleted$eq:false"
        return [self._contact_from_api(data) for data in self._contact_pages(query)]

    def changed_since(self, object_type: ObjectType, since: datetime) -> Iterator[SourceRecord]:
        start = _utc_second(since)
        if object_type is ObjectType.CUSTOMER:

            def after(last: dict[str, Any]) -> str:
                stamp, number = last.get("lastUpdated") or start, int(last["customerNumber"])
                return f"lastUpdated$gt:{stamp}$or:(lastUpdated$eq:{stamp}$and:customerNumber$gt:{number})"

            pages = self._legacy_customer_pages(
                f"lastUpdated$gte:{start}", "lastUpdated,customerNumber", after
            )
            for data in pages:
                yield self._customer_from_legacy(data)
            return
        records = [self._contact_from_api(data) for data in self._contact_pages(f"lastUpdated$gte:{start}")]
        epoch = datetime.min.replace(tzinfo=UTC)
        records.sort(key=lambda r: (r.modified_at or epoch, int(r.external_id)))
        yield from records

    def list_all(self, object_type: ObjectType) -> Iterator[SourceRecord]:
        """Every existing record (deleted contacts are left out), in pages of 1000."""
        if object_type is ObjectType.CUSTOMER:

            def after(last: dict[str, Any]) -> str:
                return f"customerNumber$gt:{int(last['customerNumber'])}"

            for data in self._legacy_customer_pages(None, "customerNumber", after):
                yield self._customer_from_legacy(data)
            return
        for data in self._contact_pages("isDeleted$eq:false"):
            yield self._contact_from_api(data)

    def has_booked_invoices(self, customer_number: str) -> bool:
        """Whether e-conomic holds any booked invoice for the customer (one row of one page is enough).

        A customer with booked invoices can never be deleted in e-conomic. An unknown number raises
        ``NotFoundError`` rather than answering False: the number may be stale (a renumbered customer),
        so "no such customer" must not read as "no invoices".
        """
        number = _as_number(customer_number, "customer_number")
        data = self._call(
            "GET", f"{self.rest_base_url}/customers/{number}/invoices/booked", params={"pagesize": 1}
        ).json()
        results = (data.get("pagination") or {}).get("results")
        return bool(data.get("collection")) or (isinstance(results, int) and results > 0)

    def _legacy_customer_pages(
        self, first_filter: str | None, sort: str, after: Callable[[dict[str, Any]], str] | None
    ) -> Iterator[dict[str, Any]]:
        """Walk legacy /customers by keyset: each next page filters on the last row seen."""
        query = first_filter
        while True:
            params: dict[str, Any] = {"skippages": 0, "pagesize": PAGE_SIZE, "sort": sort}
            if query:
                params["filter"] = query
            data = self._call("GET", f"{self.rest_base_url}/customers", params=params).json()
            collection = data.get("collection") or []
            yield from collection
            if after is None or not collection or "nextPage" not in (data.get("pagination") or {}):
                return
            query = after(collection[-1])

    def _contact_pages(self, query: str | None) -> Iterator[dict[str, Any]]:
        """Walk /Contacts by cursor (1000 per page)."""
        cursor: str | None = None
        while True:
            params: dict[str, str] = {}
            if query:
                params["filter"] = query
            if cursor:
                params["cursor"] = cursor
            data = self._call("GET", f"{self.customers_api_url}/Contacts", params=params).json()
            yield from data.get("items") or []
            cursor = data.get("cursor")
            if not cursor:
                return

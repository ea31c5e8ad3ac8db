"""Contact -> company associations: reading a contact's companies and making its primary company its
``parent_external_id``.

The v4 association API is the one place that knows which company is a contact's primary, and
re-pointing it must never leave a contact without a company (new primary first, then archive)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_lambda_powertools import Logger

from crmsync.connectors.base import AuthError, VendorError, WriteItem, WriteResult
from crmsync.connectors.hubspot_client import BATCH_SIZE, HubSpotClient, _slices
from crmsync.connectors.hubspot_errors import RETRYABLE_CATEGORIES

logger = Logger(child=True)

CONTACT_TO_COMPANY = 279
CONTACT_TO_COMPANY_PRIMARY = 1
PRIMARY_COMPANY = [
    {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": CONTACT_TO_COMPANY},
    {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": CONTACT_TO_COMPANY_PRIMARY},
]
"""A contact's company association: unlabeled + Primary (the contact's ``parent_external_id``)."""


class HubSpotAssociations(HubSpotClient):
    """Association reads and writes of ``HubSpotConnector``."""

    def _associations(
        self, from_type: str, to_type: str, ids: Sequence[str]
    ) -> dict[str, list[tuple[str, bool]]]:
        """v4 batch read: id -> [(associated id, is primary)], following per-object paging."""
        out: dict[str, list[tuple[str, bool]]] = {}
        pending: list[dict[str, str]] = [{"id": i} for i in dict.fromkeys(ids)]
        while pending:
            batch, pending = pending[:BATCH_SIZE], pending[BATCH_SIZE:]
            data, _ = self._post(f"/crm/v4/associations/{from_type}/{to_type}/batch/read", {"inputs": batch})
            for result in data.get("results") or []:
                from_id = str((result.get("from") or {}).get("id"))
                for target in result.get("to") or []:
                    type_ids = {t.get("typeId") for t in target.get("associationTypes") or []}
                    out.setdefault(from_id, []).append(
                        (str(target["toObjectId"]), CONTACT_TO_COMPANY_PRIMARY in type_ids)
                    )
                after = ((result.get("paging") or {}).get("next") or {}).get("after")
                if after:
                    pending.append({"id": from_id, "after": str(after)})
        return out

    def _parents(self, contact_ids: Sequence[str]) -> dict[str, str]:
        """Contact id -> its primary company id (else its first company)."""
        parents: dict[str, str] = {}
        for contact_id, companies in self._associations("contacts", "companies", contact_ids).items():
            primary = next((c for c, is_primary in companies if is_primary), None)
            parents[contact_id] = primary or companies[0][0]
        return parents

    def _link_parents(
        self,
        items: list[WriteItem],
        results: dict[int, WriteResult],
        created: set[str],
        *,
        skip: set[int],
    ) -> None:
        """Make each written contact's primary company its ``parent_external_id`` (see ``hubspot``).

        ``skip``: items created with the association inline (nothing left to do)."""
        wanted: dict[int, tuple[str, str]] = {}
        for index, item in enumerate(items):
            if index in skip:
                continue
            result = results[index]
            if item.parent_external_id and result.ok and result.external_id:
                wanted[index] = (result.external_id, item.parent_external_id)
        if not wanted:
            return
        existing_ids = [cid for cid, _ in wanted.values() if cid not in created]
        current = self._associations("contacts", "companies", existing_ids) if existing_ids else {}
        to_create: list[tuple[int, str, str]] = []
        to_archive: dict[str, set[str]] = {}
        for index, (contact_id, company_id) in wanted.items():
            links = current.get(contact_id, [])
            primary = next((c for c, is_primary in links if is_primary), None)
            if primary == company_id:
                continue
            to_create.append((index, contact_id, company_id))
            if primary is not None:
                to_archive.setdefault(contact_id, set()).add(primary)
        failed = self._create_links(to_create, results)
        archive = [
            {"from": {"id": contact_id}, "to": [{"id": c} for c in sorted(old)]}
            for contact_id, old in to_archive.items()
            if contact_id not in failed
        ]
        for chunk in _slices(archive, BATCH_SIZE):
            try:
                self._post("/crm/v4/associations/contacts/companies/batch/archive", {"inputs": list(chunk)})
            except AuthError:
                raise
            except VendorError as exc:
                # The new primary is in place; a stale extra association is harmless and retried next time.
                logger.warning(
                    "old primary association not archived", extra={"error": exc.code or exc.status}
                )

    def _create_links(
        self, to_create: list[tuple[int, str, str]], results: dict[int, WriteResult]
    ) -> set[str]:
        """Associate contacts with their companies (unlabeled + Primary); returns contact ids that failed."""
        failed: set[str] = set()
        for chunk in _slices(to_create, BATCH_SIZE):
            inputs = [
                {"from": {"id": cid}, "to": {"id": company}, "types": PRIMARY_COMPANY}
                for _, cid, company in chunk
            ]
            try:
                data, request_id = self._post(
                    "/crm/v4/associations/contacts/companies/batch/create", {"inputs": inputs}
                )
                errors: list[tuple[set[str], str, str | None, bool]] = [
                    (
                        set((e.get("context") or {}).get("fromObjectId") or [c for _, c, _ in chunk]),
                        str(e.get("message") or "association failed"),
                        str(e.get("category") or "") or None,
                        str(e.get("category") or "") in RETRYABLE_CATEGORIES,
                    )
                    for e in data.get("errors") or []
                ]
            except AuthError:
                raise
            except VendorError as exc:
                request_id = exc.request_id
                errors = [({c for _, c, _ in chunk}, exc.message, exc.code, exc.retryable)]
            for contact_ids, message, code, retryable in errors:
                for index, cid, company in chunk:
                    if cid in contact_ids:
                        failed.add(cid)
                        result = results[index]
                        results[index] = result.model_copy(
                            update={
                                "ok": False,
                                "error": f"contact written, but linking it to company {company} failed: {message}",
                                "error_code": code,
                                "retryable": retryable,
                                "request_id": request_id,
                            }
                        )
        return failed

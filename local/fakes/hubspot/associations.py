"""Associations between contacts and companies (v4 API, v3 read blocks, primary company)."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request

from local.fakes.hubspot.constants import (
    ASSOC_LABELS,
    ASSOC_PAGE_LIMIT,
    ASSOC_TYPES,
    OBJECT_TYPE_IDS,
    SINGULAR,
)
from local.fakes.hubspot.helpers import ApiError, _bad, _err


def no_associations_error(from_one: str, oid: str, to_one: str) -> dict[str, Any]:
    """The v4 batch read's per-input error for an object without associations of that type."""
    return {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "subCategory": {"reason": "crm.associations.NO_ASSOCIATIONS_FOUND"},
        "message": f"No {to_one} is associated with {from_one} {oid}.",
        "context": {"fromObjectId": [oid]},
        "errors": [],
        "links": {},
    }


class AssociationsMixin:
    """Association bookkeeping (primary, calculated properties) and the ``/crm/v4`` association handlers."""

    def _pair(self, from_t: str, from_id: str, to_t: str, to_id: str) -> tuple[str, str]:
        if {from_t, to_t} != {"contacts", "companies"}:
            raise _bad(f"Associations between {from_t} and {to_t} are not supported by this fake")
        return (from_id, to_id) if from_t == "contacts" else (to_id, from_id)

    def _add_association(
        self, contact_id: str, company_id: str, *, primary: bool | None, source: tuple[str, str]
    ) -> None:
        has_primary = any(self._assoc.of_contact(contact_id).values())
        existing = self._assoc.get((contact_id, company_id))
        make_primary = (not has_primary) if primary is None else primary
        now = self._now_ms()
        if existing is None:
            self._assoc[(contact_id, company_id)] = False
            self._event_association(
                contact_id, company_id, removed=False, primary=False, source=source, now=now
            )
        if make_primary and not self._assoc[(contact_id, company_id)]:
            for other, is_primary in list(self._assoc.of_contact(contact_id).items()):
                if is_primary:
                    self._assoc[(contact_id, other)] = False
                    self._event_association(
                        contact_id, other, removed=True, primary=True, source=source, now=now
                    )
            self._assoc[(contact_id, company_id)] = True
            self._event_association(
                contact_id, company_id, removed=False, primary=True, source=source, now=now
            )
        self._refresh_calculated({contact_id}, {company_id})

    def _remove_association(self, contact_id: str, company_id: str, *, source: tuple[str, str]) -> None:
        was_primary = self._assoc.pop((contact_id, company_id), None)
        if was_primary is None:
            return
        now = self._now_ms()
        if was_primary:
            self._event_association(
                contact_id, company_id, removed=True, primary=True, source=source, now=now
            )
        self._event_association(contact_id, company_id, removed=True, primary=False, source=source, now=now)
        self._refresh_calculated({contact_id}, {company_id})

    def _refresh_calculated(
        self, contact_ids: set[str] | None = None, company_ids: set[str] | None = None
    ) -> None:
        """Keep ``associatedcompanyid`` and ``num_associated_contacts`` in step (no events, no timestamp).

        Only for the objects an association change touched (all of them when not told): recomputing
        every object on every change made a 20,000-contact backfill quadratic in the fake.
        """
        companies = self._objects["companies"]
        contacts = self._objects["contacts"]
        for cid in companies if company_ids is None else company_ids:
            if cid in companies:
                companies[cid].properties["num_associated_contacts"] = str(len(self._assoc.of_company(cid)))
        for cid in contacts if contact_ids is None else contact_ids:
            if cid not in contacts:
                continue
            primary = next((co for co, p in self._assoc.of_contact(cid).items() if p), None)
            if primary is not None:
                contacts[cid].properties["associatedcompanyid"] = primary
            else:
                contacts[cid].properties.pop("associatedcompanyid", None)

    def _associated(self, otype: str, oid: str) -> list[tuple[str, bool]]:
        """(other id, is primary) for one object, ordered by other id."""
        if otype == "contacts":
            pairs = list(self._assoc.of_contact(oid).items())
        else:
            pairs = [(c, self._assoc[(c, oid)]) for c in self._assoc.of_company(oid)]
        return sorted(pairs, key=lambda t: int(t[0]))

    def _associated_ids(self, otype: str, oid: str) -> dict[str, list[str]]:
        other = "companies" if otype == "contacts" else "contacts"
        return {other: [i for i, _ in self._associated(otype, oid)]}

    def _v3_associations(self, otype: str, oid: str, to_type: str) -> list[dict[str, str]]:
        if {otype, to_type} != {"contacts", "companies"}:
            return []
        label = f"{SINGULAR[otype]}_to_{SINGULAR[to_type]}"
        out = []
        for other, primary in self._associated(otype, oid):
            if primary:
                out.append({"id": other, "type": label})
            out.append({"id": other, "type": f"{label}_unlabeled"})
        return out

    def _v4_types(self, from_t: str, to_t: str, primary: bool) -> list[dict[str, Any]]:
        unlabeled, primary_id = ASSOC_TYPES[(from_t, to_t)]
        types = []
        if primary:
            types.append(
                {"category": "HUBSPOT_DEFINED", "typeId": primary_id, "label": ASSOC_LABELS[primary_id]}
            )
        types.append({"category": "HUBSPOT_DEFINED", "typeId": unlabeled})
        return types

    def _v4_targets(self, from_t: str, from_id: str, to_t: str) -> list[dict[str, Any]]:
        return [
            {"toObjectId": other, "associationTypes": self._v4_types(from_t, to_t, primary)}
            for other, primary in self._associated(from_t, from_id)
        ]

    def _labels_pair(self, from_t: str, from_id: str, to_t: str, to_id: str) -> dict[str, Any]:
        contact_id, company_id = self._pair(from_t, from_id, to_t, to_id)
        primary = self._assoc.get((contact_id, company_id), False)
        return {
            "fromObjectTypeId": OBJECT_TYPE_IDS[from_t],
            "fromObjectId": from_id,
            "toObjectTypeId": OBJECT_TYPE_IDS[to_t],
            "toObjectId": to_id,
            "labels": ["Primary"] if primary else [],
        }

    def _default_result(self, from_t: str, from_id: str, to_t: str, to_id: str) -> list[dict[str, Any]]:
        forward, backward = ASSOC_TYPES[(from_t, to_t)][0], ASSOC_TYPES[(to_t, from_t)][0]
        return [
            {
                "from": {"id": from_id},
                "to": {"id": to_id},
                "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": forward},
            },
            {
                "from": {"id": to_id},
                "to": {"id": from_id},
                "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": backward},
            },
        ]

    def _require_pair(self, from_t: str, from_id: str, to_t: str, to_id: str) -> None:
        self._pair(from_t, from_id, to_t, to_id)
        for otype, oid in ((from_t, from_id), (to_t, to_id)):
            if self._live(otype, oid) is None:
                raise _err(
                    404,
                    "OBJECT_NOT_FOUND",
                    f"No {SINGULAR[otype]} with id {oid} exists",
                    context={"id": [oid]},
                )

    def _h_assoc_batch_read(self, request: Request, payload: Any, from_t: str, to_t: str) -> tuple[int, Any]:
        started = self._now_ms()
        self._pair(from_t, "0", to_t, "0")
        results, errors = [], []
        for item in self._batch_inputs(payload):
            oid = str(item.get("id", ""))
            targets = self._v4_targets(from_t, oid, to_t) if self._live(from_t, oid) else []
            if targets:
                results.append({"from": {"id": oid}, "to": targets})
            else:
                errors.append(no_associations_error(SINGULAR[from_t], oid, SINGULAR[to_t]))
        return self._batch_response(results, errors, 200, started)

    def _h_assoc_batch_create(
        self, request: Request, payload: Any, from_t: str, to_t: str
    ) -> tuple[int, Any]:
        started = self._now_ms()
        results, errors = [], []
        for item in self._batch_inputs(payload):
            from_id = str((item.get("from") or {}).get("id", ""))
            to_id = str((item.get("to") or {}).get("id", ""))
            try:
                self._require_pair(from_t, from_id, to_t, to_id)
                unlabeled, primary_id = ASSOC_TYPES[(from_t, to_t)]
                type_ids = {t.get("associationTypeId") for t in item.get("types") or []}
                if not type_ids or not type_ids <= {unlabeled, primary_id}:
                    raise _bad(
                        f"invalid association types {sorted(map(str, type_ids))} for {from_t} -> {to_t}"
                    )
                contact_id, company_id = self._pair(from_t, from_id, to_t, to_id)
                primary = True if primary_id in type_ids else None
                self._add_association(contact_id, company_id, primary=primary, source=self._api_source())
            except ApiError as exc:
                errors.append(
                    self._standard_error(exc, None, {"fromObjectId": [from_id], "toObjectId": [to_id]})
                )
                continue
            results.append(self._labels_pair(from_t, from_id, to_t, to_id))
        return self._batch_response(results, errors, 201, started)

    def _h_assoc_batch_default(
        self, request: Request, payload: Any, from_t: str, to_t: str
    ) -> tuple[int, Any]:
        started = self._now_ms()
        results, errors = [], []
        for item in self._batch_inputs(payload):
            from_id = str((item.get("from") or {}).get("id", ""))
            to_id = str((item.get("to") or {}).get("id", ""))
            try:
                self._require_pair(from_t, from_id, to_t, to_id)
                contact_id, company_id = self._pair(from_t, from_id, to_t, to_id)
                self._add_association(contact_id, company_id, primary=None, source=self._api_source())
            except ApiError as exc:
                errors.append(
                    self._standard_error(exc, None, {"fromObjectId": [from_id], "toObjectId": [to_id]})
                )
                continue
            results += self._default_result(from_t, from_id, to_t, to_id)
        _, body = self._batch_response(results, errors, 200, started)
        return 200, body  # the spec lists only 200 for this operation; errors ride along in the body

    def _h_assoc_batch_archive(
        self, request: Request, payload: Any, from_t: str, to_t: str
    ) -> tuple[int, Any]:
        for item in self._batch_inputs(payload):
            from_id = str((item.get("from") or {}).get("id", ""))
            for target in item.get("to") or []:
                contact_id, company_id = self._pair(from_t, from_id, to_t, str(target.get("id", "")))
                self._remove_association(contact_id, company_id, source=self._api_source())
        return 204, None

    def _h_assoc_put_default(
        self, request: Request, payload: Any, from_t: str, from_id: str, to_t: str, to_id: str
    ) -> tuple[int, Any]:
        started = self._now_ms()
        self._require_pair(from_t, from_id, to_t, to_id)
        contact_id, company_id = self._pair(from_t, from_id, to_t, to_id)
        self._add_association(contact_id, company_id, primary=None, source=self._api_source())
        return self._batch_response(self._default_result(from_t, from_id, to_t, to_id), [], 200, started)

    def _h_assoc_put_labels(
        self, request: Request, payload: Any, from_t: str, from_id: str, to_t: str, to_id: str
    ) -> tuple[int, Any]:
        self._require_pair(from_t, from_id, to_t, to_id)
        if not isinstance(payload, list) or not payload:
            raise _bad("body must be a non-empty array of {associationCategory, associationTypeId}")
        unlabeled, primary_id = ASSOC_TYPES[(from_t, to_t)]
        type_ids = {t.get("associationTypeId") for t in payload if isinstance(t, dict)}
        if not type_ids <= {unlabeled, primary_id}:
            raise _bad(f"invalid association types for {from_t} -> {to_t}")
        contact_id, company_id = self._pair(from_t, from_id, to_t, to_id)
        self._add_association(
            contact_id,
            company_id,
            primary=True if primary_id in type_ids else None,
            source=self._api_source(),
        )
        return 201, self._labels_pair(from_t, from_id, to_t, to_id)

    def _h_assoc_delete(
        self, request: Request, payload: Any, from_t: str, from_id: str, to_t: str, to_id: str
    ) -> tuple[int, Any]:
        contact_id, company_id = self._pair(from_t, from_id, to_t, to_id)
        self._remove_association(contact_id, company_id, source=self._api_source())
        return 204, None

    def _h_assoc_list(
        self, request: Request, payload: Any, from_t: str, from_id: str, to_t: str
    ) -> tuple[int, Any]:
        self._pair(from_t, from_id, to_t, "0")
        if self._live(from_t, from_id) is None:
            raise _err(404, "OBJECT_NOT_FOUND", f"No {SINGULAR[from_t]} with id {from_id} exists")
        try:
            limit = max(1, min(int(request.args.get("limit", ASSOC_PAGE_LIMIT)), ASSOC_PAGE_LIMIT))
            start = int(request.args.get("after") or 0)
        except ValueError as exc:
            raise _bad("limit and after must be integers") from exc
        targets = self._v4_targets(from_t, from_id, to_t)
        body: dict[str, Any] = {"results": targets[start : start + limit]}
        if start + limit < len(targets):
            body["paging"] = {"next": {"after": str(start + limit)}}
        return 200, body

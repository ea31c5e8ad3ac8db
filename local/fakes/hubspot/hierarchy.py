"""Company <-> company associations (parent/child, unlabeled) and company <-> note association reads.

Type ids (HUBSPOT_DEFINED, see ``constants``): 13 parent -> child, 14 child -> parent, 450 unlabeled
company <-> company; 190 note -> company, 189 company -> note. ``GET /crm/v4/objects/companies/{id}/
associations/companies`` and the v4 batch read answer *one* list holding both directions; only the
``typeId`` tells them apart: from company X, ``13`` means the *to* company is X's child, ``14`` that it
is X's parent. Every labelled association also carries the unlabeled type (450), as v4 lists the
unlabeled type next to any label. ``PUT /crm/v4/objects/companies/{a}/associations/companies/{b}`` with
``[{associationCategory, associationTypeId}]`` writes them (13: a is b's parent, 14: b is a's parent,
450: unlabeled only); ``DELETE`` of the same path removes every association between the two.

*Assumptions* (VERIFY in a test portal): the labels ``"Child Company"`` (13) / ``"Parent Company"`` (14);
a company has at most one parent (the UI's rule) and a new parent *replaces* the old one; a company
cannot be its own parent or its descendant's child (400); changes fire ``company.associationChange``
events (``associationType`` ``PARENT_COMPANY_TO_CHILD_COMPANY`` / ``CHILD_COMPANY_TO_PARENT_COMPANY`` /
``COMPANY_TO_COMPANY``), delivered when that subscription exists (crmsync's app subscribes to it:
``DEFAULT_SUBSCRIPTIONS``); archiving a company drops its company
links without events; merges do not move them.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request

from local.fakes.hubspot.associations import AssociationsMixin, no_associations_error
from local.fakes.hubspot.constants import (
    ASSOC_PAGE_LIMIT,
    CHILD_TO_PARENT,
    COMPANY_TO_COMPANY,
    COMPANY_TO_NOTE,
    HIERARCHY_LABELS,
    NOTE_TO_COMPANY,
    OBJECT_TYPE_IDS,
    PARENT_TO_CHILD,
)
from local.fakes.hubspot.helpers import _bad, _err
from local.fakes.hubspot.model import StoredObject
from local.fakes.hubspot.properties import PARENT_PROPERTY

_ONE = {"companies": "company", "notes": "note"}
_EXTRA_PAIRS = frozenset({("companies", "companies"), ("companies", "notes"), ("notes", "companies")})
_KINDS = {
    PARENT_TO_CHILD: "PARENT_COMPANY_TO_CHILD_COMPANY",
    CHILD_TO_PARENT: "CHILD_COMPANY_TO_PARENT_COMPANY",
    COMPANY_TO_COMPANY: "COMPANY_TO_COMPANY",
}


def _spec(type_id: int) -> dict[str, Any]:
    out: dict[str, Any] = {"category": "HUBSPOT_DEFINED", "typeId": type_id}
    if type_id in HIERARCHY_LABELS:
        out["label"] = HIERARCHY_LABELS[type_id]
    return out


class HierarchyMixin(AssociationsMixin):
    """Company links and note links on top of the contact <-> company ``AssociationsMixin``."""

    def _reset_hierarchy(self) -> None:
        """Forget every company <-> company link (called by ``reset()``)."""
        self._company_parent: dict[str, str] = {}  # child id -> parent id
        self._company_links: dict[str, set[str]] = {}  # company id -> linked company ids (both ways)

    # -- Python test control -----------------------------------------------------------------------

    def set_parent_company(self, child_id: str, parent_id: str | None) -> None:
        """A salesperson sets (or, with ``None``, removes) a company's parent in the UI (events, not counted)."""
        with self._lock:
            for oid in (child_id, parent_id):
                if oid is not None and self._live("companies", oid) is None:
                    raise KeyError(f"companies {oid} does not exist")
            source = ("CRM_UI", "userId:1001")
            try:
                if parent_id is None:
                    self._unset_parent(child_id, source)
                else:
                    self._set_parent(child_id, parent_id, source)
            finally:
                self._commit_events()

    def parent_company(self, child_id: str) -> str | None:
        with self._lock:
            return self._company_parent.get(child_id)

    # -- state changes -----------------------------------------------------------------------------

    def _company_event(
        self, from_id: str, to_id: str, type_id: int, *, removed: bool, source: tuple[str, str]
    ) -> None:
        self._event(
            "company.associationChange",
            source,
            self._now_ms(),
            objectId=int(from_id),
            associationType=_KINDS[type_id],
            fromObjectId=int(from_id),
            toObjectId=int(to_id),
            associationRemoved=removed,
            isPrimaryAssociation=False,
        )

    def _link_companies(self, a: str, b: str, source: tuple[str, str]) -> None:
        if a == b:
            raise _bad("A company cannot be associated with itself")
        if b in self._company_links.get(a, set()):
            return
        self._company_links.setdefault(a, set()).add(b)
        self._company_links.setdefault(b, set()).add(a)
        self._company_event(a, b, COMPANY_TO_COMPANY, removed=False, source=source)
        self._company_event(b, a, COMPANY_TO_COMPANY, removed=False, source=source)

    def _set_parent(self, child: str, parent: str, source: tuple[str, str]) -> None:
        if child == parent:
            raise _bad("A company cannot be its own parent company")
        ancestor: str | None = parent
        while ancestor is not None:
            if ancestor == child:
                raise _bad(f"Company {parent} is a child of {child}; a hierarchy cannot loop")
            ancestor = self._company_parent.get(ancestor)
        if self._company_parent.get(child) == parent:
            return
        self._unset_parent(child, source)
        self._link_companies(child, parent, source)
        self._company_parent[child] = parent
        self._parent_property(child)
        self._company_event(parent, child, PARENT_TO_CHILD, removed=False, source=source)
        self._company_event(child, parent, CHILD_TO_PARENT, removed=False, source=source)

    def _unset_parent(self, child: str, source: tuple[str, str]) -> None:
        parent = self._company_parent.pop(child, None)
        if parent is not None:
            self._parent_property(child)
            self._company_event(parent, child, PARENT_TO_CHILD, removed=True, source=source)
            self._company_event(child, parent, CHILD_TO_PARENT, removed=True, source=source)

    def _parent_property(self, child: str) -> None:
        """Keep the child's read-only ``hs_parent_company_id`` in step with its parent (HubSpot's
        calculated "Parent Company" property). Assumption: like any property change it moves the
        company's ``hs_lastmodifieddate`` (so a modified-since search finds it); it fires no
        ``propertyChange`` event of its own (the association events tell)."""
        obj = self._live("companies", child)
        if obj is None:
            return
        parent = self._company_parent.get(child)
        if parent is None:
            obj.properties.pop(PARENT_PROPERTY, None)
        else:
            obj.properties[PARENT_PROPERTY] = parent
        self._stamp(obj, modified=self._now_ms())

    def _unlink_companies(self, a: str, b: str, source: tuple[str, str]) -> None:
        for child, parent in ((a, b), (b, a)):
            if self._company_parent.get(child) == parent:
                self._unset_parent(child, source)
        if b in self._company_links.get(a, set()):
            self._company_links[a].discard(b)
            self._company_links[b].discard(a)
            self._company_event(a, b, COMPANY_TO_COMPANY, removed=True, source=source)
            self._company_event(b, a, COMPANY_TO_COMPANY, removed=True, source=source)

    def _archive(self, obj: StoredObject, source: tuple[str, str]) -> None:
        super()._archive(obj, source)  # type: ignore[misc]
        if obj.object_type == "companies":
            for other in self._company_links.pop(obj.id, set()):
                self._company_links.get(other, set()).discard(obj.id)
            self._company_parent.pop(obj.id, None)
            for child in [c for c, p in self._company_parent.items() if p == obj.id]:
                del self._company_parent[child]
                self._parent_property(child)

    # -- reads -------------------------------------------------------------------------------------

    def _extra_targets(self, from_t: str, from_id: str, to_t: str) -> list[dict[str, Any]]:
        if (from_t, to_t) == ("companies", "notes"):
            return [
                {"toObjectId": n, "associationTypes": [_spec(COMPANY_TO_NOTE)]}
                for n in self._company_note_ids(from_id)
            ]
        if (from_t, to_t) == ("notes", "companies"):
            return [
                {"toObjectId": c, "associationTypes": [_spec(NOTE_TO_COMPANY)]}
                for c in self._note_companies.get(from_id, [])
            ]
        out = []
        for other in sorted(self._company_links.get(from_id, set()), key=int):
            types = []
            if self._company_parent.get(other) == from_id:
                types.append(_spec(PARENT_TO_CHILD))
            if self._company_parent.get(from_id) == other:
                types.append(_spec(CHILD_TO_PARENT))
            types.append(_spec(COMPANY_TO_COMPANY))
            out.append({"toObjectId": other, "associationTypes": types})
        return out

    def _extra_exists(self, otype: str, oid: str) -> bool:
        return oid in self._notes if otype == "notes" else self._live(otype, oid) is not None

    # -- handlers (contact <-> company pairs go to ``AssociationsMixin``) ---------------------------

    def _h_assoc_batch_read(self, request: Request, payload: Any, from_t: str, to_t: str) -> tuple[int, Any]:
        if (from_t, to_t) not in _EXTRA_PAIRS:
            return super()._h_assoc_batch_read(request, payload, from_t, to_t)
        started = self._now_ms()
        results, errors = [], []
        for item in self._batch_inputs(payload):
            oid = str(item.get("id", ""))
            targets = self._extra_targets(from_t, oid, to_t) if self._extra_exists(from_t, oid) else []
            if targets:
                results.append({"from": {"id": oid}, "to": targets[:ASSOC_PAGE_LIMIT]})
                continue
            errors.append(no_associations_error(_ONE[from_t], oid, _ONE[to_t]))
        return self._batch_response(results, errors, 200, started)

    def _h_assoc_list(
        self, request: Request, payload: Any, from_t: str, from_id: str, to_t: str
    ) -> tuple[int, Any]:
        if (from_t, to_t) not in _EXTRA_PAIRS:
            return super()._h_assoc_list(request, payload, from_t, from_id, to_t)
        if not self._extra_exists(from_t, from_id):
            raise _err(404, "OBJECT_NOT_FOUND", f"No {_ONE[from_t]} with id {from_id} exists")
        try:
            limit = max(1, min(int(request.args.get("limit", ASSOC_PAGE_LIMIT)), ASSOC_PAGE_LIMIT))
            start = int(request.args.get("after") or 0)
        except ValueError as exc:
            raise _bad("limit and after must be integers") from exc
        targets = self._extra_targets(from_t, from_id, to_t)
        body: dict[str, Any] = {"results": targets[start : start + limit]}
        if start + limit < len(targets):
            body["paging"] = {"next": {"after": str(start + limit)}}
        return 200, body

    def _h_assoc_put_labels(
        self, request: Request, payload: Any, from_t: str, from_id: str, to_t: str, to_id: str
    ) -> tuple[int, Any]:
        if (from_t, to_t) != ("companies", "companies"):
            if (from_t, to_t) in _EXTRA_PAIRS:
                raise _bad(f"Associating {from_t} with {to_t} this way is not supported by this fake")
            return super()._h_assoc_put_labels(request, payload, from_t, from_id, to_t, to_id)
        for oid in (from_id, to_id):
            if self._live("companies", oid) is None:
                raise _err(404, "OBJECT_NOT_FOUND", f"No company with id {oid} exists", context={"id": [oid]})
        if not isinstance(payload, list) or not payload:
            raise _bad("body must be a non-empty array of {associationCategory, associationTypeId}")
        pairs = {
            (t.get("associationCategory"), t.get("associationTypeId")) for t in payload if isinstance(t, dict)
        }
        allowed = {("HUBSPOT_DEFINED", t) for t in (PARENT_TO_CHILD, CHILD_TO_PARENT, COMPANY_TO_COMPANY)}
        type_ids = {t for _, t in pairs}
        if not pairs or not pairs <= allowed or {PARENT_TO_CHILD, CHILD_TO_PARENT} <= type_ids:
            raise _bad(f"invalid association types {sorted(map(str, type_ids))} for companies -> companies")
        source = self._api_source()
        if PARENT_TO_CHILD in type_ids:
            self._set_parent(to_id, from_id, source)
        elif CHILD_TO_PARENT in type_ids:
            self._set_parent(from_id, to_id, source)
        else:
            self._link_companies(from_id, to_id, source)
        labels = [
            HIERARCHY_LABELS[s["typeId"]]
            for t in self._extra_targets("companies", from_id, "companies")
            if t["toObjectId"] == to_id
            for s in t["associationTypes"]
            if s["typeId"] in HIERARCHY_LABELS
        ]
        return 201, {
            "fromObjectTypeId": OBJECT_TYPE_IDS["companies"],
            "fromObjectId": from_id,
            "toObjectTypeId": OBJECT_TYPE_IDS["companies"],
            "toObjectId": to_id,
            "labels": labels,
        }

    def _h_assoc_delete(
        self, request: Request, payload: Any, from_t: str, from_id: str, to_t: str, to_id: str
    ) -> tuple[int, Any]:
        if (from_t, to_t) != ("companies", "companies"):
            if (from_t, to_t) in _EXTRA_PAIRS:
                raise _bad(f"Removing {from_t} <-> {to_t} associations is not supported by this fake")
            return super()._h_assoc_delete(request, payload, from_t, from_id, to_t, to_id)
        self._unlink_companies(from_id, to_id, self._api_source())
        return 204, None

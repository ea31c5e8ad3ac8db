"""Notes (``/crm/v3/objects/notes``): create, batch create and get, associated to companies (type 190).

Facts (hubspot-accounting-facts-and-journal.md section 2, ``crm-notes-v3.json``): ``hs_timestamp`` is
required (epoch ms or ISO 8601), ``hs_note_body`` holds at most 65,536 characters (HTML), a batch holds at
most 100 inputs, and a note is tied to a company through ``associations`` with
``{associationCategory: HUBSPOT_DEFINED, associationTypeId: 190}``. A note is an engagement, not a
company change: creating one fires no company webhook and leaves the company's last-modified date alone.

*Assumptions* (HubSpot documents no texts for these): the messages of the 400s; an association to a
company that does not exist, an unknown association type or a bad property fails a *batch* create as a
whole (400, nothing written), as HubSpot validates associations before it writes; ``hubspot_owner_id``
must name an owner of the portal (``add_owner``) once the portal has any owner.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from werkzeug.wrappers import Request

from local.fakes.hubspot.constants import (
    NOTE_BODY_MAX,
    NOTE_PROPERTIES,
    NOTE_READ_ONLY,
    NOTE_TO_COMPANY,
)
from local.fakes.hubspot.helpers import (
    PropertyProblem,
    _bad,
    _err,
    _property_error,
    _str_value,
    iso_ms,
    to_ms,
)
from local.fakes.hubspot.model import StoredObject

_DEFAULT_NOTE_PROPS = ("hs_createdate", "hs_lastmodifieddate", "hs_object_id")


class NotesMixin:
    """Note records, their company associations, and the note handlers."""

    def _reset_notes(self) -> None:
        """Forget every note (called by ``reset()``)."""
        self._notes: dict[str, StoredObject] = {}
        self._note_ids = itertools.count(70_000_000_001)
        self._note_companies: dict[str, list[str]] = {}  # note id -> company ids
        self._company_notes: dict[str, list[str]] = {}  # company id -> note ids, oldest first

    # -- Python test control -----------------------------------------------------------------------

    def company_notes(self, company_id: str) -> list[dict[str, Any]]:
        """The notes associated with a company, ordered by ``hs_timestamp`` then id (all properties)."""
        with self._lock:
            notes = [self._notes[n] for n in self._company_notes.get(company_id, [])]
            notes.sort(key=lambda n: (to_ms(n.properties.get("hs_timestamp", "0")) or 0, int(n.id)))
            return [self._note_view(n, list(n.properties)) for n in notes]

    def notes(self) -> list[dict[str, Any]]:
        """Every note (all properties), by id, with ``associations: {"companies": [ids]}``."""
        with self._lock:
            out = []
            for note in sorted(self._notes.values(), key=lambda n: int(n.id)):
                view = self._note_view(note, list(note.properties))
                view["associations"] = {"companies": list(self._note_companies.get(note.id, []))}
                out.append(view)
            return out

    # -- validation and storage ----------------------------------------------------------------------

    def _note_properties(self, properties: Any) -> dict[str, str]:
        if not isinstance(properties, Mapping):
            raise _bad("properties must be an object of property name to string value")
        problems: list[PropertyProblem] = []
        clean: dict[str, str] = {}
        for name, raw in properties.items():
            value = _str_value(raw)
            if name in NOTE_READ_ONLY:
                problems.append(PropertyProblem(name, "READ_ONLY_VALUE", f'"{name}" is a read only property'))
            elif name not in NOTE_PROPERTIES:
                problems.append(
                    PropertyProblem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
                )
            elif name == "hs_timestamp" and value and to_ms(value) is None:
                problems.append(PropertyProblem(name, "INVALID_DATE", f"{value!r} is not a valid date"))
            elif name == "hs_note_body" and len(value) > NOTE_BODY_MAX:
                problems.append(
                    PropertyProblem(
                        name,
                        "INVALID_PROPERTY_VALUE",
                        f"hs_note_body is {len(value)} characters long; the limit is {NOTE_BODY_MAX}",
                    )
                )
            elif name == "hubspot_owner_id" and value and self._owners and value not in self._owners:
                problems.append(PropertyProblem(name, "INVALID_OWNER_ID", f"{value} is not a valid owner id"))
            else:
                clean[name] = value
        if not problems and not clean.get("hs_timestamp"):
            problems.append(
                PropertyProblem(
                    "hs_timestamp", "REQUIRED_PROPERTY", "hs_timestamp is required to create a note"
                )
            )
        if problems:
            raise _property_error(problems)
        return clean

    def _note_targets(self, associations: Any) -> list[str]:
        """Company ids of ``[{to: {id}, types: [{HUBSPOT_DEFINED, 190}]}]`` (400 for anything else)."""
        if associations is None:
            return []
        if not isinstance(associations, list):
            raise _bad("associations must be an array")
        out: list[str] = []
        for assoc in associations:
            if not isinstance(assoc, Mapping):
                raise _bad("every association must be an object with 'to' and 'types'")
            to_id = str((assoc.get("to") or {}).get("id", ""))
            types = assoc.get("types") or []
            pairs = {(t.get("associationCategory"), t.get("associationTypeId")) for t in types}
            if not pairs or pairs != {("HUBSPOT_DEFINED", NOTE_TO_COMPANY)}:
                raise _bad(
                    f"invalid association type(s) {types} from note (only HUBSPOT_DEFINED "
                    f"{NOTE_TO_COMPANY}, note to company, is supported by this fake)",
                    sub_category="crm.associations.INVALID_ASSOCIATION_TYPE",
                )
            if self._live("companies", to_id) is None:
                raise _bad(
                    f"Association target company {to_id} does not exist",
                    sub_category="crm.associations.INVALID_OBJECT_IDS",
                    context={"toObjectId": [to_id]},
                )
            out.append(self._merged_into["companies"].get(to_id, to_id))
        return out

    def _store_note(self, props: Mapping[str, str], companies: list[str]) -> StoredObject:
        now = self._now_ms()
        oid = str(next(self._note_ids))
        note = StoredObject(oid, "notes", {k: v for k, v in props.items() if v}, now, now)
        note.properties.update(
            {"hs_createdate": iso_ms(now), "hs_lastmodifieddate": iso_ms(now), "hs_object_id": oid}
        )
        self._notes[oid] = note
        for company_id in dict.fromkeys(companies):
            self._note_companies.setdefault(oid, []).append(company_id)
            self._company_notes.setdefault(company_id, []).append(oid)
        return note

    def _note_view(self, note: StoredObject, names: list[str], trace_id: str | None = None) -> dict[str, Any]:
        props = {n: note.properties[n] for n in names if note.properties.get(n)}
        out: dict[str, Any] = {
            "id": note.id,
            "properties": props,
            "createdAt": iso_ms(note.created_ms),
            "updatedAt": iso_ms(note.updated_ms),
            "archived": False,
        }
        if trace_id:
            out["objectWriteTraceId"] = trace_id
        return out

    def _written_view(self, note: StoredObject, written: Mapping[str, str], trace: Any) -> dict[str, Any]:
        names = list(dict.fromkeys([*_DEFAULT_NOTE_PROPS, *written]))
        return self._note_view(note, names, str(trace) if trace else None)

    def _company_note_ids(self, company_id: str) -> list[str]:
        return sorted(self._company_notes.get(company_id, []), key=int)

    # -- handlers ------------------------------------------------------------------------------------

    def _h_note_create(self, request: Request, payload: Any) -> tuple[int, Any]:
        if not isinstance(payload, dict):
            raise _bad("Invalid input JSON: expected an object with 'properties'")
        props = self._note_properties(payload.get("properties", {}))
        companies = self._note_targets(payload.get("associations"))
        note = self._store_note(props, companies)
        return 201, self._written_view(note, props, None)

    def _h_note_batch_create(self, request: Request, payload: Any) -> tuple[int, Any]:
        started = self._now_ms()
        inputs = self._batch_inputs(payload)  # > 100 inputs: 400 for the batch
        checked = []
        for item in inputs:  # validate all first: a bad input fails the batch, nothing is written
            props = self._note_properties(item.get("properties", {}))
            checked.append(
                (props, self._note_targets(item.get("associations")), item.get("objectWriteTraceId"))
            )
        results = [
            self._written_view(self._store_note(props, companies), props, trace)
            for props, companies, trace in checked
        ]
        return self._batch_response(results, [], 201, started)

    def _h_note_get(self, request: Request, payload: Any, note_id: str) -> tuple[int, Any]:
        note = self._notes.get(note_id)
        if note is None or self._flag(request, "archived"):
            raise _err(404, "OBJECT_NOT_FOUND", "resource not found", context={"id": [note_id]})
        names = [*_DEFAULT_NOTE_PROPS, *self._parse_list(request.args.getlist("properties"))]
        view = self._note_view(note, names)
        wanted = self._parse_list(request.args.getlist("associations"))
        if any(a in ("companies", "company", "0-2") for a in wanted):
            companies = self._note_companies.get(note_id, [])
            if companies:
                view["associations"] = {
                    "companies": {"results": [{"id": c, "type": "note_to_company"} for c in companies]}
                }
        return 200, view

"""Property definitions: HubSpot's predefined properties/groups and the ``/crm/v3/properties`` handlers."""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any

from werkzeug.wrappers import Request

from local.fakes.hubspot.constants import (
    FIELD_TYPES,
    FIELD_TYPES_BY_TYPE,
    INDUSTRIES,
    LAST_MODIFIED,
    LIFECYCLE_STAGES,
    MAX_UNIQUE_PROPERTIES,
    PROPERTY_TYPES,
    SINGULAR,
)
from local.fakes.hubspot.helpers import ApiError, _bad, _err, iso_ms

PARENT_PROPERTY = "hs_parent_company_id"
"""A company's parent company id: read-only, kept by HubSpot from the parent/child association (``hierarchy``)."""


def _property(
    name: str,
    label: str,
    group: str,
    type_: str = "string",
    field_type: str = "text",
    *,
    read_only: bool = False,
    unique: bool = False,
    options: Sequence[str] | None = None,
    calculated: bool = False,
    external_options: bool = False,
    hubspot_defined: bool = True,
    description: str = "",
    now: str = "2019-08-06T02:43:14.491Z",
) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "description": description,
        "groupName": group,
        "options": [
            {"label": o.title(), "value": o, "displayOrder": i, "hidden": False}
            for i, o in enumerate(options or ())
        ],
        "displayOrder": -1,
        "calculated": calculated,
        "externalOptions": external_options,
        "hasUniqueValue": unique,
        "hidden": False,
        "hubspotDefined": hubspot_defined,
        "formField": not read_only,
        "archived": False,
        "createdAt": now,
        "updatedAt": now,
        "modificationMetadata": {
            "archivable": not hubspot_defined,
            "readOnlyDefinition": hubspot_defined,
            "readOnlyValue": read_only,
        },
    }


def default_properties(object_type: str) -> dict[str, dict[str, Any]]:
    """HubSpot's predefined properties that matter to a sync (a realistic subset)."""
    if object_type == "companies":
        g = "companyinformation"
        defs = [
            _property("name", "Company name", g),
            _property("domain", "Company domain name", g),
            _property("website", "Website URL", g),
            _property("phone", "Phone Number", g, "string", "phonenumber"),
            _property("address", "Street Address", g),
            _property("address2", "Street Address 2", g),
            _property("city", "City", g),
            _property("zip", "Postal Code", g),
            _property("state", "State/Region", g),
            _property("country", "Country/Region", g),
            _property("description", "Description", g, "string", "textarea"),
            _property("industry", "Industry", g, "enumeration", "select", options=INDUSTRIES),
            _property("numberofemployees", "Number of Employees", g, "number", "number"),
            _property("annualrevenue", "Annual Revenue", g, "number", "number"),
            _property(
                "hs_additional_domains", "Additional Domains", g, "enumeration", "checkbox", read_only=True
            ),
            _property(
                "num_associated_contacts",
                "Number of Associated Contacts",
                g,
                "number",
                "number",
                read_only=True,
                calculated=True,
            ),
            _property(
                PARENT_PROPERTY, "Parent Company", g, "number", "number", read_only=True, calculated=True
            ),
        ]
    else:
        g = "contactinformation"
        defs = [
            _property("firstname", "First Name", g),
            _property("lastname", "Last Name", g),
            _property("email", "Email", g),
            _property("phone", "Phone Number", g, "string", "phonenumber"),
            _property("mobilephone", "Mobile Phone Number", g, "string", "phonenumber"),
            _property("jobtitle", "Job Title", g),
            _property("company", "Company Name", g),
            _property("website", "Website URL", g),
            _property("address", "Street Address", g),
            _property("city", "City", g),
            _property("zip", "Postal Code", g),
            _property("state", "State/Region", g),
            _property("country", "Country/Region", g),
            _property(
                "hs_additional_emails",
                "Additional email addresses",
                g,
                "enumeration",
                "checkbox",
                read_only=True,
            ),
            _property(
                "associatedcompanyid", "Primary Associated Company ID", g, "number", "number", read_only=True
            ),
        ]
    defs += [
        _property("lifecyclestage", "Lifecycle Stage", g, "enumeration", "radio", options=LIFECYCLE_STAGES),
        _property("hubspot_owner_id", "Owner", g, "enumeration", "select", external_options=True),
        _property("createdate", "Create Date", g, "datetime", "date", read_only=True),
        _property(LAST_MODIFIED[object_type], "Last Modified Date", g, "datetime", "date", read_only=True),
        _property("hs_object_id", "Record ID", g, "number", "number", read_only=True),
    ]
    return {d["name"]: d for d in defs}


def default_groups(object_type: str) -> dict[str, dict[str, Any]]:
    name, label = (
        ("companyinformation", "Company information")
        if object_type == "companies"
        else ("contactinformation", "Contact information")
    )
    return {name: {"name": name, "label": label, "displayOrder": 0, "archived": False}}


class PropertiesMixin:
    """``/crm/v3/properties/{objectType}``: list/get/create properties and property groups."""

    def _h_list_properties(self, request: Request, payload: Any, ptype: str) -> tuple[int, Any]:
        return 200, {"results": [copy.deepcopy(p) for p in self._properties[ptype].values()]}

    def _h_get_property(
        self, request: Request, payload: Any, ptype: str, property_name: str
    ) -> tuple[int, Any]:
        definition = self._properties[ptype].get(property_name)
        if definition is None:
            raise _err(
                404, "OBJECT_NOT_FOUND", f"Unable to find property {property_name} for {SINGULAR[ptype]}"
            )
        return 200, copy.deepcopy(definition)

    def _h_create_property(self, request: Request, payload: Any, ptype: str) -> tuple[int, Any]:
        if not isinstance(payload, dict):
            raise _bad("Invalid property definition")
        missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not payload.get(k)]
        if missing:
            raise _bad(f"Missing required field(s): {', '.join(missing)}")
        name, type_, field_type = payload["name"], payload["type"], payload["fieldType"]
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise _bad(f"Property name {name!r} must start with a letter and contain only a-z, 0-9 and _")
        if name in self._properties[ptype]:
            raise _err(
                409, "CONFLICT", f"A property named '{name}' already exists.", context={"name": [name]}
            )
        if type_ not in PROPERTY_TYPES:
            raise _bad(f"type must be one of {list(PROPERTY_TYPES)}")
        if field_type not in FIELD_TYPES:
            raise _bad(f"fieldType must be one of {list(FIELD_TYPES)}")
        if field_type not in FIELD_TYPES_BY_TYPE[type_]:
            raise _bad(f"fieldType {field_type} is not valid for type {type_}")
        if payload["groupName"] not in self._groups[ptype]:
            raise _bad(f"Property group '{payload['groupName']}' does not exist")
        unique = bool(payload.get("hasUniqueValue"))
        if (
            unique
            and sum(1 for p in self._properties[ptype].values() if p["hasUniqueValue"])
            >= MAX_UNIQUE_PROPERTIES
        ):
            raise _bad(f"An object can have at most {MAX_UNIQUE_PROPERTIES} unique value properties")
        options = payload.get("options") or []
        if type_ == "bool" and not options:
            options = [{"label": "Yes", "value": "true"}, {"label": "No", "value": "false"}]
        if type_ == "enumeration" and not options:
            raise _bad("options are required for enumeration properties")
        now = iso_ms(self._now_ms())
        definition = _property(
            name,
            payload["label"],
            payload["groupName"],
            type_,
            field_type,
            unique=unique,
            hubspot_defined=False,
            description=payload.get("description", ""),
            now=now,
        )
        definition["options"] = [
            {
                "label": o.get("label", o.get("value")),
                "value": o["value"],
                "displayOrder": o.get("displayOrder", i),
                "hidden": bool(o.get("hidden", False)),
            }
            for i, o in enumerate(options)
        ]
        definition["hidden"] = bool(payload.get("hidden", False))
        definition["formField"] = bool(payload.get("formField", False))
        definition["displayOrder"] = payload.get("displayOrder", -1)
        self._properties[ptype][name] = definition
        if unique:
            self._unique[ptype].setdefault(name, {})
        return 201, copy.deepcopy(definition)

    def _h_batch_create_properties(self, request: Request, payload: Any, ptype: str) -> tuple[int, Any]:
        """``POST .../batch/create``: each input as a single create; refused ones become 207 errors.

        *Assumption*: HubSpot documents no per-input behaviour; an input that clashes with an existing
        property (or is invalid) is reported in ``errors`` with ``context.name`` and the rest are created."""
        started = self._now_ms()
        results, errors = [], []
        for item in self._batch_inputs(payload):
            try:
                _, created = self._h_create_property(request, item, ptype)
            except ApiError as exc:
                errors.append(self._standard_error(exc, None, {"name": [str(item.get("name", ""))]}))
                continue
            results.append(created)
        return self._batch_response(results, errors, 201, started)

    def _h_list_groups(self, request: Request, payload: Any, ptype: str) -> tuple[int, Any]:
        return 200, {"results": [dict(g) for g in self._groups[ptype].values()]}

    def _h_get_group(self, request: Request, payload: Any, ptype: str, group_name: str) -> tuple[int, Any]:
        group = self._groups[ptype].get(group_name)
        if group is None:
            raise _err(404, "OBJECT_NOT_FOUND", f"Unable to find property group {group_name}")
        return 200, dict(group)

    def _h_create_group(self, request: Request, payload: Any, ptype: str) -> tuple[int, Any]:
        if not isinstance(payload, dict) or not payload.get("name") or not payload.get("label"):
            raise _bad("name and label are required")
        name = payload["name"]
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise _bad(f"Group name {name!r} must contain only a-z, 0-9 and _")
        if name in self._groups[ptype]:
            raise _err(409, "CONFLICT", f"A property group named '{name}' already exists.")
        group = {
            "name": name,
            "label": payload["label"],
            "displayOrder": payload.get("displayOrder", -1),
            "archived": False,
        }
        self._groups[ptype][name] = group
        return 201, dict(group)

"""Record writes: validation, unique-value index, create/apply/archive (with their webhook events)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from local.fakes.hubspot.constants import ASSOC_TYPES, LAST_MODIFIED, LIFECYCLE_STAGES, SINGULAR
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


class RecordsMixin:
    """Validation and unique values, timestamps, and the create/update/archive primitives."""

    def _live(self, otype: str, oid: str) -> StoredObject | None:
        oid = self._merged_into[otype].get(oid, oid)
        obj = self._objects[otype].get(oid)
        return obj if obj is not None and not obj.archived else None

    def _is_unique_prop(self, otype: str, name: str) -> bool:
        if otype == "contacts" and name in ("email", "hs_additional_emails"):
            return True
        definition = self._properties[otype].get(name)
        return bool(definition and definition.get("hasUniqueValue"))

    def _unique_key(self, otype: str, name: str) -> str:
        return "email" if otype == "contacts" and name == "hs_additional_emails" else name

    @staticmethod
    def _unique_values(name: str, value: str) -> list[str]:
        if name == "hs_additional_emails":
            return [v.strip().lower() for v in value.split(";") if v.strip()]
        return [value.strip().lower()] if value.strip() else []

    def _index(self, otype: str, oid: str, name: str, value: str) -> None:
        if self._is_unique_prop(otype, name):
            bucket = self._unique[otype].setdefault(self._unique_key(otype, name), {})
            for v in self._unique_values(name, value):
                bucket[v] = oid

    def _unindex(self, otype: str, oid: str, name: str, value: str) -> None:
        if self._is_unique_prop(otype, name):
            bucket = self._unique[otype].get(self._unique_key(otype, name), {})
            for v in self._unique_values(name, value):
                if bucket.get(v) == oid:
                    del bucket[v]

    def _find_unique(self, otype: str, name: str, value: str) -> StoredObject | None:
        bucket = self._unique[otype].get(self._unique_key(otype, name), {})
        oid = bucket.get(value.strip().lower())
        return self._live(otype, oid) if oid else None

    def _check_unique(self, otype: str, props: Mapping[str, str], self_id: str | None) -> None:
        for name, value in props.items():
            if not value or not self._is_unique_prop(otype, name):
                continue
            for v in self._unique_values(name, value):
                holder = self._find_unique(otype, name, v)
                if holder is not None and holder.id != self_id:
                    if otype == "contacts" and name == "email" and self_id is None:
                        raise _err(409, "CONFLICT", f"Contact already exists. Existing ID: {holder.id}")
                    raise _err(
                        409,
                        "CONFLICT",
                        f"A {SINGULAR[otype]} with the unique value {v!r} for property {name!r} already exists. "
                        f"Existing ID: {holder.id}",
                        context={"propertyName": [name], "existingObjectId": [holder.id]},
                    )

    def _validate(
        self, otype: str, properties: Any, *, existing: StoredObject | None, lifecycle: bool = True
    ) -> dict[str, str]:
        """Check names, read-only flags, types and options; return the values as strings."""
        if not isinstance(properties, Mapping):
            raise _bad("properties must be an object of property name to string value")
        problems: list[PropertyProblem] = []
        clean: dict[str, str] = {}
        for name, raw in properties.items():
            definition = self._properties[otype].get(name)
            if definition is None:
                problems.append(
                    PropertyProblem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
                )
                continue
            if definition["modificationMetadata"]["readOnlyValue"]:
                problems.append(PropertyProblem(name, "READ_ONLY_VALUE", f'"{name}" is a read only property'))
                continue
            value = _str_value(raw)
            problem = self._check_value(definition, value)
            if problem is None and lifecycle and name == "lifecyclestage" and existing is not None:
                problem = self._check_lifecycle(existing.properties.get(name, ""), value)
            if problem is not None:
                problems.append(PropertyProblem(name, problem[0], problem[1]))
                continue
            clean[name] = value
        if problems:
            raise _property_error(problems)
        return clean

    @staticmethod
    def _check_value(definition: Mapping[str, Any], value: str) -> tuple[str, str] | None:
        if value == "":
            return None
        ptype, name = definition["type"], definition["name"]
        if ptype == "number":
            try:
                float(value)
            except ValueError:
                return "INVALID_INTEGER", f"{value!r} is not a valid number for {name}"
        elif ptype == "bool":
            if value.lower() not in ("true", "false"):
                return "INVALID_OPTION", f"{value!r} was not one of the allowed options: [true, false]"
        elif ptype in ("date", "datetime"):
            if to_ms(value) is None:
                return "INVALID_DATE", f"{value!r} is not a valid date for {name}"
        elif ptype == "enumeration" and not definition.get("externalOptions"):
            allowed = {o["value"] for o in definition.get("options", [])}
            if name == "lifecyclestage" and value.isdigit():
                return None  # custom stages are numeric ids
            values = value.split(";") if definition["fieldType"] == "checkbox" else [value]
            bad = [v for v in values if v not in allowed]
            if bad:
                return "INVALID_OPTION", f"{bad[0]} was not one of the allowed options: {sorted(allowed)}"
        return None

    @staticmethod
    def _check_lifecycle(current: str, new: str) -> tuple[str, str] | None:
        if not current or not new or current == new:
            return None
        if (
            current in LIFECYCLE_STAGES
            and new in LIFECYCLE_STAGES
            and LIFECYCLE_STAGES.index(new) < LIFECYCLE_STAGES.index(current)
        ):
            return (
                "INVALID_OPTION",
                f"lifecyclestage can only be set forward ({current} -> {new}); "
                "clear the value first to move it backward",
            )
        return None

    def _stamp(self, obj: StoredObject, *, created: int | None = None, modified: int) -> None:
        if created is not None:
            obj.created_ms = created
            obj.properties["createdate"] = iso_ms(created)
            obj.properties["hs_object_id"] = obj.id
        obj.updated_ms = modified
        obj.properties[LAST_MODIFIED[obj.object_type]] = iso_ms(modified)
        self._reindex_later(obj, created=created is not None)

    def _apply(self, obj: StoredObject, props: Mapping[str, str], source: tuple[str, str]) -> dict[str, str]:
        """Write validated values (``""`` clears); bump last-modified and emit events if anything changed."""
        self._check_unique(obj.object_type, props, obj.id)
        changed: dict[str, str] = {}
        for name, value in props.items():
            old = obj.properties.get(name, "")
            if old == value:
                continue
            if old:
                self._unindex(obj.object_type, obj.id, name, old)
            if value:
                obj.properties[name] = value
                self._index(obj.object_type, obj.id, name, value)
            else:
                obj.properties.pop(name, None)
            changed[name] = value
        if changed:
            now = self._now_ms()
            self._stamp(obj, modified=max(now, obj.updated_ms))
            for name, value in changed.items():
                self._event_property(obj, name, value, source, now)
        return changed

    def _create(
        self,
        otype: str,
        properties: Any,
        *,
        source: tuple[str, str],
        associations: Any = None,
    ) -> StoredObject:
        props = self._validate(otype, properties, existing=None)
        if otype == "contacts" and not any(props.get(k) for k in ("email", "firstname", "lastname")):
            raise _bad("A contact needs at least one of email, firstname or lastname.")
        self._check_unique(otype, props, None)
        links = self._inline_associations(otype, associations)
        now = self._now_ms()
        oid = str(next(self._ids[otype]))
        obj = StoredObject(oid, otype, {}, now, now)
        self._objects[otype][oid] = obj
        for name, value in props.items():
            if value:
                obj.properties[name] = value
                self._index(otype, oid, name, value)
        self._stamp(obj, created=now, modified=now)
        self._event(SINGULAR[otype] + ".creation", source, now, objectId=int(oid), changeFlag="NEW")
        for name, value in props.items():
            if value:
                self._event_property(obj, name, value, source, now)
        for other_id, primary in links:
            if otype == "contacts":
                self._add_association(oid, other_id, primary=primary or None, source=source)
            else:
                self._add_association(other_id, oid, primary=primary or None, source=source)
        return obj

    def _inline_associations(self, otype: str, associations: Any) -> list[tuple[str, bool]]:
        """Validate ``[{to:{id}, types:[{associationCategory, associationTypeId}]}]`` before creating."""
        if not associations:
            return []
        if not isinstance(associations, list):
            raise _bad("associations must be an array")
        other = "companies" if otype == "contacts" else "contacts"
        unlabeled, primary_id = ASSOC_TYPES[(otype, other)]
        out = []
        for assoc in associations:
            to_id = str((assoc.get("to") or {}).get("id", ""))
            types = assoc.get("types") or []
            type_ids = {
                t.get("associationTypeId") for t in types if t.get("associationCategory") == "HUBSPOT_DEFINED"
            }
            if not types or not type_ids or not type_ids <= {unlabeled, primary_id}:
                raise _bad(
                    f"invalid association type(s) {types} from {SINGULAR[otype]} to {SINGULAR[other]}",
                    sub_category="crm.associations.INVALID_ASSOCIATION_TYPE",
                )
            if self._live(other, to_id) is None:
                raise _bad(
                    f"Association target {SINGULAR[other]} {to_id} does not exist",
                    sub_category="crm.associations.INVALID_OBJECT_IDS",
                    context={"toObjectId": [to_id]},
                )
            out.append((to_id, primary_id in type_ids))
        return out

    def _archive(self, obj: StoredObject, source: tuple[str, str]) -> None:
        now = self._now_ms()
        obj.archived, obj.archived_ms = True, now
        self._reindex_later(obj)
        for name, value in obj.properties.items():
            self._unindex(obj.object_type, obj.id, name, value)
        pairs = (
            [(obj.id, co) for co in self._assoc.of_contact(obj.id)]
            if obj.object_type == "contacts"
            else [(c, obj.id) for c in self._assoc.of_company(obj.id)]
            if obj.object_type == "companies"
            else []
        )
        for contact_id, company_id in pairs:  # each index keeps the associations' insertion order
            self._remove_association(contact_id, company_id, source=source)
        self._event(
            SINGULAR[obj.object_type] + ".deletion", source, now, objectId=int(obj.id), changeFlag="DELETED"
        )

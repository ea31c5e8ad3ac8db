"""The write core: payload validation, ``@odata.bind``, state/status rules, create/update/delete, events.

Every HTTP write (POST, PATCH/upsert, DELETE, $batch parts, QualifyLead) and every Python-side edit
(``person_edit``, ``seed``) goes through here, so version numbers, change tracking and webhooks never differ
between paths.
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Any

from local.fakes.dataverse.entities import Column, Table
from local.fakes.dataverse.errors import (
    E_DUPLICATE,
    E_INVALID_ARG,
    E_MAXLEN,
    E_NOT_FOUND,
    E_ODATA,
    E_PAYLOAD,
    ApiError,
)
from local.fakes.dataverse.odata import API, GUID, new_id, parse_key, table_by_set

_BIND = re.compile(r"^(?:https?://[^/]+)?(?:" + re.escape(API) + r")?/?(?P<set>\w+)\((?P<key>.*)\)$")
_EDM = {"String": "Edm.String", "Memo": "Edm.String", "Money": "Edm.Decimal", "Boolean": "Edm.Boolean",
        "Decimal": "Edm.Decimal", "Integer": "Edm.Int32", "DateOnly": "Edm.Date"}  # fmt: skip
DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def not_found(table: Table, row_id: str) -> ApiError:
    return ApiError(404, E_NOT_FOUND, f"{table.name} With Id = {row_id} Does Not Exist")


class RecordsMixin:
    """Stored rows use read names (``name``, ``_parentaccountid_value``); one version counter per org."""

    # ------------------------------------------------------------------------------- lookups / keys

    def _alt_keys(self, table: Table) -> list[tuple[str, ...]]:
        return self.alternate_keys.get(table.name, [])

    def _find_by_key(self, table: Table, values: dict[str, Any]) -> str | None:
        for row_id, row in self._rows[table.name].items():
            if all(row.get(k) == v for k, v in values.items()):
                return row_id
        return None

    def _resolve(self, table: Table, key: str) -> tuple[str | None, dict[str, Any]]:
        """URL key -> (existing id or None, alternate-key values or {})."""
        row_id, values = parse_key(table, key, self._alt_keys(table))
        if row_id is not None:
            return row_id, {}
        return self._find_by_key(table, values), values

    def _label(self, targets: list[str] | tuple[str, ...], row_id: str) -> tuple[str, str | None]:
        for target in targets:
            row = self._rows.get(target, {}).get(row_id)
            if row is not None:
                return target, row.get(self.tables[target].primary_name)
        return targets[0], None

    def _bind_target(self, column: Column, fixed: str | None, value: Any, table: Table) -> str | None:
        if value is None:
            return None
        match = _BIND.match(str(value)) if isinstance(value, str) else None
        if match is None:
            raise ApiError(
                400, E_PAYLOAD, f"Invalid value '{value}' for '{column.name}@odata.bind' on {table.name}."
            )
        target = table_by_set(self.tables, match["set"])
        if target.name not in column.targets or (fixed is not None and target.name != fixed):
            raise ApiError(
                400,
                E_PAYLOAD,
                f"'{target.name}' is not a valid target for '{column.name}' on '{table.name}'.",
            )
        row_id, _ = self._resolve(target, match["key"])
        if row_id is None or row_id not in self._rows[target.name]:
            raise not_found(target, row_id or match["key"])
        return row_id

    # ------------------------------------------------------------------------------- validation

    def _convert(self, table: Table, body: Any, creating: bool) -> dict[str, Any]:
        """A request body -> changes in stored form; raises the Dataverse-like 400s."""
        if not isinstance(body, dict):
            raise ApiError(400, E_ODATA, "The request body must be a JSON object.")
        changes: dict[str, Any] = {}
        kind = f"Microsoft.Dynamics.CRM.{table.name}"
        for key, value in body.items():
            if key.endswith("@odata.bind"):
                nav = key[: -len("@odata.bind")]
                if nav not in table.navs:
                    raise ApiError(
                        400,
                        E_PAYLOAD,
                        f"An undeclared property '{nav}' which only has property annotations in "
                        "the payload but no property value was found in the payload.",
                    )
                column, fixed = table.navs[nav]
                changes[column.read_name] = self._bind_target(column, fixed, value, table)
                continue
            if key.startswith("@") or "@" in key:
                continue  # instance annotations (@odata.type, x@OData.Community...) are ignored
            column = table.columns.get(key)
            if column is None or column.is_lookup:
                if key in table.navs:
                    raise ApiError(
                        400,
                        E_ODATA,
                        "A 'PrimitiveValue' node with non-null value was found when trying to read "
                        "the value of a navigation property; however, a 'StartArray' node, a 'StartObject' node, "
                        "or a 'PrimitiveValue' node with null value was expected.",
                    )
                raise ApiError(400, E_PAYLOAD, f"Invalid property '{key}' was found in entity '{kind}'.")
            if column.read_only:
                continue  # read-only columns sent by a client are ignored (assumption, see docstring)
            if creating and not column.valid_for_create:
                raise ApiError(
                    400,
                    E_INVALID_ARG,
                    f"'{key}' is not valid for create on entity '{table.name}'; create the "
                    "row, then update statecode and statuscode together.",
                )
            if not creating and not column.valid_for_update:
                continue  # the primary key in a PATCH body is ignored
            changes[key] = self._check_value(table, column, value)
        return changes

    @staticmethod
    def _check_value(table: Table, column: Column, value: Any) -> Any:
        if value is None:
            return None
        t = column.type
        ok = {
            "String": isinstance(value, str),
            "Memo": isinstance(value, str),
            "Money": isinstance(value, (int, float)) and not isinstance(value, bool),
            "Decimal": isinstance(value, (int, float)) and not isinstance(value, bool),
            "Integer": isinstance(value, int) and not isinstance(value, bool),
            "DateOnly": isinstance(value, str) and bool(DATE_ONLY.fullmatch(value)),
            "Boolean": isinstance(value, bool),
            "State": isinstance(value, int) and not isinstance(value, bool),
            "Status": isinstance(value, int) and not isinstance(value, bool),
            "Uniqueidentifier": isinstance(value, str) and bool(GUID.match(value)),
        }.get(t, True)
        if not ok:
            edm = _EDM.get(t, f"Edm.{t}")
            raise ApiError(
                400, E_ODATA, f"Cannot convert the literal '{value}' to the expected type '{edm}'."
            )
        if column.max_length is not None and len(value) > column.max_length:
            raise ApiError(
                400,
                E_MAXLEN,
                f"A validation error occurred.  The length of the '{column.name}' attribute of the "
                f"'{table.name}' entity exceeded the maximum allowed length of '{column.max_length}'.",
            )
        return value.lower() if t == "Uniqueidentifier" else value

    def _apply_state(self, table: Table, row: dict[str, Any], changes: dict[str, Any]) -> None:
        """statecode/statuscode must be a valid pair; either alone implies the other (the default status)."""
        if not table.states:
            return
        state, status = changes.get("statecode"), changes.get("statuscode")
        if state is not None and str(state) not in table.states:
            raise ApiError(400, E_INVALID_ARG, f"{state} is not a valid state code on {table.name}.")
        if status is not None:
            status_state = table.state_of_status(status)
            if status_state is None or (state is not None and status_state != state):
                raise ApiError(
                    400,
                    E_INVALID_ARG,
                    f"{status} is not a valid status code for state code {state} on "
                    f"{table.name} with Id {row.get(table.pk)}.",
                )
            state = status_state
        if state is not None:
            row["statecode"] = state
            row["statuscode"] = status if status is not None else table.default_status(state)

    # ------------------------------------------------------------------------------- writes

    def _stamp(self, table: Table, row: dict[str, Any], user: str) -> None:
        self._version += 1
        row["versionnumber"] = self._version
        row["modifiedon"] = iso(self.clock())
        row["_modifiedby_value"] = user
        if "fullname" in table.columns and ("firstname" in table.columns):
            parts = [row.get("firstname"), row.get("lastname")]
            row["fullname"] = " ".join(p for p in parts if p) or None

    def _create(
        self, table: Table, changes: dict[str, Any], user: str, row_id: str | None = None, event: bool = True
    ) -> dict[str, Any]:
        row_id = (changes.pop(table.pk, None) or row_id or new_id()).lower()
        if row_id in self._rows[table.name]:
            raise ApiError(412, E_DUPLICATE, "Cannot insert duplicate key.")
        row: dict[str, Any] = {c.read_name: None for c in table.columns.values()}
        row[table.pk] = row_id
        if "_ownerid_value" in row:
            row["_ownerid_value"] = user
        if table.states:
            row["statecode"], row["statuscode"] = 0, table.default_status(0)
        if "merged" in table.columns:
            row["merged"] = False  # DefaultValue False (account.md / contact.md)
        state_changes = {k: changes.pop(k) for k in ("statecode", "statuscode") if k in changes}
        row.update(changes)
        self._apply_state(table, row, state_changes)
        row["createdon"] = iso(self.clock())
        row["_createdby_value"] = user
        self._stamp(table, row, user)
        self._rows[table.name][row_id] = row
        if event:
            target = {**changes, **state_changes, table.pk: row_id}
            self._record_event("Create", table, row_id, user, target, None, row)
        return row

    def _update(
        self, table: Table, row_id: str, changes: dict[str, Any], user: str, event: bool = True
    ) -> dict[str, Any]:
        row = self._rows[table.name].get(row_id)
        if row is None:
            raise not_found(table, row_id)
        pre = copy.deepcopy(row)
        state_changes = {k: changes.pop(k) for k in ("statecode", "statuscode") if k in changes}
        row.update(changes)
        self._apply_state(table, row, state_changes)
        self._stamp(table, row, user)
        if event:
            target = {**changes, **state_changes, table.pk: row_id}
            self._record_event("Update", table, row_id, user, target, pre, row)
        return row

    def _delete(self, table: Table, row_id: str, user: str, event: bool = True) -> None:
        row = self._rows[table.name].pop(row_id, None)
        if row is None:
            raise not_found(table, row_id)
        self._version += 1
        self._deleted[table.name].append((self._version, row_id))
        if event:
            self._record_event("Delete", table, row_id, user, None, row, None)

    def _record_event(
        self,
        message: str,
        table: Table,
        row_id: str,
        user: str,
        target: dict[str, Any] | None,
        pre: dict[str, Any] | None,
        post: dict[str, Any] | None,
    ) -> None:
        self._events.append(
            {
                "message": message,
                "table": table.name,
                "id": row_id,
                "user": user,
                "target": copy.deepcopy(target),
                "pre": copy.deepcopy(pre),
                "post": copy.deepcopy(post),
                "at": self.clock(),
            }
        )

"""``/crm/v3/objects``: serialization, single-record CRUD and the batch read/create/update/upsert/archive."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from werkzeug.wrappers import Request

from local.fakes.hubspot.constants import (
    BATCH_LIMIT,
    DEFAULT_RETURNED,
    KB_LINK,
    LAST_MODIFIED,
    LIST_MAX_LIMIT,
    OBJECT_TYPE_IDS,
    OBJECT_TYPES,
    TYPE_ALIASES,
)
from local.fakes.hubspot.helpers import ApiError, _bad, _err, _strings, iso_ms
from local.fakes.hubspot.model import StoredObject


class ObjectsMixin:
    """Record serialization, id resolution, batch helpers and the object handlers."""

    def _select(self, otype: str, requested: Sequence[str] | None) -> list[str]:
        names = list(requested) if requested else list(DEFAULT_RETURNED[otype])
        for always in ("createdate", LAST_MODIFIED[otype], "hs_object_id"):
            if always not in names:
                names.append(always)
        return names

    def _serialize(
        self,
        obj: StoredObject,
        names: Sequence[str],
        *,
        associations: Sequence[str] = (),
        trace_id: str | None = None,
        echo: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        props: dict[str, Any] = {}
        for name in names:
            if name not in self._properties[obj.object_type]:
                continue  # unknown names in a read are ignored, like HubSpot does
            value = obj.properties.get(name)
            if value:
                props[name] = value
            elif echo is not None and name in echo:
                props[name] = ""
            elif self.null_for_unset:
                props[name] = None
        out: dict[str, Any] = {
            "id": obj.id,
            "properties": props,
            "createdAt": iso_ms(obj.created_ms),
            "updatedAt": iso_ms(obj.updated_ms),
            "archived": obj.archived,
        }
        if obj.archived and obj.archived_ms is not None:
            out["archivedAt"] = iso_ms(obj.archived_ms)
        if trace_id:
            out["objectWriteTraceId"] = trace_id
        blocks = {}
        for to_type in associations:
            results = self._v3_associations(obj.object_type, obj.id, to_type)
            if results:
                blocks[to_type] = {"results": results}
        if blocks:
            out["associations"] = blocks
        return out

    def _write_view(
        self, obj: StoredObject, written: Mapping[str, str], trace_id: str | None
    ) -> dict[str, Any]:
        names = self._select(obj.object_type, [*DEFAULT_RETURNED[obj.object_type], *written])
        return self._serialize(obj, names, trace_id=trace_id, echo=written)

    @staticmethod
    def _parse_list(values: list[str]) -> list[str]:
        out: list[str] = []
        for value in values:
            out += [v.strip() for v in value.split(",") if v.strip()]
        return out

    @staticmethod
    def _flag(request: Request, name: str) -> bool:
        return request.args.get(name, "false").lower() == "true"

    def _resolve(
        self, otype: str, oid: str, id_property: str | None, *, archived: bool = False
    ) -> StoredObject | None:
        if id_property and id_property != "hs_object_id":
            if not self._is_unique_prop(otype, id_property):
                raise _bad(
                    f"Unable to perform update/upsert by non-unique {OBJECT_TYPE_IDS[otype]} property "
                    f"{id_property}"
                )
            return self._find_unique(otype, id_property, oid)
        oid = self._merged_into[otype].get(oid, oid)
        obj = self._objects[otype].get(oid)
        if obj is None or obj.archived != archived:
            return None
        return obj

    @staticmethod
    def _batch_inputs(payload: Any) -> list[dict[str, Any]]:
        if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list):
            raise _bad("Invalid input JSON: 'inputs' is required")
        inputs = payload["inputs"]
        if len(inputs) > BATCH_LIMIT:
            raise _bad(f"Batch input size {len(inputs)} exceeds the limit of {BATCH_LIMIT}")
        if not all(isinstance(i, dict) for i in inputs):
            raise _bad("every input must be an object")
        return inputs

    def _batch_response(
        self, results: list[dict[str, Any]], errors: list[dict[str, Any]], ok_status: int, started: int
    ) -> tuple[int, dict[str, Any]]:
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": iso_ms(started),
            "completedAt": iso_ms(self._now_ms()),
        }
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = errors
            return 207, body
        return ok_status, body

    @staticmethod
    def _standard_error(
        exc: ApiError, trace_id: str | None, extra: Mapping[str, list[str]] | None = None
    ) -> dict[str, Any]:
        context = dict(exc.body.get("context") or {})
        if extra:
            context.update(extra)
        if trace_id:
            context["objectWriteTraceId"] = [trace_id]
        return {
            "status": "error",
            "category": exc.body.get("category", "VALIDATION_ERROR"),
            "message": exc.body.get("message", ""),
            "context": context,
            "errors": exc.body.get("errors", []),
            "links": dict(KB_LINK),
        }

    @staticmethod
    def _check_duplicate_ids(inputs: list[dict[str, Any]]) -> None:
        ids = [str(i.get("id", "")) for i in inputs]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise _bad(f"Duplicate IDs found in batch input: {duplicates}. IDs must be unique")

    # ---------------------------------------------------------------------------------- object handlers

    def _h_list_objects(self, request: Request, payload: Any, otype: str) -> tuple[int, Any]:
        try:
            limit = int(request.args.get("limit", "10"))
        except ValueError as exc:
            raise _bad("limit must be an integer") from exc
        limit = max(1, min(limit, LIST_MAX_LIMIT))
        after = request.args.get("after")
        archived = self._flag(request, "archived")
        names = self._select(otype, self._parse_list(request.args.getlist("properties")))
        assoc = [TYPE_ALIASES.get(a, a) for a in self._parse_list(request.args.getlist("associations"))]
        try:
            start = int(after) if after else 0
        except ValueError as exc:
            raise _bad(f"after must be a paging cursor, got {after!r}") from exc
        candidates = sorted(
            (o for o in self._objects[otype].values() if o.archived == archived and int(o.id) >= start),
            key=lambda o: int(o.id),
        )
        page = candidates[:limit]
        body: dict[str, Any] = {
            "results": [
                self._serialize(o, names, associations=[a for a in assoc if a in OBJECT_TYPES]) for o in page
            ]
        }
        if len(candidates) > limit:
            cursor = str(int(candidates[limit].id))
            body["paging"] = {"next": {"after": cursor, "link": f"?after={cursor}"}}
        return 200, body

    def _h_get_object(self, request: Request, payload: Any, otype: str, object_id: str) -> tuple[int, Any]:
        obj = self._resolve(
            otype, object_id, request.args.get("idProperty"), archived=self._flag(request, "archived")
        )
        if obj is None:
            raise _err(404, "OBJECT_NOT_FOUND", "resource not found", context={"id": [object_id]})
        names = self._select(otype, self._parse_list(request.args.getlist("properties")))
        assoc = [TYPE_ALIASES.get(a, a) for a in self._parse_list(request.args.getlist("associations"))]
        return 200, self._serialize(obj, names, associations=[a for a in assoc if a in OBJECT_TYPES])

    def _h_create_object(self, request: Request, payload: Any, otype: str) -> tuple[int, Any]:
        if not isinstance(payload, dict):
            raise _bad("Invalid input JSON: expected an object with 'properties'")
        obj = self._create(
            otype,
            payload.get("properties", {}),
            source=self._api_source(),
            associations=payload.get("associations"),
        )
        return 201, self._write_view(obj, _strings(payload.get("properties", {})), None)

    def _h_patch_object(self, request: Request, payload: Any, otype: str, object_id: str) -> tuple[int, Any]:
        obj = self._resolve(otype, object_id, request.args.get("idProperty"))
        if obj is None:
            raise _err(404, "OBJECT_NOT_FOUND", "resource not found", context={"id": [object_id]})
        if not isinstance(payload, dict):
            raise _bad("Invalid input JSON: expected an object with 'properties'")
        props = self._validate(otype, payload.get("properties", {}), existing=obj)
        self._apply(obj, props, self._api_source())
        return 200, self._write_view(obj, props, None)

    def _h_delete_object(self, request: Request, payload: Any, otype: str, object_id: str) -> tuple[int, Any]:
        obj = self._live(otype, object_id)
        if obj is not None:
            self._archive(obj, self._api_source())
        return 204, None

    def _h_batch_read(self, request: Request, payload: Any, otype: str) -> tuple[int, Any]:
        started = self._now_ms()
        inputs = self._batch_inputs(payload)
        id_property = payload.get("idProperty")
        archived = self._flag(request, "archived")
        names = self._select(otype, payload.get("properties") or [])
        results, missing = [], []
        for item in inputs:
            oid = str(item.get("id", ""))
            obj = self._resolve(otype, oid, id_property, archived=archived)
            if obj is None:
                missing.append(oid)
            else:
                results.append(self._serialize(obj, names))
        errors = []
        if missing:
            errors.append(
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": f"Could not get some {otype.upper()} objects, they may be deleted or not exist. "
                    "Check that ids are valid.",
                    "context": {"ids": missing},
                    "errors": [],
                    "links": {},
                }
            )
        return self._batch_response(results, errors, 200, started)

    def _h_batch_create(self, request: Request, payload: Any, otype: str) -> tuple[int, Any]:
        started = self._now_ms()
        results, errors = [], []
        for item in self._batch_inputs(payload):
            trace = item.get("objectWriteTraceId")
            try:
                obj = self._create(
                    otype,
                    item.get("properties", {}),
                    source=self._api_source(),
                    associations=item.get("associations"),
                )
            except ApiError as exc:
                errors.append(self._standard_error(exc, trace))
                continue
            results.append(self._write_view(obj, _strings(item.get("properties", {})), trace))
        return self._batch_response(results, errors, 201, started)

    def _h_batch_update(self, request: Request, payload: Any, otype: str) -> tuple[int, Any]:
        started = self._now_ms()
        inputs = self._batch_inputs(payload)
        self._check_duplicate_ids(inputs)
        results, errors = [], []
        for item in inputs:
            trace = item.get("objectWriteTraceId")
            oid = str(item.get("id", ""))
            try:
                obj = self._resolve(otype, oid, item.get("idProperty"))
                if obj is None:
                    raise _err(404, "OBJECT_NOT_FOUND", f"Object {oid} not found", context={"ids": [oid]})
                props = self._validate(otype, item.get("properties", {}), existing=obj)
                self._apply(obj, props, self._api_source())
            except ApiError as exc:
                errors.append(self._standard_error(exc, trace))
                continue
            results.append(self._write_view(obj, props, trace))
        return self._batch_response(results, errors, 200, started)

    def _h_batch_upsert(self, request: Request, payload: Any, otype: str) -> tuple[int, Any]:
        started = self._now_ms()
        inputs = self._batch_inputs(payload)
        self._check_duplicate_ids(inputs)
        for item in inputs:
            id_property = item.get("idProperty") or payload.get("idProperty")
            if (
                not id_property
                or not self._is_unique_prop(otype, id_property)
                or id_property == "hs_additional_emails"
            ):
                raise _bad(
                    f"Unable to perform update/upsert by non-unique {OBJECT_TYPE_IDS[otype]} property "
                    f"{id_property}"
                )
        results, errors = [], []
        for item in inputs:
            trace = item.get("objectWriteTraceId")
            oid = str(item.get("id", ""))
            id_property = item.get("idProperty") or payload.get("idProperty")
            try:
                obj = self._find_unique(otype, id_property, oid) if oid else None
                if obj is None:
                    props = {**_strings(item.get("properties", {})), id_property: oid}
                    obj = self._create(otype, props, source=self._api_source())
                    view = self._write_view(obj, props, trace)
                    view["new"] = True
                else:
                    props = self._validate(otype, item.get("properties", {}), existing=obj)
                    self._apply(obj, props, self._api_source())
                    view = self._write_view(obj, props, trace)
                    view["new"] = False
            except ApiError as exc:
                errors.append(self._standard_error(exc, trace))
                continue
            results.append(view)
        return self._batch_response(results, errors, 200, started)

    def _h_batch_archive(self, request: Request, payload: Any, otype: str) -> tuple[int, Any]:
        for item in self._batch_inputs(payload):
            obj = self._live(otype, str(item.get("id", "")))
            if obj is not None:
                self._archive(obj, self._api_source())
        return 204, None

"""Table endpoints: create (POST), retrieve (GET one/many, paged), update/upsert (PATCH), delete."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from local.fakes.dataverse.entities import Table
from local.fakes.dataverse.errors import E_KEY_EXISTS, E_ODATA, E_VERSION, ApiError
from local.fakes.dataverse.filters import compile_filter
from local.fakes.dataverse.odata import (
    API,
    MAX_PAGE,
    Req,
    Resp,
    etag,
    max_page_size,
    parse_orderby,
    parse_select,
    query_string,
    read_cookie,
    render_row,
    sort_rows,
)
from local.fakes.dataverse.records import not_found

JSON = {"Content-Type": "application/json; odata.metadata=minimal"}
_TRACKING_FORBIDDEN = ("$filter", "$orderby", "$expand", "$top")


class CrudMixin:
    """HTTP semantics of rows: 204/201 on create, conditional PATCH/DELETE, upsert, paging, 304."""

    def _api_url(self) -> str:
        return f"{self.org_url}{API}"

    def _entity_id(self, table: Table, row_id: str) -> str:
        return f"{self._api_url()}/{table.entity_set}({row_id})"

    def _context(self, table: Table, select: list[str] | None, suffix: str = "") -> str:
        sel = f"({','.join(select)})" if select else ""
        return f"{self._api_url()}/$metadata#{table.entity_set}{sel}{suffix}"

    def _render(
        self, table: Table, row: dict[str, Any], select: list[str] | None, req: Req
    ) -> dict[str, Any]:
        annotate = "odata.include-annotations" in req.prefers()
        return render_row(table, row, select, annotate, self._label)

    def _applied(self, req: Req, *extra: str) -> dict[str, str]:
        applied = list(extra)
        if "odata.include-annotations" in req.prefers():
            applied.append(f'odata.include-annotations="{req.prefers()["odata.include-annotations"]}"')
        return {"Preference-Applied": ",".join(applied)} if applied else {}

    # ------------------------------------------------------------------------------- create

    def _h_create(self, req: Req, table: Table) -> Resp:
        changes = self._convert(table, req.json(), creating=True)
        row = self._create(table, changes, req.user_id)
        url = self._entity_id(table, row[table.pk])
        headers = {"Location": url, "OData-EntityId": url}
        if req.prefers().get("return") == "representation":
            select = parse_select(table, req.query.get("$select"))
            body = {
                "@odata.context": self._context(table, select, "/$entity"),
                **self._render(table, row, select, req),
            }
            return Resp(201, body, {**headers, **JSON, **self._applied(req, "return=representation")})
        return Resp(204, None, headers)

    # ------------------------------------------------------------------------------- retrieve

    def _h_get(self, req: Req, table: Table, key: str) -> Resp:
        row_id, _ = self._resolve(table, key)
        row = self._rows[table.name].get(row_id or "")
        if row is None:
            raise not_found(table, row_id or key)
        select = parse_select(table, req.query.get("$select"))
        tag = etag(row["versionnumber"])
        annotated = "odata.include-annotations" in req.prefers() or "$expand" in req.query
        if req.headers.get("if-none-match") in (tag, "*") and not annotated:
            return Resp(304, None, {"ETag": tag})
        body = {
            "@odata.context": self._context(table, select, "/$entity"),
            **self._render(table, row, select, req),
        }
        return Resp(200, body, {**JSON, "ETag": tag, **self._applied(req)})

    def _h_list(self, req: Req, table: Table) -> Resp:
        q = req.query
        if "$skip" in q:
            raise ApiError(400, E_ODATA, "The query parameter $skip is not supported.")
        select = parse_select(table, q.get("$select"))
        if "$deltatoken" in q:
            return self._delta(req, table, select)
        tracking = "odata.track-changes" in req.prefers()
        if tracking:
            for name in _TRACKING_FORBIDDEN:
                if name in q:
                    raise ApiError(
                        400,
                        E_ODATA,
                        f'The "{name}" query parameter isn\'t supported when Change Tracking is enabled.',
                    )
        rows = list(self._rows[table.name].values())
        if q.get("$filter"):
            predicate = compile_filter(table, q["$filter"])
            rows = [r for r in rows if predicate(r)]
        rows = sort_rows(rows, parse_orderby(table, q.get("$orderby")), table.pk)
        size = max_page_size(req)
        applied: list[str] = [] if size is None else [f"odata.maxpagesize={size}"]
        if "$top" in q and size is None:
            try:
                rows = rows[: max(0, int(q["$top"]))]
            except ValueError:
                raise ApiError(400, E_ODATA, f"Invalid value '{q['$top']}' for $top query option.") from None
        cookie = read_cookie(q.get("$skiptoken", ""))
        if q.get("$skiptoken") and not cookie:
            # assumption: Dataverse refuses a paging cookie it cannot read (the wording is made up)
            raise ApiError(400, E_ODATA, "The $skiptoken query option value is not a valid paging cookie.")
        page = int(cookie.get("pagenumber", "1"))
        cookie_size = int(cookie.get("pagesize", str(size or MAX_PAGE)))
        size = size or MAX_PAGE
        offset = (page - 1) * cookie_size
        version = int(cookie.get("version", str(self._version)))
        chunk = rows[offset : offset + size]
        body: dict[str, Any] = {
            "@odata.context": self._context(table, select),
            "value": [self._render(table, r, select, req) for r in chunk],
        }
        if offset + size < len(rows):
            extra = f' version="{version}"' if tracking else ""
            token = f'<cookie pagenumber="{page + 1}" pagesize="{size}" istracking="{tracking}"{extra} />'
            params = {k: v for k, v in q.items() if k != "$skiptoken"}
            params["$skiptoken"] = token
            body["@odata.nextLink"] = f"{self._api_url()}/{table.entity_set}?{query_string(params)}"
        elif tracking:
            body["@odata.deltaLink"] = self._delta_link(table, q.get("$select"), version)
        if tracking:
            applied.append("odata.track-changes")
        return Resp(200, body, {**JSON, **self._applied(req, *applied)})

    # ------------------------------------------------------------------------------- update / upsert

    def _check_if_match(self, req: Req, table: Table, row: dict[str, Any] | None, row_id: str) -> None:
        if_match, if_none = req.headers.get("if-match"), req.headers.get("if-none-match")
        if if_match is not None:
            if row is None:
                raise not_found(table, row_id)
            if if_match != "*" and if_match != etag(row["versionnumber"]):
                raise ApiError(
                    412,
                    E_VERSION,
                    "The version of the existing record doesn't match the RowVersion property provided.",
                )
        if if_none == "*" and row is not None:
            raise ApiError(412, E_KEY_EXISTS, "A record with matching key values already exists.")

    def _h_patch(self, req: Req, table: Table, key: str) -> Resp:
        row_id, key_values = self._resolve(table, key)
        row = self._rows[table.name].get(row_id or "")
        self._check_if_match(req, table, row, row_id or key)
        body = req.json()
        representation = req.prefers().get("return") == "representation"
        if row is not None:
            if isinstance(body, dict):  # key columns in the body are removed when the row exists
                body = {k: v for k, v in body.items() if k not in key_values}
            changes = self._convert(table, body, creating=False)
            row = self._update(table, row[table.pk], changes, req.user_id)
            status = 200 if representation else 204
        else:
            changes = self._convert(table, body, creating=True)
            for name, value in key_values.items():
                changes.setdefault(name, value)  # body key values win over URL key values
            row = self._create(table, changes, req.user_id, row_id=row_id)
            status = 201 if representation else 204
        headers = {"OData-EntityId": self._entity_id(table, row[table.pk])}
        if not representation:
            return Resp(204, None, headers)
        select = parse_select(table, req.query.get("$select"))
        out = {
            "@odata.context": self._context(table, select, "/$entity"),
            **self._render(table, row, select, req),
        }
        return Resp(status, out, {**headers, **JSON, **self._applied(req, "return=representation")})

    def _h_delete(self, req: Req, table: Table, key: str) -> Resp:
        row_id, _ = self._resolve(table, key)
        row = self._rows[table.name].get(row_id or "")
        if row is None:
            raise not_found(table, row_id or key)
        self._check_if_match(req, table, row, row_id or key)
        self._delete(table, row[table.pk], req.user_id)
        return Resp(204)

    def _h_delete_ref(self, req: Req, table: Table, key: str, nav: str) -> Resp:
        """``DELETE accounts(<id>)/parentaccountid/$ref`` clears a single-valued lookup."""
        row_id, _ = self._resolve(table, key)
        if row_id is None or row_id not in self._rows[table.name]:
            raise not_found(table, row_id or key)
        if nav not in table.navs:
            raise ApiError(
                400,
                E_ODATA,
                f"Could not find a property named '{nav}' on type 'Microsoft.Dynamics.CRM.{table.name}'.",
            )
        column, _ = table.navs[nav]
        self._update(table, row_id, {column.read_name: None}, req.user_id)
        return Resp(204)

    def _h_put_property(self, req: Req, table: Table, key: str, name: str) -> Resp:
        """``PUT accounts(<id>)/telephone1`` with ``{"value": ...}`` updates one column."""
        row_id, _ = self._resolve(table, key)
        if row_id is None or row_id not in self._rows[table.name]:
            raise not_found(table, row_id or key)
        body = req.json()
        if not isinstance(body, dict) or "value" not in body:
            raise ApiError(400, E_ODATA, 'A single-property PUT needs a JSON body {"value": ...}.')
        changes = self._convert(table, {name: body["value"]}, creating=False)
        self._update(table, row_id, changes, req.user_id)
        return Resp(204)

    def _h_put_ref(self, req: Req, table: Table, key: str, nav: str) -> Resp:
        """``PUT accounts(<id>)/primarycontactid/$ref`` with ``{"@odata.id": "<url>"}`` sets a lookup."""
        row_id, _ = self._resolve(table, key)
        if row_id is None or row_id not in self._rows[table.name]:
            raise not_found(table, row_id or key)
        body = req.json()
        if not isinstance(body, dict) or "@odata.id" not in body:
            raise ApiError(400, E_ODATA, 'A $ref PUT needs a JSON body {"@odata.id": "<url>"}.')
        changes = self._convert(table, {f"{nav}@odata.bind": body["@odata.id"]}, creating=False)
        self._update(table, row_id, changes, req.user_id)
        return Resp(204)

    def _delta_link(self, table: Table, select: str | None, version: int) -> str:
        token = f"{version}!{self._token_time()}"
        encoded = re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(token, safe=""))
        sel = f"$select={select}&" if select else ""
        return f"{self._api_url()}/{table.entity_set}?{sel}$deltatoken={encoded}"

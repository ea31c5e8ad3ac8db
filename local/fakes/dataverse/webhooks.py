"""Webhook emitter: a ``RemoteExecutionContext`` POSTed per Create/Update/Delete of a registered table.

Facts (use-webhooks.md): JSON of the execution context with key/value arrays, WCF dates ``"\\/Date(ms)\\/"``,
lookups as ``EntityReference``; headers ``x-ms-dynamics-organization``, ``-entity-name``, ``-request-name``,
``x-ms-correlation-request-id``; over 256 KB ``ParentContext``/``InputParameters``/images are stripped and
``x-ms-dynamics-msg-size-exceeded`` is added; 60 s timeout; one retry only on 502/503/504.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

import httpx

NS = "http://schemas.microsoft.com/xrm/2011/Contracts"
SIZE_LIMIT = 256 * 1024
Target = str | Callable[[dict[str, str], bytes], int]


@dataclass
class WebhookRegistration:
    target: Target
    table: str
    messages: tuple[str, ...] = ("Create", "Update", "Delete")
    auth: tuple[str, Any] | None = None  # ("header", {"name": "value"}) or ("code", "<key>")
    step_id: str = field(default_factory=lambda: str(uuid.uuid4()))


def wcf_date(ts: float) -> str:
    return f"/Date({round(ts * 1000)})/"


def _ref(logical_name: str, row_id: str, name: str | None) -> dict[str, Any]:
    return {
        "__type": f"EntityReference:{NS}",
        "Id": row_id,
        "KeyAttributes": [],
        "LogicalName": logical_name,
        "Name": name,
        "RowVersion": None,
    }


class WebhookMixin:
    """Registrations, context building and delivery (synchronous after the write commits, see docstring)."""

    def add_webhook(
        self,
        target: Target,
        table: str,
        messages: tuple[str, ...] = ("Create", "Update", "Delete"),
        auth: tuple[str, Any] | None = None,
    ) -> WebhookRegistration:
        """Register a service endpoint + step: ``target`` is a URL or ``callable(headers, body) -> status``."""
        if table not in self.tables:
            raise ValueError(f"unknown table {table!r}")
        registration = WebhookRegistration(target, table, tuple(messages), auth)
        self.webhook_targets.append(registration)
        return registration

    def flush_webhooks(self) -> list[dict[str, Any]]:
        """Deliver every held event (``hold_webhooks=True``); returns the delivery records."""
        with self._lock:
            events, self._held = self._held, []
        return [d for event in events for d in self._deliver(event)]

    def _dispatch_events(self) -> None:
        """Called after a request commits (outside the lock): deliver or hold the events it produced."""
        with self._lock:
            events, self._events = self._events, []
            relevant = [e for e in events if any(r.table == e["table"] for r in self.webhook_targets)]
            if self.hold_webhooks:
                self._held.extend(relevant)
                return
        for event in relevant:
            self._deliver(event)

    def _entity(self, table_name: str, row_id: str, attrs: dict[str, Any] | None) -> dict[str, Any]:
        table = self.tables[table_name]
        pairs: list[dict[str, Any]] = []
        for name, value in (attrs or {}).items():
            column = table.by_read_name.get(name)
            if column is None:
                continue
            if value is not None and column.is_lookup:
                target, label = self._label(column.targets, value)
                value = _ref(target, value, label)
            elif value is not None and column.type in ("State", "Status", "Picklist"):
                value = {"__type": f"OptionSetValue:{NS}", "Value": value}
            elif value is not None and column.type == "Money":
                value = {"__type": f"Money:{NS}", "Value": value}
            elif value is not None and column.type == "DateTime":
                value = wcf_date(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
            pairs.append({"key": column.name, "value": value})
        return {
            "__type": f"Entity:{NS}",
            "Attributes": pairs,
            "EntityState": None,
            "FormattedValues": [],
            "Id": row_id,
            "KeyAttributes": [],
            "LogicalName": table_name,
            "RelatedEntities": [],
            "RowVersion": None
            if attrs is None or "versionnumber" not in attrs
            else str(attrs["versionnumber"]),
        }

    def _context_body(self, event: dict[str, Any], registration: WebhookRegistration) -> dict[str, Any]:
        message, table, row_id = event["message"], event["table"], event["id"]
        if message == "Delete":
            label = (event["pre"] or {}).get(self.tables[table].primary_name)
            target: dict[str, Any] = _ref(table, row_id, label)
        else:
            target = self._entity(table, row_id, event["target"])
        output = [{"key": "id", "value": row_id}] if message == "Create" else []
        pre = (
            [{"key": "PreImage", "value": self._entity(table, row_id, event["pre"])}] if event["pre"] else []
        )
        post = (
            [{"key": "PostImage", "value": self._entity(table, row_id, event["post"])}]
            if event["post"]
            else []
        )
        return {
            "BusinessUnitId": self.business_unit_id,
            "CorrelationId": event.setdefault("correlation", str(uuid.uuid4())),
            "Depth": 1,
            "InitiatingUserId": event["user"],
            "InputParameters": [{"key": "Target", "value": target}],
            "IsExecutingOffline": False,
            "IsInTransaction": False,
            "IsOfflinePlayback": False,
            "IsolationMode": 1,
            "MessageName": message,
            "Mode": 1,
            "OperationCreatedOn": wcf_date(event["at"]),
            "OperationId": event.setdefault("operation", str(uuid.uuid4())),
            "OrganizationId": self.organization_id,
            "OrganizationName": self.organization_name,
            "OutputParameters": output,
            "OwningExtension": {
                "Id": registration.step_id,
                "KeyAttributes": [],
                "LogicalName": "sdkmessageprocessingstep",
                "Name": f"crmsync: {message} of {table}",
                "RowVersion": None,
            },
            "ParentContext": None,
            "PostEntityImages": post,
            "PreEntityImages": pre,
            "PrimaryEntityId": row_id,
            "PrimaryEntityName": table,
            "RequestId": str(uuid.uuid4()),
            "SecondaryEntityName": "none",
            "SharedVariables": [],
            "Stage": 40,
            "UserId": event["user"],
        }

    def _deliver(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        records = []
        for registration in self.webhook_targets:
            if registration.table != event["table"] or event["message"] not in registration.messages:
                continue
            with self._lock:
                body_obj = self._context_body(event, registration)
            headers = {
                "Content-Type": "application/json",
                "x-ms-dynamics-organization": urlparse(self.org_url).netloc,
                "x-ms-dynamics-entity-name": event["table"],
                "x-ms-dynamics-request-name": event["message"],
                "x-ms-correlation-request-id": body_obj["CorrelationId"],
            }
            body = self._encode(body_obj)
            if len(body) > self.webhook_size_limit:
                for name in ("InputParameters", "PreEntityImages", "PostEntityImages"):
                    body_obj[name] = []
                body_obj["ParentContext"] = None
                headers["x-ms-dynamics-msg-size-exceeded"] = "true"
                body = self._encode(body_obj)
            url = registration.target if isinstance(registration.target, str) else "callable"
            if registration.auth is not None:
                kind, value = registration.auth
                if kind == "header":
                    headers.update(value)
                elif kind == "code":
                    url = f"{url}{'&' if '?' in url else '?'}code={value}"
            statuses = [self._post_once(registration.target, url, headers, body)]
            if statuses[0] in (502, 503, 504):  # one retry only, and only for these
                statuses.append(self._post_once(registration.target, url, headers, body))
            record = {
                "url": url,
                "headers": headers,
                "body": body,
                "statuses": statuses,
                "event": event["message"],
            }
            with self._lock:
                self.webhook_deliveries.append(record)
            records.append(record)
        return records

    @staticmethod
    def _encode(body: dict[str, Any]) -> bytes:
        """WCF's DataContractJsonSerializer escapes '/' in dates: ``"\\/Date(1506384247000)\\/"``."""
        text = json.dumps(body, separators=(",", ":"))
        return text.replace('"/Date(', '"\\/Date(').replace(')/"', ')\\/"').encode()

    def _post_once(self, target: Target, url: str, headers: dict[str, str], body: bytes) -> int:
        try:
            if callable(target):
                return int(target(dict(headers), body))
            client = self.webhook_client or httpx.Client(timeout=60.0)
            try:
                return client.post(url, content=body, headers=headers).status_code
            finally:
                if self.webhook_client is None:
                    client.close()
        except (httpx.HTTPError, OSError):
            return 0  # transport failure: not retried (only 502/503/504 are)

"""Webhooks: subscriptions, event creation, the outbox and the delivery worker (signed v3 batches, retries)."""

from __future__ import annotations

import heapq
import json
import threading
import time
from typing import Any

import httpx

from local.fakes.hubspot.constants import SINGULAR, WORKER_IDLE_S
from local.fakes.hubspot.helpers import _ok, sign_v1, sign_v3
from local.fakes.hubspot.model import NOT_SUBSCRIBABLE, Delivery, StoredObject, Subscription


class WebhookMixin:
    """Events per request/edit, drop/duplicate/reorder faults, batched signed deliveries with retries."""

    def _api_source(self) -> tuple[str, str]:
        return "INTEGRATION", str(self.app_id)

    def _subscription(self, event_type: str, property_name: str | None = None) -> Subscription | None:
        for sub in self.subscriptions:
            if not sub.active or sub.event_type != event_type:
                continue
            if event_type.endswith(".propertyChange") and sub.property_name not in (None, property_name):
                continue
            return sub
        return None

    def _event(self, event_type: str, source: tuple[str, str], occurred_ms: int, **fields: Any) -> None:
        sub = self._subscription(event_type, fields.get("propertyName"))
        if sub is None:
            return
        event = {
            "eventId": next(self._event_ids),
            "subscriptionId": sub.id,
            "portalId": self.portal_id,
            "appId": self.app_id,
            "occurredAt": occurred_ms,
            "subscriptionType": event_type,
            "attemptNumber": 0,
            "changeSource": source[0],
            "sourceId": source[1],
            **fields,
        }
        self._pending.append(event)

    def _event_property(
        self, obj: StoredObject, name: str, value: str, source: tuple[str, str], now: int
    ) -> None:
        if name in NOT_SUBSCRIBABLE:
            return
        self._event(
            SINGULAR[obj.object_type] + ".propertyChange",
            source,
            now,
            objectId=int(obj.id),
            propertyName=name,
            propertyValue=value,
        )

    def _event_association(
        self,
        contact_id: str,
        company_id: str,
        *,
        removed: bool,
        primary: bool,
        source: tuple[str, str],
        now: int,
    ) -> None:
        for kind, from_id, to_id in (
            ("CONTACT_TO_COMPANY", contact_id, company_id),
            ("COMPANY_TO_CONTACT", company_id, contact_id),
        ):
            self._event(
                "contact.associationChange",
                source,
                now,
                objectId=int(from_id),
                associationType=kind,
                fromObjectId=int(from_id),
                toObjectId=int(to_id),
                associationRemoved=removed,
                isPrimaryAssociation=primary,
            )

    def _commit_events(self) -> None:
        """Move the events of one request/edit to the outbox (so one request's events ship together)."""
        if not self._pending:
            return
        events, self._pending = self._pending, []
        self.events.extend(events)
        if self.target_url is None:
            return
        faults = self._faults
        with self._cv:
            for event in events:
                if faults.webhook_drop_rate and self._webhook_rng.random() < faults.webhook_drop_rate:
                    self._webhook_counts["dropped"] += 1
                    continue
                self._outbox.append(event)
                if (
                    faults.webhook_duplicate_rate
                    and self._webhook_rng.random() < faults.webhook_duplicate_rate
                ):
                    self._outbox.append(dict(event))
                    self._webhook_counts["duplicated"] += 1
            self._ensure_worker()
            self._cv.notify_all()

    def _ensure_worker(self) -> None:
        """Start the delivery thread if none runs (call with ``_cv`` held; the worker clears it the same way)."""
        if self._worker is None:
            self._worker = threading.Thread(
                target=self._deliver_loop, name="hubspot-fake-webhooks", daemon=True
            )
            self._worker.start()

    def _deliver_loop(self) -> None:
        idle_since: float | None = None
        while True:
            with self._cv:
                batch: list[dict[str, Any]] | None = None
                attempt = 0
                while batch is None:
                    now = time.monotonic()
                    idle = not self._retries and not self._outbox
                    if self._stopping or (
                        idle and idle_since is not None and now - idle_since > WORKER_IDLE_S
                    ):
                        self._worker = None  # under _cv: a later commit starts a fresh worker
                        return
                    idle_since = (idle_since or now) if idle else None
                    if self._retries and self._retries[0][0] <= now:
                        _, _, attempt, batch = heapq.heappop(self._retries)
                    elif self._outbox:
                        batch, self._outbox = self._outbox[:99], self._outbox[99:]
                        if self._faults.webhook_reorder and len(batch) > 1:
                            order = [id(e) for e in batch]
                            self._reorder_rng.shuffle(batch)
                            if [id(e) for e in batch] != order:
                                self._webhook_counts["reordered"] += 1
                    else:
                        timeout = (self._retries[0][0] - now) if self._retries else WORKER_IDLE_S
                        self._cv.wait(max(0.001, timeout))
                self._inflight += 1
            try:
                ok = self._deliver(batch, attempt)
                if not ok:
                    with self._cv:
                        if attempt + 1 < self.webhook_max_attempts:
                            due = time.monotonic() + self.webhook_retry_delay * (attempt + 1)
                            heapq.heappush(self._retries, (due, next(self._retry_seq), attempt + 1, batch))
                        else:
                            self._webhook_counts["given_up"] += 1
            finally:
                with self._cv:
                    self._inflight -= 1
                    self._cv.notify_all()

    def _deliver(self, events: list[dict[str, Any]], attempt: int) -> bool:
        target = self.target_url
        if target is None:
            return True
        payload = [{**e, "attemptNumber": attempt} for e in events]
        body = json.dumps(payload, separators=(",", ":"))
        timestamp = str(self._now_ms())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/) (namespace: webhooks-nonprod)",
            "X-HubSpot-Signature-v3": sign_v3(self.client_secret, "POST", target, body, timestamp),
            "X-HubSpot-Request-Timestamp": timestamp,
            "X-HubSpot-Signature": sign_v1(self.client_secret, body),
            "X-HubSpot-Signature-Version": "v1",
        }
        if self._webhook_client is None:
            self._webhook_client = httpx.Client(timeout=5.0)  # HubSpot gives up after 5 s
        status: int | None = None
        error: str | None = None
        try:
            response = self._webhook_client.post(target, content=body.encode(), headers=headers)
            status = response.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self.deliveries.append(Delivery(attempt, status, payload, headers, body, error))
        return error is None and _ok(status)

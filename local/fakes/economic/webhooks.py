"""The "Customer updated" and "Invoice booked" webhooks: the outbox, the delivery worker and its retries."""

from __future__ import annotations

import re
import threading
import time

import httpx

from local.fakes.economic.model import INVOICE_BOOKED, WebhookDelivery, WebhookEvent


class WebhookMixin:
    """Queues webhook events and delivers them from a worker thread (drop/duplicate/reorder/delay faults)."""

    def flush_webhooks(self, timeout: float = 5.0) -> bool:
        """Wait until every queued webhook has been delivered (or dropped); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._outbox_cv:
            while self._pending > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._outbox_cv.wait(remaining)
        return True

    def _fire(self, old: int, new: int, action: str) -> None:
        event = WebhookEvent(old, new, action, self.clock.now())
        self.webhook_events.append(event)
        if self.webhook_url:
            self._enqueue(event)

    def _fire_invoice_booked(self, number: int) -> None:
        """The classic "Invoice booked" webhook (``[INVOICENO]``), configured by ``set_invoice_webhook``."""
        event = WebhookEvent(number, number, INVOICE_BOOKED, self.clock.now())
        self.invoice_webhook_events.append(event)
        if self.invoice_webhook_url:
            self._enqueue(event)

    def _enqueue(self, event: WebhookEvent) -> None:
        with self._outbox_cv:
            self._outbox.append((time.monotonic(), event))
            self._pending += 1
            self._outbox_cv.notify_all()
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._deliver_loop, name="economic-webhooks", daemon=True
                )
                self._worker.start()

    def _deliver_loop(self) -> None:
        while True:
            with self._outbox_cv:
                while not self._stopping:  # stopping: deliver what is queued without waiting
                    if not self._outbox:
                        self._outbox_cv.wait()
                        continue
                    wait = self._outbox[0][0] + self._faults.webhook_delay_s - time.monotonic()
                    if wait <= 0:
                        break
                    self._outbox_cv.wait(wait)
                if not self._outbox:
                    return
                batch = [event for _, event in self._outbox]
                self._outbox.clear()
                generation = self._generation
                faults = self._faults
                reordered = False
                if faults.webhook_reorder and len(batch) > 1:
                    order = list(batch)
                    self._reorder_rng.shuffle(batch)
                    reordered = batch != order
            if faults.webhook_delay_s or reordered:
                with self._lock:  # never take _lock while holding _outbox_cv (_fire nests them the other way)
                    self._webhook_counts["delayed"] += len(batch) if faults.webhook_delay_s else 0
                    self._webhook_counts["reordered"] += reordered
            for event in batch:
                try:
                    if generation == self._generation:
                        self._deliver(event)
                finally:
                    with self._outbox_cv:
                        self._pending -= 1
                        self._outbox_cv.notify_all()

    @staticmethod
    def _merge(template: str, event: WebhookEvent) -> str:
        if event.action == INVOICE_BOOKED:
            return re.sub(r"\[INVOICENO\]", str(event.new_number), template, flags=re.IGNORECASE)
        text = re.sub(r"\[OLDNUMBER\]", str(event.old_number), template, flags=re.IGNORECASE)
        return re.sub(r"\[NEWNUMBER\]", str(event.new_number), text, flags=re.IGNORECASE)

    def _deliver(self, event: WebhookEvent) -> None:
        invoice = event.action == INVOICE_BOOKED
        url_template = self.invoice_webhook_url if invoice else self.webhook_url
        if not url_template:
            return
        body_template = self.invoice_webhook_body if invoice else self.webhook_body
        content_type = self.invoice_webhook_content_type if invoice else self.webhook_content_type
        url = self._merge(url_template, event)
        body = self._merge(body_template, event) if body_template else "{}"
        if self._webhook_rng.random() < self._faults.webhook_drop_rate:
            self.webhook_log.append(WebhookDelivery(event, url, body, content_type, dropped=True))
            return
        copies = 2 if self._webhook_rng.random() < self._faults.webhook_duplicate_rate else 1
        for copy in range(copies):
            delivery = WebhookDelivery(event, url, body, content_type, duplicate=copy > 0)
            self._send(delivery)
            self.webhook_log.append(delivery)

    def _send(self, delivery: WebhookDelivery) -> None:
        for attempt in range(1, self.webhook_max_attempts + 1):
            delivery.attempts = attempt
            try:
                if self.webhook_sink is not None:
                    delivery.status = self.webhook_sink(delivery) or 200
                else:
                    if self._webhook_client is None:
                        self._webhook_client = httpx.Client(timeout=5.0)
                    response = self._webhook_client.post(
                        delivery.url,
                        content=delivery.body.encode(),
                        headers={"Content-Type": delivery.content_type},
                    )
                    delivery.status = response.status_code
                delivery.error = None
            except Exception as exc:  # a receiver failure must never kill the worker
                delivery.status, delivery.error = None, f"{type(exc).__name__}: {exc}"
            if delivery.status is not None and delivery.status < 500:
                return
            if attempt < self.webhook_max_attempts:
                time.sleep(self.webhook_retry_delay)

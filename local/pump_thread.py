"""Keep a local stack moving in the background while a browser (or a person) uses its gateway.

``LocalStack.run_until_idle`` is what tests call between steps; a console session has no steps, so
``pumping`` runs the same rounds (webhooks, one wave of the worker's queues, the stream) in a thread
until told to stop. The stack must be ``serial``: API requests and pumped invocations then take turns,
as they share this process's ``crmsync.runtime`` context. While it runs, nothing else may pump.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from local.stack import LocalStack

log = logging.getLogger("local.pump")


@dataclass
class Pump:
    """The running pump: its rounds so far and the errors it met (raised again when it stops)."""

    rounds: int = 0
    idle_rounds: int = 0
    errors: list[BaseException] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def wait_idle(self, timeout: float = 30.0, quiet_rounds: int = 3) -> None:
        """Wait until the pump has seen ``quiet_rounds`` rounds in a row that moved nothing."""
        deadline = time.monotonic() + timeout
        start = self.rounds
        while not (self.idle_rounds >= quiet_rounds and self.rounds > start + quiet_rounds):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the stack did not settle in {timeout:g} s")
            time.sleep(0.05)


def _round(stack: LocalStack) -> int:
    stack.flush_webhooks()
    return stack.pump_queue(waves=1) + stack.pump_stream()


@contextmanager
def pumping(stack: LocalStack, *, idle_sleep: float = 0.1, pull_every: float | None = None) -> Iterator[Pump]:
    """Pump ``stack`` in a thread for the block; ``pull_every`` seconds also fires the scheduled pull."""
    if not stack.serial:
        raise ValueError("pumping needs LocalStack(serial=True): invocations must take turns")
    pump = Pump()

    def loop() -> None:
        next_pull = time.monotonic() + (pull_every or 0)
        while not pump.stop.is_set():
            try:
                if pull_every is not None and time.monotonic() >= next_pull:
                    stack.run_pull()
                    next_pull = time.monotonic() + pull_every
                moved = _round(stack)
            except Exception as exc:  # kept, and raised again when the block ends
                log.exception("pump round failed")
                pump.errors.append(exc)
                moved = 0
            pump.rounds += 1
            pump.idle_rounds = 0 if moved else pump.idle_rounds + 1
            if not moved:
                pump.stop.wait(idle_sleep)

    thread = threading.Thread(target=loop, name="local-pump", daemon=True)
    thread.start()
    try:
        yield pump
    finally:
        pump.stop.set()
        thread.join(timeout=60)
    if pump.errors:
        raise RuntimeError(f"the background pump failed {len(pump.errors)} times") from pump.errors[0]

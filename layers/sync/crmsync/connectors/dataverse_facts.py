"""Accounting facts on Dynamics accounts: columns the organisation adds, written in ``$batch`` bodies.

Dataverse has no standard column for an open balance (``aging30/60/90`` are "for system use only" and
read-only), so the operator adds one column per fact to the account table and maps it
(``dynamics.fact_columns``, e.g. ``{"open_balance": "new_openbalance"}``); a fact without a column is
not written. The column types crmsync writes (docs/dynamics.md lists them): amounts as Currency or
Decimal (a JSON number), counts and the invoice number as Whole number, the date as Date only
(``YYYY-MM-DD``). Nothing is created on the vendor (``ensure_facts_setup`` checks only that a column is
mapped), as with the customer-field columns (``DynamicsSettings.columns``).

Each account is one ``PATCH accounts(<id>)`` with ``If-Match: *`` (never a create; a deleted account is
a 404, reported for that id), 100 to a ``$batch`` with continue-on-error. A batch the service refuses
as a whole (429 after the retries, 5xx) raises, so the refresh is retried and goes on where it stopped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crmsync.connectors.base import TransientError, VendorError, VendorRefusedError
from crmsync.connectors.dataverse_batch import BatchPart
from crmsync.connectors.dataverse_mapping import is_guid
from crmsync.connectors.dataverse_writes import DataverseWrites
from crmsync.facts import AMOUNT_FACTS, DATE_FACTS, WHOLE_NUMBER_FACTS

AMOUNTS, WHOLE_NUMBERS, DATES = AMOUNT_FACTS, WHOLE_NUMBER_FACTS, DATE_FACTS
FACT_COLUMN_NAMES = AMOUNTS | WHOLE_NUMBERS | DATES
"""The facts an organisation can map to account columns (``crmsync.facts.fact_values``' names)."""


def column_value(fact: str, value: str | None) -> Any:
    """A fact's text value -> the JSON value its column type takes."""
    if value is None or value == "":
        return None
    if fact in AMOUNTS:
        return float(value)
    if fact in WHOLE_NUMBERS:
        return int(value)
    return value  # a date: YYYY-MM-DD


class DataverseFacts(DataverseWrites):
    """``FactsWriter`` of ``DataverseConnector`` (see the module doc)."""

    fact_columns: Mapping[str, str] = {}

    def ensure_facts_setup(self) -> None:
        if not self.fact_columns:
            raise VendorRefusedError(
                "no account columns are mapped for the accounting facts (dynamics.fact_columns)",
                code="no_fact_columns",
            )

    def write_facts(self, values: dict[str, dict[str, str | None]]) -> dict[str, str | None]:
        answers: dict[str, str | None] = {}
        targets: list[str] = []
        parts: list[BatchPart] = []
        for ext, facts in values.items():
            if not is_guid(ext):
                answers[ext] = "not a Dataverse account id"
                continue
            body = {
                column: column_value(fact, facts.get(fact))
                for fact, column in self.fact_columns.items()
                if fact in facts
            }
            if not body:
                answers[ext] = None  # nothing mapped: nothing to write
                continue
            targets.append(ext)
            parts.append(BatchPart("PATCH", self.url(f"accounts({ext})"), body, {"If-Match": "*"}))
        retryable: VendorError | None = None
        for ext, outcome in zip(targets, self._send(parts) if parts else [], strict=True):
            if isinstance(outcome, VendorError):
                if outcome.retryable and retryable is None:
                    retryable = outcome
                answers[ext] = f"{outcome.code or 'refused'}: {outcome.message}"
            else:
                answers[ext] = None
        if retryable is not None:
            raise TransientError(
                f"Dataverse did not take the facts batch: {retryable.message}", code="facts_batch"
            )
        return answers

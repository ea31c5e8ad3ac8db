"""Accounting facts on HubSpot companies: custom properties in the ``crmsync`` group, batch-updated.

- ``ensure_fact_properties`` reads the company properties once, creates the ``crmsync`` group when
  missing (as ``ensure_setup`` does) and the missing properties in one
  ``POST /crm/v3/properties/companies/batch/create``. An existing property is left as it is (also when
  a person made it with another type; a warning names it). Per instance, a name once ensured is not
  looked at again.
- **Not read-only in HubSpot.** The Properties API's ``PropertyCreate`` has no ``modificationMetadata``
  (``readOnlyValue`` is answered, never accepted): a property an integration creates stays editable by
  people. The description says crmsync overwrites it, and the next refresh does.
- ``write_company_properties``: 100 companies per ``POST /crm/v3/objects/companies/batch/update``
  (``None`` clears a value). Answers per company id ``None`` (written) or HubSpot's reason; a company
  that does not exist (any more) is reported, not raised, also when HubSpot refuses the batch as a whole
  (it is bisected down to the refused company). A 429 after the retries, or a 5xx/timeout after the
  retries, raises (an update is idempotent, so the caller may resend everything).
- ``ensure_facts_setup``/``write_facts`` are ``crmsync.connectors.facts_ports.FactsWriter`` on top:
  fact ``<name>`` (``crmsync.facts.fact_values``) is company property ``crmsync_<name>``.
- These writes change companies, so HubSpot sends ``company.propertyChange`` webhooks for them
  (``changeSource`` INTEGRATION); ``crmsync_*`` fact properties are not canonical fields.
"""

from __future__ import annotations

import contextlib
from typing import Any, Literal

from aws_lambda_powertools import Logger
from pydantic import BaseModel, Field, model_validator

from crmsync.connectors.base import AuthError, ConflictError, VendorError, VendorRefusedError
from crmsync.connectors.hubspot_client import BATCH_SIZE, _slices
from crmsync.connectors.hubspot_errors import _body
from crmsync.connectors.hubspot_setup import CustomProperty, HubSpotSetup
from crmsync.facts import AMOUNT_FACTS, DATE_FACTS, WHOLE_NUMBER_FACTS

logger = Logger(child=True)

_FIELD_TYPES = {"number": {"number"}, "date": {"date"}, "string": {"text", "textarea"}}


class FactProperty(BaseModel):
    """A company property crmsync writes a fact to (Properties API ``PropertyCreate``)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=100)
    label: str = Field(min_length=1)
    type: Literal["number", "date", "string"] = "string"
    field_type: Literal["number", "date", "text", "textarea"] = "text"
    number_display_hint: Literal["currency", "formatted", "unformatted"] | None = None

    @model_validator(mode="after")
    def _field_type_fits(self) -> FactProperty:
        if self.field_type not in _FIELD_TYPES[self.type]:
            raise ValueError(f"fieldType {self.field_type} does not fit type {self.type}")
        return self

    def body(self) -> dict[str, Any]:
        out = CustomProperty(self.name, self.label, self.type, self.field_type).body()
        out["description"] = (
            f"{self.label}, from the accounting system. Maintained by crmsync: edits are overwritten."
        )
        if self.number_display_hint and self.type == "number":
            out["numberDisplayHint"] = self.number_display_hint
        return out


_TYPES = {**dict.fromkeys(DATE_FACTS, "date"), **dict.fromkeys(AMOUNT_FACTS | WHOLE_NUMBER_FACTS, "number")}
FACT_PROPERTIES: tuple[FactProperty, ...] = tuple(
    FactProperty(
        name=f"crmsync_{name}",
        label=name.replace("_", " ").capitalize(),
        type=_TYPES[name],
        field_type=_TYPES[name],
    )
    for name in sorted(AMOUNT_FACTS | WHOLE_NUMBER_FACTS | DATE_FACTS)
)
"""The properties of ``crmsync.facts.fact_values``' facts (``crmsync_<fact>``)."""


class HubSpotFacts(HubSpotSetup):
    """``ensure_fact_properties``, ``write_company_properties`` (and ``FactsWriter``) of ``HubSpotConnector``."""

    _facts_ensured: frozenset[str] = frozenset()

    def ensure_fact_properties(self, definitions: list[FactProperty]) -> None:
        """Create the ``crmsync`` group and the missing properties (one batch create; see module doc)."""
        wanted = [d for d in definitions if d.name not in self._facts_ensured]
        if not wanted:
            return
        existing = {p["name"]: p for p in _body(self._call("GET", "/crm/v3/properties/companies"))["results"]}
        for spec in wanted:
            have = existing.get(spec.name)
            if have is not None and have.get("type") != spec.type:
                logger.warning(
                    "HubSpot company property exists with another type; left as it is",
                    extra={"property": spec.name, "type": have.get("type"), "wanted": spec.type},
                )
        missing = [d for d in wanted if d.name not in existing]
        if missing:
            self._ensure_group("companies")
            data: dict[str, Any] = {}
            with contextlib.suppress(ConflictError):  # all created concurrently by another worker: fine
                data, _ = self._post(
                    "/crm/v3/properties/companies/batch/create", {"inputs": [d.body() for d in missing]}
                )
            refused = [e for e in data.get("errors") or [] if e.get("category") != "CONFLICT"]
            if refused:
                names = sorted({n for e in refused for n in (e.get("context") or {}).get("name") or []})
                raise VendorRefusedError(
                    f"HubSpot refused company properties {names or '?'}: {refused[0].get('message')}",
                    code="SETUP",
                )
        self._facts_ensured = self._facts_ensured | {d.name for d in wanted}

    def write_company_properties(self, values: dict[str, dict[str, str | None]]) -> dict[str, str | None]:
        """Company id -> properties (None clears); answers per id None (written) or the reason refused."""
        answers: dict[str, str | None] = {}
        todo = []
        for company_id, props in values.items():
            if props:
                todo.append((company_id, {k: "" if v is None else v for k, v in props.items()}))
            else:
                answers[company_id] = None
        for chunk in _slices(todo, BATCH_SIZE):
            self._update_batch(list(chunk), answers)
        return {company_id: answers.get(company_id) for company_id in values}

    def _update_batch(self, batch: list[tuple[str, dict[str, str]]], answers: dict[str, str | None]) -> None:
        inputs = [{"id": cid, "properties": props, "objectWriteTraceId": cid} for cid, props in batch]
        try:
            data, _ = self._post("/crm/v3/objects/companies/batch/update", {"inputs": inputs})
        except AuthError:
            raise
        except VendorError as exc:
            if exc.retryable or exc.status is None or not 400 <= exc.status < 500:
                raise  # 429/5xx after the retries: the caller resends (updates are idempotent)
            if len(batch) > 1:
                half = len(batch) // 2
                self._update_batch(batch[:half], answers)
                self._update_batch(batch[half:], answers)
                return
            answers[batch[0][0]] = exc.message or exc.code or "refused"
            return
        ids = {cid for cid, _ in batch}
        for error in data.get("errors") or []:
            context = error.get("context") or {}
            named = [i for i in (context.get("objectWriteTraceId") or context.get("ids") or []) if i in ids]
            for cid in named or [c for c in ids if c not in answers]:
                answers[cid] = str(error.get("message") or error.get("category") or "refused")
        done = {str(r.get("id")) for r in data.get("results") or []}
        for cid in ids:
            if cid not in answers:
                answers[cid] = None if cid in done else "HubSpot returned neither a result nor an error"

    # -- FactsWriter ---------------------------------------------------------------------------------

    def ensure_facts_setup(self) -> None:
        self.ensure_fact_properties(list(FACT_PROPERTIES))

    def write_facts(self, values: dict[str, dict[str, str | None]]) -> dict[str, str | None]:
        return self.write_company_properties(
            {cid: {f"crmsync_{name}": v for name, v in facts.items()} for cid, facts in values.items()}
        )

"""A tenant's opt-in to the CRM journal (``crmsync.journal_notes``): pure settings, read by the config."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class JournalSettings(BaseModel):
    """Notes on the CRM's companies for the events a person should see."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        default=False, description="write a note on the company for each event a person should see"
    )
    sensitive_fields: list[str] = Field(
        default_factory=list, description="fields whose values never appear in a note (only their names)"
    )

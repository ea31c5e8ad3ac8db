"""Which timeline entries become a note in the CRM journal, and what it says (``crmsync.journal_notes``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crmsync.journal_notes import note_text
from crmsync.messages import JournalNote, JournalNotes
from crmsync.signal_queue import is_bulk, is_bulk_body

AT = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def written(action: str, **changes: tuple[object, object]) -> dict:
    return {
        "at": AT,
        "kind": "write",
        "decision": "written",
        "action": action,
        "external_id": "1042",
        "changes": {k: {"before": b, "after": a} for k, (b, a) in changes.items()},
    }


def test_a_customer_created_in_accounting_names_its_number() -> None:
    assert note_text(written("create", name=(None, "Acme")), "e-conomic", [], accounting=True) == (
        "crmsync: created in e-conomic as customer 1042."
    )
    assert note_text(written("create", name=(None, "Acme")), "HubSpot", []) is None, (
        "a transfer leaves no notes"
    )


def test_changed_fields_show_before_and_after_except_sensitive_ones() -> None:
    text = note_text(
        written("update", phone=("1", "2"), email=("a@x.dk", "b@x.dk"), city=(None, "Vejle")),
        "HubSpot",
        ["email"],
    )
    assert text == "crmsync: updated in HubSpot: city: (empty) → Vejle; email changed; phone: 1 → 2."


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            {"kind": "write", "decision": "parked", "reason": "city is 51 characters"},
            "could not write to e-conomic: city is 51",
        ),
        (
            {"kind": "signal", "decision": "conflict", "conflicts": ["phone", "city"]},
            "conflict on city, phone",
        ),
        (
            {"kind": "resolution", "decision": "resolved", "changes": {"phone": {"before": 1, "after": 2}}},
            "resolved (phone)",
        ),
        ({"decision": "lead_converted", "outcome": "created"}, "lead converted (created)"),
    ],
)
def test_parked_conflicts_resolutions_and_leads_are_notes(entry: dict, expected: str) -> None:
    text = note_text({"at": AT, **entry}, "e-conomic", [])
    assert text is not None and expected in text


@pytest.mark.parametrize(
    "entry",
    [
        {"kind": "signal", "decision": "echo"},
        {"kind": "signal", "decision": "unchanged"},
        {"kind": "signal", "decision": "applied", "changes": {"phone": {"before": 1, "after": 2}}},
        {"kind": "write", "decision": "written", "action": "update", "changes": {}},
        {"kind": "note", "decision": "noted"},
        {"kind": "signal", "decision": "conflict", "conflicts": []},
    ],
)
def test_echoes_unchanged_reads_and_its_own_entries_are_not_notes(entry: dict) -> None:
    assert note_text({"at": AT, **entry}, "HubSpot", []) is None


def test_notes_travel_in_the_bulk_lane_at_most_100_a_message() -> None:
    one = JournalNote(record_id="cus_1", text="x", at=AT, key="k")
    message = JournalNotes(tenant_id="t1", notes=[one])
    assert is_bulk(message) and is_bulk_body(message.model_dump(mode="json"))
    with pytest.raises(ValueError):
        JournalNotes(tenant_id="t1", notes=[one] * 101)

"""The store's typed items: what older stored JSON reads as, and what never reaches the table."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from crmsync.items import (
    LEGACY_TOKEN_EXPIRY,
    ConnectionState,
    ParkedMessage,
    ParkedWrite,
    PendingDelete,
    TokenInfo,
    parked_entry,
)
from crmsync.models import ObjectType

pytestmark = pytest.mark.timeout(10)


def test_a_parked_entry_without_kind_is_a_refused_write():
    """Entries parked before kinds existed carried no ``kind``: they were all refused writes."""
    entry = parked_entry(
        {
            "record_id": "cus_" + "a" * 32,
            "connection": "eco",
            "object_type": "customer",
            "action": "update",
            "reason": "Name is too long",
            "id": "cus_x.eco",
        }
    )
    assert isinstance(entry, ParkedWrite) and entry.kind == "write" and entry.attempts == 1


@pytest.mark.parametrize("kind", ["signal", "push", "transfer_page"])
def test_a_parked_message_reads_as_a_message_of_its_kind(kind: str):
    entry = parked_entry({"kind": kind, "message": {"kind": kind}, "reason": "gave up", "id": "k"})
    assert isinstance(entry, ParkedMessage) and entry.kind == kind


def test_a_parked_write_needs_its_record_and_connection():
    with pytest.raises(ValidationError):
        parked_entry({"reason": "refused"})


def test_what_is_stored_of_a_parked_entry_leaves_out_the_item_attributes():
    entry = ParkedWrite(
        id="cus_x.eco",
        attempts=3,
        parked_at="2026-12-07T10:00:00+00:00",
        record_id="cus_x",
        connection="eco",
        object_type=ObjectType.CUSTOMER,
        action="create",
        reason="refused",
    )
    stored = entry.stored()
    assert not {"id", "attempts", "parked_at"} & set(stored)
    assert parked_entry({**json.loads(json.dumps(stored)), "id": "cus_x.eco"}) == entry.model_copy(
        update={"attempts": 1, "parked_at": None}
    )


def test_a_connection_state_never_stores_its_per_invocation_flag():
    state = ConnectionState(state="needs_attention", reason="401", secret_checked=True)
    assert state.needs_attention
    assert "secret_checked" not in json.loads(state.model_dump_json())


def test_a_token_from_before_names_and_expiry_expires_at_the_legacy_date():
    info = TokenInfo(tenant_id="t1")
    assert info.token_id == "" and info.expires_at == LEGACY_TOKEN_EXPIRY
    assert not info.expired(datetime(2027, 3, 6, tzinfo=UTC)) and info.expired(LEGACY_TOKEN_EXPIRY)


def test_a_pending_delete_round_trips_through_its_json():
    entry = PendingDelete(
        record_id="cus_x",
        object_type=ObjectType.CUSTOMER,
        deleted_on="hs",
        targets={"eco": "1001"},
        at=datetime(2026, 12, 7, tzinfo=UTC),
    )
    assert PendingDelete.model_validate_json(entry.model_dump_json(exclude_none=True)) == entry

"""Timeline entries travel with the record change they describe (one write, not two), and none is lost."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crmsync.models import ObjectType, Record, utcnow
from crmsync.store import LOG_IN_RECORD, VersionConflict, journal_pk, new_record_id, record_from_image
from tests.integration.conftest import Env

T0 = utcnow()


def entry(n: int) -> dict[str, object]:
    return {"at": T0 + timedelta(seconds=n), "kind": "signal", "n": n}


def new_record(env: Env) -> Record:
    record = Record(
        tenant_id="t1", record_id=new_record_id(ObjectType.CUSTOMER), object_type=ObjectType.CUSTOMER
    )
    return env.store.save_record(record, log=[entry(0)])


def pages(env: Env, record_id: str) -> list[dict[str, object]]:
    answer = env.store._db.query(
        TableName=env.store.table,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": journal_pk("t1", record_id)}},
    )
    return answer["Items"]


def test_an_entry_lands_in_the_same_write_as_its_change(env: Env):
    record = new_record(env)
    ops = env.store.ops
    record.fields["city"] = "Vejle"
    record = env.store.save_record(record, log=[entry(1)])
    assert env.store.ops - ops == 1, "the record and its timeline entry: one write"
    assert [e["n"] for e in env.store.timeline("t1", record.record_id)] == [0, 1]
    assert pages(env, record.record_id) == [], "nothing in the timeline partition yet"


def test_a_full_record_moves_its_entries_to_one_page_and_the_timeline_keeps_every_entry(env: Env):
    record = new_record(env)
    for n in range(1, 3 * LOG_IN_RECORD):
        record = env.store.save_record(env.store.get_record("t1", record.record_id) or record, log=[entry(n)])
    items = pages(env, record.record_id)
    assert len(items) == 2 and all("page" in i for i in items), "two pages of LOG_IN_RECORD entries each"
    stored = env.store.get_record("t1", record.record_id)
    assert stored is not None and 0 < len(stored._log or []) <= LOG_IN_RECORD
    assert [e["n"] for e in env.store.timeline("t1", record.record_id)] == list(range(3 * LOG_IN_RECORD))


def test_a_copy_that_never_saw_the_entries_does_not_drop_them(env: Env):
    """A stream image from before the log existed, say: its save appends, it never replaces."""
    record = new_record(env)
    record = env.store.save_record(env.store.get_record("t1", record.record_id) or record, log=[entry(1)])
    blind = record_from_image(record.model_dump_json(exclude={"version"}), record.version)
    assert blind._log is None
    env.store.save_record(blind, log=[entry(2)])
    assert [e["n"] for e in env.store.timeline("t1", record.record_id)] == [0, 1, 2]


def test_a_save_that_loses_the_race_after_moving_a_page_shows_each_entry_once(env: Env):
    record = new_record(env)
    for n in range(1, LOG_IN_RECORD):
        record = env.store.save_record(env.store.get_record("t1", record.record_id) or record, log=[entry(n)])
    full = env.store.get_record("t1", record.record_id)
    assert full is not None and len(full._log or []) == LOG_IN_RECORD
    winner = env.store.save_record(full.model_copy(deep=True), log=[entry(100)])  # moves the page
    with pytest.raises(VersionConflict):
        env.store.save_record(full, log=[entry(200)])  # same version: writes the same page, then loses
    assert winner.version == full.version + 1
    ns = [e["n"] for e in env.store.timeline("t1", record.record_id)]
    assert ns == [*range(LOG_IN_RECORD), 100], "the lost save's entry is not there; nothing twice"


def test_a_merged_away_record_keeps_its_timeline(env: Env):
    record = new_record(env)
    record = env.store.save_record(env.store.get_record("t1", record.record_id) or record, log=[entry(1)])
    env.store.delete_record(record)
    assert env.store.get_record("t1", record.record_id) is None
    assert [e["n"] for e in env.store.timeline("t1", record.record_id)] == [0, 1]

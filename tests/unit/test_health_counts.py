"""When an otherwise working connection is ``degraded`` (issue 18 item 3): a write parked in the last hour,
or no successful pull for longer than the tenant allows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crmsync.health_counts import degraded_reason
from crmsync.items import ParkedWrite
from crmsync.models import ObjectType

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
STALE = timedelta(minutes=30)


def parked(minutes_ago: float, connection: str = "eco") -> ParkedWrite:
    return ParkedWrite(
        record_id="cus_" + "0" * 32,
        connection=connection,
        object_type=ObjectType.CUSTOMER,
        action="update",
        reason="city is 51 characters, longer than 50",
        parked_at=(NOW - timedelta(minutes=minutes_ago)).isoformat(),
    )


def test_a_recent_pull_and_no_parked_write_is_not_degraded():
    assert degraded_reason("eco", [], NOW, pull_age=timedelta(minutes=29), stale_after=STALE) is None


def test_a_late_pull_is_degraded_with_how_late():
    reason = degraded_reason("eco", [], NOW, pull_age=timedelta(minutes=95), stale_after=STALE)
    assert reason is not None and reason.startswith("no successful pull for 95 minutes")


def test_never_pulled_or_no_threshold_is_not_stale():
    assert degraded_reason("eco", [], NOW, pull_age=None, stale_after=STALE) is None
    assert degraded_reason("eco", [], NOW, pull_age=timedelta(days=3), stale_after=None) is None


def test_a_parked_write_of_the_last_hour_says_so_first():
    reason = degraded_reason(
        "eco",
        [parked(10), parked(5, "hs"), parked(90)],
        NOW,
        pull_age=timedelta(hours=5),
        stale_after=STALE,
    )
    assert (
        reason is not None
        and reason.startswith("1 write(s) parked in the last hour")
        and "51 characters" in reason
    )

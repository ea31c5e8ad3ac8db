"""The local SQS poller picks batches as an SQS fair queue would (``local.queue_poller.fair_pick``)."""

from __future__ import annotations

from typing import Any

from local.queue_poller import fair_pick


def message(n: int, group: str | None) -> dict[str, Any]:
    attributes = {"MessageGroupId": group} if group else {}
    return {"MessageId": f"m{n}", "Attributes": attributes}


def test_a_quiet_tenant_is_served_before_a_noisy_tenants_backlog_drains() -> None:
    held = [message(n, "noisy") for n in range(30)] + [message(30, "quiet"), message(31, "quiet")]
    first = fair_pick(held, 10)
    assert [m["MessageId"] for m in first[:2]] == ["m0", "m30"], "groups take turns, oldest first"
    assert {m["MessageId"] for m in first} >= {"m30", "m31"}, "both quiet messages in the first batch"
    assert len(first) == 10 and len(held) == 22
    assert [m["MessageId"] for m in held] == [f"m{n}" for n in range(8, 30)], "the rest stays in order"


def test_messages_without_a_group_are_groups_of_their_own_and_nothing_is_lost() -> None:
    held = [message(0, "a"), message(1, None), message(2, "a"), message(3, None)]
    picked = fair_pick(held, 3)
    assert [m["MessageId"] for m in picked] == ["m0", "m1", "m3"]
    assert [m["MessageId"] for m in held] == ["m2"]
    assert fair_pick(held, 3) == [message(2, "a")] and held == []
    assert fair_pick(held, 3) == []

"""Rate counters: vendor call budgets, the mass-delete guard and the API's request quota.

| item         | PK                            | SK        | attributes                                 |
|--------------|-------------------------------|-----------|--------------------------------------------|
| rate budget  | TENANT#t#<connection>#BUDGET  | d<day>    | ``used`` (the day), ``w``/``wused`` (newest |
|              |                               |           | window), ``pw``/``pused`` (the one before); TTL |
| delete guard | TENANT#t#DELETES#BUDGET       | h<hour>   | ``used``; TTL                               |
| api limit    | TENANT#t#API#BUDGET           | d<day>    | like the rate budget (``request_quota``)    |

Counters live in partitions of their own (``<key>#BUDGET``), away from the tenant's records, and
every take is one conditional update: instances running in parallel share one budget without a lock.
Callers pass ``key`` without the ``#BUDGET`` suffix. See ``crmsync/budget.py``.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from crmsync.budget import RateAsk, RateState, RateTake
from crmsync.store.table import Table, VersionConflict, _n, _s


class BudgetRepo(Table):
    """Window counters (``take_budget``) and day + sliding window counters (``take_rate``)."""

    def take_budget(self, key: str, window: str, amount: int, ceiling: int, expires_at: int) -> bool:
        """Add ``amount`` to a window counter unless that would pass ``ceiling`` (one conditional write)."""
        try:
            self._call(
                "update_item",
                Key={"PK": _s(f"{key}#BUDGET"), "SK": _s(window)},
                UpdateExpression="ADD used :n SET #ttl = :e",
                ConditionExpression="attribute_not_exists(used) OR used <= :max",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={
                    ":n": _n(amount),
                    ":e": _n(expires_at),
                    ":max": _n(ceiling - amount),
                },
            )
        except VersionConflict:
            return False  # the window is spent
        return True

    def budget_used(self, key: str, window: str) -> int:
        item = self._call("get_item", Key={"PK": _s(f"{key}#BUDGET"), "SK": _s(window)}).get("Item")
        return int(item["used"]["N"]) if item else 0

    def take_rate(self, key: str, ask: RateAsk) -> RateTake:
        """Count ``amount`` calls in ``window`` and in ``day`` with one conditional write (``RateBudget``).

        The day's item keeps ``used`` (the day), ``w``/``wused`` (the newest window) and
        ``pw``/``pused`` (the window before it). The usual take adds to the current window; the first
        take of a new window (its condition fails on ``w``) moves current to previous in the same
        write that counts it. A failed condition returns the item as it was, which says why.
        """
        item_key = {"PK": _s(f"{key}#BUDGET"), "SK": _s(f"d{ask.day}")}
        values = {
            ":n": _n(ask.amount),
            ":w": _n(ask.window),
            ":e": _n(ask.expires_at),
            ":dmax": _n(ask.day_ceiling - ask.amount),
        }
        names = {"#ttl": "ttl"}
        for _ in range(3):  # a lost race to open the window retries into it
            try:
                self._call(
                    "update_item",
                    Key=item_key,
                    UpdateExpression="ADD used :n, wused :n SET #ttl = :e",
                    ConditionExpression="w = :w AND wused <= :wmax AND used <= :dmax",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues={**values, ":wmax": _n(ask.window_ceiling - ask.amount)},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return RateTake.GRANTED
            except VersionConflict as exc:
                state = _rate_state(_failed_item(exc))
            if state.today + ask.amount > ask.day_ceiling:
                return RateTake.DAY_SPENT
            if (state.window is not None and state.window >= ask.window) or ask.amount > ask.window_ceiling:
                return RateTake.WINDOW_SPENT
            try:
                self._call(
                    "update_item",
                    Key=item_key,
                    UpdateExpression=(
                        "SET pw = if_not_exists(w, :zero), pused = if_not_exists(wused, :zero), "
                        "w = :w, wused = :n, #ttl = :e ADD used :n"
                    ),
                    ConditionExpression="(attribute_not_exists(w) OR w < :w) AND "
                    "(attribute_not_exists(used) OR used <= :dmax)",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues={**values, ":zero": _n(0)},
                )
                return RateTake.GRANTED
            except VersionConflict:
                continue  # another instance opened the window (or took the day's last calls) first
        return RateTake.WINDOW_SPENT

    def rate_state(self, key: str, day: str) -> RateState:
        return _rate_state(self._get(f"{key}#BUDGET", f"d{day}"))


def _failed_item(exc: VersionConflict) -> dict[str, Any] | None:
    """The item as it was when a condition failed (``ReturnValuesOnConditionCheckFailure=ALL_OLD``)."""
    cause = exc.__cause__
    item = cause.response.get("Item") if isinstance(cause, ClientError) else None
    return item if isinstance(item, dict) else None


def _rate_state(item: dict[str, Any] | None) -> RateState:
    if not item:
        return RateState()

    def number(name: str) -> int:
        return int(item[name]["N"]) if name in item else 0

    return RateState(
        today=number("used"),
        window=number("w") if "w" in item else None,
        in_window=number("wused"),
        previous_window=number("pw") or None,
        in_previous=number("pused"),
    )

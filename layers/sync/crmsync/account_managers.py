"""Account managers: which accounting employee a CRM user is, found in a fixed order (pure, no I/O).

``account_manager`` holds the accounting employee number (e-conomic ``salesPerson``); a CRM holds a user
id (a HubSpot owner id, a Dynamics ``systemuser`` id). They cross only through a value map
(``value_maps.ALWAYS_MAPPED``). ``build_map`` finds the pairs a person would otherwise type, per CRM user,
in this order, each tier only when the ones before found nothing for that user:

1. ``id``: an employee whose number is the CRM user's id (as text);
2. ``employee_id``: an employee whose number is the CRM user's own employee id (Dynamics
   ``systemuser.employeeid``; HubSpot owners have none, so this tier finds nothing there). e-conomic
   employees have no external-number field, so the CRM's employee id is the one that can name them;
3. ``name``: an employee whose name is the CRM user's first + last name (their full name when the CRM
   gives no parts): case-folded, whitespace collapsed, accents kept (Unicode NFC).

Barred employees are never candidates, and neither is an employee already taken (an explicit pair, or
an earlier tier's match). A tier that finds two or more employees for a user, or an employee that two
users find in the same tier, maps nothing for them and says why (``ambiguous: employees 3 and 7 share
the name Anna Berg``); the later tiers are not tried for them either (a guess between two is still a
guess). Explicit pairs (the config's ``value_maps["account_manager"]``) win both ways: their CRM user
gets tier ``explicit``, their employee is nobody else's.

``ManagerMap.pairs`` holds the automatic pairs only; the explicit ones stay in the config, so removing
an explicit pair there never leaves it behind here (``merged_pairs`` joins them when a config is loaded).
"""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from crmsync.models import utcnow
from crmsync.value_maps import checked_pairs

FIELD = "account_manager"
Tier = Literal["explicit", "id", "employee_id", "name"]
AUTOMATIC_TIERS: tuple[Tier, ...] = ("id", "employee_id", "name")


class EmployeeLike(Protocol):
    """An accounting employee as ``EconomicConnector.employees`` reads it."""

    @property
    def number(self) -> int: ...

    @property
    def name(self) -> str | None: ...

    @property
    def barred(self) -> bool: ...


class CrmUser(BaseModel):
    """A CRM user who can own companies, in neutral terms (HubSpot owner, Dynamics system user)."""

    id: str
    first_name: str | None = None
    last_name: str | None = None
    full_name: str | None = None
    employee_id: str | None = None

    def display_name(self) -> str | None:
        parts = [p.strip() for p in (self.first_name, self.last_name) if p and p.strip()]
        return " ".join(parts) if parts else (self.full_name or None)


class ManagerMatch(BaseModel):
    """What was found for one CRM user: the employee and the tier, or why nothing."""

    crm_user_id: str
    employee_number: str | None = Field(description="the accounting employee number (null: not mapped)")
    tier: Tier | None = Field(
        description="explicit (the config's value map), id, employee_id or name; null: not mapped"
    )
    reason: str | None = Field(default=None, description="why nothing was mapped (ambiguous, no match)")


class ManagerMap(BaseModel):
    """The automatic account-manager pairs of a tenant and how each CRM user came out."""

    pairs: dict[str, str] = Field(
        description="CRM user id -> employee number, the automatic pairs (explicit ones are in the config)"
    )
    matches: list[ManagerMatch] = Field(description="one per CRM user (and per explicit pair)")
    built_at: datetime


def name_key(name: str | None) -> str | None:
    """The form names are compared in: NFC, case-folded, whitespace collapsed (accents kept)."""
    if not name:
        return None
    key = " ".join(unicodedata.normalize("NFC", name).split()).casefold()
    return key or None


def _tier_key(tier: Tier, user: CrmUser) -> str | None:
    if tier == "id":
        return user.id.strip() or None
    if tier == "employee_id":
        return (user.employee_id or "").strip() or None
    return name_key(user.display_name())


def _employee_key(tier: Tier, employee: EmployeeLike) -> str | None:
    return name_key(employee.name) if tier == "name" else str(employee.number)


def _describe(tier: Tier, user: CrmUser) -> str:
    if tier == "id":
        return f"the number {user.id}"
    if tier == "employee_id":
        return f"the employee id {(user.employee_id or '').strip()}"
    return f"the name {user.display_name()}"


def _numbers(numbers: Iterable[int | str]) -> str:
    items = [str(n) for n in sorted(numbers, key=lambda n: (len(str(n)), str(n)))]
    return ", ".join(items[:-1]) + f" and {items[-1]}" if len(items) > 1 else items[0]


def build_map(
    employees: Iterable[EmployeeLike],
    crm_users: Iterable[CrmUser],
    explicit: Mapping[str, str],
    *,
    built_at: datetime | None = None,
) -> ManagerMap:
    """The automatic pairs and every user's outcome (see the module doc)."""
    staff = list(employees)
    users = list({u.id: u for u in crm_users}.values())
    matches: dict[str, ManagerMatch] = {
        crm: ManagerMatch(crm_user_id=crm, employee_number=acc, tier="explicit")
        for crm, acc in explicit.items()
    }
    taken: set[str] = set(explicit.values())
    notes: dict[str, list[str]] = defaultdict(list)
    pairs: dict[str, str] = {}
    open_users = [u for u in users if u.id not in matches]
    for tier in AUTOMATIC_TIERS:
        index: dict[str, list[EmployeeLike]] = defaultdict(list)
        for employee in staff:
            if (key := _employee_key(tier, employee)) is not None:
                index[key].append(employee)
        found: dict[str, tuple[CrmUser, str]] = {}
        claims: dict[str, list[CrmUser]] = defaultdict(list)
        for user in open_users:
            key = _tier_key(tier, user)
            hits = index.get(key, []) if key is not None else []
            barred = [e for e in hits if e.barred]
            used = [e for e in hits if not e.barred and str(e.number) in taken]
            free = [e for e in hits if not e.barred and str(e.number) not in taken]
            if barred:
                notes[user.id].append(f"employee {_numbers(e.number for e in barred)} ({tier}) is barred")
            if used:
                notes[user.id].append(
                    f"employee {_numbers(e.number for e in used)} ({tier}) is already mapped"
                )
            if len(free) > 1:
                shared = "share" if tier == "name" else "match"
                matches[user.id] = _unmapped(
                    user,
                    f"ambiguous: employees {_numbers(e.number for e in free)} {shared} {_describe(tier, user)}",
                )
            elif free:
                number = str(free[0].number)
                found[user.id] = (user, number)
                claims[number].append(user)
        contested: set[str] = set()
        for number, claimants in claims.items():
            if len(claimants) > 1:
                contested.add(number)
                ids = ", ".join(sorted(u.id for u in claimants))
                for user in claimants:
                    matches[user.id] = _unmapped(
                        user, f"ambiguous: employee {number} is found for CRM users {ids} ({tier})"
                    )
        for user, number in found.values():
            if number not in contested:
                problem = _pair_problem(user.id, number)
                matches[user.id] = (
                    _unmapped(user, problem)
                    if problem
                    else ManagerMatch(crm_user_id=user.id, employee_number=number, tier=tier)
                )
                if not problem:
                    pairs[user.id] = number
        taken |= set(pairs.values()) | contested
        open_users = [u for u in open_users if u.id not in matches]
    for user in open_users:
        detail = "; ".join(notes[user.id])
        matches[user.id] = _unmapped(
            user, "no employee matches by id, employee id or name" + (f" ({detail})" if detail else "")
        )
    return ManagerMap(pairs=pairs, matches=list(matches.values()), built_at=built_at or utcnow())


def _unmapped(user: CrmUser, reason: str) -> ManagerMatch:
    return ManagerMatch(crm_user_id=user.id, employee_number=None, tier=None, reason=reason)


def _pair_problem(crm: str, number: str) -> str | None:
    """Why the pair cannot be a value-map pair (the rules every map pair follows), or None."""
    try:
        cleaned = checked_pairs(FIELD, {crm: number})
    except ValueError as exc:
        return f"not mappable: {exc}"
    if cleaned != {crm: number}:
        return "not mappable: the CRM user id is not in the form the connector reads it in"
    return None


def merged_pairs(explicit: Mapping[str, str], automatic: Mapping[str, str]) -> dict[str, str]:
    """The pairs in effect: the explicit ones, and every automatic pair whose CRM user and employee no
    explicit pair names (explicit wins both ways, also when it was added after the map was built)."""
    named = set(explicit.values())
    counts = Counter(automatic.values())
    auto = {
        crm: acc
        for crm, acc in automatic.items()
        if crm not in explicit and acc not in named and counts[acc] == 1  # one to one, whatever was stored
    }
    return {**auto, **explicit}

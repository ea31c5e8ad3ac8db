"""Stored state of the HubSpot fake: records, the association index, webhook subscriptions and deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class _Associations(dict[tuple[str, str], bool]):
    """(contact id, company id) -> is primary, indexed by contact and by company.

    A plain dict to every reader; the two indexes answer "this contact's companies" and "this
    company's contacts" without scanning every association (which made big backfills quadratic).
    """

    def __init__(self) -> None:
        super().__init__()
        self._contacts: dict[str, dict[str, bool]] = {}
        self._companies: dict[str, dict[str, None]] = {}

    def of_contact(self, contact_id: str) -> dict[str, bool]:
        return self._contacts.get(contact_id, {})

    def of_company(self, company_id: str) -> dict[str, None]:
        return self._companies.get(company_id, {})

    def __setitem__(self, key: tuple[str, str], value: bool) -> None:
        super().__setitem__(key, value)
        contact, company = key
        self._contacts.setdefault(contact, {})[company] = value
        self._companies.setdefault(company, {})[contact] = None

    def __delitem__(self, key: tuple[str, str]) -> None:
        super().__delitem__(key)
        contact, company = key
        self._contacts.get(contact, {}).pop(company, None)
        self._companies.get(company, {}).pop(contact, None)

    def pop(self, key: tuple[str, str], *default: Any) -> Any:  # type: ignore[override]
        if key in self:
            value = self[key]
            del self[key]
            return value
        if default:
            return default[0]
        raise KeyError(key)

    def setdefault(self, key: tuple[str, str], default: bool = False) -> bool:  # type: ignore[override]
        if key not in self:
            self[key] = default
        return self[key]


@dataclass
class Subscription:
    """A webhook subscription (``property_name=None`` on propertyChange = all properties)."""

    event_type: str
    property_name: str | None = None
    active: bool = True
    id: int = 0


DEFAULT_SUBSCRIPTIONS: tuple[tuple[str, str | None], ...] = (
    ("company.creation", None),
    ("company.deletion", None),
    ("company.propertyChange", None),
    ("company.merge", None),
    ("company.associationChange", None),
    ("contact.creation", None),
    ("contact.deletion", None),
    ("contact.propertyChange", None),
    ("contact.associationChange", None),
    ("contact.merge", None),
)
NOT_SUBSCRIBABLE = frozenset(
    {"hs_lastmodifieddate", "lastmodifieddate", "num_unique_conversion_events", "hs_object_id", "createdate"}
)


@dataclass
class StoredObject:
    id: str
    object_type: str
    properties: dict[str, str]
    created_ms: int
    updated_ms: int
    archived: bool = False
    archived_ms: int | None = None


@dataclass
class Delivery:
    """One webhook POST attempt, as recorded for tests."""

    attempt: int
    status: int | None
    events: list[dict[str, Any]]
    headers: dict[str, str]
    body: str
    error: str | None = None

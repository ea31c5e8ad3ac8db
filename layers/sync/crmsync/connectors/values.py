"""Value conversions more than one CRM connector needs (names, timestamps): written once."""

from __future__ import annotations

from datetime import UTC, datetime


def split_name(name: str | None) -> tuple[str, str]:
    """Canonical contact name -> (first name, last name), split on the last space ("Anna Marie Jensen" ->
    "Anna Marie" / "Jensen"; one word is a first name)."""
    words = (name or "").split()
    if not words:
        return "", ""
    if len(words) == 1:
        return words[0], ""
    return " ".join(words[:-1]), words[-1]


def parse_time(raw: object) -> datetime | None:
    """A vendor timestamp (ISO 8601, ``Z`` or an offset; HubSpot also epoch milliseconds) -> an aware
    datetime (naive ones are UTC); None for nothing or something unreadable."""
    if raw is None or raw == "":
        return None
    text = str(raw)
    if text.lstrip("-").isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

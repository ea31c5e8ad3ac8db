"""Errors the domain raises for what a caller named but does not exist (404) or cannot be read (400).

``NotFound`` is also a ``KeyError``: code that looks a record or conflict up by id and catches
``KeyError`` keeps working, while the API maps this class, and only this class, to 404
(``crmsync.api_errors``), so a ``KeyError`` from a bug is never taken for "not found".
"""

from __future__ import annotations


class NotFound(KeyError):
    """A record, conflict, pending delete or tenant the caller named does not exist (or is not theirs)."""

    def __str__(self) -> str:  # KeyError's str() is the repr of its argument
        return str(self.args[0]) if self.args else ""


class UnknownConnection(NotFound):
    """A connection id the tenant's config does not have (a stale link, a webhook for a removed one)."""


class InvalidCursor(ValueError):
    """A page cursor that ``records_page`` did not hand out (tampered, another tenant's): answered 400."""

"""Column facts of the tables the fake serves, loaded from ``vendor-specs/dataverse/columns.json``.

Why one JSON fact sheet: the fake enforces exactly what Microsoft's entity reference pages say (MaxLength,
read-only columns, lookup targets, state/status pairs) and the contract tests check the fake against the
same sheet, so a wrong limit is fixed in one place with its source (``vendor-specs/dataverse/PROVENANCE.md``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

LOOKUP_TYPES = frozenset({"Lookup", "Customer", "Owner"})


def find_columns_file() -> Path:
    """``vendor-specs/dataverse/columns.json`` next to the repository root that holds this package."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "vendor-specs" / "dataverse" / "columns.json"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("vendor-specs/dataverse/columns.json not found above local/fakes/dataverse")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    max_length: int | None = None
    read_only: bool = False
    valid_for_create: bool = True
    valid_for_update: bool = True
    targets: tuple[str, ...] = ()

    @property
    def is_lookup(self) -> bool:
        return self.type in LOOKUP_TYPES

    @property
    def read_name(self) -> str:
        """Lookups read as ``_<name>_value`` (the GUID only)."""
        return f"_{self.name}_value" if self.is_lookup else self.name

    def navs(self) -> dict[str, str | None]:
        """Single-valued navigation properties for ``@odata.bind``: nav -> fixed target (None: any target).

        A Customer lookup needs the target-specific nav (``parentcustomerid_account``); Lookup/Owner use the
        column name (``ownerid`` binds ``/systemusers(..)`` or ``/teams(..)``).
        """
        if self.type == "Customer" or (self.type == "Lookup" and len(self.targets) > 1):
            return {f"{self.name}_{t}": t for t in self.targets}  # polymorphic: annotation.objectid_account
        return {self.name: None}

    def nav_for(self, target: str) -> str:
        polymorphic = self.type == "Customer" or (self.type == "Lookup" and len(self.targets) > 1)
        return f"{self.name}_{target}" if polymorphic else self.name


@dataclass
class Table:
    name: str
    entity_set: str
    pk: str
    primary_name: str
    source: str
    columns: dict[str, Column]
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)
    named_key_ok: bool = True
    by_read_name: dict[str, Column] = field(default_factory=dict)
    navs: dict[str, tuple[Column, str | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_read_name = {c.read_name: c for c in self.columns.values()}
        for column in self.columns.values():
            if column.is_lookup and not column.read_only:
                for nav, target in column.navs().items():
                    self.navs[nav] = (column, target)

    @property
    def readable(self) -> set[str]:
        return set(self.by_read_name)

    @property
    def readable_order(self) -> list[str]:
        return list(self.by_read_name)

    def default_status(self, state: int) -> int:
        return int(self.states[str(state)]["default_status"])

    def state_of_status(self, status: int) -> int | None:
        entry = self.statuses.get(str(status))
        return None if entry is None else int(entry["state"])


def load_tables(path: Path | None = None) -> dict[str, Table]:
    doc = json.loads((path or find_columns_file()).read_text())
    tables: dict[str, Table] = {}
    for name, spec in doc["tables"].items():
        columns = {
            col: Column(
                name=col,
                type=c["type"],
                max_length=c.get("max_length"),
                read_only=bool(c.get("read_only", False)),
                valid_for_create=bool(c.get("valid_for_create", True)),
                valid_for_update=bool(c.get("valid_for_update", True)),
                targets=tuple(c.get("targets", ())),
            )
            for col, c in spec["columns"].items()
        }
        tables[name] = Table(
            name=name,
            entity_set=spec["entity_set"],
            pk=spec["primary_key"],
            primary_name=spec["primary_name"],
            source=spec["source"],
            columns=columns,
            states=spec.get("states", {}),
            statuses=spec.get("statuses", {}),
            named_key_ok=bool(spec.get("named_key_addressing", True)),
        )
    return tables


TABLES: dict[str, Table] = load_tables()

CUSTOM_COLUMN = re.compile(r"^[a-z][a-z0-9]{1,7}_[a-z0-9_]{1,40}$")
"""A custom column's logical name: the solution publisher's prefix, an underscore, the name (``new_x``)."""


CUSTOM_TYPES = frozenset({"Money", "Decimal", "Integer", "DateOnly"})
"""Typed custom columns besides text: Currency (Money), Decimal, Whole number (Integer), Date only."""


def with_custom_columns(
    tables: dict[str, Table], custom: Mapping[str, Mapping[str, int | str]]
) -> dict[str, Table]:
    """The tables with an organisation's own columns added, as a customizer adds them: logical name ->
    MaxLength (a text column, ``{"account": {"new_group": 100}}``) or a type from ``CUSTOM_TYPES``
    (``{"account": {"new_openbalance": "Money"}}``); the fact sheet's tables stay untouched."""
    out = dict(tables)
    for table_name, columns in custom.items():
        base = tables[table_name]
        extra = {}
        for name, max_length in columns.items():
            if not CUSTOM_COLUMN.fullmatch(name) or name in base.columns:
                raise ValueError(f"{name!r} is not a custom column name (publisher prefix + '_' + name)")
            if isinstance(max_length, str):
                if max_length not in CUSTOM_TYPES:
                    raise ValueError(
                        f"{name!r}: unknown column type {max_length!r}; known: {sorted(CUSTOM_TYPES)}"
                    )
                extra[name] = Column(name=name, type=max_length)
            else:
                extra[name] = Column(name=name, type="String", max_length=int(max_length))
        out[table_name] = replace(base, columns={**base.columns, **extra}, by_read_name={}, navs={})
    return out

"""The pool index: keys computed once, exact-key and blocking maps built once, for many searches.

Scoring every pool record for every subject is quadratic; blocking narrows each search to the
hundred or two records that share something with the subject."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rapidfuzz import fuzz, process

from crmsync.match.countries import country_code
from crmsync.match.keys import IdentityKeys, MatchKey, _number, identity_keys
from crmsync.models import Fields, FieldValue

Pool = Iterable[tuple[str, Fields]]

_NAME_LIMIT = 60
_NAME_CUTOFF = 50.0
_BLOCK_CAP = 400
"""Blocks bigger than this (a zip code shared by hundreds of records) add nothing but time."""
_WORD_CAP = 100
"""First-word blocks ("jensen ...") bigger than this are left to the name search."""


class MatchIndex:
    """A pool of records prepared for many searches: keys computed once, exact and blocking maps built."""

    def __init__(self, pool: Pool, *, default_country: str | None = None) -> None:
        self.default_country = country_code(default_country) if default_country else None
        self.keys: list[IdentityKeys] = []
        self._by: dict[str, dict[str, list[int]]] = {
            "customer_number": {},
            "external_number": {},
            "vat": {},
            "domain": {},
            "phone": {},
            "zip": {},
            "word": {},
        }
        self._names: list[str] = []
        self._name_rows: list[list[int]] = []
        name_slot: dict[str, int] = {}
        for record_id, fields in pool:
            keys = IdentityKeys.from_fields(fields, record_id=record_id, default_country=self.default_country)
            row = len(self.keys)
            self.keys.append(keys)
            self._add("customer_number", keys.customer_number, row)
            self._add("external_number", keys.external_number, row)
            self._add("external_number", _number(record_id), row)
            self._add("vat", keys.vat, row)
            self._add("phone", keys.phone_e164, row)
            self._add("zip", keys.zip, row)
            for domain in keys.domains:
                self._add("domain", domain, row)
            if keys.name_norm:
                self._add("word", keys.name_norm.split(" ", 1)[0], row)
                slot = name_slot.get(keys.name_norm)
                if slot is None:
                    slot = name_slot[keys.name_norm] = len(self._names)
                    self._names.append(keys.name_norm)
                    self._name_rows.append([])
                self._name_rows[slot].append(row)

    def _add(self, key: str, value: str | None, row: int) -> None:
        if value:
            rows = self._by[key].setdefault(value, [])
            if not rows or rows[-1] != row:
                rows.append(row)

    def __len__(self) -> int:
        return len(self.keys)

    def subject_keys(self, subject: Mapping[str, FieldValue] | IdentityKeys) -> IdentityKeys:
        return identity_keys(subject, default_country=self.default_country)

    def exact_rows(self, key: MatchKey, subject: IdentityKeys) -> list[int]:
        """Pool rows sharing one exact key with the subject (empty when the subject lacks the key)."""
        if key is MatchKey.CUSTOMER_NUMBER and subject.customer_number:
            return list(self._by["customer_number"].get(subject.customer_number, ()))
        if key is MatchKey.EXTERNAL_NUMBER and subject.external_number:
            return list(self._by["external_number"].get(subject.external_number, ()))
        if key is MatchKey.VAT_ID and subject.vat:
            return list(self._by["vat"].get(subject.vat, ()))
        return []

    def block(self, subject: IdentityKeys) -> set[int]:
        """Rows worth scoring: shared VAT/number/domain/phone/zip, plus the most similar names."""
        rows: set[int] = set()
        for key, value in (
            ("vat", subject.vat),
            ("customer_number", subject.customer_number),
            ("external_number", subject.external_number),
            ("phone", subject.phone_e164),
            ("zip", subject.zip),
        ):
            if value:
                hits = self._by[key].get(value, ())
                if len(hits) <= _BLOCK_CAP:
                    rows.update(hits)
        for domain in subject.domains:
            hits = self._by["domain"].get(domain, ())
            if len(hits) <= _BLOCK_CAP:
                rows.update(hits)
        if subject.name_norm:
            # "Brøndum" finds "Brøndum Byg og Anlæg", which the whole-name search ranks too low
            hits = self._by["word"].get(subject.name_norm.split(" ", 1)[0], ())
            if len(hits) <= _WORD_CAP:
                rows.update(hits)
        if subject.name_norm and self._names:
            # plain Indel ratio: ~15x cheaper than WRatio and, with a wider limit, finds as much
            for _name, _similarity, slot in process.extract(
                subject.name_norm,
                self._names,
                scorer=fuzz.ratio,
                processor=None,
                limit=_NAME_LIMIT,
                score_cutoff=_NAME_CUTOFF,
            ):
                rows.update(self._name_rows[slot])
        return rows


def _as_index(pool: Pool | MatchIndex, default_country: str | None) -> MatchIndex:
    return pool if isinstance(pool, MatchIndex) else MatchIndex(pool, default_country=default_country)

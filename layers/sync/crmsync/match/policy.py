"""Match results and the per-tenant matching policy.

The policy decides what may auto-link; by default only exact keys do and scored candidates are only
offered to a person."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator, model_validator

from crmsync.match.bands import Band, band_of
from crmsync.match.countries import country_code
from crmsync.match.keys import MatchKey


class ExactMatch(BaseModel):
    """The one candidate that shares the strongest exact key with the subject."""

    model_config = ConfigDict(frozen=True)

    record_id: str
    key: MatchKey


class Candidate(BaseModel):
    """A scored candidate offered to a person (or auto-linked if the policy allows)."""

    model_config = ConfigDict(frozen=True)

    record_id: str
    score: float = Field(ge=0.0, le=1.0)
    reasons: list[str] = Field(default_factory=list)
    veto: bool = False

    @computed_field  # type: ignore[prop-decorator]
    @property
    def band(self) -> Band:
        """How far the score can be trusted (``crmsync.match.bands``); serialised with the candidate."""
        return band_of(self.score)


DEFAULT_OFFER_THRESHOLD = 0.10
"""Lowest score that is offered, chosen with ``python -m bench.matching --sweep``.

Offers are "precise" when no candidate the evidence proves to be another company is shown: a VAT
veto, or another city plus another domain or phone with no identifier in common. The highest score
the weights allow such a candidate is 0.076 (same name, other city, other phone), so 0.08 is the
lowest precise threshold; 0.10 keeps a margin and had the same recall@5 (0.992 at 2,000 pairs) on
the benchmark's default seed. Offers below the ``check`` band (0.30) carry ``Band.WEAK``: see
``crmsync.match.bands`` for what each band means.
"""


class MatchPolicy(BaseModel):
    """Per-tenant matching policy. By default only exact keys auto-link; scored candidates are offered."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    auto_link_exact: bool = True
    offer_threshold: float = Field(default=DEFAULT_OFFER_THRESHOLD, ge=0.0, le=1.0)
    auto_link_threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="None: scored candidates never auto-link. Otherwise the sole candidate at or above it may.",
    )
    max_candidates: int = Field(default=5, ge=1, le=50)
    default_country: str | None = Field(
        default=None, description="The tenant's home country: resolves local phone numbers and national ids."
    )

    @field_validator("default_country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = country_code(value)
        if code is None:
            raise ValueError(f"unknown country: {value!r}")
        return code

    @model_validator(mode="after")
    def _auto_link_above_offer(self) -> MatchPolicy:
        if self.auto_link_threshold is not None and self.auto_link_threshold < self.offer_threshold:
            raise ValueError("auto_link_threshold must not be below offer_threshold")
        return self


class MatchDecision(BaseModel):
    """What to do with a subject: link it to ``auto_link`` (found by ``key``) or offer ``candidates``."""

    auto_link: str | None = None
    key: MatchKey | None = None
    candidates: list[Candidate] = Field(default_factory=list)

"""Score bands: what a candidate's score means to the person who has to decide.

A score is a squashed sum of log-odds-like evidence; the number alone says little to a person. The
band says how far to trust it. Cut-offs measured with ``python -m bench.matching --sweep`` on five
seeds (2,000 labeled pairs each, 30 % of them companies without a partner, most of those built to
look like one; scored candidates only, exact keys are decided before scoring):

* ``sure`` (>= 0.80): the best offer is the right record 99.1-99.8 % of the time (the bar is 98 %);
* ``likely`` (>= 0.50): right more often than not (58-73 % of best offers in 0.50-0.80);
* ``check`` (>= 0.30): worth a look, often wrong; 3.2-6.2 % of the companies without a partner get
  any offer at ``check`` or above (21 % on the default seed before the four false-offer rules of
  ``crmsync.match.names`` and ``crmsync.match.scoring``);
* ``weak`` (below 0.30): offered only because it clears the tenant's ``candidate_threshold``
  (default 0.10); the link screen should show it last, if at all.
"""

from __future__ import annotations

from enum import StrEnum


class Band(StrEnum):
    """How far a candidate's score can be trusted, strongest first."""

    SURE = "sure"
    LIKELY = "likely"
    CHECK = "check"
    WEAK = "weak"


BAND_CUTOFFS: tuple[tuple[Band, float], ...] = (
    (Band.SURE, 0.80),
    (Band.LIKELY, 0.50),
    (Band.CHECK, 0.30),
)
"""Lowest score of each band, strongest first; a score below the last one is ``Band.WEAK``."""


def band_of(score: float) -> Band:
    """The band a score falls in (cut-offs are inclusive)."""
    for band, cutoff in BAND_CUTOFFS:
        if score >= cutoff:
            return band
    return Band.WEAK

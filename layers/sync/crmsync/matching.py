"""Identity and duplicate search: which record on the other side is this customer?

Pure functions and value objects (no I/O, no AWS, no environment) so the same code serves the
initial transfer, the "possible duplicates" API and the tests.

How a subject is matched against a pool of records from the other side:

1. **Exact keys**, in the order of ``MatchKey``: an existing link (the caller's business: a linked
   record is never searched for), the accounting customer number, an external number, a valid VAT id.
   The first key that *any* candidate shares decides: if exactly one candidate shares it, that is an
   exact match; if several do (two customers with the same VAT id), nothing matches exactly and the
   sharers become scored candidates with a "shared by n records" reason. Invalid ids (bad check
   digit, unknown country) are dropped while computing the keys, so they can never match exactly.
   A unique key can still be contradicted, and then it is only a (high-scoring) candidate: a
   customer or external number by a *different valid* VAT id; a VAT id, which only names the legal
   entity and is shared by its branch accounts, by another city or another company domain.
2. **Scored candidates**: evidence is added up like log-odds (Fellegi-Sunter style): name similarity
   (rapidfuzz ``WRatio`` on normalised names), zip/city, street address (within the same place),
   non-free-mail e-mail/web domain, the same free-mail address, E.164 phone, country, a different
   customer number. Agreement adds, disagreement subtracts, a value missing on either side is
   neutral. A different valid VAT id on both sides is a veto (-20: never offered). The sum is
   squashed to 0..1. The same name in another city with another domain or phone ends up below the
   offer threshold: many companies share a name, few share a name *and* a place *and* a phone.
   Four lookalikes are told apart (issue 18): a shared trade word does not make names alike
   ("Jensen Revision" / "Thygesen Revision" compare as "jensen" / "thygesen"; two different trades
   cap the name at 0.7); surnames more than one typo apart are different names ("Larsen" /
   "Olsen": at most 0.6); the same name with another legal form ("ApS" / "A/S") is another legal
   entity (-3.5, and at most 0.2: ``weak``) unless a VAT id, domain, phone or free-mail
   address agrees; and a shared domain under an unlike name (< 0.6) counts +1 instead of +3.5 (a
   group's or a web agency's domain).
3. **Bands** (``crmsync.match.bands``): every candidate carries ``band`` = ``sure`` (>= 0.80, the
   best offer was right >= 99 % of the time on the benchmark), ``likely`` (>= 0.50), ``check``
   (>= 0.30) or ``weak`` (offered only because it clears the tenant's offer threshold).

**Scored candidates never auto-link by default.** ``MatchPolicy.auto_link_threshold`` is ``None``, so
a scored candidate is only *offered* to a person. If a tenant sets it, a scored candidate may
auto-link only when its score is at or above that threshold, it is the only candidate there, it has
no VAT veto and no exact key was ambiguous; below the threshold nothing ever auto-links.

Speed (blocking): ``MatchIndex`` computes every pool record's keys once and builds dictionaries for
the exact keys and for blocking: VAT id, customer/external number, phone, zip, domain and the first
word of the name (blocks above a size cap are skipped). Per subject the candidates are the union of
those blocks and the 60 best distinct normalised names by ``rapidfuzz.process.extract`` with the
plain Indel ``ratio`` and a cutoff of 50 (a C loop, ~0.4 ms over 10,000 names; ``WRatio`` there cost
6 ms and found no more). Only that union, typically 100-200 records, is scored in full. Measured with
``python -m bench.matching --timing``: an index of 10,000 records builds in ~1.2-1.5 s, a subject is
decided in ~2.5 ms (~1.5 ms on the same machine before the lookalike rules of issue 18; ~0.9 s and
~2 ms when first measured on another). The functions also accept a plain iterable of
``(record_id, fields)`` and build a throw-away index, which is fine for small pools; pass a
``MatchIndex`` when matching many subjects.

Layout: this module holds the entry points (``exact_match``, ``find_candidates``, ``decide``) and
re-exports the public names of its parts in ``crmsync.match``: ``text`` (folding), ``names``,
``countries``, ``vat``, ``domains``, ``phones``, ``places`` (the normalisers), ``keys`` (identity keys),
``scoring``, ``bands``, ``index`` (blocking) and ``policy`` (results and the tenant's policy).
"""

from __future__ import annotations

from collections.abc import Mapping

from crmsync.match.bands import BAND_CUTOFFS, Band, band_of
from crmsync.match.countries import country_code
from crmsync.match.domains import (
    FREE_MAIL_BRANDS,
    FREE_MAIL_DOMAINS,
    SHARED_WEB_HOSTS,
    email_domain,
    is_free_mail,
    website_domain,
)
from crmsync.match.index import MatchIndex, Pool, _as_index
from crmsync.match.keys import EXACT_KEY_ORDER, EXTERNAL_NUMBER_FIELD, IdentityKeys, MatchKey, identity_keys
from crmsync.match.names import legal_form, name_similarity, normalize_name
from crmsync.match.phones import normalize_phone
from crmsync.match.places import _same_city, normalize_address, normalize_city, normalize_zip
from crmsync.match.policy import DEFAULT_OFFER_THRESHOLD, Candidate, ExactMatch, MatchDecision, MatchPolicy
from crmsync.match.scoring import Score, _evidence, _squash, score
from crmsync.match.text import fold
from crmsync.match.vat import normalize_vat
from crmsync.models import Fields

__all__ = [
    "BAND_CUTOFFS",
    "DEFAULT_OFFER_THRESHOLD",
    "EXACT_KEY_ORDER",
    "EXTERNAL_NUMBER_FIELD",
    "FREE_MAIL_BRANDS",
    "FREE_MAIL_DOMAINS",
    "SHARED_WEB_HOSTS",
    "Band",
    "Candidate",
    "ExactMatch",
    "IdentityKeys",
    "MatchDecision",
    "MatchIndex",
    "MatchKey",
    "MatchPolicy",
    "Pool",
    "Score",
    "band_of",
    "country_code",
    "decide",
    "email_domain",
    "exact_match",
    "find_candidates",
    "fold",
    "identity_keys",
    "is_free_mail",
    "legal_form",
    "name_similarity",
    "normalize_address",
    "normalize_city",
    "normalize_name",
    "normalize_phone",
    "normalize_vat",
    "normalize_zip",
    "score",
    "website_domain",
]


def _exact(subject: IdentityKeys, index: MatchIndex) -> tuple[ExactMatch | None, dict[int, str]]:
    """The exact match, or None plus a note per row that shared a key ambiguously or contradicted."""
    notes: dict[int, str] = {}
    for key in EXACT_KEY_ORDER:
        if key is MatchKey.LINK:
            continue
        rows = index.exact_rows(key, subject)
        if not rows:
            continue
        if len(rows) > 1:
            for row in rows:
                notes[row] = f"{key.value} shared by {len(rows)} records"
            return None, notes
        row = rows[0]
        other = index.keys[row]
        conflict = _contradiction(key, subject, other)
        if conflict:
            notes[row] = f"same {key.value} but {conflict}"
            return None, notes
        return ExactMatch(record_id=other.record_id or "", key=key), notes
    return None, notes


def _contradiction(key: MatchKey, subject: IdentityKeys, other: IdentityKeys) -> str | None:
    """Why an exact key should not be trusted for this pair, if the rest of the records disagree.

    A number someone typed into the CRM is a deliberate link; only a different valid VAT id overrules
    it. A shared VAT id only says "same legal entity": one entity often has several accounts
    (branches, departments), so another city or another company domain makes it a candidate instead.
    """
    if key is not MatchKey.VAT_ID:
        return "vat differs" if subject.vat and other.vat and subject.vat != other.vat else None
    if subject.city_norm and other.city_norm and not _same_city(subject.city_norm, other.city_norm):
        return "city differs"
    if subject.domains and other.domains and not subject.domains & other.domains:
        return "domain differs"
    return None


def exact_match(
    subject: Fields | IdentityKeys, candidates: Pool | MatchIndex, *, default_country: str | None = None
) -> ExactMatch | None:
    """The candidate sharing the first exact key (customer number, external number, VAT id), if unique."""
    index = _as_index(candidates, default_country)
    return _exact(index.subject_keys(subject), index)[0]


def _scored(
    subject: IdentityKeys, index: MatchIndex, notes: Mapping[int, str], threshold: float
) -> list[Candidate]:
    rows = index.block(subject) | set(notes)
    out: list[Candidate] = []
    for row in rows:
        other = index.keys[row]
        total, reasons, veto = _evidence(subject, other)
        note = notes.get(row)
        if note:
            reasons.insert(0, note)
        value = _squash(total)
        if value >= threshold:
            out.append(
                Candidate(record_id=other.record_id or "", score=round(value, 4), reasons=reasons, veto=veto)
            )
    out.sort(key=lambda candidate: (-candidate.score, candidate.record_id))
    return out


def find_candidates(
    subject: Fields | IdentityKeys,
    pool: Pool | MatchIndex,
    *,
    limit: int = 5,
    threshold: float = DEFAULT_OFFER_THRESHOLD,
    default_country: str | None = None,
) -> list[Candidate]:
    """Scored candidates at or above ``threshold``, best first, at most ``limit``."""
    index = _as_index(pool, default_country)
    keys = index.subject_keys(subject)
    notes = _exact(keys, index)[1]
    return _scored(keys, index, notes, threshold)[:limit]


def decide(
    subject: Fields | IdentityKeys, pool: Pool | MatchIndex, policy: MatchPolicy | None = None
) -> MatchDecision:
    """Exact key -> auto-link (if the policy allows); otherwise offer the best scored candidates.

    A scored candidate auto-links only with ``policy.auto_link_threshold`` set, when it is the only
    candidate at or above it, carries no VAT veto and no exact key was ambiguous.
    """
    policy = policy or MatchPolicy()
    index = _as_index(pool, policy.default_country)
    keys = identity_keys(subject, default_country=policy.default_country or index.default_country)
    exact, notes = _exact(keys, index)
    candidates = _scored(keys, index, notes, policy.offer_threshold)
    if exact is not None:
        scored = next((c.reasons for c in candidates if c.record_id == exact.record_id), [])
        first = Candidate(
            record_id=exact.record_id, score=1.0, reasons=[f"same {exact.key.value} (exact key)", *scored]
        )
        candidates = [first, *(c for c in candidates if c.record_id != exact.record_id)]
        if policy.auto_link_exact:
            return MatchDecision(
                auto_link=exact.record_id, key=exact.key, candidates=candidates[: policy.max_candidates]
            )
    elif policy.auto_link_threshold is not None and not notes:
        above = [c for c in candidates if c.score >= policy.auto_link_threshold]
        if len(above) == 1 and not above[0].veto:
            return MatchDecision(auto_link=above[0].record_id, candidates=candidates[: policy.max_candidates])
    return MatchDecision(candidates=candidates[: policy.max_candidates])

"""Matching benchmark: labeled CRM-subject vs. accounting-pool pairs; one line per score band + one.

    python -m bench.matching [pairs] [--seed N] [--sweep] [--timing]

Generates (``bench.matching_data``, tables in ``bench.matching_tables``), with a fixed seed, European
companies (DK, SE, NO, DE, NL, BE, FR, GB, FI, PL, CH) and for each tenant an accounting pool (e-conomic side, ~2,500 customers) plus CRM subjects (HubSpot side):

* positives: the subject is the CRM's view of a pool customer, typed by someone else: typos, other
  legal-form spelling (A/S, AS, Aktieselskab, none), case/accent variants (Brøndum, Broendum,
  BRØNDUM), street abbreviations (vej/v., Straße/Str.), other zip/country spellings, missing fields,
  a direct line instead of the switchboard, contact e-mails on gmail.com. ~4% moved (other city and
  zip), ~4% are known to the CRM by a trade name unlike the registered one. Only ~30% carry the
  accounting customer number, ~35% a VAT/company id (3% of those with a typo), ~5% a shared ERP id.
  For ~10% the pool also holds a same-name company elsewhere, for ~3% a second account with the same
  VAT id (a branch): that VAT id is ambiguous, or, if only the branch records it, contradicted by
  the branch's other city/domain; either way it must not auto-link.
* negatives (partnerless): the subject's company is not in the pool. ~30% are traps: the pool holds
  a company with the same name in another (random, so now and then the same) city, with another
  domain/phone/VAT id. ~40% are the hard negatives of issue 18 (``bench.matching_hard``), in equal
  parts: a shared trade word in the same town ("Jensen Revision" / "Thygesen Revision"); the same
  name with another legal form in the same town and no other key ("Brøndum Byg ApS" / "... A/S");
  a group's shared web domain under an unrelated name; similar surnames in the same town ("Larsen
  VVS" / "Olsen VVS"). The rest have no lookalike. Some carry a customer number from an earlier
  system (never one of the pool's numbers).

Labels live only in the pair list; the matcher sees canonical fields and record ids that carry no
hint (accounting ids are the customer numbers, which are shuffled relative to the companies).

Printed, one line per band of ``crmsync.match.bands`` (``sure``, ``likely``, ``check``), for the best
*scored* candidate of every subject (``find_candidates``, what the link screen and lead conversion show
first; exact keys are not scores): ``recall_at_1`` = positives whose best candidate is the true one and
scores in the band or above; ``top_precision`` = best candidates in the band that are the true one
(``tops`` of them); ``partnerless_offered`` = partnerless subjects whose best candidate scores in the
band or above. Then the summary line: ``auto_link_precision`` = correct auto-links / auto-links made by ``decide`` with the default
``MatchPolicy()`` (no tenant country, exact keys only); ``candidate_recall_at_5`` = positives whose true
counterpart is auto-linked or among the top-5 offered candidates. ``--sweep`` writes, to stderr,
recall, trap offers and "proven different" offers per offer threshold, what a scored auto-link
threshold would do, and the missed positives; that is where ``DEFAULT_OFFER_THRESHOLD`` comes from.
It also writes the three band figures per cut-off, a per-seed suggestion of cut-offs from the bars
below (``SURE_PRECISION``, ``LIKELY_PRECISION``, ``CHECK_PARTNERLESS``), partnerless offers per kind
and the wrong ``sure`` offers; ``crmsync.match.bands`` records the cut-offs chosen over five seeds.
``--timing`` writes index build time and per-subject time against one pool of 10,000.

Limits: the data is synthetic. Exact keys are right by construction except for the shared-VAT
branches, so auto-link precision mostly tests that ambiguity and contradiction are respected; the
missed positives are moved companies with nothing else in common and trade names with no shared
domain, phone or VAT id, which no matcher can find from these fields.
"""

from __future__ import annotations

import random
import sys
import time

from bench.matching_data import _TAKEN_DOMAINS, Pair, build_tenant, generate
from bench.matching_tables import DEFAULT_SEED
from crmsync.matching import (
    BAND_CUTOFFS,
    Band,
    Candidate,
    MatchIndex,
    MatchPolicy,
    band_of,
    decide,
    find_candidates,
)

__all__ = [
    "DEFAULT_SEED",
    "Pair",
    "band_metrics",
    "build_tenant",
    "generate",
    "main",
    "proven_different",
    "run",
    "timing",
]

SURE_PRECISION = 0.99
"""``sure`` starts where the top offer is right this often (the issue asks 98 %; 1 point of margin)."""
LIKELY_PRECISION = 0.50
"""``likely`` starts where the top offers between it and ``sure`` are right this often (more often than not)."""
CHECK_PARTNERLESS = 0.05
"""``check`` starts where at most this share of companies without a partner is offered anything."""

Top = tuple[Pair, Candidate | None]
"""A subject and its best scored candidate (what the link screen and lead conversion show first)."""


# --------------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------------


def run(pairs: int = 2000, seed: int = DEFAULT_SEED, *, sweep: bool = False) -> dict[str, float]:
    """Generate, match with the default policy, and measure; ``sweep`` adds threshold diagnostics."""
    policy = MatchPolicy()
    tenants = generate(pairs, seed)
    auto_links = correct_links = positives = found = 0
    matched = 0.0
    rows: list[tuple[Pair, list[Candidate], str | None]] = []
    tops: list[Top] = []
    for pool, labeled in tenants:
        index = MatchIndex(pool)
        started = time.perf_counter()
        for pair in labeled:
            decision = decide(pair.subject, index, policy)
            if decision.auto_link is not None:
                auto_links += 1
                correct_links += decision.auto_link == pair.truth
            if pair.truth is not None:
                positives += 1
                top = {c.record_id for c in decision.candidates[:5]}
                found += decision.auto_link == pair.truth or pair.truth in top
            scored = find_candidates(pair.subject, index, limit=10 if sweep else 1, threshold=0.0)
            tops.append((pair, scored[0] if scored else None))
            if sweep:
                rows.append((pair, scored, decision.auto_link))
        matched += time.perf_counter() - started
    result = {
        "auto_link_precision": correct_links / auto_links if auto_links else 1.0,
        "candidate_recall_at_5": found / positives if positives else 1.0,
        "pairs": float(sum(len(labeled) for _, labeled in tenants)),
        "auto_links": float(auto_links),
        "ms_per_subject": 1000 * matched / max(1, sum(len(labeled) for _, labeled in tenants)),
    }
    result.update(band_metrics(tops))
    if sweep:
        _sweep(rows)
        _band_sweep(tops)
    return result


def _at_or_above(tops: list[Top], cutoff: float, upper: float = 2.0) -> tuple[float, float, float, int]:
    """(recall@1, precision of the top offer, partnerless offered, tops counted) for top scores in
    [cutoff, upper): recall and partnerless share count every top at or above ``cutoff``."""
    positives = [(p, c) for p, c in tops if p.truth is not None]
    partnerless = [(p, c) for p, c in tops if p.truth is None]
    hits = sum(c is not None and c.score >= cutoff and c.record_id == p.truth for p, c in positives)
    inside = [(p, c) for p, c in tops if c is not None and cutoff <= c.score < upper]
    right = sum(c is not None and c.record_id == p.truth for p, c in inside)
    offered = sum(c is not None and c.score >= cutoff for _, c in partnerless)
    return (
        hits / len(positives) if positives else 1.0,
        right / len(inside) if inside else 1.0,
        offered / len(partnerless) if partnerless else 0.0,
        len(inside),
    )


def band_metrics(tops: list[Top]) -> dict[str, float]:
    """Per band: recall@1 at or above it, precision of the top offers in it, partnerless offered at or
    above it (keys ``<band>_recall_at_1``, ``<band>_top_precision``, ``<band>_partnerless_offered``)."""
    out: dict[str, float] = {}
    upper = 2.0
    for band, cutoff in BAND_CUTOFFS:
        recall, precision, offered, count = _at_or_above(tops, cutoff, upper)
        out[f"{band}_recall_at_1"] = recall
        out[f"{band}_top_precision"] = precision
        out[f"{band}_partnerless_offered"] = offered
        out[f"{band}_tops"] = float(count)
        upper = cutoff
    return out


def _band_sweep(tops: list[Top]) -> None:
    """Where the band cut-offs come from: the three figures per cut-off, and false offers per kind."""
    log = sys.stderr
    print("cutoff recall@1(>=) top_precision(>=) top_precision([c,c+.05)) partnerless_offered(>=)", file=log)
    for step in [*range(2, 20), *range(20, 100, 5), 97, 98, 99]:
        cutoff = step / 100
        recall, precision, offered, count = _at_or_above(tops, cutoff)
        local = _at_or_above(tops, cutoff, cutoff + 0.05)
        print(
            f"{cutoff:.2f} {recall:.4f} {precision:.4f} ({count}) {local[1]:.4f} ({local[3]}) {offered:.4f}",
            file=log,
        )
    grid = [step / 100 for step in range(5, 100)]
    sure = next((c for c in grid if _at_or_above(tops, c)[1] >= SURE_PRECISION), 1.0)
    check = next((c for c in grid if _at_or_above(tops, c)[2] <= CHECK_PARTNERLESS), 1.0)
    likely = next(
        (c for c in grid if c >= check and _at_or_above(tops, c, sure)[1] >= LIKELY_PRECISION), sure
    )
    print(f"suggested cut-offs: sure={sure:.2f} likely={likely:.2f} check={check:.2f}", file=log)
    kinds = sorted({p.kind for p, _ in tops if p.truth is None})
    for band, cutoff in BAND_CUTOFFS:
        shares = []
        for kind in kinds:
            group = [c for p, c in tops if p.kind == kind]
            shares.append(f"{kind}={sum(c is not None and c.score >= cutoff for c in group)}/{len(group)}")
        print(f"partnerless offered at {band} or above: {' '.join(shares)}", file=log)
    wrong = [
        (p, c) for p, c in tops if c is not None and band_of(c.score) is Band.SURE and c.record_id != p.truth
    ]
    for pair, cand in wrong[:10]:
        print(
            f"WRONG-SURE {pair.kind} {pair.truth} {pair.subject} -> {cand.record_id} {cand.score} {cand.reasons}",
            file=log,
        )


def proven_different(candidate: Candidate) -> bool:
    """Evidence says another company: VAT veto, or another city and another domain or phone.

    A candidate sharing an identifier (VAT id: a branch of the same legal entity; domain, phone or
    free-mail address: the same company at a new address) is never "proven different".
    """
    reasons = set(candidate.reasons)
    if reasons & {"same vat", "same domain", "same phone", "same free-mail address"}:
        return False
    return candidate.veto or (
        "city differs" in reasons and bool(reasons & {"domain differs", "phone differs"})
    )


def _sweep(rows: list[tuple[Pair, list[Candidate], str | None]]) -> None:
    """Offer-threshold and scored-auto-link diagnostics on stderr."""
    log = sys.stderr
    positives = [r for r in rows if r[0].truth is not None]
    traps = [r for r in rows if r[0].kind == "trap"]
    negatives = [r for r in rows if r[0].truth is None]
    print("offer_threshold recall@5 traps_offered negatives_offered proven_different_offered", file=log)
    for step in range(5, 61):
        t = step / 100
        hit = sum(
            auto == pair.truth or pair.truth in {c.record_id for c in cands[:5] if c.score >= t}
            for pair, cands, auto in positives
        )
        trapped = sum(any(c.score >= t for c in cands) for _, cands, _ in traps)
        offered = sum(any(c.score >= t for c in cands) for _, cands, _ in negatives)
        different = sum(
            c.score >= t and c.record_id != pair.truth and proven_different(c)
            for pair, cands, _ in rows
            for c in cands[:5]
        )
        print(
            f"{t:.2f} {hit / len(positives):.4f} {trapped}/{len(traps)} {offered}/{len(negatives)} {different}",
            file=log,
        )
    print("auto_link_threshold links correct precision (scored, when not exact)", file=log)
    for t in (0.9, 0.95, 0.98, 0.99, 0.995, 0.999):
        links = correct = 0
        for pair, cands, auto in rows:
            if auto is not None:
                continue
            above = [c for c in cands if c.score >= t]
            if len(above) == 1 and not above[0].veto:
                links += 1
                correct += above[0].record_id == pair.truth
        print(f"{t} {links} {correct} {correct / links if links else 1.0:.4f}", file=log)
    misses = [
        (pair, cands[:3])
        for pair, cands, auto in positives
        if auto != pair.truth and pair.truth not in {c.record_id for c in cands[:5]}
    ]
    for pair, cands in misses[:15]:
        print(
            f"MISS {pair.kind} {pair.truth} {pair.subject} -> {[(c.record_id, c.score, c.reasons) for c in cands]}",
            file=log,
        )


def timing(pool_size: int = 10_000, subjects: int = 300, seed: int = DEFAULT_SEED) -> dict[str, float]:
    """Index build time and per-subject ``decide`` time against one pool of ``pool_size`` records."""
    rng = random.Random(seed)
    _TAKEN_DOMAINS.clear()
    pool, labeled = build_tenant(rng, subjects, pool_size, uid_start=0)
    started = time.perf_counter()
    index = MatchIndex(pool)
    built = time.perf_counter() - started
    started = time.perf_counter()
    for pair in labeled:
        decide(pair.subject, index)
    per = (time.perf_counter() - started) / len(labeled)
    return {"pool": float(len(index)), "index_seconds": built, "ms_per_subject": 1000 * per}


def main(argv: list[str]) -> None:
    pairs = int(argv[0]) if argv and argv[0].isdigit() else 2000
    seed = int(argv[argv.index("--seed") + 1]) if "--seed" in argv else DEFAULT_SEED
    started = time.perf_counter()
    result = run(pairs, seed, sweep="--sweep" in argv)
    for band, cutoff in BAND_CUTOFFS:
        print(
            f"band={band} cutoff={cutoff:.2f} recall_at_1={result[f'{band}_recall_at_1']:.4f} "
            f"top_precision={result[f'{band}_top_precision']:.4f} tops={int(result[f'{band}_tops'])} "
            f"partnerless_offered={result[f'{band}_partnerless_offered']:.4f}"
        )
    print(
        f"auto_link_precision={result['auto_link_precision']:.4f} "
        f"candidate_recall_at_5={result['candidate_recall_at_5']:.4f} pairs={int(result['pairs'])}"
    )
    print(
        f"seconds={time.perf_counter() - started:.1f} auto_links={int(result['auto_links'])} "
        f"ms_per_subject={result['ms_per_subject']:.2f}",
        file=sys.stderr,
    )
    if "--timing" in argv:
        print(" ".join(f"{k}={v:.3f}" for k, v in timing().items()), file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])

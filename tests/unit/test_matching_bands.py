"""Score bands and the four false offers of issue 18 (shared trade word, other legal form, shared
domain under an unlike name, similar surnames), plus the benchmark's band figures."""

from __future__ import annotations

import random

import pytest

from bench import matching as bench
from crmsync.matching import (
    BAND_CUTOFFS,
    DEFAULT_OFFER_THRESHOLD,
    Band,
    Candidate,
    band_of,
    decide,
    find_candidates,
    identity_keys,
    legal_form,
    name_similarity,
    normalize_name,
    score,
)
from crmsync.models import Fields

CHECK = dict(BAND_CUTOFFS)[Band.CHECK]
LIKELY = dict(BAND_CUTOFFS)[Band.LIKELY]
SURE = dict(BAND_CUTOFFS)[Band.SURE]


def brondum(**overrides: str | None) -> Fields:
    """The accounting customer (as in test_matching, without the CVR)."""
    fields: Fields = {
        "name": "Brøndum Byg A/S",
        "customer_number": "1001",
        "address": "Industrivej 12",
        "zip": "8000",
        "city": "Aarhus C",
        "country": "Danmark",
        "phone": "+45 86 12 34 56",
        "email": "info@broendumbyg.dk",
        "website": "www.broendumbyg.dk",
    }
    fields.update(overrides)
    return fields


def _distractors(n: int = 200, seed: int = 3) -> list[tuple[str, Fields]]:
    pool, _ = bench.build_tenant(random.Random(seed), pairs=10, pool_size=n, uid_start=0)
    return [(str(5000 + i), fields) for i, (_, fields) in enumerate(pool)]


# --------------------------------------------------------------------------------------------------


def test_bands_follow_the_cutoffs_and_travel_with_the_candidate() -> None:
    cutoffs = [cutoff for _, cutoff in BAND_CUTOFFS]
    assert cutoffs == sorted(cutoffs, reverse=True) and [b for b, _ in BAND_CUTOFFS] == [
        Band.SURE,
        Band.LIKELY,
        Band.CHECK,
    ]
    for band, cutoff in BAND_CUTOFFS:
        assert band_of(cutoff) is band
    assert band_of(1.0) is Band.SURE and band_of(0.0) is Band.WEAK
    assert band_of(CHECK - 0.001) is Band.WEAK
    candidate = Candidate(record_id="1", score=0.95)
    assert candidate.band is Band.SURE
    assert candidate.model_dump()["band"] == "sure"  # the API and lead conversion show it
    assert Candidate.model_validate(candidate.model_dump()) == candidate  # old payloads still load


def test_find_candidates_and_decide_give_each_candidate_its_band() -> None:
    subject = brondum(customer_number=None)
    found = find_candidates(subject, [("1001", brondum()), *_distractors(200)])
    assert found[0].record_id == "1001" and found[0].band is Band.SURE
    assert all(c.band is band_of(c.score) for c in found)
    exact = decide(brondum(), [("1001", brondum())])
    assert exact.candidates[0].band is Band.SURE  # an exact key scores 1.0


def test_a_shared_trade_word_in_the_same_town_is_not_a_match() -> None:
    # the scoring before issue 18 offered these two at 0.44 and 0.53
    revision: Fields = {
        "name": "Thygesen Revision I/S",
        "zip": "5000",
        "city": "Odense C",
        "address": "Nystræde 158",
    }
    subject: Fields = {
        "name": "Jensen Revision",
        "zip": "5000",
        "city": "Odense C",
        "address": "Mølle Allé 146",
    }
    assert name_similarity(normalize_name("Jensen Revision"), normalize_name("Thygesen Revision")) < 0.6
    assert score(identity_keys(subject), identity_keys(revision)).value < DEFAULT_OFFER_THRESHOLD
    assert find_candidates(subject, [("2002", revision)]) == []
    byg = score(
        identity_keys({"name": "Jørgensen Byg IVS", "zip": "7500"}),
        identity_keys({"name": "Bøgh Byg IVS", "zip": "7500"}),
    )
    assert byg.value < DEFAULT_OFFER_THRESHOLD
    pool_record: Fields = {
        "name": "Jensen Byg ApS",
        "zip": "8000",
        "city": "Aarhus C",
        "address": "Skovvej 3",
    }
    subject = {"name": "Nordlys Byg", "zip": "8000", "city": "Aarhus", "address": "Havnegade 9"}
    # one surname, two trades: two businesses
    other_trade = score(identity_keys({**subject, "name": "Jensen VVS"}), identity_keys(pool_record))
    assert other_trade.value < CHECK
    # the trade word with a typo is still the same trade, and the name still matches
    typo = score(identity_keys({**subject, "name": "Jensen Bgy"}), identity_keys(pool_record))
    assert typo.value >= LIKELY


def test_same_name_other_legal_form_same_town_is_another_entity_unless_a_key_agrees() -> None:
    holding = brondum(name="Brøndum Byg ApS", customer_number="2002", address="Skovvej 3")
    holding.update(phone="+45 86 99 88 77", email=None, website=None)
    subject: Fields = {"name": "Brøndum Byg A/S", "zip": "8000", "city": "Aarhus", "phone": "+45 86 12 34 56"}
    result = score(identity_keys(subject), identity_keys(holding))
    assert "legal form differs" in result.reasons
    assert result.value <= 0.2 and band_of(result.value) is Band.WEAK  # scored 0.92 before issue 18
    # everything else agreeing (address too) does not lift it out of weak
    twin = score(identity_keys({**subject, "address": "Skovvej 3", "phone": None}), identity_keys(holding))
    assert twin.value <= 0.2 and band_of(twin.value) is Band.WEAK
    # nothing but the name: still shown to a person (a lead), marked weak
    (only,) = find_candidates({"name": "NORDLYS ENERGI AS"}, [("500", {"name": "Nordlys Energi ApS"})])
    assert only.band is Band.WEAK and "legal form differs" in only.reasons
    # and another city on top of it: not offered
    moved = score(identity_keys({**subject, "zip": "6700", "city": "Esbjerg"}), identity_keys(holding))
    assert moved.value < DEFAULT_OFFER_THRESHOLD
    # the same phone agrees: an A/S typed as ApS, offered (and the reasons say what differs)
    same_phone = score(identity_keys({**subject, "phone": "+45 86 99 88 77"}), identity_keys(holding))
    assert same_phone.value >= LIKELY and "legal form differs" in same_phone.reasons
    # no legal form on one side is no disagreement; spellings of one form agree
    bare = score(identity_keys({**subject, "name": "Brøndum Byg"}), identity_keys(holding))
    assert "legal form differs" not in bare.reasons and bare.value > result.value
    assert legal_form("Brøndum Byg A/S") == legal_form("BRØNDUM BYG Aktieselskab") == legal_form("x a.s.")
    assert legal_form("Müller AG") == legal_form("Müller SA") and legal_form("Peeters BV") == legal_form(
        "Peeters SRL"
    )
    assert legal_form("Brøndum Byg ApS") != legal_form("Brøndum Byg A/S") and legal_form("Brøndum") is None


def test_a_shared_web_domain_cannot_outweigh_a_completely_different_name() -> None:
    group = brondum(phone=None, address=None)
    subject: Fields = {
        "name": "Nordlys Consult",
        "zip": "8000",
        "city": "Aarhus",
        "email": "mette@broendumbyg.dk",
    }
    result = score(identity_keys(subject), identity_keys(group))
    assert "same domain" in result.reasons
    assert result.value < CHECK
    # the name says nothing and the domain is the only key: no better than the domain alone
    assert result.value < score(identity_keys({**subject, "name": None}), identity_keys(group)).value
    # the same domain with a similar name is strong evidence as before
    similar = score(identity_keys({**subject, "name": "Brondum Byg"}), identity_keys(group))
    assert similar.value >= SURE


@pytest.mark.parametrize(
    ("left", "right"),
    [("Larsen VVS", "Olsen VVS"), ("Jensen Byg", "Hansen Byg"), ("Hansen Rådgivning", "Johansen Rådgivning")],
)
def test_two_similar_surnames_are_different_names(left: str, right: str) -> None:
    assert name_similarity(normalize_name(left), normalize_name(right)) <= 0.6
    a: Fields = {"name": left, "zip": "8000", "city": "Aarhus C"}
    b: Fields = {"name": right, "zip": "8000", "city": "Aarhus", "address": "Skovvej 3"}
    assert score(identity_keys(a), identity_keys(b)).value < DEFAULT_OFFER_THRESHOLD


@pytest.mark.parametrize(("left", "right"), [("Jensen VVS", "Jesnen VVS"), ("Sørensen Byg", "Sorensen Byg")])
def test_a_surname_one_typo_apart_is_still_the_same_name(left: str, right: str) -> None:
    assert name_similarity(normalize_name(left), normalize_name(right)) >= 0.8


def test_benchmark_generates_the_hard_negatives_and_partnerless_companies() -> None:
    kinds = {
        pair.kind for _, labeled in bench.generate(400, seed=5) for pair in labeled if pair.truth is None
    }
    assert {"trade-town", "legal-form", "shared-domain", "surname", "trap", "negative"} <= kinds


def test_small_benchmark_bands_mean_what_they_say() -> None:
    result = bench.run(pairs=400, seed=7)
    assert result["sure_top_precision"] >= 0.98
    assert result["check_partnerless_offered"] <= 0.12
    assert result["check_recall_at_1"] >= 0.93

"""Identity and duplicate search: normalisers, exact keys, scoring traps, policy and a small benchmark."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from bench import matching as bench
from crmsync.matching import (
    BAND_CUTOFFS,
    DEFAULT_OFFER_THRESHOLD,
    EXACT_KEY_ORDER,
    Candidate,
    IdentityKeys,
    MatchIndex,
    MatchKey,
    MatchPolicy,
    country_code,
    decide,
    email_domain,
    exact_match,
    find_candidates,
    fold,
    identity_keys,
    normalize_address,
    normalize_city,
    normalize_name,
    normalize_phone,
    normalize_vat,
    normalize_zip,
    score,
    website_domain,
)
from crmsync.models import Fields

# A valid CVR (mod-11 check digit) and the same number with a wrong check digit.
CVR = "13585628"
CVR_BAD = "13585627"
OTHER_CVR = "25313763"


def brondum(**overrides: str | None) -> Fields:
    """The accounting customer most tests look for."""
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
        "corporate_id": CVR,
    }
    fields.update(overrides)
    return fields


def ids(candidates: list[Candidate]) -> list[str]:
    return [candidate.record_id for candidate in candidates]


# --------------------------------------------------------------------------------------------------
# Normalisers
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Brøndum A/S", "BRØNDUM AS"),
        ("Brøndum Aktieselskab", "Broendum"),
        ("brøndum a.s.", "Brøndum ApS"),
        ("Müller GmbH & Co. KG", "Mueller G.m.b.H."),
        ("Schmidt GmbH und Co. KG", "SCHMIDT"),
        ("Oy Karl Fazer Ab", "Karl Fazer Oy"),
        ("Volvo AB (publ)", "Volvo Aktiebolag"),
        ("Polbud Sp. z o.o.", "POLBUD SP Z OO"),
        ("Koninklijke Philips N.V.", "Koninklijke Philips NV"),
        ("Acme Ltd.", "ACME Limited"),
        ("Dupont S.A.R.L.", "Dupont SAS"),
        ("Ferrari S.p.A.", "Ferrari SpA"),
        ("Hansen & Søn I/S", "Hansen og Søn"),
        ("Škoda a.s.", "Skoda"),
    ],
)
def test_normalize_name_folds_legal_forms_case_accents_and_punctuation(left: str, right: str) -> None:
    assert normalize_name(left) == normalize_name(right)
    assert normalize_name(left)  # never empty for a real name


def test_normalize_name_keeps_words_that_are_not_legal_forms() -> None:
    assert normalize_name("Brøndum Byg A/S") == "broendum byg"
    assert normalize_name("Brøndum Byg") != normalize_name("Brøndum")
    assert normalize_name("AS") == "as"  # a name that *is* a legal form is kept
    assert normalize_name("A/S Storebælt") == "storebaelt"  # legal form in front
    assert normalize_name(None) == "" and normalize_name("  ") == ""


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Brøndum", "broendum"),
        ("BRØNDUM", "broendum"),
        ("Ærø", "aeroe"),
        ("Århus", "aarhus"),
        ("Straße", "strasse"),
        ("Göteborg", "goeteborg"),
        ("Jyväskylä", "jyvaeskylae"),
        ("Müller", "mueller"),
        ("Łódź", "lodz"),
        ("Crème Brûlée", "creme brulee"),
    ],
)
def test_fold_transliterates_nordic_and_german_letters(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_nordic_spellings_fold_alike_in_names_and_cities() -> None:
    assert normalize_name("Brøndum") == normalize_name("Broendum") == normalize_name("BRØNDUM")
    assert normalize_city("Århus C") == normalize_city("Aarhus") == "aarhus"
    assert normalize_city("København Ø") == normalize_city("Copenhagen") == normalize_city("KØBENHAVN K")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Danmark", "DK"),
        ("Denmark", "DK"),
        ("DK", "DK"),
        ("dnk", "DK"),
        ("Dänemark", "DK"),
        ("Deutschland", "DE"),
        ("Tyskland", "DE"),
        ("Sverige", "SE"),
        ("Belgium", "BE"),
        ("België", "BE"),
        ("Holland", "NL"),
        ("The Netherlands", "NL"),
        ("UK", "GB"),
        ("Storbritannien", "GB"),
        ("England", "GB"),
        ("Schweiz", "CH"),
        ("Suisse", "CH"),
        ("Norge", "NO"),
        ("USA", "US"),
        ("United States of America", "US"),
        ("Ελλάδα", "GR"),
        ("Polska", "PL"),
        ("Suomi", "FI"),
        ("Ísland", "IS"),
        ("Denmark (DK)", "DK"),
        ("  sverige ", "SE"),
    ],
)
def test_country_code_reads_english_danish_and_native_names(text: str, code: str) -> None:
    assert country_code(text) == code


EU_EEA_UK_CH_US = [
    "AT",
    "BE",
    "BG",
    "HR",
    "CY",
    "CZ",
    "DK",
    "EE",
    "FI",
    "FR",
    "DE",
    "GR",
    "HU",
    "IE",
    "IT",
    "LV",
    "LT",
    "LU",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SK",
    "SI",
    "ES",
    "SE",
    "IS",
    "LI",
    "NO",
    "GB",
    "CH",
    "US",
]


@pytest.mark.parametrize("code", EU_EEA_UK_CH_US)
def test_country_code_knows_every_eu_eea_code(code: str) -> None:
    assert country_code(code) == code
    assert country_code(code.lower()) == code


@pytest.mark.parametrize("text", ["Narnia", "", None, "Europe"])
def test_country_code_unknown_is_none(text: str | None) -> None:
    assert country_code(text) is None


@pytest.mark.parametrize(
    ("value", "country", "expected"),
    [
        (CVR, "Danmark", "DK" + CVR),
        ("DK" + CVR, None, "DK" + CVR),
        ("DK 13 58 56 28", "Sverige", "DK" + CVR),  # the prefix wins over the record's country
        ("13 58 56 28", "DK", "DK" + CVR),
        ("974760673", "Norge", "NO974760673"),
        ("NO 974 760 673 MVA", None, "NO974760673"),
        ("556036-0793", "Sweden", "SE556036079301"),
        ("SE556036079301", None, "SE556036079301"),
        ("1572860-0", "Finland", "FI15728600"),
        ("DE 136 695 976", None, "DE136695976"),
        ("136695976", "Deutschland", "DE136695976"),
        ("GB 980 7806 84", None, "GB980780684"),
        ("CHE-116.281.710 MWST", None, "CHE116281710"),
        ("0203.430.576", "Belgien", "BE0203430576"),
        ("NL004495445B01", None, "NL004495445B01"),
        ("732829320", "France", "FR44732829320"),
    ],
)
def test_normalize_vat_canonical_and_national_ids_agree(
    value: str, country: str | None, expected: str
) -> None:
    assert normalize_vat(value, country) == expected


@pytest.mark.parametrize(
    ("value", "country"),
    [
        (CVR_BAD, "DK"),  # wrong mod-11 check digit
        ("DK" + CVR_BAD, None),
        (CVR, None),  # unprefixed and no country: cannot be validated
        ("DE123456789", None),
        ("NO974760674MVA", None),
        ("HRB 12345", "Deutschland"),  # a register number, not a VAT id
        ("n/a", "DK"),
        ("", "DK"),
        (None, "DK"),
    ],
)
def test_normalize_vat_invalid_is_none(value: str | None, country: str | None) -> None:
    assert normalize_vat(value, country) is None


@pytest.mark.parametrize(
    "email",
    [
        "brondum@gmail.com",
        "b@hotmail.dk",
        "b@outlook.de",
        "b@live.dk",
        "b@yahoo.co.uk",
        "b@icloud.com",
        "b@gmx.net",
        "b@web.de",
        "b@mail.dk",
        "b@jubii.dk",
        "b@t-online.de",
        "b@orange.fr",
        "b@proton.me",
        "b@wp.pl",
    ],
)
def test_email_domain_ignores_free_mail(email: str) -> None:
    assert email_domain(email) is None


def test_email_and_website_domains() -> None:
    assert email_domain("Faktura@Broendumbyg.DK") == "broendumbyg.dk"
    assert email_domain("no-at-sign") is None
    assert email_domain("mail@live.example.com") == "live.example.com"  # a company's "live" subdomain
    assert website_domain("https://www.Broendumbyg.dk/kontakt?x=1") == "broendumbyg.dk"
    assert website_domain("broendumbyg.dk") == "broendumbyg.dk"
    assert website_domain("http://www2.example.co.uk:8080/") == "example.co.uk"
    assert website_domain("https://facebook.com/broendumbyg") is None
    assert website_domain("not a url") is None


@pytest.mark.parametrize(
    ("value", "country", "expected"),
    [
        ("+45 86 12 34 56", None, "+4586123456"),
        ("86 12 34 56", "Danmark", "+4586123456"),
        ("0045 86123456", None, "+4586123456"),
        ("(+45) 8612 3456", "DK", "+4586123456"),
        ("030 1234567", "Deutschland", "+49301234567"),
        ("08-123 456 78", "Sverige", "+46812345678"),
    ],
)
def test_normalize_phone_e164(value: str, country: str | None, expected: str) -> None:
    assert normalize_phone(value, country) == expected


@pytest.mark.parametrize(
    ("value", "country"),
    [("12345678", "DK"), ("86 12 34 56", None), ("+45 123", None), ("call me", "DK"), (None, "DK")],
)
def test_normalize_phone_invalid_is_none(value: str | None, country: str | None) -> None:
    assert normalize_phone(value, country) is None


def test_address_and_zip_variants_agree() -> None:
    assert normalize_address("Industrivej 12") == normalize_address("Industriv. 12")
    assert normalize_address("Nørregade 7, 2. tv") == normalize_address("Nørreg. 7 2.tv")
    assert (
        normalize_address("Hauptstraße 5")
        == normalize_address("Hauptstr. 5")
        == normalize_address("HAUPTSTRASSE 5")
    )
    assert normalize_address("Industrivej 12") != normalize_address("Industrivej 21")
    assert normalize_zip("DK-8000") == normalize_zip("8000") == "8000"
    assert normalize_zip("SE-111 22") == normalize_zip("11122")
    assert normalize_zip("B1 1AA", "GB") == "B11AA"  # a Birmingham postcode keeps its letters


def test_identity_keys_reads_canonical_fields() -> None:
    keys = identity_keys(brondum(), record_id="1001")
    assert keys == IdentityKeys(
        record_id="1001",
        customer_number="1001",
        vat="DK" + CVR,
        name_norm="broendum byg",
        legal="as",
        zip="8000",
        city_norm="aarhus",
        address_norm="industriv 12",
        domain="broendumbyg.dk",
        domains=frozenset({"broendumbyg.dk"}),
        phone_e164="+4586123456",
        country="DK",
    )


def test_identity_keys_reads_local_numbers_in_the_country_the_record_implies() -> None:
    # no country field: the international phone number says Denmark, so the bare CVR validates
    keys = identity_keys({"name": "X", "phone": "+45 86 12 34 56", "corporate_id": CVR})
    assert keys.vat == "DK" + CVR and keys.country is None
    # ... or the tenant's default country does
    keys = identity_keys(
        {"name": "X", "phone": "86 12 34 56", "corporate_id": CVR}, default_country="Danmark"
    )
    assert keys.vat == "DK" + CVR and keys.phone_e164 == "+4586123456"
    assert identity_keys({"name": "X", "corporate_id": CVR}).vat is None


# --------------------------------------------------------------------------------------------------
# Exact keys
# --------------------------------------------------------------------------------------------------


def test_exact_key_order_constant() -> None:
    assert EXACT_KEY_ORDER == (
        MatchKey.LINK,
        MatchKey.CUSTOMER_NUMBER,
        MatchKey.EXTERNAL_NUMBER,
        MatchKey.VAT_ID,
    )


def test_customer_number_beats_vat() -> None:
    pool = [
        ("1001", brondum(corporate_id=None)),
        ("2002", brondum(name="Brøndum Holding A/S", customer_number="2002")),  # holds the CVR
    ]
    subject: Fields = {"name": "Brøndum", "customer_number": "1001", "vat_number": "DK" + CVR}
    match = exact_match(subject, pool)
    assert match is not None
    assert (match.record_id, match.key) == ("1001", MatchKey.CUSTOMER_NUMBER)
    decision = decide(subject, pool)
    assert (decision.auto_link, decision.key) == ("1001", MatchKey.CUSTOMER_NUMBER)
    assert decision.candidates[0].record_id == "1001"


def test_customer_number_with_leading_zeros_matches() -> None:
    match = exact_match({"name": "Brøndum", "customer_number": "001001"}, [("1001", brondum())])
    assert match is not None and match.key is MatchKey.CUSTOMER_NUMBER


def test_customer_number_contradicted_by_a_different_vat_is_not_exact() -> None:
    subject: Fields = {"name": "Brøndum", "customer_number": "1001", "vat_number": "DK" + OTHER_CVR}
    assert exact_match(subject, [("1001", brondum())]) is None
    decision = decide(subject, [("1001", brondum())])
    assert decision.auto_link is None


def test_external_number_matches_other_sides_id_or_shared_number() -> None:
    pool = [("1001", brondum(external_number="ERP-77")), ("1002", brondum(name="Other", corporate_id=None))]
    by_shared = exact_match({"name": "x", "external_number": "ERP-77"}, pool)
    assert by_shared is not None and (by_shared.record_id, by_shared.key) == (
        "1001",
        MatchKey.EXTERNAL_NUMBER,
    )
    by_id = exact_match({"name": "x", "external_number": "1002"}, pool)
    assert by_id is not None and by_id.record_id == "1002"


def test_vat_exact_match_auto_links() -> None:
    pool = [("1001", brondum()), ("1002", brondum(name="Jensen VVS", corporate_id=OTHER_CVR))]
    decision = decide({"name": "Brondum Byg", "vat_number": "DK" + CVR}, pool)
    assert (decision.auto_link, decision.key) == ("1001", MatchKey.VAT_ID)


def test_ambiguous_vat_is_no_exact_match_and_both_are_offered() -> None:
    pool = [
        ("1001", brondum()),
        ("1002", brondum(customer_number="1002", address="Havnegade 3")),  # a second account, same CVR
        ("1003", brondum(name="Jensen VVS", corporate_id=OTHER_CVR, email="info@jensen.dk", website=None)),
    ]
    subject: Fields = {"name": "Brøndum Byg", "corporate_id": CVR, "country": "DK"}
    assert exact_match(subject, pool) is None
    decision = decide(subject, pool)
    assert decision.auto_link is None and decision.key is None
    assert set(ids(decision.candidates)[:2]) == {"1001", "1002"}
    assert all("vat_id shared by 2 records" in c.reasons for c in decision.candidates[:2])


def test_ambiguous_vat_never_auto_links_even_with_a_scored_threshold() -> None:
    pool = [("1001", brondum()), ("1002", brondum(customer_number="1002", city="Odense", zip="5000"))]
    policy = MatchPolicy(auto_link_threshold=0.9)
    decision = decide(brondum(customer_number=None), pool, policy)
    assert decision.auto_link is None
    assert decision.candidates[0].record_id == "1001" and decision.candidates[0].score >= 0.9


def test_invalid_vat_never_matches() -> None:
    pool = [("1001", brondum(corporate_id=CVR_BAD, name="Jensen VVS", email=None, website=None, phone=None))]
    subject: Fields = {"name": "Hansen El", "corporate_id": CVR_BAD, "country": "DK"}
    assert exact_match(subject, pool) is None
    assert decide(subject, pool).auto_link is None
    keys = identity_keys(subject)
    assert keys.vat is None
    assert "same vat" not in score(keys, identity_keys(pool[0][1])).reasons


def test_vat_match_in_another_city_is_offered_not_linked() -> None:
    pool = [("1001", brondum(city="Esbjerg", zip="6700"))]
    subject: Fields = {"name": "Brøndum Byg", "vat_number": "DK" + CVR, "city": "Aarhus"}
    decision = decide(subject, pool)
    assert decision.auto_link is None
    assert decision.candidates[0].record_id == "1001"
    assert "same vat_id but city differs" in decision.candidates[0].reasons


def test_auto_link_exact_can_be_switched_off() -> None:
    decision = decide(
        {"name": "x", "customer_number": "1001"}, [("1001", brondum())], MatchPolicy(auto_link_exact=False)
    )
    assert decision.auto_link is None and decision.key is None
    assert decision.candidates[0].record_id == "1001" and decision.candidates[0].score == 1.0


# --------------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------------


def _distractors(n: int = 800, seed: int = 3) -> list[tuple[str, Fields]]:
    """Realistic accounting customers from the benchmark generator (ids 5000+)."""
    rng = random.Random(seed)
    pool, _ = bench.build_tenant(rng, pairs=10, pool_size=n, uid_start=0)
    return [(str(5000 + i), fields) for i, (_, fields) in enumerate(pool)]


def test_same_name_other_city_and_domain_is_not_offered() -> None:
    twin = brondum(
        name="Brøndum Byg ApS",
        customer_number="2002",
        city="Esbjerg",
        zip="6700",
        email="kontor@brondum-esbjerg.dk",
        website=None,
        corporate_id=None,
        phone=None,
    )
    subject = brondum(customer_number=None, corporate_id=None, phone=None)
    result = score(identity_keys(subject), identity_keys(twin))
    assert result.value < DEFAULT_OFFER_THRESHOLD
    assert {"city differs", "domain differs"} <= set(result.reasons)
    assert "2002" not in ids(find_candidates(subject, [("2002", twin), *_distractors(300)]))


def test_same_name_other_city_and_phone_is_not_offered() -> None:
    twin = brondum(
        name="BRØNDUM BYG", customer_number="2002", city="Odense C", zip="5000", phone="+45 66 11 22 33"
    )
    twin.update(email=None, website=None, corporate_id=None)
    subject: Fields = {"name": "Brøndum Byg A/S", "city": "Aarhus", "phone": "+45 86 12 34 56"}
    assert score(identity_keys(subject), identity_keys(twin)).value < DEFAULT_OFFER_THRESHOLD
    assert find_candidates(subject, [("2002", twin)]) == []


def test_same_name_same_place_is_offered_first() -> None:
    twin = brondum(
        customer_number="2002", city="Esbjerg", zip="6700", email=None, website=None, corporate_id=None
    )
    twin["phone"] = None
    pool = [("2002", twin), ("1001", brondum(corporate_id=None)), *_distractors(300)]
    subject: Fields = {"name": "Brondum Byg", "city": "Århus C", "zip": "DK-8000"}
    found = find_candidates(subject, pool)
    assert ids(found)[0] == "1001"
    assert "same zip+city" in found[0].reasons


def test_different_valid_vat_is_a_veto() -> None:
    other = brondum(corporate_id=OTHER_CVR)
    result = score(identity_keys(brondum()), identity_keys(other))
    assert result.veto and "vat differs" in result.reasons
    assert result.value < DEFAULT_OFFER_THRESHOLD
    assert find_candidates(brondum(customer_number=None), [("9", other)]) == []


@pytest.mark.parametrize(
    "typo", ["Brondum Bgy", "Brøndm Byg", "Bröndum Bygg Aktieselskab", "BROENDUM BYG A.S."]
)
def test_typo_name_is_still_offered_in_top_five(typo: str) -> None:
    pool = [
        *_distractors(),
        ("1001", brondum()),
        ("1002", brondum(name="Brøndum El A/S", customer_number="1002", corporate_id=None, city="Vejle")),
        ("1003", brondum(name="Brøndum Trælast", customer_number="1003", corporate_id=None, zip="8600")),
    ]
    subject: Fields = {"name": typo, "city": "Aarhus"}
    found = find_candidates(subject, MatchIndex(pool))
    assert "1001" in ids(found)[:5]
    assert found[0].record_id == "1001"


def test_typo_name_alone_is_offered() -> None:
    found = find_candidates({"name": "Brondum Bgy"}, [*_distractors(), ("1001", brondum())])
    assert "1001" in ids(found)


def test_free_mail_domain_is_not_counted() -> None:
    a = identity_keys({"name": "Hansen Tømrer", "email": "hansen.toemrer@gmail.com"})
    b = identity_keys({"name": "Hansen Tømrer", "email": "jens1970@gmail.com"})
    plain = identity_keys({"name": "Hansen Tømrer"})
    assert a.domains == frozenset() and a.domain is None
    with_mail = score(a, b)
    assert "same domain" not in with_mail.reasons
    assert with_mail.value == score(plain, plain).value


def test_the_same_free_mail_address_counts() -> None:
    a = identity_keys({"name": "Hansen Tømrer", "email": "hansen.toemrer@gmail.com"})
    b = identity_keys({"name": "Hansen Tomrer", "email": "Hansen.Toemrer@gmail.com"})
    assert "same free-mail address" in score(a, b).reasons


def test_score_agreement_orders_sensibly() -> None:
    subject = identity_keys(brondum(customer_number=None))
    full = score(subject, identity_keys(brondum()))
    name_only = score(subject, identity_keys({"name": "Brøndum Byg"}))
    stranger = score(subject, identity_keys({"name": "Jensen VVS", "city": "Aarhus"}))
    assert 1.0 >= full.value > name_only.value > stranger.value >= 0.0
    assert {"same zip+city", "same domain", "same phone", "same vat", "same address"} <= set(full.reasons)


# --------------------------------------------------------------------------------------------------
# Policy
# --------------------------------------------------------------------------------------------------


def test_policy_defaults_never_auto_link_scored_candidates() -> None:
    policy = MatchPolicy()
    assert policy.auto_link_exact is True and policy.auto_link_threshold is None
    assert policy.offer_threshold == DEFAULT_OFFER_THRESHOLD
    decision = decide(brondum(customer_number=None, corporate_id=None), [("1001", brondum())], policy)
    assert decision.auto_link is None
    assert decision.candidates[0].record_id == "1001" and decision.candidates[0].score > 0.99


def test_policy_scored_auto_link_only_for_a_sole_candidate_above_threshold() -> None:
    subject = brondum(customer_number=None, corporate_id=None)
    policy = MatchPolicy(auto_link_threshold=0.99)
    sole = decide(subject, [("1001", brondum(corporate_id=None)), *_distractors(200)], policy)
    assert sole.auto_link == "1001" and sole.key is None
    twins = [
        ("1001", brondum(corporate_id=None)),
        ("1002", brondum(corporate_id=None, customer_number="1002")),
    ]
    assert decide(subject, twins, policy).auto_link is None


def test_policy_is_strict() -> None:
    with pytest.raises(ValidationError):
        MatchPolicy(offer_treshold=0.5)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        MatchPolicy(offer_threshold=0.8, auto_link_threshold=0.5)
    with pytest.raises(ValidationError):
        MatchPolicy(default_country="Narnia")
    assert MatchPolicy(default_country="Danmark").default_country == "DK"


def test_policy_default_country_reads_local_numbers() -> None:
    pool = [("1001", brondum())]
    subject: Fields = {"name": "Brøndum", "corporate_id": CVR}
    assert decide(subject, pool).auto_link is None
    assert decide(subject, pool, MatchPolicy(default_country="DK")).auto_link == "1001"


def test_max_candidates_limits_the_offer() -> None:
    pool = [(str(i), brondum(customer_number=str(i), corporate_id=None)) for i in range(10)]
    decision = decide({"name": "Brøndum Byg"}, pool, MatchPolicy(max_candidates=3))
    assert len(decision.candidates) == 3


# --------------------------------------------------------------------------------------------------
# Benchmark (small)
# --------------------------------------------------------------------------------------------------


def test_small_benchmark_precision_and_recall() -> None:
    result = bench.run(pairs=200, seed=7)
    assert result["pairs"] == 200
    assert result["auto_links"] > 0
    assert result["auto_link_precision"] == 1.0
    assert result["candidate_recall_at_5"] >= 0.95


def test_benchmark_prints_a_line_per_band_and_the_summary_line(capsys: pytest.CaptureFixture[str]) -> None:
    bench.main(["120", "--seed", "11"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(BAND_CUTOFFS) + 1
    for line, (band, cutoff) in zip(lines, BAND_CUTOFFS, strict=False):
        assert line.startswith(f"band={band} cutoff={cutoff:.2f} recall_at_1=")
        assert "top_precision=" in line and "partnerless_offered=" in line
    last = lines[-1]
    assert last.startswith("auto_link_precision=") and "candidate_recall_at_5=" in last
    assert last.endswith("pairs=120")


def test_tenant_default_candidate_threshold_is_the_benchmarked_one():
    from crmsync.config import TenantConfig
    from crmsync.matching import DEFAULT_OFFER_THRESHOLD

    assert TenantConfig.model_fields["candidate_threshold"].default == DEFAULT_OFFER_THRESHOLD

"""Choosing the agency: hint, category + region (most specific wins), keywords, the admin."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from services.routing.rules import (
    CaseFacts,
    Rule,
    choose_agency,
    choose_next_agency,
    covers,
    normalise_category,
    words,
)

pytestmark = pytest.mark.unit


@dataclass(frozen=True)
class Opd:
    code: str
    region_codes: tuple[str, ...]
    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    name: str = ""


# Registry order matters: it breaks ties between agencies of one region.
AGENCIES = [
    Opd("pupr-sumsel", ("16",), ("jalan",), ("jalan provinsi", "jembatan")),
    Opd("disdik-sumsel", ("16",), ("pendidikan",), ("sma", "smk")),
    Opd("dukcapil-sumsel", ("16",), ("kependudukan",)),
    Opd("inspektorat-sumsel", ("16",), (), ("pungli", "korupsi")),
    Opd("dinkes-palembang", ("16.71",), ("kesehatan",), ("puskesmas",)),
    Opd("rsud-palembang", ("16.71",), ("kesehatan",), ("rsud", "rumah sakit")),
    Opd("pupr-palembang", ("16.71",), ("jalan",), ("jalan rusak", "drainase")),
    Opd("disdik-palembang", ("16.71",), ("pendidikan",), ("sd", "smp")),
    Opd("pdam-palembang", ("16.71",), ("air bersih",), ("pdam", "air mati")),
    Opd("dukcapil-palembang", ("16.71",), ("kependudukan",), ("ktp", "kartu keluarga")),
    Opd("dukcapil-banyuasin", ("16.07",), ("kependudukan",), ("ktp", "kartu keluarga")),
    Opd("pupr-banyuasin", ("16.07",), ("jalan",), ("jalan rusak",)),
]


def chosen(facts: CaseFacts, exclude: tuple[str, ...] = ()) -> str | None:
    choice = choose_agency(facts, AGENCIES, exclude)
    return choice.agency.code if choice.agency else None


# --- text and regions -----------------------------------------------------------------------


def test_words_fold_case_accents_and_punctuation() -> None:
    assert words("E-KTP  Pindah-Datang, Café!") == ["e", "ktp", "pindah", "datang", "cafe"]


@pytest.mark.parametrize("raw", ["air bersih", "air_bersih", "Air-Bersih", "  AIR  BERSIH "])
def test_category_names_compare_however_they_are_written(raw: str) -> None:
    assert normalise_category(raw) == "air bersih"


@pytest.mark.parametrize(
    ("agency_region", "case_region", "expected"),
    [
        ("16", "16", True),
        ("16", "16.71.04.1001", True),
        ("16.71", "16.71.04", True),
        ("16.71", "16.7", False),
        ("16.7", "16.71", False),  # a prefix of digits is not a parent region
        ("16.71", "16", False),
        ("16", "17.01", False),
    ],
)
def test_region_coverage_follows_the_code_hierarchy(
    agency_region: str, case_region: str, expected: bool
) -> None:
    assert covers(agency_region, case_region) is expected


# --- 1. the hint --------------------------------------------------------------------------


def test_a_hint_naming_an_active_agency_wins_over_category_and_region() -> None:
    facts = CaseFacts(category="jalan", region_code="16.71", agency_hint="pupr-sumsel")
    choice = choose_agency(facts, AGENCIES)
    assert choice.agency is not None and choice.agency.code == "pupr-sumsel"
    assert choice.rule is Rule.HINT
    assert "pelapor" in choice.reason


def test_an_admin_hint_says_so_in_the_reason() -> None:
    facts = CaseFacts(agency_hint="pdam-palembang", hint_from_admin=True)
    choice = choose_agency(facts, AGENCIES)
    assert choice.rule is Rule.HINT and "admin" in choice.reason


@pytest.mark.parametrize("hint", ["dinas-tidak-ada", "PUPR-SUMSEL", ""])
def test_a_hint_that_names_no_active_agency_is_ignored(hint: str) -> None:
    facts = CaseFacts(category="jalan", region_code="16.71.04", agency_hint=hint)
    choice = choose_agency(facts, AGENCIES)
    assert choice.rule is Rule.CATEGORY_REGION
    assert choice.agency is not None and choice.agency.code == "pupr-palembang"


# --- 2. category + region -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "region", "expected"),
    [
        ("jalan", "16.71.04.1001", "pupr-palembang"),  # a village in Palembang: the city's OPD
        ("jalan", "16.71", "pupr-palembang"),
        ("jalan", "16.07.02", "pupr-banyuasin"),
        ("jalan", "16.03", "pupr-sumsel"),  # a regency without its own OPD: the province
        ("pendidikan", "16.71", "disdik-palembang"),
        ("air_bersih", "16.71.10", "pdam-palembang"),
        ("Kependudukan", "16.07", "dukcapil-banyuasin"),
        ("kependudukan", "16.02", "dukcapil-sumsel"),
    ],
)
def test_the_most_specific_region_wins(category: str, region: str, expected: str) -> None:
    facts = CaseFacts(category=category, region_code=region, text="tolong segera ditangani")
    choice = choose_agency(facts, AGENCIES)
    assert choice.rule is Rule.CATEGORY_REGION
    assert choice.agency is not None and choice.agency.code == expected


def test_between_agencies_of_one_region_keywords_decide() -> None:
    facts = CaseFacts(category="kesehatan", region_code="16.71", text="Antre di IGD RSUD 6 jam")
    assert chosen(facts) == "rsud-palembang"


def test_without_keyword_evidence_the_agency_listed_first_wins() -> None:
    facts = CaseFacts(category="kesehatan", region_code="16.71", text="pelayanan lambat")
    assert chosen(facts) == "dinkes-palembang"


def test_keywords_never_outrank_a_more_specific_region() -> None:
    # "SMA" is the province's keyword, but the city's education office is more specific.
    facts = CaseFacts(category="pendidikan", region_code="16.71", text="Pungli di SMA 3")
    assert chosen(facts) == "disdik-palembang"


# --- 3. keywords ----------------------------------------------------------------------------


def test_without_a_category_keywords_choose_within_the_region() -> None:
    facts = CaseFacts(region_code="16.07.05", text="Pembuatan KTP dan kartu keluarga lama")
    choice = choose_agency(facts, AGENCIES)
    assert choice.rule is Rule.KEYWORDS
    assert choice.agency is not None and choice.agency.code == "dukcapil-banyuasin"
    assert "ktp" in choice.reason and "kartu keluarga" in choice.reason


def test_keywords_match_whole_words_only() -> None:
    # "sd" must not match inside "tsd" or "sdm"; "pdam" must not match "pdamkar".
    facts = CaseFacts(region_code="16.71", text="Pengembangan SDM TSD pdamkar")
    assert chosen(facts) is None


def test_with_a_category_keywords_only_consider_agencies_that_handle_it() -> None:
    # Electricity (PLN) is national: no regional agency handles it, and the road office's
    # keyword "jalan rusak" in the text is no reason to send it there.
    facts = CaseFacts(category="listrik", region_code="16.71", text="Listrik padam, jalan rusak")
    choice = choose_agency(facts, AGENCIES)
    assert choice.manual
    assert "listrik" in choice.reason and "16.71" in choice.reason


def test_an_agency_without_categories_is_reached_by_keywords() -> None:
    facts = CaseFacts(region_code="16.71", text="Ada pungli saat mengurus surat")
    assert chosen(facts) == "inspektorat-sumsel"


def test_a_keyword_tie_between_agencies_goes_to_the_admin() -> None:
    # No region: the KTP offices of two regions match equally well.
    choice = choose_agency(CaseFacts(text="KTP saya belum jadi"), AGENCIES)
    assert choice.manual
    assert "dukcapil-banyuasin" in choice.reason and "dukcapil-palembang" in choice.reason


# --- 4. the admin -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "facts",
    [
        CaseFacts(category="listrik", region_code="16.71", text="Listrik padam"),  # PLN: national
        CaseFacts(category="jalan", region_code="31.71", text="jalan rusak"),  # outside Sumsel
        CaseFacts(text="Mohon perhatian bapak gubernur"),  # nothing to go on
    ],
    ids=["national-category", "outside-the-region", "nothing"],
)
def test_when_no_rule_matches_the_case_goes_to_the_admin(facts: CaseFacts) -> None:
    choice = choose_agency(facts, AGENCIES)
    assert choice.agency is None
    assert choice.rule is Rule.MANUAL
    assert choice.reason.endswith("pilih manual")


def test_an_inactive_agency_is_never_chosen() -> None:
    active = [a for a in AGENCIES if a.code != "pupr-palembang"]
    facts = CaseFacts(category="jalan", region_code="16.71", agency_hint="pupr-palembang")
    choice = choose_agency(facts, active)
    assert choice.agency is not None and choice.agency.code == "pupr-sumsel"


# --- "not our authority" ------------------------------------------------------------------


SMA_CASE = CaseFacts(category="pendidikan", region_code="16.71", text="Pungli di SMA 3")


def test_a_valid_suggestion_is_followed() -> None:
    choice = choose_next_agency(SMA_CASE, AGENCIES, ["disdik-palembang"], "disdik-sumsel", 3)
    assert choice.rule is Rule.SUGGESTED
    assert choice.agency is not None and choice.agency.code == "disdik-sumsel"


def test_without_a_suggestion_the_next_match_excludes_agencies_already_tried() -> None:
    choice = choose_next_agency(SMA_CASE, AGENCIES, ["disdik-palembang"], None, 3)
    assert choice.rule is Rule.CATEGORY_REGION
    assert choice.agency is not None and choice.agency.code == "disdik-sumsel"


def test_an_unknown_suggestion_falls_back_to_the_rules() -> None:
    choice = choose_next_agency(SMA_CASE, AGENCIES, ["disdik-palembang"], "dinas-entah", 3)
    assert choice.agency is not None and choice.agency.code == "disdik-sumsel"


def test_a_suggestion_pointing_back_to_an_agency_already_tried_is_a_loop() -> None:
    tried = ["disdik-palembang", "disdik-sumsel"]
    choice = choose_next_agency(SMA_CASE, AGENCIES, tried, "disdik-palembang", 5)
    assert choice.manual
    assert "berulang" in choice.reason and "disdik-palembang" in choice.reason


def test_the_current_agency_suggesting_itself_is_a_loop() -> None:
    choice = choose_next_agency(SMA_CASE, AGENCIES, ["disdik-palembang"], "disdik-palembang", 3)
    assert choice.manual


@pytest.mark.parametrize(("tried", "limit"), [(3, 3), (2, 2), (1, 1), (4, 3)])
def test_the_hop_limit_sends_the_case_to_the_admin(tried: int, limit: int) -> None:
    codes = [a.code for a in AGENCIES[:tried]]
    choice = choose_next_agency(SMA_CASE, AGENCIES, codes, "disdik-palembang", limit)
    assert choice.manual
    assert f"{tried} dari {limit}" in choice.reason


def test_below_the_hop_limit_the_case_moves_on() -> None:
    choice = choose_next_agency(SMA_CASE, AGENCIES, ["pupr-sumsel", "disdik-palembang"], None, 3)
    assert choice.agency is not None and choice.agency.code == "disdik-sumsel"


def test_when_every_matching_agency_was_tried_the_case_goes_to_the_admin() -> None:
    tried = ["disdik-palembang", "disdik-sumsel"]
    choice = choose_next_agency(SMA_CASE, AGENCIES, tried, None, 5)
    assert choice.manual
    assert "OPD lain" in choice.reason

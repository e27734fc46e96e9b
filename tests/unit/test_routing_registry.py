"""The agency registry file: the sample is valid; every problem is named, entry by entry."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.routing.registry import (
    Level,
    ParsedAgencies,
    RegistryError,
    parse_registry,
    read_registry,
    sample_registry_path,
)
from services.routing.rules import CaseFacts, choose_agency

pytestmark = pytest.mark.unit

VALID: dict[str, Any] = {
    "version": 1,
    "categories": [
        {"code": "jalan", "label": "Jalan"},
        {"code": "air bersih", "label": "Air bersih"},
    ],
    "agencies": [
        {
            "code": "pupr-sumsel",
            "name": "Dinas PUBMTR Provinsi Sumatera Selatan",
            "level": "provinsi",
            "region_codes": ["16"],
            "categories": ["jalan"],
            "keywords": ["Jalan Provinsi", "jembatan"],
            "liaison": {"name": "Penghubung Contoh", "role": "Admin Penghubung"},
            "head": "Kepala Dinas PUBMTR",
        },
        {
            "code": "pdam-palembang",
            "name": "Perumda Air Minum Tirta Musi",
            "level": "kota",
            "region_codes": ["16.71"],
            "categories": ["Air_Bersih"],
            "keywords": ["PDAM"],
            "liaison": {"name": "Penghubung Contoh", "role": "Unit Pengaduan"},
            "head": "Direktur Utama",
            "timezone": "Asia/Jakarta",
        },
    ],
}


def with_change(path: str, value: Any) -> dict[str, Any]:
    """VALID with one value replaced (``agencies.1.level``); ``...`` deletes it."""
    data = copy.deepcopy(VALID)
    *parents, last = path.split(".")
    target: Any = data
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    key: Any = int(last) if last.isdigit() else last
    if value is ...:
        del target[key]
    else:
        target[key] = value
    return data


def problems_of(data: Any) -> list[str]:
    with pytest.raises(RegistryError) as caught:
        parse_registry(data, "test.yaml")
    assert str(caught.value).startswith("test.yaml:")
    return caught.value.problems


# --- the sample ---------------------------------------------------------------------------


def test_the_packaged_sample_for_south_sumatra_is_valid_and_complete() -> None:
    registry = read_registry(sample_registry_path())
    codes = [a.code for a in registry.agencies]
    assert len(codes) == len(set(codes)) >= 40
    provincial = {a.code for a in registry.agencies if a.level is Level.PROVINSI}
    assert {
        "dinkes-sumsel",
        "disdik-sumsel",
        "pubmtr-sumsel",
        "dishub-sumsel",
        "disdukcapil-sumsel",
        "dinsos-sumsel",
        "dlhp-sumsel",
        "dpmptsp-sumsel",
        "diskominfo-sumsel",
        "inspektorat-sumsel",
    } <= provincial
    regions = {r for a in registry.agencies for r in a.region_codes}
    assert {"16", "16.71", "16.02", "16.07", "16.74", "16.03"} <= regions
    assert {c.code for c in registry.categories} == {
        "jalan", "kesehatan", "pendidikan", "kependudukan", "bansos",
        "perizinan", "air bersih", "listrik", "lingkungan", "transportasi",
    }  # fmt: skip
    # Electricity is PLN's (national): declared so verification may use it, handled by nobody.
    assert not [a for a in registry.agencies if "listrik" in a.categories]
    assert all(a.liaison.name and a.head for a in registry.agencies)


def facts(category: str | None, region: str, text: str) -> CaseFacts:
    return CaseFacts(category=category, region_code=region, text=text)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (facts("jalan", "16.71.04", "Jalan berlubang"), "pupr-palembang"),
        (facts("air bersih", "16.71", "Air PDAM mati"), "pdam-palembang"),
        (facts("kesehatan", "16.71", "IGD RSUD lambat"), "rsud-bari-palembang"),
        (facts("kesehatan", "16.71", "Antre lama"), "dinkes-palembang"),
        (facts("jalan", "16.05", "Jalan rusak"), "pubmtr-sumsel"),
        (facts(None, "16.74.01", "e-KTP belum dicetak"), "disdukcapil-lubuklinggau"),
        (facts("bansos", "16.02.11", "PKH tidak cair"), "dinsos-oki"),
    ],
    ids=["jalan-palembang", "pdam", "rsud", "dinkes", "province", "keywords", "oki"],
)
def test_the_sample_routes_typical_reports_to_the_responsible_opd(
    case: CaseFacts, expected: str
) -> None:
    agencies = list(read_registry(sample_registry_path()).agencies)
    choice = choose_agency(case, agencies)
    assert choice.agency is not None and choice.agency.code == expected


def test_values_are_normalised_for_matching() -> None:
    registry = parse_registry(VALID)
    pdam = registry.agencies[1]
    assert pdam.categories == ("air bersih",)
    assert pdam.keywords == ("pdam",)
    assert registry.agencies[0].keywords == ("jalan provinsi", "jembatan")


def test_json_and_yaml_files_are_read_alike(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(VALID))
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(VALID))
    assert read_registry(tmp_path / "a.json") == read_registry(tmp_path / "a.yaml")


# --- problems, named ----------------------------------------------------------------------


PU = "agencies[0] (pupr-sumsel): "
PDAM = "agencies[1] (pdam-palembang): "


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("agencies.0.code", "Dinas PU", "agencies[0] (Dinas PU): code: String should match"),
        ("agencies.0.name", ..., PU + "name: Field required"),
        ("agencies.0.level", "kecamatan", PU + "level: Input should be"),
        ("agencies.1.region_codes", [], PDAM + "region_codes: Tuple should have at least 1"),
        ("agencies.1.region_codes", ["16-71"], PDAM + "region_codes.0: String should match"),
        ("agencies.0.region_codes", ["16.71"], PU + "a provincial agency covers province codes"),
        ("agencies.1.region_codes", ["16.02"], PDAM + "a kota agency needs city"),
        ("agencies.1.level", "kabupaten", PDAM + "a kabupaten agency needs regency"),
        (
            "agencies.1.categories",
            ["air bersih", "listrik"],
            PDAM + "categories: unknown 'listrik'",
        ),
        ("agencies.1.timezone", "Asia/Palembang", PDAM + "timezone: unknown time zone"),
        ("agencies.1.keywords", ["pdam", "--"], PDAM + "keywords: a keyword must contain"),
        ("agencies.1.liaison", {"name": "X"}, PDAM + "liaison.role: Field required"),
        ("agencies.1.telepon", "0711", PDAM + "telepon: Extra inputs are not permitted"),
        (
            "agencies.1.code",
            "pupr-sumsel",
            "agencies[1] (pupr-sumsel): code: duplicate, already used by agencies[0]",
        ),
        ("categories.1.label", ..., "categories[1] (air bersih): label: Field required"),
        ("agencies", [], "'agencies' must be a non-empty list"),
        ("version", 2, "version: 2 is not supported"),
        ("regions", {}, "unknown top-level key(s): regions"),
    ],
)
def test_each_problem_names_its_entry_and_field(path: str, value: Any, expected: str) -> None:
    problems = problems_of(with_change(path, value))
    assert any(p.startswith(expected) for p in problems), problems


def test_every_problem_is_reported_at_once_not_only_the_first() -> None:
    data = with_change("agencies.0.code", "BAD CODE")
    data["agencies"][0]["timezone"] = "Mars/Olympus"
    data["agencies"][1]["categories"] = ["sampah"]
    data["agencies"][1]["level"] = "desa"
    problems = problems_of(data)
    assert len(problems) == 4, problems
    assert [p.split(":")[0] for p in problems] == [
        "agencies[0] (BAD CODE)",
        "agencies[0] (BAD CODE)",
        "agencies[1] (pdam-palembang)",
        "agencies[1] (pdam-palembang)",
    ]


@pytest.mark.parametrize("data", [None, [], "agencies", 42])
def test_a_file_that_is_not_a_mapping_is_refused(data: Any) -> None:
    assert problems_of(data) == ["the file must be a mapping with 'categories' and 'agencies'"]


def test_a_file_with_broken_yaml_says_where(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("categories:\n  - {code: jalan, label: Jalan\nagencies: []\n")
    with pytest.raises(RegistryError) as caught:
        read_registry(broken)
    assert "line" in caught.value.problems[0]


def test_a_missing_file_is_a_registry_error(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="cannot read the file"):
        read_registry(tmp_path / "nope.yaml")


def _stored(agency_code: str = "pupr-sumsel", **changes: Any) -> dict[str, Any]:
    """An agency as ``save_registry`` stores it (``_id`` = code, plus bookkeeping)."""
    entry = copy.deepcopy(VALID["agencies"][0])
    del entry["code"]
    return {"_id": agency_code, **entry, "rank": 0, "active": True, **changes}


def test_an_unchanged_agency_document_is_parsed_once() -> None:
    parsed = ParsedAgencies()
    first = parsed.of(_stored())
    assert parsed.of(_stored()) is first
    assert first.code == "pupr-sumsel" and first.categories == ("jalan",)


def test_a_changed_agency_document_is_parsed_again() -> None:
    parsed = ParsedAgencies()
    before = parsed.of(_stored())
    after = parsed.of(_stored(keywords=["trotoar"], rank=3))
    assert after is not before
    assert after.keywords == ("trotoar",)
    assert parsed.of(_stored(keywords=["trotoar"], rank=3)) is after
    assert parsed.of(_stored("pupr-palembang")).code == "pupr-palembang"

"""Routing's rules and masking as they were before issue 11's per-report work: the oracle.

The rules now normalise an agency's categories and keywords once per list and take a
plain-ASCII shortcut in ``words``; the masking skips a secret that cannot occur.
``test_routing_equivalence.py`` holds them to this copy of the code they replaced (the
rules module verbatim, and ``conceal``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

from services.routing.disposition import CONCEALED
from shared.contacts import normalise_text
from shared.logs import redact

_WORD = re.compile(r"[0-9a-z]+")


def words(text: str) -> list[str]:
    """The lowercase words of ``text`` (accents dropped, punctuation as separators)."""
    folded = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return _WORD.findall(plain)


def phrase(text: str) -> str:
    """``text`` as single-spaced lowercase words: ``"Air_Bersih"`` → ``"air bersih"``."""
    return " ".join(words(text))


def normalise_category(value: str) -> str:
    """A category name as compared: ``air_bersih``, ``Air-Bersih`` → ``air bersih``."""
    return phrase(value)


def covers(agency_region: str, case_region: str) -> bool:
    """Whether an agency's region code includes the case's (``16`` covers ``16.71.04``)."""
    return case_region == agency_region or case_region.startswith(agency_region + ".")


def region_depth(region_code: str) -> int:
    """How specific a region code is: ``16`` → 1, ``16.71`` → 2, ``16.71.04`` → 3."""
    return region_code.count(".") + 1


class RoutableAgency(Protocol):
    """What the rules need to know about an agency."""

    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def region_codes(self) -> Sequence[str]: ...
    @property
    def categories(self) -> Sequence[str]: ...
    @property
    def keywords(self) -> Sequence[str]: ...


A = TypeVar("A", bound=RoutableAgency)


@dataclass(frozen=True)
class CaseFacts:
    """What routing looks at in a case (never the reporter's identity)."""

    category: str | None = None
    region_code: str | None = None
    agency_hint: str | None = None
    #: Who gave the hint: the reporter, or the admin while verifying.
    hint_from_admin: bool = False
    text: str = ""
    _haystack: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_haystack", f" {phrase(self.text)} ")

    @property
    def normalised_category(self) -> str | None:
        """The category as compared, or None."""
        return normalise_category(self.category) if self.category else None

    def keywords_found(self, agency: RoutableAgency) -> list[str]:
        """The agency's keywords that occur in the case's text, as whole words."""
        return [kw for kw in agency.keywords if f" {phrase(kw)} " in self._haystack]


class Rule(StrEnum):
    """Which rule chose the agency (or sent the case to the admin)."""

    HINT = "hint"
    SUGGESTED = "suggested"
    CATEGORY_REGION = "category_region"
    KEYWORDS = "keywords"
    MANUAL = "manual"


@dataclass(frozen=True)
class Choice(Generic[A]):
    """The outcome of routing: an agency, or the admin's queue; and why."""

    agency: A | None
    rule: Rule
    reason: str

    @property
    def manual(self) -> bool:
        """Whether the case goes to the admin's manual queue."""
        return self.agency is None


def _specificity(agency: RoutableAgency, region_code: str) -> int:
    """The depth of the most specific of the agency's regions covering ``region_code``."""
    return max((region_depth(r) for r in agency.region_codes if covers(r, region_code)), default=0)


def _handles(agency: RoutableAgency, category: str) -> bool:
    return any(normalise_category(c) == category for c in agency.categories)


def _by_hint(facts: CaseFacts, usable: dict[str, A]) -> Choice[A] | None:
    if not facts.agency_hint or facts.agency_hint not in usable:
        return None
    agency = usable[facts.agency_hint]
    who = "admin saat verifikasi" if facts.hint_from_admin else "pelapor"
    return Choice(agency, Rule.HINT, f"instansi tujuan yang disebut {who}: {agency.name}")


def _by_category_and_region(facts: CaseFacts, candidates: list[A]) -> Choice[A] | None:
    category, region = facts.normalised_category, facts.region_code
    if not category or not region:
        return None
    scored = [
        (_specificity(a, region), len(facts.keywords_found(a)), -rank, a)
        for rank, a in enumerate(candidates)
        if _handles(a, category) and _specificity(a, region) > 0
    ]
    if not scored:
        return None
    depth, hits, _, best = max(scored, key=lambda s: s[:3])
    level = {1: "provinsi", 2: "kabupaten/kota"}.get(depth, "kecamatan/desa")
    evidence = f", kata kunci cocok: {hits}" if hits else ""
    return Choice(
        best,
        Rule.CATEGORY_REGION,
        f"kategori '{category}' di wilayah {region} (OPD tingkat {level}{evidence})",
    )


def _keyword_ranking(facts: CaseFacts, candidates: list[A]) -> list[tuple[int, int, A, list[str]]]:
    """Agencies with keyword hits (in region and category when known), best first."""
    category, region = facts.normalised_category, facts.region_code
    scored: list[tuple[int, int, A, list[str]]] = []
    for agency in candidates:
        depth = _specificity(agency, region) if region else 0
        if (region and depth == 0) or (category and not _handles(agency, category)):
            continue
        found = facts.keywords_found(agency)
        if found:
            scored.append((len(found), depth, agency, found))
    scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
    return scored


def _top_ties(ranking: list[tuple[int, int, A, list[str]]]) -> list[tuple[int, int, A, list[str]]]:
    return [s for s in ranking if (s[0], s[1]) == (ranking[0][0], ranking[0][1])]


def _by_keywords(facts: CaseFacts, candidates: list[A]) -> Choice[A] | None:
    ranking = _keyword_ranking(facts, candidates)
    if not ranking or len(_top_ties(ranking)) > 1:
        return None  # a tie between agencies is not evidence for either
    _, _, agency, found = ranking[0]
    return Choice(agency, Rule.KEYWORDS, f"kata kunci: {', '.join(found)}")


def _no_match_reason(facts: CaseFacts, candidates: list[A], excluded: bool) -> str:
    ranking = _keyword_ranking(facts, candidates)
    tied = sorted(s[2].code for s in _top_ties(ranking)) if ranking else []
    if len(tied) > 1:
        return f"kata kunci cocok untuk lebih dari satu OPD ({', '.join(tied)}); pilih manual"
    parts = []
    if facts.category:
        parts.append(f"kategori '{facts.normalised_category}'")
    parts.append(f"wilayah {facts.region_code}" if facts.region_code else "wilayah tidak diketahui")
    others = " lain" if excluded else ""
    return f"tidak ada OPD{others} yang cocok untuk {' di '.join(parts)}; pilih manual"


def choose_agency(
    facts: CaseFacts, agencies: Sequence[A], exclude: Collection[str] = ()
) -> Choice[A]:
    """The agency for a case by hint, then category + region, then keywords; else the admin.

    ``agencies`` are the active agencies in registry order; ``exclude`` are codes that
    may not be chosen (agencies that already said "not our authority").
    """
    candidates = [a for a in agencies if a.code not in exclude]
    usable = {a.code: a for a in candidates}
    for rule in (_by_hint(facts, usable), _by_category_and_region(facts, candidates)):
        if rule is not None:
            return rule
    by_keywords = _by_keywords(facts, candidates)
    if by_keywords is not None:
        return by_keywords
    return Choice(None, Rule.MANUAL, _no_match_reason(facts, candidates, bool(exclude)))


def choose_next_agency(
    facts: CaseFacts,
    agencies: Sequence[A],
    tried: Sequence[str],
    suggested: str | None,
    hop_limit: int,
) -> Choice[A]:
    """Where a case goes after its current agency said "not our authority".

    ``tried`` are the codes of every agency that has held the case, the current one last.
    """
    if suggested and suggested in tried:
        return Choice(
            None,
            Rule.MANUAL,
            f"pengalihan berulang: {suggested} sudah pernah menangani laporan ini; pilih manual",
        )
    if len(tried) >= hop_limit:
        return Choice(
            None,
            Rule.MANUAL,
            f"batas pengalihan tercapai ({len(tried)} dari {hop_limit} OPD); pilih manual",
        )
    active = {a.code: a for a in agencies}
    if suggested and suggested in active:
        agency = active[suggested]
        return Choice(agency, Rule.SUGGESTED, f"disarankan oleh OPD sebelumnya: {agency.name}")
    return choose_agency(facts, agencies, exclude=set(tried))


# --- services/routing/disposition.py --------------------------------------------------------


def conceal(text: str, secrets: Sequence[str], *, underscore_joins: bool = False) -> str:
    """``text`` (normalised) with each secret (any case, whole words) and contacts masked.

    ``underscore_joins``: an underscore separates words too (``budi_santoso``), as in URLs.
    """
    text = normalise_text(text)
    # A secret must not continue a word; in URLs "_" is a separator, not part of a word.
    word = r"[^\W_]" if underscore_joins else r"\w"
    for secret in secrets:
        pattern = rf"(?<!{word}){re.escape(normalise_text(secret))}(?!{word})"
        text = re.sub(pattern, CONCEALED, text, flags=re.IGNORECASE)
    return redact(text)

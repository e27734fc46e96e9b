"""Verification's text checks as they were before issue 11's per-report work: the oracle.

The checks now read a report's text once (``checks.ReportText``) and match precompiled
word lists (``checks.Phrases``); ``test_verification_equivalence.py`` holds them to this
copy of the code they replaced, kept verbatim (word lists imported, not copied).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

from services.verification.checks import (
    _ADDRESSEES,
    CONTEXT_INSULTS,
    PLACE_MARKERS,
    PROMOTIONAL_PHRASES,
    STOPWORDS,
    STRONG_INSULTS,
    Code,
    OpenCase,
    ScopeRules,
    check_duplicate,
    find_duplicate,
)
from services.verification.policy import (
    CATEGORY_RULES,
    LIGHT_WORDS,
    SEVERE_WORDS,
    Assessment,
    ReportFacts,
    VerificationPolicy,
    category_slug,
)
from shared.contract import CheckFinding
from shared.lifecycle import Kind, Severity

_URL = re.compile(
    r"(?:https?://|www\.)\S+"
    r"|\b(?:[a-z0-9-]+\.)+(?:com|net|org|id|co|xyz|io|me|ly|link|site|online|top|vip|info)\b"
    r"(?:/\S*)?",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"[0-9a-z]+(?:-[0-9a-z]+)*")


def normalise(text: str) -> str:
    """Lower-case text in Unicode compatibility form (full-width letters folded)."""
    return unicodedata.normalize("NFKC", text).lower()


def without_links(text: str) -> str:
    """``text`` with URLs and bare domains replaced by spaces."""
    return _URL.sub(" ", text)


def tokens(text: str) -> list[str]:
    """The lower-case word and number tokens of ``text``, links left out."""
    return _TOKEN.findall(normalise(without_links(text)))


def _is_meaningful(token: str) -> bool:
    return (
        len(token) >= 2
        and token not in STOPWORDS
        and any(ch.isalpha() for ch in token)
        and len(set(token.replace("-", ""))) > 1
    )


def meaningful_words(text: str) -> list[str]:
    """The tokens that carry content: no stopwords, no bare numbers, no ``aaaa``."""
    return [t for t in tokens(text) if _is_meaningful(t)]


def _term_pattern(term: str) -> str:
    return re.escape(normalise(term.strip())).replace(r"\ ", r"\s+")


@lru_cache(maxsize=64)
def _matcher(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    alternatives = sorted({_term_pattern(t) for t in terms if t.strip()}, key=len, reverse=True)
    if not alternatives:
        return None
    return re.compile(r"(?<![\w-])(?:" + "|".join(alternatives) + r")(?![\w-])", re.IGNORECASE)


def mentions(text: str, terms: Sequence[str]) -> list[str]:
    """The ``terms`` that occur in ``text`` as whole words, as written there, first seen first."""
    matcher = _matcher(tuple(terms))
    if matcher is None:
        return []
    found: dict[str, str] = {}
    for match in matcher.finditer(unicodedata.normalize("NFKC", text)):
        written = " ".join(match.group(0).split())
        found.setdefault(written.lower(), written)
    return list(found.values())


def check_content(text: str, min_words: int) -> CheckFinding | None:
    """``too_short``: the report has fewer than ``min_words`` meaningful words."""
    count = len(meaningful_words(text))
    if count >= min_words:
        return None
    return CheckFinding(
        code=Code.TOO_SHORT,
        detail=f"{count} meaningful words; at least {min_words} are needed to act on it",
    )


#: "di Palembang", "depan Pasar Kuto": a preposition of place before a proper name.
_NAMED_PLACE = re.compile(r"\b(?:[Dd]i|[Kk]e|[Dd]ekat|[Dd]epan|[Ss]ekitar|[Dd]aerah)\s+[A-Z][\w.]+")


def check_specific(text: str, kind: Kind, has_location: bool) -> CheckFinding | None:
    """``too_general``: a complaint that names no place or institution and has no location."""
    if kind != Kind.PENGADUAN or has_location:
        return None
    if mentions(text, PLACE_MARKERS) or _NAMED_PLACE.search(text):
        return None
    return CheckFinding(
        code=Code.TOO_GENERAL,
        detail="names no place, address or institution, and no location was given",
    )


def private_services(text: str, rules: ScopeRules) -> list[str]:
    """The private-sector services ``text`` names, as written there."""
    return mentions(text, rules.private)


def check_scope(text: str, rules: ScopeRules) -> CheckFinding | None:
    """``private_sector`` when only private services are named; ``scope_unclear`` when mixed."""
    private = private_services(text, rules)
    ambiguous = mentions(text, rules.ambiguous)
    public = mentions(text, rules.public)
    if not private and not public and (generic := mentions(text, rules.private_generic)):
        return CheckFinding(
            code=Code.SCOPE_UNCLEAR,
            detail=f"names private business in general ({', '.join(generic)}), no company",
        )
    if ambiguous:
        return CheckFinding(
            code=Code.SCOPE_UNCLEAR,
            detail=f"names a company of mixed ownership: {', '.join(ambiguous)}",
        )
    if private and public:
        return CheckFinding(
            code=Code.SCOPE_UNCLEAR,
            detail=f"names private ({', '.join(private)}) and public ({', '.join(public)}) "
            "services",
        )
    if private:
        return CheckFinding(code=Code.PRIVATE_SECTOR, detail=", ".join(private))
    return None


_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a"})
_RUNS = re.compile(r"(.)\1+")


def _folded(token: str) -> str:
    """A token with leetspeak undone and stretched letters squeezed (``g0bloook``: goblok)."""
    return _RUNS.sub(r"\1", token.translate(_LEET))


_STRONG = frozenset(_folded(w) for w in STRONG_INSULTS)
_CONTEXT = frozenset(_folded(w) for w in CONTEXT_INSULTS)


def insults(text: str) -> list[str]:
    """The insults in ``text``, one entry per occurrence (folded spelling)."""
    words = [_folded(t) for t in re.findall(r"[\w@]+", normalise(without_links(text)))]
    found: list[str] = []
    for i, word in enumerate(words):
        if word in _STRONG:
            found.append(word)
        elif word in _CONTEXT:
            neighbours = set(words[max(i - 1, 0) : i]) | set(words[i + 1 : i + 2])
            if neighbours & _ADDRESSEES:
                found.append(word)
    return found


def check_abuse(text: str, min_words: int) -> CheckFinding | None:
    """``abusive`` when insults outweigh the content; ``offensive_language`` when not."""
    found = insults(text)
    if not found:
        return None
    folded_insults = _STRONG | _CONTEXT
    substance = [
        w for w in meaningful_words(text) if _folded(w) not in folded_insults | _ADDRESSEES
    ]
    detail = (
        f"{len(found)} insult(s) ({', '.join(sorted(set(found)))}); {len(substance)} other words"
    )
    if len(substance) < min_words or len(found) >= 3 or 4 * len(found) >= len(substance):
        return CheckFinding(code=Code.ABUSIVE, detail=detail)
    return CheckFinding(code=Code.OFFENSIVE_LANGUAGE, detail=detail)


_REPEATED = re.compile(r"(\S)\1{3,}")


def _repetition_dominates(text: str) -> bool:
    visible = re.sub(r"\s+", "", text)
    if not visible:
        return False
    repeated = sum(len(m.group(0)) for m in _REPEATED.finditer(visible))
    if repeated / len(visible) >= 0.3:
        return True
    words = tokens(text)
    longest = run = 1
    for previous, word in itertools.pairwise(words):
        run = run + 1 if word == previous else 1
        longest = max(longest, run)
    return len(words) >= 5 and longest >= 5


def check_spam(text: str) -> CheckFinding | None:
    """``spam`` for links only, repeated characters or promotion; ``spam_suspected`` for a hint."""
    links = _URL.findall(text)
    if links and len(meaningful_words(text)) < 3:
        return CheckFinding(code=Code.SPAM, detail=f"only links ({len(links)})")
    if _repetition_dominates(text):
        return CheckFinding(code=Code.SPAM, detail="mostly repeated characters or words")
    promotion = mentions(text, PROMOTIONAL_PHRASES)
    score = len(promotion) + (1 if promotion and links else 0)
    if score >= 2:
        return CheckFinding(
            code=Code.SPAM, detail=f"promotion: {', '.join(p.lower() for p in promotion)}"
        )
    if score == 1:
        return CheckFinding(code=Code.SPAM_SUSPECTED, detail=f"promotion: {promotion[0].lower()}")
    return None


def text_terms(text: str) -> frozenset[str]:
    """The normalised terms two reports are compared by: meaningful words and numbers."""
    return frozenset(t for t in tokens(text) if _is_meaningful(t) or t.isdigit())


def suggest_category(text: str, hint: str | None = None) -> str | None:
    """The category the text's words point to; the reporter's hint when it is a known one."""
    scores = {name: len(mentions(text, words)) for name, words in CATEGORY_RULES.items()}
    best = max(scores, key=lambda name: scores[name])
    known_hint = category_slug(hint) if hint else None
    # The reporter chose it (a form's list): kept unless the text clearly says otherwise.
    if known_hint in CATEGORY_RULES and (scores[known_hint] > 0 or scores[best] < 2):
        return known_hint
    return best if scores[best] > 0 else None


def suggest_severity(text: str, kind: Kind) -> Severity:
    """*berat* for heavy matters, *ringan* for suggestions and questions, else *sedang*."""
    if mentions(text, SEVERE_WORDS):
        return Severity.BERAT
    if kind in (Kind.ASPIRASI, Kind.PERMINTAAN_INFORMASI) or mentions(text, LIGHT_WORDS):
        return Severity.RINGAN
    return Severity.SEDANG


def assess(
    report: ReportFacts, open_cases: list[OpenCase], policy: VerificationPolicy
) -> Assessment:
    text = report.text
    duplicate = find_duplicate(report.as_open_case(), open_cases, policy.duplicate_rules())
    scope = check_scope(text, policy.scope_rules())
    findings = [
        check_content(text, policy.min_meaningful_words),
        check_specific(text, report.kind, report.has_location),
        scope,
        check_abuse(text, policy.min_meaningful_words),
        check_spam(text),
        check_duplicate(duplicate),
    ]
    private = (
        private_services(text, policy.scope_rules())
        if scope is not None and scope.code == Code.PRIVATE_SECTOR
        else []
    )
    return Assessment(
        findings=tuple(f for f in findings if f is not None),
        duplicate=duplicate,
        private_services=tuple(private),
        category=suggest_category(text, report.category_hint),
        severity=suggest_severity(text, report.kind),
    )

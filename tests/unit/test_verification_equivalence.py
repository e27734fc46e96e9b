"""Verification reads a report's text once and matches precompiled word lists: the same
results as the code it replaced (``verification_before``), on thousands of generated texts.

The texts mix every word list the checks use with the cases that make text matching hard:
leetspeak and stretched letters, links and bare domains, hyphens and underscores, upper
case, full-width letters, characters a case-insensitive match folds specially (dotless
``ı``, ``İ``, long ``ſ``, the Kelvin sign, final sigma), combining marks, runs of spaces,
tabs and newlines.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from services.verification import checks
from services.verification.checks import (
    DEFAULT_PRIVATE_SECTOR,
    DEFAULT_PUBLIC_SECTOR,
    PLACE_MARKERS,
    PROMOTIONAL_PHRASES,
    STRONG_INSULTS,
    OpenCase,
    Phrases,
    ReportText,
    ScopeRules,
)
from services.verification.policy import (
    CATEGORY_RULES,
    LIGHT_WORDS,
    SEVERE_WORDS,
    ReportFacts,
    VerificationPolicy,
    assess,
)
from shared.lifecycle import Kind
from tests.unit import verification_before as before

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_LISTS: list[tuple[str, ...]] = [
    PLACE_MARKERS,
    PROMOTIONAL_PHRASES,
    DEFAULT_PRIVATE_SECTOR,
    DEFAULT_PUBLIC_SECTOR,
    ("telkomsel", "toko", "swasta", "pt"),
    SEVERE_WORDS,
    LIGHT_WORDS,
    *CATEGORY_RULES.values(),
]
_VOCABULARY = [
    *sorted({term for words in _LISTS for term in words}),
    *STRONG_INSULTS, "anjing", "babi", "dasar", "pejabat", "liar", "g0bl0k", "gooobloook",
    "b4ngs4t", "t0l0l", "an-jing", "warga", "jalan", "di", "yang", "dan", "sudah", "aaaa",
    "xx", "12", "2026", "RT05", "No.", "Palembang", "Pasar", "Kuto", "Jl.", "PDAM-nya",
    "e-KTP", "KTP-el", "ktp_el", "self-service", "Shopee,", "(Gojek)", "GoPay!", "bca.",
    "https://contoh.go.id/a?b=1", "www.promo-gacor.xyz", "gacor.vip/daftar", "bit.ly/x1",
    "ｐｄａｍ", "ＰＬＮ", "Ｓｈｏｐｅｅ", "tıktok", "İndomaret", "ſampah", "\u212aTP", "ΣΟΦΙΑΣ",
    "sekolaħ", "pu\u0301skesmas", "cafe\u0301", "ke-", "-an", "x@y.id", "0812-3456-7890",
    "loooong", "!!!!", "????", "...", "a", "I",
]  # fmt: skip
_SEPARATORS = [" ", " ", " ", " ", "  ", ", ", ". ", "\n", "\t", " - ", "-", "_", "/", ": "]


def _text(rng: random.Random) -> str:
    words: list[str] = []
    for _ in range(rng.randrange(0, 30)):
        word = rng.choice(_VOCABULARY)
        match rng.randrange(8):
            case 0:
                word = word.upper()
            case 1:
                word = word.title()
            case 2 if word:
                i = rng.randrange(len(word))
                word = word[:i] + word[i] * rng.randrange(2, 6) + word[i + 1 :]
        words.append(word + rng.choice(_SEPARATORS))
    return "".join(words).strip() if rng.random() < 0.9 else "".join(words)


TEXTS = [_text(random.Random(seed)) for seed in range(1500)]


def test_generated_texts_cover_what_the_checks_look_for() -> None:
    # The comparison below means something only if the texts trip every check.
    policy = VerificationPolicy()
    codes: set[str] = set()
    for text in TEXTS:
        facts = ReportFacts("T", Kind.PENGADUAN, text, NOW)
        codes |= before.assess(facts, [], policy).codes()
    assert {"too_short", "too_general", "private_sector", "scope_unclear", "abusive"} <= codes
    assert {"offensive_language", "spam", "spam_suspected"} <= codes


@pytest.mark.parametrize("kind", list(Kind))
def test_assess_is_unchanged_on_generated_texts(kind: Kind) -> None:
    policy = VerificationPolicy()
    rng = random.Random(str(kind))
    for text in TEXTS:
        hint = rng.choice([None, "jalan", "Air Bersih", "kesehatan", "unknown"])
        facts = ReportFacts(
            "T", kind, text, NOW, has_location=rng.random() < 0.3, category_hint=hint
        )
        assert assess(facts, [], policy) == before.assess(facts, [], policy), text


def test_the_report_read_once_gives_every_form_as_before() -> None:
    for text in TEXTS:
        reading = ReportText(text)
        assert reading.tokens == before.tokens(text)
        assert reading.meaningful == before.meaningful_words(text)
        assert reading.terms == before.text_terms(text)
        assert checks.insults(reading) == before.insults(text), text
        # the folded words are each word folded, as before
        assert reading.folded_words == [
            before._folded(w) for w in checks.re.findall(r"[\w@]+", before.normalise(
                before.without_links(text)))
        ]  # fmt: skip


def test_precompiled_word_lists_find_what_the_per_call_matcher_found() -> None:
    custom = [
        ("tiktok shop", "pt.", "k-pop"),
        ("jl.", "no.", "(gojek)"),  # first words that are not runs of word characters
        ("cafe\u0301", "ΣΟΦΙΑ"),
        ("  ", "x"),
    ]
    for terms in [*_LISTS, *custom]:
        phrases = Phrases(tuple(terms))
        for text in TEXTS[:600]:
            reading = ReportText(text)
            found = before.mentions(text, terms)
            assert checks.mentions(reading, phrases) == found, (terms[:3], text)
            assert checks.mentions(text, list(terms)) == found
            if found:
                assert not phrases.cannot_occur_in(reading)


def test_the_ascii_shortcut_is_taken_and_never_hides_a_match() -> None:
    phrases = Phrases(("rumah sakit", "pdam"))
    assert phrases.cannot_occur_in(ReportText("jalan berlubang di depan pasar"))
    # "pdam-nya" is one run of word characters and hyphens: no whole-word "pdam" in it.
    assert phrases.cannot_occur_in(ReportText("air PDAM-nya mati"))
    assert before.mentions("air PDAM-nya mati", ("rumah sakit", "pdam")) == []
    assert not phrases.cannot_occur_in(ReportText("air PDAM, mati"))
    assert checks.mentions("di RUMAH\tSAKIT umum", phrases) == ["RUMAH SAKIT"]
    # Not ASCII: the matcher always runs (dotless ı matches i when case is ignored).
    assert not phrases.cannot_occur_in(ReportText("pdam dı kota"))
    assert checks.mentions("tıktok shop", ("tiktok shop",)) == ["tıktok shop"]


def test_scope_rules_compile_their_own_lists() -> None:
    rules = ScopeRules(private=("warung kopi",), public=("kelurahan",))
    text = "Warung Kopi depan kantor kelurahan"
    assert checks.private_services(text, rules) == ["Warung Kopi"]
    assert checks.check_scope(text, rules) == before.check_scope(text, rules)
    assert rules == ScopeRules(private=("warung kopi",), public=("kelurahan",))
    assert VerificationPolicy().scope_rules() is VerificationPolicy().scope_rules()


def test_facts_keep_the_reading_of_their_own_text_only() -> None:
    facts = ReportFacts("T", Kind.PENGADUAN, "jalan berlubang", NOW)
    assert facts.read() is facts.read()
    stale = ReportFacts("T", Kind.PENGADUAN, "air mati", NOW, reading=ReportText("other"))
    assert stale.read().text == "air mati"
    assert facts == ReportFacts("T", Kind.PENGADUAN, "jalan berlubang", NOW)


def test_duplicate_terms_are_unchanged() -> None:
    policy = VerificationPolicy()
    rng = random.Random(5)
    for text in TEXTS[:500]:
        other = rng.choice(TEXTS)
        terms = before.text_terms(text)
        facts = ReportFacts("T", Kind.PENGADUAN, text, NOW, terms=terms)
        case = OpenCase("S", datetime(2026, 3, 1, tzinfo=UTC), before.text_terms(other))
        assert assess(facts, [case], policy) == before.assess(facts, [case], policy)

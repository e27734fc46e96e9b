"""Routing's per-report shortcuts give what the code before them gave (``routing_before``).

The rules normalise an agency's categories and keywords once per list, not once per case
and agency; ``words`` skips dropping combining marks from ASCII text; the masking of a
Disposition skips a secret that cannot occur in the text. Compared here on generated
cases over the sample registry and over agencies whose lists are not normalised, and on
generated texts holding reporters' contacts in every spelling a match must still catch.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote_plus

import pytest

from services.routing import rules
from services.routing.disposition import _URL_SAFE, conceal, conceal_url, secrets_of
from services.routing.registry import read_registry, sample_registry_path
from shared.contacts import normalise_text
from tests.unit import routing_before as before

pytestmark = pytest.mark.unit

SAMPLE = list(read_registry(sample_registry_path()).agencies)


@dataclass(frozen=True)
class LooseAgency:
    """An agency as the rules' protocol allows it: lists as written, not normalised."""

    code: str
    name: str
    region_codes: Sequence[str]
    categories: Sequence[str]
    keywords: Sequence[str]


LOOSE = [
    LooseAgency("a", "Dinas A", ("16.71",), ["Air_Bersih", "JALAN"], ["Pipa  Bocor!", "PDAM"]),
    LooseAgency("b", "Dinas B", ("16",), ("air bersih", "Pendidikán"), ("sekolah", "Guru-Honor")),
    LooseAgency("c", "Dinas C", ("16.71", "16.72"), ("jalan",), ("lubang", "jalan rusak")),
    LooseAgency("d", "Dinas D", ("16.71.04",), ("Kesehatan ",), ("puskesmas", "PUSKESMAS")),
    LooseAgency("e", "Dinas E", ("17",), (), ("pdam",)),
]
_CATEGORIES = [
    *sorted({c for a in SAMPLE for c in a.categories}),
    "Air_Bersih", "air-bersih", "JALAN", "pendidikan", "Pendidikán", "kesehatan ", "tidak ada",
]  # fmt: skip
_REGIONS = [
    *sorted({r for a in SAMPLE for r in a.region_codes}),
    "16.71.04", "16.71.04.1001", "16.72", "17", "99", "16.7",
]  # fmt: skip
_WORDS = [
    *sorted({k for a in [*SAMPLE, *LOOSE] for k in a.keywords}),
    "warga", "di", "Palembang", "rusak", "Guru-Honor", "guru honor", "PDAM!", "pipa bocor",
    "Pipa\tBocor", "sékolah", "ｐｄａｍ", "café", "naïve", "jalan_rusak", "lubang.", "",
]  # fmt: skip


def _facts(rng: random.Random) -> dict[str, object]:
    words = [rng.choice(_WORDS) for _ in range(rng.randrange(0, 12))]
    return {
        "category": rng.choice([None, *_CATEGORIES]),
        "region_code": rng.choice([None, *_REGIONS]),
        "agency_hint": rng.choice([None, None, None, "dinkes-palembang", "c", "nope"]),
        "hint_from_admin": rng.random() < 0.5,
        "text": rng.choice([" ", "\n", ", "]).join(words),
    }


def _outcome(choice: rules.Choice[rules.A] | before.Choice[before.A]) -> tuple[object, ...]:
    return (choice.agency.code if choice.agency else None, str(choice.rule), choice.reason)


@pytest.mark.parametrize(
    "agencies", [SAMPLE, LOOSE, [*LOOSE, *SAMPLE]], ids=["sample", "loose", "both"]
)
def test_the_agency_chosen_and_why_are_unchanged(agencies: list[rules.RoutableAgency]) -> None:
    rng = random.Random(len(agencies))
    codes = [a.code for a in agencies]
    seen: set[str] = set()
    for _ in range(1500):
        fields = _facts(rng)
        new, old = rules.CaseFacts(**fields), before.CaseFacts(**fields)  # type: ignore[arg-type]
        exclude = set(rng.sample(codes, rng.randrange(0, 3)))
        outcome = _outcome(rules.choose_agency(new, agencies, exclude))
        assert outcome == _outcome(before.choose_agency(old, agencies, exclude)), fields
        seen.add(str(outcome[1]))
        tried = rng.sample(codes, rng.randrange(0, 3))
        suggested = rng.choice([None, *codes])
        assert _outcome(rules.choose_next_agency(new, agencies, tried, suggested, 3)) == _outcome(
            before.choose_next_agency(old, agencies, tried, suggested, 3)
        )
        for agency in agencies:
            assert new.keywords_found(agency) == old.keywords_found(agency)
    assert seen == {"hint", "category_region", "keywords", "manual"}  # every rule was exercised


def test_words_of_ascii_and_accented_text_are_unchanged() -> None:
    rng = random.Random(3)
    for _ in range(2000):
        text = " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(0, 8)))
        assert rules.words(text) == before.words(text)
        assert rules.phrase(text) == before.phrase(text)


# --- masking ---------------------------------------------------------------------------

IDENTITIES: list[dict[str, object]] = [
    {"name": "Budi Santoso", "phone": "+6281234567890", "email": "budi.s@mail.id"},
    {"name": "Siti Aminah", "handle": "tg:5501234"},
    {"name": "Kiki", "email": "kiki_99@contoh.co.id", "phone": "+62 812-3456-7890"},
    {"phone": "081299990000", "handle": "@warga.plg"},
    {"name": "Ölaf Çelik", "email": "OLAF@Mail.ID"},
]


def _spellings(secret: str, rng: random.Random) -> list[str]:
    """The ways a secret may be written: as it is, re-cased, with letters that a
    case-insensitive match folds (dotless i, Kelvin sign, full-width digits), split."""
    return [
        secret,
        secret.upper(),
        secret.swapcase(),
        secret.replace("i", "ı").replace("I", "İ"),
        secret.replace("k", "\u212a").replace("s", "ſ"),
        secret.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
        secret[: len(secret) // 2]
        + rng.choice(["", " ", "\u200b", "_"])
        + secret[len(secret) // 2 :],
        f"x{secret}",
        f"{secret}_x",
    ]


def test_masking_is_unchanged_for_every_spelling_of_every_secret() -> None:
    rng = random.Random(11)
    fillers = ["jalan rusak", "hubungi", "di", "RT 05", "+62", "@", ".", "_", "0812", "wa.me/62812"]
    checked = masked = 0
    for identity in IDENTITIES:
        for anonymous in (False, True):
            secrets = secrets_of(identity, anonymous)
            written = [s for secret in secrets for s in _spellings(secret, rng)]
            for _ in range(300):
                parts = rng.sample(written + fillers, rng.randrange(0, 6))
                text = rng.choice([" ", ", ", "\n", "/", "_"]).join(parts)
                for joins in (False, True):
                    new = conceal(text, secrets, underscore_joins=joins)
                    assert new == before.conceal(text, secrets, underscore_joins=joins), text
                    checked += 1
                    masked += "[disamarkan]" in new
                url = "https://x.id/a?" + "&".join(f"q={p}" for p in parts)
                assert conceal_url(url, secrets) == _conceal_url_before(url, secrets)
    assert masked > checked // 3  # the texts do hold secrets to mask, in many spellings


def _conceal_url_before(url: str, secrets: Sequence[str]) -> str:
    decoded = normalise_text(unquote_plus(url))
    masked = before.conceal(decoded, secrets, underscore_joins=True)
    return url if masked == decoded else quote(masked, safe=_URL_SAFE)


def test_a_secret_of_digits_is_masked_wherever_it_is_written_whole() -> None:
    secrets = secrets_of({"phone": "+6281234567890"}, anonymous=False)
    assert conceal("WA 081234567890 ya", secrets) == "WA [disamarkan] ya"
    assert conceal("nomor 0812 3456 7890", secrets) == before.conceal(
        "nomor 0812 3456 7890", secrets
    )

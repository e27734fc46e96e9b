"""What an agency may see of a case: never the reporter's contacts; no name when anonim."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from services.routing.disposition import (
    CONCEALED,
    DispositionFacts,
    agency_view,
    conceal,
    secrets_of,
)
from shared.lifecycle import Severity

pytestmark = pytest.mark.unit

AT = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
IDENTITY = {
    "name": "Siti Aminah",
    "phone": "+6281277889900",
    "email": "siti.aminah@example.id",
    "handle": "tg:5501234",
}


def case(**fields: Any) -> dict[str, Any]:
    return {
        "_id": "7KQM-X3RT-9DHV",
        "kind": "pengaduan",
        "title": "Jalan berlubang",
        "description": "Jalan berlubang di depan pasar. Hubungi saya di 0812-7788-9900 "
        "atau siti.aminah@example.id. Salam, Siti Aminah.",
        "category": "jalan",
        "location": {
            "address": "Jl. Kolonel Atmo, Palembang",
            "region_code": "16.71",
            "home_address_of_reporter": "Jl. Rahasia 1",  # a channel's unknown field
        },
        "attachments": [{"url": "https://x.example/a.jpg", "uploader_phone": "0812"}],
        "anonymous": False,
        "confidential": False,
        "submitted_at": AT,
        "additions": [{"at": AT, "text": "Sudah ada korban, kata Siti Aminah (tg:5501234)."}],
    } | fields


def view(the_case: dict[str, Any]) -> str:
    facts = DispositionFacts(
        message_id="disposition:7KQM-X3RT-9DHV:1",
        agency="pupr-palembang",
        hop=1,
        severity=Severity.SEDANG,
        dispatched_at=AT,
        follow_up_deadline=AT,
        resolution_deadline=AT,
        headline="Catatan admin",
        tz="Asia/Jakarta",
    )
    disposition = agency_view(the_case, facts, identity=IDENTITY)
    return disposition.model_dump_json()


def test_an_anonymous_case_shows_no_identity_anywhere() -> None:
    raw = view(case(anonymous=True))
    for secret in [
        "Siti",
        "Aminah",
        "7788",
        "9900",
        "siti.aminah",
        "5501234",
        "Rahasia",
        "uploader",
    ]:
        assert secret not in raw, secret
    assert '"anonymous":true' in raw
    assert "reporter_name" not in raw or '"reporter_name":null' in raw
    assert CONCEALED in raw


def test_a_named_case_shows_the_name_but_never_the_contacts() -> None:
    raw = view(case())
    assert '"reporter_name":"Siti Aminah"' in raw
    for secret in ["7788", "9900", "siti.aminah@", "5501234", "Rahasia", "uploader_phone"]:
        assert secret not in raw, secret


def test_the_note_carries_the_headline_and_every_addition() -> None:
    raw = view(case(anonymous=True))
    assert "Catatan admin" in raw
    assert "Informasi tambahan dari pelapor (27-11-2026 09:00): Sudah ada korban" in raw


def test_names_are_masked_as_whole_words_only() -> None:
    secrets = secrets_of({"name": "Ani"}, anonymous=True)
    assert conceal("Ani melapor soal pertanian", secrets) == f"{CONCEALED} melapor soal pertanian"


def test_phone_numbers_are_masked_in_every_usual_spelling() -> None:
    secrets = secrets_of({"phone": "+6281277889900"}, anonymous=False)
    text = "telp 081277889900 / 6281277889900 / +6281277889900 / 0812 7788 9900"
    masked = conceal(text, secrets)
    assert "7788" not in masked and "9900" not in masked


# --- issue 10: masking fails closed ------------------------------------------------------


def test_full_width_and_zero_width_names_are_masked() -> None:
    disguised = "Ｓｉｔｉ Ａｍｉｎａｈ melapor; juga Si\u200bti A\u00adminah dan Siti\u200bAminah"
    raw = view(case(anonymous=True, description=disguised, additions=[]))
    for secret in ("Siti", "Aminah", "Ｓｉｔｉ", "Ａｍｉｎａｈ", "Si\u200bti", "SitiAminah"):
        assert secret not in raw, secret
    assert raw.count(CONCEALED) >= 3


def test_full_width_contacts_are_masked_for_a_named_case_too() -> None:
    description = "Hubungi ０８１２７７８８９９００ atau ｓｉｔｉ.ａｍｉｎａｈ@example.id"
    raw = view(case(description=description, additions=[]))
    assert "7788" not in raw and "siti.aminah" not in raw


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.example/u/siti_aminah/foto.jpg",
        "https://cdn.example/u/Siti%20Aminah.jpg",
        "https://cdn.example/u/?tel=081277889900",
        "https://cdn.example/u/siti.aminah%40example.id/a.png",
        "https://cdn.example/u/5501234.jpg",
        "https://cdn.example/u/%EF%BC%B3iti.jpg",  # full-width S, percent-encoded
    ],
)
def test_identities_inside_attachment_urls_are_masked(url: str) -> None:
    raw = json.loads(view(case(anonymous=True, attachments=[{"url": url}])))
    masked = raw["attachments"][0]["url"]
    for secret in ("siti", "aminah", "7788", "5501234", "%ef%bc%b3"):
        assert secret not in masked.lower(), secret
    assert masked.startswith("https://cdn.example/u/")  # still a URL the agency can follow


def test_an_innocent_attachment_url_is_left_exactly_as_sent() -> None:
    url = "https://cdn.example/u/foto%201.jpg?size=large"
    assert url in view(case(anonymous=True, attachments=[{"url": url}]))

"""The portal's pure parts: reply codes, the form, Open311 shapes, category spellings."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from services.portal import georeport, replycode, submission
from services.portal.registry_view import CategoryLabels, category_key, category_variants

pytestmark = pytest.mark.unit


def test_a_reply_code_is_long_readable_and_checked_however_it_is_typed() -> None:
    code = replycode.new_reply_code()
    assert len(code) == 19 and code.count("-") == 3
    assert not set(code.replace("-", "")) & set("01IO")
    stored = replycode.code_hash(code)
    assert replycode.matches(code.lower().replace("-", " "), stored)
    assert not replycode.matches(replycode.new_reply_code(), stored)
    # The handle that proves a reply is not the stored hash, and not the code.
    handle = replycode.reporter_handle(code)
    assert code not in handle and stored.removeprefix("kode-") not in handle
    assert handle == replycode.reporter_handle(code.lower())


def test_the_form_names_each_wrong_field_in_bahasa_indonesia() -> None:
    form, problems = submission.parse_form(
        {"external_id": "nope", "title": "ab", "description": "pendek", "phone": "12", "lat": "x"}
    )
    assert form is None
    assert set(problems) == {"external_id", "title", "description", "phone", "lat"}
    assert problems["phone"].startswith("Nomor telepon tidak valid")


def test_an_anonymous_report_carries_no_name_and_the_handle() -> None:
    form, problems = submission.parse_form(
        {
            "external_id": submission.new_external_id(),
            "title": "Jalan rusak parah",
            "description": "Jalan di depan sekolah rusak parah sejak dua bulan lalu.",
            "name": "Ani",
            "phone": "0812 3456 7890",
            "anonymous": "1",
            "region_code": "16.71",
        }
    )
    assert form is not None, problems
    body = submission.report_submitted(form, "kode-abc", [])
    assert body["anonymous"] is True and body["confidential"] is False
    assert body["reporter"] == {"phone": "+6281234567890", "handle": "kode-abc"}
    assert body["location"] == {"region_code": "16.71"}


@pytest.mark.parametrize(
    ("kind", "head", "ok"),
    [
        ("image/png", b"\x89PNG\r\n\x1a\nrest", True),
        ("image/png", b"GIF89a", False),
        ("image/jpeg", b"\xff\xd8\xff\xe0", True),
        ("application/pdf", b"%PDF-1.7", True),
        ("image/webp", b"RIFF\x00\x00\x00\x00WEBPVP8", True),
        ("image/svg+xml", b"<svg", False),
    ],
)
def test_an_attachment_must_be_what_it_says(kind: str, head: bytes, ok: bool) -> None:
    assert submission.sniff_matches(kind, head) is ok


def test_fixmystreets_description_gives_the_title_first() -> None:
    assert georeport.title_and_description("Lampu mati\r\n\r\nSudah seminggu.") == (
        "Lampu mati",
        "Sudah seminggu.",
    )
    assert georeport.title_and_description("Satu baris saja") == (None, "Satu baris saja")


def test_points_are_coarsened_and_never_missing() -> None:
    case = {"location": {"lat": -2.9761234, "lon": 104.7754321}}
    assert georeport.coarse_point(case, (0, 0)) == (-2.976, 104.775)
    assert georeport.coarse_point(case | {"anonymous": True}, (0, 0)) == (-2.98, 104.78)
    assert georeport.coarse_point({"location": {"region_code": "16.71"}}, (0, 0)) == (
        -2.9761,
        104.7754,
    )
    assert georeport.coarse_point({}, (1.0, 2.0)) == (1.0, 2.0)


def test_a_request_leaves_out_empty_fields_and_identity() -> None:
    moment = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    case = {
        "_id": "7KQM-X3RT-9DHV",
        "status": "received",
        "title": "Jalan rusak",
        "description": "Berlubang",
        "received_at": moment,
        "reporter": {"sealed": b"..."},
        "timeline": [],
    }
    request = georeport.request_of(case, {}, (0.0, 0.0), "http://x")
    assert None not in request.values()
    assert "reporter" not in request and "agency_responsible" not in request
    assert request["updated_datetime"] == "2026-12-07T02:00:00+00:00"
    xml = georeport.to_xml("service_requests", "request", [request])
    root = ET.fromstring(xml)
    # JSON keeps the CRLF; an XML parser normalises line ends to LF, as the spec says.
    assert request["description"] == "Jalan rusak\r\n\r\nBerlubang"
    assert root.findtext("request/description") == "Jalan rusak\n\nBerlubang"


def test_category_spellings_are_one_category() -> None:
    assert category_key("air_bersih") == category_key("Air Bersih") == "air bersih"
    assert set(category_variants(["air bersih"])) >= {"air bersih", "air_bersih"}
    labels = CategoryLabels({"air bersih": "Air bersih"})
    assert labels.get("air_bersih") == "Air bersih"
    assert labels.get("jalan", "jalan") == "jalan"

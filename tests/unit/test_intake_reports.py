"""Reading raw reports: clear refusals by field, normalised text and contacts."""

import json
from typing import Any

import pytest

from services.intake.reports import Reason, ReportRefused, parse_report, unknown_fields

pytestmark = pytest.mark.unit

LIMIT = 256 * 1024


def raw(**fields: Any) -> bytes:
    body = {"channel": "sms", "external_id": "sms-1", "description": "Lampu jalan mati."}
    return json.dumps(body | fields).encode()


def refused(data: bytes, key: str = "channel.sms") -> ReportRefused:
    with pytest.raises(ReportRefused) as caught:
        parse_report(data, key, LIMIT)
    return caught.value


def test_indonesian_phone_numbers_become_e164() -> None:
    for typed in ["0812-7788-9900", "+62 812 7788 9900", "62812778899 00", "(0812) 77889900"]:
        report = parse_report(raw(reporter={"phone": typed}), "channel.sms", LIMIT)
        assert report.reporter is not None
        assert report.reporter.phone == "+6281277889900", typed


def test_text_is_cleaned_but_kept() -> None:
    report = parse_report(
        raw(title="  Lampu   mati ", description="Baris 1\r\n\r\n\r\n\r\nBaris\t\t2\x00  "),
        "channel.sms",
        LIMIT,
    )
    assert report.title == "Lampu mati"
    assert report.description == "Baris 1\n\nBaris 2"


def test_defaults_follow_the_contract() -> None:
    report = parse_report(raw(), "channel.sms", LIMIT)
    assert report.kind == "pengaduan"
    assert report.anonymous is False and report.confidential is False
    assert report.attachments == []


def test_unknown_fields_are_kept_and_named() -> None:
    report = parse_report(
        raw(nik_hint="x", reporter={"handle": "u1", "device": "android"}), "channel.sms", LIMIT
    )
    assert unknown_fields(report) == ["nik_hint", "reporter.device"]


@pytest.mark.parametrize(
    ("data", "reason", "field"),
    [
        (b"\xff\xfe", Reason.BAD_JSON, "(message)"),
        (raw(description=42), Reason.INVALID_FIELDS, "description"),
        (raw(kind="keluhan"), Reason.INVALID_FIELDS, "kind"),
        (raw(anonymous="ya kali"), Reason.INVALID_FIELDS, "anonymous"),
        (raw(location={"lat": 120}), Reason.INVALID_FIELDS, "location.lat"),
        (
            raw(attachments=[{"url": "file:///etc/passwd"}]),
            Reason.INVALID_FIELDS,
            "attachments.0.url",
        ),
        (raw(reporter={"email": "not-an-address"}), Reason.INVALID_FIELDS, "reporter.email"),
        (raw(channel="SMS 1708"), Reason.INVALID_FIELDS, "channel"),
        (raw(submitted_at="2026-11-27T08:15:00"), Reason.INVALID_FIELDS, "submitted_at"),
    ],
)
def test_each_bad_field_is_named(data: bytes, reason: str, field: str) -> None:
    problem = refused(data)
    assert problem.reason == reason
    assert field in [p.field for p in problem.problems]


def test_the_channel_must_match_the_routing_key() -> None:
    problem = refused(raw(), "channel.whatsapp")
    assert problem.reason == Reason.CHANNEL_MISMATCH
    assert problem.external_id == "sms-1"

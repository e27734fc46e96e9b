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


# --- issue 10: keys are data, limits, conflicts -------------------------------------------

from datetime import UTC, datetime, timedelta  # noqa: E402

from services.intake.reports import (  # noqa: E402
    EXTRA_JSON,
    MAX_DEPTH,
    RateLimit,
    check_resend,
    content_digest,
    json_depth,
    kept_raw,
)


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"location": {"$ref": "complaints", "$id": "X"}}, "location.$ref"),
        ({"attachments": [{"url": "https://x.example/a.jpg", "a.b": 1}]}, "attachments.0.a.b"),
        ({"meta": {"ke\u0000y": 1}}, "meta.ke\\x00y"),
        ({"$where": "1"}, "$where"),
    ],
)
def test_keys_that_would_be_database_structure_are_refused_by_field(
    fields: dict[str, Any], where: str
) -> None:
    refusal = refused(raw(**fields))
    assert refusal.reason == Reason.UNSAFE_KEYS
    assert where in [p.field for p in refusal.problems]
    assert (refusal.channel, refusal.external_id) == ("sms", "sms-1")


def test_an_integer_mongodb_cannot_hold_is_refused() -> None:
    refusal = refused(raw(location={"address": "Jl. A", "floor": 2**63}))
    assert refusal.reason == Reason.UNSAFE_KEYS
    assert refusal.problems[0].field == "location.floor"


def test_unknown_location_and_attachment_fields_are_one_opaque_string() -> None:
    report = parse_report(
        raw(
            location={"address": "Jl. A", "rt": "03", "nested": {"x": [1, 2]}},
            attachments=[{"url": "https://x.example/a.jpg", "sha1": "ab"}],
        ),
        "channel.sms",
        LIMIT,
    )
    assert report.location is not None and report.attachments
    stored = report.location.model_dump(exclude_none=True)
    assert stored == {
        "address": "Jl. A",
        EXTRA_JSON: json.dumps({"nested": {"x": [1, 2]}, "rt": "03"}, sort_keys=True),
    }
    assert report.attachments[0].model_dump(exclude_none=True)[EXTRA_JSON] == '{"sha1": "ab"}'
    assert unknown_fields(report) == ["location.nested", "location.rt", "attachments.0.sha1"]


def test_deep_nesting_is_quarantined_not_crashed_on() -> None:
    deep = b'{"channel": "sms", "external_id": "d", "description": "x", "meta": '
    deep += b"[" * 5000 + b"]" * 5000 + b"}"
    refusal = refused(deep)
    assert refusal.reason == Reason.TOO_DEEP
    assert json_depth(b'{"a": "[[[[", "b": [[1]]}') == 3  # brackets in strings do not count
    assert refused(raw(meta=json.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH))).reason == (
        Reason.TOO_DEEP
    )


def test_the_depth_is_counted_only_when_the_brackets_could_nest_too_deep() -> None:
    # At most MAX_DEPTH opening brackets cannot nest deeper; past that, they are counted.
    just_deep_enough = raw(meta=json.loads("[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)))
    assert parse_report(just_deep_enough, "channel.sms", LIMIT).model_extra
    too_deep = refused(raw(meta=json.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH)))
    assert too_deep.problems[0].problem == f"nested {MAX_DEPTH + 1} deep; at most {MAX_DEPTH}"
    many_but_flat = raw(meta=[[1]] * 40, title="[[[[{{{{" * 10)
    assert parse_report(many_but_flat, "channel.sms", LIMIT).title == "[[[[{{{{" * 10


def test_validation_errors_never_repeat_the_input() -> None:
    secret = "Siti Aminah 081277889900"
    for fields in (
        {"kind": secret},
        {"submitted_at": secret},
        {"anonymous": secret},
        {"location": {"lat": secret}},
        {"attachments": [{"url": secret}]},
        {"reporter": {"name": 12, "phone": ["081277889900"]}},
    ):
        refusal = refused(raw(**fields))
        text = " ".join(f"{p.field} {p.problem}" for p in refusal.problems)
        assert "Siti" not in text and "7788" not in text, text
    bad_json = refused(b'{"description": "Siti Aminah 081277889900", oops}')
    assert "Siti" not in str(bad_json) and bad_json.reason == Reason.BAD_JSON


def test_the_same_external_id_with_other_content_is_a_conflict_not_a_resend() -> None:
    first = parse_report(raw(), "channel.sms", LIMIT)
    resent = parse_report(raw(submitted_at="2026-12-01T10:00:00+07:00"), "channel.sms", LIMIT)
    assert content_digest(first) == content_digest(resent)
    check_resend(content_digest(first), resent)  # a true resend passes
    check_resend(None, resent)  # a case stored before digests existed: as before
    other = parse_report(raw(description="Jalan rusak parah."), "channel.sms", LIMIT)
    with pytest.raises(ReportRefused) as caught:
        check_resend(content_digest(first), other)
    assert caught.value.reason == Reason.EXTERNAL_ID_CONFLICT
    assert caught.value.problems[0].field == "external_id"


def test_a_message_too_large_to_keep_is_kept_as_a_prefix_and_a_digest() -> None:
    assert kept_raw(b"small", 10) == (b"small", None)
    prefix, digest = kept_raw(b"x" * 10_000, 1024, prefix_bytes=100)
    assert prefix == b"x" * 100 and digest is not None and len(digest) == 64


def test_rate_limits_count_in_fixed_windows_and_park_what_is_over() -> None:
    limit = RateLimit("reporter", limit=2, window=timedelta(hours=1))
    at = datetime(2026, 12, 2, 10, 15, tzinfo=UTC)
    key, ends = limit.bucket("fingerprint-1", at)
    assert ends == datetime(2026, 12, 2, 11, 0, tzinfo=UTC)
    assert limit.bucket("fingerprint-1", at + timedelta(minutes=40))[0] == key
    assert limit.bucket("fingerprint-1", at + timedelta(minutes=50))[0] != key
    assert limit.bucket("fingerprint-2", at)[0] != key
    assert "fingerprint" not in key
    assert limit.admits(2) and not limit.admits(3)
    assert limit.refusal("sms", "sms-9").reason == Reason.RATE_LIMITED


def test_a_report_from_the_wrong_sender_is_quarantined_as_unauthorised() -> None:
    from services.intake.reports import unauthorised
    from shared.senders import SenderPolicy, may_submit

    verdict = may_submit(SenderPolicy(), "channel-wa", "sms")
    refusal = unauthorised("channel.sms", verdict.why)
    assert (refusal.reason, refusal.channel) == (Reason.UNAUTHORISED, "sms")
    assert refusal.problems[0].field == "(sender)"

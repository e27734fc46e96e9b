"""Verification's policy: suggestions, the verdict, and which admin commands are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.verification.checks import OpenCase, text_terms
from services.verification.policy import (
    AutoArchive,
    AutoVerify,
    HoldForReview,
    ReportFacts,
    Verdict,
    VerificationPolicy,
    assess,
    decide,
    refusal_of,
    suggest_category,
    suggest_severity,
)
from shared.contract import VerificationDecide
from shared.lifecycle import ArchiveReason, Kind, Severity
from tests.unit.test_verification_checks import (
    ABUSIVE,
    ANGRY_BUT_REAL,
    BANSOS_PKH,
    GOJEK,
    KTP_EL,
    PBG_LICENCE,
    POTHOLE,
    POTHOLE_AGAIN,
    ROAD_PALEMBANG,
    RSUD_QUEUE,
    SCHOOL_PUNGLI,
    SHOPEE,
    SPAM,
)

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
POLICY = VerificationPolicy()


def facts(
    text: str,
    kind: Kind = Kind.PENGADUAN,
    tid: str = "BBBB-BBBB-BBBB",
    minutes: int = 60,
    **fields: object,
) -> ReportFacts:
    return ReportFacts(
        tracking_id=tid,
        kind=kind,
        text=text,
        received_at=T0 + timedelta(minutes=minutes),
        terms=text_terms(text),
        **fields,  # type: ignore[arg-type]
    )


def verdict(
    report: ReportFacts, open_cases: list[OpenCase] | None = None, **policy: object
) -> Verdict:
    chosen = POLICY.model_copy(update=policy) if policy else POLICY
    return decide(report, assess(report, open_cases or [], chosen), chosen)


# --- suggestions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "category", "severity"),
    [
        (ROAD_PALEMBANG, "jalan", Severity.SEDANG),
        (RSUD_QUEUE, "kesehatan", Severity.SEDANG),
        (SCHOOL_PUNGLI, "pendidikan", Severity.BERAT),
        (KTP_EL, "kependudukan", Severity.SEDANG),
        (BANSOS_PKH, "bansos", Severity.SEDANG),
        (PBG_LICENCE, "perizinan", Severity.SEDANG),
        (
            "Balita di Desa Talang Jaya menderita gizi buruk tetapi posyandu tidak aktif.",
            "kesehatan",
            Severity.BERAT,
        ),
        (
            "Air PDAM di Kelurahan 8 Ilir mati total sudah tiga hari, warga membeli air galon.",
            "air_bersih",
            Severity.SEDANG,
        ),
    ],
)
def test_category_and_severity_are_suggested_from_the_words(
    text: str, category: str, severity: Severity
) -> None:
    assert suggest_category(text) == category
    assert suggest_severity(text, Kind.PENGADUAN) == severity


def test_suggestions_and_questions_are_light_unless_they_name_something_heavy() -> None:
    suggestion = "Saran agar Pemkot Palembang menambah taman kota di Kecamatan Sukarami."
    assert suggest_severity(suggestion, Kind.ASPIRASI) == Severity.RINGAN
    question = "Bagaimana cara mengurus akta kelahiran anak yang lahir di luar kota?"
    assert suggest_severity(question, Kind.PENGADUAN) == Severity.RINGAN
    assert suggest_severity("Saran: berantas pungli di Samsat Palembang.", Kind.ASPIRASI) == (
        Severity.BERAT
    )


def test_a_known_category_hint_is_kept_unless_the_text_clearly_says_otherwise() -> None:
    text = "Antrean di kantor Kecamatan Kemuning lama sekali, loket hanya satu yang buka."
    assert suggest_category(text) is None
    assert suggest_category(text, hint="Kependudukan") == "kependudukan"
    assert suggest_category(ROAD_PALEMBANG, hint="kesehatan") == "jalan"
    assert suggest_category(text, hint="something else") is None


# --- verdicts -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", [ROAD_PALEMBANG, RSUD_QUEUE, SCHOOL_PUNGLI, KTP_EL, BANSOS_PKH])
def test_a_clean_complaint_with_a_category_is_verified_automatically(text: str) -> None:
    result = verdict(facts(text))
    assert isinstance(result, AutoVerify)
    assert result.category == suggest_category(text)


@pytest.mark.parametrize(("text", "service"), [(SHOPEE, "Shopee"), (GOJEK, "Gojek")])
def test_a_private_company_complaint_is_archived_telling_the_reporter_why(
    text: str, service: str
) -> None:
    result = verdict(facts(text))
    assert isinstance(result, AutoArchive)
    assert result.reason == ArchiveReason.PRIVATE_SECTOR
    assert service in result.reporter_message
    assert "perusahaan swasta" in result.reporter_message


@pytest.mark.parametrize("text", [ABUSIVE, SPAM])
def test_abuse_and_spam_are_archived_as_abusive(text: str) -> None:
    result = verdict(facts(text))
    assert isinstance(result, AutoArchive)
    assert result.reason == ArchiveReason.ABUSIVE
    assert "santun" in result.reporter_message


def test_a_duplicate_is_archived_and_points_to_its_original() -> None:
    original = OpenCase("AAAA-AAAA-AAAA", T0, text_terms(POTHOLE))
    result = verdict(facts(POTHOLE_AGAIN), [original])
    assert isinstance(result, AutoArchive)
    assert result.reason == ArchiveReason.DUPLICATE
    assert result.duplicate_of == "AAAA-AAAA-AAAA"
    assert "AAAA-AAAA-AAAA" not in result.reporter_message  # another reporter's case


def test_an_angry_but_real_complaint_goes_to_an_admin_not_the_archive() -> None:
    result = verdict(facts(ANGRY_BUT_REAL))
    assert isinstance(result, HoldForReview)
    assert [f.code for f in result.findings] == ["offensive_language"]


@pytest.mark.parametrize(
    ("report", "code"),
    [
        (facts("jalan rusak tolong pak"), "too_short"),
        (
            facts("Pelayanan publik buruk sekali, tolong diperbaiki semua secepatnya."),
            "too_general",
        ),
        (
            facts("Antrean di kantor Kecamatan Kemuning lama sekali, loket cuma satu."),
            "no_category",
        ),
        (facts(ROAD_PALEMBANG, anonymous=True), "anonymous"),
        (facts(ROAD_PALEMBANG, confidential=True), "confidential"),
        (
            facts(
                "Bagaimana cara dan syarat mengurus akta kelahiran di Disdukcapil Palembang?",
                kind=Kind.PERMINTAAN_INFORMASI,
            ),
            "kind_needs_review",
        ),
        (
            facts("Sinyal Telkomsel di Desa Sungai Rambutan hilang seminggu, warga terputus."),
            "scope_unclear",
        ),
    ],
)
def test_what_the_checks_or_the_policy_cannot_settle_goes_to_an_admin(
    report: ReportFacts, code: str
) -> None:
    result = verdict(report)
    assert isinstance(result, HoldForReview)
    assert code in [f.code for f in result.findings]


def test_the_policy_switches_turn_automation_off() -> None:
    held = verdict(facts(ROAD_PALEMBANG), auto_verify=False)
    assert isinstance(held, HoldForReview)
    assert [f.code for f in held.findings] == ["auto_verify_off"]
    kept = verdict(facts(SHOPEE), auto_archive=False)
    assert isinstance(kept, HoldForReview)
    assert "private_sector" in [f.code for f in kept.findings]


def test_a_rahasia_report_is_held_and_says_why() -> None:
    # The same clean report is verified without the flag: only rahasia holds it.
    assert isinstance(verdict(facts(ROAD_PALEMBANG)), AutoVerify)
    held = verdict(facts(ROAD_PALEMBANG, confidential=True))
    assert isinstance(held, HoldForReview)
    [finding] = held.findings
    assert finding.code == "confidential"
    assert "rahasia" in finding.detail and "public" in finding.detail


def test_anonim_and_rahasia_are_never_auto_verified_whatever_the_policy() -> None:
    both = verdict(facts(ROAD_PALEMBANG, anonymous=True, confidential=True))
    assert isinstance(both, HoldForReview)
    assert [f.code for f in both.findings] == ["anonymous", "confidential"]


def test_the_old_switch_to_skip_anonim_review_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="review_anonymous can no longer be turned off"):
        VerificationPolicy(review_anonymous=False)  # type: ignore[call-arg]
    assert VerificationPolicy(review_anonymous=True) == VerificationPolicy()  # type: ignore[call-arg]


def test_the_policy_reads_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.verification.settings import VerificationSettings

    monkeypatch.setenv("LAPOR_VERIFICATION__AUTO_VERIFY", "false")
    monkeypatch.setenv("LAPOR_VERIFICATION__DUPLICATE_WINDOW_DAYS", "14")
    monkeypatch.setenv("LAPOR_VERIFICATION__PRIVATE_SECTOR_TERMS", '["koperasi maju jaya"]')
    policy = VerificationSettings().verification
    assert policy.auto_verify is False
    assert policy.duplicate_window_days == 14
    assert policy.private_sector_terms == ("koperasi maju jaya",)


def test_a_same_reporter_threshold_stricter_than_the_general_one_is_rejected() -> None:
    with pytest.raises(ValueError, match="same_reporter_similarity"):
        VerificationPolicy(duplicate_similarity=0.6, same_reporter_similarity=0.7)


# --- admin commands -----------------------------------------------------------------------


def command(**fields: object) -> VerificationDecide:
    base: dict[str, object] = {
        "message_id": "cmd-1",
        "tracking_id": "AAAA-AAAA-AAAA",
        "admin": "admin.sumsel",
    }
    return VerificationDecide.model_validate(base | fields)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"decision": "verify"}, "flags_not_confirmed"),
        ({"decision": "defer"}, "question_required"),
        ({"decision": "defer", "question": "   "}, "question_required"),
        ({"decision": "not_our_authority"}, "reason_required"),
        ({"decision": "archive"}, "archive_reason_required"),
    ],
)
def test_an_incomplete_decision_is_refused_with_its_reason(
    fields: dict[str, object], reason: str
) -> None:
    assert refusal_of(command(**fields)) == reason


@pytest.mark.parametrize(
    "fields",
    [
        {"decision": "verify", "flags_confirmed": True},
        {"decision": "defer", "question": "Mohon sebutkan nama jalan dan kelurahannya."},
        {
            "decision": "not_our_authority",
            "note": "kewenangan Balai Besar Pelaksanaan Jalan Nasional",
        },
        {"decision": "archive", "archive_reason": "too_general"},
    ],
)
def test_a_complete_decision_is_not_refused(fields: dict[str, object]) -> None:
    assert refusal_of(command(**fields)) is None

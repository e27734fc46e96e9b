"""What verification decides about a report, and why — pure, no IO.

The automatic checks (:mod:`services.verification.checks`) describe a report; this
module suggests its category and severity from keyword rules and decides, in this order:

1. **Archive automatically** (``auto_archive``, on by default) when a check is sure:

   - ``abusive`` or ``spam`` → reason ``abusive`` (the fixed list has no "spam"; the
     reporter is told the text holds improper words or is not a report);
   - ``duplicate`` of an open case received earlier → reason ``duplicate`` with
     ``duplicate_of``; the original case records the link, so nothing is lost;
   - ``private_sector`` → reason ``private_sector``; the reporter is told which service
     is private and (by intake's notice) where to complain instead.

   Abuse comes first (a duplicate that insults is archived for the insult), then
   duplicates (the original is already in someone's hands), then scope.

2. **Hold for an admin** (``complaint.needs_review``, due by ``deadlines.verification``)
   when any other finding stands (too short, too general, unclear scope, offensive
   language in a real complaint, suspected spam), or when the policy wants a person:

   - ``no_category``: no category rule matched and the reporter's hint is not a known
     category — someone must say which agency's business it is;
   - ``kind_needs_review``: the kind is not in ``auto_verify_kinds`` (by default an
     information request, *permintaan informasi*, goes to the admin, who knows which
     PPID — the information officer — must answer it);
   - ``anonymous``: an *anonim* report, always: the admin confirms the flag and that the
     report can be handled without asking the reporter;
   - ``confidential``: a *rahasia* report, always: LAPOR! practice is that the admin
     confirms the report is kept from the public before anyone handles it;
   - ``auto_verify_off``: ``auto_verify`` is off, every report is read by a person.

3. **Verify automatically** otherwise, with the suggested category and severity.

Severity: *berat* (heavy) when the text names corruption, extortion (*pungli*), violence,
a death or malnutrition (*gizi buruk*), whatever the kind; else *ringan* (light) for
suggestions (*aspirasi*), information requests and texts that read as one; else *sedang*.

A deferred case the reporter answers (``complaint.information_added``) goes back to the
admin (step ``resume``, a new ``complaint.needs_review``) with a fresh verification
deadline: the days the reporter took are not counted against the admin.

Admin decisions (``verification.decide``) are refused when incomplete: *verify* without
``flags_confirmed`` (the admin must confirm the *anonim* / *rahasia* flags), *defer*
without a ``question`` for the reporter, *not our authority* without a ``note`` saying
why (routing's admin reads it), *archive* without an ``archive_reason``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from services.verification.checks import (
    DEFAULT_AMBIGUOUS_SECTOR,
    DEFAULT_PRIVATE_GENERIC,
    DEFAULT_PRIVATE_SECTOR,
    DEFAULT_PUBLIC_SECTOR,
    Code,
    DuplicateMatch,
    DuplicateRules,
    OpenCase,
    Phrases,
    ReportText,
    ScopeRules,
    check_abuse,
    check_content,
    check_duplicate,
    check_scope,
    check_spam,
    check_specific,
    find_duplicate,
    mentions,
    private_services,
)
from shared.contract import CheckFinding, Decision, VerificationDecide
from shared.lifecycle import ArchiveReason, Kind, Severity


class PolicyCode:
    """Reasons to hold a report that are the policy's, not a check's."""

    NO_CATEGORY = "no_category"
    KIND_NEEDS_REVIEW = "kind_needs_review"
    ANONYMOUS = "anonymous"
    CONFIDENTIAL = "confidential"
    AUTO_VERIFY_OFF = "auto_verify_off"
    INFORMATION_ADDED = "information_added"


class VerificationPolicy(BaseModel):
    """The deployment's verification policy (``LAPOR_VERIFICATION__<FIELD>``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Verify reports whose checks are clean without an admin.
    auto_verify: bool = True
    #: Archive abusive, spam, duplicate and private-sector reports without an admin.
    auto_archive: bool = True
    #: The kinds that may be verified automatically.
    auto_verify_kinds: frozenset[Kind] = frozenset({Kind.PENGADUAN, Kind.ASPIRASI})
    #: Fewer meaningful words than this is ``too_short``.
    min_meaningful_words: PositiveInt = 6
    #: Open cases received this many days before a report are searched for its original.
    duplicate_window_days: PositiveInt = 30
    #: Jaccard similarity above which two reports are the same, whoever sent them.
    duplicate_similarity: float = Field(default=0.8, gt=0.0, le=1.0)
    #: Jaccard similarity enough when the same reporter sent both.
    same_reporter_similarity: float = Field(default=0.5, gt=0.0, le=1.0)
    #: At most this many open cases are compared with one report (most recent first).
    duplicate_candidates: PositiveInt = 500
    private_sector_terms: tuple[str, ...] = DEFAULT_PRIVATE_SECTOR
    private_generic_terms: tuple[str, ...] = DEFAULT_PRIVATE_GENERIC
    public_sector_terms: tuple[str, ...] = DEFAULT_PUBLIC_SECTOR
    ambiguous_sector_terms: tuple[str, ...] = DEFAULT_AMBIGUOUS_SECTOR

    @model_validator(mode="before")
    @classmethod
    def _flags_always_reviewed(cls, data: Any) -> Any:
        # The switch existed before issue 12; a deployment that still turns it off must hear
        # that it no longer can, rather than have the setting silently ignored.
        if isinstance(data, dict) and "review_anonymous" in data:
            if str(data["review_anonymous"]).strip().lower() not in ("true", "1", "yes", "on"):
                raise ValueError(
                    "review_anonymous can no longer be turned off: every anonim or rahasia "
                    "report waits for an admin's confirmation; remove the setting"
                )
            data = {k: v for k, v in data.items() if k != "review_anonymous"}
        return data

    @model_validator(mode="after")
    def _reporter_threshold_not_stricter(self) -> VerificationPolicy:
        if self.same_reporter_similarity > self.duplicate_similarity:
            raise ValueError("same_reporter_similarity must not exceed duplicate_similarity")
        return self

    def scope_rules(self) -> ScopeRules:
        """The scope check's word lists (compiled once per set of lists)."""
        return _scope_rules(
            self.private_sector_terms,
            self.private_generic_terms,
            self.public_sector_terms,
            self.ambiguous_sector_terms,
        )

    def duplicate_rules(self) -> DuplicateRules:
        """The duplicate check's thresholds."""
        return DuplicateRules(
            similarity=self.duplicate_similarity,
            same_reporter_similarity=self.same_reporter_similarity,
        )


@lru_cache(maxsize=16)
def _scope_rules(
    private: tuple[str, ...],
    private_generic: tuple[str, ...],
    public: tuple[str, ...],
    ambiguous: tuple[str, ...],
) -> ScopeRules:
    return ScopeRules(private, private_generic, public, ambiguous)


# --- category and severity ------------------------------------------------------------------

#: Category → the words that suggest it. The first rule wins a tie. Bare "jalan" / "Jl."
#: is not evidence (every address has it); road *damage* is.
CATEGORY_RULES: dict[str, tuple[str, ...]] = {
    "jalan": (
        "jalan rusak", "jalan berlubang", "berlubang", "lubang", "aspal", "tambal", "ditambal",
        "rusak parah", "trotoar",
        "jembatan", "jalan amblas", "jalan longsor", "pengaspalan", "jalan licin",
    ),
    "kesehatan": (
        "puskesmas", "pustu", "posyandu", "rsud", "rumah sakit", "dokter", "perawat", "bidan",
        "obat", "pasien", "bpjs kesehatan", "kis", "imunisasi", "gizi buruk", "stunting",
        "ambulans", "igd", "rawat inap", "rawat jalan", "poliklinik",
    ),
    "pendidikan": (
        "sekolah", "sdn", "smpn", "sman", "smkn", "madrasah", "guru", "murid", "siswa", "ppdb",
        "zonasi", "kip", "dana bos", "ijazah", "uang gedung", "seragam", "kepala sekolah",
        "beasiswa", "rapor",
    ),
    "kependudukan": (
        "ktp", "ktp-el", "e-ktp", "kartu keluarga", "akta kelahiran", "akta kematian",
        "disdukcapil", "dukcapil", "nik", "surat pindah", "pindah domisili", "kia", "blanko",
        "adminduk",
    ),
    "bansos": (
        "bansos", "bantuan sosial", "pkh", "program keluarga harapan", "bpnt", "blt",
        "bantuan langsung tunai", "dtks", "kpm", "kartu sembako", "penerima bantuan", "sembako",
        "dinas sosial", "dinsos",
    ),
    "perizinan": (
        "izin", "perizinan", "imb", "pbg", "persetujuan bangunan gedung", "slf", "siup", "nib",
        "oss", "dpmptsp", "ptsp", "izin usaha", "simbg",
    ),
    "air_bersih": (
        "pdam", "perumda air minum", "tirta musi", "air bersih", "air mati", "air keruh",
        "air tidak mengalir", "pipa bocor", "pipa pdam", "meteran air",
    ),
    "listrik": (
        "pln", "listrik", "pemadaman", "mati lampu", "token listrik", "tiang listrik",
        "kabel listrik", "lampu jalan", "pju", "penerangan jalan", "gardu",
    ),
    "lingkungan": (
        "sampah", "tps", "banjir", "drainase", "selokan", "got", "limbah", "pencemaran",
        "asap", "polusi", "karhutla", "kebakaran hutan", "pohon tumbang", "bau busuk",
        "ruang terbuka hijau", "rth", "taman kota",
    ),
    "transportasi": (
        "angkot", "angkutan umum", "bus", "transmusi", "lrt", "terminal", "halte", "dishub",
        "parkir liar", "juru parkir", "lampu lalu lintas", "traffic light", "kemacetan",
        "macet", "uji kir", "ojek pangkalan",
    ),
    "ketertiban": (
        "pedagang kaki lima", "pkl", "satpol pp", "badan jalan", "bangunan liar", "premanisme",
        "pungutan parkir", "lalu lintas",
    ),
    "pertanian": (
        "petani", "pupuk", "irigasi", "sawah", "ternak", "peternakan", "anjing liar",
        "hewan liar", "rabies", "dinas pertanian", "penyuluh pertanian",
    ),
    "pertanahan": (
        "sertifikat tanah", "sertipikat", "bpn", "pertanahan", "sengketa tanah", "ptsl",
    ),
}  # fmt: skip

#: Heavy cases: corruption, extortion, violence, loss of life, malnutrition.
SEVERE_WORDS = (
    "korupsi", "pungli", "pungutan liar", "suap", "sogok", "gratifikasi", "pemerasan",
    "kekerasan", "penganiayaan", "pelecehan", "dianiaya", "dipukul", "meninggal",
    "meninggal dunia", "tewas", "korban jiwa", "gizi buruk", "busung lapar",
)  # fmt: skip

#: Light cases: suggestions and questions.
LIGHT_WORDS = (
    "saran", "usul", "usulan", "masukan", "aspirasi", "mohon informasi", "minta informasi",
    "informasi mengenai", "bagaimana cara", "bagaimana prosedur", "bertanya", "menanyakan",
    "ingin tahu",
)  # fmt: skip

_SLUG = re.compile(r"[^a-z0-9]+")
#: The word lists above, compiled once (they are constants of this module).
_CATEGORY_PHRASES = {name: Phrases(words) for name, words in CATEGORY_RULES.items()}
_SEVERE = Phrases(SEVERE_WORDS)
_LIGHT = Phrases(LIGHT_WORDS)


def category_slug(text: str) -> str:
    """A category name in stored form: ``"Air Bersih"`` → ``air_bersih``."""
    return _SLUG.sub("_", text.strip().lower()).strip("_")


def suggest_category(text: str | ReportText, hint: str | None = None) -> str | None:
    """The category the text's words point to; the reporter's hint when it is a known one."""
    reading = ReportText.of(text)
    scores = {name: len(mentions(reading, words)) for name, words in _CATEGORY_PHRASES.items()}
    best = max(scores, key=lambda name: scores[name])
    known_hint = category_slug(hint) if hint else None
    # The reporter chose it (a form's list): kept unless the text clearly says otherwise.
    if known_hint in CATEGORY_RULES and (scores[known_hint] > 0 or scores[best] < 2):
        return known_hint
    return best if scores[best] > 0 else None


def suggest_severity(text: str | ReportText, kind: Kind) -> Severity:
    """*berat* for heavy matters, *ringan* for suggestions and questions, else *sedang*."""
    reading = ReportText.of(text)
    if mentions(reading, _SEVERE):
        return Severity.BERAT
    if kind in (Kind.ASPIRASI, Kind.PERMINTAAN_INFORMASI) or mentions(reading, _LIGHT):
        return Severity.RINGAN
    return Severity.SEDANG


# --- assessing a report ------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportFacts:
    """What verification knows about a received report (no identity: fingerprints only)."""

    tracking_id: str
    kind: Kind
    text: str
    received_at: datetime
    anonymous: bool = False
    confidential: bool = False  # rahasia
    has_location: bool = False
    category_hint: str | None = None
    terms: frozenset[str] = frozenset()
    fingerprints: frozenset[str] = frozenset()
    #: ``text`` as read for the checks, when already read (its terms, for one); else
    #: :func:`assess` reads it.
    reading: ReportText | None = field(default=None, repr=False, compare=False)

    def read(self) -> ReportText:
        """The text as every check reads it (read once)."""
        reading = self.reading
        if reading is None or reading.text != self.text:
            reading = ReportText(self.text)
            object.__setattr__(self, "reading", reading)  # a cache: not compared, not shown
        return reading

    def as_open_case(self) -> OpenCase:
        """This report as the duplicate check compares it."""
        return OpenCase(self.tracking_id, self.received_at, self.terms, self.fingerprints)


@dataclass(frozen=True)
class Assessment:
    """Every check's finding, the duplicate match, and the suggestions."""

    findings: tuple[CheckFinding, ...]
    duplicate: DuplicateMatch | None
    private_services: tuple[str, ...]
    category: str | None
    severity: Severity

    def codes(self) -> set[str]:
        """The findings' reason codes."""
        return {f.code for f in self.findings}


def assess(
    report: ReportFacts, open_cases: list[OpenCase], policy: VerificationPolicy
) -> Assessment:
    """Run every automatic check on ``report`` against the ``open_cases`` it may repeat."""
    text = report.read()  # every check reads the same normalised text and tokens
    duplicate = find_duplicate(report.as_open_case(), open_cases, policy.duplicate_rules())
    scope_rules = policy.scope_rules()
    scope = check_scope(text, scope_rules)
    findings = [
        check_content(text, policy.min_meaningful_words),
        check_specific(text, report.kind, report.has_location),
        scope,
        check_abuse(text, policy.min_meaningful_words),
        check_spam(text),
        check_duplicate(duplicate),
    ]
    private = (
        private_services(text, scope_rules)
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


# --- the verdict ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AutoVerify:
    """Accept the report as it is."""

    category: str
    severity: Severity


@dataclass(frozen=True)
class AutoArchive:
    """Archive the report, telling the reporter why."""

    reason: ArchiveReason
    reporter_message: str
    finding: CheckFinding
    duplicate_of: str | None = None


@dataclass(frozen=True)
class HoldForReview:
    """An admin decides; these are the reasons, checks' and policy's."""

    findings: tuple[CheckFinding, ...] = field(default_factory=tuple)


Verdict = AutoVerify | AutoArchive | HoldForReview

#: What the reporter is told when the system archives a report (intake's notice adds the
#: reason's own sentence). A duplicate's original is never named: it is someone else's.
MESSAGE_ABUSIVE = (
    "Silakan kirim kembali laporan Anda dengan bahasa yang santun dan uraian masalah yang "
    "jelas: apa yang terjadi, di mana, dan kapan."
)
MESSAGE_DUPLICATE = (
    "Laporan yang sama sudah kami terima sebelumnya dan sedang ditangani; laporan Anda "
    "kami catat bersama laporan tersebut."
)


def message_private_sector(services: tuple[str, ...]) -> str:
    """Why a private-sector report is not handled, naming the service(s)."""
    named = ", ".join(services) if services else "yang Anda laporkan"
    return (
        f"Layanan {named} diselenggarakan oleh perusahaan swasta, bukan oleh instansi pemerintah."
    )


def _finding(assessment: Assessment, *codes: str) -> CheckFinding | None:
    return next((f for f in assessment.findings if f.code in codes), None)


def decide(report: ReportFacts, assessment: Assessment, policy: VerificationPolicy) -> Verdict:
    """Archive, hold or verify ``report``, by the rules in this module's docstring."""
    if policy.auto_archive:
        if abuse := _finding(assessment, Code.ABUSIVE, Code.SPAM):
            return AutoArchive(ArchiveReason.ABUSIVE, MESSAGE_ABUSIVE, abuse)
        if assessment.duplicate and (dup := _finding(assessment, Code.DUPLICATE)):
            return AutoArchive(
                ArchiveReason.DUPLICATE,
                MESSAGE_DUPLICATE,
                dup,
                duplicate_of=assessment.duplicate.tracking_id,
            )
        if private := _finding(assessment, Code.PRIVATE_SECTOR):
            return AutoArchive(
                ArchiveReason.PRIVATE_SECTOR,
                message_private_sector(assessment.private_services),
                private,
            )
    reasons = list(assessment.findings)
    if assessment.category is None:
        reasons.append(CheckFinding(code=PolicyCode.NO_CATEGORY, detail="no category rule matched"))
    if report.kind not in policy.auto_verify_kinds:
        reasons.append(
            CheckFinding(
                code=PolicyCode.KIND_NEEDS_REVIEW, detail=f"{report.kind} is verified by an admin"
            )
        )
    # Never automatic, whatever the policy: the admin confirms either flag (issue 12).
    if report.anonymous:
        reasons.append(
            CheckFinding(
                code=PolicyCode.ANONYMOUS,
                detail="anonim: an admin confirms the reporter's identity stays hidden",
            )
        )
    if report.confidential:
        reasons.append(
            CheckFinding(
                code=PolicyCode.CONFIDENTIAL,
                detail="rahasia: an admin confirms the report stays hidden from the public",
            )
        )
    if not policy.auto_verify:
        reasons.append(
            CheckFinding(code=PolicyCode.AUTO_VERIFY_OFF, detail="every report is read by an admin")
        )
    if reasons or assessment.category is None:
        return HoldForReview(tuple(reasons))
    return AutoVerify(assessment.category, assessment.severity)


# --- admin decisions ----------------------------------------------------------------------------

#: The lifecycle step of each admin decision.
STEP_OF_DECISION: dict[Decision, str] = {
    Decision.VERIFY: "verify",
    Decision.DEFER: "defer",
    Decision.NOT_OUR_AUTHORITY: "refer",
    Decision.ARCHIVE: "archive",
}


def refusal_of(command: VerificationDecide) -> str | None:
    """Why a decision cannot be applied whatever the case's state, or None if it can."""
    match command.decision:
        case Decision.VERIFY if not command.flags_confirmed:
            return "flags_not_confirmed"
        case Decision.DEFER if not (command.question or "").strip():
            return "question_required"
        case Decision.NOT_OUR_AUTHORITY if not (command.note or "").strip():
            return "reason_required"
        case Decision.ARCHIVE if command.archive_reason is None:
            return "archive_reason_required"
    return None

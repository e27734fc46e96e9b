"""What the public and the reporter may see of a case: plain words, never identity.

Pure functions over the ``complaints`` document (written by the services; the portal only
reads it). Nothing here ever touches ``reporter``, ``raw_sealed``, checks, fingerprints or
internal notes: a view is built from an explicit list of public fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.portal.regions import region_name
from shared.calendar import WorkingCalendar
from shared.lifecycle import TERMINAL, Kind, Status

Document = dict[str, Any]

#: Each status in plain words for a citizen, and what happens next.
STATUS_WORDS: dict[str, tuple[str, str]] = {
    Status.RECEIVED: ("Diterima", "Laporan Anda sudah kami terima dan sedang diperiksa."),
    Status.NEEDS_REVIEW: (
        "Sedang diverifikasi",
        "Admin LAPOR sedang memeriksa laporan Anda (paling lama 3 hari kerja).",
    ),
    Status.DEFERRED: (
        "Perlu informasi tambahan",
        "Admin meminta informasi tambahan dari Anda. Tambahkan dengan kode balasan Anda.",
    ),
    Status.VERIFIED: (
        "Terverifikasi",
        "Laporan sudah diverifikasi dan akan diteruskan ke instansi.",
    ),
    Status.AWAITING_ROUTING: (
        "Menunggu penerusan",
        "Admin sedang menentukan instansi yang berwenang menangani laporan ini.",
    ),
    Status.DISPATCHED: (
        "Diteruskan ke instansi",
        "Laporan sudah diteruskan ke instansi yang berwenang dan menunggu tindak lanjut.",
    ),
    Status.IN_PROGRESS: ("Sedang ditindaklanjuti", "Instansi sedang menindaklanjuti laporan ini."),
    Status.RESOLVED: (
        "Selesai ditanggapi",
        "Instansi sudah memberi jawaban akhir. Anda dapat menilai, menerima, atau membuka "
        "kembali laporan ini.",
    ),
    Status.CLOSED: ("Ditutup", "Laporan ini sudah selesai."),
    Status.ARCHIVED: ("Diarsipkan", "Laporan ini tidak ditindaklanjuti lebih lanjut."),
}

KIND_WORDS = {
    Kind.PENGADUAN: "Pengaduan",
    Kind.ASPIRASI: "Aspirasi",
    Kind.PERMINTAAN_INFORMASI: "Permintaan informasi",
}

#: Timeline steps the public sees, in plain words. Steps not listed stay internal.
STEP_WORDS = {
    "receive": "Laporan diterima",
    "auto_verify": "Laporan terverifikasi",
    "verify": "Laporan terverifikasi",
    "hold_for_review": "Diperiksa admin",
    "defer": "Admin meminta informasi tambahan",
    "resume": "Pelapor menambahkan informasi",
    "add_information": "Pelapor menambahkan informasi",
    "refer": "Menunggu penerusan ke instansi berwenang",
    "route_manually": "Menunggu penerusan ke instansi berwenang",
    "dispatch": "Diteruskan ke instansi",
    "dispose": "Diteruskan ke instansi",
    "forward": "Diteruskan ke instansi lain",
    "return_to_admin": "Dikembalikan ke admin untuk diteruskan",
    "acknowledge": "Instansi menerima laporan",
    "follow_up": "Instansi memberi tindak lanjut",
    "resolve": "Instansi memberi jawaban akhir",
    "rate": "Pelapor memberi penilaian",
    "accept": "Pelapor menerima jawaban",
    "reopen": "Pelapor membuka kembali laporan",
    "auto_close": "Ditutup otomatis (tidak ada tanggapan pelapor)",
    "archive": "Diarsipkan",
    "auto_archive": "Diarsipkan",
    "reminder": None,
    "escalate": "Keterlambatan dilaporkan ke atasan instansi",
}
#: Steps whose note is the agency's answer to the reporter: public.
ANSWER_STEPS = frozenset({"acknowledge", "follow_up", "resolve"})

ARCHIVE_WORDS = {
    "wrong_format": "format laporan tidak sesuai",
    "too_general": "laporan terlalu umum",
    "not_government_performance": "bukan tentang kinerja pemerintah",
    "private_sector": "di luar kewenangan (layanan swasta)",
    "duplicate": "sama dengan laporan lain",
    "abusive": "mengandung kata-kata kasar",
}

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")
_ZONE_NAMES = {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}


def local_time(moment: datetime | None, tz: str) -> str | None:
    """``7 Des 2026 09.00 WIB``: a moment as a citizen reads it."""
    if moment is None:
        return None
    local = moment.astimezone(ZoneInfo(tz))
    zone = _ZONE_NAMES.get(tz, tz)
    return f"{local.day} {_MONTHS[local.month - 1]} {local.year} {local:%H.%M} {zone}"


def local_date(moment: datetime | None, tz: str) -> str | None:
    """``7 Des 2026``."""
    if moment is None:
        return None
    local = moment.astimezone(ZoneInfo(tz))
    return f"{local.day} {_MONTHS[local.month - 1]} {local.year}"


def is_public(case: Document) -> bool:
    """Whether a case may appear in public lists: not *rahasia*, not archived."""
    return not case.get("confidential") and case.get("status") != Status.ARCHIVED


@dataclass
class TimelineItem:
    """One public step of a case."""

    at: str
    what: str
    agency: str | None = None
    answer: str | None = None


@dataclass
class Deadline:
    """A running deadline in working days."""

    what: str
    at: str
    working_days_left: int | None


@dataclass
class CaseView:
    """A case as the tracking page and the public list show it."""

    tracking_id: str
    status: str
    status_word: str
    status_explanation: str
    kind: str
    submitted: str
    updated: str | None
    category: str | None
    region: str | None
    agency: str | None
    anonymous: bool
    confidential: bool
    open: bool
    content_shown: bool
    title: str | None = None
    description: str | None = None
    address: str | None = None
    archive_reason: str | None = None
    final_answer: str | None = None
    rating: int | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[TimelineItem] = field(default_factory=list)
    deadlines: list[Deadline] = field(default_factory=list)


def latest_answer(case: Document) -> str | None:
    """The latest agency answer on a case (Open311 ``status_notes``)."""
    for entry in reversed(case.get("timeline") or []):
        if entry.get("step") in ANSWER_STEPS and entry.get("note"):
            return str(entry["note"])
    return None


def running_deadline(case: Document) -> tuple[str, datetime] | None:
    """The deadline that runs now: verification, follow-up or resolution."""
    deadlines = case.get("deadlines") or {}
    status = case.get("status")
    if status in TERMINAL or status == Status.RESOLVED:
        return None
    if status in (Status.DISPATCHED,) and deadlines.get("follow_up"):
        return "Tindak lanjut pertama instansi", deadlines["follow_up"]
    if status in (Status.DISPATCHED, Status.IN_PROGRESS) and deadlines.get("resolution"):
        return "Penyelesaian oleh instansi", deadlines["resolution"]
    if status in (Status.RECEIVED, Status.NEEDS_REVIEW) and deadlines.get("verification"):
        return "Verifikasi oleh admin", deadlines["verification"]
    return None


@dataclass(frozen=True)
class ViewContext:
    """What every case view of one page is read against: zone, calendar, now, labels."""

    tz: str
    calendar: WorkingCalendar
    now: datetime
    category_labels: Mapping[str, str]


def case_view(case: Document, *, content_shown: bool, context: ViewContext) -> CaseView:
    """The public view of ``case``; its text only when ``content_shown``."""
    tz = context.tz
    status = str(case.get("status") or Status.RECEIVED)
    word, explanation = STATUS_WORDS.get(status, (status, ""))
    category = case.get("category") or case.get("category_hint")
    location = case.get("location") or {}
    view = CaseView(
        tracking_id=str(case["_id"]),
        status=status,
        status_word=word,
        status_explanation=explanation,
        kind=KIND_WORDS.get(case.get("kind", Kind.PENGADUAN), str(case.get("kind"))),
        submitted=local_time(case.get("received_at"), tz) or "",
        updated=local_time(case.get("updated_at"), tz),
        category=context.category_labels.get(category, category) if category else None,
        region=region_name(location.get("region_code")),
        agency=case.get("agency_name") or None,
        anonymous=bool(case.get("anonymous")),
        confidential=bool(case.get("confidential")),
        open=status not in TERMINAL,
        content_shown=content_shown,
        rating=case.get("rating"),
    )
    if status == Status.ARCHIVED:
        view.archive_reason = ARCHIVE_WORDS.get(str(case.get("archive_reason")))
    if content_shown:
        view.title = case.get("title")
        view.description = case.get("description")
        view.address = location.get("address")
        view.final_answer = case.get("final_answer") or None
        view.attachments = list(case.get("attachments") or [])
    for entry in case.get("timeline") or []:
        step_name = str(entry.get("step"))
        what = STEP_WORDS.get(step_name)
        if not what:
            continue
        answer = entry.get("note") if step_name in ANSWER_STEPS and content_shown else None
        view.timeline.append(
            TimelineItem(
                at=local_time(entry.get("at"), tz) or "",
                what=what,
                agency=entry.get("agency_name") or None,
                answer=answer,
            )
        )
    running = running_deadline(case)
    if running is not None:
        what, deadline = running
        now = context.now
        left = context.calendar.working_days_between(now, deadline) if deadline > now else 0
        view.deadlines.append(Deadline(what, local_time(deadline, tz) or "", left))
    return view

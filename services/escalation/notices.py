"""What oversight offices and the case's timeline read about a step, in Bahasa Indonesia.

Pure, no IO. The words name the case, the agency and the deadline — never the reporter,
never the report's content (a *rahasia* report is hidden even from the public record).
"""

from __future__ import annotations

from shared.dates import tanggal
from shared.escalation_policy import DeadlineKind, Rung
from shared.lifecycle import EscalationTarget

DEADLINE_NAMES = {
    DeadlineKind.VERIFICATION: "verifikasi",
    DeadlineKind.FOLLOW_UP: "tindak lanjut",
    DeadlineKind.RESOLUTION: "penyelesaian",
    DeadlineKind.AUTO_CLOSE: "tanggapan pelapor",
    DeadlineKind.DEFERRAL: "kelengkapan informasi dari pelapor",
    DeadlineKind.ADMIN_DESK: "disposisi ulang",
}

TARGET_NAMES = {
    EscalationTarget.PENGHUBUNG: "penghubung",
    EscalationTarget.PIMPINAN: "pimpinan",
    EscalationTarget.INSPEKTORAT: "Inspektorat",
    EscalationTarget.OMBUDSMAN: "Ombudsman",
    EscalationTarget.PELAPOR: "pelapor",
}

#: On the central admin's own chain (``<target>.admin``) the first rungs are its own desk
#: and the head of that desk, not an agency's liaison and head.
ADMIN_TARGET_NAMES = TARGET_NAMES | {
    EscalationTarget.PENGHUBUNG: "meja admin LAPOR",
    EscalationTarget.PIMPINAN: "kepala meja admin LAPOR",
}


def _holder(agency: str | None) -> str:
    return f"instansi {agency}" if agency else "admin LAPOR"


def target_name(target: EscalationTarget, agency: str | None) -> str:
    """Who a step tells, as they are called: an agency's people or the admin desk's."""
    return (TARGET_NAMES if agency else ADMIN_TARGET_NAMES)[target]


def summary(tracking_id: str, rung: Rung, agency: str | None, tz: str) -> str:
    """The one-paragraph text of an escalation notice."""
    deadline = rung.deadline
    what = f"batas {DEADLINE_NAMES[deadline.kind]} laporan {tracking_id} oleh {_holder(agency)}"
    day = tanggal(deadline.at, deadline.tz or tz)
    if rung.is_reminder:
        return f"Pengingat: {what} jatuh pada {day}."
    return (
        f"Eskalasi tingkat {rung.level} kepada {target_name(rung.target, agency)}: {what} "
        f"({day}) telah terlewati."
    )


def reporter_reminder(tracking_id: str, rung: Rung, tz: str) -> str:
    """What the reporter of a deferred case is told half-way through their window."""
    day = tanggal(rung.deadline.at, rung.deadline.tz or tz)
    return (
        f"Pengingat: laporan {tracking_id} masih menunggu informasi tambahan dari Anda. "
        f"Balas pesan ini paling lambat {day}; tanpa balasan, laporan akan diarsipkan."
    )


def timeline_note(rung: Rung, tz: str) -> str:
    """The note of the case's timeline entry for a fired step."""
    deadline = rung.deadline
    day = tanggal(deadline.at, deadline.tz or tz)
    name = DEADLINE_NAMES[deadline.kind]
    if rung.is_reminder:
        return f"pengingat: batas {name} {day}"
    return f"eskalasi tingkat {rung.level} kepada {TARGET_NAMES[rung.target]}: batas {name} {day}"


AUTO_CLOSE_NOTE = "ditutup otomatis: tidak ada tanggapan pelapor setelah jawaban akhir"
DEFERRAL_EXPIRED_NOTE = (
    "diarsipkan otomatis: pelapor tidak melengkapi informasi dalam batas waktu (no_reply)"
)
#: What the reporter of an expired deferral is told (``reporter_message`` of the archive).
DEFERRAL_EXPIRED_MESSAGE = (
    "Batas waktu untuk melengkapi informasi telah lewat. Anda dapat mengirim laporan baru "
    "dengan informasi yang lengkap."
)


def acknowledgement_note(target: EscalationTarget, by: str) -> str:
    """The timeline's note when an oversight office takes note of an escalation."""
    return f"Pemberitahuan eskalasi untuk {TARGET_NAMES[target]} diterima oleh {by}."

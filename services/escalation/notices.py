"""What oversight offices and the case's timeline read about a step, in Bahasa Indonesia.

Pure, no IO. The words name the case, the agency and the deadline — never the reporter,
never the report's content (a *rahasia* report is hidden even from the public record).
"""

from __future__ import annotations

from services.escalation.policy import DeadlineKind, Rung
from shared.dates import tanggal
from shared.lifecycle import EscalationTarget

DEADLINE_NAMES = {
    DeadlineKind.VERIFICATION: "verifikasi",
    DeadlineKind.FOLLOW_UP: "tindak lanjut",
    DeadlineKind.RESOLUTION: "penyelesaian",
    DeadlineKind.AUTO_CLOSE: "tanggapan pelapor",
}

TARGET_NAMES = {
    EscalationTarget.PENGHUBUNG: "penghubung",
    EscalationTarget.PIMPINAN: "pimpinan",
    EscalationTarget.INSPEKTORAT: "Inspektorat",
    EscalationTarget.OMBUDSMAN: "Ombudsman",
}


def _holder(agency: str | None) -> str:
    return f"instansi {agency}" if agency else "admin LAPOR"


def summary(tracking_id: str, rung: Rung, agency: str | None, tz: str) -> str:
    """The one-paragraph text of an escalation notice."""
    deadline = rung.deadline
    what = f"batas {DEADLINE_NAMES[deadline.kind]} laporan {tracking_id} oleh {_holder(agency)}"
    day = tanggal(deadline.at, deadline.tz or tz)
    if rung.is_reminder:
        return f"Pengingat: {what} jatuh pada {day}."
    return (
        f"Eskalasi tingkat {rung.level} kepada {TARGET_NAMES[rung.target]}: {what} "
        f"({day}) telah terlewati."
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

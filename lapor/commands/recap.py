"""``lapor recap``: the leaders' recap per agency, as a table (or JSON), from the database."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
from typing import TYPE_CHECKING, Any

from shared.dates import tanggal_jam
from shared.lifecycle import Status

if TYPE_CHECKING:
    from services.escalation.recap import AgencyRecap, Recap, StepTime


#: Status names as leaders read them.
STATUS_NAMES = {
    Status.RECEIVED: "baru masuk",
    Status.NEEDS_REVIEW: "perlu ditinjau",
    Status.DEFERRED: "ditunda",
    Status.VERIFIED: "terverifikasi",
    Status.AWAITING_ROUTING: "menunggu disposisi",
    Status.DISPATCHED: "didisposisi",
    Status.IN_PROGRESS: "ditindaklanjuti",
    Status.RESOLVED: "selesai",
    Status.CLOSED: "ditutup",
    Status.ARCHIVED: "diarsipkan",
}

HEADERS = (
    "Instansi",
    "Diterima",
    "Diproses",
    "Selesai",
    "Terlambat",
    "Median jawaban pertama",
    "Tepat waktu",
    "Diteruskan",
    "Diperpanjang",
)

#: The steps of a case as leaders read them (see ``services.escalation.recap.STEP_NAMES``).
STEP_LABELS = {
    "verification": "verifikasi",
    "disposition": "disposisi",
    "first_answer": "jawaban pertama",
    "resolution": "penyelesaian",
}

LEGEND = (
    ("Diterima", "laporan yang didisposisikan ke instansi (baris admin: belum didisposisikan)"),
    ("Diproses", "belum selesai"),
    ("Selesai", "sudah dijawab tuntas (selesai atau ditutup; laporan yang ditarik pelapor tidak)"),
    ("Terlambat", "batas waktu yang sedang berjalan sudah lewat"),
    ("Median jawaban pertama", "dari disposisi sampai jawaban pertama instansi"),
    (
        "Tepat waktu",
        "dijawab paling lambat batas tindak lanjut, dari laporan yang sudah dijawab "
        "atau sudah lewat batasnya",
    ),
    (
        "Diteruskan",
        "laporan yang pernah dipegang instansi lalu dialihkan (bukan kewenangannya); tetap "
        "dihitung di kolom Diterima instansi itu",
    ),
    ("Diperpanjang", "laporan dengan perpanjangan batas penyelesaian yang disetujui admin"),
    (
        "Waktu per tahap",
        "median dari diterima sampai diverifikasi, dari verifikasi sampai disposisi, dari "
        "disposisi sampai jawaban pertama dan sampai penyelesaian, per instansi untuk "
        "gilirannya sendiri",
    ),
)


def _number(value: float, decimals: int = 1) -> str:
    """Indonesian style: a decimal comma, no needless ``,0`` on whole numbers."""
    if value == int(value):
        return str(int(value))
    return f"{value:.{decimals}f}".replace(".", ",")


def _first_answer(row: AgencyRecap) -> str:
    if row.median_first_answer_days is None or row.median_first_answer_hours is None:
        return "-"
    days = _number(row.median_first_answer_days)
    return f"{days} hari kerja ({_number(row.median_first_answer_hours)} jam)"


def _sla(row: AgencyRecap) -> str:
    if row.sla_share is None:
        return "-"
    return f"{round(row.sla_share * 100)}% ({row.within_sla}/{row.sla_decided})"


def _name(row: AgencyRecap) -> str:
    if row.agency and row.name != row.agency:
        return f"{row.name} ({row.agency})"
    return row.name


def _cells(row: AgencyRecap) -> list[str]:
    return [
        _name(row),
        str(row.received),
        str(row.in_progress),
        str(row.resolved),
        str(row.overdue),
        _first_answer(row),
        _sla(row),
        str(row.forwarded),
        str(row.extended),
    ]


def _duration(time: StepTime | None) -> str | None:
    if time is None or not time.count or time.median_days is None:
        return None
    hours = _number(time.median_hours or 0.0)
    return f"{_number(time.median_days)} hari kerja ({hours} jam)"


def _times(row: AgencyRecap) -> str:
    """The row's step times, the time it held its cases and took to hand them on."""
    parts = [
        f"{STEP_LABELS[name]} {text}"
        for name, time in row.steps.items()
        if (text := _duration(time)) is not None
    ]
    if row.agency is not None and (held := _duration(row.held)) is not None:
        parts.append(f"lama memegang {held}")
    if (forward := _duration(row.to_forward)) is not None:
        parts.append(f"meneruskan {forward}")
    return ", ".join(parts) or "-"


def _when(moment: dt.datetime, tz: str) -> str:
    return tanggal_jam(moment, tz)


def render(recap: Recap, tz: str) -> str:
    """The recap as a text table for a terminal, in Bahasa Indonesia."""
    lines = [f"Rekap LAPOR per instansi, keadaan {_when(recap.at, tz)}", ""]
    if recap.total is None or recap.total.received == 0:
        return "\n".join([*lines, "Belum ada laporan.", ""])
    rows = [*recap.rows, recap.total]
    table = [list(HEADERS), *(_cells(row) for row in rows)]
    widths = [max(len(cells[i]) for cells in table) for i in range(len(HEADERS))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    rule = "-" * len(line(table[0]))
    lines += [line(table[0]), rule, *(line(cells) for cells in table[1:-1]), rule]
    lines += [line(table[-1]), "", "Rincian status:"]
    for row in rows:
        detail = ", ".join(f"{STATUS_NAMES[s]} {n}" for s, n in row.by_status.items())
        if row.withdrawn:
            detail += f"; ditarik pelapor {row.withdrawn}"
        if row.returned_late:
            detail += f"; dikembalikan ke admin dan terlambat {row.returned_late}"
        lines.append(f"  {_name(row)}: {detail or '-'}")
    lines += ["", "Waktu per tahap (median):"]
    lines += [f"  {_name(row)}: {_times(row)}" for row in rows]
    lines += ["", "Keterangan:"]
    lines += [f"  {term}: {meaning}" for term, meaning in LEGEND]
    lines.append("")
    return "\n".join(lines)


def _instant(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 instant: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("give the time zone, e.g. 2026-11-23T10:00:00+07:00")
    return moment


async def _load(at: dt.datetime | None) -> tuple[Recap, str]:
    from lapor.errors import CLI_MONGO_TIMEOUT_MS
    from services.escalation.recap import agency_recap
    from shared.clock import SystemClock
    from shared.settings import LaporSettings
    from shared.storage import Store

    settings = LaporSettings()
    store = Store.from_settings(
        settings, app_name="lapor-recap", server_selection_timeout_ms=CLI_MONGO_TIMEOUT_MS
    )
    try:
        recap = await agency_recap(store, settings.working_calendar(), at or SystemClock().now())
    finally:
        await store.close()
    return recap, settings.timezone


def _recap(args: argparse.Namespace) -> int:
    # A database that cannot be reached is said in one line by ``lapor.cli``.
    recap, tz = asyncio.run(_load(args.at))
    if args.json:
        sys.stdout.write(json.dumps(recap.to_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(render(recap, tz))
    return 0


def register(subparsers: Any) -> None:
    """Add ``recap``."""
    parser = subparsers.add_parser(
        "recap",
        help="print the leaders' recap per agency from the configured MongoDB",
        description=(
            "Per agency: cases received, in progress, resolved and overdue, the median time "
            "to the first answer and the share answered within the SLA. Reads "
            "LAPOR_MONGO_URL and LAPOR_MONGO_DB; no reporter identity is read."
        ),
    )
    parser.add_argument(
        "--at",
        type=_instant,
        default=None,
        help="recap as of this instant (RFC 3339 with offset; default: now)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=_recap)

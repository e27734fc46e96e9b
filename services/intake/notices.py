"""What the reporter is told about their case, in Bahasa Indonesia — pure, no IO.

Only events a reporter may see produce a notice; internal steps (admin review, manual
routing, reminders and escalations inside the government) produce none. A duplicate's
original case is never named: its tracking ID belongs to another reporter.
"""

from __future__ import annotations

from shared.calendar import DEFAULT_TZ
from shared.contract import (
    ComplaintArchived,
    ComplaintClosed,
    ComplaintDeferred,
    ComplaintDispatched,
    ComplaintEvent,
    ComplaintExtensionGranted,
    ComplaintFollowedUp,
    ComplaintForwarded,
    ComplaintInformationAdded,
    ComplaintRated,
    ComplaintReceived,
    ComplaintReminder,
    ComplaintReopened,
    ComplaintResolved,
    ComplaintVerified,
)
from shared.dates import tanggal
from shared.lifecycle import ArchiveReason, EscalationTarget

__all__ = ["notice_for", "tanggal", "tracking_url"]

_ARCHIVE_TEXT = {
    ArchiveReason.WRONG_FORMAT: "formatnya tidak sesuai ketentuan",
    ArchiveReason.TOO_GENERAL: "isinya terlalu umum untuk ditindaklanjuti",
    ArchiveReason.NOT_GOVERNMENT: "isinya tidak berkaitan dengan kinerja pemerintah",
    ArchiveReason.PRIVATE_SECTOR: (
        "menyangkut layanan perusahaan swasta, yang berada di luar cakupan LAPOR!. "
        "Silakan sampaikan keluhan Anda langsung kepada perusahaan tersebut atau kepada "
        "lembaga perlindungan konsumen"
    ),
    ArchiveReason.DUPLICATE: (
        "sama dengan laporan lain yang sedang ditangani, sehingga digabungkan dengan "
        "laporan tersebut"
    ),
    ArchiveReason.ABUSIVE: "memuat kata-kata yang tidak pantas atau bukan laporan",
    ArchiveReason.NO_REPLY: (
        "informasi tambahan yang kami minta tidak kami terima dalam batas waktunya"
    ),
}


def notice_for(event: ComplaintEvent, tz: str = DEFAULT_TZ) -> str | None:
    """The text the reporter receives for ``event``, or None if it is internal."""
    tid = event.tracking_id
    extra = f" {event.reporter_message}" if event.reporter_message else ""
    match event:
        case ComplaintReceived():
            return (
                f"Laporan Anda telah kami terima dengan nomor pelacakan {tid}. Simpan nomor "
                f"ini untuk memantau perkembangannya. Laporan akan diverifikasi paling lambat "
                f"{tanggal(event.verification_deadline, tz)}."
            )
        case ComplaintVerified():
            return (
                f"Laporan {tid} telah diverifikasi dan akan diteruskan kepada instansi yang "
                "berwenang."
            )
        case ComplaintDeferred() if event.deferral_deadline is not None:
            return (
                f"Laporan {tid} memerlukan informasi tambahan.{extra} Balas pesan ini untuk "
                f"melengkapinya paling lambat {tanggal(event.deferral_deadline, tz)}; tanpa "
                "balasan, laporan akan diarsipkan."
            )
        case ComplaintDeferred():
            return (
                f"Laporan {tid} memerlukan informasi tambahan.{extra} Balas pesan ini untuk "
                "melengkapinya."
            )
        case ComplaintReminder() if event.target is EscalationTarget.PELAPOR:
            return (
                f"Pengingat: laporan {tid} masih menunggu informasi tambahan dari Anda. Balas "
                f"pesan ini paling lambat {tanggal(event.deadline, tz)}; tanpa balasan, "
                "laporan akan diarsipkan."
            )
        case ComplaintExtensionGranted():
            return (
                f"Penyelesaian laporan {tid} memerlukan waktu lebih lama; batas waktunya "
                f"diperpanjang hingga {tanggal(event.resolution_deadline, tz)}."
            )
        case ComplaintArchived():
            why = _ARCHIVE_TEXT[event.reason]
            return f"Laporan {tid} tidak dapat kami proses lebih lanjut karena {why}.{extra}"
        case ComplaintDispatched():
            return (
                f"Laporan {tid} telah diteruskan kepada {event.agency_name} untuk "
                f"ditindaklanjuti paling lambat {tanggal(event.follow_up_deadline, tz)}."
            )
        case ComplaintForwarded():
            return f"Laporan {tid} sedang dialihkan kepada instansi yang berwenang."
        case ComplaintFollowedUp() if event.acknowledged_only:
            return f"Laporan {tid} telah diterima oleh instansi terkait dan sedang ditindaklanjuti."
        case ComplaintFollowedUp():
            return f"Tindak lanjut laporan {tid}:{extra}"
        case ComplaintResolved():
            return (
                f"Laporan {tid} telah selesai ditindaklanjuti:{extra}\nBalas TERIMA jika Anda "
                "puas, BUKA jika belum, atau beri nilai 1 sampai 5. Tanpa balasan, laporan "
                f"ditutup otomatis pada {tanggal(event.auto_close_at, tz)}."
            )
        case ComplaintReopened():
            return f"Laporan {tid} dibuka kembali dan diteruskan lagi kepada instansi terkait."
        case ComplaintInformationAdded():
            return f"Informasi tambahan untuk laporan {tid} telah kami terima."
        case ComplaintRated():
            return f"Terima kasih atas penilaian Anda ({event.rating}/5) untuk laporan {tid}."
        case ComplaintClosed() if event.reason == "accepted":
            return f"Laporan {tid} telah ditutup. Terima kasih atas partisipasi Anda."
        case ComplaintClosed() if event.reason == "withdrawn":
            return (
                f"Laporan {tid} telah Anda tarik dan kami tutup. Laporan tetap tersimpan; "
                "terima kasih atas partisipasi Anda."
            )
        case ComplaintClosed():
            return (
                f"Laporan {tid} ditutup otomatis karena tidak ada tanggapan dari Anda setelah "
                "jawaban akhir. Terima kasih atas partisipasi Anda."
            )
    return None


def tracking_url(public_url: str | None, tracking_id: str) -> str | None:
    """The case's public tracking page on the portal, when the deployment has one."""
    if not public_url:
        return None
    return f"{public_url.rstrip('/')}/lacak/{tracking_id}"

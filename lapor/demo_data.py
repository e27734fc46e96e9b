"""A realistic day of reports in South Sumatra, and how each actor in the demo behaves.

Names, numbers and addresses are invented. ``agency_plan`` says what the responsible
agency does when the case reaches it: answer at once, answer late (after its head was
told), never answer (the case climbs to the Ombudsman), say "not our authority", or ask
for an extension (*perpanjangan*, which the admin grants) and answer by the new date.
``admin_plan`` says what the admin does with a report held for review: verify it, or
defer it with a question the reporter answers in time (or never: archived ``no_reply``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

AgencyPlan = Literal["prompt", "late", "never", "not_ours", "extension"]
ReporterPlan = Literal["accept", "silent", "reopen"]
AdminPlan = Literal["verify", "defer_answered", "defer_silent"]


@dataclass(frozen=True)
class DemoReport:
    """One report and the demo's script for it."""

    channel: str
    external_id: str
    description: str
    title: str | None = None
    reporter: dict[str, str] = field(default_factory=dict)
    region_code: str | None = None
    category: str | None = None
    agency: str | None = None
    kind: str = "pengaduan"
    anonymous: bool = False
    confidential: bool = False
    agency_plan: AgencyPlan = "prompt"
    reporter_plan: ReporterPlan = "accept"
    admin_plan: AdminPlan = "verify"

    def message(self) -> dict[str, Any]:
        """The ReportSubmitted the channel publishes."""
        body: dict[str, Any] = {
            "channel": self.channel,
            "external_id": self.external_id,
            "kind": self.kind,
            "description": self.description,
            "anonymous": self.anonymous,
            "confidential": self.confidential,
        }
        if self.title:
            body["title"] = self.title
        if self.reporter:
            body["reporter"] = self.reporter
        if self.region_code:
            body["location"] = {"region_code": self.region_code}
        if self.category:
            body["category"] = self.category
        if self.agency:
            body["agency"] = self.agency
        return body


DAY_OF_REPORTS: tuple[DemoReport, ...] = (
    DemoReport(
        "web",
        "web-20261130-001",
        "Jalan di Jl. Mayor Zen, Kalidoni, berlubang besar dan dalam sejak sebulan. Sudah dua "
        "pengendara motor jatuh malam hari karena lubang tidak terlihat.",
        title="Jalan berlubang di Jl. Mayor Zen",
        region_code="16.71",
        reporter={"name": "Rahmat Hidayat", "email": "rahmat.h@example.id"},
        agency_plan="late",
    ),
    DemoReport(
        "sms",
        "sms-1708-88231",
        "Antrean pendaftaran pasien BPJS di RSUD Bari Palembang mulai jam 5 pagi, loket baru "
        "buka jam 9. Ibu saya yang sakit menunggu 4 jam tanpa tempat duduk.",
        region_code="16.71",
        reporter={"phone": "081377001122"},
        agency_plan="late",
    ),
    DemoReport(
        "whatsapp",
        "wa-3EB0C4F1A2",
        "Sekolah SDN 12 Kayuagung memungut uang gedung Rp 750.000 untuk murid baru, padahal "
        "sekolah negeri gratis. Orang tua takut anaknya tidak diterima kalau tidak bayar.",
        region_code="16.02",
        reporter={"phone": "+62 812-7300-4455", "handle": "wa:6281273004455"},
        agency_plan="never",
    ),
    DemoReport(
        "email",
        "<CAF=disduk-7781@mail.example.id>",
        "Saya sudah merekam KTP-el di Disdukcapil Kota Palembang tiga bulan lalu, tetapi sampai "
        "sekarang KTP belum jadi dengan alasan blanko habis.",
        title="KTP-el belum jadi 3 bulan",
        region_code="16.71",
        reporter={"name": "Dewi Lestari", "email": "dewi.lestari@example.id"},
    ),
    DemoReport(
        "x",
        "x-1863301122",
        "Bantuan sosial PKH untuk keluarga kami di Kelurahan Sungai Lilin tidak cair sejak "
        "Agustus, padahal nama kami masih terdaftar di DTKS.",
        region_code="16.07",
        reporter={"handle": "@warga_banyuasin"},
        agency_plan="not_ours",
        reporter_plan="silent",
    ),
    DemoReport(
        "open311",
        "o311-5521",
        "Permohonan PBG (persetujuan bangunan gedung) untuk rumah tinggal sudah 60 hari di "
        "DPMPTSP Kota Palembang tanpa kabar, padahal standar layanan 28 hari.",
        region_code="16.71",
        category="perizinan",
        reporter={"email": "arsitek.rina@example.id"},
        agency_plan="extension",
    ),
    DemoReport(
        "sms",
        "sms-1708-88240",
        "Air PDAM Tirta Musi di Perumnas Sako mati total sudah 5 hari, warga harus beli air "
        "galon untuk mandi dan masak.",
        region_code="16.71",
        reporter={"phone": "082179990011"},
    ),
    DemoReport(
        "web",
        "web-20261130-002",
        "Refund pesanan saya di Shopee belum dikembalikan penjual sudah 3 minggu, mohon dibantu.",
        reporter={"email": "pembeli@example.id"},
    ),
    DemoReport(
        "whatsapp",
        "wa-3EB0C4F1B7",
        "Jalan di Jl. Mayor Zen, Kalidoni, berlubang besar dan dalam sejak sebulan. Sudah dua "
        "pengendara motor jatuh malam hari karena lubang tidak terlihat. Tolong segera.",
        region_code="16.71",
        reporter={"phone": "085266554433"},
    ),
    DemoReport(
        "x",
        "x-1863301999",
        "Dasar pegawai goblok semua, bangsat, kerja makan gaji buta!!!",
        reporter={"handle": "@akun_marah"},
    ),
    DemoReport(
        "web",
        "web-20261130-003",
        "Ada pungutan liar Rp 50.000 oleh oknum petugas untuk mempercepat pembuatan kartu "
        "keluarga di kantor Disdukcapil Kabupaten Muara Enim. Saya takut identitas saya "
        "diketahui.",
        region_code="16.03",
        anonymous=True,
        reporter={"name": "Pelapor Rahasia", "email": "pelapor.rahasia@example.id"},
        admin_plan="defer_answered",
    ),
    DemoReport(
        "mobile",
        "app-77120",
        "Usul agar taman kota di Lubuklinggau diberi lampu penerangan dan tempat sampah "
        "terpilah supaya aman dan bersih untuk anak-anak bermain sore hari.",
        kind="aspirasi",
        region_code="16.73",
        category="lingkungan",
        reporter={"name": "Andi Pratama", "phone": "081366778899"},
    ),
    DemoReport(
        "whatsapp",
        "wa-3EB0C4F1C9",
        "Petugas Samsat Prabumulih meminta uang tambahan Rp 200.000 agar perpanjangan STNK "
        "selesai hari itu juga. Mohon laporan ini dirahasiakan.",
        region_code="16.74",
        confidential=True,
        reporter={"phone": "081355443322"},
        admin_plan="defer_silent",
    ),
    DemoReport(
        "web",
        "web-20261130-004",
        "Sampah di TPS Jalan Sukabangun II tidak diangkut seminggu, bau menyengat dan "
        "dikerubungi lalat, dekat sekolah dasar.",
        region_code="16.71",
        reporter={"email": "warga.sukabangun@example.id"},
        agency_plan="late",
    ),
    DemoReport(
        "sms",
        "sms-1708-88299",
        "Puskesmas di Kecamatan Rantau Alai OKI sering tutup siang hari, dokter jarang datang, "
        "pasien disuruh pulang.",
        region_code="16.02",
        reporter={"phone": "081299887766"},
        reporter_plan="reopen",
    ),
)

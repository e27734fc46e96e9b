"""What the desks call the services' codes, in Bahasa Indonesia: timeline steps, actors and
the automatic checks' findings.

The services store codes (``hold_for_review``, ``no_category``) and, for findings, a short
technical detail in English; officials read Bahasa. The codes stay the data (filters, the
audit log, other consoles key on them): only what a page shows is translated here. A code
this version does not know is shown as itself, marked, so nothing is hidden.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from services.escalation.decisions import ACKNOWLEDGE_STEP
from services.verification.checks import Code
from services.verification.policy import PolicyCode
from shared.lifecycle import Actor

#: Every step on a case's timeline: the lifecycle's steps and the records that keep the
#: status (``receive`` by intake, ``remind`` / ``escalate`` by the clock, duplicates,
#: acknowledgements).
STEP_TITLES: Mapping[str, str] = {
    "receive": "Laporan diterima",
    "auto_verify": "Terverifikasi otomatis",
    "hold_for_review": "Ditahan untuk ditinjau admin",
    "auto_archive": "Diarsipkan otomatis",
    "verify": "Diverifikasi admin",
    "defer": "Ditunda: admin meminta informasi kepada pelapor",
    "resume": "Pelapor melengkapi informasi",
    "refer": "Bukan wewenang: diteruskan ke tingkat lain",
    "archive": "Diarsipkan admin",
    "dispatch": "Didisposisi otomatis ke instansi",
    "route_manually": "Menunggu disposisi manual",
    "dispose": "Didisposisi admin ke instansi",
    "acknowledge": "Diterima instansi",
    "follow_up": "Tindak lanjut instansi",
    "resolve": "Jawaban akhir instansi",
    "forward": "Diteruskan instansi ke instansi lain",
    "return_to_admin": "Dikembalikan ke admin",
    "rate": "Pelapor memberi penilaian",
    "add_information": "Pelapor menambahkan informasi",
    "accept": "Pelapor menerima jawaban",
    "reopen": "Pelapor membuka kembali laporan",
    "auto_close": "Ditutup otomatis (pelapor tidak menanggapi)",
    "expire_deferral": "Diarsipkan: pelapor tidak melengkapi informasi tepat waktu",
    "request_extension": "Instansi meminta perpanjangan waktu",
    "grant_extension": "Perpanjangan waktu disetujui admin",
    "refuse_extension": "Perpanjangan waktu ditolak admin",
    "coordinate": "Didisposisi admin untuk koordinasi beberapa instansi",
    "support": "Instansi pendukung menambahkan informasi",
    "withdraw": "Dicabut pelapor",
    "remind": "Pengingat batas waktu",
    "escalate": "Eskalasi keterlambatan",
    "link_duplicate": "Laporan duplikat ditautkan",
    ACKNOWLEDGE_STEP: "Eskalasi diterima pengawas",
}

ACTOR_TITLES: Mapping[str, str] = {
    Actor.SYSTEM: "sistem",
    Actor.ADMIN: "admin",
    Actor.AGENCY: "instansi",
    Actor.REPORTER: "pelapor",
    Actor.CLOCK: "batas waktu",
    Actor.OVERSIGHT: "pengawas",
}

#: Every finding code of the automatic checks (``Code``) and the policy (``PolicyCode``).
FINDING_TITLES: Mapping[str, str] = {
    Code.TOO_SHORT: "Terlalu singkat untuk ditindaklanjuti",
    Code.TOO_GENERAL: "Terlalu umum: tidak menyebut tempat, alamat, atau instansi",
    Code.PRIVATE_SECTOR: "Layanan sektor swasta (di luar kewenangan)",
    Code.SCOPE_UNCLEAR: "Kewenangan belum jelas (swasta atau pemerintah)",
    Code.ABUSIVE: "Kasar / penyalahgunaan",
    Code.OFFENSIVE_LANGUAGE: "Mengandung kata-kata kasar",
    Code.SPAM: "Spam",
    Code.SPAM_SUSPECTED: "Diduga spam",
    Code.DUPLICATE: "Kemungkinan duplikat",
    PolicyCode.NO_CATEGORY: "Tidak ada aturan kategori yang cocok",
    PolicyCode.KIND_NEEDS_REVIEW: "Jenis laporan ini selalu diverifikasi admin",
    PolicyCode.ANONYMOUS: "Anonim: admin memastikan identitas pelapor tetap tersembunyi",
    PolicyCode.CONFIDENTIAL: "Rahasia: admin memastikan laporan tidak tampil untuk publik",
    PolicyCode.AUTO_VERIFY_OFF: "Verifikasi otomatis dimatikan: setiap laporan dibaca admin",
    PolicyCode.INFORMATION_ADDED: "Pelapor sudah menjawab pertanyaan admin",
}


def _same(who: str) -> str:
    return "pelapor yang sama" if who == "same reporter" else "pelapor lain"


_Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]
#: The checks' details as they are written (services/verification/checks.py), in Bahasa;
#: the data in them (counts, names, tracking IDs) is kept as it is.
_DETAIL_RULES: tuple[_Rule, ...] = (
    (re.compile(r"^(\d+) meaningful words; at least (\d+) are needed to act on it$"),
     lambda m: f"{m[1]} kata bermakna; minimal {m[2]} agar dapat ditindaklanjuti"),
    (re.compile(r"^names no place, address or institution, and no location was given$"),
     lambda m: "tidak menyebut tempat, alamat, atau instansi, dan tanpa lokasi"),
    (re.compile(r"^names private business in general \((.*)\), no company$"),
     lambda m: f"menyebut usaha swasta secara umum ({m[1]}), tanpa nama perusahaan"),
    (re.compile(r"^names a company of mixed ownership: (.*)$"),
     lambda m: f"menyebut perusahaan dengan kepemilikan campuran: {m[1]}"),
    (re.compile(r"^names private \((.*)\) and public \((.*)\) services$"),
     lambda m: f"menyebut layanan swasta ({m[1]}) dan pemerintah ({m[2]})"),
    (re.compile(r"^(\d+) insult\(s\) \((.*)\); (\d+) other words$"),
     lambda m: f"{m[1]} kata kasar ({m[2]}); {m[3]} kata lain"),
    (re.compile(r"^only links \((\d+)\)$"), lambda m: f"hanya tautan ({m[1]})"),
    (re.compile(r"^mostly repeated characters or words$"),
     lambda m: "sebagian besar huruf atau kata yang berulang"),
    (re.compile(r"^promotion: (.*)$"), lambda m: f"promosi: {m[1]}"),
    (re.compile(r"^of (\S+) \((same reporter|another reporter), similarity ([\d.]+)\)$"),
     lambda m: f"dari {m[1]} ({_same(m[2])}, kemiripan {m[3]})"),
)  # fmt: skip
#: Codes whose detail only repeats the label in English: the label says it all.
_LABEL_SAYS_IT = frozenset(
    {
        PolicyCode.NO_CATEGORY,
        PolicyCode.KIND_NEEDS_REVIEW,
        PolicyCode.ANONYMOUS,
        PolicyCode.CONFIDENTIAL,
        PolicyCode.AUTO_VERIFY_OFF,
        PolicyCode.INFORMATION_ADDED,
    }
)
#: Details that are data only (the names the private-sector check found).
_DATA_ONLY = frozenset({Code.PRIVATE_SECTOR})


@dataclass(frozen=True)
class FindingView:
    """One finding as the admin reads it: the code (data), its label, its detail."""

    code: str
    title: str
    detail: str | None
    #: True when the code or the detail is not one this version can put in words.
    untranslated: bool = False


def step_title(step: str) -> str:
    """A timeline step in Bahasa (an unknown one as itself)."""
    return STEP_TITLES.get(step, step)


def actor_title(actor: str) -> str:
    """Who took a step, in Bahasa (an unknown one as itself)."""
    return ACTOR_TITLES.get(actor, actor)


#: Steps whose timeline note is a list of finding codes (services/verification/decisions.py).
_NOTE_IS_CODES = frozenset({"hold_for_review", "auto_archive"})


def timeline_note(step: str, note: str | None) -> str | None:
    """A timeline entry's note as shown: finding codes in Bahasa, other notes as written."""
    if not note or step not in _NOTE_IS_CODES:
        return note
    return "; ".join(FINDING_TITLES.get(code, code) for code in note.split(", "))


def finding_view(code: str, detail: str | None) -> FindingView:
    """A stored finding in Bahasa; an unknown code or detail is kept as it is, marked."""
    title = FINDING_TITLES.get(code)
    if title is None:
        return FindingView(code, code, detail, untranslated=True)
    if not detail or code in _LABEL_SAYS_IT:
        return FindingView(code, title, None)
    if code in _DATA_ONLY:
        return FindingView(code, title, f"menyebut: {detail}")
    for pattern, words in _DETAIL_RULES:
        if match := pattern.match(detail):
            return FindingView(code, title, words(match))
    return FindingView(code, title, detail, untranslated=True)

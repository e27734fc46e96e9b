"""The automatic checks on a received report — pure, no IO.

Each check is a small function that returns a :class:`~shared.contract.CheckFinding`
(a reason code and a detail for the admin, in English) or None when the report passes.
What the policy does with each code is decided in :mod:`services.verification.policy`:

====================  =========================================================  ==========
code                  meaning                                                    default
====================  =========================================================  ==========
too_short             fewer meaningful words than the policy's minimum           review
too_general           a *pengaduan* naming no place, institution or "di <Name>"  review
                      and sent without a location
private_sector        only private companies' services (Shopee, Gojek, BCA …)    archive
scope_unclear         private and public services named; a company of mixed      review
                      ownership (Telkomsel); or only "toko", "PT", "swasta"
abusive               insults, with little else in the text                      archive
offensive_language    a real complaint written with an insult in it              review
spam                  links only, repeated characters, or promotion              archive
spam_suspected        one promotional word (``promo``, ``pinjol`` …)             review
duplicate             near-identical to an open case received earlier (or        archive
                      similar, from the same reporter)
====================  =========================================================  ==========

Word lists are deliberately short, and configurable where they are policy (which
companies are private). Matching works on whole words, case-insensitively, so *anjing*
in "anjing liar menggigit warga" (stray dogs biting residents: a real complaint) is not
an insult, while "dasar anjing" is.

Duplicates are found by the Jaccard similarity of two reports' term sets (meaningful
words and numbers); :func:`dedup_keys` makes the look-up of candidates exact and small.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, lru_cache
from importlib.resources import files

from shared.contract import CheckFinding
from shared.lifecycle import Kind


class Code:
    """The reason codes of the checks (stable: admins' consoles and dashboards key on them)."""

    TOO_SHORT = "too_short"
    TOO_GENERAL = "too_general"
    PRIVATE_SECTOR = "private_sector"
    SCOPE_UNCLEAR = "scope_unclear"
    ABUSIVE = "abusive"
    OFFENSIVE_LANGUAGE = "offensive_language"
    SPAM = "spam"
    SPAM_SUSPECTED = "spam_suspected"
    DUPLICATE = "duplicate"


# --- words ----------------------------------------------------------------------------------

_URL = re.compile(
    r"(?:https?://|www\.)\S+"
    r"|\b(?:[a-z0-9-]+\.)+(?:com|net|org|id|co|xyz|io|me|ly|link|site|online|top|vip|info)\b"
    r"(?:/\S*)?",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"[0-9a-z]+(?:-[0-9a-z]+)*")
_FOLDED_WORD = re.compile(r"[\w@]+")

#: Function words and the fillers of Indonesian complaints, formal and informal (SMS
#: spellings included); they say nothing about *what* is reported.
STOPWORDS = frozenset(
    (
        "ada", "adalah", "agar", "akan", "aku", "anda", "apa", "apakah", "atas", "atau",
        "bagaimana", "bagi", "bahwa", "baik", "banyak", "bapak", "beberapa", "begitu", "belum",
        "berapa", "bisa", "bu", "buat", "dalam", "dan", "dapat", "dari", "dengan", "di", "dia",
        "dong", "deh", "ga", "gak", "gimana", "hal", "hanya", "harus", "ia", "ibu", "ini",
        "itu", "jadi", "jangan", "juga", "kah", "kalau", "kami", "kamu", "kan", "kapan",
        "karena", "ke", "kenapa", "kepada", "ketika", "kita", "kok", "lagi", "lah", "lain",
        "maka", "mana", "masih", "mau", "melalui", "mengapa", "menjadi", "mereka", "min",
        "mohon", "namun", "nya", "nggak", "nih", "oleh", "pada", "pak", "para", "pun", "saat",
        "saja", "sampai", "sangat", "saya", "se", "sebagai", "sebelum", "sedang", "sejak",
        "sekali", "semua", "sendiri", "seperti", "serta", "sesuai", "setelah", "sih", "siapa",
        "sini", "situ", "supaya", "sudah", "tak", "tapi", "telah", "tentang", "terhadap",
        "terima", "kasih", "tersebut", "tetapi", "tidak", "tolong", "tuh", "untuk", "utk",
        "yang", "yg", "dgn", "tdk", "sdh", "blm", "krn", "sy", "kmi", "ya", "yah", "bahkan",
        "hingga", "tanpa", "antara", "selama", "bila", "jika", "akibatnya", "akibat",
        "selain", "sehingga", "padahal", "sementara", "terutama", "kemudian", "lalu", "setiap",
        "sekitar", "beserta", "justru", "pernah", "sering", "ditambah", "kondisi",
    )
)  # fmt: skip

#: Words so common in complaints that they are poor evidence of a duplicate; the
#: duplicate look-up tries rarer words first (see :func:`dedup_keys`).
COMMON_TERMS = frozenset(
    (
        "warga", "masyarakat", "jalan", "kota", "kabupaten", "kecamatan", "kelurahan", "desa",
        "pelayanan", "petugas", "laporan", "lapor", "pemerintah", "dinas", "kantor", "sudah",
        "hari", "minggu", "bulan", "tahun", "rusak", "diperbaiki", "segera", "tindak", "lanjut",
        "mohon", "tolong", "bantuan", "daerah", "melaporkan", "dilaporkan", "menyampaikan",
        "disampaikan", "ditindaklanjuti", "menindaklanjuti", "tindaklanjut", "dibiarkan",
        "mengeluhkan", "keluhan", "pengaduan", "aduan", "lokasi", "tetangga", "seberang",
        "menunggu", "seminggu", "setengah", "sepanjang", "kejadian", "permasalahan", "masalah",
        # the abbreviations of an address
        "jl", "jln", "gg", "no", "rt", "rw", "kel", "kec", "kab",
    )
)  # fmt: skip

#: The words of the category rules (``policy.CATEGORY_RULES``, as :func:`text_terms` reads
#: them, when :data:`KEY_ORDER` 3 was made): a category's words are in many of its
#: complaints (every pothole report says *berlubang*, every water report *PDAM*), so they
#: are as poor evidence of a duplicate as :data:`COMMON_TERMS`, though rare in Indonesian
#: at large. Frozen with :data:`KEY_ORDER`, like the frequency table: the category rules
#: may change without changing the stored keys' order.
CATEGORY_TERMS = frozenset(
    (
        "adminduk", "air", "akta", "amblas", "ambulans", "angkot", "angkutan", "anjing", "asap",
        "aspal", "badan", "bangunan", "banjir", "bansos", "bau", "beasiswa", "berlubang",
        "bersih", "bidan", "blanko", "blt", "bocor", "bos", "bpjs", "bpn", "bpnt", "buruk",
        "bus", "busuk", "dana", "dinsos", "disdukcapil", "dishub", "ditambal", "dokter",
        "domisili", "dpmptsp", "drainase", "dtks", "dukcapil", "e-ktp", "gardu", "gedung",
        "gizi", "got", "guru", "halte", "harapan", "hewan", "hijau", "hutan", "igd", "ijazah",
        "imb", "imunisasi", "inap", "irigasi", "izin", "jembatan", "juru", "kabel", "kaki",
        "karhutla", "kartu", "kebakaran", "kelahiran", "keluarga", "kemacetan", "kematian",
        "kepala", "keruh", "kesehatan", "kia", "kip", "kir", "kis", "kpm", "ktp", "ktp-el",
        "lampu", "langsung", "liar", "licin", "light", "lima", "limbah", "lintas", "listrik",
        "longsor", "lrt", "lubang", "macet", "madrasah", "mati", "mengalir", "meteran", "minum",
        "murid", "musi", "nib", "nik", "obat", "ojek", "oss", "pangkalan", "parah", "parkir",
        "pasien", "pbg", "pdam", "pedagang", "pemadaman", "pencemaran", "penerangan",
        "penerima", "pengaspalan", "penyuluh", "perawat", "perizinan", "persetujuan",
        "pertanahan", "pertanian", "perumda", "petani", "peternakan", "pindah", "pipa", "pju",
        "pkh", "pkl", "pln", "pohon", "poliklinik", "polusi", "posyandu", "ppdb", "premanisme",
        "program", "ptsl", "ptsp", "pungutan", "pupuk", "puskesmas", "pustu", "rabies", "rapor",
        "rawat", "rsud", "rth", "ruang", "rumah", "sakit", "sampah", "satpol", "sawah", "sdn",
        "sekolah", "selokan", "sembako", "sengketa", "seragam", "sertifikat", "sertipikat",
        "simbg", "siswa", "siup", "slf", "sman", "smkn", "smpn", "sosial", "stunting", "surat",
        "taman", "tambal", "tanah", "terbuka", "terminal", "ternak", "tiang", "tirta", "token",
        "tps", "traffic", "transmusi", "trotoar", "tumbang", "tunai", "uang", "uji", "umum",
        "usaha", "zonasi",
    )
)  # fmt: skip

#: What :func:`dedup_keys` puts last: the words common in complaints.
_COMPLAINT_WORDS = COMMON_TERMS | CATEGORY_TERMS


def normalise(text: str) -> str:
    """Lower-case text in Unicode compatibility form (full-width letters folded)."""
    return unicodedata.normalize("NFKC", text).lower()


def without_links(text: str) -> str:
    """``text`` with URLs and bare domains replaced by spaces."""
    return _URL.sub(" ", text)


def tokens(text: str) -> list[str]:
    """The lower-case word and number tokens of ``text``, links left out."""
    return ReportText.of(text).tokens


def _is_meaningful(token: str) -> bool:
    return (
        len(token) >= 2
        and token not in STOPWORDS
        and any(ch.isalpha() for ch in token)
        and len(set(token.replace("-", ""))) > 1
    )


def meaningful_words(text: str) -> list[str]:
    """The tokens that carry content: no stopwords, no bare numbers, no ``aaaa``."""
    return ReportText.of(text).meaningful


class ReportText:
    """One report's text, read once: every check looks at the same forms and tokens.

    Each form is computed the first time a check asks for it and kept for the next:
    the checks, the suggestions and the duplicate terms of one report used to normalise
    and tokenise the same text a dozen times. Held only while the report is checked.
    """

    def __init__(self, text: str) -> None:
        self.text = text

    @classmethod
    def of(cls, text: str | ReportText) -> ReportText:
        """``text`` as read once (itself, when it already is)."""
        return text if isinstance(text, ReportText) else cls(text)

    @cached_property
    def compatible(self) -> str:
        """The text in Unicode compatibility form (NFKC), case kept: what :func:`mentions` reads."""
        return unicodedata.normalize("NFKC", self.text)

    @cached_property
    def ascii_words(self) -> frozenset[str] | None:
        """The lower-cased runs of word characters and hyphens of :attr:`compatible`, when
        it is plain ASCII (else None): where a term of :class:`Phrases` can start."""
        if not self.compatible.isascii():
            return None
        return frozenset(_ASCII_WORD.findall(self.compatible.lower()))

    @cached_property
    def _plain(self) -> str:
        """Lower case, compatibility form, links left out: what the tokens come from."""
        return normalise(without_links(self.text))

    @cached_property
    def tokens(self) -> list[str]:
        """The lower-case word and number tokens (see :func:`tokens`)."""
        return _TOKEN.findall(self._plain)

    @cached_property
    def meaningful(self) -> list[str]:
        """The tokens that carry content (see :func:`meaningful_words`)."""
        return [t for t in self.tokens if _is_meaningful(t)]

    @cached_property
    def terms(self) -> frozenset[str]:
        """The terms two reports are compared by (see :func:`text_terms`)."""
        return frozenset(self.meaningful).union(t for t in self.tokens if t.isdigit())

    @cached_property
    def links(self) -> list[str]:
        """The URLs and bare domains in the text, as written."""
        return _URL.findall(self.text)

    @cached_property
    def folded_words(self) -> list[str]:
        """Every word (``@`` counts as a letter) with leetspeak undone and runs squeezed.

        Folding the whole text, then splitting it, gives the same words as folding each
        word: the folding maps word characters to word characters only, and a run of one
        character never crosses the edge of a word.
        """
        return _FOLDED_WORD.findall(_RUNS.sub(r"\1", self._plain.translate(_LEET)))


def _term_pattern(term: str) -> str:
    return re.escape(normalise(term.strip())).replace(r"\ ", r"\s+")


@lru_cache(maxsize=64)
def _matcher(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    alternatives = sorted({_term_pattern(t) for t in terms if t.strip()}, key=len, reverse=True)
    if not alternatives:
        return None
    return re.compile(r"(?<![\w-])(?:" + "|".join(alternatives) + r")(?![\w-])", re.IGNORECASE)


_ASCII_WORD = re.compile(r"[\w-]+", re.ASCII)


@lru_cache(maxsize=64)
def _first_words(terms: tuple[str, ...]) -> tuple[str, ...] | None:
    """The first word of each term, lower case; None when a term is not plain ASCII."""
    kept = [normalise(t.strip()) for t in terms if t.strip()]
    if not all(t.isascii() for t in kept):
        return None
    return tuple(sorted({t.split(" ")[0] for t in kept}))


@dataclass(frozen=True)
class Phrases:
    """Words or phrases :func:`mentions` looks for, compiled once rather than per report.

    A plain-ASCII text skips the regular expression when no term can start in it. For
    ASCII text and ASCII terms the matcher's case-insensitive comparison is exactly ASCII
    lower-casing (its Unicode extras, such as dotless ``ı`` for ``i``, pair ASCII letters
    only with non-ASCII ones), and a match starts after a character that is no word
    character or hyphen, with the term's first word followed by whitespace (more words)
    or by such a character (the end of the term). So a first word made of word characters
    and hyphens only is then one of the text's lower-cased runs of them
    (:attr:`ReportText.ascii_words`); any other first word must at least occur in it.
    """

    terms: tuple[str, ...]
    matcher: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    #: None: some term is not ASCII, the matcher always runs.
    _starts: tuple[frozenset[str], tuple[str, ...]] | None = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "matcher", _matcher(self.terms))
        first = _first_words(self.terms)
        if first is not None:
            whole = frozenset(w for w in first if _ASCII_WORD.fullmatch(w))
            starts = (whole, tuple(w for w in first if w not in whole))
            object.__setattr__(self, "_starts", starts)
        else:
            object.__setattr__(self, "_starts", None)

    @classmethod
    def of(cls, terms: Sequence[str] | Phrases) -> Phrases:
        """``terms`` compiled (themselves, when they already are)."""
        return terms if isinstance(terms, Phrases) else cls(tuple(terms))

    def cannot_occur_in(self, reading: ReportText) -> bool:
        """True when no term can occur in the text (False: the matcher must tell)."""
        words = reading.ascii_words
        if words is None or self._starts is None:
            return False
        whole, other = self._starts
        if not whole.isdisjoint(words):
            return False
        lowered = reading.compatible.lower()
        return not any(word in lowered for word in other)


def mentions(text: str | ReportText, terms: Sequence[str] | Phrases) -> list[str]:
    """The ``terms`` that occur in ``text`` as whole words, as written there, first seen first."""
    phrases = Phrases.of(terms)
    if phrases.matcher is None:
        return []
    reading = ReportText.of(text)
    if phrases.cannot_occur_in(reading):
        return []
    found: dict[str, str] = {}
    for match in phrases.matcher.finditer(reading.compatible):
        written = " ".join(match.group(0).split())
        found.setdefault(written.lower(), written)
    return list(found.values())


# --- content ----------------------------------------------------------------------------------

#: Words that name where something happened: an address, an administrative area or a
#: public institution. A *pengaduan* needs one of them (or a location) to be acted upon.
PLACE_MARKERS = (
    "jl", "jln", "jalan", "gang", "gg", "lorong", "komplek", "kompleks", "perumahan", "perum",
    "desa", "dusun", "kelurahan", "kel", "kecamatan", "kec", "kabupaten", "kab", "kota",
    "provinsi", "rt", "rw", "pasar", "simpang", "jembatan", "sungai", "taman", "terminal",
    "stasiun", "bandara", "pelabuhan", "halte", "sekolah", "sd", "sdn", "smp", "smpn", "sma",
    "sman", "smk", "smkn", "madrasah", "universitas", "puskesmas", "pustu", "posyandu",
    "rsud", "rumah sakit", "rs", "kantor", "dinas", "disdukcapil", "dukcapil", "samsat",
    "dpmptsp", "balai", "masjid", "pln", "pdam", "bpjs",
)  # fmt: skip
_PLACE_MARKERS = Phrases(PLACE_MARKERS)


def check_content(text: str | ReportText, min_words: int) -> CheckFinding | None:
    """``too_short``: the report has fewer than ``min_words`` meaningful words."""
    count = len(ReportText.of(text).meaningful)
    if count >= min_words:
        return None
    return CheckFinding(
        code=Code.TOO_SHORT,
        detail=f"{count} meaningful words; at least {min_words} are needed to act on it",
    )


#: "di Palembang", "depan Pasar Kuto": a preposition of place before a proper name.
_NAMED_PLACE = re.compile(r"\b(?:[Dd]i|[Kk]e|[Dd]ekat|[Dd]epan|[Ss]ekitar|[Dd]aerah)\s+[A-Z][\w.]+")


def check_specific(text: str | ReportText, kind: Kind, has_location: bool) -> CheckFinding | None:
    """``too_general``: a complaint that names no place or institution and has no location."""
    if kind != Kind.PENGADUAN or has_location:
        return None
    reading = ReportText.of(text)
    if mentions(reading, _PLACE_MARKERS) or _NAMED_PLACE.search(reading.text):
        return None
    return CheckFinding(
        code=Code.TOO_GENERAL,
        detail="names no place, address or institution, and no location was given",
    )


# --- scope --------------------------------------------------------------------------------

#: Services run by private companies: out of LAPOR's scope (consumer complaints go to
#: the company, or to BPKN / YLKI / OJK). Configurable: ``private_sector_terms``.
DEFAULT_PRIVATE_SECTOR: tuple[str, ...] = (
    # e-commerce and e-wallets
    "shopee", "shopeepay", "tokopedia", "lazada", "bukalapak", "blibli", "tiktok shop",
    "e-commerce", "ecommerce", "marketplace", "toko online", "olshop", "ovo", "gopay",
    # ride hailing (ojek online)
    "gojek", "goride", "gofood", "gocar", "grab", "grabfood", "grabcar", "maxim", "shopeefood",
    "ojek online", "ojol",
    # private banks, leasing and multifinance
    "bank swasta", "bca", "bank central asia", "cimb niaga", "danamon", "bank mega", "ocbc",
    "permata bank", "bank permata", "panin", "maybank", "leasing", "adira", "adira finance",
    "fif", "bfi finance", "wom finance", "mandiri utama finance", "debt collector",
    # private mobile operators and internet providers
    "indosat", "im3", "xl", "xl axiata", "axis", "smartfren", "first media", "biznet",
    "myrepublic",
    # retail chains and companies that say what they are
    "alfamart", "indomaret", "perusahaan swasta", "pt swasta",
)  # fmt: skip

#: Words for private business in general: a report that names only these may still be
#: about a public duty (a shop blocking the pavement is the city's business), so an
#: admin decides. Configurable: ``private_generic_terms``.
DEFAULT_PRIVATE_GENERIC: tuple[str, ...] = ("toko", "minimarket", "swasta", "pt")

#: Public services (government, BUMN/BUMD, publicly funded programmes): in scope even
#: when a private name is mentioned too. Configurable: ``public_sector_terms``.
DEFAULT_PUBLIC_SECTOR: tuple[str, ...] = (
    "pln", "pdam", "perumda", "tirta musi", "bpjs", "bpjs kesehatan", "bpjs ketenagakerjaan",
    "puskesmas", "pustu", "posyandu", "rsud", "rumah sakit", "klinik", "sekolah", "sekolah negeri",
    "sdn", "smpn", "sman", "smkn", "madrasah", "disdukcapil", "dukcapil", "kantor kelurahan",
    "kantor kecamatan", "kantor desa", "pemerintah desa", "lurah", "camat", "kepala desa",
    "dinas", "pemda", "pemkot", "pemkab", "pemprov", "satpol pp", "dishub", "samsat",
    "kantor pos", "pos indonesia", "kai", "krl", "lrt", "damri", "transmusi", "pertamina",
    "bri", "bni", "bank mandiri", "btn", "bsi", "bank sumsel babel", "bumn", "bumd", "ojk",
    "telkom", "indihome", "pegadaian", "bulog", "bansos", "pkh", "kip", "kis",
)  # fmt: skip

#: Companies whose ownership is mixed (e.g. Telkomsel: a subsidiary of state-owned
#: Telkom with a foreign shareholder): an admin decides. Configurable.
DEFAULT_AMBIGUOUS_SECTOR: tuple[str, ...] = ("telkomsel",)


@dataclass(frozen=True)
class ScopeRules:
    """Which names mark a service as private, public or mixed (compiled once)."""

    private: tuple[str, ...] = DEFAULT_PRIVATE_SECTOR
    private_generic: tuple[str, ...] = DEFAULT_PRIVATE_GENERIC
    public: tuple[str, ...] = DEFAULT_PUBLIC_SECTOR
    ambiguous: tuple[str, ...] = DEFAULT_AMBIGUOUS_SECTOR
    _compiled: tuple[Phrases, Phrases, Phrases, Phrases] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        lists = (self.private, self.private_generic, self.public, self.ambiguous)
        object.__setattr__(self, "_compiled", tuple(Phrases(tuple(t)) for t in lists))

    @property
    def phrases(self) -> tuple[Phrases, Phrases, Phrases, Phrases]:
        """Private, private generic, public and ambiguous names, compiled."""
        return self._compiled


def private_services(text: str | ReportText, rules: ScopeRules) -> list[str]:
    """The private-sector services ``text`` names, as written there."""
    return mentions(text, rules.phrases[0])


def check_scope(text: str | ReportText, rules: ScopeRules) -> CheckFinding | None:
    """``private_sector`` when only private services are named; ``scope_unclear`` when mixed."""
    reading = ReportText.of(text)
    private_names, generic_names, public_names, ambiguous_names = rules.phrases
    private = mentions(reading, private_names)
    ambiguous = mentions(reading, ambiguous_names)
    public = mentions(reading, public_names)
    if not private and not public and (generic := mentions(reading, generic_names)):
        return CheckFinding(
            code=Code.SCOPE_UNCLEAR,
            detail=f"names private business in general ({', '.join(generic)}), no company",
        )
    if ambiguous:
        return CheckFinding(
            code=Code.SCOPE_UNCLEAR,
            detail=f"names a company of mixed ownership: {', '.join(ambiguous)}",
        )
    if private and public:
        return CheckFinding(
            code=Code.SCOPE_UNCLEAR,
            detail=f"names private ({', '.join(private)}) and public ({', '.join(public)}) "
            "services",
        )
    if private:
        return CheckFinding(code=Code.PRIVATE_SECTOR, detail=", ".join(private))
    return None


# --- abuse and spam ---------------------------------------------------------------------------

#: Insults in any sentence.
STRONG_INSULTS = ("bangsat", "bajingan", "keparat", "goblok", "goblog", "tolol", "brengsek",
                  "kampret", "idiot")  # fmt: skip
#: Words that are insults only when aimed at someone ("dasar babi", "pejabat babi"),
#: and ordinary nouns otherwise ("peternakan babi", "anjing liar").
CONTEXT_INSULTS = ("anjing", "babi", "monyet", "setan")
#: Words that, next to a context insult, show that it is aimed at someone.
_ADDRESSEES = frozenset(
    (
        "dasar", "lu", "lo", "loe", "elu", "elo", "kau", "kamu", "kalian", "pejabat", "petugas",
        "pegawai", "pemerintah", "bupati", "walikota", "gubernur", "camat", "lurah", "dprd",
        "polisi", "aparat", "admin", "pemkot", "pemda"
    )
)  # fmt: skip
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a"})
_RUNS = re.compile(r"(.)\1+")


def _folded(token: str) -> str:
    """A token with leetspeak undone and stretched letters squeezed (``g0bloook``: goblok)."""
    return _RUNS.sub(r"\1", token.translate(_LEET))


_STRONG = frozenset(_folded(w) for w in STRONG_INSULTS)
_CONTEXT = frozenset(_folded(w) for w in CONTEXT_INSULTS)
#: Words that are no substance of a complaint next to an insult (folded spelling).
_NOT_SUBSTANCE = _STRONG | _CONTEXT | _ADDRESSEES


def insults(text: str | ReportText) -> list[str]:
    """The insults in ``text``, one entry per occurrence (folded spelling)."""
    words = ReportText.of(text).folded_words
    found: list[str] = []
    for i, word in enumerate(words):
        if word in _STRONG:
            found.append(word)
        elif word in _CONTEXT:
            neighbours = set(words[max(i - 1, 0) : i]) | set(words[i + 1 : i + 2])
            if neighbours & _ADDRESSEES:
                found.append(word)
    return found


def check_abuse(text: str | ReportText, min_words: int) -> CheckFinding | None:
    """``abusive`` when insults outweigh the content; ``offensive_language`` when not."""
    reading = ReportText.of(text)
    found = insults(reading)
    if not found:
        return None
    substance = [w for w in reading.meaningful if _folded(w) not in _NOT_SUBSTANCE]
    detail = (
        f"{len(found)} insult(s) ({', '.join(sorted(set(found)))}); {len(substance)} other words"
    )
    if len(substance) < min_words or len(found) >= 3 or 4 * len(found) >= len(substance):
        return CheckFinding(code=Code.ABUSIVE, detail=detail)
    return CheckFinding(code=Code.OFFENSIVE_LANGUAGE, detail=detail)


#: Phrases of advertising, online gambling and loan offers.
PROMOTIONAL_PHRASES = (
    "promo", "slot gacor", "slot online", "gacor", "maxwin", "judi online", "judol", "togel",
    "pinjol", "pinjaman online cepat cair", "cepat cair", "tanpa bi checking", "bonus deposit",
    "bonus new member", "deposit", "daftar sekarang", "klik link", "klik di sini", "gratis ongkir",
    "diskon", "cashback", "jackpot", "dijamin menang",
)  # fmt: skip
_PROMOTIONAL = Phrases(PROMOTIONAL_PHRASES)
_REPEATED = re.compile(r"(\S)\1{3,}")
_WHITESPACE = re.compile(r"\s+")


def _repetition_dominates(reading: ReportText) -> bool:
    visible = _WHITESPACE.sub("", reading.text)
    if not visible:
        return False
    repeated = sum(len(m.group(0)) for m in _REPEATED.finditer(visible))
    if repeated / len(visible) >= 0.3:
        return True
    words = reading.tokens
    longest = run = 1
    for previous, word in itertools.pairwise(words):
        run = run + 1 if word == previous else 1
        longest = max(longest, run)
    return len(words) >= 5 and longest >= 5


def check_spam(text: str | ReportText) -> CheckFinding | None:
    """``spam`` for links only, repeated characters or promotion; ``spam_suspected`` for a hint."""
    reading = ReportText.of(text)
    links = reading.links
    if links and len(reading.meaningful) < 3:
        return CheckFinding(code=Code.SPAM, detail=f"only links ({len(links)})")
    if _repetition_dominates(reading):
        return CheckFinding(code=Code.SPAM, detail="mostly repeated characters or words")
    promotion = mentions(reading, _PROMOTIONAL)
    score = len(promotion) + (1 if promotion and links else 0)
    if score >= 2:
        return CheckFinding(
            code=Code.SPAM, detail=f"promotion: {', '.join(p.lower() for p in promotion)}"
        )
    if score == 1:
        return CheckFinding(code=Code.SPAM_SUSPECTED, detail=f"promotion: {promotion[0].lower()}")
    return None


# --- duplicates -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DuplicateRules:
    """When an open case counts as the same report."""

    #: Jaccard similarity of the two reports' terms, whoever sent them.
    similarity: float = 0.8
    #: Jaccard similarity enough when the same reporter sent both (a fingerprint in common).
    same_reporter_similarity: float = 0.5
    #: Below this many terms a text says too little to be compared.
    min_terms: int = 5


@dataclass(frozen=True)
class OpenCase:
    """A case as the duplicate check sees it: when it came, its terms, who sent it."""

    tracking_id: str
    received_at: datetime
    terms: frozenset[str]
    fingerprints: frozenset[str] = frozenset()


@dataclass(frozen=True)
class DuplicateMatch:
    """The open case a report duplicates."""

    tracking_id: str
    similarity: float
    same_reporter: bool


def text_terms(text: str | ReportText) -> frozenset[str]:
    """The normalised terms two reports are compared by: meaningful words and numbers."""
    return ReportText.of(text).terms


def jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    """|A ∩ B| / |A ∪ B| of two term sets (0 when both are empty)."""
    first, second = set(a), set(b)
    union = first | second
    return len(first & second) / len(union) if union else 0.0


def _load_term_frequency() -> dict[str, int]:
    text = (
        files(__package__ or "services.verification")
        .joinpath("data/term_frequency_id.txt")
        .read_text(encoding="utf-8")
    )
    table: dict[str, int] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            band, words = line.split("\t", 1)
            table.update(dict.fromkeys(words.split(), int(band)))
    return table


#: How common each Indonesian word is (Zipf frequency × 10, from wordfreq; a word not
#: listed is rare: names of streets, villages, people). Frozen with :data:`KEY_ORDER`.
TERM_FREQUENCY = _load_term_frequency()

#: The term order :func:`dedup_keys` follows, stored with each case's keys as
#: ``dedup_version`` (with the similarity the keys were made for). Verification re-keys
#: the open cases made under another version when it starts. 1 was longest first; 2 is
#: rarest first by :data:`TERM_FREQUENCY`; 3 also puts :data:`CATEGORY_TERMS` last, with
#: :data:`COMMON_TERMS`.
KEY_ORDER = 3


def key_version(threshold: float) -> str:
    """What a case's stored keys were made for: the term order and the similarity."""
    return f"{KEY_ORDER}/{threshold:g}"


def _number_band(number: str) -> int:
    """How common a number is, in :data:`TERM_FREQUENCY`'s units. A number names one house,
    one RT or one kilometre post, so each one is rare across complaints; only single
    digits and years are everywhere."""
    if len(number) == 1 or (len(number) == 4 and number[:2] in ("19", "20")):
        return 50
    return 0


@lru_cache(maxsize=65536)
def _term_order(term: str) -> tuple[bool, int, int, str]:
    band = _number_band(term) if term.isdigit() else TERM_FREQUENCY.get(term, 0)
    return (term in _COMPLAINT_WORDS, band, -len(term), term)


def dedup_keys(terms: Iterable[str], threshold: float) -> list[str]:
    """The few term pairs two sets at least ``threshold``-similar always share one of.

    Prefix filtering: order all terms by one fixed global order (rarest first: not a
    common complaint word, then by how common the word is in Indonesian, then longest
    first; see :data:`KEY_ORDER`). If Jaccard(A, B) >= t, then A and B share at
    least ceil(t·|A|) terms, so the first |A| - ceil(t·|A|) + 2 terms of A and the
    first |B| - ceil(t·|B|) + 2 terms of B both hold the two first of the shared terms
    (A's prefix leaves out at most |A| - ceil(t·|A|) terms, so it holds at least two
    shared ones, and in the same global order those are the first two). Every pair
    from that prefix is a key (``"a b"``), so the look-up by keys is exact: no
    near-duplicate above the threshold is missed.

    Pairs, not single terms: one common word long enough to come first (*berlubang*, in
    every pothole report) made every stored pothole report a candidate, so the look-up
    returned more documents the more cases were stored; two reports rarely share two
    such words unless they are alike. Rarest first, not longest first: long words
    (*kendaraan*, *tergenang*) are common in complaints, while the words that tell two
    reports apart (a street, a village, a house number) are rare in Indonesian at large.
    Sets so small that two of them can be similar while sharing one term only (at most 1/t
    terms) keep single-term keys as well.
    """
    ordered = sorted(set(terms), key=_term_order)
    if not ordered:
        return []
    must_share = max(1, math.ceil(threshold * len(ordered) - 1e-9))
    prefix = ordered[: len(ordered) - must_share + 2]
    keys = [f"{a} {b}" for a, b in itertools.combinations(prefix, 2)]
    if len(ordered) * threshold <= 1 + 1e-9:
        keys += ordered[: len(ordered) - must_share + 1]
    return keys


def find_duplicate(
    case: OpenCase, candidates: Iterable[OpenCase], rules: DuplicateRules
) -> DuplicateMatch | None:
    """The earlier open case ``case`` duplicates, most similar first; None if none does.

    Only a case received *before* this one can be its original, so two reports can never
    be archived as duplicates of each other.
    """
    if len(case.terms) < rules.min_terms:
        return None
    best: tuple[float, datetime, str, bool] | None = None
    for other in candidates:
        if (other.received_at, other.tracking_id) >= (case.received_at, case.tracking_id):
            continue
        similarity = jaccard(case.terms, other.terms)
        same_reporter = bool(case.fingerprints & other.fingerprints)
        threshold = (
            min(rules.same_reporter_similarity, rules.similarity)
            if same_reporter
            else rules.similarity
        )
        if similarity + 1e-9 < threshold:
            continue
        key = (-similarity, other.received_at, other.tracking_id, same_reporter)
        if best is None or key[:3] < best[:3]:
            best = key
    if best is None:
        return None
    return DuplicateMatch(tracking_id=best[2], similarity=-best[0], same_reporter=best[3])


def check_duplicate(match: DuplicateMatch | None) -> CheckFinding | None:
    """``duplicate``: the report repeats an open case (named in the detail)."""
    if match is None:
        return None
    who = "same reporter" if match.same_reporter else "another reporter"
    return CheckFinding(
        code=Code.DUPLICATE,
        detail=f"of {match.tracking_id} ({who}, similarity {match.similarity:.2f})",
    )

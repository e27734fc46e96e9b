"""Verification's automatic checks on realistic Indonesian reports."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from services.verification.checks import (
    CATEGORY_TERMS,
    KEY_ORDER,
    TERM_FREQUENCY,
    Code,
    DuplicateRules,
    OpenCase,
    ScopeRules,
    check_abuse,
    check_content,
    check_duplicate,
    check_scope,
    check_spam,
    check_specific,
    dedup_keys,
    find_duplicate,
    jaccard,
    key_version,
    meaningful_words,
    text_terms,
)
from shared.lifecycle import Kind

pytestmark = pytest.mark.unit

ROAD_PALEMBANG = (
    "Jalan di Jl. Demang Lebar Daun dekat simpang Polda, Kecamatan Ilir Barat I, Palembang "
    "rusak parah dan berlubang sedalam 30 cm. Sudah tiga bulan tidak diperbaiki dan sudah ada "
    "pengendara motor yang jatuh."
)
RSUD_QUEUE = (
    "Antrean pendaftaran pasien BPJS di RSUD Siti Fatimah Palembang sangat panjang, kami "
    "menunggu dari jam 6 pagi sampai jam 2 siang baru dilayani dokter. Mohon loket "
    "pendaftaran ditambah."
)
SCHOOL_PUNGLI = (
    "SMP Negeri 9 Palembang meminta uang gedung Rp 3.500.000 kepada setiap siswa baru saat "
    "PPDB tanpa kuitansi resmi. Ini pungli karena sekolah negeri sudah menerima dana BOS."
)
KTP_EL = (
    "Sudah empat bulan KTP-el saya belum jadi di Disdukcapil Kota Palembang, setiap datang "
    "petugas bilang blanko habis. Mohon kejelasan kapan KTP-el bisa dicetak."
)
BANSOS_PKH = (
    "Keluarga kami terdaftar di DTKS sebagai penerima PKH tetapi sejak Januari bantuan tidak "
    "pernah cair, sementara tetangga yang mampu justru menerima bansos. Kejadian di Desa Pulau "
    "Semambu, Kecamatan Indralaya Utara, Ogan Ilir."
)
PBG_LICENCE = (
    "Pengurusan PBG (dulu IMB) untuk rumah tinggal kami di DPMPTSP Kabupaten Banyuasin sudah "
    "lebih dari dua bulan tidak ada kabar, padahal semua berkas sudah lengkap di aplikasi SIMBG."
)
SHOPEE = (
    "Paket yang saya pesan di Shopee tidak sampai sudah dua minggu, penjual tidak membalas "
    "chat dan uang saya belum dikembalikan."
)
GOJEK = (
    "Driver Gojek membatalkan pesanan GoFood saya tapi saldo GoPay sudah terpotong dan "
    "customer service tidak membantu sama sekali."
)
ABUSIVE = "Dasar pejabat goblok semua, bangsat kalian anjing!!!"
ANGRY_BUT_REAL = (
    "Petugas kelurahan Talang Kelapa goblok, sudah tiga kali saya datang mengurus surat pindah "
    "tetapi berkas selalu hilang dan disuruh mengulang dari awal."
)
SPAM = (
    "PROMO slot gacor hari ini maxwin! Daftar sekarang di https://gacor88.xyz bonus new member 100%"
)
POTHOLE = (
    "Jalan berlubang besar di depan Pasar Kuto, Jl. Mayor Ruslan, Palembang. Lubangnya sudah "
    "sebulan tidak ditambal dan sering membuat pengendara motor terjatuh."
)
POTHOLE_AGAIN = (
    "Jalan berlubang besar di depan Pasar Kuto Jl. Mayor Ruslan Palembang, lubangnya sudah "
    "sebulan tidak ditambal sehingga sering membuat pengendara motor terjatuh!"
)

LEGITIMATE = [ROAD_PALEMBANG, RSUD_QUEUE, SCHOOL_PUNGLI, KTP_EL, BANSOS_PKH, PBG_LICENCE]


# --- content ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", LEGITIMATE)
def test_a_concrete_public_service_complaint_passes_every_content_check(text: str) -> None:
    assert check_content(text, min_words=6) is None
    assert check_specific(text, Kind.PENGADUAN, has_location=False) is None
    assert check_scope(text, ScopeRules()) is None
    assert check_abuse(text, min_words=6) is None
    assert check_spam(text) is None


def test_a_few_words_are_too_short_to_act_on() -> None:
    finding = check_content("jalan rusak tolong pak", min_words=6)
    assert finding is not None
    assert finding.code == Code.TOO_SHORT
    assert "2 meaningful words" in finding.detail


def test_stopwords_numbers_and_stretched_letters_are_not_meaningful() -> None:
    assert meaningful_words("Tolong pak, sudah 3 kali aaaa yang rusak") == ["kali", "rusak"]


def test_a_complaint_naming_no_place_is_too_general() -> None:
    text = "Pelayanan publik buruk sekali, tolong diperbaiki semuanya ya pak secepatnya."
    finding = check_specific(text, Kind.PENGADUAN, has_location=False)
    assert finding is not None and finding.code == Code.TOO_GENERAL
    # A location sent with the report is a place; a suggestion may be general.
    assert check_specific(text, Kind.PENGADUAN, has_location=True) is None
    assert check_specific(text, Kind.ASPIRASI, has_location=False) is None


def test_a_place_named_with_a_preposition_is_specific_enough() -> None:
    text = "Lampu penerangan mati semua di Plaju sejak minggu lalu, gelap dan rawan begal."
    assert check_specific(text, Kind.PENGADUAN, has_location=False) is None


# --- scope --------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "service"), [(SHOPEE, "Shopee"), (GOJEK, "Gojek")])
def test_a_private_company_service_is_out_of_scope_and_named(text: str, service: str) -> None:
    finding = check_scope(text, ScopeRules())
    assert finding is not None
    assert finding.code == Code.PRIVATE_SECTOR
    assert service in finding.detail


@pytest.mark.parametrize(
    "text",
    [
        "Listrik PLN di Perumnas Talang Kelapa padam tiap malam sejak seminggu.",
        "Air PDAM Tirta Musi di Kelurahan Bukit Lama keruh dan berbau selama tiga hari.",
        "Klaim BPJS Kesehatan saya ditolak puskesmas padahal iuran sudah dibayar.",
        "Guru honorer di SD Negeri 12 Prabumulih belum menerima honor tiga bulan.",
    ],
)
def test_state_owned_and_government_services_are_in_scope(text: str) -> None:
    assert check_scope(text, ScopeRules()) is None


def test_telkomsel_is_mixed_ownership_so_an_admin_decides() -> None:
    text = (
        "Sinyal Telkomsel di Desa Sungai Rambutan hilang sejak seminggu, warga tak bisa menelepon."
    )
    finding = check_scope(text, ScopeRules())
    assert finding is not None and finding.code == Code.SCOPE_UNCLEAR
    assert "Telkomsel" in finding.detail


def test_a_private_name_beside_a_public_service_is_unclear_not_private() -> None:
    text = "Saya beli token listrik PLN lewat Tokopedia tetapi token tidak masuk ke meteran."
    finding = check_scope(text, ScopeRules())
    assert finding is not None and finding.code == Code.SCOPE_UNCLEAR


def test_a_shop_alone_may_still_be_a_public_matter() -> None:
    text = "Toko bangunan di Jl. Kapten A. Rivai menaruh pasir di badan jalan, lalu lintas macet."
    finding = check_scope(text, ScopeRules())
    assert finding is not None and finding.code == Code.SCOPE_UNCLEAR


def test_the_private_sector_list_is_configurable() -> None:
    rules = ScopeRules(private=("koperasi maju jaya",), ambiguous=())
    text = "Koperasi Maju Jaya tidak mengembalikan simpanan anggota sejak Maret."
    finding = check_scope(text, rules)
    assert finding is not None and finding.code == Code.PRIVATE_SECTOR
    assert check_scope(SHOPEE, rules) is None


# --- abuse and spam ---------------------------------------------------------------------------


def test_insults_with_nothing_else_are_abusive() -> None:
    finding = check_abuse(ABUSIVE, min_words=6)
    assert finding is not None
    assert finding.code == Code.ABUSIVE


def test_a_real_complaint_with_one_insult_is_only_offensive() -> None:
    finding = check_abuse(ANGRY_BUT_REAL, min_words=6)
    assert finding is not None
    assert finding.code == Code.OFFENSIVE_LANGUAGE


def test_disguised_insults_are_still_found() -> None:
    finding = check_abuse("G0BL0OOK!!! b4ngsaaat", min_words=6)
    assert finding is not None and finding.code == Code.ABUSIVE


@pytest.mark.parametrize(
    "text",
    [
        "Banyak anjing liar berkeliaran di Kelurahan Sukabangun dan sudah menggigit dua anak.",
        "Limbah peternakan babi di Desa Sukamaju mencemari sungai yang dipakai warga mandi.",
    ],
)
def test_animals_are_not_insults_when_nobody_is_called_one(text: str) -> None:
    assert check_abuse(text, min_words=6) is None


def test_gambling_promotion_with_a_link_is_spam() -> None:
    finding = check_spam(SPAM)
    assert finding is not None and finding.code == Code.SPAM


@pytest.mark.parametrize(
    "text",
    [
        "https://bit.ly/3xYzAbc https://s.id/abc",
        "aaaaaaaaaaaaaaaaaaaaaaaa!!!!!!!!!!!!!!",
        "tes tes tes tes tes tes",
    ],
)
def test_links_only_and_repetition_are_spam(text: str) -> None:
    finding = check_spam(text)
    assert finding is not None and finding.code == Code.SPAM


def test_one_promotional_word_is_only_suspected() -> None:
    text = "Saya diteror pinjol ilegal, data kontak disebar dan keluarga diancam di Palembang."
    finding = check_spam(text)
    assert finding is not None and finding.code == Code.SPAM_SUSPECTED


def test_an_angry_complaint_with_exclamation_marks_is_not_spam() -> None:
    assert check_spam(ROAD_PALEMBANG + " Tolong segera!!!") is None


# --- duplicates -------------------------------------------------------------------------------

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def _case(tid: str, text: str, minutes: int, *fingerprints: str) -> OpenCase:
    return OpenCase(tid, T0 + timedelta(minutes=minutes), text_terms(text), frozenset(fingerprints))


def test_a_near_identical_pair_is_similar_and_unrelated_reports_are_not() -> None:
    assert jaccard(text_terms(POTHOLE), text_terms(POTHOLE_AGAIN)) >= 0.8
    assert jaccard(text_terms(POTHOLE), text_terms(ROAD_PALEMBANG)) < 0.3


def test_a_near_identical_report_from_another_reporter_duplicates_the_earlier_case() -> None:
    original = _case("AAAA-AAAA-AAAA", POTHOLE, 0, "fp-siti")
    report = _case("BBBB-BBBB-BBBB", POTHOLE_AGAIN, 30, "fp-budi")
    unrelated = _case("CCCC-CCCC-CCCC", ROAD_PALEMBANG, 10)
    match = find_duplicate(report, [unrelated, original], DuplicateRules())
    assert match is not None
    assert match.tracking_id == "AAAA-AAAA-AAAA"
    assert not match.same_reporter
    finding = check_duplicate(match)
    assert finding is not None and finding.code == Code.DUPLICATE
    assert "AAAA-AAAA-AAAA" in finding.detail


def test_only_an_earlier_case_can_be_the_original() -> None:
    earlier = _case("AAAA-AAAA-AAAA", POTHOLE, 0)
    later = _case("BBBB-BBBB-BBBB", POTHOLE_AGAIN, 30)
    assert find_duplicate(earlier, [later], DuplicateRules()) is None


def test_the_same_reporter_needs_less_similarity_to_be_a_duplicate() -> None:
    first = "Jalan berlubang di Jl. Mayor Ruslan depan Pasar Kuto, pengendara sering terjatuh."
    reworded = (
        "Lubang jalan di Jl. Mayor Ruslan depan Pasar Kuto belum ditambal, sudah dua "
        "pengendara terjatuh minggu ini."
    )
    similarity = jaccard(text_terms(first), text_terms(reworded))
    assert 0.5 <= similarity < 0.8
    rules = DuplicateRules()
    same = find_duplicate(
        _case("BBBB-BBBB-BBBB", reworded, 5, "fp-siti"),
        [_case("AAAA-AAAA-AAAA", first, 0, "fp-siti")],
        rules,
    )
    assert same is not None and same.same_reporter
    other = find_duplicate(
        _case("BBBB-BBBB-BBBB", reworded, 5, "fp-budi"),
        [_case("AAAA-AAAA-AAAA", first, 0, "fp-siti")],
        rules,
    )
    assert other is None


def test_the_same_reporter_with_a_different_problem_is_not_a_duplicate() -> None:
    match = find_duplicate(
        _case("BBBB-BBBB-BBBB", KTP_EL, 5, "fp-siti"),
        [_case("AAAA-AAAA-AAAA", RSUD_QUEUE, 0, "fp-siti")],
        DuplicateRules(),
    )
    assert match is None


def test_duplicate_keys_are_few_and_the_look_up_by_them_misses_no_similar_pair() -> None:
    # Prefix filtering must be exact: every pair above the threshold shares a key.
    rng = random.Random(7)
    vocabulary = [f"{'x' * rng.randint(0, 6)}kata{n}" for n in range(60)]
    sets = [frozenset(rng.sample(vocabulary, rng.randint(5, 30))) for _ in range(300)]
    sets += [s - {min(s)} | {"tambahan"} for s in sets[:100]]  # near-identical variants
    similar_pairs = 0
    for threshold in (0.8, 0.6):
        keys = [set(dedup_keys(s, threshold)) for s in sets]
        for i, j in itertools.combinations(range(len(sets)), 2):
            if jaccard(sets[i], sets[j]) >= threshold:
                similar_pairs += 1
                assert keys[i] & keys[j], (sorted(sets[i]), sorted(sets[j]))
    assert similar_pairs >= 100
    pothole = text_terms(POTHOLE)
    assert len(dedup_keys(pothole, 0.8)) <= 10
    assert set(dedup_keys(pothole, 0.8)) & set(dedup_keys(text_terms(POTHOLE_AGAIN), 0.8))


def test_tiny_term_sets_similar_through_one_shared_term_still_share_a_key() -> None:
    # At a low threshold two sets of a few terms can be similar sharing one term only.
    vocabulary = ["a", "bb", "ccc", "dddd", "eeeee"]
    sets = [frozenset(c) for n in (1, 2, 3) for c in itertools.combinations(vocabulary, n)]
    for threshold in (0.5, 0.3):
        for first, second in itertools.combinations(sets, 2):
            if jaccard(first, second) >= threshold:
                shared = set(dedup_keys(first, threshold)) & set(dedup_keys(second, threshold))
                assert shared, (sorted(first), sorted(second), threshold)


def test_reports_sharing_one_long_rare_word_are_not_candidates_of_each_other() -> None:
    # A word alone as a key made every stored report with it a candidate of every new one,
    # so the look-up grew with the stored cases; a pair of words keeps these two apart.
    first = text_terms("Jalan tergenang di Jl. Sudirman No. 5 dekat sekolah, genangan saat hujan")
    second = text_terms("Jalan tergenang di Jl. Veteran No. 81 depan pasar, motor sering jatuh")
    assert any("tergenang" in key for key in dedup_keys(first, 0.8))
    assert not set(dedup_keys(first, 0.8)) & set(dedup_keys(second, 0.8))


def test_a_category_word_comes_after_the_words_that_tell_two_reports_apart() -> None:
    # Every pothole report says "berlubang", every water report "PDAM": rare in Indonesian
    # at large, so rarest first put them in every such report's keys (KEY_ORDER 2).
    pothole = text_terms("Jalan berlubang di Jl. Sudirman No. 5 dekat sekolah, genangan saat hujan")
    water = text_terms("Air PDAM Tirta Musi di Perumnas Sako blok C7 keruh dan berbau sejak Senin")
    assert TERM_FREQUENCY["berlubang"] < TERM_FREQUENCY["hujan"]
    assert {"berlubang", "pdam", "tirta", "musi", "keruh"} <= CATEGORY_TERMS
    assert not any("berlubang" in key.split() for key in dedup_keys(pothole, 0.8))
    water_keys = dedup_keys(water, 0.8)
    assert water_keys[0] == "perumnas sako"
    assert not {"pdam", "tirta", "musi", "air"} & {t for key in water_keys for t in key.split()}
    # still exact when a report has nothing but category words
    words = text_terms("PDAM Tirta Musi air keruh pipa bocor")
    assert set(words) <= CATEGORY_TERMS and dedup_keys(words, 0.8)


def test_the_keys_pair_the_rarest_terms_a_street_and_a_house_number_before_long_common_words() -> (
    None
):
    # Longest first put "kendaraan" and "tergenang" (long, and in every other complaint)
    # into the keys; what tells two reports apart is rare in Indonesian at large.
    terms = text_terms(
        "Jalan Silaberanti No. 127 berlubang besar, kendaraan sering tergelincir di tikungan "
        "dekat masjid"
    )
    keys = dedup_keys(terms, 0.8)
    assert keys[0] == "silaberanti 127"
    assert not any("kendaraan" in key or "jalan" in key for key in keys)
    assert TERM_FREQUENCY["jalan"] > TERM_FREQUENCY["kendaraan"] > TERM_FREQUENCY["berlubang"]
    assert "silaberanti" not in TERM_FREQUENCY
    # single digits and years are everywhere; other numbers name one house or one RT
    keys = dedup_keys(text_terms("tiang listrik roboh 5 2024 8817 ditimpa pohon"), 0.8)
    assert set(keys[0].split()) == {"8817", "ditimpa"}
    assert not any({"5", "2024"} & set(key.split()) for key in keys)


def test_the_stored_keys_say_which_order_and_similarity_made_them() -> None:
    assert key_version(0.8) == f"{KEY_ORDER}/0.8"
    assert key_version(0.75) != key_version(0.8)

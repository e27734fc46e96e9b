"""What the reporter is told: Bahasa Indonesia, and nothing internal."""

from datetime import UTC, datetime

import pytest

from services.intake.notices import notice_for, tanggal
from shared import topology
from shared.contract import (
    EVENT_NAMES,
    ComplaintArchived,
    ComplaintClosed,
    ComplaintDeferred,
    ComplaintEscalated,
    ComplaintExtensionGranted,
    ComplaintNeedsReview,
    ComplaintReceived,
    ComplaintReminder,
    ComplaintResolved,
)
from shared.lifecycle import ArchiveReason, EscalationTarget, Kind, Status

pytestmark = pytest.mark.unit

TID = "7KQM-X3RT-9DHV"
AT = datetime(2026, 3, 17, 2, 0, tzinfo=UTC)
DEADLINE = datetime(2026, 3, 27, 16, 59, 59, tzinfo=UTC)


def test_dates_are_written_the_indonesian_way_in_local_time() -> None:
    assert tanggal(DEADLINE) == "27 Maret 2026"
    assert tanggal(datetime(2026, 12, 31, 18, 0, tzinfo=UTC)) == "1 Januari 2027"  # WIB


def test_the_acknowledgement_carries_the_tracking_id_and_deadline() -> None:
    event = ComplaintReceived(
        message_id="m",
        tracking_id=TID,
        occurred_at=AT,
        status=Status.RECEIVED,
        channel="sms",
        kind=Kind.PENGADUAN,
        anonymous=False,
        confidential=False,
        verification_deadline=DEADLINE,
    )
    text = notice_for(event)
    assert text is not None
    assert TID in text and "27 Maret 2026" in text


def test_internal_steps_are_not_told() -> None:
    review = ComplaintNeedsReview(
        message_id="m", tracking_id=TID, occurred_at=AT, status=Status.NEEDS_REVIEW
    )
    escalated = ComplaintEscalated(
        message_id="m",
        tracking_id=TID,
        occurred_at=AT,
        status=Status.DISPATCHED,
        level=2,
        target=EscalationTarget.INSPEKTORAT,
        deadline_kind="follow_up",
        deadline=DEADLINE,
    )
    assert notice_for(review) is None
    assert notice_for(escalated) is None


def test_a_duplicate_is_explained_without_naming_the_other_case() -> None:
    event = ComplaintArchived(
        message_id="m",
        tracking_id=TID,
        occurred_at=AT,
        status=Status.ARCHIVED,
        reason=ArchiveReason.DUPLICATE,
        duplicate_of="2222-3333-4444",
    )
    text = notice_for(event)
    assert text is not None and "2222-3333-4444" not in text and "laporan lain" in text


def test_the_private_sector_refusal_says_where_to_go() -> None:
    event = ComplaintArchived(
        message_id="m", tracking_id=TID, occurred_at=AT, status=Status.ARCHIVED,
        reason=ArchiveReason.PRIVATE_SECTOR,
    )  # fmt: skip
    text = notice_for(event)
    assert text is not None and "perusahaan swasta" in text


def test_the_final_answer_is_passed_on_with_how_to_reply() -> None:
    event = ComplaintResolved(
        message_id="m",
        tracking_id=TID,
        occurred_at=AT,
        status=Status.RESOLVED,
        agency="pupr-palembang",
        auto_close_at=DEADLINE,
        reporter_message="Jalan sudah ditambal pada 20 Maret.",
    )
    text = notice_for(event)
    assert text is not None
    assert "Jalan sudah ditambal" in text and "TERIMA" in text and "BUKA" in text


# --- issue 12 ------------------------------------------------------------------------------


def test_the_reporter_hears_of_the_deferral_window_its_reminder_and_its_end() -> None:
    deferred = ComplaintDeferred(
        message_id="m",
        tracking_id=TID,
        occurred_at=AT,
        status=Status.DEFERRED,
        reporter_message="Mohon sebutkan nama jalannya.",
        deferral_deadline=DEADLINE,
    )
    told = notice_for(deferred)
    assert told is not None and "paling lambat 27 Maret 2026" in told and "diarsipkan" in told
    reminder = ComplaintReminder(
        message_id="m",
        tracking_id=TID,
        occurred_at=AT,
        status=Status.DEFERRED,
        deadline_kind="deferral",
        deadline=DEADLINE,
        target=EscalationTarget.PELAPOR,
    )
    reminded = notice_for(reminder)
    assert reminded is not None and reminded.startswith("Pengingat") and "27 Maret" in reminded
    # The liaison's reminder stays inside the government.
    assert notice_for(reminder.model_copy(update={"target": EscalationTarget.PENGHUBUNG})) is None
    expired = ComplaintArchived(
        message_id="m",
        tracking_id=TID,
        occurred_at=AT,
        status=Status.ARCHIVED,
        reason=ArchiveReason.NO_REPLY,
    )
    text = notice_for(expired)
    assert text is not None and "tidak kami terima dalam batas waktunya" in text


def test_a_withdrawal_and_an_extension_are_told_in_their_own_words() -> None:
    withdrawn = ComplaintClosed(
        message_id="m", tracking_id=TID, occurred_at=AT, status=Status.CLOSED, reason="withdrawn"
    )
    text = notice_for(withdrawn)
    assert text is not None and "Anda tarik" in text and "otomatis" not in text
    extended = ComplaintExtensionGranted(
        message_id="m",
        tracking_id=TID,
        occurred_at=AT,
        status=Status.IN_PROGRESS,
        agency="dpu-plg",
        resolution_deadline=DEADLINE,
        previous_deadline=AT,
    )
    told = notice_for(extended)
    assert told is not None and "diperpanjang hingga 27 Maret 2026" in told


def test_the_tracking_link_is_the_portals_lacak_page_or_nothing() -> None:
    from services.intake.notices import tracking_url

    assert tracking_url("https://lapor.example.go.id/", "33E8-JCNG-E6T5") == (
        "https://lapor.example.go.id/lacak/33E8-JCNG-E6T5"
    )
    assert tracking_url(None, "33E8-JCNG-E6T5") is None
    assert tracking_url("", "33E8-JCNG-E6T5") is None


def test_the_relay_is_told_of_every_event_but_the_receipt_intake_sends_itself() -> None:
    bound = {key for _, key in topology.INTAKE_STATUS_RELAY.bindings}
    assert set(EVENT_NAMES) >= topology.NOTIFIED_AT_COMMIT
    assert bound == {f"complaint.{n}" for n in EVENT_NAMES if n not in topology.NOTIFIED_AT_COMMIT}
    # The old catch-all binding is taken away where the topology is declared.
    assert ("intake.status-relay", topology.EVENTS, "complaint.#") in topology.OBSOLETE_BINDINGS

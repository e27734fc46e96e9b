"""The leaders' recap over hand-made cases, counted by hand (November 2026 has no holidays).

The recap is taken on Mon 23 Nov 2026, 10:00 WIB.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from lapor.commands.recap import render
from services.escalation.recap import ADMIN_NAME, CaseFacts, median, recap_of
from shared.calendar import WorkingCalendar
from shared.lifecycle import Severity, Status
from shared.sla import SlaPolicy

pytestmark = pytest.mark.unit

WIB = ZoneInfo("Asia/Jakarta")
CAL = WorkingCalendar()
SLA = SlaPolicy()
NOW = dt.datetime(2026, 11, 23, 10, tzinfo=WIB)


def wib(month: int, day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=WIB)


def dispatched(
    status: Status,
    disposed_at: dt.datetime,
    first_answer_at: dt.datetime | None = None,
    agency: str = "dinkes-sumsel",
) -> CaseFacts:
    doc: dict[str, Any] = {
        "_id": "7KQM-X3RT-9DHV",
        "status": str(status),
        "agency": agency,
        "agency_name": {"dinkes-sumsel": "Dinas Kesehatan", "dpu-plg": "Dinas PU"}[agency],
        "dispatched_at": disposed_at,
        "first_answer_at": first_answer_at,
        "deadlines": {
            "follow_up": SLA.follow_up_deadline(CAL, disposed_at),
            "resolution": SLA.resolution_deadline(CAL, disposed_at, Severity.SEDANG),
        },
    }
    if status is Status.RESOLVED and first_answer_at:
        doc["deadlines"]["auto_close"] = SLA.auto_close_at(CAL, first_answer_at)
    return CaseFacts.from_document(doc)


def at_admin(status: Status, received_at: dt.datetime) -> CaseFacts:
    return CaseFacts.from_document(
        {
            "_id": "7KQM-X3RT-9DHW",
            "status": str(status),
            "deadlines": {"verification": SLA.verification_deadline(CAL, received_at)},
        }
    )


HEALTH = [
    # Answered on Wed 4 Nov: 2 working days, 48 h, within the follow-up deadline (Mon 9);
    # still open past its resolution deadline (Fri 20 Nov): overdue.
    dispatched(Status.IN_PROGRESS, wib(11, 2), wib(11, 4)),
    # Answered on Thu 12 Nov: 8 working days, 240 h, late; since resolved, not overdue.
    dispatched(Status.RESOLVED, wib(11, 2), wib(11, 12)),
    # Disposed Mon 16 Nov, no answer yet, deadline Mon 23 Nov still ahead: not decided.
    dispatched(Status.DISPATCHED, wib(11, 16)),
    # Disposed Mon 2 Nov, never answered: overdue, and a miss.
    dispatched(Status.DISPATCHED, wib(11, 2)),
    # Answered the next day, closed: 1 working day, 24 h, within.
    dispatched(Status.CLOSED, wib(10, 26), wib(10, 27)),
]
ROADS = [dispatched(Status.DISPATCHED, wib(11, 20), agency="dpu-plg")]
ADMIN = [
    at_admin(Status.NEEDS_REVIEW, wib(11, 16)),  # verification deadline Thu 19 Nov: overdue
    at_admin(Status.ARCHIVED, wib(11, 16)),
]


@pytest.mark.parametrize(
    ("values", "expected"),
    [([], None), ([3.0], 3.0), ([1.0, 3.0], 2.0), ([5.0, 1.0, 3.0], 3.0), ([8, 1, 2, 4], 3.0)],
)
def test_median(values: list[float], expected: float | None) -> None:
    assert median(values) == expected


def test_a_row_per_agency_then_the_admin_then_the_total() -> None:
    recap = recap_of(HEALTH + ROADS + ADMIN, NOW, CAL)
    assert [row.name for row in recap.rows] == ["Dinas Kesehatan", "Dinas PU", ADMIN_NAME]
    health, roads, admin = recap.rows

    assert health.agency == "dinkes-sumsel"
    assert health.received == 5
    assert dict(health.by_status) == {
        Status.DISPATCHED: 2,
        Status.IN_PROGRESS: 1,
        Status.RESOLVED: 1,
        Status.CLOSED: 1,
    }
    assert (health.in_progress, health.resolved, health.overdue) == (3, 2, 2)
    assert health.answered == 3
    assert health.median_first_answer_days == 2  # of 1, 2, 8
    assert health.median_first_answer_hours == 48  # of 24, 48, 240
    assert (health.within_sla, health.sla_decided) == (2, 4)
    assert health.sla_share == 0.5

    assert (roads.received, roads.in_progress, roads.overdue, roads.answered) == (1, 1, 0, 0)
    assert roads.median_first_answer_days is None
    assert roads.sla_share is None  # its deadline is still ahead

    assert admin.agency is None
    assert (admin.received, admin.in_progress, admin.resolved, admin.overdue) == (2, 1, 0, 1)

    total = recap.total
    assert total is not None
    assert (total.received, total.in_progress, total.resolved, total.overdue) == (8, 5, 2, 3)
    assert (total.within_sla, total.sla_decided) == (2, 4)
    assert total.median_first_answer_days == 2


def test_an_answer_from_before_the_latest_dispatch_is_not_this_agencys_first_answer() -> None:
    forwarded = dispatched(Status.DISPATCHED, wib(11, 16), first_answer_at=wib(11, 4))
    [row] = recap_of([forwarded], NOW, CAL).rows
    assert row.answered == 0
    assert row.median_first_answer_hours is None
    assert row.sla_decided == 0  # the new agency's deadline (Mon 23 Nov) is still ahead


def test_the_table_a_leader_reads() -> None:
    text = render(recap_of(HEALTH + ROADS + ADMIN, NOW, CAL), "Asia/Jakarta")
    assert text.startswith("Rekap LAPOR per instansi, keadaan 23 November 2026 10.00 WIB")
    [health] = [line for line in text.splitlines() if line.startswith("Dinas Kesehatan")]
    assert health.split()[3:] == [
        *("5", "3", "2", "2"),  # received, in progress, resolved, overdue
        *("2", "hari", "kerja", "(48", "jam)"),
        *("50%", "(2/4)"),
        *("0", "0"),  # forwarded, extended
    ]
    assert text.count("50% (2/4)") == 2  # the agency and the total
    assert "didisposisi 2, ditindaklanjuti 1, selesai 1, ditutup 1" in text
    assert render(recap_of([], NOW, CAL), "Asia/Jakarta").endswith("Belum ada laporan.\n")


# --- per hop (issue 12) ---------------------------------------------------------------------

HEALTH_CODE, SOCIAL, ROADS_CODE = "dinkes-sumsel", "dinsos-sumsel", "dpu-plg"


def three_hop_case() -> CaseFacts:
    """Health forwards after 2 working days, social affairs answers then forwards, roads
    resolves: received Mon 2 Nov 08:00, verified 14:00, resolved Mon 16 Nov 09:00."""
    hop1, hop2, hop3 = wib(11, 3), wib(11, 5), wib(11, 10)
    return CaseFacts.from_document(
        {
            "_id": "7KQM-X3RT-9DHX",
            "status": "resolved",
            "agency": ROADS_CODE,
            "agency_name": "Dinas PU",
            "received_at": wib(11, 2, 8),
            "verified_at": wib(11, 2, 14),
            "dispatched_at": hop3,
            "first_answer_at": wib(11, 6),  # the earliest answer of any hop, as stored
            "resolved_at": wib(11, 16),
            "hops": [
                {"agency": HEALTH_CODE, "agency_name": "Dinas Kesehatan", "at": hop1,
                 "ended_at": hop2, "outcome": "not_our_authority"},
                {"agency": SOCIAL, "agency_name": "Dinas Sosial", "at": hop2,
                 "ended_at": hop3, "outcome": "not_our_authority"},
                {"agency": ROADS_CODE, "agency_name": "Dinas PU", "at": hop3},
            ],
            "timeline": [
                {"at": wib(11, 2, 14), "step": "verify"},
                {"at": hop1, "step": "dispatch", "agency": HEALTH_CODE},
                {"at": hop2, "step": "forward", "agency": SOCIAL},
                {"at": wib(11, 6), "step": "acknowledge", "agency": SOCIAL},
                {"at": hop3, "step": "forward", "agency": ROADS_CODE},
                {"at": wib(11, 11), "step": "follow_up", "agency": ROADS_CODE},
                {"at": wib(11, 16), "step": "resolve", "agency": ROADS_CODE},
            ],
            "deadlines": {"auto_close": wib(11, 30)},
        }
    )  # fmt: skip


def test_a_three_hop_case_counts_for_all_three_agencies_with_their_own_times() -> None:
    recap = recap_of([three_hop_case()], NOW, CAL)
    rows = {row.agency: row for row in recap.rows}
    assert set(rows) == {HEALTH_CODE, SOCIAL, ROADS_CODE}  # no admin row: nothing waits there
    health, social, roads = rows[HEALTH_CODE], rows[SOCIAL], rows[ROADS_CODE]
    assert [r.received for r in (health, social, roads)] == [1, 1, 1]
    assert [r.forwarded for r in (health, social, roads)] == [1, 1, 0]
    assert [r.resolved for r in (health, social, roads)] == [0, 0, 1]  # status stays with roads
    assert dict(health.by_status) == {} and dict(roads.by_status) == {Status.RESOLVED: 1}

    def hours(time: object) -> float | None:
        return getattr(time, "median_hours", None)

    # Health held it Tue 3 -> Thu 5 Nov: 2 working days, 48 h, never answered.
    assert health.to_forward is not None and health.held is not None
    assert (health.to_forward.median_days, health.to_forward.median_hours) == (2, 48)
    assert health.held.median_hours == 48 and health.steps["first_answer"].count == 0
    # Social affairs answered the next day (24 h), forwarded Tue 10 Nov (3 days, 120 h).
    assert hours(social.steps["first_answer"]) == 24
    assert social.to_forward is not None
    assert (social.to_forward.median_days, social.to_forward.median_hours) == (3, 120)
    # Roads answered Wed 11 (1 day, 24 h) and resolved Mon 16 Nov (4 days, 144 h).
    assert (roads.steps["first_answer"].median_days, hours(roads.steps["first_answer"])) == (1, 24)
    assert (roads.steps["resolution"].median_days, hours(roads.steps["resolution"])) == (4, 144)
    assert roads.to_forward is not None and roads.to_forward.count == 0

    total = recap.total
    assert total is not None and total.received == 1 and total.forwarded == 1
    assert hours(total.steps["verification"]) == 6  # Mon 08:00 -> 14:00, same day
    assert (total.steps["disposition"].median_days, hours(total.steps["disposition"])) == (1, 19)
    assert total.steps["first_answer"].count == 2 and hours(total.steps["first_answer"]) == 24
    assert hours(total.steps["resolution"]) == 144

    text = render(recap, "Asia/Jakarta")
    assert "Dinas Kesehatan (dinkes-sumsel): lama memegang 2 hari kerja (48 jam), meneruskan" in (
        text
    )
    assert "Dinas PU (dpu-plg): jawaban pertama 1 hari kerja (24 jam), penyelesaian 4" in text


def test_extended_cases_are_shown_and_late_returned_cases_in_the_admin_row() -> None:
    extended = CaseFacts.from_document(
        {
            "_id": "7KQM-X3RT-9DHY",
            "status": "in_progress",
            "agency": ROADS_CODE,
            "agency_name": "Dinas PU",
            "dispatched_at": wib(11, 2),
            "first_answer_at": wib(11, 3),
            "deadlines": {"follow_up": wib(11, 9, 23), "resolution": wib(12, 4, 23)},
            "extension": {"state": "granted"},
        }
    )
    returned = CaseFacts.from_document(
        {
            "_id": "7KQM-X3RT-9DHZ",
            "status": "awaiting_routing",
            "dispatched_at": wib(11, 16),
            "hops": [
                {"agency": HEALTH_CODE, "agency_name": "Dinas Kesehatan", "at": wib(11, 16),
                 "ended_at": wib(11, 18), "outcome": "not_our_authority"},
            ],
            "deadlines": {"admin_desk": wib(11, 19, 23)},
        }
    )  # fmt: skip
    recap = recap_of([extended, returned], NOW, CAL)
    rows = {row.name: row for row in recap.rows}
    assert rows["Dinas PU"].extended == 1 and rows["Dinas PU"].overdue == 0  # granted: Fri 4 Dec
    admin = rows[ADMIN_NAME]
    assert (admin.received, admin.returned_late, admin.overdue) == (1, 1, 1)
    assert rows["Dinas Kesehatan"].forwarded == 1  # handed back counts as forwarded for it
    text = render(recap, "Asia/Jakarta")
    assert "dikembalikan ke admin dan terlambat 1" in text
    assert text.count("Diperpanjang") >= 1


def test_a_withdrawn_case_is_closed_but_not_counted_as_resolved() -> None:
    withdrawn = CaseFacts.from_document(
        {
            "_id": "7KQM-X3RT-9DJ2",
            "status": "closed",
            "close_reason": "withdrawn",
            "closed_at": wib(11, 10),
            "agency": ROADS_CODE,
            "agency_name": "Dinas PU",
            "dispatched_at": wib(11, 2),
            "deadlines": {"follow_up": wib(11, 9, 23)},
        }
    )
    accepted = dispatched(Status.CLOSED, wib(10, 26), wib(10, 27), agency="dpu-plg")
    [roads] = recap_of([withdrawn, accepted], NOW, CAL).rows
    assert (roads.received, roads.resolved, roads.withdrawn, roads.in_progress) == (2, 1, 1, 0)
    assert roads.held is not None and roads.held.count == 2  # held until it was withdrawn
    assert "ditarik pelapor 1" in render(recap_of([withdrawn], NOW, CAL), "Asia/Jakarta")

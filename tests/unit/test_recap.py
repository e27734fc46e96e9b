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
    ]
    assert text.count("50% (2/4)") == 2  # the agency and the total
    assert "didisposisi 2, ditindaklanjuti 1, selesai 1, ditutup 1" in text
    assert render(recap_of([], NOW, CAL), "Asia/Jakarta").endswith("Belum ada laporan.\n")

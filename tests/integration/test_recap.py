"""``lapor recap`` against the MongoDB server: the leaders' table for the stored cases.

The cases are stored as routing would leave them; the recap is taken on Mon 23 Nov 2026,
10:00 WIB (no holidays in November 2026).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from lapor import cli
from shared.calendar import WorkingCalendar
from shared.contract import Reporter
from shared.lifecycle import Severity
from shared.pii import IdentityProtector
from shared.settings import IntakeSettings
from shared.sla import SlaPolicy
from shared.storage import Store
from shared.tracking import new_tracking_id

pytestmark = pytest.mark.integration

WIB = ZoneInfo("Asia/Jakarta")
CAL = WorkingCalendar()
SLA = SlaPolicy()
AT = "2026-11-23T10:00:00+07:00"
AGENCIES = {
    "dinkes-sumsel": "Dinas Kesehatan Provinsi Sumatera Selatan",
    "dpu-palembang": "Dinas Pekerjaan Umum Kota Palembang",
}


def wib(month: int, day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=WIB)


def stored_case(
    protector: IdentityProtector,
    status: str,
    agency: str | None = None,
    disposed_at: dt.datetime | None = None,
    first_answer_at: dt.datetime | None = None,
) -> dict[str, Any]:
    tid = new_tracking_id()
    received_at = (disposed_at or wib(11, 16)) - dt.timedelta(days=1)
    doc: dict[str, Any] = {
        "_id": tid,
        "tracking_id": tid,
        "channel": "sms",
        "external_id": f"sms-{tid}",
        "kind": "pengaduan",
        "description": "Antrean rumah sakit sangat panjang.",
        "reporter": {
            "sealed": protector.seal_model(Reporter(name="Budi Santoso"), tid),
            "fingerprints": [],
            "has_contact": False,
        },
        "status": status,
        "received_at": received_at,
        "deadlines": {"verification": SLA.verification_deadline(CAL, received_at)},
        "timeline": [],
    }
    if agency and disposed_at:
        doc |= {
            "agency": agency,
            "agency_name": AGENCIES[agency],
            "dispatched_at": disposed_at,
            "severity": "sedang",
        }
        doc["deadlines"] |= {
            "follow_up": SLA.follow_up_deadline(CAL, disposed_at),
            "resolution": SLA.resolution_deadline(CAL, disposed_at, Severity.SEDANG),
        }
    if first_answer_at:
        doc["first_answer_at"] = first_answer_at
    return doc


async def run_lapor(monkeypatch: pytest.MonkeyPatch, settings: IntakeSettings, *argv: str) -> int:
    """``lapor <argv>`` as an operator runs it, with the test database configured."""
    monkeypatch.setenv("LAPOR_MONGO_URL", settings.mongo_url.get_secret_value())
    monkeypatch.setenv("LAPOR_MONGO_DB", settings.mongo_db)
    # The command runs its own event loop, as it does from a shell.
    return await asyncio.to_thread(cli.main, list(argv))


async def test_lapor_recap_prints_a_row_per_agency_with_its_numbers(
    store: Store,
    settings: IntakeSettings,
    protector: IdentityProtector,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    health, roads = AGENCIES
    await store.complaints.insert_many(
        [
            # Answered Wed 4 Nov (2 working days, 48 h, in time); past its resolution
            # deadline (Fri 20 Nov) and still open: overdue.
            stored_case(protector, "in_progress", health, wib(11, 2), wib(11, 4)),
            # Answered Thu 12 Nov: 8 working days, 240 h, late. Resolved.
            stored_case(protector, "resolved", health, wib(11, 2), wib(11, 12)),
            # Answered the next day (1 working day, 24 h), closed.
            stored_case(protector, "closed", health, wib(10, 26), wib(10, 27)),
            # Never answered, deadline Mon 9 Nov passed: overdue, and a miss.
            stored_case(protector, "dispatched", health, wib(11, 2)),
            # Disposed Fri 20 Nov, deadline ahead: neither overdue nor decided.
            stored_case(protector, "dispatched", roads, wib(11, 20)),
            # With the admin, verification deadline (Thu 19 Nov) passed: overdue.
            stored_case(protector, "needs_review"),
        ]
    )

    code = await run_lapor(monkeypatch, settings, "recap", "--at", AT)
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "Rekap LAPOR per instansi, keadaan 23 November 2026 10.00 WIB"

    def row(name: str) -> list[str]:
        [line] = [line for line in lines if line.startswith(name)]
        return line[len(name) :].split()

    assert row(f"{AGENCIES[health]} ({health})") == [
        *("4", "2", "2", "2"),  # received, in progress, resolved, overdue
        *("2", "hari", "kerja", "(48", "jam)"),  # median of 1, 2, 8 days / 24, 48, 240 h
        *("50%", "(2/4)"),  # in time: 2 of the 4 decided (1 late, 1 never answered)
        *("0", "0"),  # forwarded, extended
    ]
    assert row(f"{AGENCIES[roads]} ({roads})") == ["1", "1", "0", "0", "-", "-", "0", "0"]
    assert row("Admin LAPOR (belum didisposisi)") == ["1", "1", "0", "1", "-", "-", "0", "0"]
    assert row("Semua") == [
        *("6", "4", "2", "3", "2", "hari", "kerja", "(48", "jam)", "50%", "(2/4)", "0", "0")
    ]
    # Agencies in alphabetical order of their names, then the admin, then the total.
    names = [AGENCIES[health], AGENCIES[roads], "Admin LAPOR", "Semua"]
    positions = [next(i for i, line in enumerate(lines) if line.startswith(n)) for n in names]
    assert positions == sorted(positions)
    assert "Budi" not in out

    code = await run_lapor(monkeypatch, settings, "recap", "--at", AT, "--json")
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    by_agency = {r["agency"]: r for r in data["rows"]}
    assert by_agency[health]["by_status"] == {
        "dispatched": 1,
        "in_progress": 1,
        "resolved": 1,
        "closed": 1,
    }
    assert by_agency[health]["median_first_answer_hours"] == 48.0
    assert by_agency[health]["sla_share"] == 0.5
    assert data["total"]["received"] == 6


async def test_lapor_recap_of_an_empty_database_says_so(
    store: Store,
    settings: IntakeSettings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = await run_lapor(monkeypatch, settings, "recap", "--at", AT)
    assert code == 0
    assert capsys.readouterr().out.endswith("Belum ada laporan.\n")


async def test_lapor_recap_counts_a_forwarded_case_for_the_agency_that_held_it_first(
    store: Store,
    settings: IntakeSettings,
    protector: IdentityProtector,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    health, roads = AGENCIES
    case = stored_case(protector, "in_progress", roads, wib(11, 5), wib(11, 6))
    case["hops"] = [
        {"hop": 1, "agency": health, "agency_name": AGENCIES[health], "at": wib(11, 3),
         "ended_at": wib(11, 5), "outcome": "not_our_authority", "reason": "bukan kami"},
        {"hop": 2, "agency": roads, "agency_name": AGENCIES[roads], "at": wib(11, 5)},
    ]  # fmt: skip
    case["timeline"] = [
        {"at": wib(11, 6), "step": "acknowledge", "agency": roads, "note": "Budi diterima"},
    ]
    await store.complaints.insert_one(case)

    code = await run_lapor(monkeypatch, settings, "recap", "--at", AT, "--json")
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    by_agency = {r["agency"]: r for r in data["rows"]}
    assert (by_agency[health]["received"], by_agency[health]["forwarded"]) == (1, 1)
    assert by_agency[health]["in_progress"] == 0  # the status stays with the holder
    assert by_agency[health]["to_forward"]["median_hours"] == 48.0
    assert by_agency[roads]["steps"]["first_answer"]["median_hours"] == 24.0
    assert "Budi" not in json.dumps(data)

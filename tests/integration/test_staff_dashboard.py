"""The leaders' dashboard against the MongoDB server: its numbers are ``lapor recap --json``'s,
its charts draw those numbers, its filters and CSV export, and a leader's agency scope."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest

from services.portal.staff.dashboard import (
    DashboardFilter,
    build_dashboard,
    recap_chart,
    recap_csv,
    trend_chart,
)
from shared.calendar import WorkingCalendar
from shared.pii import IdentityProtector
from shared.settings import IntakeSettings
from shared.storage import Store
from tests.integration.test_recap import AGENCIES, AT, run_lapor, stored_case, wib

pytestmark = pytest.mark.integration

CAL = WorkingCalendar()
NOW = dt.datetime.fromisoformat(AT)


async def _store_cases(store: Store, protector: IdentityProtector) -> None:
    health, roads = AGENCIES
    docs = [
        stored_case(protector, "in_progress", health, wib(11, 2), wib(11, 4)),
        stored_case(protector, "resolved", health, wib(11, 2), wib(11, 12)),
        stored_case(protector, "closed", health, wib(10, 26), wib(10, 27)),
        stored_case(protector, "dispatched", health, wib(11, 2)),
        stored_case(protector, "dispatched", roads, wib(11, 20)),
        stored_case(protector, "needs_review"),
    ]
    for i, doc in enumerate(docs):
        doc["category"] = "kesehatan" if doc.get("agency") == health else "jalan"
        doc["location"] = {"region_code": "16.71.01" if i % 2 else "16.02"}
    await store.complaints.insert_many(docs)


def _chart_values(svg: str) -> list[int]:
    return [int(float(v)) for v in re.findall(r'<desc class="value">([^<]*)</desc>', svg)]


async def test_the_dashboard_shows_exactly_the_numbers_of_lapor_recap(
    store: Store,
    settings: IntakeSettings,
    protector: IdentityProtector,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await _store_cases(store, protector)
    assert await run_lapor(monkeypatch, settings, "recap", "--json", "--at", AT) == 0
    from_cli = json.loads(capsys.readouterr().out)

    board = await build_dashboard(store, CAL, NOW, DashboardFilter())
    assert board.recap.to_dict() == from_cli
    assert from_cli["total"]["received"] == 6  # the comparison is not of two empty recaps

    # The chart draws the same numbers: per agency received, in progress, resolved, late.
    rows = from_cli["rows"]
    expected = [r[key] for key in ("received", "in_progress", "resolved", "overdue") for r in rows]
    assert _chart_values(recap_chart(board.recap)) == expected


async def test_weekly_trends_count_every_report_once_per_dimension(
    store: Store, protector: IdentityProtector
) -> None:
    await _store_cases(store, protector)
    board = await build_dashboard(store, CAL, NOW, DashboardFilter())
    for trend in board.trends.values():
        assert trend.total == 6
        assert sum(_chart_values(trend_chart(trend))) == 6
    assert set(board.trends["region"].series) == {"16.71", "16.02"}
    assert {k: sum(v) for k, v in board.trends["category"].series.items()} == {
        "kesehatan": 4,
        "jalan": 2,
    }


async def test_filters_narrow_the_recap_and_a_leader_sees_only_their_agency(
    store: Store, protector: IdentityProtector
) -> None:
    health, roads = AGENCIES
    await _store_cases(store, protector)
    by_agency = await build_dashboard(store, CAL, NOW, DashboardFilter(agency=roads))
    assert by_agency.recap.total is not None
    assert by_agency.recap.total.received == 1
    by_region = await build_dashboard(store, CAL, NOW, DashboardFilter(region="16.71"))
    assert by_region.recap.total is not None
    assert by_region.recap.total.received == 3
    by_category = await build_dashboard(store, CAL, NOW, DashboardFilter(category="kesehatan"))
    assert by_category.recap.total is not None
    assert by_category.recap.total.received == 4
    # Received from 1 Nov on: the case disposed 26 Oct (received the day before) drops out.
    period = DashboardFilter(since=dt.date(2026, 11, 1), until=dt.date(2026, 11, 30))
    by_period = await build_dashboard(store, CAL, NOW, period)
    assert by_period.recap.total is not None
    assert by_period.recap.total.received == 5

    leader = await build_dashboard(store, CAL, NOW, DashboardFilter(), frozenset({health}))
    assert [row.agency for row in leader.recap.rows] == [health]
    other = await build_dashboard(
        store, CAL, NOW, DashboardFilter(agency=roads), frozenset({health})
    )
    assert other.recap.total is not None
    assert other.recap.total.received == 0


async def test_the_csv_export_has_the_recap_rows_and_total(
    store: Store, protector: IdentityProtector
) -> None:
    await _store_cases(store, protector)
    board = await build_dashboard(store, CAL, NOW, DashboardFilter())
    table = list(csv.DictReader(io.StringIO(recap_csv(board.recap))))
    assert [row["instansi"] for row in table][-1] == "Semua"
    assert [int(row["diterima"]) for row in table] == [
        row.received for row in [*board.recap.rows, board.recap.total] if row
    ]

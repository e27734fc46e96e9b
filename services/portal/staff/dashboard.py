"""The leaders' dashboard: the recap per agency (the very numbers of ``lapor recap``), weekly
trends by category, channel and region, filters, CSV export, and charts drawn with pygal.

The recap rows come from :func:`services.escalation.recap.recap_of`, the function ``lapor
recap`` uses; with no filter the dashboard's rows are exactly ``lapor recap --json``'s.
Charts are SVG files the portal serves itself (no CDN, no script runs: they are shown
as images), each beside a table with the same numbers for screen readers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pygal
from pygal.style import Style

from services.escalation.recap import PROJECTION, CaseFacts, Recap, recap_of
from services.portal.regions import region_name
from shared.calendar import WorkingCalendar
from shared.storage import Store

#: What the trends read: no identity, no content.
TREND_PROJECTION = {
    "received_at": 1, "category": 1, "category_hint": 1, "channel": 1, "location.region_code": 1,
}  # fmt: skip

DIMENSIONS = {"category": "Kategori", "channel": "Kanal", "region": "Wilayah"}
OTHERS = "lainnya"
_TOP = 6

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")

STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1b1b1b",
    foreground_strong="#1b1b1b",
    foreground_subtle="#6b6b6b",
    colors=("#0b5394", "#e69138", "#38761d", "#cc0000", "#674ea7", "#45818e", "#999999"),
    font_family="sans-serif",
)


@dataclass(frozen=True)
class DashboardFilter:
    """Period (local dates, inclusive), agency, region (Kemendagri prefix) and category."""

    since: dt.date | None = None
    until: dt.date | None = None
    agency: str | None = None
    region: str | None = None
    category: str | None = None

    def query(self, calendar: WorkingCalendar) -> dict[str, Any]:
        """The MongoDB filter on the complaints."""
        query: dict[str, Any] = {}
        period: dict[str, dt.datetime] = {}
        if self.since:
            period["$gte"] = calendar.start_of_day(self.since)
        if self.until:
            period["$lt"] = calendar.start_of_day(self.until + dt.timedelta(days=1))
        if period:
            query["received_at"] = period
        if self.agency:
            query["agency"] = self.agency
        if self.region:
            query["location.region_code"] = {"$regex": f"^{re.escape(self.region)}"}
        if self.category:
            query["category"] = self.category
        return query

    def as_params(self) -> dict[str, str]:
        """As URL query parameters (for the CSV and chart links)."""
        values = {
            "dari": self.since.isoformat() if self.since else None,
            "sampai": self.until.isoformat() if self.until else None,
            "instansi": self.agency,
            "wilayah": self.region,
            "kategori": self.category,
        }
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class WeeklyTrend:
    """Reports received per week (Monday, local date), split by one dimension's values."""

    dimension: str
    weeks: list[dt.date]
    series: dict[str, list[int]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Every report counted in the trend."""
        return sum(sum(values) for values in self.series.values())


@dataclass(frozen=True)
class Dashboard:
    """Everything the dashboard page shows."""

    recap: Recap
    trends: dict[str, WeeklyTrend]
    scope: dict[str, Any]


def scoped(filt: DashboardFilter, own_agencies: frozenset[str]) -> dict[str, Any]:
    """A leader of some agencies sees only those; an empty set means the whole deployment."""
    if not own_agencies:
        return {}
    if filt.agency and filt.agency not in own_agencies:
        return {"agency": {"$in": []}}  # asked for another agency: nothing
    return {} if filt.agency else {"agency": {"$in": sorted(own_agencies)}}


async def build_dashboard(
    store: Store,
    calendar: WorkingCalendar,
    now: dt.datetime,
    filt: DashboardFilter,
    own_agencies: frozenset[str] = frozenset(),
) -> Dashboard:
    """The recap and the weekly trends for the filtered cases at ``now``."""
    query = filt.query(calendar) | scoped(filt, own_agencies)
    docs = [doc async for doc in store.complaints.find(query, PROJECTION | TREND_PROJECTION)]
    recap = recap_of((CaseFacts.from_document(doc) for doc in docs), now, calendar)
    trends = {dim: weekly_trend(docs, dim, calendar) for dim in DIMENSIONS}
    return Dashboard(recap, trends, query)


def dimension_value(doc: Mapping[str, Any], dimension: str) -> str:
    """A case's value along a trend dimension (regions at regency/city level, e.g. 16.71)."""
    if dimension == "category":
        return str(doc.get("category") or doc.get("category_hint") or "tanpa kategori")
    if dimension == "channel":
        return str(doc.get("channel") or "-")
    code = str((doc.get("location") or {}).get("region_code") or "")
    return ".".join(code.split(".")[:2]) if code else "tanpa wilayah"


def value_label(dimension: str, value: str, categories: Mapping[str, str] | None = None) -> str:
    """A trend value as people read it: a region's name (``Kota Palembang``), a category's
    label (``Air bersih``), not their codes; other values as they are. The series stay keyed
    by the value (the data)."""
    if dimension == "region" and value not in (OTHERS, "tanpa wilayah"):
        return region_name(value) or value
    if dimension == "category" and value not in (OTHERS, "tanpa kategori"):
        return (categories or {}).get(value) or value.replace("_", " ").capitalize()
    return value


def week_of(moment: dt.datetime, calendar: WorkingCalendar) -> dt.date:
    """The Monday (local date) of the week an instant falls in."""
    day = calendar.local_date(moment)
    return day - dt.timedelta(days=day.weekday())


def weekly_trend(
    docs: Sequence[Mapping[str, Any]], dimension: str, calendar: WorkingCalendar
) -> WeeklyTrend:
    """Counts per week per value; the most frequent values by name, the rest as "lainnya"."""
    dated = [(week_of(d["received_at"], calendar), dimension_value(d, dimension)) for d in docs
             if d.get("received_at")]  # fmt: skip
    if not dated:
        return WeeklyTrend(dimension, [])
    first, last = min(w for w, _ in dated), max(w for w, _ in dated)
    weeks = [first + dt.timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]
    totals = Counter(value for _, value in dated)
    top = {value for value, _ in totals.most_common(_TOP)}
    counts = Counter((week, value if value in top else OTHERS) for week, value in dated)
    names = sorted(top) + ([OTHERS] if len(totals) > len(top) else [])
    return WeeklyTrend(
        dimension, weeks, {name: [counts[(week, name)] for week in weeks] for name in names}
    )


def week_label(week: dt.date) -> str:
    """``23 Nov`` (the week's Monday)."""
    return f"{week.day} {_MONTHS[week.month - 1]}"


def _chart(chart_type: Any, title: str) -> Any:
    # No scripts from anywhere (pygal would link its tooltips from the web): shown as images.
    return chart_type(
        js=[],
        style=STYLE,
        title=title,
        width=800,
        height=380,
        legend_at_bottom=True,
        print_values=False,
        disable_xml_declaration=False,
        x_label_rotation=0,
        show_y_guides=True,
        truncate_legend=40,
    )


def _whole_numbers(chart: Any, values: list[int]) -> None:
    """Counts on the y axis, never fractions: whole steps up to the largest bar."""
    top = max([*values, 1])
    step = max(1, -(-top // 8))
    chart.y_labels = list(range(0, top + step, step))
    chart.range = (0, top + step if top % step else top)


def recap_chart(recap: Recap) -> str:
    """Per agency: received, in progress, resolved and late, as grouped bars (SVG)."""
    chart = _chart(pygal.Bar, "Laporan per instansi")
    rows = list(recap.rows)
    chart.x_labels = [row.agency or "admin" for row in rows]
    chart.add("Diterima", [row.received for row in rows])
    chart.add("Diproses", [row.in_progress for row in rows])
    chart.add("Selesai", [row.resolved for row in rows])
    chart.add("Terlambat", [row.overdue for row in rows])
    _whole_numbers(chart, [row.received for row in rows])
    return str(chart.render(is_unicode=True))


def trend_chart(trend: WeeklyTrend, categories: Mapping[str, str] | None = None) -> str:
    """Reports per week by one dimension, as stacked bars (SVG); ``categories`` labels the
    category codes."""
    chart = _chart(
        pygal.StackedBar, f"Laporan masuk per minggu menurut {DIMENSIONS[trend.dimension].lower()}"
    )
    chart.x_labels = [week_label(week) for week in trend.weeks]
    for name, values in trend.series.items():
        chart.add(value_label(trend.dimension, name, categories), values)
    weekly = [sum(column) for column in zip(*trend.series.values(), strict=True)]
    _whole_numbers(chart, weekly)
    return str(chart.render(is_unicode=True))


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

CSV_HEADER = (
    "kode_instansi", "instansi", "diterima", "diproses", "selesai", "terlambat",
    "median_jawaban_pertama_hari_kerja", "median_jawaban_pertama_jam", "tepat_waktu",
    "sudah_dinilai", "persen_tepat_waktu", "kode_wilayah", "wilayah",
)  # fmt: skip


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet must not run a cell as a formula.
    return "'" + text if text.startswith(_FORMULA_START) else text


def recap_csv(recap: Recap, region: str | None = None) -> str:
    """The recap's rows and total as CSV (UTF-8, comma-separated, one header line); each
    row names the region the numbers are for (the filter's; empty: every region), by its
    Kemendagri code and its name."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in [*recap.rows, *([recap.total] if recap.total else [])]:
        share = None if row.sla_share is None else round(row.sla_share * 100, 1)
        writer.writerow(
            _cell(v)
            for v in (
                row.agency or "", row.name, row.received, row.in_progress, row.resolved,
                row.overdue, row.median_first_answer_days, row.median_first_answer_hours,
                row.within_sla, row.sla_decided, share, region or "",
                region_name(region) or "",
            )
        )  # fmt: skip
    return out.getvalue()

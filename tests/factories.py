"""Cases for tests, built by the very code intake stores them with (``shared.case.new_case``).

A test that needs a case in a later state starts from :func:`received` and applies the
fields that state has (:func:`dispatched`), so the document never drifts from intake's.
"""

from __future__ import annotations

import itertools
import os
from datetime import datetime, timedelta
from typing import Any

from shared.calendar import WorkingCalendar
from shared.case import Case, Receipt, new_case
from shared.contract import ComplaintReceived, Reporter, ReportSubmitted
from shared.lifecycle import Severity, Status
from shared.pii import IdentityProtector
from shared.sla import SlaPolicy
from shared.timers import timer_of
from shared.tracking import new_tracking_id

Json = dict[str, Any]

#: A protector for unit tests; integration tests pass the session's (the services' key).
UNIT_PROTECTOR = IdentityProtector(os.urandom(32))
CALENDAR = WorkingCalendar()
_serial = itertools.count(1)


def report(**fields: Any) -> ReportSubmitted:
    """A valid road report from WhatsApp; ``fields`` override or add contract fields."""
    n = next(_serial)
    values: Json = {
        "channel": "whatsapp",
        "external_id": f"wa-{n:06d}",
        "description": "Jalan berlubang besar di Jl. Mayor Zen dekat simpang, sudah dua minggu.",
        "location": {"region_code": "16.71"},
        "reporter": {"name": "Budi Santoso", "phone": "+6281234567890"},
    }
    return ReportSubmitted.model_validate(values | fields)


def received(
    at: datetime,
    protector: IdentityProtector = UNIT_PROTECTOR,
    tracking_id: str | None = None,
    **fields: Any,
) -> Json:
    """A case document exactly as intake stores it for ``report(**fields)`` at ``at``."""
    tracking_id = tracking_id or new_tracking_id()
    the_report = report(**fields)
    receipt = Receipt(
        tracking_id=tracking_id,
        received_at=at,
        verification_deadline=SlaPolicy().verification_deadline(CALENDAR, at),
    )
    case = new_case(the_report, the_report.model_dump_json().encode(), receipt, protector)
    # Intake stores the case's escalation timer with it (shared/timers.py).
    case["escalation"] = timer_of(case, SlaPolicy(), CALENDAR)
    return case


def received_event(case: Json) -> ComplaintReceived:
    """The ``complaint.received`` event intake publishes for ``case``."""
    view = Case(case)
    return ComplaintReceived(
        message_id=f"received:{view.tracking_id}",
        tracking_id=view.tracking_id,
        occurred_at=view.received_at,
        status=Status.RECEIVED,
        channel=view.channel,
        kind=view.kind,
        anonymous=view.anonymous,
        confidential=view.confidential,
        category_hint=view.category_hint,
        agency_hint=view.agency_hint,
        region_code=view.region_code,
        verification_deadline=view.deadline("verification") or view.received_at,
    )


def dispatched(
    case: Json,
    at: datetime,
    agency: str = "pupr-palembang",
    severity: Severity = Severity.SEDANG,
) -> Json:
    """``case`` as routing leaves it on ``agency``'s queue at ``at`` (first hop)."""
    sla = SlaPolicy()
    follow_up = sla.follow_up_deadline(CALENDAR, at, None)
    resolution = sla.resolution_deadline(CALENDAR, at, severity, None)
    hop = {"hop": 1, "agency": agency, "agency_name": agency, "at": at, "rule": "test"}
    return case | {
        "status": str(Status.DISPATCHED),
        "category": "jalan",
        "severity": str(severity),
        "verified_at": at - timedelta(minutes=1),
        "agency": agency,
        "agency_name": agency,
        "hop": 1,
        "hops": [hop | {"reason": "test", "severity": str(severity)}],
        "dispatched_at": at,
        "deadlines": case["deadlines"] | {"follow_up": follow_up, "resolution": resolution},
        "updated_at": at,
    }


def with_reporter(name: str, phone: str) -> Json:
    """The ``reporter`` field of a report (for ``report(reporter=...)``)."""
    return Reporter(name=name, phone=phone).model_dump(exclude_none=True)

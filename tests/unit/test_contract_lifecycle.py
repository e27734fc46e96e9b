"""Issue 12's additions to the v1 contract: additive, and strict where they must be."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pydantic import ValidationError

from shared.contract import (
    AgencyNotice,
    ComplaintAgencyInformationAdded,
    ComplaintDispatched,
    ComplaintExtensionGranted,
    ComplaintExtensionRefused,
    ComplaintExtensionRequested,
    ExtensionDecide,
    OpdRespond,
    ReporterReply,
    RoutingDispose,
    parse_event,
    to_json_dict,
)
from shared.lifecycle import Severity, Status

pytestmark = pytest.mark.unit

TID = "7KQM-X3RT-9DHV"
AT = dt.datetime(2026, 11, 23, 3, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "event",
    [
        ComplaintExtensionRequested(
            message_id="m",
            tracking_id=TID,
            occurred_at=AT,
            status=Status.IN_PROGRESS,
            agency="dpu-plg",
            requested_until=AT + dt.timedelta(days=10),
            current_deadline=AT,
            reason="menunggu anggaran",
        ),
        ComplaintExtensionGranted(
            message_id="m",
            tracking_id=TID,
            occurred_at=AT,
            status=Status.IN_PROGRESS,
            agency="dpu-plg",
            resolution_deadline=AT + dt.timedelta(days=10),
            previous_deadline=AT,
        ),
        ComplaintExtensionRefused(
            message_id="m",
            tracking_id=TID,
            occurred_at=AT,
            status=Status.IN_PROGRESS,
            agency="dpu-plg",
            reason="tidak beralasan",
        ),
        ComplaintAgencyInformationAdded(
            message_id="m",
            tracking_id=TID,
            occurred_at=AT,
            status=Status.DISPATCHED,
            agency="dinsos-sumsel",
            lead_agency="dinkes-sumsel",
        ),
    ],
)
def test_the_new_events_round_trip_through_the_event_union(event: object) -> None:
    assert parse_event(event.model_dump_json()) == event  # type: ignore[attr-defined]


def test_old_messages_still_parse_and_new_fields_are_optional() -> None:
    old = {
        "message_id": "m",
        "tracking_id": TID,
        "occurred_at": AT.isoformat(),
        "status": "dispatched",
        "event": "dispatched",
        "agency": "dinkes-sumsel",
        "agency_name": "Dinas Kesehatan",
        "hop": 1,
        "follow_up_deadline": AT.isoformat(),
        "resolution_deadline": AT.isoformat(),
        "severity": "sedang",
    }
    dispatched = parse_event(json.dumps(old))
    assert isinstance(dispatched, ComplaintDispatched)
    assert dispatched.supporting_agencies == []
    assert dispatched.severity is Severity.SEDANG
    withdrawn = {
        **{k: old[k] for k in ("message_id", "tracking_id", "occurred_at")},
        "status": "closed",
        "event": "closed",
        "reason": "withdrawn",
    }
    closed = parse_event(json.dumps(withdrawn))
    assert closed.reason == "withdrawn"  # type: ignore[union-attr]


def test_the_new_commands_and_what_they_refuse() -> None:
    dispose = RoutingDispose(
        message_id="c",
        tracking_id=TID,
        agency="dinkes-sumsel",
        admin="admin1",
        supporting=["dinsos-sumsel"],
    )
    assert dispose.supporting == ["dinsos-sumsel"]
    with pytest.raises(ValidationError, match="each supporting agency once"):
        RoutingDispose(
            message_id="c", tracking_id=TID, agency="a", admin="x", supporting=["b", "b"]
        )
    ask = OpdRespond.model_validate(
        {
            "message_id": "c",
            "tracking_id": TID,
            "agency": "dpu-plg",
            "action": "request_extension",
            "liaison": "budi",
            "message": "menunggu anggaran",
            "extend_until": "2026-12-04",
        }
    )
    assert ask.extend_until == dt.date(2026, 12, 4)
    with pytest.raises(ValidationError, match="extend_until"):
        OpdRespond.model_validate(
            {
                "message_id": "c",
                "tracking_id": TID,
                "agency": "dpu-plg",
                "action": "request_extension",
                "liaison": "budi",
                "extend_until": "besok",
            }
        )
    assert ExtensionDecide(message_id="c", tracking_id=TID, admin="a", grant=False).grant is False
    withdraw = ReporterReply.model_validate(
        {
            "message_id": "c",
            "tracking_id": TID,
            "channel": "sms",
            "reporter": {"phone": "+6281234567890"},
            "action": "withdraw",
        }
    )
    assert withdraw.action == "withdraw"


def test_an_agency_notice_is_told_apart_from_a_disposition_by_its_notice_field() -> None:
    notice = AgencyNotice(
        message_id="n",
        tracking_id=TID,
        agency="dinkes-sumsel",
        notice="withdrawn",
        occurred_at=AT,
        text="Laporan ditarik oleh pelapor; hentikan penanganan.",
    )
    assert to_json_dict(notice)["notice"] == "withdrawn"
    with pytest.raises(ValidationError):
        AgencyNotice.model_validate(to_json_dict(notice) | {"notice": "teleported"})

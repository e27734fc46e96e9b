"""The staff area at ``/staf/``: log-in, admin desk, agency desk, leaders' dashboard,
oversight inbox and audit log. Routes hold no rules: who may call each is in its signature
(``CurrentStaff``, ``AdminStaff`` ...), what a role may see is in ``staff.roles``, the
decisions are the contract's commands, and the acting staff member is the session's.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, ValidationError

from services.escalation.recap import ADMIN_NAME
from services.portal.deps import Portal, PortalDep
from services.portal.pages import render
from services.portal.regions import region_name
from services.portal.registry_view import regions, verification_categories
from services.portal.security import client_address
from services.portal.staff import cases, commands, quarantine
from services.portal.staff.accounts import LoginFailed, LoginThrottled
from services.portal.staff.audit import ACTION_TITLES, AuditAction, AuditEntry, AuditFilter
from services.portal.staff.dashboard import (
    DIMENSIONS,
    DashboardFilter,
    build_dashboard,
    recap_chart,
    recap_csv,
    trend_chart,
    value_label,
    week_label,
)
from services.portal.staff.deps import (
    AdminStaff,
    CurrentStaff,
    DashboardStaff,
    DeskDep,
    LiaisonStaff,
    OperatorStaff,
    OversightStaff,
    Staff,
    refuse,
)
from services.portal.staff.desk import StaffDesk, StaffRefused
from services.portal.staff.labels import actor_title, step_title, timeline_note
from services.portal.staff.oversight import DEADLINE_TITLES, TARGET_TITLES
from services.portal.staff.roles import (
    OVERSIGHT_TARGETS,
    ROLE_TITLES,
    Role,
    may_act_for_agency,
    may_see_agency,
)
from services.routing.registry import all_agencies
from services.verification.policy import category_slug
from shared import topology
from shared.contract import AGENCY_CODE, TRACKING_ID, AgencyAction, to_json_dict
from shared.lifecycle import ArchiveReason, Severity, Status
from shared.senders import RESUBMIT_PREFIX, RESUBMITTED_BY
from shared.storage import Document

router = APIRouter(prefix="/staf", tags=["staff"])

HOME_OF_ROLE = {
    Role.ADMIN: "/staf/admin",
    Role.AGENCY: "/staf/instansi",
    Role.LEADER: "/staf/dasbor",
    Role.INSPEKTORAT: "/staf/pengawasan",
    Role.OMBUDSMAN: "/staf/pengawasan",
    Role.OPERATOR: "/staf/audit",
}

STATUS_TITLES = {
    Status.RECEIVED: "Baru masuk",
    Status.NEEDS_REVIEW: "Perlu ditinjau",
    Status.DEFERRED: "Ditunda",
    Status.VERIFIED: "Terverifikasi",
    Status.AWAITING_ROUTING: "Menunggu disposisi",
    Status.DISPATCHED: "Didisposisi",
    Status.IN_PROGRESS: "Ditindaklanjuti",
    Status.RESOLVED: "Selesai",
    Status.CLOSED: "Ditutup",
    Status.ARCHIVED: "Diarsipkan",
}

ARCHIVE_TITLES = {
    ArchiveReason.WRONG_FORMAT: "Format salah",
    ArchiveReason.TOO_GENERAL: "Terlalu umum",
    ArchiveReason.NOT_GOVERNMENT: "Bukan kinerja pemerintah",
    ArchiveReason.PRIVATE_SECTOR: "Sektor swasta",
    ArchiveReason.DUPLICATE: "Duplikat",
    ArchiveReason.ABUSIVE: "Kasar / penyalahgunaan",
}

AGENCY_ACTIONS = {
    "acknowledge": "Terima (mulai ditindaklanjuti)",
    "ask": "Minta informasi kepada pelapor",
    "follow_up": "Tindak lanjut",
    "resolve": "Selesai (jawaban akhir)",
    "not_our_authority": "Bukan wewenang kami",
}


def _page(
    request: Request,
    staff: Staff | None,
    template: str,
    context: dict[str, Any],
    status_code: int = 200,
) -> HTMLResponse:
    values: dict[str, Any] = {
        "staff": staff,
        "role_titles": ROLE_TITLES,
        "status_titles": STATUS_TITLES,
        "home_of_role": HOME_OF_ROLE,
        "deadline_titles": DEADLINE_TITLES,
        "step_title": step_title,
        "actor_title": actor_title,
        "timeline_note": timeline_note,
        "Role": Role,
    }
    if staff is not None:
        # Forms of a logged-in page carry the session's own CSRF token.
        values["csrf_token"] = staff.session.csrf_token
    return render(request, f"staf/{template}", values | context, status_code)


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _audit(staff: Staff, now: dt.datetime, action: AuditAction, tracking_id: str | None = None,
           **detail: str | None) -> AuditEntry:  # fmt: skip
    return AuditEntry(
        at=now,
        actor=staff.name,
        action=action,
        address=staff.address,
        role=str(staff.role),
        tracking_id=tracking_id,
        detail={k: v for k, v in detail.items() if v},
    )


def _tracking_id(value: str) -> str:
    tid = value.strip().upper()
    if not re.match(TRACKING_ID, tid):
        raise StaffRefused("Nomor pelacakan tidak dikenal.")
    return tid


@dataclass(frozen=True)
class StaffCall:
    """One staff request as the routes use it: the request, who makes it, the portal and
    the staff desk (the staff dependency is resolved first, so a refused session, role or
    CSRF token stops the request before anything else is read)."""

    request: Request
    staff: Staff
    portal: Portal
    desk: StaffDesk


async def _current_call(
    request: Request, staff: CurrentStaff, portal: PortalDep, desk: DeskDep
) -> StaffCall:
    return StaffCall(request, staff, portal, desk)


async def _admin_call(
    request: Request, staff: AdminStaff, portal: PortalDep, desk: DeskDep
) -> StaffCall:
    return StaffCall(request, staff, portal, desk)


async def _liaison_call(
    request: Request, staff: LiaisonStaff, portal: PortalDep, desk: DeskDep
) -> StaffCall:
    return StaffCall(request, staff, portal, desk)


CurrentCall = Annotated[StaffCall, Depends(_current_call)]
AdminCall = Annotated[StaffCall, Depends(_admin_call)]
LiaisonCall = Annotated[StaffCall, Depends(_liaison_call)]


# --- log-in -----------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def login_page(*, request: Request, desk: DeskDep, portal: PortalDep) -> Response:
    """The log-in form, or the desk of whoever is logged in already."""
    token = request.cookies.get(desk.cookie_name)
    if token and (session := await desk.staff.sessions.resume(token, portal.clock.now())):
        account = await desk.staff.accounts.get(session.name)
        if account and account.enabled:
            return _see_other(HOME_OF_ROLE[account.role])
    return _page(request, None, "login.html", {"error": None})


class LoginForm(BaseModel):
    """The log-in form's fields."""

    name: str = Field("", max_length=200)
    password: str = Field("", max_length=1000)
    csrf_token: str = Field("", max_length=200)


@router.post("/masuk", response_class=HTMLResponse)
async def log_in(
    *, request: Request, desk: DeskDep, portal: PortalDep, form: Annotated[LoginForm, Form()]
) -> Response:
    """Check the name and password (throttled), start a session, go to the role's desk."""
    now = portal.clock.now()
    address = client_address(request)
    name, password = form.name, form.password
    if not portal.csrf.valid(request, form.csrf_token):
        raise StaffRefused(
            "Formulir kedaluwarsa atau tidak sah. Muat ulang halaman lalu coba lagi."
        )
    account_name = name.strip().lower()[:64]
    try:
        account = await desk.staff.accounts.authenticate(account_name, password, address, now)
    except LoginThrottled as locked:
        await desk.staff.audit.record(
            AuditEntry(now, account_name, AuditAction.LOGIN_THROTTLED, address,
                       detail={"until": locked.until.isoformat()})
        )  # fmt: skip
        minutes = max(1, int((locked.until - now).total_seconds() // 60) + 1)
        message = f"Terlalu banyak percobaan masuk yang gagal. Coba lagi dalam {minutes} menit."
        return _page(request, None, "login.html", {"error": message, "name": name}, 429)
    except LoginFailed:
        await desk.staff.audit.record(
            AuditEntry(now, account_name, AuditAction.LOGIN_FAILED, address)
        )
        message = "Nama pengguna atau kata sandi salah, atau akun dinonaktifkan."
        return _page(request, None, "login.html", {"error": message, "name": name}, 401)
    token, _ = await desk.staff.sessions.start(account.name, address, now)
    await desk.staff.audit.record(
        AuditEntry(now, account.name, AuditAction.LOGIN, address, role=str(account.role))
    )
    response = _see_other(HOME_OF_ROLE[account.role])
    response.set_cookie(
        desk.cookie_name,
        token,
        max_age=int(desk.staff.sessions.policy.absolute.total_seconds()),
        path="/",
        secure=desk.settings.staff_cookie_secure,
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/keluar")
async def log_out(
    *, request: Request, staff: CurrentStaff, desk: DeskDep, portal: PortalDep
) -> Response:
    """End the session."""
    await desk.staff.sessions.end(request.cookies.get(desk.cookie_name, ""))
    await desk.staff.audit.record(_audit(staff, portal.clock.now(), AuditAction.LOGOUT))
    response = _see_other("/staf/")
    response.delete_cookie(desk.cookie_name, path="/", secure=desk.settings.staff_cookie_secure,
                           httponly=True, samesite="strict")  # fmt: skip
    return response


@router.get("/beranda")
async def home(*, staff: CurrentStaff) -> Response:
    """The role's own desk."""
    return _see_other(HOME_OF_ROLE[staff.role])


# --- admin desk -------------------------------------------------------------------------


@router.get("/admin", response_class=HTMLResponse)
async def admin_desk(
    *,
    request: Request,
    staff: AdminStaff,
    portal: PortalDep,
    desk: DeskDep,
    antrean: Annotated[str, Query(max_length=40)] = cases.AdminQueue.NEEDS_REVIEW,
) -> HTMLResponse:
    """The admin's queues with counts; one queue's cases, oldest first."""
    calendar = portal.settings.working_calendar()
    counts = await cases.queue_counts(portal.store)
    queue = cases.AdminQueue(antrean) if antrean in set(cases.AdminQueue) else None
    rows = (
        await cases.queue_rows(portal.store, queue, portal.clock.now(), calendar) if queue else []
    )
    quarantine: list[Document] = []
    dismissed = await desk.dismissed_quarantine()
    counts["quarantine"] = await portal.store.quarantine.count_documents(
        {"_id": {"$nin": dismissed}}
    )
    if antrean == "quarantine":
        cursor = (
            portal.store.quarantine.find({"_id": {"$nin": dismissed}}, {"raw_sealed": 0})
            .sort("quarantined_at", 1)
            .limit(200)
        )
        quarantine = [doc async for doc in cursor]
    return _page(request, staff, "admin.html", {
        "active": "admin", "counts": counts, "queue": antrean, "rows": rows,
        "quarantine": quarantine, "queue_titles": cases.QUEUE_TITLES,
    })  # fmt: skip


async def _visible_case(call: StaffCall, tracking_id: str) -> Document:
    """The case if this staff member may read it; 403 (logged) or 404 otherwise."""
    portal, desk, staff = call.portal, call.desk, call.staff
    tid = _tracking_id(tracking_id)
    doc = await cases.load_case(portal.store, tid)
    if doc is None:
        raise StaffRefused("Laporan tidak ditemukan atau bukan untuk Anda.")
    agency = doc.get("agency")
    allowed = may_see_agency(staff.role, staff.agencies, agency)
    if staff.role in (Role.INSPEKTORAT, Role.OMBUDSMAN):
        notices = await desk.inbox.for_case(tid)
        allowed = any(n.target in OVERSIGHT_TARGETS[staff.role] for n in notices)
    if not allowed:
        await refuse(desk, staff, portal.clock.now(), call.request, "not_their_case")
        raise StaffRefused("Laporan tidak ditemukan atau bukan untuk Anda.")
    return doc


@router.get("/kasus/{tracking_id}", response_class=HTMLResponse)
async def case_page(*, tracking_id: str, call: CurrentCall) -> HTMLResponse:
    """One case: the report, checks, suggestion, duplicates, timeline; the role's actions."""
    request, staff, portal, desk = call.request, call.staff, call.portal, call.desk
    doc = await _visible_case(call, tracking_id)
    calendar = portal.settings.working_calendar()
    context = cases.ViewContext(portal.clock.now(), calendar, portal.protector)
    view = await cases.case_view(portal.store, doc, staff.role, context)
    agencies = [r.agency for r in await all_agencies(portal.store) if r.active]
    notices = await desk.inbox.for_case(str(doc["_id"]))
    categories = await verification_categories(portal.portal_store)
    return _page(request, staff, "case.html", {
        "view": view, "doc": doc, "agencies": agencies, "severities": list(Severity),
        "categories": categories, "chosen_category": _suggested_category(doc),
        "category_titles": {c.code: c.label for c in categories}, "region_name": region_name,
        "archive_titles": ARCHIVE_TITLES, "agency_actions": AGENCY_ACTIONS, "notices": notices,
        "target_titles": TARGET_TITLES,
        "can_act": may_act_for_agency(staff.role, staff.agencies, doc.get("agency")),
    })  # fmt: skip


def _suggested_category(doc: Document) -> str:
    """The category the verify form preselects: the case's, the checks' or the reporter's."""
    chosen = doc.get("category") or (doc.get("suggestion") or {}).get("category")
    return category_slug(str(chosen or doc.get("category_hint") or ""))


async def _send(portal: PortalDep, routing_key: str, command: Any) -> None:
    await portal.publisher.publish(
        topology.COMMANDS, routing_key, to_json_dict(command), command.message_id
    )


def _form_error(message: str) -> StaffRefused:
    error = StaffRefused(message)
    error.status_code = 422
    return error


class DecisionForm(BaseModel):
    """The admin's decision form (its CSRF token is checked by the staff dependency)."""

    decision: str = Field(max_length=40)
    category: str = Field("", max_length=100)
    severity: str = Field("", max_length=20)
    anonymous: str = Field("", max_length=5)
    confidential: str = Field("", max_length=5)
    flags_confirmed: str = Field("", max_length=5)
    question: str = Field("", max_length=2000)
    note: str = Field("", max_length=2000)
    archive_reason: str = Field("", max_length=40)
    agency: str = Field("", max_length=64)


@router.post("/kasus/{tracking_id}/keputusan")
async def decide(
    *, tracking_id: str, call: AdminCall, form: Annotated[DecisionForm, Form()]
) -> Response:
    """verify / defer / not our authority / archive, as ``verification.decide``."""
    staff, portal, desk = call.staff, call.portal, call.desk
    decision, category, severity = form.decision, form.category, form.severity
    question, note, archive_reason = form.question, form.note, form.archive_reason
    doc = await _visible_case(call, tracking_id)
    tid = str(doc["_id"])
    try:
        match decision:
            case "verify":
                if form.flags_confirmed != "ya":
                    raise _form_error("Konfirmasi dulu sifat anonim dan rahasia laporan ini.")
                known = {c.code for c in await verification_categories(portal.portal_store)}
                category = category_slug(category)
                if category and category not in known:
                    raise _form_error(
                        f"Kategori {form.category.strip()!r} tidak dikenal: pilih kategori "
                        "dari daftar."
                    )
                confirmed = commands.Verification(
                    category=category or None,
                    severity=Severity(severity) if severity else None,
                    anonymous=form.anonymous == "ya", confidential=form.confidential == "ya",
                    note=note.strip() or None,
                )  # fmt: skip
                command: Any = commands.verify(tid, staff.name, confirmed)
            case "defer":
                if not question.strip():
                    raise _form_error("Tulis pertanyaan untuk pelapor.")
                command = commands.defer(tid, staff.name, question.strip())
            case "not_our_authority":
                if not note.strip():
                    raise _form_error("Tulis ke instansi atau tingkat mana laporan ini diteruskan.")
                command = commands.not_our_authority(tid, staff.name, note.strip())
            case "archive":
                if archive_reason not in set(ArchiveReason):
                    raise _form_error("Pilih alasan pengarsipan.")
                command = commands.archive(tid, staff.name, ArchiveReason(archive_reason), note)
            case _:
                raise _form_error("Keputusan tidak dikenal.")
    except (ValidationError, ValueError) as exc:
        raise _form_error(f"Isian tidak sah: {exc}") from None
    await _send(portal, commands.VERIFICATION_DECIDE, command)
    await desk.staff.audit.record(
        _audit(staff, portal.clock.now(), AuditAction.DECISION, tid, decision=decision,
               command=command.message_id, category=category or None, severity=severity or None,
               archive_reason=archive_reason or None)
    )  # fmt: skip
    return _see_other(f"/staf/kasus/{tid}?terkirim=1")


@router.post("/kasus/{tracking_id}/disposisi")
async def route_by_hand(
    *,
    tracking_id: str,
    call: AdminCall,
    agency: Annotated[str, Form(max_length=64, pattern=AGENCY_CODE.pattern)],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Route a case to an agency by hand, as ``routing.dispose``."""
    staff, portal, desk = call.staff, call.portal, call.desk
    doc = await _visible_case(call, tracking_id)
    tid = str(doc["_id"])
    command = commands.dispose(tid, staff.name, agency, note.strip() or None)
    await _send(portal, commands.ROUTING_DISPOSE, command)
    await desk.staff.audit.record(
        _audit(staff, portal.clock.now(), AuditAction.ROUTED, tid, agency=agency,
               command=command.message_id)
    )  # fmt: skip
    return _see_other(f"/staf/kasus/{tid}?terkirim=1")


@router.post("/kasus/{tracking_id}/identitas", response_class=HTMLResponse)
async def reveal_identity(
    *,
    tracking_id: str,
    call: AdminCall,
    reason: Annotated[str, Form(min_length=5, max_length=500)],
) -> HTMLResponse:
    """Show the reporter's identity: a separate, deliberate action, written to the audit log
    (the reason and who, never what was shown)."""
    request, staff, portal, desk = call.request, call.staff, call.portal, call.desk
    doc = await _visible_case(call, tracking_id)
    tid = str(doc["_id"])
    await desk.staff.audit.record(
        _audit(staff, portal.clock.now(), AuditAction.IDENTITY_REVEALED, tid, reason=reason.strip())
    )
    identity = await cases.reveal_identity(portal.store, tid, portal.protector)
    return _page(request, staff, "identity.html", {"tid": tid, "identity": identity, "doc": doc})


async def _quarantined(portal: Portal, quarantine_id: str) -> Document:
    doc = await portal.store.quarantine.find_one({"_id": quarantine_id[:100]})
    if doc is None:
        raise StaffRefused("Laporan karantina tidak ditemukan.")
    return dict(doc)


@router.get("/karantina/{quarantine_id}", response_class=HTMLResponse)
async def quarantined_report(
    *, request: Request, quarantine_id: str, staff: AdminStaff, portal: PortalDep, desk: DeskDep
) -> HTMLResponse:
    """One quarantined report, its problems and its raw text to correct (an audited read)."""
    doc = await _quarantined(portal, quarantine_id)
    await desk.staff.audit.record(
        _audit(staff, portal.clock.now(), AuditAction.QUARANTINE_READ, None, quarantine=doc["_id"])
    )
    review = await desk.quarantine_reviews.find_one({"_id": doc["_id"]})
    return _page(request, staff, "quarantine.html", {
        "active": "admin", "q": doc, "raw": quarantine.raw_text(doc, portal.protector),
        "review": review, "problems": [],
    })  # fmt: skip


@router.post("/karantina/{quarantine_id}/kirim-ulang", response_class=HTMLResponse)
async def resubmit_quarantined(
    *,
    quarantine_id: str,
    call: AdminCall,
    report: Annotated[str, Form(max_length=300_000)],
) -> Response:
    """Send the corrected report to intake again, on its own channel."""
    request, staff, portal, desk = call.request, call.staff, call.portal, call.desk
    doc = await _quarantined(portal, quarantine_id)
    try:
        body = quarantine.corrected_report(report, doc.get("channel"))
    except quarantine.CorrectionRefused as refused:
        return _page(request, staff, "quarantine.html", {
            "active": "admin", "q": doc, "raw": report, "review": None,
            "problems": refused.problems,
        }, 422)  # fmt: skip
    now = portal.clock.now()
    reviewed = await desk.quarantine_reviews.update_one(
        {"_id": doc["_id"]},
        {"$setOnInsert": {"resubmitted_at": now, "resubmitted_by": staff.name,
                          "external_id": body.get("external_id")}},
        upsert=True,
    )  # fmt: skip
    if reviewed.upserted_id is None:
        raise StaffRefused("Laporan karantina ini sudah dikirim ulang atau ditolak.")
    # On the report's own channel (its reporter's replies keep going through it), as the
    # portal, an admin user: intake admits it for this quarantine ID only, and records
    # the staff member who corrected it on the case.
    message_id = f"{RESUBMIT_PREFIX}{doc['_id']}"
    await portal.publisher.publish(
        topology.INTAKE, f"channel.{body['channel']}", body, message_id,
        headers={RESUBMITTED_BY: staff.name},
    )  # fmt: skip
    await desk.staff.audit.record(
        _audit(staff, now, AuditAction.QUARANTINE_RESUBMITTED, None, quarantine=doc["_id"],
               channel=str(body["channel"]))
    )  # fmt: skip
    return _see_other("/staf/admin?antrean=quarantine")


@router.post("/karantina/{quarantine_id}/tolak")
async def dismiss_quarantined(
    *,
    quarantine_id: str,
    call: AdminCall,
    reason: Annotated[str, Form(min_length=3, max_length=500)],
) -> Response:
    """Dismiss a quarantined report with a reason (recorded in the portal's own collection)."""
    staff, portal, desk = call.staff, call.portal, call.desk
    doc = await _quarantined(portal, quarantine_id)
    now = portal.clock.now()
    await desk.quarantine_reviews.update_one(
        {"_id": doc["_id"]},
        {"$setOnInsert": {"dismissed_at": now, "dismissed_by": staff.name, "reason": reason}},
        upsert=True,
    )
    await desk.staff.audit.record(
        _audit(staff, now, AuditAction.QUARANTINE_DISMISSED, None, quarantine=doc["_id"],
               reason=reason)
    )  # fmt: skip
    return _see_other("/staf/admin?antrean=quarantine")


# --- agency desk ------------------------------------------------------------------------


@router.get("/instansi", response_class=HTMLResponse)
async def agency_desk(
    *, request: Request, staff: LiaisonStaff, portal: PortalDep, desk: DeskDep
) -> HTMLResponse:
    """The liaison's agencies' open cases, late first, and their reminders."""
    calendar = portal.settings.working_calendar()
    rows = await cases.agency_rows(portal.store, staff.agencies, portal.clock.now(), calendar)
    reminders = await desk.inbox.for_role(staff.role, staff.agencies, limit=50)
    return _page(request, staff, "agency.html",
                 {"active": "instansi", "rows": rows, "reminders": reminders})  # fmt: skip


@router.post("/kasus/{tracking_id}/tanggapan")
async def respond(
    *,
    tracking_id: str,
    call: LiaisonCall,
    action: Annotated[str, Form(max_length=40)],
    message: Annotated[str, Form(max_length=5000)] = "",
    suggested_agency: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """The liaison's answer, as ``opd.respond`` for the agency that holds the case.

    The agency comes from the case, never from the form: a liaison of another agency, or
    one who edited the URL or a hidden field, gets 403 and nothing is sent.
    """
    request, staff, portal, desk = call.request, call.staff, call.portal, call.desk
    tid = _tracking_id(tracking_id)
    doc = await cases.load_case(portal.store, tid)
    holder = doc.get("agency") if doc else None
    if doc is None or not may_act_for_agency(staff.role, staff.agencies, holder):
        await refuse(desk, staff, portal.clock.now(), request, "not_their_case")
        raise StaffRefused("Laporan ini tidak ditangani instansi Anda.")
    assert holder is not None
    text = message.strip()
    match action:
        case "acknowledge":
            agency_action = AgencyAction.ACKNOWLEDGE
        case "ask":
            # The contract has no separate "ask": a follow-up carries the question to the
            # reporter through the central door (satu pintu).
            if not text:
                raise _form_error("Tulis informasi apa yang diperlukan dari pelapor.")
            agency_action, text = AgencyAction.FOLLOW_UP, f"Mohon informasi tambahan: {text}"
        case "follow_up" | "resolve":
            if not text:
                raise _form_error("Tulis tindak lanjut atau jawaban untuk pelapor.")
            agency_action = AgencyAction(action)
        case "not_our_authority":
            if not text:
                raise _form_error("Tulis alasan mengapa laporan ini bukan wewenang instansi Anda.")
            agency_action = AgencyAction.NOT_OUR_AUTHORITY
        case _:
            raise _form_error("Tindakan tidak dikenal.")
    suggestion = suggested_agency.strip() or None
    if suggestion and not AGENCY_CODE.match(suggestion):
        raise _form_error("Kode instansi yang disarankan tidak sah.")
    answer = commands.Answer(agency_action, message=text or None, suggested_agency=suggestion)
    command = commands.respond(tid, holder, staff.name, answer)
    await _send(portal, commands.OPD_RESPOND, command)
    await desk.staff.audit.record(
        _audit(staff, portal.clock.now(), AuditAction.AGENCY_RESPONSE, tid, answer=action,
               agency=holder, command=command.message_id)
    )  # fmt: skip
    return _see_other(f"/staf/kasus/{tid}?terkirim=1")


# --- leaders' dashboard -----------------------------------------------------------------


def _day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        raise _form_error(f"Tanggal tidak sah: {text!r} (tulis TTTT-BB-HH).") from None


FilterText = Annotated[str, Query(max_length=100)]


def dashboard_filter(
    dari: FilterText = "", sampai: FilterText = "", instansi: FilterText = "",
    wilayah: FilterText = "", kategori: FilterText = "",
) -> DashboardFilter:  # fmt: skip
    """The dashboard's filter from its query (dates as TTTT-BB-HH, 422 otherwise)."""
    return DashboardFilter(
        since=_day(dari), until=_day(sampai), agency=instansi.strip() or None,
        region=wilayah.strip() or None, category=kategori.strip() or None,
    )  # fmt: skip


FilterDep = Annotated[DashboardFilter, Depends(dashboard_filter)]


def _scope(staff: Staff) -> frozenset[str]:
    return staff.agencies if staff.role is Role.LEADER else frozenset()


@router.get("/dasbor", response_class=HTMLResponse)
async def dashboard(
    *, request: Request, staff: DashboardStaff, portal: PortalDep, filt: FilterDep
) -> HTMLResponse:
    """Per agency: the recap's numbers; weekly trends as charts; filters; CSV link."""
    calendar = portal.settings.working_calendar()
    board = await build_dashboard(portal.store, calendar, portal.clock.now(), filt, _scope(staff))
    query = urlencode(filt.as_params())
    agencies = [r.agency for r in await all_agencies(portal.store)]
    categories = await verification_categories(portal.portal_store)
    labels = {c.code: c.label for c in categories}
    return _page(request, staff, "dashboard.html", {
        "active": "dasbor", "board": board, "filter": filt, "query": query,
        "dimensions": DIMENSIONS, "week_label": week_label, "agencies": agencies,
        "admin_name": ADMIN_NAME, "categories": categories,
        "value_label": lambda dimension, value: value_label(dimension, value, labels),
        "regions": await regions(portal.portal_store), "region_name": region_name,
    })  # fmt: skip


@router.get("/dasbor/grafik/{name}.svg")
async def dashboard_chart(
    *, name: str, staff: DashboardStaff, portal: PortalDep, filt: FilterDep
) -> Response:
    """One chart as an SVG image (shown with <img>, so nothing in it can run)."""
    if name != "instansi" and name not in DIMENSIONS:
        raise _form_error("Grafik tidak dikenal.")
    calendar = portal.settings.working_calendar()
    board = await build_dashboard(portal.store, calendar, portal.clock.now(), filt, _scope(staff))
    if name == "instansi":
        svg = recap_chart(board.recap)
    else:
        labels = {c.code: c.label for c in await verification_categories(portal.portal_store)}
        svg = trend_chart(board.trends[name], labels)
    return Response(
        svg,
        media_type="image/svg+xml",
        headers={"content-security-policy": "default-src 'none'; style-src 'unsafe-inline'",
                 "cache-control": "no-store"},
    )  # fmt: skip


@router.get("/dasbor/rekap.csv")
async def dashboard_csv(*, staff: DashboardStaff, portal: PortalDep, filt: FilterDep) -> Response:
    """The filtered recap as CSV."""
    calendar = portal.settings.working_calendar()
    now = portal.clock.now()
    board = await build_dashboard(portal.store, calendar, now, filt, _scope(staff))
    return Response(
        recap_csv(board.recap, filt.region),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="rekap-lapor-{now:%Y%m%d}.csv"',
                 "cache-control": "no-store"},
    )  # fmt: skip


# --- oversight inbox --------------------------------------------------------------------


@router.get("/pengawasan", response_class=HTMLResponse)
async def oversight_inbox(
    *, request: Request, staff: OversightStaff, portal: PortalDep, desk: DeskDep
) -> HTMLResponse:
    """The escalations addressed to this office (and agency), each with its case's history."""
    items = await desk.inbox.for_role(staff.role, staff.agencies)
    histories: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        if item.tracking_id not in histories:
            doc = await portal.store.complaints.find_one(
                {"_id": item.tracking_id}, {"timeline": 1, "status": 1}
            )
            histories[item.tracking_id] = list((doc or {}).get("timeline", []))
    return _page(request, staff, "oversight.html", {
        "active": "pengawasan", "items": items, "histories": histories,
        "target_titles": TARGET_TITLES,
    })  # fmt: skip


@router.post("/pengawasan/{message_id}/terima")
async def acknowledge_notice(
    *, request: Request, message_id: str, staff: OversightStaff, portal: PortalDep, desk: DeskDep
) -> Response:
    """Record that the office has taken note of an escalation (once): on the case, as
    ``oversight.acknowledge``, and in the portal's inbox and audit log."""
    item = await desk.inbox.get(message_id)
    if item is None or item not in await desk.inbox.for_role(staff.role, staff.agencies):
        await refuse(desk, staff, portal.clock.now(), request, "not_their_notice")
        raise StaffRefused("Pemberitahuan ini tidak ditujukan kepada Anda.")
    now = portal.clock.now()
    if item.acknowledged_at is not None:
        return _see_other("/staf/pengawasan")
    # The case's own record first (escalation applies it once per notice), then the inbox.
    seen = commands.NoticeSeen(item.message_id, item.tracking_id, item.target, item.level)
    command = commands.acknowledge(seen, staff.name, now)
    await _send(portal, commands.OVERSIGHT_ACKNOWLEDGE, command)
    if await desk.inbox.acknowledge(message_id, staff.name, now):
        await desk.staff.audit.record(
            _audit(staff, now, AuditAction.OVERSIGHT_ACKNOWLEDGED, item.tracking_id,
                   notice=message_id, target=str(item.target))
        )  # fmt: skip
    return _see_other("/staf/pengawasan")


# --- audit log --------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditQuery:
    """The audit log's filter as typed (shown back in the form)."""

    pelaku: str
    tindakan: str
    laporan: str
    dari: str
    sampai: str


def audit_query(
    pelaku: FilterText = "", tindakan: FilterText = "", laporan: FilterText = "",
    dari: FilterText = "", sampai: FilterText = "",
) -> AuditQuery:  # fmt: skip
    """The audit log's query parameters, each at most 100 characters."""
    return AuditQuery(pelaku, tindakan, laporan, dari, sampai)


@router.get("/audit", response_class=HTMLResponse)
async def audit_log(
    *, request: Request, staff: OperatorStaff, desk: DeskDep,
    query: Annotated[AuditQuery, Depends(audit_query)],
) -> HTMLResponse:  # fmt: skip
    """The audit log, newest first, filtered by actor, action, case and period."""
    since, until = _day(query.dari), _day(query.sampai)
    calendar = desk.settings.working_calendar()
    which = AuditFilter(
        actor=query.pelaku.strip().lower() or None,
        action=AuditAction(query.tindakan) if query.tindakan in set(AuditAction) else None,
        tracking_id=query.laporan.strip() or None,
        since=calendar.start_of_day(since) if since else None,
        until=calendar.start_of_day(until + dt.timedelta(days=1)) if until else None,
    )
    entries = await desk.staff.audit.search(which)
    return _page(request, staff, "audit.html", {
        "active": "audit", "entries": entries, "actions": list(AuditAction),
        "action_titles": ACTION_TITLES,
        "pelaku": query.pelaku, "tindakan": query.tindakan, "laporan": query.laporan,
        "dari": query.dari, "sampai": query.sampai,
    })  # fmt: skip

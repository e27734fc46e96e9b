"""The citizens' pages: report form, confirmation, tracking page, public list, attachments.

Routes hold no rules: they parse, call the portal's pure modules (``submission``,
``cases``, ``replycode``) and publish through the channel's publisher.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import math
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from gridfs.errors import NoFile
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from services.portal import cases as case_views
from services.portal import replycode, submission
from services.portal.deps import PortalDep
from services.portal.pages import error_page, render
from services.portal.registry_view import (
    categories,
    category_labels,
    category_variants,
    regions,
)
from services.portal.security import CSRF_FIELD, client_address
from services.portal.store import ReplyCodeRecord
from shared import topology
from shared.contract import TRACKING_ID, ReporterAction
from shared.lifecycle import Kind, Status
from shared.pii import IdentityUnreadable

router = APIRouter(tags=["citizens"])
log = logging.getLogger("lapor.portal.citizens")

TRACKING = re.compile(TRACKING_ID)
#: How long the submitting browser may see its reply code on the confirmation page.
CODE_SHOWN_FOR = timedelta(minutes=30)
REPORTER_COOKIE = "lapor_kode_"
PAGE_SIZE = 20


def _too_many(request: Request) -> HTMLResponse:
    return error_page(
        request,
        429,
        "Terlalu banyak permintaan",
        "Anda mengirim terlalu banyak permintaan dalam waktu singkat. "
        "Tunggu sebentar, lalu coba lagi.",
    )


def _bad_csrf(request: Request) -> HTMLResponse:
    return error_page(
        request,
        403,
        "Formulir tidak dapat diproses",
        "Formulir ini sudah kedaluwarsa atau tidak berasal dari situs ini. "
        "Muat ulang halaman lalu kirim lagi.",
    )


def _browser_id(portal: PortalDep, request: Request) -> str:
    return hashlib.sha256(portal.csrf.nonce(request).encode()).hexdigest()


async def _form_context(portal: PortalDep) -> dict[str, Any]:
    settings = portal.settings
    return {
        "active": "lapor",
        "kinds": [(k.value, case_views.KIND_WORDS[k]) for k in Kind],
        "categories": await categories(portal.portal_store),
        "regions": await regions(portal.portal_store),
        "max_attachments": settings.portal_max_attachments,
        "max_attachment_mb": round(settings.portal_max_attachment_bytes / 1024 / 1024, 1),
    }


@router.get("/", response_class=HTMLResponse)
async def report_form(request: Request, portal: PortalDep) -> HTMLResponse:
    """The report form (the ``web`` channel), with a fresh one-time external ID."""
    context = await _form_context(portal)
    context |= {"values": {"external_id": submission.new_external_id()}, "errors": {}}
    return render(request, "index.html", context)


async def _store_attachments(
    portal: PortalDep, uploads: list[UploadFile], external_id: str
) -> tuple[list[submission.StoredAttachment], str | None]:
    settings = portal.settings
    files = [u for u in uploads if u.filename]
    if len(files) > settings.portal_max_attachments:
        return [], f"Paling banyak {settings.portal_max_attachments} lampiran."
    checked: list[tuple[UploadFile, bytes, str]] = []
    for upload in files:
        content_type = (upload.content_type or "").split(";")[0].strip().lower()
        data = await upload.read(settings.portal_max_attachment_bytes + 1)
        if len(data) > settings.portal_max_attachment_bytes:
            mb = settings.portal_max_attachment_bytes / 1024 / 1024
            return [], f"Lampiran terlalu besar: paling besar {mb:.1f} MB per berkas."
        if content_type not in settings.portal_attachment_types or not submission.sniff_matches(
            content_type, data[:16]
        ):
            return [], "Lampiran harus foto (JPEG, PNG, WebP) atau dokumen PDF."
        checked.append((upload, data, content_type))
    base = portal.public_url
    stored = []
    for index, (_, data, content_type) in enumerate(checked):
        # The same report resent (double submit) finds its files again instead of adding.
        file_id = f"{external_id}-{index}"
        existing = await portal.portal_store.attachment_files.find_one({"_id": file_id})
        if existing is None:
            await portal.portal_store.attachments.upload_from_stream_with_id(
                file_id,
                f"lampiran-{index + 1}",
                data,
                metadata={
                    "channel": "web",
                    "external_id": external_id,
                    "content_type": content_type,
                },
            )
        stored.append(
            submission.StoredAttachment(f"{base}/lampiran/{file_id}", content_type, len(data))
        )
    return stored, None


@router.post("/", response_class=HTMLResponse)
async def submit_report(request: Request, portal: PortalDep) -> Response:
    """Take a report: check, keep attachments and the reply-code hash, publish, confirm."""
    settings = portal.settings
    if not await portal.rate_limits.allow(f"addr:{client_address(request)}"):
        return _too_many(request)
    form = await request.form(
        max_files=settings.portal_max_attachments + 1, max_fields=40, max_part_size=64 * 1024
    )
    if not portal.csrf.valid(request, _text(form.get(CSRF_FIELD))):
        return _bad_csrf(request)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    uploads = [u for u in form.getlist("attachments") if isinstance(u, UploadFile)]
    report, errors = submission.parse_form(values)
    stored: list[submission.StoredAttachment] = []
    if report is not None:
        stored, problem = await _store_attachments(portal, uploads, report.external_id)
        if problem:
            errors["attachments"] = problem
    if report is None or errors:
        context = await _form_context(portal)
        context |= {"values": values, "errors": errors}
        return render(request, "index.html", context, status_code=422)

    now = portal.clock.now()
    fresh_code = replycode.new_reply_code()
    record = await portal.portal_store.save_reply_code(
        ReplyCodeRecord(
            channel="web",
            external_id=report.external_id,
            code_hash=replycode.code_hash(fresh_code),
            code_sealed=portal.protector.seal(
                fresh_code.encode(), f"reply-code:{report.external_id}"
            ),
            browser=_browser_id(portal, request),
            created_at=now,
        )
    )
    if record["code_hash"] != replycode.code_hash(fresh_code):
        # A resend of the same form: the first code stands. Publish again with it while it
        # is kept (intake de-duplicates), so a report whose first publish was cut short by
        # a crash is not lost; later resends only show the confirmation.
        log.info("report resent", extra={"external_id": report.external_id})
        if not record.get("code_sealed"):
            return RedirectResponse(f"/terkirim/{report.external_id}", status_code=303)
        fresh_code = portal.protector.open(
            record["code_sealed"], f"reply-code:{report.external_id}"
        ).decode()
    body = submission.report_submitted(report, replycode.reporter_handle(fresh_code), stored)
    try:
        await portal.publisher.publish(
            topology.INTAKE, "channel.web", body, message_id=report.external_id
        )
    except Exception:
        log.exception("report not published", extra={"external_id": report.external_id})
        # Nothing is lost: the same form (same external ID) can be sent again.
        await portal.portal_store.reply_codes.delete_one({"_id": f"web:{report.external_id}"})
        return error_page(
            request,
            503,
            "Laporan belum terkirim",
            "Layanan sedang sibuk. Kembali ke formulir dan kirim sekali lagi; "
            "laporan tidak akan tercatat dua kali.",
        )
    log.info("report published", extra={"external_id": report.external_id, "channel": "web"})
    return RedirectResponse(f"/terkirim/{report.external_id}", status_code=303)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@router.get("/terkirim/{external_id}", response_class=HTMLResponse)
async def submitted(request: Request, portal: PortalDep, external_id: str) -> HTMLResponse:
    """The confirmation: tracking ID (once intake answers) and, once, the reply code."""
    record = await portal.portal_store.reply_code_of("web", external_id)
    if record is None:
        return error_page(request, 404, "Tidak ditemukan", "Halaman ini tidak ada.")
    tracking_id = await portal.notices.wait_for_tracking_id(
        "web", external_id, portal.settings.portal_notice_wait_seconds
    )
    code = None
    shown_until = record["created_at"] + CODE_SHOWN_FOR
    if record.get("code_sealed") and record.get("browser") == _browser_id(portal, request):
        if portal.clock.now() < shown_until:
            code = portal.protector.open(
                record["code_sealed"], f"reply-code:{external_id}"
            ).decode()
        else:
            await portal.portal_store.forget_shown_code("web", external_id)
    context = {"tracking_id": tracking_id, "code": code, "external_id": external_id}
    response = render(request, "submitted.html", context)
    if tracking_id and code:
        _remember_code(portal, response, tracking_id, code, request)
    return response


def _remember_code(
    portal: PortalDep, response: Response, tracking_id: str, code: str, request: Request
) -> None:
    """Keep the code (sealed) in this browser so the reporter need not type it again."""
    sealed = portal.protector.seal(code.encode(), f"reply-cookie:{tracking_id}")
    response.set_cookie(
        REPORTER_COOKIE + tracking_id,
        base64.urlsafe_b64encode(sealed).decode(),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _remembered_code(portal: PortalDep, request: Request, tracking_id: str) -> str | None:
    raw = request.cookies.get(REPORTER_COOKIE + tracking_id)
    if not raw:
        return None
    try:
        sealed = base64.urlsafe_b64decode(raw.encode())
        return portal.protector.open(sealed, f"reply-cookie:{tracking_id}").decode()
    except (binascii.Error, ValueError, IdentityUnreadable):
        return None


async def _code_is_right(portal: PortalDep, case: dict[str, Any], code: str | None) -> bool:
    if not code:
        return False
    record = await portal.portal_store.reply_code_of(
        str(case.get("channel")), str(case.get("external_id"))
    )
    return record is not None and replycode.matches(code, record["code_hash"])


@router.get("/lacak", response_class=HTMLResponse)
async def track_search(
    request: Request, id: Annotated[str | None, Query(max_length=40)] = None
) -> Response:
    """The tracking-ID box; a valid ID goes to its page."""
    if id:
        wanted = id.strip().upper()
        if TRACKING.match(wanted):
            return RedirectResponse(f"/lacak/{wanted}", status_code=303)
        return render(
            request,
            "track_search.html",
            {"active": "lacak", "value": id, "error": "Format nomor lacak: XXXX-XXXX-XXXX."},
            status_code=422,
        )
    return render(request, "track_search.html", {"active": "lacak", "value": ""})


async def _view_context(portal: PortalDep) -> case_views.ViewContext:
    """The zone, calendar, instant and category labels this page's case views are read with."""
    return case_views.ViewContext(
        tz=portal.settings.timezone,
        calendar=portal.calendar,
        now=portal.clock.now(),
        category_labels=await category_labels(portal.portal_store),
    )


@dataclass(frozen=True)
class PageNote:
    """What the tracking page says above the case after a reply: thanks, or what is wrong."""

    message: str | None = None
    error: str | None = None
    status_code: int = 200


#: The plain page: nothing said above the case.
NO_NOTE = PageNote()


async def _tracking_page(
    request: Request,
    portal: PortalDep,
    tracking_id: str,
    *,
    code: str | None = None,
    note: PageNote = NO_NOTE,
) -> Response:
    case = await portal.portal_store.case(tracking_id)
    if case is None:
        return error_page(
            request,
            404,
            "Laporan tidak ditemukan",
            "Periksa kembali nomor lacak Anda. Laporan yang baru dikirim perlu beberapa detik "
            "sebelum muncul.",
        )
    code = code or _remembered_code(portal, request, case["_id"])
    is_reporter = await _code_is_right(portal, case, code)
    view = case_views.case_view(
        case,
        content_shown=is_reporter or not case.get("confidential"),
        context=await _view_context(portal),
    )
    notices = []
    if is_reporter:
        cursor = portal.portal_store.notices.find({"tracking_id": case["_id"]}).sort(
            "occurred_at", -1
        )
        notices = [
            {"at": case_views.local_time(n["occurred_at"], portal.settings.timezone), **n}
            async for n in cursor.limit(20)
        ]
    context = {
        "case": view,
        "is_reporter": is_reporter,
        "notices": notices,
        "message": note.message,
        "error": note.error,
        "can_rate": is_reporter and view.status in (Status.RESOLVED, Status.CLOSED),
        "can_accept": is_reporter and view.status == Status.RESOLVED,
        "can_add": is_reporter and view.open,
    }
    response = render(request, "track.html", context, status_code=note.status_code)
    if is_reporter and code:
        _remember_code(portal, response, case["_id"], code, request)
    return response


@router.get("/lacak/{tracking_id}", response_class=HTMLResponse)
async def track(request: Request, portal: PortalDep, tracking_id: str) -> Response:
    """A case's status in plain words and its public timeline."""
    return await _tracking_page(request, portal, tracking_id)


@router.post("/lacak/{tracking_id}", response_class=HTMLResponse)
async def reporter_action(request: Request, portal: PortalDep, tracking_id: str) -> Response:
    """With the reply code: show the content, add information, rate, accept or reopen."""
    if not await portal.rate_limits.allow(f"addr:{client_address(request)}"):
        return _too_many(request)
    form = await request.form(max_files=0, max_fields=10, max_part_size=16 * 1024)
    if not portal.csrf.valid(request, _text(form.get(CSRF_FIELD))):
        return _bad_csrf(request)
    case = await portal.portal_store.case(tracking_id)
    if case is None:
        return await _tracking_page(request, portal, tracking_id)
    code = _text(form.get("code")) or _remembered_code(portal, request, case["_id"])
    if not await _code_is_right(portal, case, code):
        wrong_code = PageNote(
            error="Kode balasan salah. Periksa kembali kode yang Anda terima saat melapor.",
            status_code=403,
        )
        return await _tracking_page(request, portal, tracking_id, note=wrong_code)
    assert code is not None
    action = _text(form.get("action")) or "show"
    if action == "show":
        return await _tracking_page(request, portal, tracking_id, code=code)
    command = _reply_command(case, action, code, form)
    if isinstance(command, str):
        return await _tracking_page(
            request, portal, tracking_id, code=code, note=PageNote(error=command)
        )
    await portal.publisher.publish(
        topology.COMMANDS, "reporter.reply", command, message_id=command["message_id"]
    )
    log.info("reporter reply published", extra={"tracking_id": case["_id"], "action": action})
    thanks = PageNote(
        message="Terima kasih. Tanggapan Anda sudah dikirim dan akan tampil di sini sebentar lagi."
    )
    return await _tracking_page(request, portal, tracking_id, code=code, note=thanks)


def _reply_command(case: dict[str, Any], action: str, code: str, form: Any) -> dict[str, Any] | str:
    """The ``reporter.reply`` command for a form, or what is wrong with it (for citizens)."""
    try:
        chosen = ReporterAction(action)
    except ValueError:
        return "Pilih tindakan yang tersedia."
    command: dict[str, Any] = {
        "message_id": f"web-reply-{uuid.uuid4().hex}",
        "tracking_id": case["_id"],
        "channel": str(case.get("channel") or "web"),
        "reporter": {"handle": replycode.reporter_handle(code)},
        "action": str(chosen),
    }
    message = (_text(form.get("message")) or "").strip()
    if chosen is ReporterAction.RATE:
        rating = _text(form.get("rating")) or ""
        if rating not in {"1", "2", "3", "4", "5"}:
            return "Pilih nilai 1 sampai 5."
        command["rating"] = int(rating)
    if chosen in (ReporterAction.ADD_INFORMATION, ReporterAction.REOPEN) and len(message) < 5:
        return "Tuliskan pesan Anda (paling sedikit 5 karakter)."
    if len(message) > 5000:
        return "Pesan paling banyak 5000 karakter."
    if message:
        command["message"] = message
    return command


class ListFilters(BaseModel):
    """The public list's filters, from the query string (Indonesian names: they show in URLs)."""

    kategori: str | None = Field(default=None, max_length=100)
    wilayah: str | None = Field(default=None, max_length=20)
    status: str | None = Field(default=None, max_length=20)
    q: str | None = Field(default=None, max_length=100)
    halaman: int = Field(default=1, ge=1, le=10_000)

    def query(self) -> dict[str, Any]:
        """The MongoDB filter: never *rahasia*, never archived, then what was chosen."""
        query: dict[str, Any] = {
            "confidential": {"$ne": True},
            "status": {"$ne": str(Status.ARCHIVED)},
        }
        if self.kategori:
            spellings = category_variants([self.kategori])
            query["$or"] = [
                {"category": {"$in": spellings}},
                {"category": None, "category_hint": {"$in": spellings}},
            ]
        if self.wilayah:
            query["location.region_code"] = self.wilayah
        if self.status == "terbuka":
            query["status"] = {"$nin": [str(Status.ARCHIVED), str(Status.CLOSED)]}
        elif self.status == "selesai":
            query["status"] = {"$in": [str(Status.RESOLVED), str(Status.CLOSED)]}
        if self.q:
            query["title"] = {"$regex": re.escape(self.q), "$options": "i"}
        return query


@router.get("/laporan", response_class=HTMLResponse)
async def public_list(
    request: Request, portal: PortalDep, filters: Annotated[ListFilters, Query()]
) -> HTMLResponse:
    """Non-*rahasia*, non-archived reports, newest first, with filters and paging."""
    query = filters.query()
    halaman = filters.halaman
    store = portal.portal_store
    total = await store.complaints.count_documents(query)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(halaman, pages)
    projection = {
        "title": 1, "kind": 1, "category": 1, "category_hint": 1, "location": 1,
        "agency_name": 1, "status": 1, "received_at": 1, "updated_at": 1, "anonymous": 1,
        "confidential": 1, "timeline": 1, "deadlines": 1, "description": 1,
    }  # fmt: skip
    cursor = (
        store.complaints.find(query, projection)
        .sort([("received_at", -1), ("_id", 1)])
        .skip((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    # One instant for the whole page, so every row counts its working days left alike.
    context = await _view_context(portal)
    views = [case_views.case_view(doc, content_shown=True, context=context) async for doc in cursor]
    return render(
        request,
        "list.html",
        {
            "active": "laporan",
            "cases": views,
            "total": total,
            "page": page,
            "pages": pages,
            "filters": filters.model_dump(exclude={"halaman"}, exclude_none=True),
            "categories": await categories(store),
            "regions": await regions(store),
        },
    )


@router.get("/lampiran/{file_id}")
async def attachment(request: Request, portal: PortalDep, file_id: str) -> Response:
    """An attachment: public only for a public, non-*anonim* case; else only its reporter."""
    store = portal.portal_store
    meta = await store.attachment_files.find_one({"_id": file_id})
    if meta is None:
        return error_page(request, 404, "Tidak ditemukan", "Lampiran ini tidak ada.")
    info = meta.get("metadata") or {}
    case = await store.complaints.find_one(
        {"channel": info.get("channel"), "external_id": info.get("external_id")},
        {
            "confidential": 1,
            "anonymous": 1,
            "status": 1,
            "channel": 1,
            "external_id": 1,
            "agency": 1,
            "supporting_agencies": 1,
        },
    )
    if case is None:
        return error_page(request, 404, "Tidak ditemukan", "Lampiran ini tidak ada.")
    public = case_views.is_public(case) and not case.get("anonymous")
    allowed = (
        public
        or await _code_is_right(portal, case, _remembered_code(portal, request, case["_id"]))
        or (portal.staff_may_see is not None and await portal.staff_may_see(request, case))
    )
    if not allowed:
        return error_page(
            request,
            403,
            "Lampiran tidak untuk umum",
            "Lampiran laporan anonim atau rahasia hanya dapat dilihat oleh pelapor, admin, "
            "dan instansi yang menangani.",
        )
    try:
        stream = await store.attachments.open_download_stream(file_id)
    except NoFile:
        return error_page(request, 404, "Tidak ditemukan", "Lampiran ini tidak ada.")
    data = await stream.read()
    return Response(
        data,
        media_type=str(info.get("content_type") or "application/octet-stream"),
        headers={
            "content-disposition": f'inline; filename="{file_id}"',
            "cache-control": "private, no-store" if not public else "public, max-age=3600",
        },
    )


@router.get("/healthz", include_in_schema=False)
async def health() -> dict[str, str]:
    """Liveness for the container health check."""
    return {"status": "ok"}

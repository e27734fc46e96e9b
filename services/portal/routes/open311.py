"""Open311 GeoReport v2 at ``/open311/v2/``: every endpoint in ``.json`` and ``.xml``.

GETs are public (FixMyStreet sends ``api_key`` only in POST bodies); ``jurisdiction_id``
is accepted everywhere and ignored (one jurisdiction per deployment). Reports go to
intake as channel ``open311``; intake assigns tracking IDs asynchronously, so a POST
answers with the ``service_request_id`` when intake answered within the request, else a
``token`` to ask ``tokens/<token>`` about.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from services.portal import georeport
from services.portal.apikeys import client_of
from services.portal.deps import Portal, PortalDep
from services.portal.georeport import Open311Error
from services.portal.registry_view import (
    Category,
    categories,
    category_labels,
    category_variants,
)
from services.portal.security import client_address
from shared import topology
from shared.contract import TRACKING_ID
from shared.lifecycle import Status

router = APIRouter(prefix="/open311/v2", tags=["open311"])
log = logging.getLogger("lapor.portal.open311")

FORMATS = {"json", "xml"}
MAX_IDS = 100
TOO_MANY = "Terlalu banyak permintaan. Tunggu sebentar, lalu coba lagi."


def answer(fmt: str, root: str, item: str | None, body: Any, status_code: int = 200) -> Response:
    """``body`` in the requested format."""
    if fmt == "xml":
        return Response(
            georeport.to_xml(root, item, body), status_code, media_type="text/xml; charset=utf-8"
        )
    return JSONResponse(body, status_code)


def error_answer(fmt: str, error: Open311Error) -> Response:
    """An error list, ``[{code, description}]``, with its 4xx status."""
    return answer(fmt if fmt in FORMATS else "json", "errors", "error", error.body(), error.status)


async def on_error(request: Request, error: Exception) -> Response:
    """The app's handler for :class:`Open311Error` (format from the path's suffix)."""
    assert isinstance(error, Open311Error)
    fmt = "xml" if request.url.path.endswith(".xml") else "json"
    return error_answer(fmt, error)


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(404, "format must be json or xml")
    return fmt


def _base_url(portal: Portal) -> str:
    return f"{portal.public_url}/open311/v2"


async def _services(portal: Portal) -> list[Category]:
    return [*await categories(portal.portal_store), georeport.OTHER]


@router.get("/discovery.{fmt}")
async def discovery(portal: PortalDep, fmt: str) -> Response:
    """Where the endpoint is and what it speaks."""
    body = georeport.discovery(_base_url(portal), f"{portal.public_url}/")
    return answer(_format(fmt), "discovery", None, body)


@router.get("/services.{fmt}")
async def services(portal: PortalDep, fmt: str) -> Response:
    """Every category as a service, with a stable ``service_code``."""
    body = [georeport.service(c) for c in await _services(portal)]
    return answer(_format(fmt), "services", "service", body)


@router.get("/services/{code}.{fmt}")
async def service_definition(portal: PortalDep, code: str, fmt: str) -> Response:
    """A service's attributes (anonim, rahasia)."""
    fmt = _format(fmt)
    for category in await _services(portal):
        if category.service_code == code:
            return answer(fmt, "service_definition", None, georeport.definition(category))
    raise Open311Error(404, f"service_code {code!r} not found")


def _field(form: Any, name: str) -> str | None:
    value = form.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _coordinate(form: Any, name: str, bound: float) -> float | None:
    raw = _field(form, name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Open311Error(400, f"{name} must be a number") from None
    if not -bound <= value <= bound:
        raise Open311Error(400, f"{name} must be between -{bound:g} and {bound:g}")
    return value


def _flag(form: Any, name: str) -> bool:
    return (_field(form, f"attribute[{name}]") or "").lower() in {"true", "1", "ya", "yes"}


async def _report_of(portal: Portal, form: Any, token: str) -> dict[str, Any]:
    """The ``ReportSubmitted`` for an Open311 POST; :class:`Open311Error` says what is wrong."""
    code = _field(form, "service_code")
    if code is None:
        raise Open311Error(400, "service_code is required")
    category = next((c for c in await _services(portal) if c.service_code == code), None)
    if category is None:
        raise Open311Error(400, f"service_code {code!r} not found")
    lat = _coordinate(form, "lat", 90)
    lon = _coordinate(form, "long", 180)
    if (lat is None) != (lon is None):
        raise Open311Error(400, "lat and long must be sent together")
    address = _field(form, "address_string")
    if lat is None and address is None and _field(form, "address_id") is None:
        raise Open311Error(400, "lat/long or address_string is required")
    text = _field(form, "description")
    if text is None or not any(ch.isalnum() for ch in text):
        raise Open311Error(400, "description is required")
    if len(text) > 5200:
        raise Open311Error(400, "description is longer than 5000 characters")
    title, description = georeport.title_and_description(text)
    name = " ".join(p for p in (_field(form, "first_name"), _field(form, "last_name")) if p)
    anonymous = _flag(form, "anonim")
    reporter = {
        "name": None if anonymous or not name else name,
        "email": _field(form, "email"),
        "phone": _field(form, "phone"),
    }
    media = _field(form, "media_url")
    attributes = {
        key[len("attribute[") : -1]: value
        for key, value in form.items()
        if key.startswith("attribute[") and key.endswith("]") and isinstance(value, str)
    }
    location = georeport.compact({"address": address, "lat": lat, "lon": lon})
    body: dict[str, Any] = {
        "channel": "open311",
        "external_id": token,
        "title": title,
        "description": description[:5000],
        "category": None if category is georeport.OTHER else category.code,
        "reporter": georeport.compact(reporter) or None,
        "anonymous": anonymous,
        "confidential": _flag(form, "rahasia"),
        "location": location or None,
        "attachments": (
            [{"url": media}] if media and media.startswith(("http://", "https://")) else None
        ),
        "open311_attributes": attributes or None,
    }
    return georeport.compact(body)


@router.post("/requests.{fmt}")
async def create_request(request: Request, portal: PortalDep, fmt: str) -> Response:
    """A new request, form-encoded as FixMyStreet sends it."""
    fmt = _format(fmt)
    form = await request.form(max_files=0, max_fields=100, max_part_size=16 * 1024)
    key = _field(form, "api_key")
    if not await portal.rate_limits.allow(
        f"addr:{client_address(request)}", *([f"key:{key}"] if key else [])
    ):
        raise Open311Error(429, TOO_MANY)
    if key is None:
        raise Open311Error(403, "api_key is required")
    client = await client_of(portal.portal_store, key)
    if client is None:
        raise Open311Error(403, "api_key is not valid")
    token = f"o311-{uuid.uuid4().hex}"
    report = await _report_of(portal, form, token)
    await portal.portal_store.open311_tokens.insert_one(
        {"_id": token, "client": client, "created_at": portal.clock.now()}
    )
    await portal.publisher.publish(topology.INTAKE, "channel.open311", report, message_id=token)
    log.info("open311 request published", extra={"external_id": token, "client": client})
    tracking_id = await portal.notices.wait_for_tracking_id(
        "open311", token, portal.settings.portal_open311_wait_seconds
    )
    entry = {"service_request_id": tracking_id} if tracking_id else {"token": token}
    return answer(fmt, "service_requests", "request", [entry])


@router.get("/tokens/{token}.{fmt}")
async def token_status(portal: PortalDep, token: str, fmt: str) -> Response:
    """The request ID a token became, once intake has assigned it."""
    fmt = _format(fmt)
    if await portal.portal_store.open311_tokens.find_one({"_id": token}) is None:
        raise Open311Error(404, "token not found")
    tracking_id = await portal.notices.tracking_id_for("open311", token)
    entry = georeport.compact({"service_request_id": tracking_id, "token": token})
    return answer(fmt, "service_requests", "request", [entry])


def _date(raw: str | None, name: str) -> datetime | None:
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace(" ", "+"))
    except ValueError:
        raise Open311Error(400, f"{name} must be an RFC 3339 date-time") from None
    if moment.tzinfo is None:
        raise Open311Error(400, f"{name} must carry a time zone offset")
    return moment


async def _requests(portal: Portal, query: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    store = portal.portal_store
    labels = await category_labels(store)
    fallback = (portal.settings.portal_default_lat, portal.settings.portal_default_lon)
    cursor = store.complaints.find(query).sort([("received_at", -1), ("_id", 1)]).limit(limit)
    return [
        georeport.request_of(case, labels, fallback, portal.public_url) async for case in cursor
    ]


@router.get("/requests.{fmt}")
async def list_requests(request: Request, portal: PortalDep, fmt: str) -> Response:
    """Requests by ID list, or by service, dates and status; never *rahasia*, no identity."""
    fmt = _format(fmt)
    params = request.query_params
    query: dict[str, Any] = {"confidential": {"$ne": True}}
    ids_raw = params.get("service_request_id")
    if ids_raw:
        ids = [i.strip().upper() for i in ids_raw.split(",") if i.strip()]
        if len(ids) > MAX_IDS:
            raise Open311Error(400, f"at most {MAX_IDS} service_request_id values")
        query["_id"] = {"$in": ids}
        return answer(fmt, "service_requests", "request", await _requests(portal, query, MAX_IDS))
    query["status"] = {"$ne": str(Status.ARCHIVED)}
    end = _date(params.get("end_date"), "end_date") or portal.clock.now()
    start = _date(params.get("start_date"), "start_date") or end - timedelta(
        days=portal.settings.portal_open311_default_days
    )
    if start > end:
        raise Open311Error(400, "start_date must not be after end_date")
    query["received_at"] = {"$gte": start, "$lte": end}
    code = params.get("service_code")
    if code:
        wanted = [c for c in await _services(portal) if c.service_code in code.split(",")]
        if not wanted:
            raise Open311Error(400, f"service_code {code!r} not found")
        codes = category_variants([c.code for c in wanted if c is not georeport.OTHER])
        alternatives: list[dict[str, Any]] = [
            {"category": {"$in": codes}},
            {"category": None, "category_hint": {"$in": codes}},
        ]
        if any(c is georeport.OTHER for c in wanted):
            alternatives.append({"category": None, "category_hint": None})
        query["$or"] = alternatives
    status = params.get("status")
    if status:
        wanted_status = {s.strip().lower() for s in status.split(",")}
        if not wanted_status <= {"open", "closed"}:
            raise Open311Error(400, "status must be open or closed")
        closed = [str(s) for s in georeport.CLOSED]
        if wanted_status == {"open"}:
            query["status"] = {"$nin": closed}
        elif wanted_status == {"closed"}:
            query["status"] = {"$in": [s for s in closed if s != Status.ARCHIVED]}
    limit = portal.settings.portal_open311_page_size
    return answer(fmt, "service_requests", "request", await _requests(portal, query, limit))


@router.get("/requests/{request_id}.{fmt}")
async def one_request(portal: PortalDep, request_id: str, fmt: str) -> Response:
    """One request; a *rahasia* case is as unknown as a missing one."""
    fmt = _format(fmt)
    wanted = request_id.strip().upper()
    found = await _requests(portal, {"_id": wanted, "confidential": {"$ne": True}}, 1)
    if not found or not _is_tracking_id(wanted):
        raise Open311Error(404, f"service_request_id {request_id!r} not found")
    return answer(fmt, "service_requests", "request", found)


def _is_tracking_id(value: str) -> bool:
    return re.match(TRACKING_ID, value) is not None

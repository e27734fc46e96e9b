"""Open311 GeoReport v2 shapes: services, requests, errors, and their XML form.

Pure functions over registry categories and ``complaints`` documents. Fields without a
value are left out, never ``null`` (FixMyStreet's client reads them that way); every
listed request carries ``lat``, ``long`` and ``updated_datetime`` (it skips one without),
coarsened so a point is never more precise than the case allows.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any

from services.portal.cases import ARCHIVE_WORDS, latest_answer, running_deadline
from services.portal.regions import centre_of
from services.portal.registry_view import Category
from shared.lifecycle import Status

Json = dict[str, Any]

SPEC = "http://wiki.open311.org/GeoReport_v2"
#: When this endpoint's behaviour last changed (discovery ``changeset``).
CHANGESET = "2026-12-02T00:00:00+07:00"
OTHER = Category("lainnya", "Lainnya")
CLOSED = frozenset({Status.RESOLVED, Status.CLOSED, Status.ARCHIVED})

#: The attributes every service takes: LAPOR's two protections, as Open311 attributes.
FLAG_ATTRIBUTES = (
    ("anonim", "Anonim: identitas pelapor tidak ditampilkan kepada instansi maupun publik."),
    ("rahasia", "Rahasia: laporan tidak tampil untuk publik."),
)

# XML: the element name of a list's items, by the list's name.
_ITEM_TAG = {"attributes": "attribute", "values": "value", "endpoints": "endpoint",
             "formats": "format"}  # fmt: skip


class Open311Error(Exception):
    """An Open311 error answer: ``[{code, description}]`` with a 4xx status."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description

    def body(self) -> list[Json]:
        """The error list."""
        return [{"code": self.status, "description": self.description}]


def compact(value: Json) -> Json:
    """``value`` without keys whose value is None."""
    return {k: v for k, v in value.items() if v is not None}


def rfc3339(moment: datetime | None) -> str | None:
    """An aware datetime as RFC 3339 (seconds precision)."""
    return None if moment is None else moment.replace(microsecond=0).isoformat()


def discovery(base_url: str, contact: str) -> Json:
    """The discovery document."""
    return {
        "changeset": CHANGESET,
        "contact": contact,
        "key_service": "Minta API key kepada admin LAPOR (lapor apikey create NAMA).",
        "endpoints": [
            {
                "specification": SPEC,
                "url": base_url,
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["application/json", "text/xml"],
            }
        ],
    }


def service(category: Category) -> Json:
    """One entry of ``services``."""
    return {
        "service_code": category.service_code,
        "service_name": category.label,
        "description": f"Laporan tentang {category.label.lower()}",
        "metadata": True,
        "type": "realtime",
        "keywords": category.code,
        "group": "LAPOR",
    }


def definition(category: Category) -> Json:
    """A service definition: the anonim / rahasia attributes."""
    return {
        "service_code": category.service_code,
        "attributes": [
            {
                "variable": True,
                "code": code,
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": "Pilih ya atau tidak",
                "order": order,
                "description": text,
                "values": [{"key": "true", "name": "Ya"}, {"key": "false", "name": "Tidak"}],
            }
            for order, (code, text) in enumerate(FLAG_ATTRIBUTES, start=1)
        ],
    }


def coarse_point(case: Json, fallback: tuple[float, float]) -> tuple[float, float]:
    """Where to put a case on a map: its point rounded (more for *anonim*), else its region's
    centre, else the deployment's centre."""
    location = case.get("location") or {}
    lat, lon = location.get("lat"), location.get("lon")
    if lat is not None and lon is not None:
        # 3 decimals is about 110 m; an anonim reporter's point only to about 1 km.
        digits = 2 if case.get("anonymous") else 3
        return round(float(lat), digits), round(float(lon), digits)
    return centre_of(location.get("region_code")) or fallback


def service_code_of(case: Json) -> str:
    """The Open311 service code of a case's category (``lainnya`` without one)."""
    code = case.get("category") or case.get("category_hint")
    return Category(str(code), "").service_code if code else OTHER.service_code


def request_of(
    case: Json, labels: dict[str, str], fallback: tuple[float, float], base_url: str
) -> Json:
    """A case as an Open311 request: no identity, nothing internal."""
    status = str(case.get("status"))
    notes = latest_answer(case)
    if status == Status.ARCHIVED:
        notes = "Diarsipkan: " + ARCHIVE_WORDS.get(str(case.get("archive_reason")), "")
    running = running_deadline(case)
    lat, lon = coarse_point(case, fallback)
    category = case.get("category") or case.get("category_hint")
    title, description = case.get("title"), str(case.get("description") or "")
    media = [
        a.get("url")
        for a in case.get("attachments") or []
        if not case.get("anonymous") and str(a.get("content_type", "")).startswith("image/")
    ]
    return compact(
        {
            "service_request_id": case["_id"],
            "status": "closed" if status in CLOSED else "open",
            "status_notes": notes,
            "service_name": labels.get(category, category) if category else OTHER.label,
            "service_code": service_code_of(case),
            "description": f"{title}\r\n\r\n{description}" if title else description,
            "agency_responsible": case.get("agency_name") or None,
            "requested_datetime": rfc3339(case.get("received_at")),
            "updated_datetime": rfc3339(case.get("updated_at") or case.get("received_at")),
            "expected_datetime": rfc3339(running[1]) if running else None,
            "address": (case.get("location") or {}).get("address"),
            "lat": lat,
            "long": lon,
            "media_url": media[0] if media else None,
            "service_notice": f"{base_url}/lacak/{case['_id']}",
        }
    )


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def title_and_description(text: str) -> tuple[str | None, str]:
    """FixMyStreet puts the title first in ``description``, then CRLF line breaks."""
    lines = _LINE_BREAK.split(text.strip(), maxsplit=1)
    if len(lines) == 2 and lines[1].strip() and 0 < len(lines[0].strip()) <= 200:
        return lines[0].strip(), lines[1].strip()
    return None, text.strip()


def _xml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _append(parent: ET.Element, tag: str, value: Any) -> None:
    element = ET.SubElement(parent, tag)
    if isinstance(value, dict):
        for key, inner in value.items():
            _append(element, key, inner)
    elif isinstance(value, list):
        item_tag = _ITEM_TAG.get(tag, "item")
        for inner in value:
            _append(element, item_tag, inner)
    else:
        element.text = _xml_value(value)


def to_xml(root: str, item: str | None, body: Json | list[Json]) -> bytes:
    """``body`` as GeoReport XML: a list becomes ``<root><item>…</item></root>``."""
    element = ET.Element(root)
    if isinstance(body, list):
        for entry in body:
            _append(element, item or "item", entry)
    else:
        for key, value in body.items():
            _append(element, key, value)
    xml: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=True)
    return xml

"""A citizen's report from the web form: checked field by field, then a ``ReportSubmitted``.

The form carries a one-time ``external_id`` (made when the form is shown), so a double
click or a refresh resends the same report and intake creates one case.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.contacts import normalise_phone
from shared.lifecycle import Kind

EXTERNAL_ID = re.compile(r"^w-[A-Za-z0-9_-]{20,60}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

#: What a citizen is told when a field is wrong (Bahasa Indonesia), by field.
FIELD_MESSAGES = {
    "external_id": "Formulir sudah kedaluwarsa. Muat ulang halaman lalu kirim lagi.",
    "kind": "Pilih jenis laporan.",
    "title": "Judul wajib diisi, 5 sampai 200 karakter.",
    "description": "Isi laporan wajib diisi, 20 sampai 5000 karakter.",
    "category": "Pilih kategori dari daftar.",
    "address": "Alamat paling banyak 500 karakter.",
    "region_code": "Pilih kabupaten/kota dari daftar.",
    "lat": "Garis lintang harus angka antara -90 dan 90.",
    "lon": "Garis bujur harus angka antara -180 dan 180.",
    "name": "Nama paling banyak 200 karakter.",
    "phone": "Nomor telepon tidak valid (contoh: 0812 3456 7890).",
    "email": "Alamat e-mail tidak valid.",
    "attachments": "Lampiran tidak dapat diterima.",
}


def new_external_id() -> str:
    """A fresh one-time ID for a form (the report's idempotency key on channel ``web``)."""
    return f"w-{secrets.token_urlsafe(24)}"


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


class ReportForm(BaseModel):
    """The report form's fields, as a citizen filled them in."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")

    external_id: str = Field(pattern=EXTERNAL_ID.pattern)
    kind: Kind = Kind.PENGADUAN
    title: str = Field(min_length=5, max_length=200)
    description: str = Field(min_length=20, max_length=5000)
    category: str | None = Field(default=None, max_length=100)
    address: str | None = Field(default=None, max_length=500)
    region_code: str | None = Field(default=None, pattern=r"^\d{2}(\.\d{2})?$")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    anonymous: bool = False
    confidential: bool = False
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)

    @field_validator(
        "category", "address", "region_code", "lat", "lon", "name", "phone", "email",
        mode="before",
    )  # fmt: skip
    @classmethod
    def _optional(cls, value: Any) -> Any:
        return _blank_to_none(value)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else normalise_phone(value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError("not an e-mail address")
        return value


def parse_form(values: dict[str, Any]) -> tuple[ReportForm | None, dict[str, str]]:
    """The form, or the problems by field (messages for citizens)."""
    data = dict(values)
    for flag in ("anonymous", "confidential"):
        data[flag] = flag in values
    try:
        return ReportForm.model_validate(data), {}
    except ValidationError as exc:
        problems: dict[str, str] = {}
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "form"
            problems.setdefault(name, FIELD_MESSAGES.get(name, "Isian tidak valid."))
        return None, problems


@dataclass(frozen=True)
class StoredAttachment:
    """An attachment kept by the portal, referenced by URL in the report."""

    url: str
    content_type: str
    size: int


def report_submitted(
    form: ReportForm, handle: str, attachments: list[StoredAttachment]
) -> dict[str, Any]:
    """The ``ReportSubmitted`` body for channel ``web``."""
    reporter = {
        "name": None if form.anonymous else form.name,
        "phone": form.phone,
        "email": form.email,
        "handle": handle,
    }
    location = {
        "address": form.address,
        "region_code": form.region_code,
        "lat": form.lat,
        "lon": form.lon,
    }
    body: dict[str, Any] = {
        "channel": "web",
        "external_id": form.external_id,
        "kind": str(form.kind),
        "title": form.title,
        "description": form.description,
        "reporter": {k: v for k, v in reporter.items() if v is not None},
        "anonymous": form.anonymous,
        "confidential": form.confidential,
        "category": form.category,
        "attachments": [
            {"url": a.url, "content_type": a.content_type, "size": a.size} for a in attachments
        ],
    }
    if any(v is not None for v in location.values()):
        body["location"] = {k: v for k, v in location.items() if v is not None}
    return {k: v for k, v in body.items() if v is not None}


#: The first bytes of each accepted file type: the declared type must match the content.
_SIGNATURES = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "application/pdf": (b"%PDF-",),
}


def sniff_matches(content_type: str, head: bytes) -> bool:
    """Whether a file's first bytes fit its declared type (webp: RIFF....WEBP)."""
    if content_type == "image/webp":
        return head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    return any(head.startswith(sig) for sig in _SIGNATURES.get(content_type, ()))

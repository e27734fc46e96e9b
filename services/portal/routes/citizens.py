"""The citizens' pages: report form, tracking page, public list."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.portal.pages import render

router = APIRouter(tags=["citizens"])


@router.get("/", response_class=HTMLResponse)
async def report_form(request: Request) -> HTMLResponse:
    """The report form (the ``web`` channel)."""
    return render(request, "index.html", {"active": "lapor"})


@router.get("/healthz", include_in_schema=False)
async def health() -> dict[str, str]:
    """Liveness for the container health check."""
    return {"status": "ok"}

"""Rendering pages: one place that adds the CSRF token and sets its cookie."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from services.portal.deps import get_portal
from services.portal.security import CSRF_FIELD


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
    csrf_bound_to: str = "",
) -> HTMLResponse:
    """A page from ``template``; every page gets ``csrf_field`` / ``csrf_token`` for forms."""
    portal = get_portal(request)
    values = {
        "csrf_field": CSRF_FIELD,
        "csrf_token": portal.csrf.token(request, csrf_bound_to),
        "active": None,
    } | (context or {})
    response = portal.templates.TemplateResponse(request, template, values, status_code=status_code)
    portal.csrf.remember(request, response)
    response.headers["cache-control"] = "no-store"
    return response


def error_page(request: Request, status_code: int, heading: str, message: str) -> HTMLResponse:
    """A plain-language error page (Bahasa Indonesia)."""
    return render(request, "error.html", {"heading": heading, "message": message}, status_code)

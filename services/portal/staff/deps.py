"""Who is asking: ``CurrentStaff`` and ``require(Role.ADMIN, ...)`` as ``Annotated``
dependencies, so a staff route's signature says who may call it.

Every failure is a 403 that changes nothing: no session, an expired one, a disabled
account, a role that may not call the route, and (for every POST) a missing or wrong
CSRF token. The account is re-read on every request, so disabling it takes effect at once.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request

from services.portal.deps import get_portal
from services.portal.security import CSRF_FIELD, client_address
from services.portal.staff.accounts import StaffAccount
from services.portal.staff.audit import AuditAction, AuditEntry
from services.portal.staff.desk import StaffDesk, StaffRefused, get_desk
from services.portal.staff.roles import Role
from services.portal.staff.sessions import StaffSession, csrf_matches

DeskDep = Annotated[StaffDesk, Depends(get_desk)]


@dataclass(frozen=True)
class Staff:
    """The logged-in staff member of this request."""

    account: StaffAccount
    session: StaffSession
    address: str

    @property
    def name(self) -> str:
        """The account name (what commands and the audit log record as the actor)."""
        return self.account.name

    @property
    def role(self) -> Role:
        """The account's role."""
        return self.account.role

    @property
    def agencies(self) -> frozenset[str]:
        """The agencies the account belongs to."""
        return self.account.agencies


SESSION_ENDED = "Sesi Anda sudah berakhir atau Anda belum masuk. Silakan masuk lagi."


async def current_staff(request: Request, desk: DeskDep) -> Staff:
    """The staff member whose live session this request carries; 403 otherwise."""
    token = request.cookies.get(desk.cookie_name)
    now = get_portal(request).clock.now()
    session = await desk.staff.sessions.resume(token, now) if token else None
    if session is None:
        raise StaffRefused(SESSION_ENDED)
    account = await desk.staff.accounts.get(session.name)
    if account is None or not account.enabled:
        await desk.staff.sessions.end(token or "")
        raise StaffRefused(SESSION_ENDED)
    staff = Staff(account, session, client_address(request))
    if request.method == "POST":
        form = await request.form()
        given = form.get(CSRF_FIELD)
        if not csrf_matches(session.csrf_token, given if isinstance(given, str) else None):
            await refuse(desk, staff, now, request, "csrf")
            raise StaffRefused(
                "Formulir kedaluwarsa atau tidak sah. Muat ulang halaman lalu coba lagi."
            )
    return staff


CurrentStaff = Annotated[Staff, Depends(current_staff)]


async def refuse(desk: StaffDesk, staff: Staff, now: datetime, request: Request, why: str) -> None:
    """Write a refused attempt to the audit log (who, what, from where)."""
    await desk.staff.audit.record(
        AuditEntry(
            at=now,
            actor=staff.name,
            action=AuditAction.REFUSED,
            address=staff.address,
            role=str(staff.role),
            tracking_id=request.path_params.get("tracking_id"),
            detail={"why": why, "path": request.url.path, "method": request.method},
        )
    )


def require(*roles: Role) -> Callable[..., Coroutine[Any, Any, Staff]]:
    """A dependency admitting only staff with one of ``roles`` (403 for anyone else)."""

    async def dependency(request: Request, staff: CurrentStaff, desk: DeskDep) -> Staff:
        if staff.role not in roles:
            await refuse(desk, staff, get_portal(request).clock.now(), request, "role")
            raise StaffRefused("Peran Anda tidak berwenang untuk halaman atau tindakan ini.")
        return staff

    return dependency


AdminStaff = Annotated[Staff, Depends(require(Role.ADMIN))]
LiaisonStaff = Annotated[Staff, Depends(require(Role.AGENCY))]
OperatorStaff = Annotated[Staff, Depends(require(Role.OPERATOR))]
DashboardStaff = Annotated[Staff, Depends(require(Role.LEADER, Role.ADMIN, Role.OPERATOR))]
OversightStaff = Annotated[
    Staff, Depends(require(Role.LEADER, Role.INSPEKTORAT, Role.OMBUDSMAN, Role.ADMIN, Role.AGENCY))
]

"""Who works in the staff area and what each role may do: pure rules, no IO.

The roles (Bahasa Indonesia names as staff read them in the portal):

- ``admin``: the central admin desk (*satu pintu*): verifies and routes every case;
- ``agency``: an OPD's liaison (*penghubung*): acts only on its own agencies' cases;
- ``leader``: an agency head (*pimpinan*): reads its agency's cases (no agency: every case);
- ``inspektorat`` / ``ombudsman``: read the escalations addressed to them;
- ``operator``: manages staff accounts and agencies, reads the audit log.
"""

from __future__ import annotations

from enum import StrEnum

from shared.lifecycle import EscalationTarget


class Role(StrEnum):
    """A staff member's role; one per account."""

    ADMIN = "admin"
    AGENCY = "agency"
    LEADER = "leader"
    INSPEKTORAT = "inspektorat"
    OMBUDSMAN = "ombudsman"
    OPERATOR = "operator"


#: The role's name in the portal (Bahasa Indonesia).
ROLE_TITLES: dict[Role, str] = {
    Role.ADMIN: "Admin LAPOR",
    Role.AGENCY: "Penghubung instansi",
    Role.LEADER: "Pimpinan",
    Role.INSPEKTORAT: "Inspektorat",
    Role.OMBUDSMAN: "Ombudsman",
    Role.OPERATOR: "Operator",
}

#: Roles whose account must name at least one agency.
ROLES_NEEDING_AGENCY = frozenset({Role.AGENCY})
#: Roles that may name agencies (a leader without one sees the whole deployment).
ROLES_WITH_AGENCY = frozenset({Role.AGENCY, Role.LEADER})

#: Which escalation notices each role reads in the oversight inbox.
OVERSIGHT_TARGETS: dict[Role, frozenset[EscalationTarget]] = {
    Role.LEADER: frozenset({EscalationTarget.PIMPINAN}),
    Role.INSPEKTORAT: frozenset({EscalationTarget.INSPEKTORAT}),
    Role.OMBUDSMAN: frozenset({EscalationTarget.OMBUDSMAN}),
    Role.ADMIN: frozenset(EscalationTarget),
}


class AccountError(ValueError):
    """An account cannot be made or changed as asked; the message says which field and why."""


def check_agencies(role: Role, agencies: list[str]) -> None:
    """Refuse agencies on a role that has none, and a liaison without an agency."""
    if role in ROLES_NEEDING_AGENCY and not agencies:
        raise AccountError(f"agencies: role {role} needs at least one --agency CODE")
    if agencies and role not in ROLES_WITH_AGENCY:
        raise AccountError(f"agencies: role {role} does not belong to an agency")


def may_see_agency(role: Role, own_agencies: frozenset[str], agency: str | None) -> bool:
    """Whether a staff member may read cases held by ``agency`` (None: not dispatched)."""
    if role is Role.ADMIN:
        return True
    if role is Role.LEADER:
        return not own_agencies or agency in own_agencies
    if role is Role.AGENCY:
        return agency is not None and agency in own_agencies
    return False


def may_act_for_agency(role: Role, own_agencies: frozenset[str], agency: str | None) -> bool:
    """Whether a staff member may answer, as the liaison, for a case held by ``agency``."""
    return role is Role.AGENCY and agency is not None and agency in own_agencies


def sees_oversight(
    role: Role, own_agencies: frozenset[str], target: str, agency: str | None
) -> bool:
    """Whether an escalation addressed to ``target`` about ``agency`` is for this person."""
    targets = OVERSIGHT_TARGETS.get(role, frozenset())
    if target not in targets:
        return False
    if role is Role.LEADER and own_agencies:
        return agency in own_agencies
    return True


def may_open_private_attachments(
    role: Role, own_agencies: frozenset[str], holding: frozenset[str]
) -> bool:
    """The admin, and a liaison of an agency holding the case (lead or supporting), may open
    an *anonim* or *rahasia* report's attachments; nobody else on the staff side may."""
    return role is Role.ADMIN or (role is Role.AGENCY and bool(own_agencies & holding))

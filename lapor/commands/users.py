"""``lapor users``: staff accounts for the portal's staff area (``/staf/``)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from services.portal.staff.roles import Role

if TYPE_CHECKING:
    from services.portal.staff.store import StaffStore

ROLES = [str(role) for role in Role]


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in a bare container
        return "cli"


def _read_password(args: argparse.Namespace) -> tuple[str, bool]:
    """The password from standard input when asked, else a generated one (and say so)."""
    from services.portal.staff.accounts import generate_password

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    return generate_password(), True


async def _with_staff(work: Callable[[StaffStore], Awaitable[int]]) -> int:
    from pymongo.errors import PyMongoError

    from services.portal.staff.roles import AccountError
    from services.portal.staff.store import StaffStore
    from shared.settings import LaporSettings
    from shared.storage import Store

    store = Store.from_settings(LaporSettings(), app_name="lapor-users")
    staff = StaffStore.over(store)
    try:
        await staff.ensure_indexes()
        return await work(staff)
    except AccountError as error:
        sys.stderr.write(f"lapor users: {error}\n")
        return 2
    except PyMongoError as error:
        sys.stderr.write(f"lapor users: cannot use the database: {type(error).__name__}\n")
        return 1
    finally:
        await store.close()


def _add(args: argparse.Namespace) -> int:
    from services.portal.staff.audit import AuditAction, AuditEntry
    from shared.clock import SystemClock

    password, generated = _read_password(args)

    async def work(staff: StaffStore) -> int:
        now = SystemClock().now()
        account = await staff.accounts.add(
            args.name, Role(args.role), args.agency or [], password, now
        )
        await staff.audit.record(
            AuditEntry(
                at=now,
                actor=_actor(),
                action=AuditAction.USER_ADDED,
                address="local",
                detail={"account": account.name, "role": str(account.role),
                        "agencies": ",".join(sorted(account.agencies))},
            )
        )  # fmt: skip
        sys.stdout.write(f"added {account.name} ({account.role})\n")
        if generated:
            sys.stdout.write(f"password: {password}\n")
        return 0

    return asyncio.run(_with_staff(work))


def _list(args: argparse.Namespace) -> int:
    async def work(staff: StaffStore) -> int:
        accounts = await staff.accounts.all()
        if not accounts:
            sys.stdout.write("no staff accounts; add one with `lapor users add NAME --role …`\n")
            return 0
        sys.stdout.write(f"{'name':<24} {'role':<12} {'agencies':<40} state\n")
        for account in accounts:
            agencies = ",".join(sorted(account.agencies)) or "-"
            state = "enabled" if account.enabled else "disabled"
            sys.stdout.write(f"{account.name:<24} {account.role:<12} {agencies:<40} {state}\n")
        return 0

    return asyncio.run(_with_staff(work))


def _set_enabled(enabled: bool) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        from services.portal.staff.audit import AuditAction, AuditEntry
        from shared.clock import SystemClock

        async def work(staff: StaffStore) -> int:
            now = SystemClock().now()
            account = await staff.accounts.set_enabled(args.name, enabled, now)
            ended = 0 if enabled else await staff.sessions.end_all_for(account.name)
            action = AuditAction.USER_ENABLED if enabled else AuditAction.USER_DISABLED
            await staff.audit.record(
                AuditEntry(now, _actor(), action, "local", detail={"account": account.name})
            )
            state = "enabled" if enabled else f"disabled ({ended} sessions ended)"
            sys.stdout.write(f"{account.name}: {state}\n")
            return 0

        return asyncio.run(_with_staff(work))

    return handler


def _reset_password(args: argparse.Namespace) -> int:
    from services.portal.staff.audit import AuditAction, AuditEntry
    from shared.clock import SystemClock

    password, generated = _read_password(args)

    async def work(staff: StaffStore) -> int:
        now = SystemClock().now()
        account = await staff.accounts.reset_password(args.name, password, now)
        ended = await staff.sessions.end_all_for(account.name)
        await staff.audit.record(
            AuditEntry(
                now, _actor(), AuditAction.PASSWORD_RESET, "local", detail={"account": account.name}
            )
        )
        sys.stdout.write(f"{account.name}: password reset, {ended} sessions ended\n")
        if generated:
            sys.stdout.write(f"password: {password}\n")
        return 0

    return asyncio.run(_with_staff(work))


def register(subparsers: Any) -> None:
    """Add ``users`` with ``add``, ``list``, ``disable``, ``enable`` and ``reset-password``."""
    parser = subparsers.add_parser(
        "users",
        help="manage staff accounts for the portal's staff area (/staf/)",
        description="Staff accounts for the admin desk, agency liaisons, leaders, Inspektorat, "
        "Ombudsman and operators. Passwords are stored only as Argon2id hashes; every change "
        "is written to the audit log. Reads LAPOR_MONGO_URL and LAPOR_MONGO_DB.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser(
        "add",
        help="add an account (prints a generated password unless --password-stdin)",
        description="Add a staff account. A liaison (agency) needs at least one --agency; a "
        "leader may name agencies (none: the whole deployment).",
    )
    add.add_argument("name", metavar="NAME", help="log-in name, e.g. budi.dinkes")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument(
        "--agency", action="append", metavar="CODE", help="agency code (repeat for several)"
    )
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    add.set_defaults(handler=_add)

    listing = actions.add_parser("list", help="list every account with its role and state")
    listing.set_defaults(handler=_list)

    for name, enabled, text in (
        ("disable", False, "disable an account and end its sessions"),
        ("enable", True, "enable a disabled account"),
    ):
        sub = actions.add_parser(name, help=text)
        sub.add_argument("name", metavar="NAME")
        sub.set_defaults(handler=_set_enabled(enabled))

    reset = actions.add_parser(
        "reset-password",
        help="set a new password (prints a generated one unless --password-stdin)",
        description="Set a new password, end the account's sessions, forget failed log-ins.",
    )
    reset.add_argument("name", metavar="NAME")
    reset.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    reset.set_defaults(handler=_reset_password)

"""``lapor access apply``: broker users and their rights, from the agency registry and channels.

Every channel adapter, agency system and the portal connects to RabbitMQ as its own user
(shared/senders.py says what each may do; the services check it again on every message).
This command makes the broker agree, on a running broker, idempotently:

- ``channel-<name>``: configure nothing; write ``lapor.intake`` with key
  ``channel.<name>`` and ``lapor.commands`` with ``reporter.reply``; read its queue
  ``channel.<name>``.
- ``opd-<code>``: configure nothing; write ``lapor.commands`` with ``opd.respond``; read
  its queue ``opd.<code>``.
- ``lapor-portal``: configure nothing; write ``lapor.intake`` with ``channel.web`` /
  ``channel.open311`` and ``lapor.commands`` with the four commands; read
  ``channel.web``, ``channel.open311`` and its own ``portal.*`` queues.

Nobody here writes ``lapor.dlx`` (it is internal anyway), ``lapor.events``,
``lapor.opd``, ``lapor.outbound`` or ``lapor.oversight``, or any queue; nobody may
declare, delete or purge anything. The queues these users read (``channel.<name>``,
``opd.<code>``) are declared here, as the admin, so that no user needs a right to
create them: a channel adapter declares its queue *passively*.

**How.** With the RabbitMQ management HTTP API when ``LAPOR_RABBITMQ_MANAGEMENT_URL`` is
set (docker compose: the ``rabbitmq:3.13-management`` image, from the ``topology``
container, which has no ``rabbitmqctl``); otherwise with ``rabbitmqctl`` on this host.
Either way the same definitions document is imported (``POST /api/definitions`` or
``rabbitmqctl import_definitions -``), so no password ever appears on a command line:
new users carry a salted SHA-256 password hash, RabbitMQ's own format. The admin's
credentials are those of ``LAPOR_AMQP_URL`` (the management API takes the same user).

**Passwords.** A user that does not exist yet gets a random password, appended once to
the file the operator names (``--passwords``, created 0600); an existing user's password
is never changed or shown. Hand each to its system and delete the file.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from shared import topology
from shared.senders import AGENCY_PREFIX, CHANNEL_PREFIX, PORTAL_CHANNELS, PORTAL_USER

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
NOTHING = "^$"
COMMAND_KEYS = ("verification.decide", "routing.dispose", "opd.respond", "reporter.reply")


def _exact(*names: str) -> str:
    return "^(" + "|".join(re.escape(n) for n in names) + ")$"


@dataclass(frozen=True)
class TopicGrant:
    """Routing keys a user may publish (write) and bind (read) on one topic exchange."""

    exchange: str
    write: str
    read: str = NOTHING


@dataclass(frozen=True)
class UserGrant:
    """One broker user: its rights in the vhost, and the queues it reads."""

    user: str
    configure: str
    write: str
    read: str
    topics: tuple[TopicGrant, ...] = ()
    #: Queues this command declares (as the admin) so that the user needs no right to.
    queues: tuple[topology.QueueSpec, ...] = ()


def channel_queue(name: str) -> topology.QueueSpec:
    """A channel's own queue of notices, ``channel.<name>`` on ``lapor.outbound``."""
    return topology.QueueSpec(f"channel.{name}", ((topology.OUTBOUND, f"channel.{name}"),))


def _check_name(kind: str, name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"{kind} {name!r}: lower-case letters, digits, '-' and '_' only")
    return name


def channel_grant(name: str) -> UserGrant:
    """What ``channel-<name>`` may do: report on its key, relay replies, read its notices."""
    _check_name("channel", name)
    key = f"channel.{name}"
    return UserGrant(
        user=CHANNEL_PREFIX + name,
        configure=NOTHING,
        write=_exact(topology.INTAKE, topology.COMMANDS),
        read=_exact(key),
        topics=(
            TopicGrant(topology.INTAKE, _exact(key)),
            TopicGrant(topology.COMMANDS, _exact("reporter.reply")),
        ),
        queues=(channel_queue(name),),
    )


def agency_grant(code: str) -> UserGrant:
    """What ``opd-<code>`` may do: read its own queue, answer with ``opd.respond``."""
    _check_name("agency code", code)
    return UserGrant(
        user=AGENCY_PREFIX + code,
        configure=NOTHING,
        write=_exact(topology.COMMANDS),
        read=_exact(f"opd.{code}"),
        topics=(TopicGrant(topology.COMMANDS, _exact("opd.respond")),),
        queues=(topology.agency_queue(code),),
    )


def portal_grant(user: str = PORTAL_USER) -> UserGrant:
    """What ``lapor-portal`` may do: the web and Open311 channels and every command."""
    keys = sorted(f"channel.{name}" for name in PORTAL_CHANNELS)
    own_queues = "|".join(re.escape(key) for key in keys)
    return UserGrant(
        user=user,
        configure=NOTHING,
        write=_exact(topology.INTAKE, topology.COMMANDS),
        # Its channels' queues, and the queues the portal reads for its consoles.
        read=rf"^({own_queues}|portal\.[a-z0-9._-]+)$",
        topics=(
            TopicGrant(topology.INTAKE, _exact(*keys)),
            TopicGrant(topology.COMMANDS, _exact(*COMMAND_KEYS)),
        ),
        queues=tuple(channel_queue(name) for name in sorted(PORTAL_CHANNELS)),
    )


def access_table(
    channels: Iterable[str], agency_codes: Iterable[str], portal_user: str | None = PORTAL_USER
) -> list[UserGrant]:
    """Every user ``lapor access apply`` manages, with its rights (no portal: None)."""
    table = [channel_grant(name) for name in sorted(set(channels) - PORTAL_CHANNELS)]
    table += [agency_grant(code) for code in sorted(set(agency_codes))]
    if portal_user is not None:
        table.append(portal_grant(portal_user))
    return table


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256`` form: base64(salt + sha256(salt + pw))."""
    salt = salt if salt is not None else os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def definitions(
    table: Sequence[UserGrant], vhost: str, new_passwords: dict[str, str]
) -> dict[str, Any]:
    """The definitions document that creates the new users and sets everyone's rights."""
    return {
        "users": [
            {
                "name": user,
                "password_hash": password_hash(password),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": [],
            }
            for user, password in sorted(new_passwords.items())
        ],
        "permissions": [
            {
                "user": g.user,
                "vhost": vhost,
                "configure": g.configure,
                "write": g.write,
                "read": g.read,
            }
            for g in table
        ],
        "topic_permissions": [
            {
                "user": g.user,
                "vhost": vhost,
                "exchange": t.exchange,
                "write": t.write,
                "read": t.read,
            }
            for g in table
            for t in g.topics
        ],
    }


class BrokerAdmin(Protocol):
    """How this command talks to RabbitMQ's user database."""

    def users(self) -> set[str]:
        """The names of every user on the broker."""
        ...

    def import_definitions(self, document: dict[str, Any]) -> None:
        """Import users, permissions and topic permissions (other users are untouched)."""
        ...


class AccessError(RuntimeError):
    """The broker refused or could not be reached; the message says which and why."""


@dataclass
class Rabbitmqctl:
    """``rabbitmqctl`` on this host (needs the node's Erlang cookie: run as root/rabbitmq)."""

    command: str = "rabbitmqctl"

    def _run(self, *args: str, stdin: str | None = None) -> str:
        try:
            done = subprocess.run(  # noqa: S603 - fixed program, arguments are ours
                [self.command, "--quiet", *args],
                input=stdin,
                capture_output=True,
                text=True,
                check=False,
                timeout=120,
            )
        except subprocess.TimeoutExpired:
            raise AccessError(f"rabbitmqctl {args[0]} did not answer in 120 s") from None
        if done.returncode != 0:
            raise AccessError(f"rabbitmqctl {args[0]} failed: {done.stderr.strip()[:500]}")
        return done.stdout

    def users(self) -> set[str]:
        """The names of every user on the broker."""
        listed = json.loads(self._run("list_users", "--formatter", "json") or "[]")
        return {str(entry["user"]) for entry in listed}

    def import_definitions(self, document: dict[str, Any]) -> None:
        """Import through stdin: no password on a command line."""
        self._run("import_definitions", "--format", "json", stdin=json.dumps(document))


@dataclass
class ManagementApi:
    """The management plugin's HTTP API (``rabbitmq:3.13-management``)."""

    base_url: str
    user: str
    password: str = field(repr=False)

    def _call(self, method: str, path: str, body: object = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - the operator's configured URL
            self.base_url.rstrip("/") + path,
            data=data,
            method=method,
            headers={"content-type": "application/json"},
        )
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        request.add_header("authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                payload = response.read()
        except urllib.error.HTTPError as error:
            raise AccessError(f"{method} {path}: HTTP {error.code} {error.reason}") from None
        except OSError as error:
            raise AccessError(f"{method} {path}: {error}") from None
        return json.loads(payload) if payload else None

    def users(self) -> set[str]:
        """The names of every user on the broker."""
        return {str(entry["name"]) for entry in self._call("GET", "/api/users") or []}

    def import_definitions(self, document: dict[str, Any]) -> None:
        """``POST /api/definitions``: the same document as ``rabbitmqctl import_definitions``."""
        self._call("POST", "/api/definitions", document)


def vhost_of(amqp_url: str) -> str:
    """The vhost an ``amqp://`` URL names (``/`` when none)."""
    path = urlsplit(amqp_url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def choose_admin(amqp_url: str, management_url: str | None, via: str) -> BrokerAdmin:
    """The management API when configured (or asked for), else ``rabbitmqctl``."""
    if via == "management" or (via == "auto" and management_url):
        if not management_url:
            raise AccessError("--via management needs LAPOR_RABBITMQ_MANAGEMENT_URL")
        parts = urlsplit(amqp_url)
        return ManagementApi(
            management_url, unquote(parts.username or ""), unquote(parts.password or "")
        )
    if shutil.which("rabbitmqctl") is None:
        raise AccessError(
            "neither LAPOR_RABBITMQ_MANAGEMENT_URL is set nor rabbitmqctl installed here"
        )
    return Rabbitmqctl()


def write_passwords(path: Path, passwords: dict[str, str]) -> None:
    """Append ``user<TAB>password`` lines to ``path`` (created 0600), flushed to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        out.write(f"# lapor access apply, {datetime.now(UTC).isoformat(timespec='seconds')}\n")
        for user, password in sorted(passwords.items()):
            out.write(f"{user}\t{password}\n")
        out.flush()
        os.fsync(out.fileno())


@dataclass
class AccessReport:
    """What an apply did."""

    created: list[str]
    updated: list[str]
    queues: list[str]


async def apply(
    admin: BrokerAdmin,
    table: Sequence[UserGrant],
    *,
    amqp_url: str,
    delivery_limit: int,
    passwords_file: Path | None,
) -> AccessReport:
    """Declare the users' queues, create missing users, set everyone's rights."""
    queues = [spec for grant in table for spec in grant.queues]
    # Queues first: a user that exists can read its queue the moment it has the right.
    await topology.declare_at(amqp_url, delivery_limit, *queues, whole=False)
    existing = admin.users()
    new = [g.user for g in table if g.user not in existing]
    passwords = {user: secrets.token_hex(32) for user in new}
    if passwords:
        if passwords_file is None:
            raise AccessError(
                f"{len(new)} new user(s) ({', '.join(new)}) need a password file: --passwords"
            )
        # Kept before the broker has it: a password the operator never sees is lost.
        write_passwords(passwords_file, passwords)
    admin.import_definitions(definitions(table, vhost_of(amqp_url), passwords))
    return AccessReport(
        created=new,
        updated=[g.user for g in table if g.user in existing],
        queues=[spec.name for spec in queues],
    )


async def _agency_codes(args: argparse.Namespace) -> list[str]:
    from services.routing.registry import all_agencies, read_registry, sample_registry_path

    if args.sample or args.agencies:
        registry = read_registry(sample_registry_path() if args.sample else args.agencies)
        return [agency.code for agency in registry.agencies]
    from shared.settings import LaporSettings
    from shared.storage import Store

    store = Store.from_settings(LaporSettings(), app_name="lapor-access")
    try:
        return [r.agency.code for r in await all_agencies(store) if r.active]
    finally:
        await store.close()


def _channels(args: argparse.Namespace) -> list[str]:
    names = [n.strip() for value in args.channel for n in value.split(",") if n.strip()]
    names += [n.strip() for n in os.environ.get("LAPOR_CHANNELS", "").split(",") if n.strip()]
    return names


def _apply(args: argparse.Namespace) -> int:
    from services.routing.registry import RegistryError
    from shared.settings import LaporSettings

    settings = LaporSettings()
    url = settings.amqp_url.get_secret_value()
    try:
        if args.declare_topology:
            asyncio.run(
                topology.declare_at(
                    url, settings.delivery_limit, dead_letter_limits=settings.dead_letter_limits()
                )
            )
        table = access_table(_channels(args), asyncio.run(_agency_codes(args)))
        admin = choose_admin(url, os.environ.get("LAPOR_RABBITMQ_MANAGEMENT_URL"), args.via)
        report = asyncio.run(
            apply(
                admin,
                table,
                amqp_url=url,
                delivery_limit=settings.delivery_limit,
                passwords_file=args.passwords,
            )
        )
    except (AccessError, RegistryError, ValueError, OSError) as error:
        sys.stderr.write(f"lapor access apply: {error}\n")
        return 1
    out = sys.stdout
    out.write(
        f"{len(report.created)} user(s) created, {len(report.updated)} updated, "
        f"{len(report.queues)} queue(s) declared\n"
    )
    for user in report.created:
        out.write(f"  created: {user}\n")
    if report.created:
        out.write(f"new passwords appended to {args.passwords}: hand them over, then delete it\n")
    return 0


def register(subparsers: Any) -> None:
    """Add ``access apply``."""
    parser = subparsers.add_parser(
        "access",
        help="broker users and rights for channels, agencies and the portal",
        description="Manage the RabbitMQ users of channel adapters (channel-<name>), agency "
        "systems (opd-<code>) and the portal (lapor-portal); see deploy/README.md.",
    )
    actions = parser.add_subparsers(dest="access_action", metavar="ACTION", required=True)
    applying = actions.add_parser(
        "apply",
        help="create or update the users, permissions and topic permissions (idempotent)",
        description="Create missing users (new passwords go to --passwords), set every "
        "user's permissions and topic permissions, and declare their queues, on the broker "
        "of LAPOR_AMQP_URL (as its admin user). Agencies come from the agencies collection "
        "unless --agencies FILE or --sample; channels from --channel and LAPOR_CHANNELS.",
    )
    applying.add_argument(
        "--channel",
        action="append",
        default=[],
        metavar="NAME[,NAME]",
        help="a channel with its own adapter, e.g. sms (web and open311 are the portal's)",
    )
    applying.add_argument("--agencies", type=Path, metavar="FILE", help="an agency registry file")
    applying.add_argument("--sample", action="store_true", help="the South Sumatra sample")
    applying.add_argument(
        "--passwords",
        type=Path,
        metavar="FILE",
        help="where new users' passwords are appended (created 0600); needed for new users",
    )
    applying.add_argument(
        "--declare-topology",
        action="store_true",
        help="first declare every exchange and service queue (`lapor topology declare`)",
    )
    applying.add_argument(
        "--via",
        choices=("auto", "management", "rabbitmqctl"),
        default="auto",
        help="management API (LAPOR_RABBITMQ_MANAGEMENT_URL) or rabbitmqctl; auto: the API "
        "when configured",
    )
    applying.set_defaults(handler=_apply)

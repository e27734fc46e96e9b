"""The operator's failures, each said in one line: what could not be reached, where, and how to
fix it — never a traceback (``--debug`` shows one), never a secret.

A ``lapor`` command lets an infrastructure failure propagate; :func:`explain` turns it into
one line. A failure it does not recognise is a bug: it is named by its type, with the advice
to run again with ``--debug``.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

#: How long a command waits for MongoDB before saying it cannot reach it (the driver's
#: default, 30 s, reads as a hang at a terminal).
CLI_MONGO_TIMEOUT_MS = 3000

DEFAULT_AMQP_URL = "amqp://guest:guest@localhost:5672/"
DEFAULT_MONGO_URL = "mongodb://localhost:27017"

START_RABBITMQ = (
    "start RabbitMQ (`sudo systemctl start rabbitmq-server`, or `docker compose up -d "
    "rabbitmq`) or point LAPOR_AMQP_URL at a running one"
)
START_MONGODB = (
    "start MongoDB (`docker compose up -d mongodb`; for development `lapor devdb` or "
    "LAPOR_MONGO_URL=memory://) or point LAPOR_MONGO_URL at a running one"
)

# How long the driver waited, as its own message says it ("..., Timeout: 3.0s, ...").
_MONGO_WAITED = re.compile(r"Timeout: ([\d.]+m?s)\b")

# Credentials inside any URL-looking text, e.g. in a driver's own message.
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@")


def without_credentials(url: str) -> str:
    """``url`` with any user name and password removed, for messages."""
    try:
        parts = urlsplit(url)
        if parts.username is None and parts.password is None:
            return url
        host = parts.hostname or ""
    except ValueError:  # not even a URL: show no part of it that could be a secret
        return scrub(url)
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return urlunsplit(parts._replace(netloc=netloc))


def scrub(text: str) -> str:
    """``text`` with the credentials of every URL in it removed."""
    return _USERINFO.sub(r"\g<scheme>", text)


def _configured(name: str, default: str) -> str:
    """A URL setting as configured, read without validating the other settings."""
    return os.environ.get(name) or default


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, then what it was raised from or during, and the members of a group."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                stack.append(linked)


def setting_name(loc: tuple[Any, ...]) -> str:
    """The environment variable of a settings field: ``("sla", "x")`` → ``LAPOR_SLA__X``."""
    return "LAPOR_" + "__".join(str(part).upper() for part in loc)


def _settings_problem(errors: list[Mapping[str, Any]]) -> str:
    """Which settings are wrong and why — the message only, never the value given."""
    problems = []
    for error in errors:
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(f"{setting_name(tuple(error.get('loc') or ()))}: {message}")
    return (
        f"bad setting {'; '.join(problems)} (fix it in the environment or the .env file; "
        "`lapor --help` lists the settings)"
    )


def explain(exc: BaseException) -> str | None:
    """One line for a failure the operator can fix, or None when it is not one (a bug)."""
    from aiormq.exceptions import AMQPConnectionError, ProbableAuthenticationError
    from pydantic import ValidationError
    from pymongo.errors import ConnectionFailure, OperationFailure

    for cause in _causes(exc):
        if isinstance(cause, ValidationError) and cause.title.endswith("Settings"):
            return _settings_problem(list(cause.errors(include_input=False, include_url=False)))
        if isinstance(cause, ProbableAuthenticationError):
            where = without_credentials(_configured("LAPOR_AMQP_URL", DEFAULT_AMQP_URL))
            return (
                f"RabbitMQ at {where} refused the login: check the user, password and vhost "
                "in LAPOR_AMQP_URL"
            )
        if isinstance(cause, AMQPConnectionError):
            where = without_credentials(_configured("LAPOR_AMQP_URL", DEFAULT_AMQP_URL))
            return f"cannot reach RabbitMQ at {where} ({_reason(cause)}): {START_RABBITMQ}"
        if isinstance(cause, OperationFailure) and cause.code in (13, 18):
            where = without_credentials(_configured("LAPOR_MONGO_URL", DEFAULT_MONGO_URL))
            return (
                f"MongoDB at {where} refused the login or the right: check the user and "
                "password in LAPOR_MONGO_URL"
            )
        if isinstance(cause, ConnectionFailure):
            where = without_credentials(_configured("LAPOR_MONGO_URL", DEFAULT_MONGO_URL))
            waited = _MONGO_WAITED.search(str(cause))
            within = f" within {waited.group(1)}" if waited else ""
            return f"cannot reach MongoDB at {where} (no server answered{within}): {START_MONGODB}"
        if isinstance(cause, RuntimeError) and str(cause).startswith("LAPOR_"):
            return scrub(str(cause))  # a setting missing, said by the code that needs it
    return None


def _reason(exc: BaseException) -> str:
    """A short why: refused, unknown host, timed out — from the socket error if there is one."""
    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError) or getattr(cause, "errno", None) == (
            errno.ECONNREFUSED
        ):
            return "connection refused"
        if isinstance(cause, TimeoutError):
            return "no answer"
        if isinstance(cause, OSError) and cause.strerror:
            return scrub(cause.strerror.lower())
    text = scrub(str(exc)).lower()
    if "connect call failed" in text or "refused" in text:
        return "connection refused"
    return text[:80] or type(exc).__name__


def one_line(exc: BaseException) -> str:
    """The line for any failure: explained, or named as a bug with where to look further."""
    line = explain(exc)
    if line is not None:
        return line
    from pydantic import ValidationError

    # A validation error's text quotes the input, which may be a secret: count, do not quote.
    text = f"{exc.error_count()} invalid field(s)" if isinstance(exc, ValidationError) else str(exc)
    detail = scrub(text).splitlines()[0][:200] if text else ""
    return (
        f"unexpected {type(exc).__name__}{': ' + detail if detail else ''} "
        "(run again with --debug to see the traceback)"
    )

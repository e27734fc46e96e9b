"""Run the e-mail channel: ``python -m examples.email_channel --help``.

``serve`` hands every notification to the outbox directory as an ``.eml`` file and, with
``--inbox``, publishes each ``.eml`` file that appears there (a mail server delivering
into that directory is the whole integration); ``submit`` publishes one e-mail file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path

from examples.email_channel.adapter import DirectoryOutbox, EmailChannel
from examples.email_channel.mail import UnusableEmail


async def _watch(channel: EmailChannel, inbox: Path, stop: asyncio.Event) -> None:
    """Publish each ``*.eml`` in ``inbox``, then rename it ``*.eml.done`` (or ``.refused``).

    A crash between the two steps publishes the file again on restart: harmless, LAPOR
    takes the same Message-ID in only once.
    """
    while not stop.is_set():
        waiting = await asyncio.to_thread(lambda: sorted(inbox.glob("*.eml")))
        for path in waiting:
            try:
                await channel.submit(await asyncio.to_thread(path.read_bytes))
            except UnusableEmail:
                path.rename(path.with_name(path.name + ".refused"))
                continue
            path.rename(path.with_name(path.name + ".done"))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=2.0)


async def _serve(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with EmailChannel(args.amqp_url, DirectoryOutbox(args.outbox), args.sender) as channel:
        if args.inbox is not None:
            await _watch(channel, args.inbox, stop)
        else:
            await stop.wait()
    return 0


async def _submit(args: argparse.Namespace) -> int:
    async with EmailChannel(args.amqp_url, DirectoryOutbox(args.outbox), args.sender) as channel:
        incoming = await channel.submit(args.file.read_bytes())
    sys.stdout.write(f"published as a {incoming.kind}: {incoming.message_id}\n")
    return 0


def main() -> int:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m examples.email_channel")
    parser.add_argument(
        "--amqp-url",
        default=os.environ.get("LAPOR_EMAIL_AMQP_URL"),
        required="LAPOR_EMAIL_AMQP_URL" not in os.environ,
        help="the channel's own RabbitMQ user, e.g. amqp://channel-email:...@host:5672/lapor "
        "(default: $LAPOR_EMAIL_AMQP_URL)",
    )
    parser.add_argument("--outbox", type=Path, default=Path("outbox"), help="where e-mails go")
    parser.add_argument("--sender", default="LAPOR <lapor@example.go.id>", help="From address")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="send notices (and read --inbox) until stopped")
    serve.add_argument("--inbox", type=Path, help="publish the .eml files that appear here")
    submit = commands.add_parser("submit", help="publish one e-mail file")
    submit.add_argument("file", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    return asyncio.run(_serve(args) if args.command == "serve" else _submit(args))


if __name__ == "__main__":
    sys.exit(main())

"""``lapor demo``: LAPOR's main job in one command, end to end, on a laptop.

It starts the four services in this process, feeds a realistic day of reports through
several channels, and plays every outside actor over plain AMQP exactly as a real one
would: the central admin (review queue), the agencies (their ``opd.<code>`` queues) and
the reporters (their channels' notifications). It then moves the injected clock forward
day by day, so late cases are reminded and escalated, and ends with the leaders' recap.
It uses a throwaway vhost and database and leaves nothing running.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import sys
import uuid
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from lapor.demo_data import DAY_OF_REPORTS, DemoReport
from lapor.local import prepare_environment, start_all, start_portal
from lapor.rabbitmqctl import RabbitmqctlError, rabbitmqctl
from shared import topology
from shared.clock import ShiftedClock
from shared.settings import LaporSettings

log = logging.getLogger("lapor.demo")

JAKARTA = ZoneInfo("Asia/Jakarta")
HARI = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")


def out(line: str = "") -> None:
    """One line of the live view."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


@dataclass
class Case:
    """What the demo knows of one report."""

    report: DemoReport
    tracking_id: str | None = None
    status: str = "sent"
    agency: str | None = None
    escalations: list[str] = field(default_factory=list)
    answered: bool = False
    deferred: bool = False


class Demo:
    """The outside world around the services: channels, admin, agencies, reporters."""

    def __init__(self, amqp_url: str, clock: ShiftedClock) -> None:
        self.amqp_url = amqp_url
        self.clock = clock
        self.cases = {r.external_id: Case(r) for r in DAY_OF_REPORTS}
        self.by_tracking: dict[str, Case] = {}
        self.pending_dispositions: dict[str, dict[str, Any]] = {}
        self.activity = asyncio.Event()

    def now_text(self) -> str:
        local = self.clock.now().astimezone(JAKARTA)
        return f"{HARI[local.weekday()]} {local:%d-%m %H:%M}"

    # --- the live view ------------------------------------------------------------------

    async def on_event(self, message: AbstractIncomingMessage) -> None:
        async with message.process():
            body = json.loads(message.body)
            event = message.routing_key or ""
            tid = body.get("tracking_id", "")
            case = self.by_tracking.get(tid)
            if case is not None:
                case.status = body.get("status", case.status)
            detail = ""
            if "agency" in body and body.get("agency"):
                detail = body["agency"]
                if case is not None and event == "complaint.dispatched":
                    case.agency = body["agency"]
            if event == "complaint.archived":
                detail = body.get("reason", "")
                if case is not None:
                    case.agency = f"({detail})"
            if event in {"complaint.escalated", "complaint.reminder"}:
                detail = f"level {body.get('level', 0)} → {body.get('target')}"
                if case is not None:
                    case.escalations.append(detail)
            if event == "intake.rejected":
                tid, detail = "(quarantine)", body.get("reason", "")
            self.activity.set()
            out(f"  {self.now_text()}  {tid:<15} {event.removeprefix('complaint.'):<17} {detail}")

    async def on_notification(self, message: AbstractIncomingMessage) -> None:
        """A channel delivering a notice; the reporter sometimes answers."""
        async with message.process():
            note = json.loads(message.body)
            case = self.cases.get(note.get("in_reply_to", ""))
            if case is None:
                return
            if case.tracking_id is None:
                case.tracking_id = note["tracking_id"]
                self.by_tracking[note["tracking_id"]] = case
            if note["event"] == "resolved":
                await self.reporter_answers(case)
            if note["event"] == "deferred" and case.report.admin_plan == "defer_answered":
                # The reporter answers the admin's question a day later, well in time.
                await self.command(
                    "reporter.reply",
                    {
                        "tracking_id": case.tracking_id,
                        "channel": case.report.channel,
                        "reporter": case.report.reporter,
                        "action": "add_information",
                        "message": "Kejadiannya Senin lalu di loket 3, sekitar pukul 10 pagi.",
                    },
                )

    async def reporter_answers(self, case: Case) -> None:
        plan = case.report.reporter_plan
        if plan == "silent" or case.tracking_id is None:
            return
        if plan == "reopen" and not case.answered:
            case.answered = True
            await self.command(
                "reporter.reply",
                {
                    "tracking_id": case.tracking_id,
                    "channel": case.report.channel,
                    "reporter": case.report.reporter,
                    "action": "reopen",
                    "message": "Puskesmas masih tutup siang hari, belum ada perubahan.",
                },
            )
            return
        await self.command(
            "reporter.reply",
            {
                "tracking_id": case.tracking_id,
                "channel": case.report.channel,
                "reporter": case.report.reporter,
                "action": "rate",
                "rating": 5 if case.report.agency_plan == "prompt" else 3,
            },
        )
        await self.command(
            "reporter.reply",
            {
                "tracking_id": case.tracking_id,
                "channel": case.report.channel,
                "reporter": case.report.reporter,
                "action": "accept",
            },
        )

    # --- the central admin ----------------------------------------------------------------

    async def on_review(self, message: AbstractIncomingMessage) -> None:
        async with message.process():
            body = json.loads(message.body)
            tid = body["tracking_id"]
            if message.routing_key == "complaint.extension_requested":
                # The admin desk grants the agency's one extension (perpanjangan).
                await self.command(
                    "routing.extension",
                    {
                        "tracking_id": tid,
                        "admin": "admin.pusat",
                        "grant": True,
                        "note": "Disetujui: survei lapangan diperlukan.",
                    },
                )
                return
            if message.routing_key not in {"complaint.needs_review", "complaint.needs_routing"}:
                return  # anything else on the desk is for reading only
            if message.routing_key == "complaint.needs_routing":
                case = self.by_tracking.get(tid)
                target = "pdam-palembang" if case and case.report.region_code == "16.71" else None
                await self.command(
                    "routing.dispose",
                    {
                        "tracking_id": tid,
                        "agency": target or "dinsos-sumsel",
                        "admin": "admin.pusat",
                        "note": "Disposisi manual oleh admin.",
                    },
                )
                return
            case = self.by_tracking.get(tid)
            if case is not None and case.report.admin_plan != "verify" and not case.deferred:
                case.deferred = True
                await self.command(
                    "verification.decide",
                    {
                        "tracking_id": tid,
                        "decision": "defer",
                        "admin": "admin.pusat",
                        "question": "Mohon sebutkan kapan dan di mana tepatnya kejadian ini.",
                    },
                )
                return
            await self.command(
                "verification.decide",
                {
                    "tracking_id": tid,
                    "decision": "verify",
                    "admin": "admin.pusat",
                    "flags_confirmed": True,
                    "category": body.get("suggested_category") or "kependudukan",
                    "severity": body.get("suggested_severity") or "sedang",
                    "note": "Diverifikasi admin.",
                },
            )

    # --- the agencies ---------------------------------------------------------------------

    async def on_disposition(self, message: AbstractIncomingMessage) -> None:
        async with message.process():
            disposition = json.loads(message.body)
            tid = disposition["tracking_id"]
            case = self.by_tracking.get(tid)
            plan = case.report.agency_plan if case else "prompt"
            if "notice" in disposition:  # an AgencyNotice, not a Disposition
                if disposition["notice"] == "extension_granted":
                    await self.agency_says(
                        disposition,
                        "resolve",
                        "Bangunan sudah disurvei; PBG terbit dalam masa perpanjangan.",
                    )
                return
            if plan == "extension":
                await self.agency_says(disposition, "acknowledge", None)
                deadline = datetime.fromisoformat(disposition["resolution_deadline"])
                until = (deadline.astimezone(JAKARTA) + timedelta(days=7)).date()
                await self.agency_says(
                    disposition,
                    "request_extension",
                    "Perlu survei lapangan bersama dinas teknis; mohon perpanjangan 7 hari.",
                    extend_until=until.isoformat(),
                )
                return
            if plan == "not_ours" and disposition["hop"] == 1:
                await self.agency_says(
                    disposition,
                    "not_our_authority",
                    "Bukan kewenangan kami; data PKH dikelola dinas provinsi.",
                )
                return
            if plan in {"late", "never"}:
                self.pending_dispositions[tid] = disposition
                return
            await self.answer(disposition)

    async def answer(self, disposition: dict[str, Any]) -> None:
        await self.agency_says(disposition, "acknowledge", None)
        await self.agency_says(
            disposition,
            "resolve",
            "Sudah kami tindak lanjuti di lapangan; terima kasih atas laporannya.",
        )

    async def agency_says(
        self, disposition: dict[str, Any], action: str, text: str | None, **more: Any
    ) -> None:
        body: dict[str, Any] = {
            "tracking_id": disposition["tracking_id"],
            "agency": disposition["agency"],
            "action": action,
            "liaison": f"penghubung.{disposition['agency']}",
        } | more
        if text:
            body["message"] = text
        await self.command("opd.respond", body)

    async def late_agencies_answer(self) -> None:
        """Agencies whose head was told at level 1 now answer (those marked 'late')."""
        for tid, disposition in list(self.pending_dispositions.items()):
            case = self.by_tracking.get(tid)
            told_head = case is not None and any("level 1" in e for e in case.escalations)
            if case and case.report.agency_plan == "late" and told_head:
                del self.pending_dispositions[tid]
                await self.answer(disposition)

    # --- plumbing -------------------------------------------------------------------------

    async def command(self, key: str, body: dict[str, Any]) -> None:
        body = {"message_id": f"demo-{uuid.uuid4().hex}"} | body
        exchange = await self.publisher.get_exchange(topology.COMMANDS)
        await exchange.publish(
            aio_pika.Message(
                json.dumps(body).encode(),
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=body["message_id"],
            ),
            routing_key=key,
        )

    async def consume(
        self, channel: AbstractChannel, exchange: str, keys: list[str], handler: Any
    ) -> None:
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        for key in keys:
            await queue.bind(exchange, routing_key=key)
        await queue.consume(handler)

    async def run(self, agencies: list[str], days: int, pause: float) -> None:
        connection = await aio_pika.connect_robust(self.amqp_url)
        async with connection:
            self.publisher = await connection.channel(publisher_confirms=True)
            watch = await connection.channel()
            await self.consume(
                watch, topology.EVENTS, ["complaint.#", "intake.rejected"], self.on_event
            )
            await self.consume(watch, topology.OUTBOUND, ["channel.#"], self.on_notification)
            review = await watch.get_queue(topology.ADMIN_REVIEW.name)
            await review.consume(self.on_review)
            for code in agencies:
                queue = await watch.get_queue(f"opd.{code}")
                await queue.consume(self.on_disposition)

            out("\n== Pagi hari: laporan masuk dari berbagai kanal")
            intake = await self.publisher.get_exchange(topology.INTAKE)
            for report in DAY_OF_REPORTS:
                await intake.publish(
                    aio_pika.Message(
                        json.dumps(report.message()).encode(),
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key=f"channel.{report.channel}",
                )
                await asyncio.sleep(0.05)
            await intake.publish(
                aio_pika.Message(b'{"channel": "sms", "description": 42}'),
                routing_key="channel.sms",
            )
            await self.settle(pause)

            out("\n== Waktu berjalan: tenggat, pengingat dan eskalasi")
            for _ in range(days):
                self.clock.advance(timedelta(days=1))
                out(f"-- {self.now_text()}")
                await self.settle(pause)
                await self.late_agencies_answer()
                await self.settle(pause)

    async def settle(self, quiet: float) -> None:
        """Wait until nothing has happened for ``quiet`` seconds (at most 30 s)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while loop.time() < deadline:
            self.activity.clear()
            try:
                await asyncio.wait_for(self.activity.wait(), timeout=quiet)
            except TimeoutError:
                return


def _rabbitmqctl(*args: str) -> None:
    rabbitmqctl(*args)


def _demo_vhost(base_url: str) -> tuple[str, str | None]:
    """A throwaway vhost on a local RabbitMQ, if ``rabbitmqctl`` can make one."""
    if os.environ.get("LAPOR_AMQP_URL") or shutil.which("rabbitmqctl") is None:
        return base_url, None
    vhost = f"lapor-demo-{uuid.uuid4().hex[:8]}"
    try:
        _rabbitmqctl("add_vhost", vhost)
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    except RabbitmqctlError:
        return base_url, None
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path="/" + quote(vhost, safe=""))), vhost


def _drop_vhost(vhost: str | None) -> None:
    if vhost:
        with contextlib.suppress(RabbitmqctlError):
            _rabbitmqctl("delete_vhost", vhost)


async def run_demo(days: int = 21, pause: float = 1.0) -> int:
    """The whole demo; the exit code."""
    for warning in prepare_environment():
        log.info(warning)
    base = LaporSettings()
    amqp_url, vhost = _demo_vhost(base.amqp_url.get_secret_value())
    os.environ["LAPOR_AMQP_URL"] = amqp_url
    os.environ.setdefault("LAPOR_MONGO_DB", f"lapor_demo_{uuid.uuid4().hex[:8]}")
    os.environ.setdefault("LAPOR_OUTBOX_GRACE_SECONDS", "2")
    os.environ.setdefault("LAPOR_ESCALATION_SCAN_SECONDS", "0.3")
    clock = ShiftedClock()
    try:
        from services.escalation.recap import agency_recap
        from services.routing.registry import (
            declare_agency_queues,
            read_registry,
            sample_registry_path,
            save_registry,
        )
        from shared.storage import Store

        settings = LaporSettings()
        store = Store.from_settings(settings, "lapor-demo")
        registry = read_registry(sample_registry_path())
        await save_registry(store, registry, clock.now())
        codes = [a.code for a in registry.agencies]
        await topology.declare_at(amqp_url, settings.delivery_limit)
        await declare_agency_queues(amqp_url, settings.delivery_limit, codes)
        out("LAPOR demo — layanan: intake, verification, routing, escalation")
        out(f"  {len(codes)} instansi (OPD) Sumatera Selatan dimuat; {len(DAY_OF_REPORTS)} laporan")
        demo = Demo(amqp_url, clock)
        async with AsyncExitStack() as stack:
            await start_all(stack, clock)
            try:
                address = await start_portal(stack, clock)
                out(f"  Portal warga (selama demo berjalan): {address}")
            except RuntimeError as exc:
                out(f"  Portal warga tidak berjalan: {exc} (atur LAPOR_PORTAL_PORT)")
            await demo.run(codes, days, pause)
            recap = await agency_recap(store, settings.working_calendar(), clock.now())
        await store.close()
    finally:
        _drop_vhost(vhost)

    from lapor.commands.recap import render

    out("\n== Status akhir per laporan")
    for case in demo.cases.values():
        ladder = f"  eskalasi: {', '.join(case.escalations)}" if case.escalations else ""
        out(
            f"  {case.tracking_id or '-':<15} {case.report.channel:<9} {case.status:<17} "
            f"{case.agency or '':<24}{ladder}"
        )
    counts = Counter(c.status for c in demo.cases.values())
    out("  " + ", ".join(f"{status}: {n}" for status, n in sorted(counts.items())))
    out("\n== Rekap untuk pimpinan")
    out(render(recap, settings.timezone))
    lost = [c.report.external_id for c in demo.cases.values() if c.tracking_id is None]
    if lost:
        out(f"ERROR: no tracking ID for {lost}")
        return 1
    return 0

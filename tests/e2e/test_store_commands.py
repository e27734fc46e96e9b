"""How many store commands a report costs, from channel to agency queue (counted, not timed).

A PyMongo ``CommandListener`` records every command the services send while reports go
through intake, verification and routing. The budget below is what the hot path needs
today; a change that adds a round trip per report fails here and says where.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import aio_pika
import pytest
from pymongo import monitoring

from services.intake import app as intake_app
from services.routing import app as routing_app
from services.routing.registry import (
    declare_agency_queues,
    read_registry,
    sample_registry_path,
    save_registry,
)
from services.verification import app as verification_app
from services.verification.settings import VerificationSettings
from shared import topology
from shared.clock import SystemClock
from shared.escalation_policy import CaseClock, DeadlineKind, plan
from shared.settings import IntakeSettings
from shared.storage import Store
from tests.support import Listener, eventually, publish

pytestmark = pytest.mark.e2e

REPORTS = int(os.environ.get("LAPOR_TEST_COUNT_REPORTS", "30"))
#: Store commands per report on the path channel → agency queue: intake counts the report
#: against its channel's and its reporter's rate limits in one write (issue 10) and inserts
#: it (2); verification reads, looks up its near-duplicates (one query) and commits with its
#: terms (3); routing reads and commits (2); intake's notices to the reporter (the receipt
#: leaves with the new case; verified, dispatched) read nothing, the replica that took the
#: report in keeps its reply address (0). Each service takes its published outbox entries
#: off in rounds, one command for every case published in the last 0.2 s: far fewer than
#: one per report here (the reports arrive together). 7 in all, plus the rounds; under load
#: the outbox relay may add a claim now and then.
BUDGET = 8.0
WORDS = [
    "genangan", "retak", "licin", "gelap", "motor", "mobil", "hujan", "malam", "pagi",
    "simpang", "tikungan", "selokan", "parit", "kerikil", "pinggir", "tengah", "dalam",
    "lebar", "becek", "debu", "tanjakan", "turunan", "gang", "lorong", "rumah", "kebun",
]  # fmt: skip


class Commands(monitoring.CommandListener):
    """Counts the commands sent to one database while recording, by name and collection."""

    def __init__(self) -> None:
        self.database = ""
        self.counted: Counter[str] = Counter()
        self.recording = False

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if not self.recording or event.database_name != self.database:
            return
        command = event.command
        query = command.get("query") or command.get("filter") or {}
        if event.command_name == "findAndModify" and "outbox_due_at" in query:
            return  # the outbox relay's idle poll runs on a timer, not per report
        if event.command_name == "aggregate":
            return  # this test's own look at the outboxes
        what = f"{event.command_name} {command.get(event.command_name)}"
        if event.command_name == "update":
            what += " " + ",".join(sorted(command["updates"][0]["q"]))
        self.counted[what] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Not counted."""

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Not counted."""


#: Registered once for the whole session (PyMongo has no unregister); it counts only
#: while a test records, and only the test's own database.
COMMANDS = Commands()
monitoring.register(COMMANDS)


def report(n: int, rng: random.Random) -> dict[str, Any]:
    """A distinct, routable road report (no two are near-duplicates)."""
    return {
        "channel": "bench",
        "external_id": f"count-{n:04d}",
        "description": f"Jalan berlubang di Jl. Mayor Zen No. {n}: {' '.join(rng.sample(WORDS, 8))}"
        f". Kode {rng.randrange(10**9)}.",
        "location": {"region_code": "16.71"},
        "reporter": {"email": f"warga{n}@example.id"},
    }


async def test_a_report_costs_a_bounded_number_of_store_commands(
    settings: IntakeSettings, amqp: aio_pika.abc.AbstractConnection, store: Store
) -> None:
    registry = read_registry(sample_registry_path())
    await save_registry(store, registry, SystemClock().now())
    await declare_agency_queues(
        settings.amqp_url.get_secret_value(),
        settings.delivery_limit,
        [a.code for a in registry.agencies],
    )
    await (await (await amqp.channel()).get_queue("opd.pupr-palembang")).purge()
    COMMANDS.database, COMMANDS.counted = settings.mongo_db, Counter()
    services = {
        "intake": intake_app.create(settings),
        "verification": verification_app.create(VerificationSettings.from_base(settings)),
        "routing": routing_app.create(settings),
    }
    rng = random.Random(11)
    async with (
        Listener(amqp, topology.OPD, "opd.pupr-palembang") as agency,
        services["intake"],
        services["verification"],
        services["routing"],
    ):
        COMMANDS.recording = True
        cpu_before = time.process_time()
        for n in range(REPORTS):
            await publish(amqp, topology.INTAKE, "channel.bench", report(n, rng))
        await agency.wait_for(lambda b: len(b) >= REPORTS, timeout=120)
        await eventually(
            lambda: _none_pending(store), timeout=30
        )  # every outbox emptied: every command of the path has been sent
        COMMANDS.recording = False
        cpu = time.process_time() - cpu_before
    total = sum(COMMANDS.counted.values())
    by_command = dict(COMMANDS.counted)
    # CPU of this process (the three services and the test's own AMQP client; the store
    # runs in its own process): printed for comparison, never asserted.
    print(f"\nCPU of the test process per report: {cpu / REPORTS * 1000:.1f} ms")
    print(f"store commands per report: {total / REPORTS:.2f}; by command: {by_command}")
    assert total / REPORTS <= BUDGET, by_command
    # With no escalation service running, each case carries the timer escalation would
    # compute from it: routing stored it with the dispatch (shared/timers.py).
    policy = settings.sla, settings.working_calendar()
    async for case in store.complaints.find({"channel": "bench"}):
        the_plan = plan(*policy, CaseClock.from_document(case))
        assert the_plan.live is not None and the_plan.live.kind is DeadlineKind.FOLLOW_UP
        stored = case["escalation"]
        assert stored["live"]["kind"] == "follow_up", case["_id"]
        assert abs(stored["next_at"] - the_plan.next_at) < timedelta(milliseconds=1), case["_id"]


async def _none_pending(store: Store) -> bool:
    return await store.complaints.count_documents({"outbox.0": {"$exists": True}}) == 0

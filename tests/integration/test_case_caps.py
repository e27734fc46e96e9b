"""Per-case caps against the real broker (issue 10): a case at its cap refuses more.

With small caps from settings (``LAPOR_CASE_MAX_TIMELINE=3``, ``LAPOR_CASE_RESERVE=2``),
a reporter's addition and an agency's follow-up on a full case are refused ``case_full``:
dead-lettered, the reason visible to ``lapor dlq list``, the case unchanged. The agency's
final answer still goes through (a step that ends the case has the reserve), so a full
case never freezes half-way. The stand-in never approaches 16 MiB: the cap itself is
what is tested.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aio_pika
import pytest

from lapor.cli import main as lapor
from services.routing import app as routing_app
from services.routing.registry import read_registry, sample_registry_path, save_registry
from shared import topology
from shared.pii import IdentityProtector
from shared.settings import IntakeSettings
from shared.storage import Store
from tests import factories
from tests.conftest import make_settings
from tests.servers import Servers
from tests.support import Json, eventually, publish

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
AGENCY = "pupr-palembang"
BOOKKEEPING = ("outbox", "outbox_due_at", "outbox_pending")


@pytest.fixture
def small_caps(servers: Servers, db_name: str) -> IntakeSettings:
    return make_settings(servers, db_name, case_max_timeline=3, case_reserve=2)


@pytest.fixture
async def routing(
    small_caps: IntakeSettings, amqp: aio_pika.abc.AbstractConnection, store: Store
) -> AsyncIterator[None]:
    await save_registry(store, read_registry(sample_registry_path()), NOW)
    async with routing_app.create(small_caps):
        yield


def kept(case: Json | None) -> Json:
    assert case is not None
    return {k: v for k, v in case.items() if k not in BOOKKEEPING}


async def refusal_of(store: Store, message_id: str) -> str | None:
    found = await store.db["refusals"].find_one({"message_id": message_id})
    return None if found is None else str(found["reason"])


async def command(amqp: aio_pika.abc.AbstractConnection, key: str, body: Json) -> str:
    message_id = f"{key}-{uuid.uuid4().hex[:8]}"
    await publish(amqp, topology.COMMANDS, key, body | {"message_id": message_id}, message_id)
    return message_id


async def test_a_full_case_refuses_more_with_case_full_and_still_takes_its_final_answer(
    routing: None,
    small_caps: IntakeSettings,
    amqp: aio_pika.abc.AbstractConnection,
    store: Store,
    protector: IdentityProtector,
    servers: Servers,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    case = factories.dispatched(
        factories.received(NOW - timedelta(hours=3), protector), NOW - timedelta(hours=2), AGENCY
    )
    # Two more steps on the timeline: three entries, the cap.
    entry = {"at": NOW - timedelta(hours=1), "step": "follow_up", "actor": "agency"}
    case["timeline"] = [*case["timeline"], entry, entry | {"at": NOW}]
    assert len(case["timeline"]) == 3
    await store.complaints.insert_one(case)
    tid = case["_id"]
    before = kept(await store.complaints.find_one({"_id": tid}))

    addition = await command(
        amqp,
        "reporter.reply",
        {
            "tracking_id": tid,
            "channel": "whatsapp",
            "reporter": {"phone": "+6281234567890"},  # the case's reporter
            "action": "add_information",
            "message": "Lubangnya makin lebar setelah hujan.",
        },
    )
    answer = {"tracking_id": tid, "agency": AGENCY, "liaison": "Penghubung Uji"}
    follow_up = await command(
        amqp, "opd.respond", answer | {"action": "follow_up", "message": "Sedang dicek."}
    )

    async def both_refused() -> bool:
        reasons = [await refusal_of(store, m) for m in (addition, follow_up)]
        return reasons == ["case_full", "case_full"]

    await eventually(both_refused)
    assert kept(await store.complaints.find_one({"_id": tid})) == before

    # The agency's final answer ends the case: it has the reserve and is stored.
    resolve = await command(
        amqp, "opd.respond", answer | {"action": "resolve", "message": "Sudah ditambal."}
    )

    async def resolved() -> Json | None:
        found = await store.complaints.find_one({"_id": tid})
        return found if found and found["status"] == "resolved" else None

    after = await eventually(resolved)
    assert resolve in after["applied"]
    assert len(after["timeline"]) == 4  # one past the cap, inside the reserve

    # An operator sees why the two died, never their bodies.
    monkeypatch.setenv("LAPOR_AMQP_URL", servers.amqp_url)
    monkeypatch.setenv("LAPOR_MONGO_URL", small_caps.mongo_url.get_secret_value())
    monkeypatch.setenv("LAPOR_MONGO_DB", small_caps.mongo_db)

    async def listed() -> str | None:
        assert await asyncio.to_thread(lapor, ["dlq", "list"]) == 0
        printed = capsys.readouterr().out
        wanted = [f"message_id={m} " for m in (addition, follow_up)]
        return printed if all(w in printed for w in wanted) else None

    printed = await eventually(listed)
    for message_id in (addition, follow_up):
        [line] = [row for row in printed.splitlines() if f"message_id={message_id} " in row]
        assert line.endswith("refused=case_full")
    assert "makin lebar" not in printed and "6281234567890" not in printed

"""Journal retention: published entries older than the retention go, nothing else does."""

import asyncio
import time
from typing import Any

import httpx
import pytest

from crm.bootstrap import bootstrap
from crm.runtime import Runtime
from crm.web import facade_context
from handlers.journal_retention import DAY_S, JournalRetention
from handlers.pipeline import CommandProcessor
from handlers.relay import OutboxRelay
from http_facade.app import create_app
from schemas.envelope import CommandEnvelope, CommandType
from storage.database import Database
from storage.journal import JOURNAL, CommandJournal, journal_id
from storage.leases import Lease
from storage.submissions import CommandSubmissions
from tests.conftest import embedded_settings
from tests.helpers import EventSink, auth, indexed_memory_db

pytestmark = pytest.mark.wire_only

RETENTION_S = 30 * DAY_S
LATER = time.time() + RETENTION_S + DAY_S  # every entry made now is expired by then


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def create(db: Database, name: str) -> str:
    command_id = f"cmd-{name}"
    await CommandProcessor(db).process(
        CommandEnvelope(
            command_id=command_id,
            type=CommandType.CUSTOMER_CREATE,
            tenant_id="t1",
            actor_id="u1",
            payload={"name": name},
        )
    )
    return command_id


async def kept(db: Database) -> list[str]:
    return sorted(doc["commandId"] for doc in await db[JOURNAL].find({}).to_list())


def retention_of(db: Database, retention_s: float, **options: Any) -> JournalRetention:
    return JournalRetention(CommandJournal(db), CommandSubmissions(db), retention_s, **options)


def relay_with(db: Database, retention: JournalRetention, owner: str = "w1") -> OutboxRelay:
    lease = Lease(db, "relay", owner, 60)
    return OutboxRelay(CommandJournal(db), EventSink(), lease=lease, retention=retention)


async def test_expired_published_entries_go_and_unpublished_ones_stay() -> None:
    db = await indexed_memory_db()
    relay = relay_with(db, retention_of(db, RETENTION_S, clock=Clock(LATER)))
    await create(db, "A")
    await create(db, "B")
    assert await relay.run_once() == 2  # A and B published
    await create(db, "C")  # committed, its event not published yet
    assert await relay.housekeep() == 2
    assert await kept(db) == ["cmd-C"]
    assert await relay.run_once() == 1  # C's event still goes out


@pytest.mark.parametrize(
    ("retention_s", "now"),
    [(RETENTION_S, time.time() + RETENTION_S - DAY_S), (0, LATER * 10)],
    ids=["younger-than-the-retention", "retention-of-zero-keeps-all"],
)
async def test_entries_stay(retention_s: float, now: float) -> None:
    db = await indexed_memory_db()
    relay = relay_with(db, retention_of(db, retention_s, clock=Clock(now)))
    await create(db, "A")
    await relay.run_once()
    assert await relay.housekeep() == 0
    assert await kept(db) == ["cmd-A"]


async def test_a_backlog_goes_in_batches_then_the_next_look_waits() -> None:
    db = await indexed_memory_db()
    clock = Clock(LATER)
    retention = retention_of(db, RETENTION_S, every_s=3600, batch=2, clock=clock)
    relay = relay_with(db, retention)
    for name in "ABC":
        await create(db, name)
    await relay.run_once()
    assert await relay.housekeep() == 2  # a full batch: more may wait
    assert await relay.housekeep() == 1
    await create(db, "D")
    await relay.run_once()
    assert await relay.housekeep() == 0  # D has expired too, but the next look is in an hour
    assert await kept(db) == ["cmd-D"]
    clock.now += 3600
    assert await relay.housekeep() == 1
    assert await kept(db) == []


async def test_only_the_relay_holding_the_lease_prunes() -> None:
    db = await indexed_memory_db()
    holder = relay_with(db, retention_of(db, 0), owner="w1")
    other = relay_with(db, retention_of(db, RETENTION_S, clock=Clock(LATER)), owner="w2")
    await create(db, "A")
    assert await holder.run_once() == 1  # w1 holds the lease now
    assert await other.housekeep() == 0
    assert await kept(db) == ["cmd-A"]


async def test_an_expired_command_answers_404_and_its_data_stays() -> None:
    runtime = Runtime(bootstrap(embedded_settings(journal_retention_days=1)))
    await runtime.start()
    app = create_app(facade_context(runtime))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            headers = auth(request_id="old-cmd")
            created = await http.post(
                "/api/v1/crm/customers", json={"name": "Old"}, headers=headers
            )
            assert created.status_code == 201, created.text
            status = await http.get("/api/v1/crm/commands/old-cmd", headers=headers)
            assert status.status_code == 200
            await runtime.parts.relay.run_once()
            await runtime.parts.store.db[JOURNAL].update_one(
                {"_id": journal_id("t1", "old-cmd")},
                {"$set": {"decidedAt": "2020-01-01T00:00:00.000Z"}},
            )
            # A look of its own: the running relay's first look was at start.
            retention = retention_of(runtime.parts.store.db, DAY_S)
            assert await retention.prune() == 1
            status = await http.get("/api/v1/crm/commands/old-cmd", headers=headers)
            assert status.status_code == 404
            assert status.json()["code"] == "COMMAND_NOT_FOUND"
            customer = await http.get(
                f"/api/v1/crm/customers/{created.json()['id']}", headers=headers
            )
            assert customer.status_code == 200  # only the command's record went
    finally:
        await runtime.stop()


async def test_the_worker_relay_prunes_with_the_configured_retention() -> None:
    runtime = Runtime(bootstrap(embedded_settings(journal_retention_days=1)))
    await runtime.parts.store.db[JOURNAL].insert_one(
        {
            "_id": "t1:ancient",
            "tenantId": "t1",
            "commandId": "ancient",
            "state": "applied",
            "decidedAt": "2020-01-01T00:00:00.000Z",
            "result": {},
            "published": True,
        }
    )
    await runtime.start()
    try:
        for _ in range(100):
            if await runtime.parts.store.db[JOURNAL].find_one({"_id": "t1:ancient"}) is None:
                break
            await asyncio.sleep(0.02)
        assert await runtime.parts.store.db[JOURNAL].find_one({"_id": "t1:ancient"}) is None
    finally:
        await runtime.stop()


async def test_expired_202_records_go_too() -> None:
    db = await indexed_memory_db()
    submissions = CommandSubmissions(db)
    for command_id, submitted_at in (("old", "2020-01-01T00:00:00.000Z"), ("new", "9999-01-01")):
        await submissions.record(
            {
                "tenantId": "t1",
                "commandId": command_id,
                "type": "customer.create",
                "fingerprint": "f",
                "submittedAt": submitted_at,
            }
        )
    await retention_of(db, RETENTION_S).prune()
    assert await submissions.find("t1", "old") is None
    assert await submissions.find("t1", "new") is not None

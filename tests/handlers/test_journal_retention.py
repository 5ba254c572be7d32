"""Journal retention: a TTL index on `prunableSince`, a field only finished entries have
(their events published, or none to publish); in embedded mode (no TTL index) a monitor
run by the relay deletes by the same field."""

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pymongo import IndexModel

from crm.bootstrap import bootstrap
from crm.runtime import Runtime
from crm.web import facade_context
from handlers.pipeline import CommandProcessor
from handlers.relay import OutboxRelay
from http_facade.app import create_app
from schemas.envelope import CommandEnvelope, CommandType
from storage.database import Database
from storage.embedded import MemoryClient
from storage.indexes import ensure_indexes
from storage.journal import JOURNAL, CommandJournal, journal_id
from storage.leases import Lease
from storage.pruning import PRUNABLE_SINCE, TTL_INDEX
from storage.retention import DAY_S, EmbeddedTtlMonitor
from storage.submissions import SUBMISSIONS, CommandSubmissions
from tests.conftest import embedded_settings
from tests.helpers import EventSink, auth, indexed_memory_db

pytestmark = pytest.mark.wire_only

RETENTION_S = 30 * DAY_S
LATER = time.time() + RETENTION_S + DAY_S  # every entry made now is expired by then
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


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


async def prunable(db: Database) -> list[str]:
    found = await db[JOURNAL].find({PRUNABLE_SINCE: {"$exists": True}}).to_list()
    return sorted(doc["commandId"] for doc in found)


def relay_with(db: Database, monitor: EmbeddedTtlMonitor, owner: str = "w1") -> OutboxRelay:
    lease = Lease(db, "relay", owner, 60)
    return OutboxRelay(CommandJournal(db), EventSink(), lease=lease, retention=monitor)


async def ttl_of(db: Database, collection: str) -> dict[str, Any] | None:
    info = await db[collection].index_information()
    return info.get(TTL_INDEX)


async def test_the_ttl_indexes_follow_the_configured_retention() -> None:
    db = await indexed_memory_db()
    await ensure_indexes(db, retention_s=RETENTION_S)
    for collection in (JOURNAL, SUBMISSIONS):
        index = await ttl_of(db, collection)
        assert index is not None
        assert list(index["key"]) == [(PRUNABLE_SINCE, 1)]
        assert index["expireAfterSeconds"] == 30 * 86_400
    await ensure_indexes(db, retention_s=1.5 * DAY_S)  # changed: rebuilt
    assert (await ttl_of(db, JOURNAL) or {})["expireAfterSeconds"] == 129_600
    await ensure_indexes(db, retention_s=0)  # 0 keeps everything: no TTL index
    assert await ttl_of(db, JOURNAL) is None
    assert await ttl_of(db, SUBMISSIONS) is None


async def test_only_finished_entries_are_prunable() -> None:
    db = await indexed_memory_db()
    relay = relay_with(db, EmbeddedTtlMonitor(db, RETENTION_S))
    await create(db, "A")
    assert await prunable(db) == []  # committed, its event not published yet
    await relay.run_once()
    assert await prunable(db) == ["cmd-A"]
    rejected = CommandEnvelope(
        command_id="cmd-dup",
        type=CommandType.CUSTOMER_CREATE,
        tenant_id="t1",
        actor_id="u1",
        payload={"name": "A"},  # the name is taken: rejected, nothing to publish
    )
    await CommandProcessor(db).process(rejected)
    failed = rejected.model_copy(update={"command_id": "cmd-failed"})
    await CommandProcessor(db).fail(failed, "processing_failed", "boom")
    assert await prunable(db) == ["cmd-A", "cmd-dup", "cmd-failed"]
    assert await CommandJournal(db).unpublished(10, {"_id": 1}) == []
    await create(db, "B")
    assert "cmd-B" not in await prunable(db)


async def test_the_embedded_monitor_deletes_expired_entries_and_never_unpublished_ones() -> None:
    db = await indexed_memory_db()
    relay = relay_with(db, EmbeddedTtlMonitor(db, RETENTION_S, clock=Clock(LATER)))
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
    relay = relay_with(db, EmbeddedTtlMonitor(db, retention_s, clock=Clock(now)))
    await create(db, "A")
    await relay.run_once()
    assert await relay.housekeep() == 0
    assert await kept(db) == ["cmd-A"]


async def test_the_embedded_monitor_looks_once_a_minute() -> None:
    db = await indexed_memory_db()
    clock = Clock(LATER)
    relay = relay_with(db, EmbeddedTtlMonitor(db, RETENTION_S, clock=clock))
    await create(db, "A")
    await relay.run_once()
    assert await relay.housekeep() == 1
    await create(db, "B")
    await relay.run_once()
    assert await relay.housekeep() == 0  # B has expired too, but the next look is in a minute
    clock.now += 60
    assert await relay.housekeep() == 1
    assert await kept(db) == []


async def test_only_the_relay_holding_the_lease_prunes() -> None:
    db = await indexed_memory_db()
    holder = relay_with(db, EmbeddedTtlMonitor(db, 0), owner="w1")
    other = relay_with(db, EmbeddedTtlMonitor(db, RETENTION_S, clock=Clock(LATER)), owner="w2")
    await create(db, "A")
    assert await holder.run_once() == 1  # w1 holds the lease now
    assert await other.housekeep() == 0
    assert await kept(db) == ["cmd-A"]


async def test_a_store_of_the_release_before_gets_its_published_entries_marked() -> None:
    """The hand-written retention's scans go; what they would have pruned is prunable."""
    db = MemoryClient()["crm"]
    await db[JOURNAL].create_index(
        [("decidedAt", 1)],
        name="journal_published_age",
        partialFilterExpression={"published": True},
    )
    model = IndexModel([("submittedAt", 1)], name="submission_age")
    await db[SUBMISSIONS].create_index([("submittedAt", 1)], name=model.document["name"])
    base = {"tenantId": "t1", "state": "applied", "decidedAt": "2020-01-01T00:00:00.000Z"}
    await db[JOURNAL].insert_one({"_id": "t1:old", "commandId": "old", "published": True, **base})
    await db[JOURNAL].insert_one({"_id": "t1:new", "commandId": "new", "published": False, **base})
    await db[SUBMISSIONS].insert_one({"_id": "t1:s", "tenantId": "t1", "commandId": "s"})
    await ensure_indexes(db, retention_s=RETENTION_S)
    assert await prunable(db) == ["old"]
    assert await db[SUBMISSIONS].count_documents({PRUNABLE_SINCE: {"$exists": True}}) == 1
    assert "journal_published_age" not in await db[JOURNAL].index_information()
    assert "submission_age" not in await db[SUBMISSIONS].index_information()


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
            entry = {"_id": journal_id("t1", "old-cmd")}
            for _ in range(100):  # published by the running relay (which sets the field)
                if await runtime.parts.store.db[JOURNAL].find_one({**entry, "published": True}):
                    break
                await asyncio.sleep(0.02)
            await runtime.parts.store.db[JOURNAL].update_one(
                {"_id": journal_id("t1", "old-cmd")}, {"$set": {PRUNABLE_SINCE: LONG_AGO}}
            )
            # A look of its own: the running relay's first look was at start.
            assert await EmbeddedTtlMonitor(runtime.parts.store.db, DAY_S).prune() == 1
            status = await http.get("/api/v1/crm/commands/old-cmd", headers=headers)
            assert status.status_code == 404
            assert status.json()["code"] == "COMMAND_NOT_FOUND"
            customer = await http.get(
                f"/api/v1/crm/customers/{created.json()['id']}", headers=headers
            )
            assert customer.status_code == 200  # only the command's record went
    finally:
        await runtime.stop()


async def test_the_embedded_worker_relay_prunes_with_the_configured_retention() -> None:
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
            PRUNABLE_SINCE: LONG_AGO,
        }
    )
    await runtime.start()
    try:
        assert (
            await ttl_of(runtime.parts.store.db, JOURNAL) is None
        )  # mongomock: see storage.retention
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
    for command_id in ("old", "new"):
        await submissions.record(
            {
                "tenantId": "t1",
                "commandId": command_id,
                "type": "customer.create",
                "fingerprint": "f",
                "submittedAt": "2020-01-01T00:00:00.000Z",
            }
        )
    await db[SUBMISSIONS].update_one({"commandId": "old"}, {"$set": {PRUNABLE_SINCE: LONG_AGO}})
    assert await EmbeddedTtlMonitor(db, RETENTION_S).prune() == 1
    assert await submissions.find("t1", "old") is None
    assert await submissions.find("t1", "new") is not None

"""With several workers, one relay publishes at a time (a customer's events stay ordered)."""

import asyncio

import pytest

from handlers.pipeline import CommandProcessor
from handlers.relay import OutboxRelay
from schemas.envelope import CommandEnvelope, CommandType
from storage.database import Database
from storage.journal import CommandJournal
from storage.leases import Lease
from tests.helpers import EventSink, indexed_memory_db

pytestmark = pytest.mark.wire_only


async def create(db: Database, name: str) -> None:
    await CommandProcessor(db).process(
        CommandEnvelope(
            command_id=f"cmd-{name}",
            type=CommandType.CUSTOMER_CREATE,
            tenant_id="t1",
            actor_id="u1",
            payload={"name": name},
        )
    )


async def test_only_the_lease_holder_publishes_until_it_lets_go() -> None:
    db = await indexed_memory_db()
    first_sink, second_sink = EventSink(), EventSink()
    first = OutboxRelay(CommandJournal(db), first_sink, lease=Lease(db, "relay", "worker-1", 60))
    second = OutboxRelay(CommandJournal(db), second_sink, lease=Lease(db, "relay", "worker-2", 60))
    await create(db, "A")
    assert await first.run_once() == 1
    await create(db, "B")
    assert await second.run_once() == 0  # worker-1 still holds the lease
    assert second_sink.sent == []
    await first.release()
    assert await second.run_once() == 1
    assert [e["data"]["name"] for e in first_sink.sent + second_sink.sent] == ["A", "B"]


async def test_an_expired_lease_is_taken_over() -> None:
    db = await indexed_memory_db()
    stale = Lease(db, "relay", "worker-1", ttl_s=0.05)
    assert await stale.acquire()
    assert not await Lease(db, "relay", "worker-2", ttl_s=60).acquire()
    await asyncio.sleep(0.06)
    assert await Lease(db, "relay", "worker-2", ttl_s=60).acquire()
    assert not await stale.acquire()  # the old holder has lost it

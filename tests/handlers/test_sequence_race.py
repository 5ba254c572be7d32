"""Two worker processes on one store never give one customer's events the same `sequence`
nor leave a gap: a command (commands topic) and an integration event's command
(integration-events topic) for the same customer may be handled at once by two workers,
whose `KeyedLock`s know nothing of each other."""

import asyncio
import random
from collections.abc import Callable
from typing import Any

import pytest

from handlers.outbox import EventPii
from handlers.pipeline import CommandProcessor
from handlers.relay import OutboxRelay
from schemas.envelope import CommandEnvelope, CommandType
from storage.customers import CUSTOMERS
from storage.database import Database
from storage.journal import JOURNAL, CommandJournal
from tests.helpers import EventSink, indexed_memory_db

pytestmark = pytest.mark.wire_only


class _Yielding:
    """Wraps an object of the in-memory store so that every awaited call first lets other
    tasks run (a real store answers over the network: another worker's writes land in
    between). The in-memory store never suspends, so without this two processors in one
    event loop would never interleave."""

    def __init__(self, inner: Any, pause: Callable[[], float]) -> None:
        self._inner = inner
        self._pause = pause

    def __getitem__(self, name: str) -> "_Yielding":
        return _Yielding(self._inner[name], self._pause)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr
        if asyncio.iscoroutinefunction(attr):

            async def suspended(*args: Any, **kwargs: Any) -> Any:
                await asyncio.sleep(self._pause())
                result = await attr(*args, **kwargs)
                await asyncio.sleep(self._pause())
                return result

            return suspended

        def chained(*args: Any, **kwargs: Any) -> Any:
            result = attr(*args, **kwargs)
            # a cursor (find, sort, limit, ...) yields too; plain values pass through
            return _Yielding(result, self._pause) if hasattr(result, "to_list") else result

        return chained


def yielding(db: Database, seed: int) -> Database:
    rng = random.Random(seed)
    return _Yielding(db, lambda: rng.choice((0, 0, 0.0005, 0.001)))  # type: ignore[return-value]


def envelope(command_id: str, command_type: CommandType, payload: Any) -> CommandEnvelope:
    return CommandEnvelope(
        command_id=command_id, type=command_type, tenant_id="t1", actor_id="u1", payload=payload
    )


async def published(db: Database) -> list[dict[str, Any]]:
    sink = EventSink()
    await OutboxRelay(CommandJournal(db), sink, pii=EventPii.CLEAR).run_once()
    return sink.sent


@pytest.mark.parametrize("seed", range(4))
async def test_two_processors_on_one_store_number_a_customers_events_1_to_n(seed: int) -> None:
    store = await indexed_memory_db()
    customer_id = await _customer(store)
    rounds = 12

    async def commands_worker() -> None:  # the commands topic's partition owner
        processor = CommandProcessor(yielding(store, seed))
        for n in range(rounds):
            payload = {"customerId": customer_id, "remark": f"r{n}"}
            await processor.process(envelope(f"u{n}", CommandType.CUSTOMER_UPDATE, payload))

    async def integration_worker() -> None:  # the integration-events topic's, elsewhere
        processor = CommandProcessor(yielding(store, seed + 100))
        for n in range(rounds):
            payload = {
                "customerId": customer_id,
                "interactionType": "chat",
                "notes": f"i{n}",
            }
            command = envelope(f"i{n}", CommandType.CUSTOMER_ADD_INTERACTION, payload)
            await processor.process(command)

    await asyncio.gather(commands_worker(), integration_worker())

    mine = [e for e in await published(store) if _customer_of(e) == customer_id]
    expected = 1 + 2 * rounds  # created, then one event per command
    # no duplicate, no gap, and published in sequence order (invariant 3)
    assert [e["sequence"] for e in mine] == list(range(1, expected + 1))
    stored = await store[CUSTOMERS].find_one({"_id": customer_id})
    assert stored is not None and stored["_seq"] == expected
    assert await store[JOURNAL].count_documents({"state": "decided"}) == 0


def _customer_of(event: dict[str, Any]) -> str:
    data = event["data"]
    return str(data.get("customerId", data.get("id")))


class WorkerDied(Exception):
    pass


async def _customer(store: Database) -> str:
    created = await CommandProcessor(store).process(
        envelope("create", CommandType.CUSTOMER_CREATE, {"name": "Acme"})
    )
    assert created.entity_id is not None
    return created.entity_id


def _update(command_id: str, customer_id: str) -> CommandEnvelope:
    payload = {"customerId": customer_id, "remark": command_id}
    return envelope(command_id, CommandType.CUSTOMER_UPDATE, payload)


async def _sequences_of(store: Database, customer_id: str) -> list[int]:
    return [e["sequence"] for e in await published(store) if _customer_of(e) == customer_id]


async def test_a_decision_waiting_on_a_dead_workers_entry_applies_it_then_follows_it() -> None:
    store = await indexed_memory_db()
    customer_id = await _customer(store)
    dying = CommandProcessor(store)

    async def die(entry: Any) -> Any:
        raise WorkerDied  # committed, never applied: its worker is gone

    dying._apply = die  # type: ignore[method-assign]
    with pytest.raises(WorkerDied):
        await dying.process(_update("first", customer_id))
    other = CommandProcessor(store, claim_grace_s=0.01)
    second = await other.process(_update("second", customer_id))
    assert second.status == "succeeded"
    first = await CommandJournal(store).find("t1", "first")
    assert first is not None and first["state"] == "applied"  # applied by the other worker
    assert await _sequences_of(store, customer_id) == [1, 2, 3]


async def test_a_failed_entrys_numbers_go_to_the_next_decision() -> None:
    store = await indexed_memory_db()
    customer_id = await _customer(store)
    dying = CommandProcessor(store)

    async def die(entry: Any) -> Any:
        raise WorkerDied

    dying._apply = die  # type: ignore[method-assign]
    with pytest.raises(WorkerDied):
        await dying.process(_update("first", customer_id))
    failed = await CommandProcessor(store).fail(_update("first", customer_id), "x", "dead")
    assert failed.status == "failed"
    await CommandProcessor(store, claim_grace_s=0.01).process(_update("second", customer_id))
    assert await _sequences_of(store, customer_id) == [1, 2]  # no gap where `first` was


async def test_a_counter_left_behind_by_a_crash_is_moved_on() -> None:
    """The worker died after finishing an entry, before moving the customer's counter: the
    next decision about the customer (here on another worker) meets the claim and moves
    it; a redelivery of the entry's command would too."""
    store = await indexed_memory_db()
    customer_id = await _customer(store)
    dying = CommandProcessor(store)

    async def die(entry: Any) -> None:
        raise WorkerDied

    dying._advance = die  # type: ignore[method-assign]
    with pytest.raises(WorkerDied):
        await dying.process(_update("first", customer_id))
    await CommandProcessor(store).process(_update("second", customer_id))
    await CommandProcessor(store).process(_update("first", customer_id))  # redelivered
    await CommandProcessor(store).process(_update("third", customer_id))
    assert await _sequences_of(store, customer_id) == [1, 2, 3, 4]
    stored = await store[CUSTOMERS].find_one({"_id": customer_id})
    assert stored is not None and stored["_seq"] == 4


async def test_a_new_customers_next_event_waits_for_its_unfinished_creation() -> None:
    """A created customer is born with its counter at 1 before its command is finished:
    another worker may decide, apply and finish sequence 2 first. The relay holds 2 back
    until 1 can go out (here: the creating worker died; the redelivery finishes it)."""
    store = await indexed_memory_db()
    dying = CommandProcessor(store)

    async def die(*args: Any, **kwargs: Any) -> None:
        raise WorkerDied  # the customer is written; the entry is not finished

    dying._journal.finish = die  # type: ignore[method-assign]
    create = envelope("create", CommandType.CUSTOMER_CREATE, {"name": "Acme"})
    with pytest.raises(WorkerDied):
        await dying.process(create)
    stored = await store[CUSTOMERS].find_one({})
    assert stored is not None
    customer_id = stored["_id"]
    await CommandProcessor(store).process(_update("second", customer_id))

    assert await _sequences_of(store, customer_id) == []  # 2 must not go out before 1
    await CommandProcessor(store).process(create)  # redelivered: finished now
    assert await _sequences_of(store, customer_id) == [1, 2]


async def test_a_customers_events_go_out_in_sequence_order_whatever_the_decision_clocks() -> None:
    """Two workers' clocks disagree: the entry with the later sequence says it was decided
    first. The relay publishes by sequence, not by time of decision."""
    store = await indexed_memory_db()
    customer_id = await _customer(store)
    await CommandProcessor(store).process(_update("first", customer_id))
    await CommandProcessor(store).process(_update("second", customer_id))
    await store[JOURNAL].update_one(
        {"commandId": "second"}, {"$set": {"decidedAt": "2000-01-01T00:00:00.000Z"}}
    )
    assert await _sequences_of(store, customer_id) == [1, 2, 3]

"""Faults over the real Kafka protocol (both backends: `wire` on Tansu, `containers`).

- a worker of the group dies abruptly (no commit, no LeaveGroup, relay lease kept): the
  other takes its partitions over; every command has exactly one effect and every change
  reaches crm.customer-events, each customer's in `sequence` order;
- a rebalance while a command is in flight: the group commits nothing past the unfinished
  record, and the command has one effect;
- the relay's producer fails for a while: commands keep being applied, and once it
  recovers every event goes out, each customer's in order (duplicates allowed, no loss).
"""

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaTimeoutError

from crm.bootstrap import bootstrap
from crm.publisher import KafkaPublisher
from crm.runtime import Runtime
from handlers import registry
from handlers.command_consumer import Outcome
from handlers.dead_letters import RawMessage
from handlers.decision import CommandContext, Decision
from handlers.use_cases import UseCase
from schemas.envelope import CommandType
from schemas.ids import created_customer_id, partition_key
from storage.customer_profile import INTERACTIONS
from storage.customers import CUSTOMERS
from storage.database import Database
from storage.journal import APPLIED, JOURNAL, journal_id
from tests.conftest import attach_probe, processed, published
from tests.helpers import publish_raw
from tests.integration.backends import (
    KafkaProbe,
    Services,
    consuming,
    deployment,
    die_abruptly,
)

TENANT = "t1"
DEADLINE_S = 30.0


# -- a stream of commands and what it must have done ----------------------------------------


@dataclass(frozen=True)
class Command:
    customer_id: str
    envelope: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.envelope["commandId"])

    @property
    def key(self) -> bytes:
        return partition_key(TENANT, self.customer_id)


def command(command_id: str, command_type: str, payload: dict[str, Any], customer: str) -> Command:
    return Command(
        customer,
        {
            "commandId": command_id,
            "type": command_type,
            "tenantId": TENANT,
            "actorId": "producer-1",
            "payload": payload,
        },
    )


def customer_stream(prefix: str, customers: int, updates: int, interactions: int) -> list[Command]:
    """Each customer's create, then its updates and interactions alternating; the customers'
    commands interleaved (every customer's in its own order)."""
    per_customer: list[list[Command]] = []
    for c in range(customers):
        create_id = f"{prefix}-c{c}-create"
        customer = created_customer_id(TENANT, create_id)
        own = [command(create_id, "customer.create", {"name": f"{prefix} {c}"}, customer)]
        for step in range(max(updates, interactions)):
            if step < updates:
                payload = {"customerId": customer, "name": f"{prefix} {c} v{step + 1}"}
                own.append(command(f"{prefix}-c{c}-u{step}", "customer.update", payload, customer))
            if step < interactions:
                payload = {"customerId": customer, "interactionType": "call", "notes": f"{step}"}
                own.append(
                    command(f"{prefix}-c{c}-i{step}", "customer.add_interaction", payload, customer)
                )
        per_customer.append(own)
    stream: list[Command] = []
    for step in range(max(len(own) for own in per_customer)):
        stream += [own[step] for own in per_customer if step < len(own)]
    return stream


async def send(runtime: Runtime, commands: list[Command]) -> None:
    for cmd in commands:
        value = json.dumps(cmd.envelope).encode()
        await publish_raw(runtime, runtime.parts.topics.commands, value, cmd.key, {})


async def assert_each_command_had_one_effect(db: Database, commands: list[Command]) -> None:
    """As many journal entries, customers, interactions as commands sent; each customer has
    its last name and its own interaction count."""
    entries = await db[JOURNAL].find({}, {"state": 1, "result.status": 1}).to_list(None)
    assert sorted(e["_id"] for e in entries) == sorted(journal_id(TENANT, c.id) for c in commands)
    assert {e["state"] for e in entries} == {APPLIED}
    assert {e["result"]["status"] for e in entries} == {"succeeded"}
    customers = {c.customer_id for c in commands}
    assert await db[CUSTOMERS].count_documents({}) == len(customers)
    for customer_id in customers:
        own = [c for c in commands if c.customer_id == customer_id]
        recorded = [c for c in own if c.envelope["type"] == "customer.add_interaction"]
        names = [c.envelope["payload"]["name"] for c in own if "name" in c.envelope["payload"]]
        stored = await db[CUSTOMERS].find_one({"_id": customer_id})
        assert stored is not None
        assert stored["name"] == names[-1]
        assert stored["profile"]["interactionCount"] == len(recorded)  # none applied twice
        assert await db[INTERACTIONS].count_documents({"customerId": customer_id}) == len(recorded)


def assert_every_change_published_in_order(
    messages: list[dict[str, Any]], commands: list[Command]
) -> None:
    """One event per command (by event id, duplicates allowed), keyed by its customer, and
    each customer's sequences 1..n in the order of first publication."""
    first: dict[str, dict[str, Any]] = {}
    for message in messages:
        first.setdefault(message["value"]["id"], message)
    assert sorted(m["value"]["causationid"] for m in first.values()) == sorted(
        c.id for c in commands
    )
    by_id = {c.id: c for c in commands}
    sequences: dict[str, list[int]] = {}
    for message in first.values():
        customer_id = by_id[message["value"]["causationid"]].customer_id
        assert message["key"] == f"{TENANT}:{customer_id}"
        sequences.setdefault(customer_id, []).append(message["value"]["sequence"])
    for customer_id in {c.customer_id for c in commands}:
        sent = sum(1 for c in commands if c.customer_id == customer_id)
        assert sequences.get(customer_id) == list(range(1, sent + 1)), customer_id


async def eventually(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not await condition():
        assert time.monotonic() < deadline, f"timed out after {DEADLINE_S}s waiting for {what}"
        await asyncio.sleep(0.02)


def owned(runtime: Runtime, topic: str) -> set[int]:
    return {
        tp.partition
        for subscriber in runtime.parts.broker.subscribers
        if subscriber.consumer is not None
        for tp in subscriber.consumer.assignment()
        if tp.topic == topic
    }


# -- 1. abrupt death and takeover -----------------------------------------------------------


@pytest.mark.parametrize("dies", ["after_commit_before_apply", "after_apply_before_ack"])
async def test_worker_dying_abruptly_is_replaced_and_each_command_has_one_effect(
    services: Services, monkeypatch: pytest.MonkeyPatch, dies: str
) -> None:
    """`after_commit_before_apply`: the victim dies with a decision in the journal, not
    applied (the survivor applies the stored decision); `after_apply_before_ack`: with a
    command fully applied, its offset not committed (the survivor gets it again)."""
    monkeypatch.setattr("crm.bootstrap.RELAY_LEASE_TTL_S", 3.0)  # the survivor's relay takes over
    commands = customer_stream("death", customers=6, updates=3, interactions=3)
    async with deployment(services, ("worker", "worker"), partitions=2) as (
        [victim, survivor],
        probe,
    ):
        attach_probe(survivor, probe)
        topic = victim.parts.topics.commands
        assert owned(victim, topic) and owned(survivor, topic)  # one partition each
        dying = asyncio.Event()

        async def die() -> None:
            dying.set()
            await asyncio.Event().wait()  # the process is killed in here

        # The victim dies on its first interaction (a second apply would show in its count).
        # Between the journal commit and the apply there is no public seam: the processor's
        # own step is wrapped.
        if dies == "after_commit_before_apply":
            apply = victim.parts.processor._apply

            async def apply_or_die(entry: dict[str, Any]) -> Any:
                if entry["type"] == "customer.add_interaction":
                    await die()
                return await apply(entry)

            monkeypatch.setattr(victim.parts.processor, "_apply", apply_or_die)
        else:
            consume = victim.parts.consumer.consume

            async def consume_then_die(message: RawMessage) -> Outcome:
                outcome = await consume(message)
                if json.loads(message.value)["type"] == "customer.add_interaction":
                    await die()
                return outcome

            monkeypatch.setattr(victim.parts.consumer, "consume", consume_then_die)
        await send(survivor, commands)
        customers_on = await partitions_of(probe, topic, commands)
        assert set(customers_on.values()) == {0, 1}, "each worker has customers to handle"
        await asyncio.wait_for(dying.wait(), DEADLINE_S)
        await die_abruptly(victim)

        await consuming(survivor)  # it owns every partition now
        assert owned(survivor, topic) == {0, 1}
        await processed(survivor)
        await assert_each_command_had_one_effect(survivor.parts.store.db, commands)
        events = await published(survivor, survivor.parts.topics.customer_events)
        assert_every_change_published_in_order(events, commands)
        assert await published(survivor, survivor.parts.topics.commands_dlq) == []


# -- 2. a rebalance while a command is in flight --------------------------------------------


class GroupOffsets:
    """Reads a consumer group's committed offsets and a partition's end offset: a consumer
    that never joins the group asks with OffsetFetch (the admin client cannot decode
    Tansu's answer)."""

    def __init__(self, kafka_url: str, group: str) -> None:
        self._reader = AIOKafkaConsumer(
            bootstrap_servers=kafka_url, group_id=group, enable_auto_commit=False
        )

    async def __aenter__(self) -> "GroupOffsets":
        await self._reader.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._reader.stop()

    async def committed(self, tp: TopicPartition) -> int:
        return await self._reader.committed(tp) or 0

    async def end(self, tp: TopicPartition) -> int:
        return int((await self._reader.end_offsets([tp]))[tp])


async def partitions_of(probe: KafkaProbe, topic: str, commands: list[Command]) -> dict[str, int]:
    """The partition each command's record went to, as the probe read it."""
    await probe.caught_up([topic])
    where = {m["value"]["commandId"]: m["partition"] for m in probe.messages(topic)}
    return {c.customer_id: where[c.id] for c in commands}


class SlowCommand:
    """One `customer.add_interaction` command that stays in flight (in its decide step)
    until the test releases it; any worker of the process that handles it waits."""

    def __init__(self, command_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.id = command_id
        self.entered, self.released = asyncio.Event(), asyncio.Event()
        self.deliveries = 0  # how many handlers have taken it up
        add_interaction = registry.USE_CASES[CommandType.CUSTOMER_ADD_INTERACTION]

        async def slow_decide(ctx: CommandContext[Any], db: Database) -> Decision:
            if ctx.command_id == self.id:
                self.deliveries += 1
                self.entered.set()
                await self.released.wait()
            return await add_interaction.decide(ctx, db)

        monkeypatch.setitem(
            registry.USE_CASES,
            CommandType.CUSTOMER_ADD_INTERACTION,
            UseCase(add_interaction.payload_model, slow_decide),
        )


async def test_rebalance_while_a_command_is_in_flight_commits_nothing_past_it(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whichever partition the joining worker gets, nothing is committed past the slow
    command until it finished: either the first worker keeps its partition (and the new one
    processes the other), or the new worker takes it and handles the same command too."""
    slow = SlowCommand("rebalance-slow", monkeypatch)
    async with deployment(services, ("worker",), partitions=2) as ([first], probe):
        attach_probe(first, probe)
        # joins later; on MongoDB with a client of its own, as a separate process would
        second = Runtime(
            bootstrap(
                first.parts.settings,
                "worker",
                first.parts.store if first.parts.store.embedded else None,
            )
        )
        try:
            await rebalance_with_a_command_in_flight(services, first, second, probe, slow)
        finally:
            slow.released.set()  # whatever failed: no handler is left waiting on the test
            await second.stop()


async def rebalance_with_a_command_in_flight(
    services: Services, first: Runtime, second: Runtime, probe: KafkaProbe, slow: SlowCommand
) -> None:
    creates = customer_stream("rebalance", customers=8, updates=0, interactions=0)
    topic = first.parts.topics.commands
    await send(first, creates)
    await processed(first)
    partition = await partitions_of(probe, topic, creates)
    slow_customer = creates[0].customer_id
    slow_partition = partition[slow_customer]
    behind = [c for c in partition if c != slow_customer and partition[c] == slow_partition]
    assert behind, "another customer's commands share the slow command's partition"
    assert set(partition.values()) == {0, 1}, "customers on both partitions"

    def interaction(command_id: str, customer: str) -> Command:
        payload = {"customerId": customer, "interactionType": "chat"}
        return command(command_id, "customer.add_interaction", payload, customer)

    slow_command = interaction(slow.id, slow_customer)
    after = [interaction(f"after-{n}", c.customer_id) for n, c in enumerate(creates)]
    await send(first, [slow_command, *after])
    await asyncio.wait_for(slow.entered.wait(), DEADLINE_S)
    await probe.caught_up([topic])
    [slow_offset] = [
        m["offset"] for m in probe.messages(topic) if m["value"]["commandId"] == slow.id
    ]
    in_flight = TopicPartition(topic, slow_partition)
    other = TopicPartition(topic, 1 - slow_partition)
    async with GroupOffsets(services.kafka_url, first.parts.settings.consumer_group) as offsets:
        seen = [await offsets.committed(in_flight)]

        async def watch() -> None:
            while True:
                seen.append(await offsets.committed(in_flight))
                await asyncio.sleep(0.01)

        watcher = asyncio.create_task(watch())
        try:
            await second.start()  # joins the group: a rebalance, the command in flight
            await consuming(first, second)
            assert owned(first, topic) and owned(second, topic), "the group was split"
            other_end = await offsets.end(other)

            async def group_got_on() -> bool:
                """The group did all it could with the slow command in flight: the new
                member took the other partition and processed it, or took the slow
                command's partition and is stuck on that same command."""
                return slow.deliveries == 2 or await offsets.committed(other) >= other_end

            await eventually(group_got_on, "the group to get on with what it can")
            assert await first.parts.store.db[JOURNAL].find_one(journal_id(TENANT, slow.id)) is None
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        seen.append(await offsets.committed(in_flight))
        assert max(seen) <= slow_offset, (seen, slow_offset)  # nothing past it, ever
        slow.released.set()
        attach_probe(second, probe)
        await processed(first)
        assert await offsets.committed(in_flight) > slow_offset
    sent = [*creates, slow_command, *after]
    await assert_each_command_had_one_effect(first.parts.store.db, sent)
    events = await published(first, first.parts.topics.customer_events)
    assert_every_change_published_in_order(events, sent)


# -- 3. the relay's producer failing for a while --------------------------------------------


async def test_relay_outage_loses_no_event_and_keeps_each_customers_order(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the outage lasts every other publish fails (a batch goes out in part, then
    again: duplicates); commands keep being applied meanwhile."""
    recovered = asyncio.Event()
    attempts = {"failed": 0, "sent": 0}
    publish_event = KafkaPublisher.publish_event

    async def flaky_publish(self: KafkaPublisher, event: dict[str, Any], key: bytes) -> None:
        if not recovered.is_set() and (attempts["failed"] + attempts["sent"]) % 2:
            attempts["failed"] += 1
            raise KafkaTimeoutError("the broker did not acknowledge in time")
        attempts["sent"] += 1
        await publish_event(self, event, key)

    monkeypatch.setattr(KafkaPublisher, "publish_event", flaky_publish)  # the relay's publish
    commands = customer_stream("outage", customers=4, updates=3, interactions=3)
    async with deployment(services, ("worker",), partitions=2) as ([worker], probe):
        attach_probe(worker, probe)
        await send(worker, commands)
        await processed(worker)  # every command applied during the outage
        await assert_each_command_had_one_effect(worker.parts.store.db, commands)
        failed_so_far = attempts["failed"]
        journal = worker.parts.store.db[JOURNAL]

        async def outage_met_every_command() -> bool:
            """The relay failed again since all were applied (or claims it has nothing left)."""
            return (
                attempts["failed"] >= failed_so_far + 2
                or await journal.count_documents({"published": False}) == 0
            )

        await eventually(outage_met_every_command, "the relay to fail on the applied commands")
        assert attempts["failed"] > 0
        recovered.set()
        events = await published(worker, worker.parts.topics.customer_events)
        assert_every_change_published_in_order(events, commands)
        assert len(events) > len(commands)  # batches that failed part-way went out again

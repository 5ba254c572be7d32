"""Property: each customer's events, deduplicated by `id` in the order they were published,
have the sequence numbers 1, 2, 3, ... with no gap and no repeat, however the commands are
redelivered (also after dying between commit and apply), rejected, or the relay dies
mid-batch and another one takes over. An event published again keeps its number."""

import asyncio
import contextlib
import os
from collections import defaultdict
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.pipeline import CommandProcessor
from handlers.relay import OutboxRelay
from schemas.envelope import CommandEnvelope, CommandType
from storage.journal import CommandJournal
from tests.helpers import indexed_memory_db

NAMES = ["A", "B", "C"]


class DyingSink:
    """The relay's publish function; dies (raises) after `budget` events when given one."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, dict[str, Any]]] = []
        self.budget: int | None = None

    async def __call__(self, event: dict[str, Any], key: bytes) -> None:
        if self.budget is not None:
            if self.budget == 0:
                raise ConnectionError("broker gone")
            self.budget -= 1
        self.sent.append((key, event))


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.sampled_from(NAMES)),
        st.tuples(
            st.just("write"),
            st.sampled_from(NAMES),  # about this customer (if it exists)
            st.sampled_from(["vip", "rename", "rename_taken", "interaction", "contact", "delete"]),
        ),
        st.tuples(st.just("redeliver"), st.integers(0, 50)),  # an earlier command again
        st.tuples(st.just("crash_after_commit"), st.sampled_from(NAMES)),
        st.tuples(st.just("relay_dies_after"), st.integers(0, 3)),
        st.tuples(
            st.just("relay"),
        ),
    ),
    min_size=1,
    max_size=25,
)


def envelope(number: int, kind: CommandType, payload: dict[str, Any]) -> CommandEnvelope:
    return CommandEnvelope(
        command_id=f"cmd-{number}", type=kind, tenant_id="t1", actor_id="u1", payload=payload
    )


def write(kind: str, customer_id: str, name: str) -> tuple[CommandType, dict[str, Any]]:
    about = {"customerId": customer_id}
    return {
        "vip": (CommandType.CUSTOMER_MARK_VIP, about),
        "rename": (CommandType.CUSTOMER_UPDATE, {**about, "name": name + "!"}),
        # the name of another customer (if it exists): rejected, no event
        "rename_taken": (
            CommandType.CUSTOMER_UPDATE,
            {**about, "name": "A" if name != "A" else "B"},
        ),
        "interaction": (CommandType.CUSTOMER_ADD_INTERACTION, {**about, "interactionType": "call"}),
        "contact": (CommandType.CONTACT_CREATE, {**about, "name": "c", "isPrimary": True}),
        "delete": (CommandType.CUSTOMER_DELETE, about),
    }[kind]


async def scenario(ops: list[tuple[Any, ...]]) -> list[tuple[bytes, dict[str, Any]]]:
    db = await indexed_memory_db()
    processor = CommandProcessor(db)
    sink = DyingSink()
    sent: list[CommandEnvelope] = []
    customers: dict[str, str] = {}

    async def relay_pass() -> None:
        relay = OutboxRelay(CommandJournal(db), sink)  # a new relay each time: a restart
        with contextlib.suppress(ConnectionError):
            await relay.run_once()
        sink.budget = None

    for op in ops:
        number = len(sent)
        if op[0] == "create":
            command = envelope(number, CommandType.CUSTOMER_CREATE, {"name": op[1]})
            result = await processor.process(command)
            if result.entity_id is not None:
                customers[op[1]] = result.entity_id
            sent.append(command)
        elif op[0] == "write" and op[1] in customers:
            kind, payload = write(op[2], customers[op[1]], op[1])
            command = envelope(number, kind, payload)
            await processor.process(command)
            sent.append(command)
        elif op[0] == "redeliver" and sent:
            await processor.process(sent[op[1] % len(sent)])
        elif op[0] == "crash_after_commit" and op[1] in customers:
            # decided and committed, then the worker died: the redelivery applies it
            command = envelope(
                number, CommandType.CUSTOMER_MARK_VIP, {"customerId": customers[op[1]]}
            )
            decision = await processor._decide(command)
            assert await processor._journal.commit(
                await processor._journal_entry(command, decision)
            )
            await relay_pass()  # nothing of it is published before it is applied
            await processor.process(command)
            sent.append(command)
        elif op[0] == "relay_dies_after":
            sink.budget = op[1]
            await relay_pass()
        elif op[0] == "relay":
            await relay_pass()
    await relay_pass()
    return sink.sent


@settings(
    max_examples=int(os.environ.get("CRM_PROPERTY_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(OPS)
def test_each_customers_sequence_is_one_two_three_without_gaps(ops: list[tuple[Any, ...]]) -> None:
    published = asyncio.run(scenario(ops))
    numbers: dict[bytes, list[int]] = defaultdict(list)
    first_seen: dict[str, int] = {}
    for key, event in published:
        if event["id"] in first_seen:
            assert first_seen[event["id"]] == event["sequence"]  # the same number again
            continue
        first_seen[event["id"]] = event["sequence"]
        numbers[key].append(event["sequence"])
    for key, sequence in numbers.items():
        assert sequence == list(range(1, len(sequence) + 1)), (key, sequence)

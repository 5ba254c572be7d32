"""Dying between any two steps of command handling or of the relay loses nothing.

A "crash" is an exception raised inside a step that nothing in the pipeline catches;
"recovery" is a new processor/relay on the same store receiving the same message again.
"""

from typing import Any

import pytest

import handlers.pipeline as pipeline_module
from handlers.pipeline import CommandProcessor
from handlers.relay import OutboxRelay
from schemas.envelope import CommandEnvelope, CommandType
from storage.database import Database
from storage.journal import CommandJournal
from tests.helpers import command_envelope, indexed_memory_db


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so no handler swallows it."""


def create_command(command_id: str = "cmd-1", name: str = "Acme") -> CommandEnvelope:
    envelope: CommandEnvelope = command_envelope(
        CommandType.CUSTOMER_CREATE, {"name": name}, command_id=command_id
    )
    return envelope


class Sink:
    """A broker stand-in that can die after N publishes."""

    def __init__(self, die_after: int | None = None) -> None:
        self.sent: list[dict[str, Any]] = []
        self.die_after = die_after

    async def __call__(self, event: dict[str, Any], key: bytes) -> None:
        if self.die_after is not None and len(self.sent) >= self.die_after:
            raise Crash("relay died mid-batch")
        self.sent.append(event)


async def effects(db: Database) -> tuple[int, list[str]]:
    customers = await db["customers"].count_documents({})
    sink = Sink()
    await OutboxRelay(CommandJournal(db), sink).run_once()
    return customers, [e["id"] for e in sink.sent]


@pytest.mark.parametrize("step", ["decide", "commit", "apply", "finish"])
async def test_crash_at_each_step_then_redelivery_gives_one_effect(
    step: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = await indexed_memory_db()
    processor = CommandProcessor(db)
    targets = {
        "decide": (processor, "_decide"),
        "commit": (processor._journal, "commit"),
        "apply": (pipeline_module, "apply_changes"),
        "finish": (processor._journal, "finish"),
    }
    owner, name = targets[step]
    original = getattr(owner, name)

    async def crash_after(*args: Any, **kwargs: Any) -> Any:
        await original(*args, **kwargs)  # the step's write happened...
        raise Crash(step)  # ...and the process died right after it

    monkeypatch.setattr(owner, name, crash_after)
    with pytest.raises(Crash):
        await processor.process(create_command())
    monkeypatch.setattr(owner, name, original)

    result = await CommandProcessor(db).process(create_command())  # redelivery after restart
    again = await CommandProcessor(db).process(create_command())  # and once more
    assert result.status == again.status == "succeeded"
    assert result.entity_id == again.entity_id
    customers, event_ids = await effects(db)
    assert customers == 1
    assert len(event_ids) == 1


async def test_decision_committed_but_never_applied_is_applied_on_redelivery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = await indexed_memory_db()
    processor = CommandProcessor(db)

    async def die(*args: Any, **kwargs: Any) -> Any:
        raise Crash("before apply")

    monkeypatch.setattr(pipeline_module, "apply_changes", die)
    with pytest.raises(Crash):
        await processor.process(create_command())
    monkeypatch.undo()
    assert await db["customers"].count_documents({}) == 0
    journal = await db["command_journal"].find_one({})
    assert journal is not None
    assert journal["state"] == "decided"
    # Another command with the same name must not take the committed decision's place.
    await CommandProcessor(db).process(create_command())
    customers, events = await effects(db)
    assert customers == 1
    assert len(events) == 1


async def test_relay_dies_mid_batch_then_republishes_with_same_ids() -> None:
    db = await indexed_memory_db()
    processor = CommandProcessor(db)
    for index in range(5):
        await processor.process(create_command(f"cmd-{index}", f"Customer {index}"))
    dying = Sink(die_after=3)
    with pytest.raises(Crash):
        await OutboxRelay(CommandJournal(db), dying).run_once()
    survivor = Sink()
    await OutboxRelay(CommandJournal(db), survivor).run_once()
    first_ids = [e["id"] for e in dying.sent]
    second_ids = [e["id"] for e in survivor.sent]
    assert set(first_ids) <= set(second_ids)  # duplicates allowed...
    assert len(set(first_ids) | set(second_ids)) == 5  # ...loss not
    nothing_left = Sink()
    await OutboxRelay(CommandJournal(db), nothing_left).run_once()
    assert nothing_left.sent == []


async def test_name_taken_between_decide_and_apply_turns_into_a_rejection() -> None:
    db = await indexed_memory_db()
    processor = CommandProcessor(db)
    first = create_command("first", "Race")
    second = create_command("second", "race ")
    decision_second = await processor._decide(second)  # decided while the name is free
    await processor.process(first)  # the other command wins the name
    entry = await processor._journal_entry(second, decision_second)
    assert await processor._journal.commit(entry)
    result = await processor.process(second)
    assert result.status == "rejected"
    assert result.error is not None
    assert result.error.code == "DUPLICATE_CUSTOMER_NAME"
    customers, events = await effects(db)
    assert customers == 1
    assert len(events) == 1

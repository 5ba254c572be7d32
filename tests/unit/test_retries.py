"""The two retry loops (tenacity): start-up against dependencies, and a command's
processing against transient failures."""

import asyncio
import logging

import pytest
from pymongo.errors import AutoReconnect

from crm.startup import StartupError, with_retries
from handlers.command_consumer import Poison
from handlers.command_consumer import with_retries as with_command_retries
from handlers.pipeline import InvalidCommand


class Flaky:
    """Fails `failures` times with `error`, then answers "ok"."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "ok"


def lines(caplog: pytest.LogCaptureFixture, logger: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == logger]


async def test_start_up_retries_with_capped_backoff_then_connects(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "crm.startup")
    action, cleanups = Flaky(3, ConnectionError("refused")), []

    async def cleanup() -> None:
        cleanups.append(1)

    result = await with_retries(
        action,
        what="Kafka",
        where="k:9092",
        attempts=5,
        backoff_s=0.01,
        max_backoff_s=0.03,
        cleanup=cleanup,
    )
    assert (result, action.calls, len(cleanups)) == ("ok", 4, 3)
    records = lines(caplog, "crm.startup")
    assert [(r.levelname, r.__dict__["attempt"], r.__dict__["attempts"]) for r in records] == [
        ("WARNING", 1, 5),
        ("WARNING", 2, 5),
        ("WARNING", 3, 5),
        ("INFO", 4, 5),
    ]
    assert [r.args[-1] for r in records[:3]] == [0.01, 0.02, 0.03]  # type: ignore[index]
    assert records[0].getMessage() == (
        "Kafka at k:9092: attempt 1/5 failed: ConnectionError: refused; retrying in 0.0s"
    )
    assert records[-1].getMessage() == "Kafka at k:9092: connected (attempt 4/5)"


async def test_start_up_gives_up_with_one_sentence(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "crm.startup")
    action = Flaky(9, OSError("down"))
    with pytest.raises(StartupError) as refused:
        await with_retries(
            action, what="MongoDB", where="db", attempts=2, backoff_s=0, max_backoff_s=0
        )
    assert (
        str(refused.value) == "could not connect to MongoDB at db after 2 attempts: OSError: down"
    )
    assert action.calls == 2
    assert [(r.levelname, r.__dict__["attempt"]) for r in lines(caplog, "crm.startup")] == [
        ("WARNING", 1),
        ("ERROR", 2),
    ]


async def test_start_up_is_never_retried_past_a_cancellation() -> None:
    action = Flaky(1, asyncio.CancelledError())  # type: ignore[arg-type]
    with pytest.raises(asyncio.CancelledError):
        await with_retries(action, what="X", where="y", attempts=3, backoff_s=0, max_backoff_s=0)
    assert action.calls == 1


async def test_a_command_is_retried_then_processed(caplog: pytest.LogCaptureFixture) -> None:
    action = Flaky(2, RuntimeError("blip"))
    assert await with_command_retries(action, retries=3, backoff_s=0, what="command c") == "ok"
    assert action.calls == 3
    assert [r.getMessage() for r in lines(caplog, "crm.worker")] == [
        "command c attempt 1 failed: RuntimeError('blip')",
        "command c attempt 2 failed: RuntimeError('blip')",
    ]


async def test_a_command_failing_every_attempt_is_poison() -> None:
    action = Flaky(9, RuntimeError("broken"))
    with pytest.raises(Poison) as poison:
        await with_command_retries(action, retries=2, backoff_s=0, what="command c")
    assert (poison.value.reason, str(poison.value)) == ("processing_failed", "RuntimeError: broken")
    assert action.calls == 3


async def test_a_store_still_unreachable_after_the_retries_propagates() -> None:
    action = Flaky(9, AutoReconnect("no primary"))
    with pytest.raises(AutoReconnect):
        await with_command_retries(action, retries=1, backoff_s=0, what="command c")
    assert action.calls == 2


async def test_an_invalid_command_is_poison_at_once() -> None:
    action = Flaky(9, InvalidCommand("name: required"))
    with pytest.raises(Poison) as poison:
        await with_command_retries(action, retries=5, backoff_s=0, what="command c")
    assert poison.value.reason == "invalid_payload"
    assert action.calls == 1

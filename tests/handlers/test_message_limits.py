"""Kafka messages over the size limit are dead-lettered (`too_large`) before decoding, on
the commands topic and on the integration events topic; the partition moves on."""

import json
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from crm.runtime import Runtime
from handlers.command_consumer import MAX_MESSAGE_BYTES, CommandConsumer, Outcome
from handlers.dead_letters import TOO_LARGE_SAMPLE_BYTES, DeadLetters, RawMessage
from handlers.integration_events import IntegrationEventConsumer
from handlers.pipeline import CommandProcessor
from storage.journal import CommandJournal
from tests.conftest import published
from tests.helpers import publish_raw


class Captured:
    """A dead-letter publisher that keeps what it was given."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes | None, dict[str, str]]] = []

    async def __call__(self, value: bytes, key: bytes | None, headers: dict[str, str]) -> None:
        self.sent.append((value, key, headers))


def command(name: str, pad: int = 0) -> bytes:
    payload: dict[str, Any] = {"name": name}
    if pad:
        payload["padding"] = "x" * pad  # an unknown field: only the size matters
    return json.dumps(
        {
            "commandId": f"cmd-{name}",
            "type": "customer.create",
            "tenantId": "t1",
            "actorId": "producer-1",
            "payload": payload,
        }
    ).encode()


async def publish_oversized(
    runtime: Runtime, topic: str, value: bytes, key: bytes, headers: dict[str, str]
) -> None:
    """A producer that allows records over 1 MiB (aiokafka's default `max_request_size`
    refuses them before sending). Tansu accepts them; Apache Kafka's default
    `message.max.bytes` refuses them, so these tests run on `wire` only."""
    producer = AIOKafkaProducer(
        bootstrap_servers=runtime.parts.settings.kafka_servers,
        max_request_size=4 * MAX_MESSAGE_BYTES,
    )
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, value, key=key, headers=[(k, v.encode()) for k, v in headers.items()]
        )
    finally:
        await producer.stop()


def test_the_default_limit_is_one_mebibyte() -> None:
    assert MAX_MESSAGE_BYTES == 1024 * 1024


@pytest.mark.wire_only  # a record over 1 MiB (see publish_oversized)
async def test_a_command_over_the_default_limit_is_dead_lettered(runtime: Runtime) -> None:
    big = command("Huge", pad=MAX_MESSAGE_BYTES)
    await publish_oversized(
        runtime, runtime.parts.topics.commands, big, b"t1:huge", {"trace": "abc"}
    )
    await publish_raw(runtime, runtime.parts.topics.commands, command("Small"), b"t1:small", {})

    [dead] = await published(runtime, runtime.parts.topics.commands_dlq)
    assert dead["key"] == "t1:huge"
    headers = dead["headers"]
    assert headers["x-dlq-reason"] == "too_large"
    assert str(len(big)) in headers["x-dlq-error"]
    assert headers["x-dlq-original-size"] == str(len(big))
    assert headers["x-dlq-truncated"] == "true"
    assert headers["x-dlq-original-topic"] == runtime.parts.topics.commands
    assert headers["trace"] == "abc"  # the original headers travel with it
    journal = CommandJournal(runtime.parts.store.db)
    huge = await journal.find("t1", "cmd-Huge")  # never decided: recorded as failed
    assert huge is not None
    assert huge["result"]["status"] == "failed"
    assert huge["result"]["error"]["details"] == "too_large"
    assert "changes" not in huge and not huge.get("events")
    small = await journal.find("t1", "cmd-Small")
    assert small is not None
    assert small["result"]["status"] == "succeeded"


async def test_the_limit_is_a_constructor_argument_checked_before_decoding(
    runtime: Runtime,
) -> None:
    captured = Captured()
    consumer = CommandConsumer(
        CommandProcessor(runtime.parts.store.db), DeadLetters(captured), max_message_bytes=100
    )
    not_json = b"\xff" * 101  # too large wins over undecodable: nothing tries to decode it
    outcome = await consumer.consume(RawMessage(value=not_json, key=b"k", topic="crm.commands"))
    assert outcome is Outcome.DEAD_LETTERED
    [(value, key, headers)] = captured.sent
    assert headers["x-dlq-reason"] == "too_large"
    assert (value, key) == (not_json, b"k")  # under the sample size: carried whole
    assert "x-dlq-truncated" not in headers

    at_limit = command("Fits")
    consumer = CommandConsumer(
        CommandProcessor(runtime.parts.store.db),
        DeadLetters(captured),
        max_message_bytes=len(at_limit),
    )
    assert await consumer.consume(RawMessage(value=at_limit)) is Outcome.PROCESSED


async def test_a_too_large_dead_letter_carries_only_a_sample(runtime: Runtime) -> None:
    captured = Captured()
    consumer = CommandConsumer(
        CommandProcessor(runtime.parts.store.db), DeadLetters(captured), max_message_bytes=1000
    )
    big = command("Big", pad=3 * TOO_LARGE_SAMPLE_BYTES)
    assert await consumer.consume(RawMessage(value=big)) is Outcome.DEAD_LETTERED
    [(value, _, headers)] = captured.sent
    assert value == big[:TOO_LARGE_SAMPLE_BYTES]
    assert headers["x-dlq-original-size"] == str(len(big))


@pytest.mark.wire_only  # a record over 1 MiB (see publish_oversized)
async def test_an_integration_event_over_the_limit_is_dead_lettered(runtime: Runtime) -> None:
    event = {
        "specversion": "1.0",
        "id": "ev-big",
        "source": "wecom",
        "type": "interaction.recorded",
        "tenantid": "t1",
        "data": {"customerId": "c1", "interactionType": "chat", "notes": "x" * 200},
    }
    raw = json.dumps(event).encode()
    captured = Captured()
    small_limit = IntegrationEventConsumer(
        runtime.parts.store.db,
        CommandProcessor(runtime.parts.store.db),
        DeadLetters(captured),
        max_message_bytes=len(raw) - 1,
    )
    message = RawMessage(value=raw, key=b"wecom", topic=runtime.parts.topics.integration_events)
    assert await small_limit.consume(message) is Outcome.DEAD_LETTERED
    assert captured.sent[0][2]["x-dlq-reason"] == "too_large"

    # Through the runtime's own consumer (default limit): a 1 MiB+ event is refused too.
    huge = json.dumps({**event, "id": "ev-huge", "pad": "x" * MAX_MESSAGE_BYTES}).encode()
    await publish_oversized(runtime, runtime.parts.topics.integration_events, huge, b"wecom", {})
    [dead] = await published(runtime, runtime.parts.topics.commands_dlq)
    assert dead["headers"]["x-dlq-reason"] == "too_large"
    assert dead["headers"]["x-dlq-original-topic"] == runtime.parts.topics.integration_events

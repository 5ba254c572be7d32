"""The broker's middlewares: FastStream's Kafka metrics (`KafkaPrometheusMiddleware`) and
the log context of each consumed message (`crm.message_log_context`)."""

import contextlib
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage, TestKafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CollectorRegistry

from crm.logging_setup import log_context
from crm.message_log_context import MessageLogContext

FAMILIES = {
    "faststream_received_messages",
    "faststream_received_messages_size_bytes",
    "faststream_received_messages_in_process",
    "faststream_received_processed_messages",
    "faststream_received_processed_messages_duration_seconds",
    "faststream_received_processed_messages_exceptions",
    "faststream_published_messages",
    "faststream_published_messages_duration_seconds",
    "faststream_published_messages_exceptions",
}


async def exercise(registry: CollectorRegistry) -> list[dict[str, str]]:
    """Acked, nacked, failing and published messages on a broker wired as the runtime's;
    the log context each handler saw."""
    metrics = KafkaPrometheusMiddleware(registry=registry, app_name="crm")
    broker = KafkaBroker("embedded:9092", middlewares=[MessageLogContext, metrics])
    seen: list[dict[str, str]] = []

    @broker.subscriber("t.ok", group_id="g")
    async def ok(body: dict[str, Any]) -> None:
        seen.append(log_context())

    @broker.subscriber("t.nack", group_id="g", ack_policy=AckPolicy.MANUAL)
    async def nack(body: dict[str, Any], msg: KafkaMessage) -> None:
        await msg.nack()

    @broker.subscriber("t.fail", group_id="g")
    async def fail(body: dict[str, Any]) -> None:
        raise ValueError("broken")

    async with TestKafkaBroker(broker):
        for n in range(3):
            await broker.publish({"commandId": f"c-{n}", "tenantId": "t1"}, "t.ok")
        await broker.publish({"n": 22}, "t.nack")
        for _ in range(2):
            with contextlib.suppress(ValueError):
                await broker.publish({"n": 333}, "t.fail")
        await broker.publish(b"x" * 5000, "t.unread")  # published, nobody consumes
    return seen


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, {"app_name": "crm", "broker": "kafka", **labels})


async def test_the_broker_records_faststreams_kafka_metrics() -> None:
    registry = CollectorRegistry()
    await exercise(registry)
    assert {family.name for family in registry.collect()} == FAMILIES
    assert value(registry, "faststream_received_messages_total", handler="t.ok") == 3
    processed = "faststream_received_processed_messages_total"
    assert value(registry, processed, handler="t.ok", status="acked") == 3
    assert value(registry, processed, handler="t.nack", status="nacked") == 1
    exceptions = "faststream_received_processed_messages_exceptions_total"
    assert value(registry, exceptions, handler="t.fail", exception_type="ValueError") == 2
    assert value(registry, "faststream_received_messages_in_process", handler="t.ok") == 0
    published = "faststream_published_messages_total"
    assert value(registry, published, destination="t.unread", status="success") == 1
    sizes = "faststream_received_messages_size_bytes_bucket"
    assert value(registry, sizes, handler="t.ok", le="64.0") == 3


async def test_brokers_of_one_registry_record_into_the_same_families() -> None:
    """Every runtime of a process (tests start many) records into the default registry."""
    registry = CollectorRegistry()
    for _ in range(2):
        await exercise(registry)
    assert value(registry, "faststream_received_messages_total", handler="t.ok") == 6


async def test_a_consumed_message_binds_its_command_and_tenant() -> None:
    seen = await exercise(CollectorRegistry())
    assert [(c.get("commandId"), c.get("tenantId")) for c in seen] == [
        ("c-0", "t1"),
        ("c-1", "t1"),
        ("c-2", "t1"),
    ]
    assert log_context().get("commandId") is None  # unbound after the message

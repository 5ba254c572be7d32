"""Our broker middleware records FastStream's Kafka metrics exactly as FastStream's own
Prometheus middleware does (same samples), only cheaper."""

import contextlib
import re
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage, TestKafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CollectorRegistry, generate_latest

from crm.broker_telemetry import BrokerMetrics, broker_telemetry


async def exercise(middleware: Any) -> None:
    """Acked, nacked, failing and published messages on one broker."""
    broker = KafkaBroker("embedded:9092", middlewares=[middleware])

    @broker.subscriber("t.ok", group_id="g")
    async def ok(body: dict[str, Any]) -> None:
        pass

    @broker.subscriber("t.nack", group_id="g", ack_policy=AckPolicy.MANUAL)
    async def nack(body: dict[str, Any], msg: KafkaMessage) -> None:
        await msg.nack()

    @broker.subscriber("t.fail", group_id="g")
    async def fail(body: dict[str, Any]) -> None:
        raise ValueError("broken")

    async with TestKafkaBroker(broker):
        for _ in range(3):
            await broker.publish({"n": 1}, "t.ok")
        await broker.publish({"n": 22}, "t.nack")
        for _ in range(2):
            with contextlib.suppress(ValueError):
                await broker.publish({"n": 333}, "t.fail")
        await broker.publish(b"x" * 5000, "t.unread")  # published, nobody consumes


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[Any, ...]], float]:
    """Every sample but creation times and the timings' sums and buckets (their values
    differ run to run)."""
    found = {}
    for family in registry.collect():
        for sample in family.samples:
            timing = "duration_seconds" in sample.name and not sample.name.endswith("_count")
            if timing or sample.name.endswith("_created"):
                continue
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_samples_equal_faststreams_prometheus_middleware() -> None:
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    await exercise(KafkaPrometheusMiddleware(registry=theirs, app_name="crm"))
    await exercise(broker_telemetry(BrokerMetrics(ours, app_name="crm")))
    expected = samples(theirs)
    assert samples(ours) == expected
    # and the exercise covered what matters
    statuses = {dict(labels).get("status") for name, labels in expected if "processed" in name}
    assert {"acked", "nacked"} <= statuses
    failures = [name for name, labels in expected if ("exception_type", "ValueError") in labels]
    assert sorted(failures) == [
        "faststream_published_messages_exceptions_total",
        "faststream_received_processed_messages_exceptions_total",
    ]
    assert (
        expected[
            (
                "faststream_received_messages_in_process",
                (("app_name", "crm"), ("broker", "kafka"), ("handler", "t.ok")),
            )
        ]
        == 0
    )


def exposition(registry: CollectorRegistry) -> list[str]:
    """The `/metrics` text, with the values that differ run to run (creation times, the
    timings' sums and buckets) replaced by `T`."""
    lines = generate_latest(registry).decode().splitlines()
    timing = re.compile(r"^faststream_\w+_(created|duration_seconds_(sum|bucket))\{")
    return [re.sub(r" \S+$", " T", line) if timing.match(line) else line for line in lines]


async def test_the_exposition_equals_faststreams_line_for_line() -> None:
    """Help and type lines, family order, bucket bounds, creation times: what a scrape
    reads is what FastStream's own middleware would have it read."""
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    await exercise(KafkaPrometheusMiddleware(registry=theirs, app_name="crm"))
    await exercise(broker_telemetry(BrokerMetrics(ours, app_name="crm")))
    expected = exposition(theirs)
    assert exposition(ours) == expected
    assert (
        'faststream_received_messages_size_bytes_bucket{app_name="crm",broker="kafka",'
        'handler="t.ok",le="16.0"} 3.0' in expected
    )


async def test_brokers_of_one_registry_record_into_the_same_families() -> None:
    registry = CollectorRegistry()
    for _ in range(2):
        await exercise(broker_telemetry(BrokerMetrics(registry, app_name="crm")))
    labels = {"app_name": "crm", "broker": "kafka", "handler": "t.ok"}
    assert registry.get_sample_value("faststream_received_messages_total", labels) == 6

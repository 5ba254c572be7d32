"""Embedded mode: the service starts, provisions and stops a real Kafka-protocol broker
(Tansu), which outside Kafka clients use like any Kafka."""

import asyncio
import json
import logging
import socket
import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from crm.bootstrap import bootstrap
from crm.embedded_kafka import port_in_use
from crm.runtime import Runtime
from crm.startup import StartupError
from schemas.ids import created_customer_id
from tests.conftest import embedded_settings
from tests.helpers import publish_raw

pytestmark = pytest.mark.timeout(60)


def create_command(number: int) -> bytes:
    return json.dumps(
        {
            "commandId": f"embedded-{number}",
            "type": "customer.create",
            "tenantId": "t1",
            "actorId": "producer-1",
            "payload": {"name": f"Customer {number}"},
        }
    ).encode()


async def first_event(servers: list[str], topic: str) -> dict:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=servers, auto_offset_reset="earliest", fetch_max_wait_ms=10
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), 20)
        return dict(json.loads(record.value))
    finally:
        await consumer.stop()


async def test_outside_clients_produce_commands_and_consume_change_events() -> None:
    settings = embedded_settings(kafka_partitions=3)
    runtime = Runtime(bootstrap(settings))
    await runtime.start()
    try:
        servers = settings.kafka_servers
        producer = AIOKafkaProducer(bootstrap_servers=servers)
        await producer.start()
        try:
            partitions = await producer.partitions_for(settings.topics.commands)
            assert len(partitions) == 3  # CRM_KAFKA_PARTITIONS
            customer_id = created_customer_id("t1", "embedded-1")
            await producer.send_and_wait(
                settings.topics.commands, create_command(1), key=f"t1:{customer_id}".encode()
            )
        finally:
            await producer.stop()
        event = await first_event(servers, settings.topics.customer_events)
        assert event["type"] == "crm.customer.created"
        assert event["subject"] == customer_id
        assert event["data"]["name"] == "Customer 1"
    finally:
        await runtime.stop()
    assert not port_in_use("127.0.0.1", settings.embedded_kafka_port)  # the broker is gone


async def test_a_port_in_use_stops_start_up_with_one_line_naming_the_variable() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        runtime = Runtime(bootstrap(embedded_settings(embedded_kafka_port=port)))
        with pytest.raises(StartupError) as refused:
            await runtime.start()
        await runtime.stop()
    message = str(refused.value)
    assert "CRM_EMBEDDED_KAFKA_PORT" in message
    assert str(port) in message
    assert "\n" not in message


async def test_faststream_lines_reach_the_configured_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="crm.kafka")
    runtime = Runtime(bootstrap(embedded_settings()))
    await runtime.start()
    try:
        await publish_raw(runtime, runtime.parts.topics.commands, create_command(1), b"t1:k", {})
        deadline = time.monotonic() + 20
        while not any(r.getMessage() == "Processed" for r in caplog.records):
            assert time.monotonic() < deadline, "the command was never processed"
            await asyncio.sleep(0.05)
    finally:
        await runtime.stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "crm.kafka"]
    assert "Received" in lines

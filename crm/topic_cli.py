"""`crm publish FILE` and `crm tail`: the service's topics from the command line, on the
configured Kafka or on the embedded broker of a running `crm run`."""

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

from faststream.kafka import KafkaBroker

from crm.kafka_tuning import consumer_options
from crm.settings import Settings
from schemas.ids import created_customer_id, partition_key
from schemas.topics import Topics


def route(message: dict[str, Any], topics: Topics) -> tuple[str, bytes]:
    """Topic and key for a command envelope or an integration CloudEvent."""
    if "specversion" in message:
        data = message.get("data") or {}
        identity = data.get("identity") or data
        subject = data.get("customerId") or identity.get("externalId") or message.get("id", "")
        return topics.integration_events, partition_key(
            str(message.get("tenantid", "")), str(subject)
        )
    tenant = str(message.get("tenantId", ""))
    payload = message.get("payload") or {}
    customer = payload.get("customerId")
    if customer is None and message.get("type") == "customer.create":
        customer = created_customer_id(tenant, str(message.get("commandId", "")))
    return topics.commands, partition_key(tenant, str(customer or message.get("commandId", "")))


def load_messages(path: Path) -> list[dict[str, Any]]:
    """A JSON object, a JSON array of objects, or JSON Lines."""
    text = path.read_text()
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError:
        loaded = [json.loads(line) for line in text.splitlines() if line.strip()]
    messages = loaded if isinstance(loaded, list) else [loaded]
    if not all(isinstance(m, dict) for m in messages):
        raise ValueError(f"{path}: expected JSON objects")
    return messages


def _broker(settings: Settings) -> KafkaBroker:
    # No FastStream log lines: standard output carries only what the command prints.
    return KafkaBroker(settings.kafka_servers, logger=None)


async def _raw_body(msg: Any) -> bytes:
    """Change events are `application/cloudevents+json`, which FastStream does not decode
    as JSON: the value is taken as it came and printed as one line."""
    return bytes(msg.body)


async def publish_file(settings: Settings, path: Path, topic: str | None) -> None:
    broker = _broker(settings)
    messages = load_messages(path)
    await broker.connect()
    try:
        for message in messages:
            default_topic, key = route(message, settings.topics)
            await broker.publish(message, topic or default_topic, key=key)
            print(f"published to {topic or default_topic} key={key.decode()}")
    finally:
        await broker.stop()


async def tail(settings: Settings, from_beginning: bool) -> None:
    broker = _broker(settings)

    @broker.subscriber(
        settings.topics.customer_events,
        auto_offset_reset="earliest" if from_beginning else "latest",
        decoder=_raw_body,
        **consumer_options(settings),
    )
    async def show(value: bytes) -> None:
        print(value.decode(errors="replace"), flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await broker.start()
    try:
        await stop.wait()
    finally:
        await broker.stop()

"""FastStream subscribers: thin adapters from Kafka records to the command consumer.

Acks are manual (DESIGN §1): FastStream's ACK policy would commit a failed message
(lost) and NACK_ON_ERROR would re-seek it forever (a stuck partition).
"""

import asyncio
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from handlers.command_consumer import CommandConsumer, Outcome
from handlers.dead_letters import RawMessage
from schemas.topics import Topics

REDELIVERY_PAUSE_S = 1.0  # store unreachable: pause before the record is read again


def raw_message(msg: Any) -> RawMessage:
    record = msg.raw_message
    return RawMessage(
        value=msg.body,
        key=record.key or None,
        headers={k: v for k, v in msg.headers.items() if isinstance(v, str)},
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
    )


def register_command_subscriber(
    broker: KafkaBroker, topics: Topics, consumer: CommandConsumer, group_id: str
) -> None:
    @broker.subscriber(
        topics.commands,
        group_id=group_id,
        ack_policy=AckPolicy.MANUAL,
        title="crm.commands:consume",
        description=(
            "CRM commands (JSON command envelope). Processed idempotently by commandId; "
            "poison messages go to the dead-letter topic, transient store errors are redelivered."
        ),
    )
    async def on_command(msg: KafkaMessage) -> None:
        outcome = await consumer.consume(raw_message(msg))
        if outcome is Outcome.RETRY_LATER:
            await asyncio.sleep(REDELIVERY_PAUSE_S)
            await msg.nack()
        else:
            await msg.ack()

"""FastStream subscribers: thin adapters from Kafka records to the command consumer.

Acks are manual (docs/architecture.md, "Acknowledgements"): FastStream's ACK policy would
commit a failed message (lost) and NACK_ON_ERROR would re-seek it forever (a stuck
partition). A finished message's offset is committed in the background
(handlers/offset_commits.py), not by `msg.ack()` (an OffsetCommit request per message); a
message left for redelivery is `nack`ed (sought back), and nothing after it is committed
before it finishes.
"""

import asyncio
from typing import Any, Protocol

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from handlers.command_consumer import Outcome
from handlers.dead_letters import RawMessage
from handlers.offset_commits import OffsetCommits
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


async def _undecoded(msg: Any) -> bytes:
    """The record's value as it came: the consumers decode it themselves (what does not
    decode is dead-lettered), so FastStream's JSON decoding of every record would be
    thrown away."""
    return msg.body


class Consumer(Protocol):
    async def consume(self, message: RawMessage) -> Outcome: ...


def _subscribe(
    broker: KafkaBroker,
    topic: str,
    consumer: Consumer,
    group_id: str,
    *,
    title: str,
    description: str,
    options: dict[str, Any],
) -> OffsetCommits:
    commits = OffsetCommits()

    @broker.subscriber(
        topic,
        group_id=group_id,
        **options,
        # A new consumer group starts at the oldest retained message: with FastStream's
        # default ("latest") a first deploy would skip commands already on the topic.
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        decoder=_undecoded,
        listener=commits,  # commits what finished before partitions are revoked
        title=title,
        description=description,
    )
    async def on_message(_body: bytes) -> None:
        # The whole record (key, headers, offset) is read from the context, not injected:
        # the runtime's broker skips FastDepends (`apply_types=False`), whose resolution
        # of an injected `msg: KafkaMessage` would also run in a worker thread.
        msg: KafkaMessage = broker.context.get_local("message")
        message = raw_message(msg)
        outcome = await consumer.consume(message)
        if outcome is Outcome.RETRY_LATER:
            await asyncio.sleep(REDELIVERY_PAUSE_S)
            await msg.nack()
        else:
            await commits.finished(msg.consumer, message.topic, message.partition, message.offset)

    return commits


def register_command_subscriber(
    broker: KafkaBroker, topics: Topics, consumer: Consumer, group_id: str, **options: Any
) -> OffsetCommits:
    """`options`: further aiokafka consumer settings (the broker's tuning, crm/kafka_tuning).
    The subscriber's offset commits are returned: `stop()` them before the subscriber."""
    return _subscribe(
        broker,
        topics.commands,
        consumer,
        group_id,
        title="crm.commands:consume",
        options=options,
        description=(
            "CRM commands (JSON command envelope). Processed idempotently by commandId; "
            "poison messages go to the dead-letter topic, transient store errors are redelivered."
        ),
    )


def register_integration_subscriber(
    broker: KafkaBroker, topics: Topics, consumer: Consumer, group_id: str, **options: Any
) -> OffsetCommits:
    """`options`: further aiokafka consumer settings (the broker's tuning, crm/kafka_tuning).
    The subscriber's offset commits are returned: `stop()` them before the subscriber."""
    return _subscribe(
        broker,
        topics.integration_events,
        consumer,
        group_id,
        title="crm.integration.events:consume",
        options=options,
        description=(
            "Inbound CloudEvents from IM/CRM systems, applied as commands (idempotent per "
            "source and id); events whose customer is unknown are parked; poison goes to the "
            "dead-letter topic, transient store errors are redelivered."
        ),
    )

"""Builds and runs one process's parts: store, broker, command processor and relay.

Roles: `all` (embedded: facade + worker in one process), `api` (facade: publishes
commands, reads the store) and `worker` (consumes commands and integration events, runs
the outbox relay).
"""

import asyncio
import contextlib
import logging
from typing import Any, Literal

from faststream.kafka import KafkaBroker, TestKafkaBroker

from crm.settings import Settings
from crm.topic_log import TopicLog
from handlers.command_consumer import CommandConsumer
from handlers.dead_letters import DeadLetters
from handlers.integration_events import IntegrationEventConsumer
from handlers.keyed_lock import KeyedLock
from handlers.pipeline import CommandProcessor
from handlers.relay import OutboxRelay
from handlers.subscribers import register_command_subscriber, register_integration_subscriber
from storage.database import open_store
from storage.indexes import ensure_indexes
from storage.journal import CommandJournal

RELAY_STOP_TIMEOUT_S = 10.0
Role = Literal["all", "api", "worker"]
log = logging.getLogger("crm")

JSON_HEADERS = {"content-type": "application/json"}
CLOUDEVENT_HEADERS = {"content-type": "application/cloudevents+json; charset=utf-8"}


class Runtime:
    def __init__(self, settings: Settings, role: Role = "all") -> None:
        self.settings = settings
        self.role = role
        self.topics = settings.topics
        self.store = open_store(settings.mongo_url, settings.mongo_db)
        self.topic_log = TopicLog() if settings.embedded_broker else None
        self.broker = KafkaBroker(
            "embedded:9092" if settings.embedded_broker else (settings.kafka_url or ""),
            middlewares=[self.topic_log.middleware()] if self.topic_log else (),
            description="CRM worker: commands in, change events out.",
            graceful_timeout=15.0,
        )
        self.processor = CommandProcessor(self.store.db)
        self.relay = OutboxRelay(
            CommandJournal(self.store.db),
            self.publish_event,
            interval_s=settings.relay_interval_s,
        )
        dead_letters = DeadLetters(self.publish_dead_letter)
        locks = KeyedLock()  # one customer's commands and integration events never interleave
        self.integration = IntegrationEventConsumer(
            self.store.db,
            self.processor,
            dead_letters,
            locks=locks,
            retries=settings.command_retries,
            backoff_s=settings.retry_backoff_s,
            on_processed=self.relay.kick,
        )
        self.consumer = CommandConsumer(
            self.processor,
            dead_letters,
            retries=settings.command_retries,
            backoff_s=settings.retry_backoff_s,
            on_processed=self.relay.kick,
            locks=locks,
            after_command=self.integration.after_command,  # releases parked events
        )
        if role in ("all", "worker"):
            register_command_subscriber(
                self.broker, self.topics, self.consumer, settings.consumer_group
            )
            register_integration_subscriber(
                self.broker, self.topics, self.integration, settings.consumer_group
            )
        self._embedded_broker: TestKafkaBroker | None = None
        self._relay_task: asyncio.Task[None] | None = None

    @property
    def runs_worker(self) -> bool:
        return self.role in ("all", "worker")

    async def start(self) -> None:
        await ensure_indexes(self.store.db)
        if self.settings.embedded_broker:
            # The in-process broker: FastStream's test broker delivers each publish to
            # the same subscribers, inline, with no Kafka behind it.
            self._embedded_broker = TestKafkaBroker(self.broker)
            await self._embedded_broker.__aenter__()
        else:
            await self.broker.start()
        if self.runs_worker:
            self._relay_task = asyncio.create_task(self.relay.run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._relay_task is not None:
            self.relay.stop()
            try:
                await asyncio.wait_for(asyncio.shield(self._relay_task), RELAY_STOP_TIMEOUT_S)
            except TimeoutError:
                self._relay_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._relay_task
        if self._embedded_broker is not None:
            await self._embedded_broker.__aexit__(None, None, None)
        else:
            await self.broker.stop()
        await self.store.close()

    async def publish_command(self, envelope: dict[str, Any], key: bytes) -> None:
        await self.broker.publish(envelope, self.topics.commands, key=key, headers=JSON_HEADERS)

    async def publish_event(self, event: dict[str, Any], key: bytes) -> None:
        await self.broker.publish(
            event, self.topics.customer_events, key=key, headers=CLOUDEVENT_HEADERS
        )

    async def publish_dead_letter(
        self, value: bytes, key: bytes | None, headers: dict[str, str]
    ) -> None:
        await self.broker.publish(value, self.topics.commands_dlq, key=key, headers=headers)

    async def publish_raw(
        self, topic: str, value: bytes, key: bytes | None, headers: dict[str, str]
    ) -> None:
        """Publish as an outside producer would (the embedded `/dev/topics` route)."""
        await self.broker.publish(value, topic, key=key, headers=headers)

    async def broker_ready(self) -> bool:
        if self.settings.embedded_broker:
            return self._embedded_broker is not None
        return await self.broker.ping(timeout=2.0)

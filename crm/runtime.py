"""Builds and runs one process's parts: store, broker, command processor and relay.

Roles: `all` (embedded: facade + worker in one process), `api` (facade: publishes
commands, reads the store) and `worker` (consumes commands and integration events, runs
the outbox relay).
"""

import asyncio
import contextlib
import json
import logging
import os
import socket
import uuid
from typing import Any, Literal

from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker
from prometheus_client import REGISTRY
from pymongo import AsyncMongoClient

from crm.broker_telemetry import BrokerMetrics, broker_telemetry
from crm.consumer_lag import ConsumerLag
from crm.embedded_kafka import EmbeddedKafka
from crm.kafka_tuning import consumer_options, group_ids
from crm.settings import ConfigurationError, Settings, redacted_url
from crm.startup import NotUsable, StartupError, with_retries
from handlers.command_consumer import CommandConsumer
from handlers.dead_letters import DeadLetters
from handlers.integration_events import IntegrationEventConsumer
from handlers.journal_retention import DAY_S, JournalRetention
from handlers.keyed_lock import KeyedLock
from handlers.outbox import EventPii
from handlers.pipeline import CommandProcessor
from handlers.relay import OutboxRelay
from handlers.subscribers import register_command_subscriber, register_integration_subscriber
from schemas.command_origin import http_origin_headers, origin_key
from storage.database import Document, Store, open_store
from storage.embedded import DataDirectory, DataDirectoryError, MemoryClient
from storage.indexes import ensure_indexes
from storage.journal import CommandJournal
from storage.journal_watch import JournalWatch
from storage.leases import Lease
from storage.submissions import CommandSubmissions

RELAY_STOP_TIMEOUT_S = 10.0
RELAY_LEASE_TTL_S = 15.0  # a relay that stops renewing is replaced after this long
READINESS_TIMEOUT_S = 2.0
Role = Literal["all", "api", "worker"]
log = logging.getLogger("crm")

JSON_HEADERS = {"content-type": "application/json"}
CLOUDEVENT_HEADERS = {"content-type": "application/cloudevents+json; charset=utf-8"}


class Runtime:
    def __init__(self, settings: Settings, role: Role = "all", store: Store | None = None) -> None:
        """`store`: an open store to use instead of the configured one (runtimes that share
        one in-memory store, in tests)."""
        self.settings = settings
        self.role = role
        self.topics = settings.topics
        self.store = store if store is not None else _open_store(settings, role)
        # `crm run` on its own in-memory store keeps it in CRM_DATA_DIR.
        self.data_directory = (
            _data_directory(settings, self.store) if store is None and role == "all" else None
        )
        self._snapshot_task: asyncio.Task[None] | None = None
        # Embedded mode: the Tansu broker this process starts and stops (crm/embedded_kafka.py).
        self.embedded_kafka = (
            EmbeddedKafka(settings.embedded_kafka_port) if settings.embedded_broker else None
        )
        # Log context of each consumed message, FastStream's Kafka metrics.
        telemetry = broker_telemetry(BrokerMetrics(REGISTRY, app_name="crm"))
        self.broker = KafkaBroker(
            settings.kafka_servers,
            middlewares=[telemetry],
            # Our handlers take nothing injected (they read the record from the context):
            # FastDepends' per-message resolution would be pure cost (with the undecoded
            # bodies of `handlers.subscribers`, about 30 µs a command).
            apply_types=False,
            description="CRM worker: commands in, change events out.",
            graceful_timeout=settings.shutdown_timeout_s,
            logger=logging.getLogger("crm.kafka"),
            log_level=logging.DEBUG,  # per-message lines; our own log lines say what matters
        )
        # A write's HTTP answer waits for its result; with the worker in this process the
        # pipeline wakes it at once (the facade still polls, as it must across processes).
        self.journal_watch = JournalWatch()
        self.processor = CommandProcessor(self.store.db, self.journal_watch)
        # Proves the facade's commands `http` to the worker (schemas/command_origin.py).
        self._origin_key = _origin_key(settings)
        self.relay = OutboxRelay(
            CommandJournal(self.store.db),
            self.publish_event,
            interval_s=settings.relay_interval_s,
            linger_s=settings.relay_linger_ms / 1000,
            lease=Lease(self.store.db, "outbox-relay", _process_identity(), RELAY_LEASE_TTL_S),
            retention=JournalRetention(
                CommandJournal(self.store.db),
                CommandSubmissions(self.store.db),
                settings.journal_retention_days * DAY_S,
            ),
            pii=EventPii(settings.event_pii),
        )
        dead_letters = DeadLetters(self.publish_dead_letter)
        # one customer's commands and integration events never interleave
        self.locks = locks = KeyedLock()
        self.integration = IntegrationEventConsumer(
            self.store.db,
            self.processor,
            dead_letters,
            locks=locks,
            retries=settings.command_retries,
            max_message_bytes=settings.max_message_bytes,
            backoff_s=settings.retry_backoff_s,
            on_processed=self.relay.kick,
            topic=self.topics.integration_events,
        )
        self.consumer = CommandConsumer(
            self.processor,
            dead_letters,
            retries=settings.command_retries,
            max_message_bytes=settings.max_message_bytes,
            backoff_s=settings.retry_backoff_s,
            on_processed=self.relay.kick,
            locks=locks,
            after_command=self.integration.after_command,  # releases parked events
            origin_key=self._origin_key,
        )
        commands_group, integration_group = group_ids(settings)
        self.consumer_lag = ConsumerLag(
            lambda: [getattr(sub, "consumer", None) for sub in self.broker.subscribers],
            {
                self.topics.commands: commands_group,
                self.topics.integration_events: integration_group,
            },
        )
        self._lag_task: asyncio.Task[None] | None = None
        if role in ("all", "worker"):
            options = consumer_options(settings)
            register_command_subscriber(
                self.broker, self.topics, self.consumer, commands_group, **options
            )
            register_integration_subscriber(
                self.broker, self.topics, self.integration, integration_group, **options
            )
        self._relay_task: asyncio.Task[None] | None = None
        self._started = False
        self._accepting = False  # started and not stopping: what readiness reports
        self._stopped = False

    @property
    def runs_worker(self) -> bool:
        return self.role in ("all", "worker")

    @property
    def started(self) -> bool:
        return self._started

    def required_topics(self) -> list[str]:
        """Topics this role uses; start-up waits for them (they are provisioned, not guessed)."""
        if not self.runs_worker:
            return [self.topics.commands]
        return [
            self.topics.commands,
            self.topics.integration_events,
            self.topics.customer_events,
            self.topics.commands_dlq,
        ]

    async def start(self) -> None:
        """Connect the store and the broker (bounded retries), then consume and relay.

        Raises `crm.startup.StartupError` when a dependency stays unreachable.
        """
        if self._started:
            return
        settings = self.settings
        retry: dict[str, Any] = {
            "attempts": settings.startup_attempts,
            "backoff_s": settings.startup_backoff_s,
            "max_backoff_s": settings.startup_backoff_max_s,
        }
        store_at = "memory" if self.store.embedded else redacted_url(settings.mongo_url)
        if self.data_directory is not None:
            await self._load_data_directory(self.data_directory)
            store_at = f"memory, kept in {self.data_directory.directory}"
        await with_retries(self._prepare_store, what="MongoDB", where=store_at, **retry)
        if self.embedded_kafka is not None:
            await self.embedded_kafka.start()
            await self.embedded_kafka.create_topics(
                self.required_topics(), settings.kafka_partitions
            )
        await with_retries(
            self._start_broker,
            what="Kafka",
            where=",".join(settings.kafka_servers),
            cleanup=self._stop_broker_quietly,
            **retry,
        )
        if self.runs_worker:
            self._relay_task = asyncio.create_task(self.relay.run(), name="outbox-relay")
            if settings.consumer_lag_interval_s:
                self._lag_task = asyncio.create_task(
                    self.consumer_lag.run(settings.consumer_lag_interval_s), name="consumer-lag"
                )
        if self.data_directory is not None:
            self._snapshot_task = asyncio.create_task(
                self.data_directory.keep_saving(settings.data_snapshot_s), name="store-snapshots"
            )
        self._started = True
        self._accepting = True
        log.info(
            "%s started: store %s, Kafka %s%s",
            self.role,
            store_at,
            ",".join(settings.kafka_servers),
            " (embedded Tansu broker)" if self.embedded_kafka is not None else "",
        )

    async def _load_data_directory(self, directory: DataDirectory) -> None:
        """Before the indexes are ensured: they are checked against the loaded ones."""
        try:
            await directory.open()
        except (DataDirectoryError, OSError) as exc:
            raise StartupError(f"cannot use the data directory (CRM_DATA_DIR): {exc}") from exc

    async def _prepare_store(self) -> None:
        if not self.store.embedded:
            await self.store.db.command("ping")
        await ensure_indexes(self.store.db)

    async def _start_broker(self) -> None:
        # A throw-away admin client first: it tells "unreachable" and "topics missing" apart
        # and, unlike a failed broker start, leaves no half-started producer behind.
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.settings.kafka_servers, client_id="crm-startup"
        )
        try:
            await admin.start()
            existing = set(await admin.list_topics())
        finally:
            await admin.close()
        missing = [topic for topic in self.required_topics() if topic not in existing]
        if missing:
            raise NotUsable(
                f"topic(s) {', '.join(missing)} do not exist; create them first "
                "(docker compose does it with its kafka-topics service; see README)"
            )
        await self.broker.connect()
        # The subscribers join their groups side by side, not one after another as
        # `broker.start()` would: each join waits for the group to settle (Apache Kafka's
        # group.initial.rebalance.delay.ms, 3 s by default; ~1 s on Tansu), so the worker is
        # consuming in one wait instead of two. (`subscriber.start()` is FastStream's public
        # call for subscribers started on their own; we register no publishers to start.)
        await asyncio.gather(*(subscriber.start() for subscriber in self.broker.subscribers))

    async def _stop_broker_quietly(self) -> None:
        with contextlib.suppress(Exception):
            await self.broker.stop()

    async def stop(self) -> None:
        """Graceful stop: no new messages, in-flight ones finish and are committed, their
        events are relayed, then the clients close. Safe to call more than once."""
        if self._stopped:
            return
        self._stopped = True
        self._accepting = False
        if self._lag_task is not None:
            self._lag_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lag_task
        if self.runs_worker and self._started:
            await self._stop_consuming()
        await self._stop_relay()
        await self._stop_broker_quietly()
        if self.embedded_kafka is not None:
            await self.embedded_kafka.stop()
        await self._save_data_directory()
        await self.store.close()
        log.info("%s stopped", self.role)

    async def _save_data_directory(self) -> None:
        """The last snapshot, once nothing writes any more (after the final relay pass)."""
        if self.data_directory is None:
            return
        if self._snapshot_task is not None:
            self.data_directory.stop_saving()
            await self._snapshot_task  # a save under way finishes: one writer at a time
        try:
            if await self.data_directory.save():
                log.info("store saved to %s", self.data_directory.path)
        except Exception:
            log.exception("could not save the store to %s", self.data_directory.path)
        finally:
            self.data_directory.close()

    async def _stop_consuming(self) -> None:
        """Stop the subscribers: FastStream waits (graceful timeout) for in-flight messages,
        which ack (commit) as they finish; then the consumers leave the group."""
        results = await asyncio.gather(
            *(subscriber.stop() for subscriber in self.broker.subscribers),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, Exception):
                log.warning("a subscriber did not stop cleanly: %r", result)

    async def _stop_relay(self) -> None:
        if self._relay_task is None:
            return
        self.relay.stop()
        try:
            await asyncio.wait_for(asyncio.shield(self._relay_task), RELAY_STOP_TIMEOUT_S)
        except TimeoutError:
            self._relay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._relay_task
        # One last pass: the events of the commands that finished while stopping.
        try:
            await asyncio.wait_for(self.relay.run_once(), RELAY_STOP_TIMEOUT_S)
            await self.relay.release()  # another worker's relay takes over at once
        except Exception as exc:  # they stay in the outbox for the next relay
            log.warning("final relay pass failed; events stay in the outbox: %r", exc)

    async def publish_command(self, envelope: dict[str, Any], key: bytes) -> None:
        """`envelope` is JSON-ready (`CommandEnvelope.wire_with_json_payload()`): encoded
        here as FastStream would (`json.dumps`), without its walk converting it to JSON
        types first (an import's envelope holds thousands of items). A NaN or infinity
        is refused rather than published as a token that is not JSON. The explicit
        content type is sent, and the proof that the facade sent it (`changeorigin: http`
        on its events)."""
        value = json.dumps(envelope, allow_nan=False).encode()
        headers = dict(JSON_HEADERS)
        if self._origin_key is not None:
            headers.update(http_origin_headers(self._origin_key, value))
        await self.broker.publish(value, self.topics.commands, key=key, headers=headers)

    async def publish_event(self, event: dict[str, Any], key: bytes) -> None:
        await self.broker.publish(
            event, self.topics.customer_events, key=key, headers=CLOUDEVENT_HEADERS
        )

    async def publish_dead_letter(
        self, value: bytes, key: bytes | None, headers: dict[str, str]
    ) -> None:
        await self.broker.publish(value, self.topics.commands_dlq, key=key, headers=headers)

    async def broker_ready(self) -> bool:
        return await self.broker.ping(timeout=READINESS_TIMEOUT_S)

    async def store_ready(self) -> bool:
        try:
            return await asyncio.wait_for(self.store.ping(), READINESS_TIMEOUT_S)
        except TimeoutError:
            return False

    async def readiness(self) -> dict[str, bool]:
        """`/ready`: started and not stopping, and both the broker and the store answer."""
        broker, store = await asyncio.gather(self.broker_ready(), self.store_ready())
        return {"started": self._accepting, "broker": broker, "store": store}


def _open_store(settings: Settings, role: Role) -> Store:
    """The in-memory store, or a MongoDB client with the configured selection timeout."""
    if settings.embedded_store:
        return open_store(None, settings.mongo_db)
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        settings.mongo_url,
        tz_aware=True,
        serverSelectionTimeoutMS=int(settings.mongo_timeout_s * 1000),
        appname=f"crm-{role}",
    )
    return Store(client, client[settings.mongo_db], embedded=False)


def _origin_key(settings: Settings) -> bytes | None:
    """None without a secret (its roles refuse to start then, outside the embedded mode)."""
    try:
        return origin_key(settings.effective_jwt_secret)
    except ConfigurationError:
        return None


def _data_directory(settings: Settings, store: Store) -> DataDirectory | None:
    if settings.data_dir is None or not isinstance(store.client, MemoryClient):
        return None
    return DataDirectory(store.client[settings.mongo_db], settings.data_dir)


def _process_identity() -> str:
    """Who holds a lease: host, process and a per-start nonce."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

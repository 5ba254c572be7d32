"""The composition root: `bootstrap()` builds every part of one process from its settings.

Nothing else in the service constructs infrastructure (store client, broker, publisher,
processor, relay, consumers); `crm/runtime.py` starts and stops what this returns.

Roles: `all` (embedded: facade + worker in one process), `api` (facade: publishes commands,
reads the store) and `worker` (consumes commands and integration events, runs the relay).
"""

import logging
import os
import socket
import uuid
from dataclasses import dataclass
from typing import Literal

from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import REGISTRY
from pymongo import AsyncMongoClient

from crm.consumer_lag import ConsumerLag
from crm.embedded_kafka import EmbeddedKafka
from crm.kafka_tuning import consumer_options, group_ids
from crm.message_log_context import MessageLogContext
from crm.publisher import KafkaPublisher
from crm.settings import ConfigurationError, Settings
from handlers.command_consumer import CommandConsumer
from handlers.dead_letters import DeadLetters
from handlers.integration_events import IntegrationEventConsumer
from handlers.keyed_lock import KeyedLock
from handlers.offset_commits import OffsetCommits
from handlers.outbox import EventPii
from handlers.parked_release import ParkedEventRelease
from handlers.pipeline import CommandProcessor
from handlers.relay import OutboxRelay
from handlers.subscribers import register_command_subscriber, register_integration_subscriber
from schemas.command_origin import origin_key
from schemas.topics import Topics
from storage.database import Document, Store, open_store
from storage.embedded import DataDirectory, MemoryClient
from storage.journal import CommandJournal
from storage.journal_watch import JournalWatch
from storage.leases import Lease
from storage.retention import EmbeddedTtlMonitor

Role = Literal["all", "api", "worker"]
RELAY_LEASE_TTL_S = 15.0  # a relay that stops renewing is replaced after this long


@dataclass(frozen=True)
class Parts:
    """One process's parts, built and wired, none started."""

    settings: Settings
    role: Role
    store: Store
    broker: KafkaBroker
    publisher: KafkaPublisher
    # A write's HTTP answer waits for its result; with the worker in this process the
    # pipeline wakes it at once (the facade still polls, as it must across processes).
    journal_watch: JournalWatch
    processor: CommandProcessor
    relay: OutboxRelay
    consumer: CommandConsumer
    integration: IntegrationEventConsumer
    locks: KeyedLock  # one customer's commands and integration events never interleave
    # Each subscriber's background offset commits (handlers/offset_commits.py).
    offset_commits: list[OffsetCommits]
    consumer_lag: ConsumerLag
    # Embedded mode: the Tansu broker this process starts and stops (crm/embedded_kafka.py).
    embedded_kafka: EmbeddedKafka | None
    # `crm run` on its own in-memory store keeps it in CRM_DATA_DIR.
    data_directory: DataDirectory | None

    @property
    def topics(self) -> Topics:
        return self.settings.topics

    @property
    def runs_worker(self) -> bool:
        return self.role in ("all", "worker")

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


def bootstrap(settings: Settings, role: Role = "all", store: Store | None = None) -> Parts:
    """The parts of a process of `role`. `store`: an open store to use instead of the
    configured one (processes that share one in-memory store, in tests)."""
    own_store = store is None
    store = store if store is not None else _open_store(settings, role)
    broker = _broker(settings)
    # Signs the facade's commands; the consumer checks the same key.
    http_origin_key = _origin_key(settings)
    publisher = KafkaPublisher(broker, settings.topics, http_origin_key)
    journal_watch = JournalWatch()
    processor = CommandProcessor(store.db, journal_watch)
    relay = OutboxRelay(
        CommandJournal(store.db),
        publisher.publish_event,
        interval_s=settings.relay_interval_s,
        linger_s=settings.relay_linger_ms / 1000,
        lease=Lease(store.db, "outbox-relay", _process_identity(), RELAY_LEASE_TTL_S),
        # MongoDB expires old entries itself (TTL indexes); the embedded store cannot.
        retention=EmbeddedTtlMonitor(store.db, settings.retention_s) if store.embedded else None,
        pii=EventPii(settings.event_pii),
    )
    dead_letters = DeadLetters(publisher.publish_dead_letter)
    locks = KeyedLock()
    integration = IntegrationEventConsumer(
        store.db,
        processor,
        dead_letters,
        locks=locks,
        retries=settings.command_retries,
        max_message_bytes=settings.max_message_bytes,
        backoff_s=settings.retry_backoff_s,
        on_processed=relay.kick,
        topic=settings.topics.integration_events,
    )
    consumer = CommandConsumer(
        processor,
        dead_letters,
        retries=settings.command_retries,
        max_message_bytes=settings.max_message_bytes,
        backoff_s=settings.retry_backoff_s,
        on_processed=relay.kick,
        locks=locks,
        parked_release=ParkedEventRelease(store.db, integration),
        origin_key=http_origin_key,
    )
    commands_group, integration_group = group_ids(settings)
    offset_commits: list[OffsetCommits] = []
    if role in ("all", "worker"):
        options = consumer_options(settings)
        offset_commits = [
            register_command_subscriber(
                broker, settings.topics, consumer, commands_group, **options
            ),
            register_integration_subscriber(
                broker, settings.topics, integration, integration_group, **options
            ),
        ]
    return Parts(
        settings=settings,
        role=role,
        store=store,
        broker=broker,
        publisher=publisher,
        journal_watch=journal_watch,
        processor=processor,
        relay=relay,
        consumer=consumer,
        integration=integration,
        locks=locks,
        offset_commits=offset_commits,
        consumer_lag=ConsumerLag(
            lambda: [getattr(sub, "consumer", None) for sub in broker.subscribers],
            {
                settings.topics.commands: commands_group,
                settings.topics.integration_events: integration_group,
            },
        ),
        embedded_kafka=(
            EmbeddedKafka(settings.embedded_kafka_port) if settings.embedded_broker else None
        ),
        data_directory=(_data_directory(settings, store) if own_store and role == "all" else None),
    )


def _broker(settings: Settings) -> KafkaBroker:
    # Log context of each consumed message, FastStream's Kafka metrics.
    telemetry = KafkaPrometheusMiddleware(registry=REGISTRY, app_name="crm")
    return KafkaBroker(
        settings.kafka_servers,
        middlewares=[MessageLogContext, telemetry],
        # Our handlers take nothing injected (they read the record from the context):
        # FastDepends' per-message resolution would be pure cost (with the undecoded
        # bodies of `handlers.subscribers`, about 30 µs a command).
        apply_types=False,
        description="CRM worker: commands in, change events out.",
        graceful_timeout=settings.shutdown_timeout_s,
        logger=logging.getLogger("crm.kafka"),
        log_level=logging.DEBUG,  # per-message lines; our own log lines say what matters
    )


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
    """Proves the facade's commands `http` to the worker (schemas/command_origin.py). None
    without a secret (its roles refuse to start then, outside the embedded mode)."""
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

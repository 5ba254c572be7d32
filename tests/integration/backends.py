"""The test backends that run the production Kafka path over TCP:

- `wire`: a Tansu broker (the embedded mode's Kafka, crm/embedded_kafka.py) started once
  for the session, and the in-memory store; runs everywhere;
- `containers`: real Kafka (KRaft) and MongoDB through testcontainers, or the servers named
  by `CRM_TEST_KAFKA_URL` / `CRM_TEST_MONGO_URL`.

Every test gets its own topics (single-partition unless it asks for more, so a topic has one
order), its own consumer group(s) and its own database. `KafkaProbe` is the test's view of
those topics: it records every message, and it tells when the worker has consumed (and
committed) everything published so far.
"""

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient, MongoClient

from crm.bootstrap import Role, bootstrap
from crm.embedded_kafka import broker_binary, die_with_parent, free_port, tansu_command
from crm.kafka_tuning import group_ids
from crm.runtime import Runtime
from crm.settings import Settings
from schemas.base import iso_now
from storage.database import Store, open_store
from storage.journal import APPLIED, JOURNAL
from tests.helpers import TEST_SECRET

KAFKA_IMAGE = os.environ.get("CRM_TEST_KAFKA_IMAGE", "confluentinc/cp-kafka:7.6.0")
MONGO_IMAGE = os.environ.get("CRM_TEST_MONGO_IMAGE", "mongo:8.0")
DEFAULT_SOCKET = "unix:///var/run/docker.sock"
WAIT_S = 30.0  # the deadline of every "wait until" of the container backend
POLL_S = 0.02


@dataclass(frozen=True)
class Services:
    kafka_url: str
    mongo_url: str | None  # None: the in-memory store
    kafka_flavour: str = "kafka"


def external_services() -> Services | None:
    """Servers someone already runs, named by CRM_TEST_KAFKA_URL and CRM_TEST_MONGO_URL."""
    kafka, mongo = os.environ.get("CRM_TEST_KAFKA_URL"), os.environ.get("CRM_TEST_MONGO_URL")
    if kafka and mongo:
        return Services(kafka, mongo)
    return None


@contextlib.contextmanager
def running_tansu() -> Iterator[Services]:
    """A Tansu broker on a free loopback port for the session (the `wire` backend)."""
    port = free_port()
    process = subprocess.Popen(
        tansu_command(broker_binary(), "127.0.0.1", port),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent,  # a killed test run leaves no broker behind
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, "the Tansu broker exited at start"
                assert time.monotonic() < deadline, "the Tansu broker did not listen"
                time.sleep(0.02)
        yield Services(f"127.0.0.1:{port}", None, kafka_flavour="tansu")
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def docker_unavailable_reason() -> str | None:
    """None when a Docker engine answers or external servers are named; otherwise the one
    skip reason of the session."""
    if external_services() is not None:
        return None
    try:
        from testcontainers.core.docker_client import DockerClient, get_docker_host

        where = get_docker_host() or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET
        DockerClient(timeout=5).client.ping()
    except Exception:
        where = os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET
        return f"no Docker engine answered at {where}: container backend tests skipped"
    return None


@contextlib.contextmanager
def running_services() -> Iterator[Services]:
    """Kafka (KRaft, broker-side topic auto-creation off, as in docker-compose.yml) and
    MongoDB for the session, or the external servers when they are named."""
    external = external_services()
    if external is not None:
        yield external
        return
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.mongodb import MongoDbContainer

    kafka = (
        KafkaContainer(KAFKA_IMAGE)
        .with_kraft()
        .with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
        .with_env("KAFKA_NUM_PARTITIONS", "1")
    )
    mongo = MongoDbContainer(MONGO_IMAGE)
    started: list[Any] = []
    try:
        kafka.start(timeout=180)
        started.append(kafka)
        mongo.start()
        started.append(mongo)
        services = Services(kafka.get_bootstrap_server(), mongo.get_connection_url())
        _wait_for_mongo(services.mongo_url)
        yield services
    finally:
        for container in reversed(started):
            with contextlib.suppress(Exception):
                container.stop()


def _wait_for_mongo(url: str) -> None:
    """The image restarts mongod once after its init scripts: wait for the final one."""
    deadline = time.monotonic() + 60
    while True:
        client: MongoClient[dict[str, Any]] = MongoClient(url, serverSelectionTimeoutMS=1000)
        try:
            client.admin.command("ping")
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
        finally:
            client.close()


def isolated_settings(services: Services, **overrides: Any) -> Settings:
    """A database, topics and a consumer group nobody else uses."""
    suffix = uuid.uuid4().hex[:12]
    values: dict[str, Any] = {
        "kafka_url": services.kafka_url,
        "kafka_flavour": services.kafka_flavour,
        "mongo_url": services.mongo_url,
        "data_dir": None,  # the in-memory store stays in memory: no test writes to the checkout
        "mongo_db": f"crm_test_{suffix}",
        "jwt_secret": TEST_SECRET,
        "reply_timeout_s": 20.0,
        "retry_backoff_s": 0.0,
        "relay_interval_s": 0.05,
        "consumer_group": f"crm-test-{suffix}",
        "topic_commands": f"t{suffix}.crm.commands",
        "topic_integration_events": f"t{suffix}.crm.integration.events",
        "topic_customer_events": f"t{suffix}.crm.customer-events",
        "topic_commands_dlq": f"t{suffix}.crm.commands.dlq",
        "startup_attempts": 5,
        "startup_backoff_s": 0.5,
        "worker_http_port": 0,
    }
    values.update(overrides)
    return Settings(**values)


def all_topics(settings: Settings) -> list[str]:
    topics = settings.topics
    return [topics.commands, topics.integration_events, topics.customer_events, topics.commands_dlq]


@dataclass
class KafkaProbe:
    """Records the test's topics and watches the worker group's committed offsets."""

    kafka_url: str
    groups: dict[str, str]  # input topic -> the worker's consumer group for it
    partitions: dict[str, int]
    _log: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _next: dict[TopicPartition, int] = field(default_factory=dict)
    _admin: AIOKafkaAdminClient | None = None
    _consumer: AIOKafkaConsumer | None = None
    # Reads a group's committed offsets. The admin client's list_consumer_group_offsets
    # cannot decode Tansu's answer; a consumer of the group (never subscribed, so it never
    # joins) asks with OffsetFetch, which works on both brokers.
    _offsets: dict[str, AIOKafkaConsumer] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None

    @property
    def topic_partitions(self) -> list[TopicPartition]:
        return [TopicPartition(t, p) for t, n in self.partitions.items() for p in range(n)]

    async def start(self) -> None:
        self._admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka_url)
        await self._admin.start()
        created = await self._admin.create_topics(
            [NewTopic(topic, n, 1) for topic, n in self.partitions.items()]
        )
        for error in created.to_object()["topic_errors"]:
            assert error["error_code"] in (0, 36), f"cannot create topic: {error}"  # 36: exists
        await self._until(self._topics_visible, "the test topics to exist")
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.kafka_url,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await self._consumer.start()
        self._consumer.assign(self.topic_partitions)
        await self._consumer.seek_to_beginning(*self.topic_partitions)
        self._task = asyncio.create_task(self._record(), name="kafka-probe")
        for group in set(self.groups.values()):
            offsets = AIOKafkaConsumer(
                bootstrap_servers=self.kafka_url, group_id=group, enable_auto_commit=False
            )
            await offsets.start()
            self._offsets[group] = offsets

    async def stop(self, *, delete_topics: bool = True) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
        for offsets in self._offsets.values():
            await offsets.stop()
        if self._admin is not None:
            if delete_topics:
                with contextlib.suppress(Exception):
                    await self._admin.delete_topics(list(self.partitions))
            await self._admin.close()

    async def _topics_visible(self) -> bool:
        assert self._admin is not None
        return set(self.partitions) <= set(await self._admin.list_topics())

    async def _record(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=20)
            for tp, records in batches.items():
                log = self._log.setdefault(tp.topic, [])
                for record in records:
                    log.append(
                        {
                            "offset": record.offset,
                            "partition": record.partition,
                            "key": record.key.decode(errors="replace") if record.key else None,
                            "headers": {k: v.decode(errors="replace") for k, v in record.headers},
                            "value": readable(record.value),
                            "timestamp": iso_now(),
                        }
                    )
                    self._next[tp] = record.offset + 1

    def messages(self, topic: str) -> list[dict[str, Any]]:
        return list(self._log.get(topic, []))

    async def _end_offsets(self, topics: list[str]) -> dict[TopicPartition, int]:
        assert self._consumer is not None
        wanted = [tp for tp in self.topic_partitions if tp.topic in topics]
        return dict(await self._consumer.end_offsets(wanted))

    async def caught_up(self, topics: list[str]) -> None:
        """Until every message on these topics, published so far, is in the record."""
        ends = await self._end_offsets(topics)

        async def done() -> bool:
            return all(self._next.get(tp, 0) >= end for tp, end in ends.items())

        await self._until(done, f"the recorder to read {topics}")

    async def processed(self, topics: list[str]) -> None:
        """Until the worker group has committed past every message on these topics.

        Committed offsets are read before end offsets: whatever a processed message
        published (its commit comes after) is then already in the end offsets."""
        wanted = [tp for tp in self.topic_partitions if tp.topic in topics]

        async def done() -> bool:
            committed = {
                tp: await self._offsets[self.groups[tp.topic]].committed(tp) for tp in wanted
            }
            ends = await self._end_offsets(topics)
            return all((committed[tp] or 0) >= end for tp, end in ends.items())

        await self._until(done, f"the worker's groups to process {topics}")

    @staticmethod
    async def _until(condition: Any, what: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while not await condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {WAIT_S}s waiting for {what}")
            await asyncio.sleep(POLL_S)


async def consuming(*runtimes: Runtime) -> None:
    """Until the group's consumers own every partition of their topics and know their
    positions (no message published from now on can be skipped by `latest`)."""
    consumers = [
        subscriber.consumer for rt in runtimes for subscriber in rt.parts.broker.subscribers
    ]
    if not consumers:
        return
    deadline = time.monotonic() + WAIT_S * 2
    while True:
        if await _all_positions_known(consumers):
            return
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the worker group's partition assignment")
        await asyncio.sleep(0.05)


async def _all_positions_known(consumers: list[Any]) -> bool:
    owned: list[TopicPartition] = []
    expected: set[TopicPartition] = set()
    for consumer in consumers:
        if consumer is None:
            return False
        for topic in consumer.subscription():
            partitions = consumer.partitions_for_topic(topic) or set()
            expected |= {TopicPartition(topic, p) for p in partitions}
        owned += list(consumer.assignment())
    if not expected or len(owned) != len(expected) or set(owned) != expected:
        return False
    try:
        for consumer in consumers:
            for tp in consumer.assignment():
                await asyncio.wait_for(consumer.position(tp), 1.0)
    except Exception:
        return False
    return True


async def drop_database(services: Services, name: str) -> None:
    if services.mongo_url is None:
        return
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(services.mongo_url)
    try:
        await client.drop_database(name)
    finally:
        await client.close()


async def all_relayed(runtime: Runtime) -> None:
    """Until the outbox relay has published every applied command's events."""
    journal = runtime.parts.store.db[JOURNAL]

    async def done() -> bool:
        pending = {"published": False, "state": APPLIED}
        return await journal.count_documents(pending) == 0

    await KafkaProbe._until(done, "the outbox relay to publish every event")


def shared_store(settings: Settings) -> Store | None:
    """Runtimes of one deployment share a database: on the in-memory store that is one
    store object (on MongoDB each opens its own client to the same database)."""
    return open_store(None, settings.mongo_db) if settings.embedded_store else None


def readable(body: Any) -> Any:
    """JSON values as JSON; other bytes as text, as a consumer would print them."""
    if isinstance(body, bytes | bytearray):
        text = bytes(body).decode(errors="replace")
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return body


@contextlib.asynccontextmanager
async def deployment(
    services: Services,
    roles: tuple[Role, ...] = ("all",),
    *,
    partitions: int = 1,
    **overrides: Any,
) -> AsyncIterator[tuple[list[Runtime], KafkaProbe]]:
    """Runtimes of these roles on one isolated database, topic set and consumer group,
    started and consuming; torn down (database and topics dropped) afterwards."""
    settings = isolated_settings(services, **overrides)
    commands_group, integration_group = group_ids(settings)
    probe = KafkaProbe(
        services.kafka_url,
        {
            settings.topics.commands: commands_group,
            settings.topics.integration_events: integration_group,
        },
        {topic: partitions for topic in all_topics(settings)},
    )
    await probe.start()
    runtimes: list[Runtime] = []
    store = shared_store(settings)
    try:
        for role in roles:
            runtime = Runtime(bootstrap(settings, role=role, store=store))
            runtimes.append(runtime)
            await runtime.start()
        await consuming(*runtimes)
        yield runtimes, probe
    finally:
        for runtime in runtimes:
            with contextlib.suppress(Exception):
                await runtime.stop()
        await probe.stop()
        await drop_database(services, settings.mongo_db)


async def topic_values(kafka_servers: list[str], topic: str) -> list[Any]:
    """Every value on a topic now, oldest first per partition, read as an outside consumer
    (no group) reads it."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_servers, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        await consumer.topics()  # loads the cluster's metadata
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        values: list[Any] = []
        for tp, end in ends.items():
            while await consumer.position(tp) < end:
                batch = await consumer.getmany(tp, timeout_ms=200)
                values += [readable(record.value) for record in batch.get(tp, [])]
        return values
    finally:
        await consumer.stop()


async def die_abruptly(runtime: Runtime) -> None:
    """The runtime's process is killed (SIGKILL, OOM, a lost node): its handlers stop where
    they are, nothing more is committed, its consumers never leave their groups (the broker
    drops them after the session timeout) and its relay keeps the lease until it expires.

    aiokafka has no public way to die: `AIOKafkaConsumer.stop()` sends LeaveGroup (and
    commits, with auto-commit on). So the consumers' background tasks (group coordination,
    heartbeats, fetches) are cancelled and their sockets closed here through aiokafka's
    private attributes; a test-only reach into its internals, for want of a public one."""
    relay = runtime._relay_task
    runtime._relay_task = None  # dead: no final relay pass, no lease release on stop()
    if relay is not None:
        relay.cancel()
        await asyncio.gather(relay, return_exceptions=True)
    for subscriber in runtime.parts.broker.subscribers:
        subscriber.running = False
        handling = list(subscriber.tasks)  # FastStream's consume loops, in-flight handler in
        for task in handling:
            task.cancel()
        await asyncio.gather(*handling, return_exceptions=True)
        consumer = subscriber.consumer
        if consumer is None:
            continue
        coordinator = consumer._coordinator
        background = [
            task
            for task in (
                coordinator._coordination_task,
                coordinator._heartbeat_task,
                coordinator._commit_refresh_task,
                consumer._fetcher._fetch_task,
            )
            if task is not None
        ]
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await consumer._client.close()  # its sockets: no LeaveGroup, no commit went out

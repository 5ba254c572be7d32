"""Starts and stops one process's parts (built by `crm.bootstrap.bootstrap`): the order of
start-up (data directory, store, embedded broker, Kafka, relay) and of a graceful stop, and
what `/ready` reports."""

import asyncio
import contextlib
import logging
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from crm.bootstrap import Parts
from crm.settings import redacted_url
from crm.startup import NotUsable, StartupError, with_retries
from storage.embedded import DataDirectory, DataDirectoryError
from storage.indexes import ensure_indexes

RELAY_STOP_TIMEOUT_S = 10.0
READINESS_TIMEOUT_S = 2.0
log = logging.getLogger("crm")


class Runtime:
    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        self._snapshot_task: asyncio.Task[None] | None = None
        self._lag_task: asyncio.Task[None] | None = None
        self._relay_task: asyncio.Task[None] | None = None
        self._started = False
        self._accepting = False  # started and not stopping: what readiness reports
        self._stopped = False

    @property
    def started(self) -> bool:
        return self._started

    async def start(self) -> None:
        """Connect the store and the broker (bounded retries), then consume and relay.

        Raises `crm.startup.StartupError` when a dependency stays unreachable.
        """
        if self._started:
            return
        settings = self.parts.settings
        retry: dict[str, Any] = {
            "attempts": settings.startup_attempts,
            "backoff_s": settings.startup_backoff_s,
            "max_backoff_s": settings.startup_backoff_max_s,
        }
        store_at = "memory" if self.parts.store.embedded else redacted_url(settings.mongo_url)
        if self.parts.data_directory is not None:
            await self._load_data_directory(self.parts.data_directory)
            store_at = f"memory, kept in {self.parts.data_directory.directory}"
        await with_retries(self._prepare_store, what="MongoDB", where=store_at, **retry)
        if self.parts.embedded_kafka is not None:
            await self.parts.embedded_kafka.start()
            await self.parts.embedded_kafka.create_topics(
                self.parts.required_topics(), settings.kafka_partitions
            )
        await with_retries(
            self._start_broker,
            what="Kafka",
            where=",".join(settings.kafka_servers),
            cleanup=self._stop_broker_quietly,
            **retry,
        )
        if self.parts.runs_worker:
            self._relay_task = asyncio.create_task(self.parts.relay.run(), name="outbox-relay")
            if settings.consumer_lag_interval_s:
                self._lag_task = asyncio.create_task(
                    self.parts.consumer_lag.run(settings.consumer_lag_interval_s),
                    name="consumer-lag",
                )
        if self.parts.data_directory is not None:
            self._snapshot_task = asyncio.create_task(
                self.parts.data_directory.keep_saving(settings.data_snapshot_s),
                name="store-snapshots",
            )
        self._started = True
        self._accepting = True
        log.info(
            "%s started: store %s, Kafka %s%s",
            self.parts.role,
            store_at,
            ",".join(settings.kafka_servers),
            " (embedded Tansu broker)" if self.parts.embedded_kafka is not None else "",
        )

    async def _load_data_directory(self, directory: DataDirectory) -> None:
        """Before the indexes are ensured: they are checked against the loaded ones."""
        try:
            await directory.open()
        except (DataDirectoryError, OSError) as exc:
            raise StartupError(f"cannot use the data directory (CRM_DATA_DIR): {exc}") from exc

    async def _prepare_store(self) -> None:
        if not self.parts.store.embedded:
            await self.parts.store.db.command("ping")
        # No TTL index in the embedded store: its relay prunes (`storage.retention`).
        retention_s = 0 if self.parts.store.embedded else self.parts.settings.retention_s
        await ensure_indexes(self.parts.store.db, retention_s=retention_s)

    async def _start_broker(self) -> None:
        # A throw-away admin client first: it tells "unreachable" and "topics missing" apart
        # and, unlike a failed broker start, leaves no half-started producer behind.
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.parts.settings.kafka_servers, client_id="crm-startup"
        )
        try:
            await admin.start()
            existing = set(await admin.list_topics())
        finally:
            await admin.close()
        missing = [topic for topic in self.parts.required_topics() if topic not in existing]
        if missing:
            raise NotUsable(
                f"topic(s) {', '.join(missing)} do not exist; create them first "
                "(docker compose does it with its kafka-topics service; see README)"
            )
        await self.parts.broker.connect()
        # The subscribers join their groups side by side, not one after another as
        # `broker.start()` would: each join waits for the group to settle (Apache Kafka's
        # group.initial.rebalance.delay.ms, 3 s by default; ~1 s on Tansu), so the worker is
        # consuming in one wait instead of two. (`subscriber.start()` is FastStream's public
        # call for subscribers started on their own; we register no publishers to start.)
        await asyncio.gather(*(subscriber.start() for subscriber in self.parts.broker.subscribers))

    async def _stop_broker_quietly(self) -> None:
        with contextlib.suppress(Exception):
            await self.parts.broker.stop()

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
        if self.parts.runs_worker and self._started:
            await self._stop_consuming()
        await self._stop_relay()
        await self._stop_broker_quietly()
        if self.parts.embedded_kafka is not None:
            await self.parts.embedded_kafka.stop()
        await self._save_data_directory()
        await self.parts.store.close()
        log.info("%s stopped", self.parts.role)

    async def _save_data_directory(self) -> None:
        """The last snapshot, once nothing writes any more (after the final relay pass)."""
        if self.parts.data_directory is None:
            return
        if self._snapshot_task is not None:
            self.parts.data_directory.stop_saving()
            await self._snapshot_task  # a save under way finishes: one writer at a time
        try:
            if await self.parts.data_directory.save():
                log.info("store saved to %s", self.parts.data_directory.path)
        except Exception:
            log.exception("could not save the store to %s", self.parts.data_directory.path)
        finally:
            self.parts.data_directory.close()

    async def _stop_consuming(self) -> None:
        """Stop the subscribers: what finished is committed, FastStream waits (graceful
        timeout) for in-flight messages, which commit as they finish (handlers/
        offset_commits.py); then the consumers leave the group."""
        await asyncio.gather(*(commits.stop() for commits in self.parts.offset_commits))
        results = await asyncio.gather(
            *(subscriber.stop() for subscriber in self.parts.broker.subscribers),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, Exception):
                log.warning("a subscriber did not stop cleanly: %r", result)

    async def _stop_relay(self) -> None:
        if self._relay_task is None:
            return
        self.parts.relay.stop()
        try:
            await asyncio.wait_for(asyncio.shield(self._relay_task), RELAY_STOP_TIMEOUT_S)
        except TimeoutError:
            self._relay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._relay_task
        # One last pass: the events of the commands that finished while stopping.
        try:
            await asyncio.wait_for(self.parts.relay.run_once(), RELAY_STOP_TIMEOUT_S)
            await self.parts.relay.release()  # another worker's relay takes over at once
        except Exception as exc:  # they stay in the outbox for the next relay
            log.warning("final relay pass failed; events stay in the outbox: %r", exc)

    async def broker_ready(self) -> bool:
        return await self.parts.broker.ping(timeout=READINESS_TIMEOUT_S)

    async def store_ready(self) -> bool:
        try:
            return await asyncio.wait_for(self.parts.store.ping(), READINESS_TIMEOUT_S)
        except TimeoutError:
            return False

    async def readiness(self) -> dict[str, bool]:
        """`/ready`: started and not stopping, and both the broker and the store answer."""
        broker, store = await asyncio.gather(self.broker_ready(), self.store_ready())
        return {"started": self._accepting, "broker": broker, "store": store}

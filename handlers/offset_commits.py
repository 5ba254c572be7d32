"""Offset commits gathered in the background instead of one OffsetCommit per message.

A subscriber reports each message it finished (processed, or dead-lettered: the outcome is
durable either way) with `finished`; a background task commits, per partition, the offset
after the highest finished message, at most every `interval_s`. Messages are consumed one
at a time in offset order (a partition's record that is left for redelivery is sought
back, so nothing after it finishes before it does), so the highest finished offset of a
partition is also the highest contiguous one: a commit never passes a message that did
not finish. A crash loses at most the last `interval_s` of commits: those messages are
delivered again and the journal's idempotency answers them (docs/architecture.md,
"Acknowledgements").

What finished is committed before the partitions go: on a rebalance (the subscriber's
`on_partitions_revoked`) and on a graceful stop (`stop`, before the subscriber stops:
from then on each finished message is committed before its handler returns, so
FastStream's graceful stop, which waits for the handlers, commits what is in flight too).

Why (`make bench`, `crm run` under 16 connections of writes; docs/performance.md): the
commit after every message was ~7.5% of the service's CPU (py-spy), each one an
OffsetCommit request the broker stores too, and the consumer waited for its answer before
taking the next message.
"""

import asyncio
import contextlib
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import ConsumerStoppedError, KafkaError

log = logging.getLogger("crm.worker")

COMMIT_INTERVAL_S = 0.1  # at most this long between a message finishing and its commit


class OffsetCommits(ConsumerRebalanceListener):
    """One subscriber's commits (also its rebalance listener: `listener=` of the subscriber)."""

    def __init__(self, interval_s: float = COMMIT_INTERVAL_S) -> None:
        self._interval_s = interval_s
        # per consumer (a restarted subscriber has a new one): partition -> offset to commit
        self._pending: dict[AIOKafkaConsumer, dict[TopicPartition, int]] = {}
        self._lock = asyncio.Lock()  # one commit at a time: a later one is never overtaken
        self._task: asyncio.Task[None] | None = None
        self._inline = False  # stopping: commit before the handler returns

    async def finished(
        self, consumer: AIOKafkaConsumer, topic: str, partition: int, offset: int
    ) -> None:
        """The message at `offset` is done with: commit past it (soon, or now when stopping)."""
        self._pending.setdefault(consumer, {})[TopicPartition(topic, partition)] = offset + 1
        if self._inline:
            await self.flush()
        elif self._task is None:
            self._task = asyncio.create_task(self._commit_later(), name="offset-commits")

    async def _commit_later(self) -> None:
        try:
            await asyncio.sleep(self._interval_s)
        finally:
            self._task = None  # what finishes from now on is committed by the next task
        try:
            await self.flush()
        except Exception:  # nobody awaits this task: say it here
            log.exception("offset commit failed, those messages will be delivered again")

    async def flush(self) -> None:
        """Commit everything finished so far (what cannot be committed is logged and left:
        those messages are delivered again)."""
        async with self._lock:
            pending, self._pending = self._pending, {}
            for consumer, offsets in pending.items():
                await _commit(consumer, offsets)

    async def stop(self) -> None:
        """Before the subscriber stops: commit what finished, and from now on commit each
        message as it finishes."""
        self._inline = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.flush()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        pass


async def _commit(consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
    # A partition this consumer no longer owns is another member's now: its messages
    # since the last commit are delivered there again.
    owned = consumer.assignment()
    offsets = {tp: offset for tp, offset in offsets.items() if tp in owned}
    if not offsets:
        return
    try:
        await consumer.commit(offsets)
    except (KafkaError, ConsumerStoppedError) as exc:  # a rebalance, the broker gone, stopped
        log.warning("offset commit failed, those messages will be delivered again: %r", exc)

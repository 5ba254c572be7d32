"""The outbox relay: publishes committed change events from the journal, in order.

Events are marked published only after the broker accepted them, so a relay that dies
mid-batch publishes that batch again (same event ids: duplicates, never loss).

In order means in each customer's `sequence` order, whatever the order the entries were
finished in or the clocks of the workers that decided them: an entry still unfinished
(committed, not yet applied) holds back the later events of its customers until it is
finished, failed or applied by a redelivery (`ready_entries`).
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from handlers.outbox import (
    PUBLISHING_FIELDS,
    EventPii,
    OutboxRecord,
    each_record,
    event_key,
    wire_event,
)
from storage.database import Document
from storage.journal import APPLIED, CommandJournal
from storage.leases import Lease
from storage.retention import EmbeddedTtlMonitor

log = logging.getLogger("crm.relay")

PublishEvent = Callable[[dict[str, Any], bytes], Awaitable[None]]


class OutboxRelay:
    def __init__(
        self,
        journal: CommandJournal,
        publish: PublishEvent,
        *,
        batch: int = 100,
        interval_s: float = 0.2,
        linger_s: float = 0.0,
        lease: Lease | None = None,
        retention: EmbeddedTtlMonitor | None = None,
        pii: EventPii = EventPii.MASKED,
    ) -> None:
        self._journal = journal
        self._pii = pii  # CRM_EVENT_PII
        self._publish = publish
        self._lease = lease  # with several workers: only the holder publishes
        self._retention = retention  # embedded store: pruned between passes, by the lease holder
        self._batch = batch
        self._interval_s = interval_s
        self._linger_s = linger_s  # after a kick: let more commits join the batch
        self._wake = asyncio.Event()
        self._stopping = False

    def kick(self) -> None:
        """Something was committed: publish soon rather than at the next tick."""
        self._wake.set()

    async def run_once(self) -> int:
        """Publish everything pending; returns how many events went out (0 without the
        lease: another worker's relay is publishing)."""
        sent = 0
        while await self._holds_lease():
            entries = await self._journal.unpublished(self._batch, PUBLISHING_FIELDS)
            ready = ready_entries(entries)
            # Each customer's events (one key: one partition) go out one after another,
            # the next once the broker took the previous; different customers' at once.
            in_order: dict[bytes, list[dict[str, Any]]] = {}
            for entry in ready:
                for key, _, record in entry.records:
                    event = wire_event(entry.doc, record, self._pii)
                    in_order.setdefault(key, []).append(event)
            for events in in_order.values():
                events.sort(key=lambda event: int(event["sequence"]))
            sent += await self._publish_all(in_order)
            if ready:
                await self._journal.mark_published([entry.doc["_id"] for entry in ready])
            if len(entries) < self._batch or not ready:
                # a short batch: nothing more was pending when it was read; none ready:
                # the rest waits for unfinished entries (the next pass, or a kick)
                break
        return sent

    async def _publish_all(self, in_order: dict[bytes, list[dict[str, Any]]]) -> int:
        """Publish every key's events in order, the keys side by side; raises the first
        failure once every key stopped (at its first failure, so that no event of a
        customer goes out before an earlier one did: docs/architecture.md, "Change events").

        Why side by side: awaited one by one, each event was a produce request of its
        own (its answer awaited before the next was sent); published together, the
        producer sends a pass's events in one request. `make bench` (16 connections of
        creates, each event another customer's): docs/performance.md."""
        if len(in_order) == 1:
            [(key, events)] = in_order.items()
            return await self._publish_in_order(key, events)
        results = await asyncio.gather(
            *(self._publish_in_order(key, events) for key, events in in_order.items()),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return sum(result for result in results if isinstance(result, int))

    async def _publish_in_order(self, key: bytes, events: list[dict[str, Any]]) -> int:
        for event in events:
            await self._publish(event, key)
        return len(events)

    async def housekeep(self) -> int:
        """Embedded store: delete what the TTL indexes say has expired, when due; how
        many documents went. (MongoDB's TTL monitor does it on a real store.)"""
        if self._retention is None or not self._retention.due():
            return 0
        if not await self._holds_lease():
            return 0
        return await self._retention.prune()

    async def _holds_lease(self) -> bool:
        """Renewed before every batch, so a long backlog keeps it."""
        return self._lease is None or await self._lease.acquire()

    async def release(self) -> None:
        """Let another worker's relay take over at once."""
        if self._lease is not None:
            await self._lease.release()

    def stop(self) -> None:
        """Finish the current pass, then leave `run` (graceful shutdown)."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Publish until stopped; a failure is logged and retried on the next tick."""
        while not self._stopping:
            if self._wake.is_set() and self._linger_s:
                await asyncio.sleep(self._linger_s)
            self._wake.clear()  # before the pass: a kick during it means another pass
            try:
                await self.run_once()
                await self.housekeep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("relay pass failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval_s)


@dataclass(frozen=True)
class KeyedEntry:
    """A journal entry and its records one event each, with each one's key and sequence."""

    doc: Document
    records: list[tuple[bytes, int, OutboxRecord]]

    @classmethod
    def of(cls, doc: Document) -> "KeyedEntry":
        records = each_record(doc)
        keyed = [(event_key(doc, r), int(r.get("sequence", 0)), r) for r in records]
        return cls(doc, keyed)


def ready_entries(entries: list[Document]) -> list[KeyedEntry]:
    """The applied entries none of whose events follows, for its customer, an event of an
    entry still unfinished (state `decided`) or held back itself: those wait.

    Why: a customer's counter moves past an entry's numbers only once it is finished
    (`storage.journal`, sequence claims), but a customer a command creates is born with
    its counter at 1 before that command is finished; another worker may then decide,
    apply and finish the customer's sequence 2 first. Holding it back keeps the order."""
    held_from: dict[bytes, int] = {}  # each key's first sequence that must wait
    keyed = [KeyedEntry.of(doc) for doc in entries]
    waiting: set[int] = set()
    for position, entry in enumerate(keyed):
        if entry.doc.get("state") != APPLIED:
            waiting.add(position)
            _hold(held_from, entry)
    moved = True
    while moved:  # an entry held back holds back what follows it on each of its keys too
        moved = False
        for position, entry in enumerate(keyed):
            if position not in waiting and any(
                sequence >= held_from.get(key, sequence + 1) for key, sequence, _ in entry.records
            ):
                waiting.add(position)
                _hold(held_from, entry)
                moved = True
    return [entry for position, entry in enumerate(keyed) if position not in waiting]


def _hold(held_from: dict[bytes, int], entry: KeyedEntry) -> None:
    for key, sequence, _ in entry.records:
        held_from[key] = min(held_from.get(key, sequence), sequence)

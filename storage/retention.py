"""Retention of finished commands' records by MongoDB TTL indexes.

A journal entry gets `prunableSince` (a date) when it has nothing left to publish (its
events relayed, or none to publish: a rejection, a failure); a 202 record
(`storage.submissions`) gets it when it is made. A TTL index on that field in each of
the two collections (`expireAfterSeconds` = `CRM_JOURNAL_RETENTION_DAYS`) has MongoDB
delete them that long after. An entry still to publish has no such field, so it is never
deleted. A retention of 0 keeps everything (no TTL index).

The embedded store gets no TTL index (mongomock would apply one by scanning the whole
collection on every read): `EmbeddedTtlMonitor` deletes by the same field and retention,
once a minute as MongoDB's TTL monitor does.
"""

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from pymongo import IndexModel

from storage.database import Database
from storage.journal import JOURNAL
from storage.pruning import PRUNABLE_SINCE, TTL_INDEX, ttl_index
from storage.submissions import SUBMISSIONS

log = logging.getLogger("crm.retention")

DAY_S = 86_400.0
RETAINED = (JOURNAL, SUBMISSIONS)
# The scans of the hand-written retention this replaced; dropped at start-up.
RETIRED = {JOURNAL: "journal_published_age", SUBMISSIONS: "submission_age"}
TTL_MONITOR_EVERY_S = 60.0  # MongoDB's TTL monitor wakes up once a minute


def ttl_indexes(retention_s: float) -> dict[str, IndexModel]:
    """Collection name → its TTL index (none for a retention of 0)."""
    return {collection: ttl_index(retention_s) for collection in RETAINED} if retention_s else {}


async def retire_old_scans(db: Database) -> None:
    """Once, on the first start after the TTL indexes came: the entries published under
    the old release get `prunableSince` (now: they go a retention from the upgrade, never
    earlier), then the old scan's index is dropped (which says it was done)."""
    for collection, name in RETIRED.items():
        if name not in await db[collection].index_information():
            continue
        unmarked: dict[str, object] = {PRUNABLE_SINCE: {"$exists": False}}
        if collection == JOURNAL:
            unmarked["published"] = True
        await db[collection].update_many(unmarked, {"$set": {PRUNABLE_SINCE: datetime.now(UTC)}})
        await db[collection].drop_index(name)
        log.info("%s: retention now by TTL index %s; index %s dropped", collection, TTL_INDEX, name)


async def drop_ttl_indexes(db: Database) -> None:
    """Retention 0: whatever TTL index an earlier configuration made goes."""
    for collection in RETAINED:
        if TTL_INDEX in await db[collection].index_information():
            await db[collection].drop_index(TTL_INDEX)


class EmbeddedTtlMonitor:
    """What MongoDB's TTL monitor does, for the in-memory store (run by the outbox relay
    between passes: `due()`, then `prune()`). The embedded store gets no TTL index:
    mongomock would honour one by scanning the whole collection on every read."""

    def __init__(
        self,
        db: Database,
        retention_s: float,
        *,
        every_s: float = TTL_MONITOR_EVERY_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`retention_s` of 0 keeps everything."""
        self._db = db
        self._retention_s = retention_s
        self._every_s = every_s
        self._clock = clock
        self._due_at = 0.0  # the first pass after start looks at once

    def due(self) -> bool:
        return self._retention_s > 0 and self._clock() >= self._due_at

    async def prune(self) -> int:
        """Delete every journal entry and 202 record prunable for longer than the
        retention; how many went."""
        now = self._clock()
        self._due_at = now + self._every_s
        cutoff = datetime.fromtimestamp(now - self._retention_s, UTC)
        deleted = 0
        for collection in RETAINED:
            result = await self._db[collection].delete_many({PRUNABLE_SINCE: {"$lt": cutoff}})
            deleted += result.deleted_count
        if deleted:
            log.info("deleted %d expired journal entries and 202 records", deleted)
        return deleted

"""Journal retention: published journal entries older than the retention are deleted.

Without it the journal grows by one entry per command for ever. But an entry is also its
command's idempotency record: once it is gone, a redelivery of that command would be
decided again, and `GET /api/v1/crm/commands/{id}` answers 404. So the retention must be
longer than anything can still be delivered or retried: the commands topic's retention
(Kafka's default is 7 days) and how long HTTP clients retry an `X-Request-ID`. An entry
whose events are not all published is never deleted. The records of commands the facade
answered 202 for (`storage.submissions`) go after the same time.

The outbox relay runs it between passes, under its lease (one worker prunes at a time),
in bounded batches so that a large backlog never holds up publishing for long.
"""

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from schemas.base import iso
from storage.journal import CommandJournal
from storage.submissions import CommandSubmissions

log = logging.getLogger("crm.retention")

DAY_S = 86_400.0
PRUNE_EVERY_S = 3_600.0  # once nothing is left to prune, look again an hour later
PRUNE_BATCH = 1_000  # entries deleted per relay pass at most


class JournalRetention:
    def __init__(
        self,
        journal: CommandJournal,
        submissions: CommandSubmissions,
        retention_s: float,
        *,
        every_s: float = PRUNE_EVERY_S,
        batch: int = PRUNE_BATCH,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`retention_s` of 0 keeps every entry."""
        self._journal = journal
        self._submissions = submissions
        self._retention_s = retention_s
        self._every_s = every_s
        self._batch = batch
        self._clock = clock
        self._due_at = 0.0  # the first pass after start looks at once

    def due(self) -> bool:
        return self._retention_s > 0 and self._clock() >= self._due_at

    async def prune(self) -> int:
        """Delete one batch of expired entries if a prune is due; how many went. After a
        full batch the next pass prunes again; otherwise the next look is `every_s` away."""
        if not self.due():
            return 0
        now = self._clock()
        cutoff = iso(datetime.fromtimestamp(now - self._retention_s, UTC))
        pruned = await self._journal.prune_published(cutoff, self._batch)
        records = await self._submissions.prune(cutoff, self._batch)
        full = max(pruned, records) >= self._batch
        self._due_at = now if full else now + self._every_s
        if pruned or records:
            log.info(
                "pruned %d journal entries and %d 202 records from before %s",
                pruned,
                records,
                cutoff,
            )
        return pruned

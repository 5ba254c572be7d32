"""The command journal: one document per command, the commit point of its decision.

`_id` is the command's key (`schemas.ids.command_key`: `{tenantId}:{commandId}` for a
tenant id without `:`, else a hash of both), so a command id is unique per tenant and a
second commit of the same command fails. Reads check the entry's own `tenantId` and
`commandId` (`storage.keyed`): an entry an older release stored under an ambiguous key is
never taken for another tenant's or command's. The document carries the result, the changes to apply
and the outbox records of the change events to publish (`handlers.outbox`), both kept
until the relay has sent the events (a record may name a change's document as its data):
single-document atomicity is what makes "decided ⇒ eventually applied and published" hold
without multi-document transactions. Once published, an entry keeps only its result and
what identifies it (and its sequence claim), and gets `prunableSince`: the retention's TTL
index deletes it that long after (`storage.retention`).

Sequence claims. An entry whose events are about a customer that existed when it was
decided holds `seqClaim`: `{customerId, after, last}`, its events numbered `after + 1` to
`last` for that customer, `after` being the customer's counter (`_seq`) as the decision
read it. A unique index on (tenant, customer, after) is the sequence's commit point: of
two decisions that read the same counter (two workers, whose in-process locks know nothing
of each other: a command and an integration event about one customer), one commit wins
and the other meets `SequenceTaken` and is decided again. A rejection or a failure
releases its claim (its numbers are never used); the counter moves to `last` only after
the entry is applied and finished, so a decision never follows an entry that is still
unfinished: no sequence is given twice, none is skipped, and events of one customer
become publishable in sequence order (`handlers.pipeline`).
"""

from typing import Any

from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from schemas.ids import command_key, command_keys
from storage.database import Database, Document
from storage.keyed import COMMAND_FIELDS, find_owned, of_command
from storage.pruning import PRUNABLE_SINCE, prunable_now

JOURNAL = "command_journal"
DECIDED = "decided"
APPLIED = "applied"
# Dead-lettered by the worker (undecidable, or its decision could not be applied): terminal.
FAILED = "failed"
# What an entry drops once it has nothing left to publish: it keeps its result.
_PUBLISHED_DROPS = {"changes": "", "events": ""}
_OUTCOME_FIELDS = {"state": 1, "fingerprint": 1, "result": 1, **COMMAND_FIELDS}


# `_id` (the command key) is the unique command id; the relay's scan needs only the rest.
# Partial: only the few documents still to publish are in it, however long the journal.
INDEXES = [
    IndexModel(
        [("published", 1), ("state", 1), ("decidedAt", 1), ("firstSequence", 1)],
        name="journal_unpublished",
        partialFilterExpression={"published": False},
    ),
    # The sequence claims (see above): one decision per customer and counter value.
    IndexModel(
        [("tenantId", 1), ("seqClaim.customerId", 1), ("seqClaim.after", 1)],
        name="journal_sequence_claim",
        unique=True,
        partialFilterExpression={"seqClaim": {"$exists": True}},
    ),
]  # and the retention's TTL index (`storage.retention`)


class SequenceTaken(RuntimeError):
    """Another entry claimed the same sequence numbers of the customer first (a concurrent
    decision that read the same counter): decide again once it is settled."""

    def __init__(self, tenant_id: str, claim: Document) -> None:
        super().__init__(f"sequence {claim['after'] + 1} of customer {claim['customerId']!r}")
        self.tenant_id = tenant_id
        self.claim = claim


class KeyTaken(RuntimeError):
    """The command's key holds another command's entry: one an older release stored under
    an ambiguous key and that was not moved yet (`storage.key_migration` moves them at
    start-up). Never taken for this command's: the command fails rather than share it."""

    def __init__(self, key: str) -> None:
        super().__init__(f"journal key {key!r} holds another command's entry")


def journal_id(tenant_id: str, command_id: str) -> str:
    """The `_id` of a command's entry."""
    return command_key(tenant_id, command_id)


class CommandJournal:
    """Reads and writes of command journal documents."""

    def __init__(self, db: Database) -> None:
        self._c = db[JOURNAL]

    async def find(self, tenant_id: str, command_id: str) -> Document | None:
        keys, owns = command_keys(tenant_id, command_id), of_command(tenant_id, command_id)
        return await find_owned(self._c, keys, owns)

    async def outcome(self, tenant_id: str, command_id: str) -> Document | None:
        """State, fingerprint and result only: a batch command's entry also carries its
        changes and events (thousands of documents for an import), which readers of the
        result do not need."""
        keys, owns = command_keys(tenant_id, command_id), of_command(tenant_id, command_id)
        return await find_owned(self._c, keys, owns, _OUTCOME_FIELDS)

    async def commit(self, doc: Document) -> bool:
        """Insert a decided command; False when the command was committed before.
        `SequenceTaken` when its sequence claim is another entry's."""
        try:
            await self._c.insert_one(doc)
        except DuplicateKeyError:
            held = await self._c.find_one({"_id": doc["_id"]}, COMMAND_FIELDS)
            if held is None and "seqClaim" in doc:
                raise SequenceTaken(doc["tenantId"], doc["seqClaim"]) from None
            if held is not None and not of_command(doc["tenantId"], doc["commandId"])(held):
                raise KeyTaken(doc["_id"]) from None
            return False
        return True

    async def claimant(self, tenant_id: str, claim: Document) -> Document | None:
        """The entry holding the sequence claim `claim` (its customer and `after`), whole."""
        return await self._c.find_one(
            {
                "tenantId": tenant_id,
                "seqClaim.customerId": claim["customerId"],
                "seqClaim.after": claim["after"],
            }
        )

    async def release_claim(self, doc_id: str) -> None:
        """A failed entry's sequence numbers are free again (its events never happen)."""
        await self._c.update_one(
            {"_id": doc_id, "state": FAILED, "seqClaim": {"$exists": True}},
            {"$unset": {"seqClaim": ""}},
        )

    async def finish(
        self,
        doc_id: str,
        result: dict[str, Any],
        events: list[Document],
        *,
        events_changed: bool,
        result_changed: bool = True,
    ) -> None:
        """Mark applied with its final result. The result is rewritten only when applying
        changed more than its completion time, the events only when applying changed them
        (a rejection or batch collisions); with no events left to publish, the changes are
        dropped at once, and so is its sequence claim: with none, it was rejected (a claim
        is only made for events), and its numbers go to the next decision. (An import's
        result lists every item: not copied again.)"""
        written = (
            {"result": result} if result_changed else {"result.completedAt": result["completedAt"]}
        )
        update: dict[str, Any] = {"$set": {"state": APPLIED, **written}}
        if not events:
            update["$set"].update(published=True, **prunable_now())
            update["$unset"] = {**_PUBLISHED_DROPS, "seqClaim": ""}
        elif events_changed:
            update["$set"]["events"] = events
        await self._c.update_one({"_id": doc_id}, update)

    async def fail(self, doc: Document) -> Document:
        """Record that a command failed: `doc` is a whole entry (state FAILED, its result,
        nothing to publish). A command not in the journal gets it; one decided but never
        applied becomes it (its changes, events and sequence claim are dropped); one
        applied, rejected or failed before keeps what it has. Returns the entry as it now stands."""
        doc = {**doc, **prunable_now()}
        if await self.commit(doc):
            return doc
        failed = {key: doc[key] for key in ("state", "result", "published", PRUNABLE_SINCE)}
        await self._c.update_one(
            {"_id": doc["_id"], "state": DECIDED},
            {"$set": failed, "$unset": {**_PUBLISHED_DROPS, "seqClaim": ""}},
        )
        stands = await self._c.find_one({"_id": doc["_id"]})
        return doc if stands is None else stands

    async def unpublished(self, limit: int, fields: dict[str, int]) -> list[Document]:
        """`fields` of the commands whose events are not all published yet, oldest first:
        the applied ones, and those still unfinished (decided), whose events the later
        ones of the same customers must wait for (`handlers.relay`)."""
        cursor = (
            self._c.find({"published": False, "state": {"$in": [DECIDED, APPLIED]}}, fields)
            .sort([("decidedAt", 1), ("firstSequence", 1)])
            .limit(limit)
        )
        return await cursor.to_list()

    async def mark_published(self, doc_ids: list[str]) -> None:
        """Published: the changes and outbox records are not needed any more."""
        await self._c.update_many(
            {"_id": {"$in": doc_ids}},
            {"$set": {"published": True, **prunable_now()}, "$unset": _PUBLISHED_DROPS},
        )

"""Handle one command: decide once, commit the decision, apply it, report its result.

Order of steps and why it is safe to die between any two of them:
1. journal lookup — a committed command is never decided again (at most one effect);
2. decide — reads only; dying here leaves nothing behind;
3. commit — one journal insert holding result, changes and outbox records (the commit point);
4. apply — idempotent changes; a redelivery repeats step 4 from the stored changes;
5. finish — result and events become visible; the relay publishes the events (building
   each from its outbox record and the entry: `handlers.outbox`);
6. advance — the customer's sequence counter moves to the entry's last sequence.

Sequences. Each customer's events are numbered 1, 2, 3, ... with no gap and no number
twice, also when two workers decide about one customer at once (a command and an
integration event come from two topics, keyed apart, so two processes whose `KeyedLock`s
know nothing of each other may hold them). The counter is read (before deciding, when the
payload names the customer) and the entry claims the numbers after it (`seqClaim`, unique
per customer and counter value: `storage.journal`); of two decisions that read the same
counter one commit wins, the other waits until the winner is settled and is decided
again, against the state the winner left. The counter moves only after the entry is
finished (step 6), so a decision never follows an unfinished entry: what is published
first is numbered first. A crash between steps 5 and 6 leaves the counter behind; the
next decision about the customer meets the claim and moves it on (as does a redelivery).
"""

import asyncio
from collections import defaultdict
from collections.abc import Set as AbstractSet
from typing import Any

from pydantic import ValidationError

from handlers.dead_letters import validation_summary
from handlers.decision import CommandContext, Decision, EventBatch, EventDraft
from handlers.outbox import each_record, outbox_records
from handlers.registry import use_case_for
from schemas.base import iso_now
from schemas.envelope import (
    CommandEnvelope,
    CommandResult,
    CommandStatus,
    fingerprint,
    stored_result,
)
from schemas.errors import ErrorCode, ErrorKind
from schemas.events import ORIGIN_KAFKA
from storage.changes import apply_changes
from storage.customers import CUSTOMERS, CustomerRepository
from storage.database import Database, Document
from storage.journal import (
    APPLIED,
    DECIDED,
    FAILED,
    CommandJournal,
    SequenceTaken,
    journal_id,
)
from storage.journal_watch import JournalWatch

BATCH_STATUSES = ("created", "duplicate", "invalid")
MAX_FAILURE_MESSAGE = 1000  # as the dead letter's `x-dlq-error` header
# The error kind of a failed command, by its dead-letter reason (a default: internal).
FAILURE_KINDS = {
    "invalid_payload": ErrorKind.INVALID,
    "unknown_type": ErrorKind.INVALID,
    "too_large": ErrorKind.TOO_LARGE,
}


class InvalidCommand(ValueError):
    """The payload does not match its command type: poison, goes to the dead-letter topic."""


class CommandIdReused(ValueError):
    """The command id was already used for another command (another type or payload): its
    first result stands, and this one is poison (`id_reused`), not a silent repeat."""


# Decisions a command may lose to others' claims of the same sequence numbers before it
# gives up (each loss means another entry about the customer was committed meanwhile).
SEQUENCE_ATTEMPTS = 100
# How long a decision waits for the entry holding the numbers it wants to be finished by
# its own worker before applying it itself (that worker may have died after committing).
CLAIM_GRACE_S = 2.0


class SequenceContention(RuntimeError):
    """A command lost `SEQUENCE_ATTEMPTS` decisions in a row to other claims."""


class CommandProcessor:
    """Runs the decide → commit → apply → finish steps for one command at a time."""

    def __init__(
        self,
        db: Database,
        watch: JournalWatch | None = None,
        *,
        claim_grace_s: float = CLAIM_GRACE_S,
    ) -> None:
        """`watch`: told when a command's result is final, for waiters in this process."""
        self._db = db
        self._journal = CommandJournal(db)
        self._customers = CustomerRepository(db)
        self._watch = watch
        self._claim_grace_s = claim_grace_s

    async def process(
        self, envelope: CommandEnvelope, origin: str = ORIGIN_KAFKA, *, refuse_reuse: bool = False
    ) -> CommandResult:
        """The command's result: decided and applied now, or as an earlier delivery left it.

        `origin` is what sent it (its events' `changeorigin`). `refuse_reuse`: an id already
        used for a command of another type or payload raises `CommandIdReused` (the commands
        topic's rule) instead of answering the first result. (Integration events resolve
        their customer anew on each delivery, so a redelivery may name another one: they keep
        the first result.)"""
        entry = await self._journal.find(envelope.tenant_id, envelope.command_id)
        ours = False  # decided from this envelope: nothing to compare it with
        if entry is None:
            entry, ours = await self._decide_and_commit(envelope, origin)
            if not ours:
                # Committed meanwhile by a concurrent delivery: that decision wins.
                entry = await self._journal.find(envelope.tenant_id, envelope.command_id)
                assert entry is not None
        if entry["state"] == DECIDED:
            entry = await self._apply(entry)  # the first command's decision, in any case
        elif entry["state"] == APPLIED and "seqClaim" in entry:
            await self._advance(entry)  # a redelivery: the crash may have come before it
        self._finished(envelope)
        if refuse_reuse and not ours:
            _same_command_or_raise(entry, envelope)
        return CommandResult.model_validate(entry["result"])

    async def fail(self, envelope: CommandEnvelope, reason: str, error: str) -> CommandResult:
        """Record the terminal `failed` outcome of a command the worker dead-letters
        (`reason` as the dead letter's), unless it already has an outcome: its status
        resource then answers `failed` rather than `pending` for ever, and a redelivery
        finds it failed (it is not decided again)."""
        kind = FAILURE_KINDS.get(reason, ErrorKind.INTERNAL)
        now = iso_now()
        result = stored_result(
            envelope.command_id,
            envelope.type.value,
            envelope.tenant_id,
            CommandStatus.FAILED,
            None,
            None,
            {
                "code": ErrorCode.COMMAND_FAILED.value,
                "kind": kind.value,
                "message": error[:MAX_FAILURE_MESSAGE],
                "details": reason,
            },
        )
        result["completedAt"] = now
        entry = await self._journal.fail(
            {
                "_id": journal_id(envelope.tenant_id, envelope.command_id),
                "tenantId": envelope.tenant_id,
                "commandId": envelope.command_id,
                "type": envelope.type.value,
                "fingerprint": fingerprint(envelope.type.value, envelope.payload),
                "state": FAILED,
                "decidedAt": now,
                "result": result,
                "published": True,  # nothing to publish; the retention deletes it in time
            }
        )
        self._finished(envelope)
        return CommandResult.model_validate(entry["result"])

    def _finished(self, envelope: CommandEnvelope) -> None:
        """The command has its outcome: wake whoever waits for it in this process."""
        if self._watch is not None:
            self._watch.changed(envelope.tenant_id, envelope.command_id)

    async def _decide_and_commit(
        self, envelope: CommandEnvelope, origin: str
    ) -> tuple[Document, bool]:
        """Decide and commit; decided again whenever another entry claimed the sequence
        numbers of the customer first (once that entry is settled: `_settle`)."""
        customer_id = envelope.payload.get("customerId")
        for _ in range(SEQUENCE_ATTEMPTS):
            # The counter before the decision's reads (when the payload names the customer,
            # as every integration event's command does): a claim on it then also means that
            # nothing changed the customer after what the decision read.
            before = (
                await self._customers.sequences([customer_id])
                if isinstance(customer_id, str)
                else {}
            )
            decision = await self._decide(envelope)
            entry = await self._journal_entry(envelope, decision, origin, before)
            try:
                return entry, await self._journal.commit(entry)
            except SequenceTaken as taken:
                await self._settle(taken.tenant_id, taken.claim)
        raise SequenceContention(
            f"command {envelope.command_id}: {SEQUENCE_ATTEMPTS} decisions lost to others' "
            "sequence claims"
        )

    async def _settle(self, tenant_id: str, claim: Document) -> None:
        """Until the entry holding `claim` is settled: finished by its worker (then the
        counter is moved past it, in case that worker died before), failed or rejected
        (its claim released), or, unfinished after the grace time, applied here (as a
        redelivery of it would be: its worker may have died after committing it)."""
        loop = asyncio.get_running_loop()
        give_up_waiting = loop.time() + self._claim_grace_s
        pause = 0.001
        while True:
            holder = await self._journal.claimant(tenant_id, claim)
            if holder is None:
                return  # released: its numbers are free
            if holder["state"] == APPLIED:
                await self._advance(holder)
                return
            if holder["state"] == FAILED:
                await self._journal.release_claim(holder["_id"])
                return
            if loop.time() >= give_up_waiting:
                await self._apply(holder)
                if self._watch is not None:
                    self._watch.changed(holder["tenantId"], holder["commandId"])
                return
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

    async def _advance(self, entry: Document) -> None:
        """The customer's counter past the entry's claimed numbers."""
        claim = entry["seqClaim"]
        await self._customers.advance_sequence(claim["customerId"], claim["last"])

    async def _decide(self, envelope: CommandEnvelope) -> Decision:
        use_case = use_case_for(envelope.type)
        try:
            payload = use_case.payload_model.model_validate(envelope.payload)
        except ValidationError as exc:
            summary = validation_summary(exc)
            raise InvalidCommand(f"payload of {envelope.type.value}: {summary}") from exc
        context = CommandContext(envelope, payload)
        decision = await use_case.decide(context, self._db)
        decision.decided_at = context.now  # the journal's time of it, the same moment
        return decision

    async def _journal_entry(
        self,
        envelope: CommandEnvelope,
        decision: Decision,
        origin: str = ORIGIN_KAFKA,
        read_before: dict[str, int] | None = None,
    ) -> Document:
        decided_at = decision.decided_at or iso_now()
        changes = list(decision.changes)
        created = _inserted_customers(changes)
        sequences, last_sequence, after = await self._sequences(
            decision.events, created.keys(), read_before
        )
        events = outbox_records(decision.events, sequences, changes)
        claims = []
        for customer_id, sequence in last_sequence.items():
            if customer_id in created:
                created[customer_id]["_seq"] = sequence  # born with it: no counter update
            else:
                claims.append({"customerId": customer_id, "after": after[customer_id]})
                claims[-1]["last"] = sequence
        if len(claims) > 1:
            # one claim per entry: a multikey unique index would have it checked per number,
            # but the in-memory store (mongomock) compares arrays whole
            raise ValueError("a decision's events are about at most one existing customer")
        entry = {
            "_id": journal_id(envelope.tenant_id, envelope.command_id),
            "tenantId": envelope.tenant_id,
            "commandId": envelope.command_id,
            "type": envelope.type.value,
            "fingerprint": fingerprint(envelope.type.value, envelope.payload),
            "state": DECIDED,
            "decidedAt": decided_at,
            "origin": origin,
            "firstSequence": min(sequences, default=0),
            "result": stored_result(
                envelope.command_id,
                envelope.type.value,
                envelope.tenant_id,
                decision.status,
                decision.entity_id,
                _with_sequence(decision, sequences),
                decision.error,
                data_is_json=decision.data_is_json,
            ),
            "changes": changes,
            "events": events,
            "published": False,
        }
        if claims:
            entry["seqClaim"] = claims[0]
        return entry

    async def _sequences(
        self,
        drafts: list[EventDraft | EventBatch],
        created: AbstractSet[str],
        read_before: dict[str, int] | None = None,
    ) -> tuple[list[int], dict[str, int], dict[str, int]]:
        """The sequence number of each draft's event, in order (a batch's: that of each
        of its events, the first of a customer this decision creates), the last one of
        each customer, and each existing customer's counter they follow (`read_before`
        the decision, or read now). Customers this decision creates start at 0: no need
        to read their counters."""
        if not drafts:
            return [], {}, {}
        named = {draft.customer_id for draft in drafts if isinstance(draft, EventDraft)}
        customer_ids = sorted(named - created)
        read_before = read_before or {}
        unread = [customer_id for customer_id in customer_ids if customer_id not in read_before]
        stored = await self._customers.sequences(unread) if unread else {}
        stored.update({c: read_before[c] for c in customer_ids if c in read_before})
        after = {customer_id: stored.get(customer_id, 0) for customer_id in customer_ids}
        counters = defaultdict(int, stored)
        sequences = []
        for draft in drafts:
            if isinstance(draft, EventDraft):
                counters[draft.customer_id] += 1
                sequences.append(counters[draft.customer_id])
                continue
            # each a customer this decision creates, named by no earlier event, once
            first = dict.fromkeys([doc["_id"] for doc in draft.documents], 1)
            if (
                len(first) != len(draft.documents)
                or not counters.keys().isdisjoint(first)
                or not first.keys() <= created
            ):
                raise ValueError("an event batch is about new customers, each event their first")
            counters.update(first)
            sequences.append(1)
        return sequences, counters, after

    async def _apply(self, entry: Document) -> Document:
        outcome = await apply_changes(self._db, entry.get("changes", []))
        result = dict(entry["result"])
        events = entry["events"]
        if outcome.rejection is not None:
            result.update(status=CommandStatus.REJECTED.value, error=outcome.rejection, data=None)
            result["entityId"] = None
            events = []
        elif outcome.conflicted_ids:
            result["data"] = _mark_batch_duplicates(
                result["data"], outcome.conflicted_ids, entry["changes"]
            )
            events = [e for e in each_record(entry) if e["subject"] not in outcome.conflicted_ids]
        result["completedAt"] = iso_now()
        as_decided = outcome.rejection is None and not outcome.conflicted_ids
        await self._journal.finish(
            entry["_id"],
            result,
            events,
            events_changed=events is not entry["events"],
            result_changed=not as_decided,  # else only its completion time is new
        )
        entry.update(state="applied", result=result, events=events)
        if outcome.rejection is not None:
            entry.pop("seqClaim", None)  # released by `finish`: its numbers are not used
        elif "seqClaim" in entry:
            await self._advance(entry)  # only now: a decision never follows an unfinished one
        return entry


def _with_sequence(decision: Decision, sequences: list[int]) -> Any:
    """The result's data; when it is the view of the customer the command wrote (a create,
    an update, a VIP mark, a profile refresh), with that event's `sequence`, as customer
    reads have it: the answer to a write equals a read made right after it."""
    data = decision.data
    if not isinstance(data, dict) or data.get("id") != decision.entity_id:
        return data
    for draft, sequence in zip(decision.events, sequences, strict=True):
        if (
            isinstance(draft, EventDraft)
            and draft.entity == "customer"
            and draft.subject == decision.entity_id
            and draft.document is not None
            and draft.action != "deleted"
        ):
            return {**data, "sequence": sequence}
    return data


def _same_command_or_raise(entry: Document, envelope: CommandEnvelope) -> None:
    if entry.get("fingerprint") != fingerprint(envelope.type.value, envelope.payload):
        raise CommandIdReused(
            f"commandId {envelope.command_id} was already used for another command "
            f"({entry.get('type')}, decided at {entry.get('decidedAt')}); its first result stands"
        )


def _inserted_customers(changes: list[dict[str, Any]]) -> dict[str, Document]:
    """Customer documents this decision inserts, by id."""
    created: dict[str, Document] = {}
    for change in changes:
        if change["coll"] == CUSTOMERS and change["op"] == "insert":
            created[change["doc"]["_id"]] = change["doc"]
        elif change["coll"] == CUSTOMERS and change["op"] == "insert_many":
            docs = change["docs"]
            created.update(zip([doc["_id"] for doc in docs], docs, strict=True))
    return created


def _mark_batch_duplicates(
    data: dict[str, Any], conflicted: set[str], changes: list[dict[str, Any]]
) -> dict[str, Any]:
    """Batch items whose insert collided at apply time become `duplicate` items."""
    conflict = next(c["onConflict"] for c in changes if c["op"] == "insert_many")
    items = []
    for item in data["items"]:
        if item.get("id") in conflicted:
            item = {"index": item["index"], "status": "duplicate", "error": conflict["message"]}
        items.append(item)
    counts = {status: sum(1 for i in items if i["status"] == status) for status in BATCH_STATUSES}
    return {**data, **counts, "items": items}

"""Sending a command from HTTP and waiting (bounded) for the result the worker stores.

Not FastStream's request/reply API: it works under the test broker but raises against
a real Kafka broker. The worker writes the result into the command journal; we poll it.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from http_facade.errors import ApiError
from schemas.base import iso_now
from schemas.envelope import CommandEnvelope, CommandResult, CommandStatus, fingerprint
from schemas.errors import ErrorCode, ErrorKind
from storage.database import Database, Document
from storage.journal import DECIDED, CommandJournal
from storage.journal_watch import JournalWatch, until_changed
from storage.submissions import CommandSubmissions

Publish = Callable[[dict[str, Any], bytes], Awaitable[None]]
FIRST_POLL_S = 0.002
MAX_POLL_S = 0.05

KEY_REUSED = "X-Request-ID was already used for a different request"


class CommandPending(Exception):
    """The result was not there within the reply timeout: answer 202 + Location."""

    def __init__(self, command_id: str) -> None:
        super().__init__(command_id)
        self.command_id = command_id


def command_status_path(command_id: str) -> str:
    return f"/api/v1/crm/commands/{command_id}"


class CommandGateway:
    def __init__(
        self,
        db: Database,
        publish: Publish,
        reply_timeout_s: float,
        watch: JournalWatch | None = None,
    ) -> None:
        """`watch`: the in-process signal of the worker's results, when the worker runs in
        this process (storage/journal_watch.py); the journal is polled either way."""
        self._journal = CommandJournal(db)
        self._submissions = CommandSubmissions(db)
        self._publish = publish
        self._timeout_s = reply_timeout_s
        self._watch = watch if watch is not None else JournalWatch()

    async def execute(self, envelope: CommandEnvelope, key: bytes) -> CommandResult:
        """Publish unless already known, then wait for the result (or raise CommandPending).

        A repeated command id returns the first result; with another body it is a 409.
        """
        # The routes give payloads of JSON values (`send_command`), published as they are:
        # the worker decodes and digests the same values.
        wire = envelope.wire_with_json_payload()
        digest = fingerprint(envelope.type.value, envelope.payload)
        # Watched from before the first read: a result stored after it wakes the wait,
        # which so needs no second read right after publishing.
        with self._watch.expect(envelope.tenant_id, envelope.command_id) as changed:
            entry = await self._journal.outcome(envelope.tenant_id, envelope.command_id)
            if entry is None:
                await self._publish(wire, key)
            if not _finished(entry):
                entry = await self._wait(envelope, changed)
        _same_request_or_409(entry, digest)
        if entry is None:
            # Not decided yet: recorded, so that the status resource says `pending`.
            _same_request_or_409(await self._submitted(envelope, digest), digest)
        if entry is None or not _finished(entry):
            raise CommandPending(envelope.command_id)
        return CommandResult.model_validate(entry["result"])

    async def _submitted(self, envelope: CommandEnvelope, digest: str) -> Document:
        return await self._submissions.record(
            {
                "tenantId": envelope.tenant_id,
                "commandId": envelope.command_id,
                "type": envelope.type.value,
                "fingerprint": digest,
                "submittedAt": iso_now(),
            }
        )

    async def _wait(
        self, envelope: CommandEnvelope, changed: asyncio.Future[None]
    ) -> Document | None:
        """Until the entry is finished or the reply timeout passed; `changed`: the watch
        registered before the entry was last read."""
        deadline = time.monotonic() + self._timeout_s
        pause = FIRST_POLL_S
        await until_changed(changed, min(pause, self._timeout_s))
        while True:
            with self._watch.expect(envelope.tenant_id, envelope.command_id) as changed:
                entry = await self._journal.outcome(envelope.tenant_id, envelope.command_id)
                if _finished(entry):
                    return entry
                if time.monotonic() >= deadline:
                    return entry
                pause = min(pause * 2, MAX_POLL_S)
                await until_changed(changed, pause)

    async def status(self, tenant_id: str, command_id: str) -> CommandResult | None:
        """The command's result (`succeeded`, `rejected`, or `failed` when the worker
        dead-lettered it); `pending` while it waits to be decided (after a 202) or is
        decided but not applied; None if unknown."""
        entry = await self._journal.outcome(tenant_id, command_id)
        if entry is None:
            submitted = await self._submissions.find(tenant_id, command_id)
            if submitted is None:
                return None
            return CommandResult(
                command_id=command_id,
                type=submitted["type"],
                tenant_id=tenant_id,
                status=CommandStatus.PENDING,
            )
        result = CommandResult.model_validate(entry["result"])
        if entry.get("state") == DECIDED:
            result.status = CommandStatus.PENDING
        return result


def _finished(entry: Document | None) -> bool:
    """The command has its outcome: applied (succeeded or rejected) or failed."""
    return entry is not None and entry.get("state") != DECIDED


def _same_request_or_409(entry: Document | None, digest: str) -> None:
    if entry is not None and entry.get("fingerprint") != digest:
        raise ApiError(ErrorKind.CONFLICT, ErrorCode.IDEMPOTENCY_KEY_REUSED.value, KEY_REUSED)

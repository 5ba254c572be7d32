"""Consume one raw command: decode, process with bounded retries, or dead-letter.

The outcome tells the subscriber what to do with the offset: `processed` and
`dead_lettered` are acked (the partition moves on); `retry_later` is not (the store is
unreachable: the message is redelivered rather than lost or dead-lettered).
"""

import asyncio
import json
import logging
from collections.abc import Callable
from enum import StrEnum

from pydantic import ValidationError
from pymongo.errors import ConnectionFailure, ExecutionTimeout, PyMongoError

from handlers.dead_letters import DeadLetters, RawMessage
from handlers.keyed_lock import KeyedLock
from handlers.pipeline import CommandProcessor, InvalidCommand
from handlers.registry import UnsupportedCommand
from schemas.envelope import CommandEnvelope

log = logging.getLogger("crm.worker")


class Outcome(StrEnum):
    PROCESSED = "processed"
    DEAD_LETTERED = "dead_lettered"
    RETRY_LATER = "retry_later"


class Poison(Exception):
    """A message that no retry can fix."""

    def __init__(self, reason: str, error: str) -> None:
        super().__init__(error)
        self.reason = reason


def is_transient(exc: BaseException) -> bool:
    """Store errors that go away by themselves (network, failover, timeouts)."""
    if isinstance(exc, ConnectionFailure | ExecutionTimeout):
        return True
    return isinstance(exc, PyMongoError) and exc.has_error_label("RetryableWriteError")


def decode_envelope(value: bytes) -> CommandEnvelope:
    try:
        raw = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Poison("undecodable", f"not JSON: {exc}") from exc
    try:
        return CommandEnvelope.model_validate(raw)
    except ValidationError as exc:
        unknown_type = any(error["loc"][:1] == ("type",) for error in exc.errors())
        raise Poison("unknown_type" if unknown_type else "invalid_envelope", str(exc)) from exc


class CommandConsumer:
    def __init__(
        self,
        processor: CommandProcessor,
        dead_letters: DeadLetters,
        *,
        retries: int = 5,
        backoff_s: float = 0.05,
        on_processed: Callable[[], None] | None = None,
    ) -> None:
        self._processor = processor
        self._dead_letters = dead_letters
        self._retries = retries
        self._backoff_s = backoff_s
        self._on_processed = on_processed
        self._locks = KeyedLock()

    async def consume(self, message: RawMessage) -> Outcome:
        try:
            envelope = decode_envelope(message.value)
            async with self._locks.hold(message.key or envelope.tenant_id.encode()):
                await self._process_with_retries(envelope)
        except Poison as poison:
            log.warning("dead-lettering command: %s: %s", poison.reason, poison)
            await self._dead_letters.send(message, poison.reason, str(poison))
            return Outcome.DEAD_LETTERED
        except Exception as exc:
            if is_transient(exc):
                log.warning("store unavailable, command left for redelivery: %s", exc)
                return Outcome.RETRY_LATER
            raise
        if self._on_processed is not None:
            self._on_processed()
        return Outcome.PROCESSED

    async def _process_with_retries(self, envelope: CommandEnvelope) -> None:
        for attempt in range(self._retries + 1):
            try:
                await self._processor.process(envelope)
                return
            except InvalidCommand as exc:
                raise Poison("invalid_payload", str(exc)) from exc
            except UnsupportedCommand as exc:
                raise Poison("unknown_type", str(exc)) from exc
            except Exception as exc:
                if attempt == self._retries:
                    if is_transient(exc):
                        raise
                    raise Poison("processing_failed", f"{type(exc).__name__}: {exc}") from exc
                log.warning(
                    "command %s attempt %d failed: %r", envelope.command_id, attempt + 1, exc
                )
                await asyncio.sleep(self._backoff_s * 2**attempt)

"""Consume one raw command: decode, process with bounded retries, or dead-letter.

The outcome tells the subscriber what to do with the offset: `processed` and
`dead_lettered` are acked (the partition moves on); `retry_later` is not (the store is
unreachable: the message is redelivered rather than lost or dead-lettered).

A message whose value is larger than `max_message_bytes` (default 1 MiB) is dead-lettered
as `too_large` before anything decodes it.
"""

import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Protocol, TypeVar

from pydantic import ValidationError
from pymongo.errors import ConnectionFailure, ExecutionTimeout, PyMongoError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from handlers.dead_letters import (
    TOO_LARGE_SAMPLE_BYTES,
    DeadLetters,
    RawMessage,
    validation_summary,
)
from handlers.keyed_lock import KeyedLock
from handlers.pipeline import CommandIdReused, CommandProcessor, InvalidCommand
from handlers.registry import UnsupportedCommand
from schemas.command_origin import proven_origin
from schemas.envelope import CommandEnvelope, CommandResult
from schemas.ids import INTEGRATION_COMMAND_PREFIX, reserved_command_id

log = logging.getLogger("crm.worker")

T = TypeVar("T")
MAX_MESSAGE_BYTES = 1024 * 1024  # default bound of a consumed message's value
RESERVED_COMMAND_ID = f"commandId: the prefix {INTEGRATION_COMMAND_PREFIX} is reserved"


class ReleasesParkedEvents(Protocol):
    """The step after a command: `handlers/parked_release.py` (which imports this module).

    Called after a command was processed (also on a redelivery that found it done), outside
    the key's lock; a transient store error it raises leaves the command for redelivery."""

    async def release_unblocked_by(
        self, envelope: CommandEnvelope, result: CommandResult
    ) -> None: ...


# Called with (message, reason, error) before a message is dead-lettered; what it raises
# (a transient store error) leaves the message for redelivery instead.
BeforeDeadLetter = Callable[[RawMessage, str, str], Awaitable[None]]


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
    """The envelope, parsed and validated in one pass (pydantic's JSON parser: half the
    cost of `json.loads` and then validating, on every command). Text that is not JSON,
    or not UTF-8, or that holds a lone UTF-16 surrogate escape (which could never be
    stored), is `undecodable`. A command id only integration events' commands may have
    (`schemas.ids.reserved_command_id`) is an `invalid_envelope`."""
    try:
        envelope = CommandEnvelope.model_validate_json(value)
    except ValidationError as exc:
        errors = exc.errors()
        not_json = [error for error in errors if error["type"] == "json_invalid"]
        if not_json:
            raise Poison("undecodable", f"not JSON: {not_json[0]['msg']}") from exc
        unknown_type = any(error["loc"][:1] == ("type",) for error in errors)
        reason = "unknown_type" if unknown_type else "invalid_envelope"
        raise Poison(reason, validation_summary(exc)) from exc
    if reserved_command_id(envelope.command_id):
        raise Poison("invalid_envelope", RESERVED_COMMAND_ID)
    return envelope


def too_large_error(size: int, max_bytes: int) -> str:
    return f"message value of {size} bytes is larger than the limit of {max_bytes} bytes"


async def dead_letter_too_large(
    message: RawMessage, max_bytes: int, dead_letters: DeadLetters, what: str
) -> None:
    """Dead-letter (`too_large`) a message whose value is over `max_bytes`, undecoded."""
    error = too_large_error(len(message.value), max_bytes)
    log.warning("dead-lettering %s: too_large: %s", what, error)
    await dead_letters.send(message, "too_large", error, keep_bytes=TOO_LARGE_SAMPLE_BYTES)


# Errors no retry can fix: they pass straight through `with_retries`.
NOT_RETRIED = (Poison, InvalidCommand, CommandIdReused, UnsupportedCommand)


async def with_retries(
    action: Callable[[], Awaitable[T]], *, retries: int, backoff_s: float, what: str
) -> T:
    """Run `action`, retrying failures `retries` times with exponential backoff.

    Poison passes straight through, and so do an invalid payload and an unsupported command
    type (as poison); after the last attempt a transient store error propagates (the
    message is redelivered), any other error becomes `processing_failed` poison.
    """

    def retrying_soon(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning("%s attempt %d failed: %r", what, state.attempt_number, error)

    retrying = AsyncRetrying(
        stop=stop_after_attempt(retries + 1),
        wait=wait_exponential(multiplier=backoff_s),
        retry=retry_if_exception_type(Exception) & retry_if_not_exception_type(NOT_RETRIED),
        before_sleep=retrying_soon,
        reraise=True,
    )
    try:
        async for (
            attempt
        ) in retrying:  # (not `retrying(action)`: it awaits coroutine functions only)
            with attempt:
                return await action()
    except Poison:
        raise
    except InvalidCommand as exc:
        raise Poison("invalid_payload", str(exc)) from exc
    except CommandIdReused as exc:
        raise Poison("id_reused", str(exc)) from exc
    except UnsupportedCommand as exc:
        raise Poison("unknown_type", str(exc)) from exc
    except Exception as exc:
        if is_transient(exc):
            raise
        raise Poison("processing_failed", f"{type(exc).__name__}: {exc}") from exc
    raise AssertionError("unreachable")  # pragma: no cover


async def settle(
    message: RawMessage,
    work: Callable[[], Awaitable[object]],
    *,
    kind: str,
    max_message_bytes: int,
    dead_letters: DeadLetters,
    on_processed: Callable[[], None] | None,
    before_dead_letter: BeforeDeadLetter | None = None,
) -> Outcome:
    """Run `work` for one consumed message and say what becomes of its offset: poison
    (too large, undecodable, invalid, or failing after the retries) is dead-lettered, an
    unreachable store leaves the message for redelivery, anything else is processed."""
    try:
        if len(message.value) > max_message_bytes:
            if before_dead_letter is not None:
                error = too_large_error(len(message.value), max_message_bytes)
                await before_dead_letter(message, "too_large", error)
            await dead_letter_too_large(message, max_message_bytes, dead_letters, kind)
            return Outcome.DEAD_LETTERED
        try:
            await work()
        except Poison as poison:
            log.warning("dead-lettering %s: %s: %s", kind, poison.reason, poison)
            if before_dead_letter is not None:
                await before_dead_letter(message, poison.reason, str(poison))
            await dead_letters.send(message, poison.reason, str(poison))
            return Outcome.DEAD_LETTERED
    except Exception as exc:
        if is_transient(exc):
            log.warning("store unavailable, %s left for redelivery: %s", kind, exc)
            return Outcome.RETRY_LATER
        raise
    if on_processed is not None:
        on_processed()
    return Outcome.PROCESSED


class CommandConsumer:
    def __init__(
        self,
        processor: CommandProcessor,
        dead_letters: DeadLetters,
        *,
        retries: int = 5,
        backoff_s: float = 0.05,
        on_processed: Callable[[], None] | None = None,
        locks: KeyedLock | None = None,
        parked_release: ReleasesParkedEvents | None = None,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        origin_key: bytes | None = None,
    ) -> None:
        self._processor = processor
        self._origin_key = origin_key  # checks the facade's proof (`schemas.command_origin`)
        self._dead_letters = dead_letters
        self._retries = retries
        self._backoff_s = backoff_s
        self._on_processed = on_processed
        self._locks = locks or KeyedLock()
        self._parked_release = parked_release
        self._max_message_bytes = max_message_bytes

    async def consume(self, message: RawMessage) -> Outcome:
        return await settle(
            message,
            lambda: self._apply(message),
            kind="command",
            max_message_bytes=self._max_message_bytes,
            dead_letters=self._dead_letters,
            on_processed=self._on_processed,
            before_dead_letter=self._record_failure,
        )

    async def _record_failure(self, message: RawMessage, reason: str, error: str) -> None:
        """A dead-lettered command whose envelope decodes gets the terminal outcome `failed`
        (docs/architecture.md, "Dead letters"); one that does not decode names no command to
        record."""
        try:
            envelope = decode_envelope(message.value)
        except Poison:
            return
        async with self._locks.hold(message.key or envelope.tenant_id.encode()):
            await self._processor.fail(envelope, reason, error)

    async def _apply(self, message: RawMessage) -> None:
        envelope = decode_envelope(message.value)
        origin = proven_origin(message.headers, message.value, self._origin_key)
        async with self._locks.hold(message.key or envelope.tenant_id.encode()):
            result = await with_retries(
                lambda: self._processor.process(envelope, origin, refuse_reuse=True),
                retries=self._retries,
                backoff_s=self._backoff_s,
                what=f"command {envelope.command_id}",
            )
        # The explicit last step: release the parked integration events this command
        # unblocks (a binding, a customer's phone or email).
        if self._parked_release is not None:
            await self._parked_release.release_unblocked_by(envelope, result)

"""Start-up against servers that may not be up yet: bounded attempts with backoff.

Every attempt is logged (what, where, which attempt, why it failed, the next pause); after
the last one `StartupError` carries one clear sentence for the operator, and the CLI exits
non-zero with it.
"""

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

T = TypeVar("T")
log = logging.getLogger("crm.startup")


class StartupError(RuntimeError):
    """A dependency stayed unreachable (or unusable) for all start-up attempts."""


class NotUsable(Exception):
    """The dependency answered but cannot be used yet (e.g. a topic is missing)."""


MAX_REASON = 400


def describe(exc: BaseException | None) -> str:
    """`Type: message`, once, and short enough for one log line."""
    name, text = type(exc).__name__, str(exc)
    reason = text if text.startswith(name) else f"{name}: {text}" if text else name
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 1] + "…"


async def with_retries(
    action: Callable[[], Awaitable[T]],
    *,
    what: str,
    where: str,
    attempts: int,
    backoff_s: float,
    max_backoff_s: float,
    cleanup: Callable[[], Awaitable[None]] | None = None,
) -> T:
    """Run `action` until it succeeds, at most `attempts` times, pausing base, 2·base,
    4·base, … (capped) between them; `cleanup` after a failure."""

    def fields(attempt: int) -> dict[str, Any]:
        return {"dependency": what, "attempt": attempt, "attempts": attempts}

    def retrying_soon(state: RetryCallState) -> None:
        reason = describe(state.outcome.exception() if state.outcome else None)
        log.warning(
            "%s at %s: attempt %d/%d failed: %s; retrying in %.1fs",
            what,
            where,
            state.attempt_number,
            attempts,
            reason,
            state.upcoming_sleep,
            extra=fields(state.attempt_number),
        )

    retrying = AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=backoff_s, max=max_backoff_s),
        retry=retry_if_exception_type(Exception),  # never a cancellation
        before_sleep=retrying_soon,
        reraise=True,
    )
    try:
        async for attempt in retrying:
            with attempt:
                try:
                    result = await action()
                except Exception:
                    await _quietly(cleanup, what)
                    raise
                done = attempt.retry_state.attempt_number
                log.info(
                    "%s at %s: connected (attempt %d/%d)",
                    what,
                    where,
                    done,
                    attempts,
                    extra=fields(done),
                )
                return result
    except Exception as exc:
        reason = describe(exc)
        log.error(
            "%s at %s: attempt %d/%d failed: %s; giving up",
            what,
            where,
            attempts,
            attempts,
            reason,
            extra=fields(attempts),
        )
        raise StartupError(
            f"could not connect to {what} at {where} after {attempts} attempt"
            f"{'s' if attempts != 1 else ''}: {reason}"
        ) from exc
    raise AssertionError("unreachable")  # pragma: no cover


async def _quietly(cleanup: Callable[[], Awaitable[None]] | None, what: str) -> None:
    """The cleanup after a failed attempt; its own failure is only a debug line."""
    if cleanup is None:
        return
    try:
        await cleanup()
    except Exception:
        log.debug("cleanup after a failed %s attempt failed", what, exc_info=True)

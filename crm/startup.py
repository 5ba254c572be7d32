"""Start-up against servers that may not be up yet: bounded attempts with backoff.

Every attempt is logged (what, where, which attempt, why it failed, the next pause); after
the last one `StartupError` carries one clear sentence for the operator, and the CLI exits
non-zero with it.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger("crm.startup")


class StartupError(RuntimeError):
    """A dependency stayed unreachable (or unusable) for all start-up attempts."""


class NotUsable(Exception):
    """The dependency answered but cannot be used yet (e.g. a topic is missing)."""


MAX_REASON = 400


def describe(exc: BaseException) -> str:
    """`Type: message`, once, and short enough for one log line."""
    name, text = type(exc).__name__, str(exc)
    reason = text if text.startswith(name) else f"{name}: {text}" if text else name
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 1] + "…"


def backoff_delay(attempt: int, base_s: float, max_s: float) -> float:
    """Pause after failed attempt `attempt` (1-based): base, 2·base, 4·base, … capped."""
    return float(min(max_s, base_s * 2 ** (attempt - 1)))


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
    """Run `action` until it succeeds, at most `attempts` times; `cleanup` after a failure."""
    for attempt in range(1, attempts + 1):
        try:
            result = await action()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = describe(exc)
            if cleanup is not None:
                try:
                    await cleanup()
                except Exception:
                    log.debug("cleanup after a failed %s attempt failed", what, exc_info=True)
            if attempt == attempts:
                log.error(
                    "%s at %s: attempt %d/%d failed: %s; giving up",
                    what,
                    where,
                    attempt,
                    attempts,
                    reason,
                    extra={"dependency": what, "attempt": attempt, "attempts": attempts},
                )
                raise StartupError(
                    f"could not connect to {what} at {where} after {attempts} attempt"
                    f"{'s' if attempts != 1 else ''}: {reason}"
                ) from exc
            delay = backoff_delay(attempt, backoff_s, max_backoff_s)
            log.warning(
                "%s at %s: attempt %d/%d failed: %s; retrying in %.1fs",
                what,
                where,
                attempt,
                attempts,
                reason,
                delay,
                extra={"dependency": what, "attempt": attempt, "attempts": attempts},
            )
            await asyncio.sleep(delay)
        else:
            log.info(
                "%s at %s: connected (attempt %d/%d)",
                what,
                where,
                attempt,
                attempts,
                extra={"dependency": what, "attempt": attempt, "attempts": attempts},
            )
            return result
    raise AssertionError("unreachable")  # pragma: no cover

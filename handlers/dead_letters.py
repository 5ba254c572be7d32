"""Dead-lettering: the original key and value, with why it failed in the headers.

One exception: a message refused as too large (`too_large`) is dead-lettered with only the
first `TOO_LARGE_SAMPLE_BYTES` of its value (headers `x-dlq-truncated`,
`x-dlq-original-size`), since the whole of it may be more than the producer or the
dead-letter topic accepts; the original stays at its topic, partition and offset.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pydantic import ValidationError

from schemas.base import iso_now

MAX_ERROR_HEADER = 1000
TOO_LARGE_SAMPLE_BYTES = 64 * 1024

MAX_LISTED_ERRORS = 10

Publish = Callable[[bytes, bytes | None, dict[str, str]], Awaitable[None]]


def validation_summary(exc: ValidationError) -> str:
    """What failed validation, by field, without the input values.

    `str(exc)` quotes the offending input (for a model-level error, the whole payload with
    its phone numbers): that must not reach a log line or a dead-letter header.
    """
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    parts = [
        f"{'.'.join(str(p) for p in error['loc']) or '(root)'}: {error['msg']}"
        for error in errors[:MAX_LISTED_ERRORS]
    ]
    more = len(errors) - MAX_LISTED_ERRORS
    if more > 0:
        parts.append(f"... and {more} more")
    return f"{exc.title}: " + "; ".join(parts)


@dataclass
class RawMessage:
    """A consumed record as the worker sees it, independent of the Kafka client."""

    value: bytes
    key: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    topic: str = ""
    partition: int = 0
    offset: int = 0


class DeadLetters:
    """Publishes poison messages to the dead-letter topic."""

    def __init__(self, publish: Publish) -> None:
        self._publish = publish

    async def send(
        self, message: RawMessage, reason: str, error: str, *, keep_bytes: int | None = None
    ) -> None:
        """Publish `message` with why it failed; `keep_bytes` caps the value carried."""
        value = message.value
        headers = {
            **message.headers,
            "x-dlq-reason": reason,
            "x-dlq-error": error[:MAX_ERROR_HEADER],
            "x-dlq-original-topic": message.topic,
            "x-dlq-original-partition": str(message.partition),
            "x-dlq-original-offset": str(message.offset),
            "x-dlq-failed-at": iso_now(),
        }
        if keep_bytes is not None and len(value) > keep_bytes:
            headers["x-dlq-truncated"] = "true"
            headers["x-dlq-original-size"] = str(len(value))
            value = value[:keep_bytes]
        await self._publish(value, message.key, headers)

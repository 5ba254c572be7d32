"""Dead-lettering: the original key and value, with why it failed in the headers."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from schemas.base import iso_now

MAX_ERROR_HEADER = 1000

Publish = Callable[[bytes, bytes | None, dict[str, str]], Awaitable[None]]


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

    async def send(self, message: RawMessage, reason: str, error: str) -> None:
        headers = {
            **message.headers,
            "x-dlq-reason": reason,
            "x-dlq-error": error[:MAX_ERROR_HEADER],
            "x-dlq-original-topic": message.topic,
            "x-dlq-original-partition": str(message.partition),
            "x-dlq-original-offset": str(message.offset),
            "x-dlq-failed-at": iso_now(),
        }
        await self._publish(message.value, message.key, headers)

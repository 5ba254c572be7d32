"""The embedded broker's memory of every published message, for `/dev/topics`.

The broker middleware (`crm.broker_telemetry`) records each publish, so the log holds
exactly what an outside consumer of that topic would have read: key, headers, value, and
a per-topic offset.

Recording is on every publish's path, so it only keeps references (the bodies are
immutable bytes) and the clock's reading; the value is decoded and the time formatted for
display when someone reads the log.
"""

import json
import time
from collections import defaultdict, deque
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from schemas.base import iso


class _Topic:
    def __init__(self, max_messages: int) -> None:
        # The oldest fall off in O(1) once the topic is full.
        self.messages: deque[tuple[int, Any, dict[str, str], Any, float]] = deque(
            maxlen=max_messages
        )
        self.next_offset = 0


class TopicLog:
    def __init__(self, max_per_topic: int = 100_000) -> None:
        self._topics: defaultdict[str, _Topic] = defaultdict(lambda: _Topic(max_per_topic))

    def record(self, topic: str, key: Any, headers: dict[str, str] | None, body: Any) -> None:
        log = self._topics[topic]
        if isinstance(body, bytearray):  # the log must not change if the sender's buffer does
            body = bytes(body)
        log.messages.append((log.next_offset, key, dict(headers or {}), body, time.time()))
        log.next_offset += 1

    def messages(self, topic: str, *, after: int = -1, limit: int = 1000) -> list[dict[str, Any]]:
        """Oldest first, offsets greater than `after`."""
        log = self._topics.get(topic)
        if log is None or not log.messages:
            return []
        first = log.messages[0][0]  # offsets are contiguous: skip straight to `after + 1`
        start = max(0, after + 1 - first)
        return [
            {
                "offset": offset,
                "key": key.decode(errors="replace") if isinstance(key, bytes) else key,
                "headers": headers,
                "value": _readable(body),
                "timestamp": iso(datetime.fromtimestamp(published_at, UTC)),
            }
            for offset, key, headers, body, published_at in islice(
                log.messages, start, start + max(0, limit)
            )
        ]

    def topics(self) -> list[str]:
        return sorted(self._topics)


def _readable(body: Any) -> Any:
    """JSON values as JSON; other bytes as text, as a consumer would print them."""
    if isinstance(body, bytes | bytearray):
        text = bytes(body).decode(errors="replace")
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return body

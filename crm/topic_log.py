"""The embedded broker's memory of every published message, for `/dev/topics`.

A broker middleware sees each publish, so the log holds exactly what an outside consumer
of that topic would have read: key, headers, value, and a per-topic offset.
"""

import json
from collections import defaultdict
from typing import Any

from faststream import BaseMiddleware

from schemas.base import iso_now


class TopicLog:
    def __init__(self, max_per_topic: int = 100_000) -> None:
        self._topics: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._max = max_per_topic

    def record(self, topic: str, key: Any, headers: dict[str, str] | None, body: Any) -> None:
        messages = self._topics[topic]
        offset = messages[-1]["offset"] + 1 if messages else 0
        messages.append(
            {
                "offset": offset,
                "key": key.decode(errors="replace") if isinstance(key, bytes) else key,
                "headers": dict(headers or {}),
                "value": _readable(body),
                "timestamp": iso_now(),
            }
        )
        if len(messages) > self._max:
            del messages[: len(messages) - self._max]

    def messages(self, topic: str, *, after: int = -1, limit: int = 1000) -> list[dict[str, Any]]:
        """Oldest first, offsets greater than `after`."""
        return [m for m in self._topics.get(topic, []) if m["offset"] > after][:limit]

    def topics(self) -> list[str]:
        return sorted(self._topics)

    def middleware(self) -> type[BaseMiddleware]:
        log = self

        class RecordPublishes(BaseMiddleware):
            async def publish_scope(self, call_next: Any, cmd: Any) -> Any:
                log.record(cmd.destination, cmd.key, cmd.headers, cmd.body)
                return await call_next(cmd)

        return RecordPublishes


def _readable(body: Any) -> Any:
    """JSON values as JSON; other bytes as text, as a consumer would print them."""
    if isinstance(body, bytes | bytearray):
        text = bytes(body).decode(errors="replace")
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return body

"""One lock per message key, so one customer's commands never interleave in a process.

Kafka already orders a key within its partition; the lock covers the embedded broker,
where concurrent HTTP requests deliver concurrently.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class KeyedLock:
    def __init__(self) -> None:
        self._locks: dict[bytes, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: bytes) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]  # no waiters left: keep the table small
            else:
                self._locks[key] = (lock, users - 1)

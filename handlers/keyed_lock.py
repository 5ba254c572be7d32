"""One lock per message key, so one customer's commands never interleave in a process.

Kafka already orders a key within its partition; the lock covers the embedded broker,
where concurrent HTTP requests deliver concurrently.
"""

import asyncio
from types import TracebackType


class _Entry:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0  # holders and waiters


class KeyedLock:
    def __init__(self) -> None:
        self._entries: dict[bytes, _Entry] = {}

    def hold(self, key: bytes) -> "_Hold":
        """`async with locks.hold(key):` runs its body while no other holder of `key` runs."""
        return _Hold(self._entries, key)


class _Hold:
    """The context manager of one hold: a class rather than `@asynccontextmanager`,
    whose generator machinery costs more than the lock itself (once per command)."""

    __slots__ = ("_entries", "_entry", "_key")

    def __init__(self, entries: dict[bytes, _Entry], key: bytes) -> None:
        self._entries = entries
        self._key = key

    async def __aenter__(self) -> None:
        entry = self._entries.get(self._key)
        if entry is None:
            entry = self._entries[self._key] = _Entry()
        entry.users += 1
        self._entry = entry
        try:
            await entry.lock.acquire()
        except BaseException:  # cancelled while waiting: it never held the lock
            self._leave()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._entry.lock.release()
        self._leave()

    def _leave(self) -> None:
        self._entry.users -= 1
        if not self._entry.users:
            del self._entries[self._key]  # no waiters left: keep the table small

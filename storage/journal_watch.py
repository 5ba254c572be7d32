"""Wakes, in this process, whoever waits for a command's journal entry when it changes.

The facade learns a command's result by reading the journal (the worker may be another
process: reading is the contract, see http_facade/commands.py). When the worker runs in
the same process (`crm run`, or a deployment of role `all`), the pipeline also tells this
watch, so the waiting request reads the result at once instead of at its next poll; with
polling alone a write's answer waited up to the poll pause (its answers clustered at the
poll times, 14, 30, 62 ms ... after publishing). A missed signal costs nothing but that
pause: the waiter polls anyway.
"""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

Key = tuple[str, str]  # (tenant id, command id): a tuple, never a joined string


class JournalWatch:
    def __init__(self) -> None:
        self._waiting: dict[Key, list[asyncio.Future[None]]] = {}

    @contextmanager
    def expect(self, tenant_id: str, command_id: str) -> Iterator[asyncio.Future[None]]:
        """A future done when the entry changes; register it before reading the journal, so
        a change between the read and the wait is not missed."""
        key = (tenant_id, command_id)
        changed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(changed)
        try:
            yield changed
        finally:
            waiting = self._waiting.get(key)
            if waiting is not None and changed in waiting:
                waiting.remove(changed)
                if not waiting:
                    del self._waiting[key]

    def changed(self, tenant_id: str, command_id: str) -> None:
        for waiter in self._waiting.pop((tenant_id, command_id), ()):
            if not waiter.done():
                waiter.set_result(None)


async def until_changed(changed: asyncio.Future[None], timeout_s: float) -> None:
    """Until the entry changed or `timeout_s` passed, whichever comes first."""
    await asyncio.wait({changed}, timeout=timeout_s)

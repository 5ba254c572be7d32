"""Holds of one key run one at a time, in arrival order; other keys do not wait; the table
forgets a key once nobody holds or waits for it."""

import asyncio
import contextlib

import pytest

from handlers.keyed_lock import KeyedLock


async def _run(locks: KeyedLock, key: bytes, name: str, log: list[str]) -> None:
    async with locks.hold(key):
        log.append(f"{name} in")
        await asyncio.sleep(0.01)
        log.append(f"{name} out")


async def test_holds_of_one_key_do_not_overlap_and_keep_their_order() -> None:
    locks, log = KeyedLock(), []
    await asyncio.gather(*(_run(locks, b"k", str(n), log) for n in range(4)))
    assert log == [f"{n} {step}" for n in range(4) for step in ("in", "out")]
    assert locks._entries == {}


async def test_other_keys_do_not_wait() -> None:
    locks, log = KeyedLock(), []
    await asyncio.gather(_run(locks, b"a", "a", log), _run(locks, b"b", "b", log))
    assert log[:2] == ["a in", "b in"]
    assert locks._entries == {}


async def test_a_failing_body_releases_the_key() -> None:
    locks = KeyedLock()
    with pytest.raises(ValueError):
        async with locks.hold(b"k"):
            raise ValueError("boom")
    assert locks._entries == {}
    async with locks.hold(b"k"):
        pass


async def test_a_waiter_cancelled_before_its_turn_leaves_the_lock_usable() -> None:
    locks, log = KeyedLock(), []
    first = asyncio.create_task(_run(locks, b"k", "first", log))
    await asyncio.sleep(0)  # first holds the key
    waiter = asyncio.create_task(_run(locks, b"k", "waiter", log))
    await asyncio.sleep(0)  # waiter waits for it
    waiter.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiter
    await first
    assert log == ["first in", "first out"]
    assert locks._entries == {}
    await _run(locks, b"k", "next", log)
    assert log[-2:] == ["next in", "next out"]

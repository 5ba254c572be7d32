"""The in-process signal that a command's journal entry changed."""

import asyncio

from storage.journal_watch import JournalWatch, until_changed


async def test_a_change_wakes_the_waiters_of_that_command_only() -> None:
    watch = JournalWatch()
    with watch.expect("t1", "c1") as mine, watch.expect("t1", "c2") as other:
        watch.changed("t1", "c1")
        await until_changed(mine, 5)
        assert mine.done()
        assert not other.done()


async def test_tenant_and_command_are_kept_apart() -> None:
    """(tenant, command) is a tuple: ("a:b", "c") and ("a", "b:c") are two commands."""
    watch = JournalWatch()
    with watch.expect("a:b", "c") as first:
        watch.changed("a", "b:c")
        assert not first.done()


async def test_without_a_change_the_wait_ends_at_its_timeout_and_nothing_is_kept() -> None:
    watch = JournalWatch()
    with watch.expect("t1", "c1") as changed:
        await until_changed(changed, 0.01)
        assert not changed.done()
    watch.changed("t1", "c1")  # nobody waits any more: nothing to wake, nothing left over
    assert not changed.done()


async def test_every_waiter_of_a_command_is_woken() -> None:
    watch = JournalWatch()
    with watch.expect("t1", "c1") as first, watch.expect("t1", "c1") as second:
        asyncio.get_running_loop().call_soon(watch.changed, "t1", "c1")
        await asyncio.gather(until_changed(first, 5), until_changed(second, 5))
        assert first.done() and second.done()

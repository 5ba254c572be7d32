"""The in-memory store kept in a data directory (storage/embedded/snapshot.py): what a
snapshot holds comes back as it was, and a directory is never overwritten by a process
that could not read it."""

import asyncio
import shutil
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from bson import Decimal128, Int64, ObjectId
from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from storage import customers
from storage.database import Database
from storage.embedded import MemoryClient, MemoryDatabase
from storage.embedded import snapshot as memory_snapshot
from storage.embedded.snapshot import SNAPSHOT, DataDirectory, DataDirectoryError
from storage.indexes import ensure_indexes
from storage.leases import LEASES
from storage.retention import DAY_S

UNIQUE_NAME = next(m for m in customers.INDEXES if m.document.get("unique"))


def new_db() -> MemoryDatabase:
    return MemoryClient()["crm"]


def stored(db: MemoryDatabase) -> dict[str, list[dict]]:
    return {c.name: list(c.stored_documents()) for c in db.collections()}


async def reopened(directory: Path) -> MemoryDatabase:
    """A new store loaded from a copy of `directory`'s snapshot (as another process would
    load it: the directory itself stays locked by its keeper)."""
    copy = directory / f"copy-{uuid.uuid4().hex}"
    copy.mkdir()
    shutil.copy(directory / SNAPSHOT, copy / SNAPSHOT)
    db = new_db()
    keeper = DataDirectory(db, copy)
    await keeper.open()
    keeper.close()
    return db


async def test_a_saved_store_loads_back_as_it_was(tmp_path: Path) -> None:
    db = new_db()
    await ensure_indexes(db, retention_s=30 * DAY_S)  # type: ignore[arg-type]
    keeper = DataDirectory(db, tmp_path)
    assert await keeper.open() == 0
    moment = datetime(2026, 5, 4, 3, 2, 1, 123000, tzinfo=UTC)
    await db["customers"].insert_many(
        [
            {"_id": "c1", "tenantId": "t1", "name": "Acme", "_nameKey": "acme", "_deleted": False},
            {"_id": "c2", "tenantId": "t1", "name": "Beta", "_nameKey": "beta", "_deleted": False},
        ]
    )
    await db["misc"].insert_one(
        {
            "_id": ObjectId(),
            "at": moment,
            "big": Int64(2**40),
            "money": Decimal128(Decimal("12.30")),
            "nested": {"list": [1, 2.5, None, {"deep": "中文"}], "flag": True},
        }
    )
    await db["customers"].update_one({"_id": "c2"}, {"$set": {"company": "B Co"}})
    await db["customers"].insert_one(
        {"_id": "c3", "tenantId": "t1", "name": "Gone", "_nameKey": "gone", "_deleted": False}
    )
    await db["customers"].delete_one({"_id": "c3"})
    await db[LEASES].insert_one({"_id": "outbox-relay", "owner": "me", "expiresAt": 1e12})
    assert await keeper.save()
    assert not await keeper.save()  # nothing changed since
    keeper.close()

    loaded = await reopened(tmp_path)
    expected = stored(db)
    del expected[LEASES]  # who held a lease is not data
    assert stored(loaded) == expected
    [misc] = expected["misc"]
    assert misc["at"] == moment.replace(tzinfo=None)  # as the store holds it: naive UTC
    assert {c.name: c.index_definitions() for c in loaded.collections()} == {
        c.name: c.index_definitions() for c in db.collections() if c.name != LEASES
    }
    # the unique rule is an index again, not only a definition
    with pytest.raises(DuplicateKeyError):
        await loaded["customers"].insert_one(
            {"_id": "c9", "tenantId": "t1", "name": "Acme", "_nameKey": "acme", "_deleted": False}
        )


async def test_each_save_writes_what_changed_since_the_last(tmp_path: Path) -> None:
    """Only written documents are encoded again: each save still holds the whole store,
    also across a drop and documents written by every kind of write."""
    db = new_db()
    keeper = DataDirectory(db, tmp_path)
    await keeper.open()
    docs = db["docs"]
    await docs.insert_many([{"_id": i, "n": i} for i in range(5)])
    await keeper.save()
    await docs.update_many({"n": {"$gte": 3}}, {"$inc": {"n": 10}})
    await docs.replace_one({"_id": 0}, {"n": "replaced"})
    await docs.find_one_and_update({"_id": 7}, {"$set": {"n": 7}}, upsert=True)
    await docs.delete_many({"n": 1})
    await db["other"].insert_one({"_id": "x"})
    assert await keeper.save()
    assert stored(await reopened(tmp_path)) == stored(db)
    await db["other"].drop()
    await db["again"].insert_one({"_id": "y"})
    assert await keeper.save()
    assert stored(await reopened(tmp_path)) == stored(db)
    keeper.close()


async def test_a_second_process_cannot_take_the_directory(tmp_path: Path) -> None:
    first = DataDirectory(new_db(), tmp_path)
    await first.open()
    with pytest.raises(DataDirectoryError, match="in use by another process"):
        await DataDirectory(new_db(), tmp_path).open()
    first.close()
    await DataDirectory(new_db(), tmp_path).open()  # free once the first let it go


@pytest.mark.parametrize(
    ("damage", "complaint"),
    [
        (lambda data: data[: len(data) // 2], "is cut short|is damaged: "),
        (lambda data: b"not a snapshot", "is damaged: |is not a store snapshot"),
        (lambda data: data[:-1], "is cut short|is damaged: "),
    ],
    ids=["half", "garbage", "last-byte"],
)
async def test_a_damaged_snapshot_is_refused_and_left_alone(
    tmp_path: Path, damage: object, complaint: str
) -> None:
    db = new_db()
    keeper = DataDirectory(db, tmp_path)
    await keeper.open()
    await db["docs"].insert_many([{"_id": i, "text": "x" * 100} for i in range(20)])
    await keeper.save()
    keeper.close()
    path = tmp_path / SNAPSHOT
    damaged = damage(path.read_bytes())  # type: ignore[operator]
    path.write_bytes(damaged)

    refused = DataDirectory(new_db(), tmp_path)
    with pytest.raises(DataDirectoryError, match=complaint):
        await refused.open()
    assert not await refused.save()  # it never writes over what it could not read
    assert path.read_bytes() == damaged
    path.unlink()
    await DataDirectory(new_db(), tmp_path).open()  # the lock was given back


async def test_an_index_changed_since_the_snapshot_is_rebuilt(tmp_path: Path) -> None:
    """A snapshot of an older release holds its index definitions; start-up's
    `ensure_indexes` replaces one whose definition changed, as on MongoDB."""
    db = new_db()
    keeper = DataDirectory(db, tmp_path)
    await keeper.open()
    old = IndexModel([("tenantId", 1), ("name", 1)], name=UNIQUE_NAME.document["name"])
    await db["customers"].create_index(list(old.document["key"].items()), name=old.document["name"])
    await db["customers"].insert_one(
        {"_id": "c1", "tenantId": "t1", "name": "Acme", "_nameKey": "acme", "_deleted": False}
    )
    await keeper.save()
    keeper.close()

    loaded = await reopened(tmp_path)
    await ensure_indexes(loaded, retention_s=30 * DAY_S)  # type: ignore[arg-type]
    definitions = {d["name"]: d for d in loaded["customers"].index_definitions()}
    assert definitions[UNIQUE_NAME.document["name"]]["unique"] is True
    with pytest.raises(DuplicateKeyError):
        await loaded["customers"].insert_one(
            {"_id": "c2", "tenantId": "t1", "name": "ACME", "_nameKey": "acme", "_deleted": False}
        )


async def test_ensure_indexes_twice_changes_nothing() -> None:
    db: Database = new_db()  # type: ignore[assignment]
    await ensure_indexes(db, retention_s=30 * DAY_S)
    before = {c.name: c.index_definitions() for c in new_db_view(db)}
    await ensure_indexes(db, retention_s=30 * DAY_S)
    assert {c.name: c.index_definitions() for c in new_db_view(db)} == before


def new_db_view(db: Database) -> list:
    return db.collections()  # type: ignore[attr-defined,no-any-return]


async def test_a_failed_write_is_written_at_the_next_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A snapshot whose write failed (disk full) is not taken as saved: the next save
    writes it, also when nothing changed since."""
    db = new_db()
    keeper = DataDirectory(db, tmp_path)
    await keeper.open()
    await db["docs"].insert_one({"_id": "kept"})
    write = memory_snapshot._write_atomically

    def disk_full(path: Path, chunks: list[bytes]) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(memory_snapshot, "_write_atomically", disk_full)
    with pytest.raises(OSError):
        await keeper.save()
    monkeypatch.setattr(memory_snapshot, "_write_atomically", write)
    assert await keeper.save()
    assert not await keeper.save()
    assert stored(await reopened(tmp_path)) == stored(db)
    keeper.close()


async def test_keep_saving_stops_when_asked(tmp_path: Path) -> None:
    db = new_db()
    keeper = DataDirectory(db, tmp_path)
    await keeper.open()
    saving = asyncio.create_task(keeper.keep_saving(3600))
    await db["docs"].insert_one({"_id": "late"})
    keeper.stop_saving()
    await asyncio.wait_for(saving, 10)  # returns without waiting out its interval
    assert await keeper.save()  # the last save is the caller's
    keeper.close()

"""Customers stored before name keys were NFKC-normalised are re-keyed once at start-up
(`storage.name_keys`), so the duplicate-name rule holds for them too."""

from typing import Any

from handlers.decision import CommandContext
from handlers.use_cases.customers import create_customer
from schemas.customers import CreateCustomer
from schemas.envelope import CommandEnvelope, CommandStatus, CommandType
from storage.changes import apply_changes
from storage.customers import CUSTOMERS
from storage.database import Database
from storage.indexes import ensure_indexes
from storage.name_keys import MIGRATIONS, rekey_customer_names
from tests.helpers import indexed_memory_db


def stored(customer_id: str, name: str, former_key: str, **fields: Any) -> dict[str, Any]:
    return {
        "_id": customer_id,
        "tenantId": "t1",
        "name": name,
        "_nameKey": former_key,
        "_deleted": False,
        **fields,
    }


async def create(db: Database, command_id: str, name: str) -> str | None:
    payload = CreateCustomer(name=name)
    envelope = CommandEnvelope(
        command_id=command_id,
        type=CommandType.CUSTOMER_CREATE,
        tenant_id="t1",
        actor_id="u1",
        payload=payload.wire(),
    )
    decision = await create_customer(CommandContext(envelope, payload), db)
    assert decision.status is CommandStatus.SUCCEEDED
    outcome = await apply_changes(db, decision.changes)
    return None if outcome.rejection is None else str(outcome.rejection["code"])


async def test_a_former_key_is_rekeyed_and_then_guards_the_name() -> None:
    db = await indexed_memory_db()  # runs the re-keying of an empty store: recorded as done
    await db[MIGRATIONS].delete_many({})  # a store written by the former version
    await db[CUSTOMERS].insert_one(stored("c-wide", "Ａｃｍｅ", "ａｃｍｅ"))
    await db[CUSTOMERS].insert_one(stored("c-plain", "Beta", "beta"))
    assert await create(db, "k-1", "acme") is None  # the former key let the lookalike in
    await db[CUSTOMERS].delete_one({"name": "acme"})

    assert await rekey_customer_names(db) == 1
    wide = await db[CUSTOMERS].find_one({"_id": "c-wide"})
    assert wide is not None and wide["_nameKey"] == "acme"
    assert await create(db, "k-2", "ACME") == "DUPLICATE_CUSTOMER_NAME"
    assert await rekey_customer_names(db) == 0  # once per database


async def test_a_name_that_now_collides_keeps_its_former_key() -> None:
    db = await indexed_memory_db()
    await db[MIGRATIONS].delete_many({})
    await db[CUSTOMERS].insert_one(stored("c-wide", "Ａｃｍｅ", "ａｃｍｅ"))
    await db[CUSTOMERS].insert_one(stored("c-plain", "acme", "acme"))
    await db[CUSTOMERS].insert_one(stored("c-gone", "ＢＥＴＡ", "ｂｅｔａ", _deleted=True))
    assert await rekey_customer_names(db) == 1  # the deleted one; the live lookalike stays
    kept = await db[CUSTOMERS].find_one({"_id": "c-wide"})
    assert kept is not None and kept["_nameKey"] == "ａｃｍｅ"


async def test_start_up_runs_it() -> None:
    db = await indexed_memory_db()
    await db[MIGRATIONS].delete_many({})
    await db[CUSTOMERS].insert_one(stored("c-wide", "Ｇａｍｍａ", "ｇａｍｍａ"))
    await ensure_indexes(db, retention_s=0)
    wide = await db[CUSTOMERS].find_one({"_id": "c-wide"})
    assert wide is not None and wide["_nameKey"] == "gamma"

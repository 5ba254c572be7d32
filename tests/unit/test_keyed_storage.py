"""Stored keys against the in-memory store: tenants whose joined keys collided share
nothing, what older releases stored under an ambiguous key is still found by its owner and
never by anyone else, and the start-up migration moves it to its key."""

from typing import Any

import pytest

from handlers.outbox import event_id
from handlers.pipeline import CommandProcessor
from handlers.relay import OutboxRelay
from schemas.envelope import CommandEnvelope, CommandResult, CommandStatus, CommandType
from schemas.ids import command_key, derived_id, legacy_derived_id
from storage import changes
from storage.changes import apply_changes
from storage.customer_profile import BINDINGS, BindingRepository, binding_key
from storage.customers import CUSTOMERS
from storage.database import Database, Document
from storage.journal import JOURNAL, CommandJournal, KeyTaken
from storage.key_migration import MIGRATIONS, UNAMBIGUOUS_KEYS, move_ambiguous_keys
from storage.parked_events import PARKED_EVENTS, ParkedEventRepository
from storage.submissions import SUBMISSIONS, CommandSubmissions
from tests.helpers import EventSink, indexed_memory_db


async def create(db: Database, tenant: str, command_id: str, name: str) -> CommandResult:
    envelope = CommandEnvelope(
        command_id=command_id,
        type=CommandType.CUSTOMER_CREATE,
        tenant_id=tenant,
        actor_id="u1",
        payload={"name": name, "phone": "13812345678"},
    )
    return await CommandProcessor(db).process(envelope)


async def as_an_older_release_stored_it(db: Database, collection: str, doc_id: str) -> Document:
    """Move a document to the joined text older releases keyed it by (a database they wrote
    has not been migrated either)."""
    await db[MIGRATIONS].delete_one({"_id": UNAMBIGUOUS_KEYS})
    doc = await db[collection].find_one({"_id": doc_id})
    assert doc is not None
    if collection == BINDINGS:
        parts = [doc["tenantId"], doc["systemType"], doc["systemName"].casefold()]
        text = "|".join([*parts, doc["externalId"]])
    else:
        text = f"{doc['tenantId']}:{doc['commandId']}"
    await db[collection].delete_one({"_id": doc_id})
    await db[collection].insert_one({**doc, "_id": text})
    return {**doc, "_id": text}


async def test_tenants_whose_joined_keys_collided_get_their_own_results() -> None:
    db = await indexed_memory_db()
    first = await create(db, "a", "b:c", "Alpha")
    second = await create(db, "a:b", "c", "Alpha")  # the same joined text `a:b:c`
    assert first.status is second.status is CommandStatus.SUCCEEDED
    assert (first.tenant_id, second.tenant_id) == ("a", "a:b")
    assert first.entity_id != second.entity_id
    assert await db[CUSTOMERS].count_documents({}) == 2
    journal = CommandJournal(db)
    own = await journal.find("a:b", "c")
    assert own is not None and own["result"]["entityId"] == second.entity_id


async def test_an_entry_stored_under_an_ambiguous_key_is_found_by_its_owner_only() -> None:
    db = await indexed_memory_db()
    stored = await create(db, "a:b", "c", "Alpha")
    await as_an_older_release_stored_it(db, JOURNAL, command_key("a:b", "c"))
    journal = CommandJournal(db)
    assert await journal.find("a", "b:c") is None  # tenant a's key `a:b:c`: not its entry
    assert await journal.outcome("a", "b:c") is None
    outcome = await journal.outcome("a:b", "c")
    assert outcome is not None and outcome["result"]["entityId"] == stored.entity_id
    again = await create(db, "a:b", "c", "Alpha")  # a redelivery: its first result
    assert again.entity_id == stored.entity_id and again.status is CommandStatus.SUCCEEDED
    assert await db[JOURNAL].count_documents({}) == 1
    with pytest.raises(KeyTaken):  # tenant a's command cannot be stored there
        await create(db, "a", "b:c", "Beta")


async def test_the_migration_moves_ambiguous_entries_and_frees_their_text() -> None:
    db = await indexed_memory_db()
    stored = await create(db, "a:b", "c", "Alpha")
    await as_an_older_release_stored_it(db, JOURNAL, command_key("a:b", "c"))
    await create(db, "t1", "c1", "Plain")  # unambiguous: not moved
    assert await move_ambiguous_keys(db) == 1
    moved = await db[JOURNAL].find_one({"_id": command_key("a:b", "c")})
    assert moved is not None and moved["legacyIds"] is True
    assert await db[JOURNAL].find_one({"_id": "a:b:c"}) is None
    assert await db[JOURNAL].find_one({"_id": "t1:c1"}) is not None
    assert (await create(db, "a:b", "c", "Alpha")).entity_id == stored.entity_id
    beta = await create(db, "a", "b:c", "Beta")
    assert beta.status is CommandStatus.SUCCEEDED and beta.entity_id != stored.entity_id
    assert await move_ambiguous_keys(db) == 0  # once per database
    assert await db[MIGRATIONS].count_documents({"_id": UNAMBIGUOUS_KEYS}) == 1


async def test_a_moved_entry_publishes_its_events_with_the_ids_an_older_release_gave() -> None:
    db = await indexed_memory_db()
    await create(db, "a:b", "old", "Old")
    await as_an_older_release_stored_it(db, JOURNAL, command_key("a:b", "old"))
    await move_ambiguous_keys(db)
    await create(db, "a:b", "new", "New")
    sink = EventSink()
    await OutboxRelay(CommandJournal(db), sink).run_once()
    assert [event["id"] for event in sink.sent] == [
        legacy_derived_id("a:b", "old", "event", "0"),
        derived_id("a:b", "new", "event", "0"),
    ]
    assert derived_id("a:b", "new", "event", "0") != legacy_derived_id("a:b", "new", "event", "0")
    assert event_id("t1", "x", 0) == legacy_derived_id("t1", "x", "event", "0")


async def test_submissions_and_parked_events_of_an_ambiguous_tenant_are_moved() -> None:
    db = await indexed_memory_db()
    submissions, parked = CommandSubmissions(db), ParkedEventRepository(db)
    record = {"tenantId": "a:b", "commandId": "c", "type": "customer.create"}
    await submissions.record({**record, "fingerprint": "f", "submittedAt": "2026-01-01"})
    await parked.park({**record, "_identityKey": None, "customerId": None, "identity": None})
    for collection in (SUBMISSIONS, PARKED_EVENTS):
        await as_an_older_release_stored_it(db, collection, command_key("a:b", "c"))
    assert await submissions.find("a", "b:c") is None and await parked.find("a", "b:c") is None
    assert await submissions.find("a:b", "c") is not None
    assert not await parked.park({**record, "_identityKey": None})  # parked already
    assert await move_ambiguous_keys(db) == 2
    for collection in (SUBMISSIONS, PARKED_EVENTS):
        assert await db[collection].find_one({"_id": "a:b:c"}) is None
        assert await db[collection].find_one({"_id": command_key("a:b", "c")}) is not None
    await parked.remove_event("a:b", "c")
    assert await db[PARKED_EVENTS].count_documents({}) == 0


def binding(tenant: str, name: str, external_id: str, customer_id: str) -> Document:
    return {
        "_id": binding_key(tenant, "im", name, external_id),
        "tenantId": tenant,
        "customerId": customer_id,
        "systemType": "im",
        "systemName": name,
        "externalId": external_id,
    }


async def test_identities_whose_joined_keys_collided_are_different_bindings() -> None:
    db = await indexed_memory_db()
    await db[BINDINGS].insert_one(binding("t1", "we|com", "x", "c-1"))
    await db[BINDINGS].insert_one(binding("t1", "we", "com|x", "c-2"))  # `t1|im|we|com|x`
    repo = BindingRepository(db)
    first = await repo.get("t1", "im", "WE|COM", "x")
    second = await repo.get("t1", "im", "we", "com|x")
    assert first is not None and first["customerId"] == "c-1"
    assert second is not None and second["customerId"] == "c-2"


async def test_the_migration_moves_ambiguous_bindings_and_repoints_parked_events() -> None:
    db = await indexed_memory_db()
    await db[BINDINGS].insert_one(binding("t1", "we|com", "x", "c-1"))
    old = await as_an_older_release_stored_it(db, BINDINGS, binding_key("t1", "im", "we|com", "x"))
    identity = {"systemType": "im", "systemName": "We|Com", "externalId": "y"}
    waiting: dict[str, Any] = {"tenantId": "t1", "commandId": "e1", "identity": identity}
    await ParkedEventRepository(db).park({**waiting, "_identityKey": "t1|im|we|com|y"})
    repo = BindingRepository(db)
    assert await repo.get("t1", "im", "we", "com|x") is None  # its text, not its binding
    assert (await repo.get("t1", "im", "we|com", "x") or {}).get("_id") == old["_id"]
    assert await move_ambiguous_keys(db) == 1
    moved = await repo.get("t1", "im", "we|com", "x")
    assert moved is not None and moved["_id"] == binding_key("t1", "im", "we|com", "x")
    [parked] = await db[PARKED_EVENTS].find({}).to_list()
    assert parked["_identityKey"] == binding_key("t1", "im", "We|Com", "y")


async def test_replace_if_takes_over_a_document_once_and_refuses_a_changed_one() -> None:
    db = await indexed_memory_db()
    conflict = {"code": "TAKEN", "kind": "conflict", "message": "taken"}
    await db[BINDINGS].insert_one({"_id": "k", "customerId": "gone"})
    mine = changes.replace_if(
        BINDINGS, {"_id": "k", "customerId": "me"}, {"customerId": "gone"}, conflict
    )
    assert (await apply_changes(db, [mine])).rejection is None
    assert (await apply_changes(db, [mine])).rejection is None  # applied again: a no-op
    theirs = changes.replace_if(
        BINDINGS, {"_id": "k", "customerId": "them"}, {"customerId": "gone"}, conflict
    )
    assert (await apply_changes(db, [theirs])).rejection == conflict
    assert await db[BINDINGS].find_one({"_id": "k"}) == {"_id": "k", "customerId": "me"}
    await db[BINDINGS].delete_one({"_id": "k"})
    assert (await apply_changes(db, [theirs])).rejection is None  # gone meanwhile: created

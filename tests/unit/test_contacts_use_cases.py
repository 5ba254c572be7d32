"""Contact use cases on their own: what they decide, and that the changes apply idempotently."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from handlers.decision import CommandContext, Decision
from handlers.registry import use_case_for
from handlers.use_cases.contacts import create_contact, delete_contact, update_contact
from schemas.contacts import CreateContact, DeleteContact, UpdateContact
from schemas.envelope import CommandEnvelope, CommandStatus, CommandType
from storage.changes import apply_changes
from storage.contacts import CONTACTS, ContactRepository
from storage.customers import CUSTOMERS
from storage.database import Database
from storage.embedded import MemoryClient
from storage.indexes import ensure_indexes

TENANT = "t1"


@pytest.fixture
async def db() -> AsyncIterator[Database]:
    client = MemoryClient()
    database: Any = client["unit"]
    await ensure_indexes(database, retention_s=0)
    await database[CUSTOMERS].insert_many(
        [
            {"_id": cid, "tenantId": tenant, "name": cid, "_nameKey": cid, "_deleted": deleted}
            for cid, tenant, deleted in [
                ("c1", TENANT, False),
                ("c2", TENANT, False),
                ("gone", TENANT, True),
                ("foreign", "t2", False),
            ]
        ]
    )
    yield database
    await client.close()


def context(command_type: CommandType, payload: dict[str, Any], command_id: str) -> Any:
    envelope = CommandEnvelope(
        command_id=command_id,
        type=command_type,
        tenant_id=TENANT,
        actor_id="u1",
        payload=payload,
    )
    model = use_case_for(command_type).payload_model
    return CommandContext(envelope, model.model_validate(payload))


async def run(db: Database, decision: Decision) -> Decision:
    """Apply a decision's changes twice, as a redelivery after a crash would."""
    await apply_changes(db, decision.changes)
    await apply_changes(db, decision.changes)
    return decision


async def create(db: Database, command_id: str, **payload: Any) -> Decision:
    ctx: CommandContext[CreateContact] = context(
        CommandType.CONTACT_CREATE, {"customerId": "c1", "name": "N", **payload}, command_id
    )
    return await run(db, await create_contact(ctx, db))


async def update(db: Database, command_id: str, **payload: Any) -> Decision:
    ctx: CommandContext[UpdateContact] = context(CommandType.CONTACT_UPDATE, payload, command_id)
    return await run(db, await update_contact(ctx, db))


def test_contact_command_types_are_registered() -> None:
    assert use_case_for(CommandType.CONTACT_CREATE).payload_model is CreateContact
    assert use_case_for(CommandType.CONTACT_UPDATE).payload_model is UpdateContact
    assert use_case_for(CommandType.CONTACT_DELETE).payload_model is DeleteContact


async def test_create_decides_a_deterministic_id_and_one_event(db: Database) -> None:
    decision = await create(db, "cmd-1", phone="13812345678", title="CTO")
    again = await create_contact(
        context(
            CommandType.CONTACT_CREATE,
            {"customerId": "c1", "name": "N", "phone": "13812345678", "title": "CTO"},
            "cmd-1",
        ),
        db,
    )
    assert decision.status is CommandStatus.SUCCEEDED
    assert decision.entity_id == again.entity_id  # same command → same id
    assert decision.data["customerId"] == "c1"
    assert decision.data["isPrimary"] is False
    assert [c["op"] for c in decision.changes] == ["insert"]
    [event] = decision.events
    assert (event.entity, event.action, event.subject, event.customer_id) == (
        "contact",
        "created",
        decision.entity_id,
        "c1",
    )
    stored = await db[CONTACTS].find_one({"_id": decision.entity_id})
    assert stored is not None
    assert stored["tenantId"] == TENANT and stored["_deleted"] is False
    assert await db[CONTACTS].count_documents({}) == 1  # applying twice inserted once


@pytest.mark.parametrize("customer_id", ["missing", "gone", "foreign"])
async def test_create_needs_a_live_customer_of_the_tenant(db: Database, customer_id: str) -> None:
    ctx: CommandContext[CreateContact] = context(
        CommandType.CONTACT_CREATE, {"customerId": customer_id, "name": "N"}, "cmd-x"
    )
    decision = await create_contact(ctx, db)
    assert decision.status is CommandStatus.REJECTED
    assert decision.error is not None
    assert decision.error["code"] == "CUSTOMER_NOT_FOUND"
    assert decision.changes == [] and decision.events == []


async def test_a_new_primary_demotes_the_old_one(db: Database) -> None:
    first = await create(db, "cmd-1", isPrimary=True)
    other = await create(db, "cmd-2", customerId="c2", isPrimary=True)
    second = await create(db, "cmd-3", isPrimary=True)
    assert [c["op"] for c in second.changes] == ["insert", "put"]
    assert [(e.action, e.subject) for e in second.events] == [
        ("created", second.entity_id),
        ("updated", first.entity_id),
    ]
    primaries = await ContactRepository(db).primaries(TENANT, "c1")
    assert [doc["_id"] for doc in primaries] == [second.entity_id]
    assert [d["_id"] for d in await ContactRepository(db).primaries(TENANT, "c2")] == [
        other.entity_id
    ]


async def test_update_sets_clears_and_promotes(db: Database) -> None:
    first = await create(db, "cmd-1", isPrimary=True, email="a@b.co")
    second = await create(db, "cmd-2")
    decision = await update(
        db, "cmd-3", contactId=second.entity_id, isPrimary=True, title="CEO", email=None
    )
    assert decision.status is CommandStatus.SUCCEEDED
    assert decision.data["title"] == "CEO" and decision.data["isPrimary"] is True
    assert [e.action for e in decision.events] == ["updated", "updated"]
    demoted = await ContactRepository(db).get(TENANT, str(first.entity_id))
    assert demoted is not None and demoted["isPrimary"] is False
    assert demoted["email"] == "a@b.co"  # the other contact keeps its fields
    keeps_primary = await update(db, "cmd-4", contactId=second.entity_id, title="CFO")
    assert [e.action for e in keeps_primary.events] == ["updated"]  # nobody else to demote


async def test_update_can_move_to_a_live_customer_only(db: Database) -> None:
    created = await create(db, "cmd-1")
    for target in ("missing", "gone", "foreign"):
        rejected = await update(db, f"cmd-{target}", contactId=created.entity_id, customerId=target)
        assert rejected.status is CommandStatus.REJECTED
        assert rejected.error is not None and rejected.error["code"] == "CUSTOMER_NOT_FOUND"
    moved = await update(db, "cmd-2", contactId=created.entity_id, customerId="c2")
    assert moved.data["customerId"] == "c2"
    assert moved.events[0].customer_id == "c2"


async def test_update_and_delete_of_unknown_contact_are_not_found(db: Database) -> None:
    updated = await update(db, "cmd-1", contactId="nope", title="x")
    assert updated.error is not None and updated.error["code"] == "CONTACT_NOT_FOUND"
    ctx: CommandContext[DeleteContact] = context(
        CommandType.CONTACT_DELETE, {"contactId": "nope"}, "cmd-2"
    )
    deleted = await delete_contact(ctx, db)
    assert deleted.error is not None and deleted.error["code"] == "CONTACT_NOT_FOUND"


async def test_delete_is_soft(db: Database) -> None:
    created = await create(db, "cmd-1")
    ctx: CommandContext[DeleteContact] = context(
        CommandType.CONTACT_DELETE, {"contactId": created.entity_id}, "cmd-2"
    )
    decision = await run(db, await delete_contact(ctx, db))
    assert decision.data == {"id": created.entity_id, "deleted": True}
    assert [(e.action, e.customer_id) for e in decision.events] == [("deleted", "c1")]
    assert await ContactRepository(db).get(TENANT, str(created.entity_id)) is None
    stored = await db[CONTACTS].find_one({"_id": created.entity_id})
    assert stored is not None and stored["_deleted"] is True


def test_update_payload_refuses_nulls_for_required_fields() -> None:
    for field in ("name", "customerId", "isPrimary"):
        with pytest.raises(ValueError, match=field):
            UpdateContact.model_validate({"contactId": "x", field: None})
    assert UpdateContact.model_validate({"contactId": "x", "email": None}).wire() == {
        "contactId": "x",
        "email": None,
    }

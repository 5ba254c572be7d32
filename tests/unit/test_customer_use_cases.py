"""Customer use cases against the in-memory store, without broker or HTTP."""

import json
from typing import Any

from pydantic_core import to_jsonable_python

from handlers.decision import CommandContext, EventBatch
from handlers.use_cases.customers import (
    create_customer,
    delete_customer,
    import_customers,
    update_customer,
)
from schemas.customers import CreateCustomer, DeleteCustomer, ImportCustomers, UpdateCustomer
from schemas.envelope import CommandEnvelope, CommandStatus, CommandType
from storage.changes import apply_changes
from storage.database import Database
from storage.embedded import MemoryClient
from storage.indexes import ensure_indexes


async def store() -> Database:
    db: Database = MemoryClient()["unit"]  # type: ignore[assignment]
    await ensure_indexes(db, retention_s=0)
    return db


def context(command_type: CommandType, payload: Any, command_id: str = "c1") -> CommandContext[Any]:
    envelope = CommandEnvelope(
        command_id=command_id,
        type=command_type,
        tenant_id="t1",
        actor_id="u1",
        payload=payload.wire(),
    )
    return CommandContext(envelope, payload)


async def test_create_decides_a_deterministic_customer() -> None:
    db = await store()
    ctx = context(CommandType.CUSTOMER_CREATE, CreateCustomer(name="  Acme  "))
    first = await create_customer(ctx, db)
    second = await create_customer(ctx, db)
    assert first.status is CommandStatus.SUCCEEDED
    assert first.entity_id == second.entity_id  # same command, same id
    assert first.data["name"] == "Acme"
    assert [e.action for e in first.events] == ["created"]


async def test_a_created_customers_data_is_json_as_it_is() -> None:
    """Create says its data needs no conversion to be stored (`data_is_json`): with every
    field given, the customer's view holds JSON values only."""
    fields = {name: "x@y.cn" for name in CreateCustomer.model_fields}
    fields.update(phone="+86 138", tags=["a", "客"], name=" 客户 ")
    ctx = context(CommandType.CUSTOMER_CREATE, CreateCustomer.model_validate(fields))
    decision = await create_customer(ctx, await store())
    assert decision.data_is_json
    assert set(decision.data) > {"phone", "email", "tags", "ownerId", "vip", "profile"}
    assert json.loads(json.dumps(decision.data, allow_nan=False)) == decision.data
    assert to_jsonable_python(decision.data) == decision.data


async def test_create_rejects_a_taken_name_case_and_space_insensitively() -> None:
    db = await store()
    decision = await create_customer(
        context(CommandType.CUSTOMER_CREATE, CreateCustomer(name="Acme  Ltd")), db
    )
    await apply_changes(db, decision.changes)
    again = await create_customer(
        context(CommandType.CUSTOMER_CREATE, CreateCustomer(name="acme ltd"), "c2"), db
    )
    # The unique name index decides when the insert is applied (no look-up beforehand).
    outcome = await apply_changes(db, again.changes)
    assert outcome.rejection is not None
    assert outcome.rejection["code"] == "DUPLICATE_CUSTOMER_NAME"
    assert outcome.rejection["message"] == "客户名称已存在"
    assert await db["customers"].count_documents({"tenantId": "t1"}) == 1


async def test_update_changes_only_present_fields_and_clears_nulls() -> None:
    db = await store()
    created = await create_customer(
        context(
            CommandType.CUSTOMER_CREATE, CreateCustomer(name="A", email="a@x.io", company="Co")
        ),
        db,
    )
    await apply_changes(db, created.changes)
    payload = UpdateCustomer.model_validate(
        {"customerId": created.entity_id, "company": None, "level": "gold"}
    )
    updated = await update_customer(context(CommandType.CUSTOMER_UPDATE, payload, "c2"), db)
    assert updated.data["email"] == "a@x.io"
    assert updated.data["level"] == "gold"
    assert "company" not in updated.data


async def test_delete_frees_the_name() -> None:
    db = await store()
    created = await create_customer(
        context(CommandType.CUSTOMER_CREATE, CreateCustomer(name="A")), db
    )
    await apply_changes(db, created.changes)
    deleted = await delete_customer(
        context(
            CommandType.CUSTOMER_DELETE, DeleteCustomer(customer_id=created.entity_id or ""), "c2"
        ),
        db,
    )
    await apply_changes(db, deleted.changes)
    recreated = await create_customer(
        context(CommandType.CUSTOMER_CREATE, CreateCustomer(name="a"), "c3"), db
    )
    assert recreated.status is CommandStatus.SUCCEEDED


async def test_import_reports_each_item() -> None:
    db = await store()
    existing = await create_customer(
        context(CommandType.CUSTOMER_CREATE, CreateCustomer(name="Old")), db
    )
    await apply_changes(db, existing.changes)
    payload = ImportCustomers.model_validate(
        {"items": [{"name": "New"}, {"name": "new"}, {"name": "OLD"}, {"phone": "1"}]}
    )
    decision = await import_customers(context(CommandType.CUSTOMER_IMPORT, payload, "c2"), db)
    statuses = [(i["index"], i["status"]) for i in decision.data["items"]]
    assert statuses == [(0, "created"), (1, "duplicate"), (2, "duplicate"), (3, "invalid")]
    assert decision.data["created"] == 1
    [batch] = decision.events  # one `created` event for each created customer
    assert isinstance(batch, EventBatch) and batch.documents == decision.changes[0]["docs"]
    assert [doc["name"] for doc in batch.documents] == ["New"]


async def test_an_imports_outcomes_are_json_as_they_are() -> None:
    """The import says its data needs no conversion to be stored (`data_is_json`): each
    outcome, created, duplicate or invalid (its message quoting the item), is JSON as is."""
    db = await store()
    items: list[Any] = [{"name": "A"}, {"name": "a"}, {"name": ""}, "x", {"name": "B", "tags": 7}]
    payload = ImportCustomers.model_validate({"items": items})
    decision = await import_customers(context(CommandType.CUSTOMER_IMPORT, payload), db)
    assert decision.data_is_json
    assert json.loads(json.dumps(decision.data, allow_nan=False)) == decision.data
    assert {item["status"] for item in decision.data["items"]} == {
        "created",
        "duplicate",
        "invalid",
    }

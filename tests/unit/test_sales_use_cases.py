"""Sales use cases (opportunities, follow-ups, contracts, payments) and the report queries,
against the in-memory store without broker or HTTP. The use cases re-check every rule:
Kafka producers send these commands without going through the facade."""

import itertools
from typing import Any

import pytest
from pydantic import ValidationError

from handlers.decision import CommandContext, Decision
from handlers.pipeline import CommandProcessor, InvalidCommand
from handlers.registry import use_case_for
from handlers.use_cases.contracts import create_contract
from handlers.use_cases.customers import create_customer
from handlers.use_cases.follow_ups import create_follow_up, delete_follow_up, update_follow_up
from handlers.use_cases.opportunities import (
    create_opportunity,
    delete_opportunity,
    update_opportunity,
)
from handlers.use_cases.payments import create_payment
from schemas.contracts import CreateContract
from schemas.customers import CreateCustomer
from schemas.envelope import CommandEnvelope, CommandStatus, CommandType
from schemas.follow_ups import CreateFollowUp, DeleteFollowUp, UpdateFollowUp
from schemas.opportunities import CreateOpportunity, DeleteOpportunity, UpdateOpportunity
from schemas.payments import CreatePayment
from storage import reports
from storage.changes import apply_changes
from storage.contracts import CONTRACTS
from storage.database import Database
from storage.embedded import MemoryClient
from storage.indexes import ensure_indexes
from storage.opportunities import OPPORTUNITIES
from storage.payments import PAYMENTS

_ids = itertools.count()


async def store() -> Database:
    db: Database = MemoryClient()["test"]  # type: ignore[assignment]
    await ensure_indexes(db, retention_s=0)
    return db


def context(
    command_type: CommandType,
    payload: Any,
    *,
    command_id: str | None = None,
    tenant: str = "t1",
) -> CommandContext[Any]:
    envelope = CommandEnvelope(
        command_id=command_id or f"cmd-{next(_ids)}",
        type=command_type,
        tenant_id=tenant,
        actor_id="u1",
        payload=payload.wire(),
    )
    return CommandContext(envelope, payload)


async def applied(decision: Decision, db: Database) -> Decision:
    """Apply a successful decision's changes, as the pipeline would after committing it."""
    assert decision.status is CommandStatus.SUCCEEDED, decision.error
    outcome = await apply_changes(db, decision.changes)
    assert outcome.rejection is None
    return decision


def rejected(decision: Decision, code: str, kind: str) -> None:
    assert decision.status is CommandStatus.REJECTED
    assert decision.changes == [] and decision.events == []
    assert decision.error is not None
    assert (decision.error["code"], decision.error["kind"]) == (code, kind)


async def customer(db: Database, tenant: str = "t1") -> str:
    ctx = context(CommandType.CUSTOMER_CREATE, CreateCustomer(name=f"C{next(_ids)}"), tenant=tenant)
    decision = await applied(await create_customer(ctx, db), db)
    assert decision.entity_id is not None
    return decision.entity_id


async def opportunity(
    db: Database, customer_id: str, tenant: str = "t1", **fields: Any
) -> dict[str, Any]:
    payload = CreateOpportunity(customer_id=customer_id, name="Deal", **fields)
    ctx = context(CommandType.OPPORTUNITY_CREATE, payload, tenant=tenant)
    decision = await create_opportunity(ctx, db)
    return dict((await applied(decision, db)).data)


async def contract(db: Database, customer_id: str, amount: float, **fields: Any) -> dict[str, Any]:
    payload = CreateContract(
        contract_no=f"N-{next(_ids)}", customer_id=customer_id, amount=amount, **fields
    )
    decision = await create_contract(context(CommandType.CONTRACT_CREATE, payload), db)
    return dict((await applied(decision, db)).data)


# --- opportunities -----------------------------------------------------------------------


async def test_opportunity_create_is_deterministic_and_announced() -> None:
    db = await store()
    customer_id = await customer(db)
    ctx = context(
        CommandType.OPPORTUNITY_CREATE,
        CreateOpportunity(customer_id=customer_id, name="Deal", amount=10),
    )
    first = await create_opportunity(ctx, db)
    second = await create_opportunity(ctx, db)
    assert first.entity_id == second.entity_id == ctx.new_id("opportunity")
    assert first.data["stage"] == "lead"
    assert first.data["ownerId"] == "u1"  # the actor when no owner is given
    [event] = first.events
    assert (event.entity, event.action, event.subject, event.customer_id) == (
        "opportunity",
        "created",
        first.entity_id,
        customer_id,
    )
    await applied(first, db)
    await apply_changes(db, first.changes)  # applying again is harmless
    assert await db[OPPORTUNITIES].count_documents({}) == 1


async def test_opportunity_needs_a_live_customer_of_the_tenant() -> None:
    db = await store()
    customer_id = await customer(db, tenant="t2")
    for customer_ref in ("nope", customer_id):
        decision = await create_opportunity(
            context(
                CommandType.OPPORTUNITY_CREATE,
                CreateOpportunity(customer_id=customer_ref, name="x"),
            ),
            db,
        )
        rejected(decision, "CUSTOMER_NOT_FOUND", "not_found")


def test_opportunity_payload_rules() -> None:
    with pytest.raises(ValidationError):
        CreateOpportunity.model_validate({"customerId": "c", "name": "x", "stage": "closed"})
    with pytest.raises(ValidationError):
        CreateOpportunity.model_validate({"customerId": "c", "name": "x", "amount": -1})
    with pytest.raises(ValidationError):
        UpdateOpportunity.model_validate({"opportunityId": "o", "stage": None})
    day = CreateOpportunity.model_validate(
        {"customerId": "c", "name": "x", "expectedCloseDate": "2026-03-01T23:30:00-02:00"}
    )
    assert day.expected_close_date is not None
    assert day.expected_close_date.isoformat() == "2026-03-02"  # the UTC day


async def test_opportunity_update_and_delete() -> None:
    db = await store()
    created = await opportunity(db, await customer(db), amount=5, expected_close_date="2026-01-01")
    update = UpdateOpportunity.model_validate(
        {"opportunityId": created["id"], "stage": "won", "expectedCloseDate": None}
    )
    decision = await applied(
        await update_opportunity(context(CommandType.OPPORTUNITY_UPDATE, update), db), db
    )
    assert decision.data["stage"] == "won"
    assert decision.data["expectedCloseDate"] is None
    assert decision.data["amount"] == 5
    delete = DeleteOpportunity(opportunity_id=created["id"])
    deleted = await applied(
        await delete_opportunity(context(CommandType.OPPORTUNITY_DELETE, delete), db), db
    )
    assert deleted.data == {"id": created["id"], "deleted": True}
    assert [e.action for e in deleted.events] == ["deleted"]
    stored = await db[OPPORTUNITIES].find_one({"_id": created["id"]})
    assert stored is not None and stored["_deleted"] is True
    again = await delete_opportunity(context(CommandType.OPPORTUNITY_DELETE, delete), db)
    rejected(again, "OPPORTUNITY_NOT_FOUND", "not_found")
    after = await update_opportunity(context(CommandType.OPPORTUNITY_UPDATE, update), db)
    rejected(after, "OPPORTUNITY_NOT_FOUND", "not_found")


# --- follow-ups --------------------------------------------------------------------------


async def test_follow_up_opportunity_must_belong_to_the_customer() -> None:
    db = await store()
    mine, theirs = await customer(db), await customer(db)
    deal = await opportunity(db, mine)
    their_deal = await opportunity(db, theirs)

    async def create(**fields: Any) -> Decision:
        payload = CreateFollowUp(content="x", **fields)
        return await create_follow_up(context(CommandType.FOLLOW_UP_CREATE, payload), db)

    rejected(await create(customer_id="nope"), "CUSTOMER_NOT_FOUND", "not_found")
    rejected(
        await create(customer_id=mine, opportunity_id="nope"), "OPPORTUNITY_NOT_FOUND", "not_found"
    )
    rejected(
        await create(customer_id=mine, opportunity_id=their_deal["id"]),
        "OPPORTUNITY_CUSTOMER_MISMATCH",
        "invalid",
    )
    ok = await applied(await create(customer_id=mine, opportunity_id=deal["id"]), db)
    assert ok.data["method"] == "other"
    assert ok.data["followedAt"] == ok.data["createdAt"]
    assert ok.events[0].customer_id == mine

    update = UpdateFollowUp(follow_up_id=ok.data["id"], opportunity_id=their_deal["id"])
    rejected(
        await update_follow_up(context(CommandType.FOLLOW_UP_UPDATE, update), db),
        "OPPORTUNITY_CUSTOMER_MISMATCH",
        "invalid",
    )
    clear = UpdateFollowUp.model_validate({"followUpId": ok.data["id"], "opportunityId": None})
    cleared = await update_follow_up(context(CommandType.FOLLOW_UP_UPDATE, clear), db)
    assert cleared.data["opportunityId"] is None
    delete = DeleteFollowUp(follow_up_id=ok.data["id"])
    await applied(await delete_follow_up(context(CommandType.FOLLOW_UP_DELETE, delete), db), db)
    rejected(
        await delete_follow_up(context(CommandType.FOLLOW_UP_DELETE, delete), db),
        "FOLLOW_UP_NOT_FOUND",
        "not_found",
    )


# --- contracts and payments --------------------------------------------------------------


async def test_contract_number_is_unique_per_tenant() -> None:
    db = await store()
    customer_id, other_tenant_customer = await customer(db), await customer(db, tenant="t2")
    first = CreateContract(contract_no="HT-1", customer_id=customer_id, amount=10)
    created = await applied(
        await create_contract(context(CommandType.CONTRACT_CREATE, first), db), db
    )
    assert created.data["paidAmount"] == 0
    assert created.data["status"] == "active"
    assert created.data["signedAt"] == created.data["createdAt"]
    duplicate = await create_contract(context(CommandType.CONTRACT_CREATE, first), db)
    rejected(duplicate, "DUPLICATE_CONTRACT_NO", "conflict")
    assert duplicate.error is not None and duplicate.error["message"] == "合同编号已存在"
    elsewhere = CreateContract(contract_no="HT-1", customer_id=other_tenant_customer, amount=10)
    await applied(
        await create_contract(context(CommandType.CONTRACT_CREATE, elsewhere, tenant="t2"), db),
        db,
    )


async def test_contract_number_race_is_settled_by_the_unique_index() -> None:
    db = await store()
    customer_id = await customer(db)
    payload = CreateContract(contract_no="HT-RACE", customer_id=customer_id, amount=10)
    # Both decided before either is applied (different partitions, same moment).
    first = await create_contract(context(CommandType.CONTRACT_CREATE, payload), db)
    second = await create_contract(context(CommandType.CONTRACT_CREATE, payload), db)
    assert first.status is second.status is CommandStatus.SUCCEEDED
    assert first.changes[0]["onConflict"]["code"] == "DUPLICATE_CONTRACT_NO"
    await applied(first, db)
    outcome = await apply_changes(db, second.changes)
    assert outcome.rejection is not None
    assert outcome.rejection["code"] == "DUPLICATE_CONTRACT_NO"
    assert await db[CONTRACTS].count_documents({}) == 1


async def test_draft_contracts_are_not_signed_yet() -> None:
    db = await store()
    draft = await contract(db, await customer(db), 10, status="draft")
    assert draft["signedAt"] is None


async def test_payments_up_to_the_contract_amount() -> None:
    db = await store()
    customer_id = await customer(db)
    signed = await contract(db, customer_id, 100)

    async def pay(amount: float, contract_id: str = signed["id"]) -> Decision:
        payload = CreatePayment(contract_id=contract_id, amount=amount)
        return await create_payment(context(CommandType.PAYMENT_CREATE, payload), db)

    first = await applied(await pay(70.1), db)
    assert first.data["customerId"] == customer_id
    assert [(e.entity, e.action) for e in first.events] == [
        ("payment", "created"),
        ("contract", "updated"),
    ]
    assert {e.customer_id for e in first.events} == {customer_id}
    rejected(await pay(29.91), "PAYMENT_EXCEEDS_CONTRACT", "conflict")
    await applied(await pay(29.9), db)  # exactly the rest
    stored = await db[CONTRACTS].find_one({"_id": signed["id"]})
    assert stored is not None and stored["paidAmount"] == 100
    rejected(await pay(0.01), "PAYMENT_EXCEEDS_CONTRACT", "conflict")
    rejected(await pay(1, "nope"), "CONTRACT_NOT_FOUND", "not_found")
    assert await db[PAYMENTS].count_documents({}) == 2


def test_payment_payload_rules() -> None:
    for bad in ({"amount": 1}, {"contractId": "c", "amount": 0}, {"contractId": "c"}):
        with pytest.raises(ValidationError):
            CreatePayment.model_validate(bad)


async def test_commands_from_kafka_producers_go_through_the_same_rules() -> None:
    """The whole pipeline: a producer's payment beyond the amount is a stored rejection."""
    db = await store()
    processor = CommandProcessor(db)
    signed = await contract(db, await customer(db), 50)
    envelope = CommandEnvelope(
        command_id="producer-1",
        type=CommandType.PAYMENT_CREATE,
        tenant_id="t1",
        actor_id="erp",
        payload={"contractId": signed["id"], "amount": 60},
    )
    result = await processor.process(envelope)
    assert result.status is CommandStatus.REJECTED
    assert result.error is not None and result.error.code == "PAYMENT_EXCEEDS_CONTRACT"
    ok = envelope.model_copy(
        update={"command_id": "producer-2", "payload": {"contractId": signed["id"], "amount": 50}}
    )
    assert (await processor.process(ok)).status is CommandStatus.SUCCEEDED
    assert (await processor.process(ok)).status is CommandStatus.SUCCEEDED  # redelivered
    assert await db[PAYMENTS].count_documents({}) == 1


def test_every_sales_command_type_has_a_use_case() -> None:
    for command_type in (
        CommandType.OPPORTUNITY_CREATE,
        CommandType.OPPORTUNITY_UPDATE,
        CommandType.OPPORTUNITY_DELETE,
        CommandType.FOLLOW_UP_CREATE,
        CommandType.FOLLOW_UP_UPDATE,
        CommandType.FOLLOW_UP_DELETE,
        CommandType.CONTRACT_CREATE,
        CommandType.PAYMENT_CREATE,
    ):
        assert use_case_for(command_type) is not None


# --- reports -----------------------------------------------------------------------------


async def test_funnel_and_metrics_queries() -> None:
    db = await store()
    empty = await reports.metrics(db, "t1")
    assert empty["conversionRate"] == 0
    assert [s["count"] for s in empty["funnel"]["stages"]] == [0] * 6
    customer_id = await customer(db)
    await customer(db)
    for stage, amount in [("lead", 0.1), ("lead", 0.2), ("won", 10), ("lost", 5)]:
        await opportunity(db, customer_id, stage=stage, amount=amount)
    gone = await opportunity(db, customer_id, stage="won", amount=1000)
    delete = DeleteOpportunity(opportunity_id=gone["id"])
    await applied(await delete_opportunity(context(CommandType.OPPORTUNITY_DELETE, delete), db), db)
    await opportunity(db, await customer(db, tenant="t2"), tenant="t2", stage="won", amount=7)

    funnel = await reports.funnel(db, "t1")
    assert funnel["stages"][0] == {"stage": "lead", "count": 2, "amount": 0.3}
    assert funnel["stages"][4] == {"stage": "won", "count": 1, "amount": 10}
    assert funnel["total"] == {"count": 4, "amount": 15.3}
    metrics = await reports.metrics(db, "t1")
    assert (metrics["customerTotal"], metrics["opportunityTotal"]) == (2, 4)
    assert metrics["conversionRate"] == 0.25


async def test_a_producers_invalid_payload_is_poison() -> None:
    """An unknown stage from a producer cannot be decided: it goes to the dead-letter topic."""
    db = await store()
    envelope = CommandEnvelope(
        command_id="producer-bad",
        type=CommandType.OPPORTUNITY_CREATE,
        tenant_id="t1",
        actor_id="erp",
        payload={"customerId": await customer(db), "name": "x", "stage": "closed"},
    )
    with pytest.raises(InvalidCommand):
        await CommandProcessor(db).process(envelope)
    assert await db[OPPORTUNITIES].count_documents({}) == 0

"""Payments are recorded only against an `active` contract: a draft (not signed yet), a
completed or a terminated contract refuses them with 409 `CONTRACT_NOT_PAYABLE` (issue 20
item 7), and nothing is written. The rule lives in the use case, so Kafka producers meet it
too."""

import pytest

from handlers.decision import Decision
from handlers.use_cases.payments import create_payment
from schemas.contracts import PAYABLE_STATUSES, ContractStatus
from schemas.envelope import CommandType
from schemas.payments import CreatePayment
from storage.contracts import CONTRACTS
from storage.database import Database
from storage.payments import PAYMENTS
from tests.unit.test_sales_use_cases import applied, context, contract, customer, rejected, store


async def pay(db: Database, contract_id: str, amount: float) -> Decision:
    payload = CreatePayment(contract_id=contract_id, amount=amount)
    return await create_payment(context(CommandType.PAYMENT_CREATE, payload), db)


def test_only_active_contracts_accept_payments() -> None:
    assert set(PAYABLE_STATUSES) == {ContractStatus.ACTIVE}


@pytest.mark.parametrize("status", ["draft", "completed", "terminated"])
async def test_a_contract_that_is_not_active_refuses_payments(status: str) -> None:
    db = await store()
    closed = await contract(db, await customer(db), 100, status=status)
    decision = await pay(db, closed["id"], 10)
    rejected(decision, "CONTRACT_NOT_PAYABLE", "conflict")
    assert decision.error is not None and status in decision.error["message"]
    assert await db[PAYMENTS].count_documents({}) == 0
    stored = await db[CONTRACTS].find_one({"_id": closed["id"]})
    assert stored is not None and stored["paidAmount"] == 0


async def test_an_active_contract_accepts_payments() -> None:
    db = await store()
    running = await contract(db, await customer(db), 100)
    assert running["status"] == "active"
    await applied(await pay(db, running["id"], 10), db)
    assert await db[PAYMENTS].count_documents({}) == 1

"""CRM API payments (回款): record a payment against a contract, never beyond its amount.

The check reads the contract's `paidAmount` and the decision rewrites it, so it relies on
one contract's payments being decided one at a time: the facade keys `payment.create` by
the contract's customer, and the worker serialises commands of one key.
"""

from decimal import Decimal

from handlers.decision import CommandContext, Decision, EventDraft, not_found
from handlers.use_cases import UseCase
from handlers.use_cases.contracts import contract_event
from schemas.base import iso
from schemas.contracts import PAYABLE_STATUSES, ContractStatus
from schemas.envelope import CommandType
from schemas.errors import ErrorCode, ErrorKind
from schemas.payments import CreatePayment
from storage import changes
from storage.contracts import CONTRACTS, ContractRepository
from storage.database import Database
from storage.documents import public
from storage.payments import PAYMENTS

EXCEEDS_MESSAGE = "回款总额超过合同金额"
NOT_PAYABLE_MESSAGE = "合同状态不允许回款"


def exact(amount: object) -> Decimal:
    """Amounts are added as the decimals they were written as (0.1 + 0.2 == 0.3)."""
    return Decimal(str(amount))


async def create_payment(ctx: CommandContext[CreatePayment], db: Database) -> Decision:
    """Insert the payment and raise the contract's `paidAmount`; 409 on a contract that is
    not `active` (`PAYABLE_STATUSES`) and beyond the amount."""
    p = ctx.payload
    contract = await ContractRepository(db).get(ctx.tenant_id, p.contract_id)
    if contract is None:
        return not_found(ErrorCode.CONTRACT_NOT_FOUND, "contract", p.contract_id)
    status = contract.get("status", ContractStatus.ACTIVE.value)
    if status not in PAYABLE_STATUSES:
        payable = ", ".join(sorted(PAYABLE_STATUSES))
        return Decision.rejected(
            ErrorCode.CONTRACT_NOT_PAYABLE,
            ErrorKind.CONFLICT,
            f"{NOT_PAYABLE_MESSAGE}: the contract is {status}; payments are accepted on "
            f"{payable} contracts only",
        )
    paid = exact(contract.get("paidAmount", 0)) + exact(p.amount)
    if paid > exact(contract["amount"]):
        return Decision.rejected(
            ErrorCode.PAYMENT_EXCEEDS_CONTRACT,
            ErrorKind.CONFLICT,
            f"{EXCEEDS_MESSAGE}: contract amount {contract['amount']}, "
            f"already paid {contract.get('paidAmount', 0)}, this payment {p.amount}",
        )
    payment = {
        "_id": ctx.new_id("payment"),
        "tenantId": ctx.tenant_id,
        "contractId": contract["_id"],
        "customerId": contract["customerId"],
        "amount": float(p.amount),
        "paidAt": iso(p.paid_at) if p.paid_at else ctx.now,
        "method": p.method,
        "remark": p.remark,
        "createdBy": ctx.actor_id,
        "createdAt": ctx.now,
        "updatedAt": ctx.now,
        "_deleted": False,
    }
    updated_contract = {**contract, "paidAmount": float(paid), "updatedAt": ctx.now}
    return Decision.succeeded(
        public(payment),
        entity_id=payment["_id"],
        changes=[changes.insert(PAYMENTS, payment), changes.put(CONTRACTS, updated_contract)],
        events=[
            EventDraft.of_document("payment", "created", payment, contract["customerId"]),
            contract_event("updated", updated_contract).changing(contract),
        ],
    )


USE_CASES = {
    CommandType.PAYMENT_CREATE: UseCase(CreatePayment, create_payment),
}

"""CRM API contracts: create (a contract number is unique per tenant)."""

from handlers.decision import CommandContext, Decision, EventDraft, rejection
from handlers.use_cases import UseCase
from handlers.use_cases.opportunities import missing_customer, opportunity_of_customer
from schemas.base import iso
from schemas.contracts import ContractStatus, CreateContract
from schemas.envelope import CommandType
from schemas.errors import ErrorCode, ErrorKind
from storage import changes
from storage.contracts import CONTRACTS, ContractRepository
from storage.customers import CustomerRepository
from storage.database import Database, Document
from storage.documents import public

DUPLICATE_CONTRACT_NO_MESSAGE = "合同编号已存在"
DUPLICATE_CONTRACT_NO = rejection(
    ErrorCode.DUPLICATE_CONTRACT_NO, ErrorKind.CONFLICT, DUPLICATE_CONTRACT_NO_MESSAGE
)


def contract_event(action: str, doc: Document) -> EventDraft:
    return EventDraft.of_document("contract", action, doc, doc["customerId"])


async def create_contract(ctx: CommandContext[CreateContract], db: Database) -> Decision:
    """A contract of an existing customer (optionally for one of its opportunities).

    `paidAmount` starts at 0 and is advanced by `payment.create`. `signedAt` defaults to
    now unless the contract is a draft.
    """
    p = ctx.payload
    if await CustomerRepository(db).get(ctx.tenant_id, p.customer_id) is None:
        return missing_customer(p.customer_id)
    if p.opportunity_id is not None:
        refused = await opportunity_of_customer(ctx, db, p.opportunity_id, p.customer_id)
        if refused is not None:
            return refused
    if await ContractRepository(db).with_number(ctx.tenant_id, p.contract_no) is not None:
        return Decision.rejected(
            ErrorCode.DUPLICATE_CONTRACT_NO, ErrorKind.CONFLICT, DUPLICATE_CONTRACT_NO_MESSAGE
        )
    if p.signed_at is not None:
        signed_at: str | None = iso(p.signed_at)
    else:
        signed_at = None if p.status is ContractStatus.DRAFT else ctx.now
    doc: Document = {
        "_id": ctx.new_id("contract"),
        "tenantId": ctx.tenant_id,
        "contractNo": p.contract_no,
        "customerId": p.customer_id,
        "opportunityId": p.opportunity_id,
        "name": p.name,
        "amount": float(p.amount),
        "paidAmount": 0.0,
        "signedAt": signed_at,
        "status": p.status.value,
        "createdBy": ctx.actor_id,
        "createdAt": ctx.now,
        "updatedAt": ctx.now,
        "_deleted": False,
    }
    return Decision.succeeded(
        public(doc),
        entity_id=doc["_id"],
        # The unique (tenantId, contractNo) index has the last word on a race.
        changes=[changes.insert(CONTRACTS, doc, on_conflict=DUPLICATE_CONTRACT_NO)],
        events=[contract_event("created", doc)],
    )


USE_CASES = {
    CommandType.CONTRACT_CREATE: UseCase(CreateContract, create_contract),
}

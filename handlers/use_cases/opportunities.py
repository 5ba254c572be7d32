"""CRM API opportunities: create, update, delete (soft). Shared by HTTP and Kafka producers."""

from typing import Any

from handlers.decision import (
    CommandContext,
    Decision,
    EventDraft,
    not_found,
    replaced,
    soft_deleted,
)
from handlers.use_cases import UseCase
from schemas.envelope import CommandType
from schemas.errors import ErrorCode, ErrorKind
from schemas.opportunities import CreateOpportunity, DeleteOpportunity, UpdateOpportunity
from storage import changes
from storage.customers import CustomerRepository
from storage.database import Database, Document
from storage.documents import public
from storage.opportunities import OPPORTUNITIES, OpportunityRepository


def opportunity_event(action: str, doc: Document) -> EventDraft:
    return EventDraft.of_document("opportunity", action, doc, doc["customerId"])


def missing_customer(customer_id: str) -> Decision:
    return not_found(ErrorCode.CUSTOMER_NOT_FOUND, "customer", customer_id)


async def opportunity_of_customer(
    ctx: CommandContext[Any], db: Database, opportunity_id: str, customer_id: str
) -> Decision | None:
    """None when the opportunity is a live one of this customer, else the rejection:
    unknown (or another tenant's) → not found; another customer's → invalid."""
    opportunity = await OpportunityRepository(db).get(ctx.tenant_id, opportunity_id)
    if opportunity is None:
        return not_found(ErrorCode.OPPORTUNITY_NOT_FOUND, "opportunity", opportunity_id)
    if opportunity["customerId"] != customer_id:
        return Decision.rejected(
            ErrorCode.OPPORTUNITY_CUSTOMER_MISMATCH,
            ErrorKind.INVALID,
            f"opportunity {opportunity_id} belongs to another customer",
        )
    return None


async def create_opportunity(ctx: CommandContext[CreateOpportunity], db: Database) -> Decision:
    """A new opportunity of an existing customer (stage `lead` unless given)."""
    p = ctx.payload
    if await CustomerRepository(db).get(ctx.tenant_id, p.customer_id) is None:
        return missing_customer(p.customer_id)
    doc: Document = {
        "_id": ctx.new_id("opportunity"),
        "tenantId": ctx.tenant_id,
        "customerId": p.customer_id,
        "name": p.name,
        "amount": float(p.amount),
        "stage": p.stage.value,
        "expectedCloseDate": p.expected_close_date.isoformat() if p.expected_close_date else None,
        "ownerId": p.owner_id or ctx.actor_id,
        "createdBy": ctx.actor_id,
        "createdAt": ctx.now,
        "updatedAt": ctx.now,
        "_deleted": False,
    }
    return Decision.succeeded(
        public(doc),
        entity_id=doc["_id"],
        changes=[changes.insert(OPPORTUNITIES, doc)],
        events=[opportunity_event("created", doc)],
    )


async def update_opportunity(ctx: CommandContext[UpdateOpportunity], db: Database) -> Decision:
    """Change the fields present in the payload; `expectedCloseDate: null` clears the date."""
    p = ctx.payload
    current = await OpportunityRepository(db).get(ctx.tenant_id, p.opportunity_id)
    if current is None:
        return not_found(ErrorCode.OPPORTUNITY_NOT_FOUND, "opportunity", p.opportunity_id)
    given = p.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude={"opportunity_id"})
    updated = {**current, **given, "updatedAt": ctx.now}
    if "amount" in given:
        updated["amount"] = float(given["amount"])
    return replaced(current, updated, OPPORTUNITIES, opportunity_event)


async def delete_opportunity(ctx: CommandContext[DeleteOpportunity], db: Database) -> Decision:
    """Soft delete: reads answer 404 afterwards and reports no longer count it."""
    p = ctx.payload
    current = await OpportunityRepository(db).get(ctx.tenant_id, p.opportunity_id)
    if current is None:
        return not_found(ErrorCode.OPPORTUNITY_NOT_FOUND, "opportunity", p.opportunity_id)
    return soft_deleted(ctx, current, OPPORTUNITIES, opportunity_event)


USE_CASES = {
    CommandType.OPPORTUNITY_CREATE: UseCase(CreateOpportunity, create_opportunity),
    CommandType.OPPORTUNITY_UPDATE: UseCase(UpdateOpportunity, update_opportunity),
    CommandType.OPPORTUNITY_DELETE: UseCase(DeleteOpportunity, delete_opportunity),
}

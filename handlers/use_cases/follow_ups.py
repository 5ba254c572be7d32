"""CRM API follow-up records: create, update, delete (soft)."""

from handlers.decision import (
    CommandContext,
    Decision,
    EventDraft,
    not_found,
    replaced,
    soft_deleted,
)
from handlers.use_cases import UseCase
from handlers.use_cases.opportunities import missing_customer, opportunity_of_customer
from schemas.base import iso
from schemas.envelope import CommandType
from schemas.errors import ErrorCode
from schemas.follow_ups import CreateFollowUp, DeleteFollowUp, UpdateFollowUp
from storage import changes
from storage.customers import CustomerRepository
from storage.database import Database, Document
from storage.documents import public
from storage.follow_ups import FOLLOW_UPS, FollowUpRepository


def follow_up_event(action: str, doc: Document) -> EventDraft:
    return EventDraft.of_document("follow_up", action, doc, doc["customerId"])


async def create_follow_up(ctx: CommandContext[CreateFollowUp], db: Database) -> Decision:
    """A follow-up of an existing customer, optionally about one of its opportunities."""
    p = ctx.payload
    if await CustomerRepository(db).get(ctx.tenant_id, p.customer_id) is None:
        return missing_customer(p.customer_id)
    if p.opportunity_id is not None:
        refused = await opportunity_of_customer(ctx, db, p.opportunity_id, p.customer_id)
        if refused is not None:
            return refused
    doc: Document = {
        "_id": ctx.new_id("follow_up"),
        "tenantId": ctx.tenant_id,
        "customerId": p.customer_id,
        "opportunityId": p.opportunity_id,
        "method": p.method.value,
        "content": p.content,
        "followedAt": iso(p.followed_at) if p.followed_at else ctx.now,
        "nextFollowUpAt": iso(p.next_follow_up_at) if p.next_follow_up_at else None,
        "createdBy": ctx.actor_id,
        "createdAt": ctx.now,
        "updatedAt": ctx.now,
        "_deleted": False,
    }
    return Decision.succeeded(
        public(doc),
        entity_id=doc["_id"],
        changes=[changes.insert(FOLLOW_UPS, doc)],
        events=[follow_up_event("created", doc)],
    )


async def update_follow_up(ctx: CommandContext[UpdateFollowUp], db: Database) -> Decision:
    """Change the fields present; a new `opportunityId` must be one of the same customer."""
    p = ctx.payload
    current = await FollowUpRepository(db).get(ctx.tenant_id, p.follow_up_id)
    if current is None:
        return not_found(ErrorCode.FOLLOW_UP_NOT_FOUND, "follow-up", p.follow_up_id)
    given = p.model_fields_set
    if p.opportunity_id is not None:
        refused = await opportunity_of_customer(ctx, db, p.opportunity_id, current["customerId"])
        if refused is not None:
            return refused
    updated = dict(current)
    if "opportunity_id" in given:
        updated["opportunityId"] = p.opportunity_id
    if p.method is not None:
        updated["method"] = p.method.value
    if p.content is not None:
        updated["content"] = p.content
    if p.followed_at is not None:
        updated["followedAt"] = iso(p.followed_at)
    if "next_follow_up_at" in given:
        updated["nextFollowUpAt"] = iso(p.next_follow_up_at) if p.next_follow_up_at else None
    updated["updatedAt"] = ctx.now
    return replaced(current, updated, FOLLOW_UPS, follow_up_event)


async def delete_follow_up(ctx: CommandContext[DeleteFollowUp], db: Database) -> Decision:
    """Soft delete: reads answer 404 afterwards."""
    p = ctx.payload
    current = await FollowUpRepository(db).get(ctx.tenant_id, p.follow_up_id)
    if current is None:
        return not_found(ErrorCode.FOLLOW_UP_NOT_FOUND, "follow-up", p.follow_up_id)
    return soft_deleted(ctx, current, FOLLOW_UPS, follow_up_event)


USE_CASES = {
    CommandType.FOLLOW_UP_CREATE: UseCase(CreateFollowUp, create_follow_up),
    CommandType.FOLLOW_UP_UPDATE: UseCase(UpdateFollowUp, update_follow_up),
    CommandType.FOLLOW_UP_DELETE: UseCase(DeleteFollowUp, delete_follow_up),
}

"""CRM API contacts: create, update and (soft) delete; at most one primary contact per customer.

Making a contact primary clears the flag on the customer's other contacts in the same
decision (extra `put` changes and one `updated` event each). Contact commands are keyed by
their customer, so one customer's contact commands are decided one after the other.
"""

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
from schemas.contacts import CreateContact, DeleteContact, UpdateContact
from schemas.envelope import CommandType
from schemas.errors import ErrorCode
from storage import changes
from storage.changes import Change
from storage.contacts import CONTACTS, ContactRepository
from storage.customers import CustomerRepository
from storage.database import Database, Document
from storage.documents import public


def contact_event(action: str, doc: Document) -> EventDraft:
    return EventDraft.of_document("contact", action, doc, doc["customerId"])


def _customer_not_found(customer_id: str) -> Decision:
    return not_found(ErrorCode.CUSTOMER_NOT_FOUND, "customer", customer_id)


async def _demote_other_primaries(
    ctx: CommandContext[Any], db: Database, contact: Document
) -> tuple[list[Change], list[EventDraft]]:
    """Clear `isPrimary` on the customer's other contacts when `contact` is primary."""
    if not contact.get("isPrimary"):
        return [], []
    others = await ContactRepository(db).primaries(
        ctx.tenant_id, contact["customerId"], except_id=contact["_id"]
    )
    demoted = [({**doc, "isPrimary": False, "updatedAt": ctx.now}, doc) for doc in others]
    return (
        [changes.put(CONTACTS, doc) for doc, _ in demoted],
        [contact_event("updated", doc).changing(before) for doc, before in demoted],
    )


async def create_contact(ctx: CommandContext[CreateContact], db: Database) -> Decision:
    """Create a contact of an existing customer of the tenant."""
    fields = ctx.payload
    if await CustomerRepository(db).get(ctx.tenant_id, fields.customer_id) is None:
        return _customer_not_found(fields.customer_id)
    given = fields.model_dump(by_alias=True, exclude_none=True)
    doc: Document = {
        "_id": ctx.new_id("contact"),
        "tenantId": ctx.tenant_id,
        **given,
        "isPrimary": bool(fields.is_primary),
        "createdAt": ctx.now,
        "updatedAt": ctx.now,
        "createdBy": ctx.actor_id,
        "_deleted": False,
    }
    extra_changes, extra_events = await _demote_other_primaries(ctx, db, doc)
    return Decision.succeeded(
        public(doc),
        entity_id=doc["_id"],
        changes=[changes.insert(CONTACTS, doc), *extra_changes],
        events=[contact_event("created", doc), *extra_events],
    )


async def update_contact(ctx: CommandContext[UpdateContact], db: Database) -> Decision:
    """Change the fields present in the payload; an explicit null clears an optional field.

    A new `customerId` must name a live customer of the tenant.
    """
    current = await ContactRepository(db).get(ctx.tenant_id, ctx.payload.contact_id)
    if current is None:
        return not_found(ErrorCode.CONTACT_NOT_FOUND, "contact", ctx.payload.contact_id)
    given = ctx.payload.model_dump(by_alias=True, exclude_unset=True, exclude={"contact_id"})
    moved_to = given.get("customerId")
    if (
        moved_to is not None
        and moved_to != current["customerId"]
        and await CustomerRepository(db).get(ctx.tenant_id, moved_to) is None
    ):
        return _customer_not_found(moved_to)
    updated = dict(current)
    for field_name, value in given.items():
        if value is None:
            updated.pop(field_name, None)
        else:
            updated[field_name] = value
    updated["updatedAt"] = ctx.now
    demoted = await _demote_other_primaries(ctx, db, updated)
    return replaced(current, updated, CONTACTS, contact_event, also=demoted)


async def delete_contact(ctx: CommandContext[DeleteContact], db: Database) -> Decision:
    """Soft delete: reads answer 404 afterwards and lists no longer show the contact."""
    current = await ContactRepository(db).get(ctx.tenant_id, ctx.payload.contact_id)
    if current is None:
        return not_found(ErrorCode.CONTACT_NOT_FOUND, "contact", ctx.payload.contact_id)
    return soft_deleted(ctx, current, CONTACTS, contact_event)


USE_CASES: dict[CommandType, UseCase] = {
    CommandType.CONTACT_CREATE: UseCase(CreateContact, create_contact),
    CommandType.CONTACT_UPDATE: UseCase(UpdateContact, update_contact),
    CommandType.CONTACT_DELETE: UseCase(DeleteContact, delete_contact),
}

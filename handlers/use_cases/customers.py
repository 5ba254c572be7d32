"""Customer create, update, delete and import: shared by the customer profile API, the CRM
API and Kafka producers."""

from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from handlers.decision import (
    CommandContext,
    Decision,
    EventBatch,
    EventDraft,
    not_found,
    rejection,
    replaced,
    soft_deleted,
)
from handlers.use_cases import UseCase
from handlers.use_cases.profile_health import derived_profile
from schemas.customers import CreateCustomer, DeleteCustomer, ImportCustomers, UpdateCustomer
from schemas.envelope import CommandType
from schemas.errors import ErrorCode, ErrorKind
from schemas.ids import created_customer_id
from storage import changes
from storage.customer_profile import BINDINGS, BindingRepository
from storage.customers import CUSTOMERS, CustomerRepository, name_key, search_fields
from storage.database import Database, Document
from storage.documents import public

RELEASED_BY_DELETE = "customer_deleted"  # the `reason` of an unbound event a delete causes
DUPLICATE_NAME_MESSAGE = "客户名称已存在"
DUPLICATE_NAME = rejection(
    ErrorCode.DUPLICATE_CUSTOMER_NAME, ErrorKind.CONFLICT, DUPLICATE_NAME_MESSAGE
)


def duplicate_name() -> Decision:
    return Decision.rejected(
        ErrorCode.DUPLICATE_CUSTOMER_NAME, ErrorKind.CONFLICT, DUPLICATE_NAME_MESSAGE
    )


def new_customer(ctx: CommandContext[Any], fields: CreateCustomer, customer_id: str) -> Document:
    """A new customer document with an empty derived profile."""
    given = fields.model_dump(by_alias=True, exclude_none=True)
    return {**customer_own_fields(ctx, given, customer_id), **customer_defaults(ctx)}


def customer_own_fields(
    ctx: CommandContext[Any], given: dict[str, Any], customer_id: str, key: str | None = None
) -> Document:
    """What a new customer holds of its own: its id, the given fields (`given`: a valid
    `CreateCustomer`'s dump, by alias and without nulls), its name key, tags and owner, its
    sequence counter."""
    return {
        "_id": customer_id,
        **given,
        "_nameKey": name_key(given["name"]) if key is None else key,
        **search_fields(given),
        "tags": given.get("tags") or [],
        "ownerId": given.get("ownerId") or ctx.actor_id,
        "_seq": 0,
    }


def customer_defaults(ctx: CommandContext[Any]) -> Document:
    """The fields every customer this command creates has alike: tenant, times, creator,
    not a VIP, no metrics, an empty derived profile."""
    now = ctx.now
    return {
        "tenantId": ctx.tenant_id,
        "vip": {"isVip": False, "reason": None, "markedAt": None, "markedBy": None},
        "metrics": None,
        "profile": dict(_empty_profile(now)),  # flat: a shallow copy is a full copy
        "createdAt": now,
        "updatedAt": now,
        "createdBy": ctx.actor_id,
        "_deleted": False,
    }


@lru_cache(maxsize=1)
def _empty_profile(now: str) -> dict[str, Any]:
    """The profile of a customer with no history yet: the same for all of an import's."""
    return derived_profile(
        interaction_count=0,
        last_interaction_at=None,
        open_commitments=0,
        commitment_progress=[],
        metrics=None,
        now=now,
    )


def customer_event(action: str, doc: Document) -> EventDraft:
    return EventDraft.of_document("customer", action, doc)


async def create_customer(ctx: CommandContext[CreateCustomer], db: Database) -> Decision:
    """Create a customer; its name must be free in the tenant.

    The unique name index decides, when the insert is applied: a taken name turns the
    decision into the DUPLICATE_CUSTOMER_NAME rejection (`storage.changes`). A look-up
    here first would only repeat that check, one more round trip on every create."""
    doc = new_customer(ctx, ctx.payload, created_customer_id(ctx.tenant_id, ctx.command_id))
    return Decision.succeeded(
        public(doc),
        entity_id=doc["_id"],
        changes=[changes.insert(CUSTOMERS, doc, on_conflict=DUPLICATE_NAME)],
        events=[customer_event("created", doc)],
        data_is_json=True,  # validated strings and the defaults: stored without a walk
    )


async def update_customer(ctx: CommandContext[UpdateCustomer], db: Database) -> Decision:
    """Change the fields present in the payload; an explicit null clears an optional field."""
    repo = CustomerRepository(db)
    current = await repo.get(ctx.tenant_id, ctx.payload.customer_id)
    if current is None:
        return not_found(ErrorCode.CUSTOMER_NOT_FOUND, "customer", ctx.payload.customer_id)
    updated = dict(current)
    given = ctx.payload.model_dump(by_alias=True, exclude_unset=True, exclude={"customer_id"})
    for field_name, value in given.items():
        if value is None:
            updated.pop(field_name, None)
        else:
            updated[field_name] = value
    if "name" in given:
        updated["_nameKey"] = name_key(given["name"])
        if updated["_nameKey"] != current["_nameKey"] and await repo.with_name_keys(
            ctx.tenant_id, [updated["_nameKey"]]
        ):
            return duplicate_name()
    updated.update(search_fields(updated))
    updated["updatedAt"] = ctx.now
    return replaced(current, updated, CUSTOMERS, customer_event, on_conflict=DUPLICATE_NAME)


async def delete_customer(ctx: CommandContext[DeleteCustomer], db: Database) -> Decision:
    """Soft delete: reads answer 404 afterwards and the name is free again; its external
    identities are released (each binding removed, with an `external_identity_unbound`
    event of reason `customer_deleted` before the `deleted` event), so they can be bound
    to another customer and an integration event naming one is parked, not applied to a
    deleted customer."""
    current = await CustomerRepository(db).get(ctx.tenant_id, ctx.payload.customer_id)
    if current is None:
        return not_found(ErrorCode.CUSTOMER_NOT_FOUND, "customer", ctx.payload.customer_id)
    decision = soft_deleted(ctx, current, CUSTOMERS, customer_event)
    bindings = await BindingRepository(db).of_customer(ctx.tenant_id, current["_id"])
    decision.changes += [changes.delete(BINDINGS, binding["_id"]) for binding in bindings]
    released = [
        EventDraft(
            "customer",
            "external_identity_unbound",
            current["_id"],
            current["_id"],
            {**public(binding), "unboundAt": ctx.now, "reason": RELEASED_BY_DELETE},
        )
        for binding in bindings
    ]
    decision.events[:0] = released
    return decision


NOT_AN_OBJECT = "item: must be a JSON object"


async def import_customers(ctx: CommandContext[ImportCustomers], db: Database) -> Decision:
    """Create many customers in one command: per-item `created | duplicate | invalid`.

    The change keeps what the created customers have alike once (`customer_defaults`) and
    each one's own fields apart: the journal commits the batch without repeating them."""
    items: list[dict[str, Any]] = [{} for _ in ctx.payload.items]  # each item's outcome
    candidates = _valid_items(ctx.payload.items, items)
    keys = [name_key(given["name"]) for _, given in candidates]
    taken = {
        doc["_nameKey"] for doc in await CustomerRepository(db).with_name_keys(ctx.tenant_id, keys)
    }
    docs: list[Document] = []
    new_id = ctx.new_ids()
    for (index, given), key in zip(candidates, keys, strict=True):
        if key in taken:
            items[index] = {"index": index, "status": "duplicate", "error": DUPLICATE_NAME_MESSAGE}
            continue
        taken.add(key)  # a later item with the same name is a duplicate of this one
        doc = customer_own_fields(ctx, given, new_id(f"customer:{index}"), key)
        docs.append(doc)
        items[index] = {"index": index, "status": "created", "id": doc["_id"]}
    summary = {
        "created": len(docs),
        "duplicate": len(candidates) - len(docs),  # the valid items not created
        "invalid": len(items) - len(candidates),
    }
    batch = changes.insert_many(CUSTOMERS, docs, DUPLICATE_NAME, shared=customer_defaults(ctx))
    return Decision.succeeded(
        {"total": len(items), **summary, "items": items},
        changes=[batch] if docs else [],
        # one `created` event per customer, each published with its whole document
        events=[EventBatch("customer", "created", docs)] if docs else [],
        data_is_json=True,  # counts, indexes, statuses, ids and messages
    )


def _valid_items(
    raw_items: list[Any], outcomes: list[dict[str, Any]]
) -> list[tuple[int, dict[str, Any]]]:
    """(index, the fields' dump) of each valid item; each invalid item's outcome is set.
    (Validating 2000 items one by one costs ~11 ms, a tenth of the import.)"""
    valid = []
    for index, raw in enumerate(raw_items):
        if not isinstance(raw, dict):
            outcomes[index] = {"index": index, "status": "invalid", "error": NOT_AN_OBJECT}
            continue
        try:
            model = CreateCustomer.model_validate(raw)
        except ValidationError as exc:
            outcomes[index] = {"index": index, "status": "invalid", "error": _first_error(exc)}
            continue
        valid.append((index, model.model_dump(by_alias=True, exclude_none=True)))
    return valid


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "item"
    return f"{where}: {error['msg']}"


USE_CASES = {
    CommandType.CUSTOMER_CREATE: UseCase(CreateCustomer, create_customer),
    CommandType.CUSTOMER_UPDATE: UseCase(UpdateCustomer, update_customer),
    CommandType.CUSTOMER_DELETE: UseCase(DeleteCustomer, delete_customer),
    CommandType.CUSTOMER_IMPORT: UseCase(ImportCustomers, import_customers),
}

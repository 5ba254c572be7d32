"""The customer profile API's customer actions: identities, profile refresh, interactions,
service records, commitments and VIP marking. Every one keeps the derived profile current."""

from typing import Any

from handlers.decision import CommandContext, Decision, EventDraft, not_found, rejection
from handlers.use_cases import UseCase
from handlers.use_cases.profile_health import derived_profile
from schemas.base import iso
from schemas.customer_profile import (
    AddInteraction,
    AddServiceRecord,
    BindExternalIdentity,
    MarkVip,
    RefreshProfile,
    UnbindExternalIdentity,
    UpdateCommitment,
)
from schemas.envelope import CommandType
from schemas.errors import ErrorCode, ErrorKind
from storage import changes
from storage.customer_profile import (
    BINDINGS,
    COMMITMENTS,
    INTERACTIONS,
    SERVICE_RECORDS,
    BindingRepository,
    CommitmentRepository,
    InteractionRepository,
    binding_key,
)
from storage.customers import CUSTOMERS, CustomerRepository
from storage.database import Database, Document
from storage.documents import public

ALREADY_BOUND_MESSAGE = "this external identity is bound to another customer"
ALREADY_BOUND = rejection(
    ErrorCode.IDENTITY_ALREADY_BOUND, ErrorKind.CONFLICT, ALREADY_BOUND_MESSAGE
)


async def _customer(ctx: CommandContext[Any], db: Database) -> Document | None:
    return await CustomerRepository(db).get(ctx.tenant_id, ctx.payload.customer_id)


def _missing_customer(ctx: CommandContext[Any]) -> Decision:
    return not_found(ErrorCode.CUSTOMER_NOT_FOUND, "customer", ctx.payload.customer_id)


async def _with_profile(
    ctx: CommandContext[Any],
    db: Database,
    customer: Document,
    *,
    new_interaction_at: str | None = None,
    commitments: dict[str, Document] | None = None,
) -> Document:
    """The customer with its derived profile recomputed as it will be once applied."""
    interactions = InteractionRepository(db)
    count = await interactions.count(ctx.tenant_id, customer["_id"])
    last = await interactions.last_occurred_at(ctx.tenant_id, customer["_id"])
    if new_interaction_at is not None:
        count += 1
        last = max(last or new_interaction_at, new_interaction_at)
    stored = await CommitmentRepository(db).open_of_customer(ctx.tenant_id, customer["_id"])
    open_items = {doc["_id"]: doc for doc in stored}
    for commitment_id, doc in (commitments or {}).items():
        open_items.pop(commitment_id, None)
        if not doc["done"]:
            open_items[commitment_id] = doc
    profile = derived_profile(
        interaction_count=count,
        last_interaction_at=last,
        open_commitments=len(open_items),
        commitment_progress=[int(doc["progress"]) for doc in open_items.values()],
        metrics=customer.get("metrics"),
        now=ctx.now,
    )
    return {**customer, "profile": profile, "updatedAt": ctx.now}


def _customer_event(
    action: str, customer: Document, data: dict[str, Any] | None = None
) -> EventDraft:
    if data:
        return EventDraft("customer", action, customer["_id"], customer["_id"], data)
    return EventDraft.of_document("customer", action, customer)


async def bind_external(ctx: CommandContext[BindExternalIdentity], db: Database) -> Decision:
    """Bind an IM/CRM identity; the same pair again is a no-op, another customer's is 409."""
    customer = await _customer(ctx, db)
    if customer is None:
        return _missing_customer(ctx)
    p = ctx.payload
    identity = (ctx.tenant_id, p.system_type.value, p.system_name, p.external_id)
    existing = await BindingRepository(db).get(*identity)
    if existing is not None:
        if existing["customerId"] == customer["_id"]:
            return Decision.succeeded(public(existing), entity_id=existing["_id"])
        if await CustomerRepository(db).get(ctx.tenant_id, existing["customerId"]) is not None:
            return Decision.rejected(
                ErrorCode.IDENTITY_ALREADY_BOUND, ErrorKind.CONFLICT, ALREADY_BOUND_MESSAGE
            )
        # Bound to a customer deleted before deletes released identities: free, taken
        # over below unless somebody else takes it first.
    binding = {
        "_id": binding_key(*identity) if existing is None else existing["_id"],
        "tenantId": ctx.tenant_id,
        "customerId": customer["_id"],
        "systemType": p.system_type.value,
        "systemName": p.system_name,
        "externalId": p.external_id,
        "displayName": p.display_name,
        "boundAt": ctx.now,
        "boundBy": ctx.actor_id,
    }
    if existing is None:
        change = changes.insert(BINDINGS, binding, on_conflict=ALREADY_BOUND)
    else:
        expected = {"customerId": existing["customerId"]}
        change = changes.replace_if(BINDINGS, binding, expected, on_conflict=ALREADY_BOUND)
    return Decision.succeeded(
        public(binding),
        entity_id=binding["_id"],
        changes=[change],
        events=[_customer_event("external_identity_bound", customer, public(binding))],
    )


async def unbind_external(ctx: CommandContext[UnbindExternalIdentity], db: Database) -> Decision:
    """Remove a binding of this customer; an unknown binding is 404."""
    customer = await _customer(ctx, db)
    if customer is None:
        return _missing_customer(ctx)
    p = ctx.payload
    identity = (ctx.tenant_id, p.system_type.value, p.system_name, p.external_id)
    existing = await BindingRepository(db).get(*identity)
    if existing is None or existing["customerId"] != customer["_id"]:
        return not_found(ErrorCode.BINDING_NOT_FOUND, "binding", f"{p.system_name}:{p.external_id}")
    unbound = {**public(existing), "unboundAt": ctx.now}
    return Decision.succeeded(
        unbound,
        entity_id=existing["_id"],
        changes=[changes.delete(BINDINGS, existing["_id"])],
        events=[_customer_event("external_identity_unbound", customer, unbound)],
    )


async def refresh_profile(ctx: CommandContext[RefreshProfile], db: Database) -> Decision:
    """Store the metrics with their source and time, then recompute the derived profile."""
    customer = await _customer(ctx, db)
    if customer is None:
        return _missing_customer(ctx)
    metrics = customer.get("metrics")
    if ctx.payload.metrics is not None:
        metrics = {
            **ctx.payload.metrics.model_dump(by_alias=True),
            "source": ctx.payload.source,
            "refreshedAt": ctx.now,
        }
    refreshed = await _with_profile(ctx, db, {**customer, "metrics": metrics})
    refreshed["profileRefreshedAt"] = ctx.now
    refreshed["profileSource"] = ctx.payload.source
    return Decision.succeeded(
        public(refreshed),
        entity_id=customer["_id"],
        changes=[changes.put(CUSTOMERS, refreshed)],
        events=[_customer_event("profile_refreshed", refreshed).changing(customer)],
    )


async def add_interaction(ctx: CommandContext[AddInteraction], db: Database) -> Decision:
    customer = await _customer(ctx, db)
    if customer is None:
        return _missing_customer(ctx)
    p = ctx.payload
    occurred_at = iso(p.occurred_at) if p.occurred_at else ctx.now
    interaction = {
        "_id": ctx.new_id("interaction"),
        "tenantId": ctx.tenant_id,
        "customerId": customer["_id"],
        "interactionType": p.interaction_type.value,
        "occurredAt": occurred_at,
        "notes": p.notes,
        "channel": p.channel,
        "recordedBy": ctx.actor_id,
        "createdAt": ctx.now,
    }
    updated = await _with_profile(ctx, db, customer, new_interaction_at=occurred_at)
    return Decision.succeeded(
        public(interaction),
        entity_id=interaction["_id"],
        changes=[changes.insert(INTERACTIONS, interaction), changes.put(CUSTOMERS, updated)],
        events=[EventDraft.of_document("interaction", "recorded", interaction, customer["_id"])],
    )


async def add_service_record(ctx: CommandContext[AddServiceRecord], db: Database) -> Decision:
    """A service record; each listed commitment gets its own id and starts at progress 0."""
    customer = await _customer(ctx, db)
    if customer is None:
        return _missing_customer(ctx)
    p = ctx.payload
    record_id = ctx.new_id("service_record")
    commitments = {}
    for index, item in enumerate(p.commitments or []):
        commitment_id = ctx.new_id(f"commitment:{index}")
        commitments[commitment_id] = {
            "_id": commitment_id,
            "tenantId": ctx.tenant_id,
            "customerId": customer["_id"],
            "serviceRecordId": record_id,
            "title": item.title,
            "dueAt": iso(item.due_at) if item.due_at else None,
            "progress": 0,
            "done": False,
            "createdAt": ctx.now,
            "updatedAt": ctx.now,
        }
    record = {
        "_id": record_id,
        "tenantId": ctx.tenant_id,
        "customerId": customer["_id"],
        "title": p.title,
        "description": p.description,
        "ownerId": p.owner_id or ctx.actor_id,
        "outcome": p.outcome,
        "commitmentIds": list(commitments),
        "createdAt": ctx.now,
    }
    updated = await _with_profile(ctx, db, customer, commitments=commitments)
    view = {**public(record), "commitments": [public(c) for c in commitments.values()]}
    return Decision.succeeded(
        view,
        entity_id=record_id,
        changes=[
            changes.insert(SERVICE_RECORDS, record),
            *(changes.insert(COMMITMENTS, c) for c in commitments.values()),
            changes.put(CUSTOMERS, updated),
        ],
        events=[EventDraft("service_record", "created", record_id, customer["_id"], view)],
    )


async def update_commitment(ctx: CommandContext[UpdateCommitment], db: Database) -> Decision:
    """Set a commitment's progress; 100 means done."""
    customer = await _customer(ctx, db)
    if customer is None:
        return _missing_customer(ctx)
    p = ctx.payload
    current = await CommitmentRepository(db).get(ctx.tenant_id, customer["_id"], p.commitment_id)
    if current is None:
        return not_found(ErrorCode.COMMITMENT_NOT_FOUND, "commitment", p.commitment_id)
    done = p.progress >= 100
    updated_commitment = {
        **current,
        "progress": p.progress,
        "done": done,
        "completedAt": (current.get("completedAt") or ctx.now) if done else None,
        "updatedAt": ctx.now,
    }
    updated = await _with_profile(
        ctx, db, customer, commitments={current["_id"]: updated_commitment}
    )
    return Decision.succeeded(
        public(updated_commitment),
        entity_id=current["_id"],
        changes=[changes.put(COMMITMENTS, updated_commitment), changes.put(CUSTOMERS, updated)],
        events=[
            EventDraft.of_document(
                "commitment", "updated", updated_commitment, customer["_id"]
            ).changing(current)
        ],
    )


async def mark_vip(ctx: CommandContext[MarkVip], db: Database) -> Decision:
    customer = await _customer(ctx, db)
    if customer is None:
        return _missing_customer(ctx)
    vip = {
        "isVip": True,
        "reason": ctx.payload.reason,
        "markedAt": ctx.now,
        "markedBy": ctx.actor_id,
    }
    marked = {**customer, "vip": vip, "updatedAt": ctx.now}
    return Decision.succeeded(
        public(marked),
        entity_id=customer["_id"],
        changes=[changes.put(CUSTOMERS, marked)],
        events=[_customer_event("vip_marked", marked).changing(customer)],
    )


USE_CASES = {
    CommandType.CUSTOMER_BIND_EXTERNAL: UseCase(BindExternalIdentity, bind_external),
    CommandType.CUSTOMER_UNBIND_EXTERNAL: UseCase(UnbindExternalIdentity, unbind_external),
    CommandType.CUSTOMER_REFRESH_PROFILE: UseCase(RefreshProfile, refresh_profile),
    CommandType.CUSTOMER_ADD_INTERACTION: UseCase(AddInteraction, add_interaction),
    CommandType.CUSTOMER_ADD_SERVICE_RECORD: UseCase(AddServiceRecord, add_service_record),
    CommandType.CUSTOMER_UPDATE_COMMITMENT: UseCase(UpdateCommitment, update_commitment),
    CommandType.CUSTOMER_MARK_VIP: UseCase(MarkVip, mark_vip),
}

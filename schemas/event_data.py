"""The `data` of each change event type on crm.customer-events, for the AsyncAPI document.

Documentation models, like `schemas.views`, and built from them: an event's data is the
public view of the entity it is about (`storage.documents.public`), which is what reads
answer, less what only reads add (a customer's `sequence`) and plus what only events have
(a soft-deleted entity's `deletedAt`, an unbinding's `reason`). `EVENT_TYPES` lists every
type the worker publishes; `tests/handlers/test_event_schemas.py` validates events the
service really publishes, of every type, against the published schemas.
"""

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from schemas.base import CamelModel
from schemas.views import (
    BindingRead,
    CommitmentRead,
    ContactRead,
    ContractRead,
    CustomerRead,
    FollowUpRead,
    InteractionRead,
    OpportunityRead,
    PaymentRead,
    ServiceRecordRead,
)

DELETED_AT = "when it was deleted (soft: reads answer 404 since)"


def _event_view(
    name: str, view: type[BaseModel], *, drop: tuple[str, ...] = (), **extra: Any
) -> type[CamelModel]:
    """`view`'s fields less `drop`, plus `extra` (name → (type, FieldInfo)), as a model."""
    fields: dict[str, Any] = {
        field_name: (info.annotation, info)
        for field_name, info in view.model_fields.items()
        if field_name not in drop
    }
    fields.update(extra)
    return create_model(name, __base__=CamelModel, __doc__=view.__doc__, **fields)


CustomerData = _event_view("CustomerData", CustomerRead, drop=("sequence",))
DeletedCustomerData = _event_view(
    "DeletedCustomerData",
    CustomerRead,
    drop=("sequence",),
    deleted_at=(str, Field(description=DELETED_AT)),
)
BoundIdentityData = _event_view("BoundIdentityData", BindingRead, drop=("unbound_at",))
UnboundIdentityData = _event_view(
    "UnboundIdentityData",
    BindingRead,
    unbound_at=(str, Field()),
    reason=(
        Literal["customer_deleted"] | None,
        Field(default=None, description="`customer_deleted` when its customer was deleted"),
    ),
)


def _deleted(name: str, view: type[BaseModel]) -> type[CamelModel]:
    return _event_view(name, view, deleted_at=(str, Field(description=DELETED_AT)))


@dataclass(frozen=True)
class EventType:
    """One change event type: its entity, its action (past tense) and its data."""

    entity: str
    action: str
    data: type[BaseModel]
    # About a document that replaced a stored one: has `changedfields`, `previousvalues`.
    replaces: bool = False

    @property
    def name(self) -> str:
        return f"crm.{self.entity}.{self.action}"


def _entity(entity: str, view: type[BaseModel], label: str) -> list[EventType]:
    """created, updated (replaces) and deleted (replaces, soft) of a CRM API entity."""
    return [
        EventType(entity, "created", view),
        EventType(entity, "updated", view, replaces=True),
        EventType(entity, "deleted", _deleted(f"Deleted{label}Data", view), replaces=True),
    ]


EVENT_TYPES: list[EventType] = [
    EventType("customer", "created", CustomerData),
    EventType("customer", "updated", CustomerData, replaces=True),
    EventType("customer", "deleted", DeletedCustomerData, replaces=True),
    EventType("customer", "vip_marked", CustomerData, replaces=True),
    EventType("customer", "profile_refreshed", CustomerData, replaces=True),
    EventType("customer", "external_identity_bound", BoundIdentityData),
    EventType("customer", "external_identity_unbound", UnboundIdentityData),
    EventType("interaction", "recorded", InteractionRead),
    EventType("service_record", "created", ServiceRecordRead),
    EventType("commitment", "updated", CommitmentRead, replaces=True),
    *_entity("contact", ContactRead, "Contact"),
    *_entity("opportunity", OpportunityRead, "Opportunity"),
    *_entity("follow_up", FollowUpRead, "FollowUp"),
    EventType("contract", "created", ContractRead),
    EventType("contract", "updated", ContractRead, replaces=True),  # a payment's paidAmount
    EventType("payment", "created", PaymentRead),
]
EVENT_TYPES_BY_NAME = {event_type.name: event_type for event_type in EVENT_TYPES}

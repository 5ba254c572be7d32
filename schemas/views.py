"""What readers get: the entities as both APIs answer them, for the OpenAPI.

Documentation models, like `schemas.responses`: the routes answer plain dicts (a stored
document's `public()` view, a command's result data); these name their fields so that the
OpenAPI shows a client what it gets. `tests/api/test_entity_schemas.py` validates real
answers of every route against them (and that they name every field an answer has).
Times are strings: UTC, ISO 8601 with milliseconds (`2026-12-06T03:24:17.967Z`).
"""

from typing import Literal

from pydantic import Field

from schemas.base import CamelModel
from schemas.contracts import ContractStatus
from schemas.customer_profile import InteractionType, SystemType
from schemas.follow_ups import FollowUpMethod
from schemas.opportunities import OpportunityStage

PHONE_DOC = "masked (`138****5678`) unless the token has `customers.pii`"


class _Entity(CamelModel):
    id: str


class _Stamped(_Entity):
    created_by: str
    created_at: str
    updated_at: str


# -- customers (both APIs) ------------------------------------------------------------------


class VipStatus(CamelModel):
    is_vip: bool
    reason: str | None
    marked_at: str | None
    marked_by: str | None


class CustomerMetrics(CamelModel):
    """The metrics of the last profile refresh that carried metrics."""

    satisfaction_score: float = Field(ge=0, le=100)
    issue_count: int = Field(ge=0)
    average_resolution_minutes: float = Field(ge=0)
    source: str | None
    refreshed_at: str


class DerivedProfile(CamelModel):
    """Recomputed on every refresh, interaction, service record and commitment change."""

    interaction_count: int
    last_interaction_at: str | None
    open_commitments: int
    health_score: int = Field(ge=0, le=100)
    computed_at: str


class CustomerRead(_Stamped):
    """A customer, as the customer profile API (in its envelope) and the CRM API answer it."""

    name: str
    phone: str | None = Field(default=None, description=PHONE_DOC)
    email: str | None = None
    company: str | None = None
    industry: str | None = None
    level: str | None = None
    source: str | None = None
    address: str | None = None
    remark: str | None = None
    # A PATCH with `null` clears any field but the name (the CRM API), these two included.
    tags: list[str] = Field(default_factory=list, description="absent once cleared")
    owner_id: str | None = Field(default=None, description="absent once cleared")
    vip: VipStatus
    metrics: CustomerMetrics | None
    profile: DerivedProfile
    profile_refreshed_at: str | None = Field(default=None, description="last profile refresh")
    profile_source: str | None = Field(default=None, description="source of that refresh")
    sequence: int = Field(
        ge=0,
        description=(
            "the `sequence` of the customer's last change event this answer reflects (0 "
            "before any): a consumer bootstrapping from reads skips events at or below it"
        ),
    )


class CustomerPage(CamelModel):
    items: list[CustomerRead]
    total: int
    page: int
    page_size: int


class ImportItemResult(CamelModel):
    index: int = Field(description="position of the item in the request")
    status: Literal["created", "duplicate", "invalid"]
    id: str | None = Field(default=None, description="the created customer (`created`)")
    error: str | None = Field(default=None, description="why not (`duplicate`, `invalid`)")


class ImportResult(CamelModel):
    total: int
    created: int
    duplicate: int
    invalid: int
    items: list[ImportItemResult]


class Deleted(CamelModel):
    """A soft delete: afterwards the entity answers 404."""

    id: str
    deleted: Literal[True]


# -- the CRM API ----------------------------------------------------------------------------------


class ContactRead(_Stamped):
    customer_id: str
    name: str
    phone: str | None = Field(default=None, description=PHONE_DOC)
    email: str | None = None
    title: str | None = None
    is_primary: bool


class ContactPage(CamelModel):
    items: list[ContactRead]
    total: int
    page: int
    page_size: int


class OpportunityRead(_Stamped):
    customer_id: str
    name: str
    amount: float = Field(ge=0)
    stage: OpportunityStage
    expected_close_date: str | None = Field(description="a date, `YYYY-MM-DD`")
    owner_id: str


class OpportunityPage(CamelModel):
    items: list[OpportunityRead]
    total: int
    page: int
    page_size: int


class FollowUpRead(_Stamped):
    customer_id: str
    opportunity_id: str | None
    method: FollowUpMethod
    content: str
    followed_at: str
    next_follow_up_at: str | None


class FollowUpPage(CamelModel):
    items: list[FollowUpRead]
    total: int
    page: int
    page_size: int


class ContractRead(_Stamped):
    contract_no: str
    customer_id: str
    opportunity_id: str | None
    name: str | None
    amount: float = Field(gt=0)
    paid_amount: float = Field(ge=0, description="sum of its payments (never above `amount`)")
    signed_at: str | None = Field(description="null for a draft signed at no given time")
    status: ContractStatus


class ContractPage(CamelModel):
    items: list[ContractRead]
    total: int
    page: int
    page_size: int


class PaymentRead(_Stamped):
    contract_id: str
    customer_id: str = Field(description="the contract's customer")
    amount: float = Field(gt=0)
    paid_at: str
    method: str | None
    remark: str | None


class PaymentPage(CamelModel):
    items: list[PaymentRead]
    total: int
    page: int
    page_size: int


class FunnelStage(CamelModel):
    stage: OpportunityStage
    count: int
    amount: float = Field(description="sum of the stage's opportunity amounts")


class FunnelTotal(CamelModel):
    count: int
    amount: float


class Funnel(CamelModel):
    """Every stage, in funnel order, with the live opportunities in it."""

    stages: list[FunnelStage]
    total: FunnelTotal


class BusinessMetrics(CamelModel):
    customer_total: int
    opportunity_total: int
    conversion_rate: float = Field(ge=0, le=1, description="won ÷ all live opportunities")
    funnel: Funnel


# -- the customer profile API (answers in `{"success": true, "data": ...}`) ----------------


class BindingRead(_Entity):
    customer_id: str
    system_type: SystemType
    system_name: str
    external_id: str
    display_name: str | None
    bound_at: str
    bound_by: str
    unbound_at: str | None = Field(default=None, description="in the answer to an unbind")


class InteractionRead(_Entity):
    customer_id: str
    interaction_type: InteractionType
    occurred_at: str
    notes: str | None
    channel: str | None
    recorded_by: str
    created_at: str


class CommitmentRead(_Entity):
    customer_id: str
    service_record_id: str
    title: str
    due_at: str | None
    progress: int = Field(ge=0, le=100)
    done: bool = Field(description="progress 100")
    created_at: str
    updated_at: str
    completed_at: str | None = Field(default=None, description="when progress reached 100")


class ServiceRecordRead(_Entity):
    customer_id: str
    title: str
    description: str
    owner_id: str
    outcome: str | None
    commitment_ids: list[str]
    commitments: list[CommitmentRead]
    created_at: str


class _Success(CamelModel):
    success: Literal[True]


class CustomerEnvelope(_Success):
    data: CustomerRead


class BindingEnvelope(_Success):
    data: BindingRead


class BindingListEnvelope(_Success):
    data: list[BindingRead]


class InteractionEnvelope(_Success):
    data: InteractionRead


class InteractionListEnvelope(_Success):
    data: list[InteractionRead] = Field(description="newest first")


class ServiceRecordEnvelope(_Success):
    data: ServiceRecordRead


class CommitmentEnvelope(_Success):
    data: CommitmentRead

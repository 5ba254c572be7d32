"""Customer profile API request bodies and the command payloads built from them."""

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from schemas.base import (
    NULL_IS_EMPTY,
    CamelModel,
    Email,
    Id,
    LongText,
    Name,
    Phone,
    ShortText,
    StrictInteger,
    StrictNumber,
    Tags,
    Timestamp,
    single_line,
)


class CreateCustomerProfileRequest(CamelModel):
    """`CreateCustomerProfileRequestDTO` (the customer profile API)."""

    name: Name
    phone: Phone | None = None
    email: Email | None = None
    company: ShortText | None = None
    owner_id: Id | None = None
    tags: Tags = None


class SystemType(StrEnum):
    IM = "im"
    CRM = "crm"


class ExternalIdentity(CamelModel):
    """One identity in an external IM or CRM system."""

    system_type: SystemType
    system_name: Annotated[
        str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    ]
    external_id: Id


class BindExternalIdentityRequest(ExternalIdentity):
    display_name: ShortText | None = None


class BindExternalIdentity(BindExternalIdentityRequest):
    """Payload of `customer.bind_external`."""

    customer_id: Id


class UnbindExternalIdentityRequest(ExternalIdentity):
    pass


class UnbindExternalIdentity(UnbindExternalIdentityRequest):
    """Payload of `customer.unbind_external`."""

    customer_id: Id


class ProfileMetrics(CamelModel):
    satisfaction_score: Annotated[StrictNumber, Field(ge=0, le=100)]
    issue_count: Annotated[StrictInteger, Field(ge=0, le=1_000_000)]
    average_resolution_minutes: Annotated[StrictNumber, Field(ge=0, le=10_000_000)]


class RefreshProfileRequest(CamelModel):
    source: Annotated[str, single_line(64, min_length=1)]
    metrics: ProfileMetrics | None = None


class RefreshProfile(RefreshProfileRequest):
    """Payload of `customer.refresh_profile`."""

    customer_id: Id


class InteractionType(StrEnum):
    CALL = "call"
    CHAT = "chat"
    EMAIL = "email"
    MEETING = "meeting"


class AddInteractionRequest(CamelModel):
    interaction_type: InteractionType
    occurred_at: Timestamp | None = None
    notes: LongText | None = None
    channel: ShortText | None = None


class AddInteraction(AddInteractionRequest):
    """Payload of `customer.add_interaction`."""

    customer_id: Id


class CommitmentRequest(CamelModel):
    title: Name
    due_at: Timestamp | None = None


class AddServiceRecordRequest(CamelModel):
    title: Name
    description: LongText
    owner_id: Id | None = None
    outcome: LongText | None = None
    commitments: Annotated[
        Annotated[list[CommitmentRequest], Field(max_length=50)] | None, NULL_IS_EMPTY
    ] = None


class AddServiceRecord(AddServiceRecordRequest):
    """Payload of `customer.add_service_record`."""

    customer_id: Id


class UpdateCommitmentRequest(CamelModel):
    progress: Annotated[StrictInteger, Field(ge=0, le=100)]


class UpdateCommitment(UpdateCommitmentRequest):
    """Payload of `customer.update_commitment`."""

    customer_id: Id
    commitment_id: Id


class MarkVipRequest(CamelModel):
    reason: LongText | None = None


class MarkVip(MarkVipRequest):
    """Payload of `customer.mark_vip`."""

    customer_id: Id


# Kept for readers of the seed: its DTO names map onto these models.
CreateCustomerProfileRequestDTO = CreateCustomerProfileRequest
BindExternalIdentityRequestDTO = BindExternalIdentityRequest
UnbindExternalIdentityRequestDTO = UnbindExternalIdentityRequest

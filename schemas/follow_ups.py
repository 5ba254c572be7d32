"""CRM API follow-up records: request bodies and the `follow_up.*` command payloads."""

from enum import StrEnum
from typing import Annotated, Self

from pydantic import ConfigDict, model_validator

from schemas.base import CamelModel, Id, Timestamp, multi_line
from schemas.opportunities import reject_cleared

Content = Annotated[str, multi_line(5000, min_length=1)]


class FollowUpMethod(StrEnum):
    CALL = "call"
    VISIT = "visit"
    EMAIL = "email"
    IM = "im"
    OTHER = "other"


class CreateFollowUpRequest(CamelModel):
    """`POST /follow-ups`. `method` defaults to `other`, `followedAt` to now.

    `opportunityId`, when given, must be an opportunity of the same customer.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customerId": "0b7c6a0e-3f0e-5a57-9a6e-6f1c3c3e2f4b",
                    "opportunityId": "5d1e2f3a-4b5c-5d6e-8f70-8192a3b4c5d6",
                    "method": "visit",
                    "content": "上门演示，客户对报价有异议",
                    "followedAt": "2026-11-20T09:30:00Z",
                    "nextFollowUpAt": "2026-11-27T09:30:00Z",
                }
            ]
        }
    )

    customer_id: Id
    opportunity_id: Id | None = None
    method: FollowUpMethod = FollowUpMethod.OTHER
    content: Content
    followed_at: Timestamp | None = None
    next_follow_up_at: Timestamp | None = None


class CreateFollowUp(CreateFollowUpRequest):
    """Payload of `follow_up.create`."""


class UpdateFollowUpRequest(CamelModel):
    """`PATCH /follow-ups/{follow_up_id}`: only the fields present change.

    `opportunityId: null` and `nextFollowUpAt: null` clear those; method, content and
    followedAt cannot be cleared. A follow-up stays with its customer.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"content": "电话确认合同条款", "method": "call", "nextFollowUpAt": None}]
        }
    )

    opportunity_id: Id | None = None
    method: FollowUpMethod | None = None
    content: Content | None = None
    followed_at: Timestamp | None = None
    next_follow_up_at: Timestamp | None = None

    @model_validator(mode="after")
    def _required_fields_cannot_be_cleared(self) -> Self:
        reject_cleared(self, ("method", "content", "followed_at"))
        return self


class UpdateFollowUp(UpdateFollowUpRequest):
    """Payload of `follow_up.update`."""

    follow_up_id: Id


class DeleteFollowUp(CamelModel):
    """Payload of `follow_up.delete` (a soft delete)."""

    follow_up_id: Id

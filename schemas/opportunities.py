"""CRM API opportunities: request bodies, `opportunity.*` payloads, stages and money amounts."""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BeforeValidator, ConfigDict, Field, model_validator

from schemas.base import BoundedDate, CamelModel, Id, Name, StrictNumber

MAX_AMOUNT = 1_000_000_000_000.0  # one trillion: far above any real deal, far below float limits

# Money amounts of the sales entities (opportunities, contracts, payments).
Amount = Annotated[StrictNumber, Field(ge=0, le=MAX_AMOUNT, allow_inf_nan=False)]
PositiveAmount = Annotated[StrictNumber, Field(gt=0, le=MAX_AMOUNT, allow_inf_nan=False)]


class OpportunityStage(StrEnum):
    """Funnel stages, in funnel order (reports list them in this order)."""

    LEAD = "lead"
    QUALIFIED = "qualified"
    PROPOSAL = "proposal"
    NEGOTIATION = "negotiation"
    WON = "won"
    LOST = "lost"


FUNNEL_STAGES: tuple[OpportunityStage, ...] = tuple(OpportunityStage)


def _day_of(value: object) -> object:
    """A full timestamp is accepted for a date field: its UTC calendar day is kept."""
    try:
        if isinstance(value, str) and len(value) > 10 and value[10:11] in ("T", "t", " "):
            value = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        if isinstance(value, datetime):
            return value.astimezone(UTC).date() if value.tzinfo else value.date()
    except OverflowError:  # its UTC day is before year 1 or after 9999
        raise ValueError("date out of range") from None
    except ValueError:  # (not quoting the input: error texts end up in logs)
        raise ValueError("not an ISO 8601 date or timestamp") from None
    return value


Day = Annotated[BoundedDate, BeforeValidator(_day_of)]


def reject_cleared(model: CamelModel, names: tuple[str, ...]) -> None:
    """PATCH may change these fields but not null them (they always have a value)."""
    for name in names:
        if name in model.model_fields_set and getattr(model, name) is None:
            alias = type(model).model_fields[name].alias or name
            raise ValueError(f"{alias} cannot be null")


class CreateOpportunityRequest(CamelModel):
    """`POST /opportunities`. `ownerId` defaults to `X-User-Id`, else the token's `sub`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customerId": "0b7c6a0e-3f0e-5a57-9a6e-6f1c3c3e2f4b",
                    "name": "2026 年度集团采购",
                    "amount": 250000,
                    "stage": "qualified",
                    "expectedCloseDate": "2026-12-31",
                    "ownerId": "u1",
                }
            ]
        }
    )

    customer_id: Id
    name: Name
    amount: Amount = 0.0
    stage: OpportunityStage = OpportunityStage.LEAD
    expected_close_date: Day | None = None
    owner_id: Id | None = None


class CreateOpportunity(CreateOpportunityRequest):
    """Payload of `opportunity.create` (the request body; `ownerId` defaults to the actor)."""


class UpdateOpportunityRequest(CamelModel):
    """`PATCH /opportunities/{opportunity_id}`: only the fields present change.

    `expectedCloseDate: null` clears the date; name, amount, stage and owner cannot be
    cleared. An opportunity stays with its customer (`customerId` is not changeable).
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"stage": "negotiation", "amount": 230000, "expectedCloseDate": None}]
        }
    )

    name: Name | None = None
    amount: Amount | None = None
    stage: OpportunityStage | None = None
    expected_close_date: Day | None = None
    owner_id: Id | None = None

    @model_validator(mode="after")
    def _required_fields_cannot_be_cleared(self) -> Self:
        reject_cleared(self, ("name", "amount", "stage", "owner_id"))
        return self


class UpdateOpportunity(UpdateOpportunityRequest):
    """Payload of `opportunity.update`."""

    opportunity_id: Id


class DeleteOpportunity(CamelModel):
    """Payload of `opportunity.delete` (a soft delete: reports stop counting it)."""

    opportunity_id: Id

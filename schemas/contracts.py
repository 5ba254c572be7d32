"""CRM API contracts: the request body, the `contract.create` payload and contract statuses."""

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict

from schemas.base import CamelModel, Id, Name, Timestamp, single_line
from schemas.opportunities import PositiveAmount

ContractNo = Annotated[str, single_line(64, min_length=1)]


class ContractStatus(StrEnum):
    """draft (not signed yet), active (signed, running), completed, terminated."""

    DRAFT = "draft"
    ACTIVE = "active"
    COMPLETED = "completed"
    TERMINATED = "terminated"


# Payments are recorded only against a running contract: not a draft (not signed yet), not a
# completed or terminated one (closed).
PAYABLE_STATUSES = frozenset({ContractStatus.ACTIVE})


class CreateContractRequest(CamelModel):
    """`POST /contracts`. `contractNo` is unique per tenant; `status` defaults to `active`.

    `signedAt` defaults to now, except for a `draft` (not signed yet: null).
    `opportunityId`, when given, must be an opportunity of the same customer.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "contractNo": "HT-2026-0001",
                    "customerId": "0b7c6a0e-3f0e-5a57-9a6e-6f1c3c3e2f4b",
                    "opportunityId": "5d1e2f3a-4b5c-5d6e-8f70-8192a3b4c5d6",
                    "name": "2026 年度集团采购合同",
                    "amount": 230000,
                    "signedAt": "2026-11-21T08:00:00Z",
                    "status": "active",
                }
            ]
        }
    )

    contract_no: ContractNo
    customer_id: Id
    opportunity_id: Id | None = None
    name: Name | None = None
    amount: PositiveAmount
    signed_at: Timestamp | None = None
    status: ContractStatus = ContractStatus.ACTIVE


class CreateContract(CreateContractRequest):
    """Payload of `contract.create`."""

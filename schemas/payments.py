"""CRM API payments (回款): the request body and the `payment.create` payload."""

from pydantic import ConfigDict

from schemas.base import CamelModel, Id, LongText, ShortText, Timestamp
from schemas.opportunities import PositiveAmount


class CreatePaymentRequest(CamelModel):
    """`POST /payments`: `contractId` is required and names an `active` contract (a draft,
    completed or terminated one is a 409); a contract's payments may not add up to more
    than its amount. `paidAt` defaults to now."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "contractId": "9a8b7c6d-5e4f-5a3b-9c2d-1e0f9a8b7c6d",
                    "amount": 50000,
                    "paidAt": "2026-12-01T10:00:00Z",
                    "method": "bank_transfer",
                    "remark": "首期款",
                }
            ]
        }
    )

    contract_id: Id
    amount: PositiveAmount
    paid_at: Timestamp | None = None
    method: ShortText | None = None
    remark: LongText | None = None


class CreatePayment(CreatePaymentRequest):
    """Payload of `payment.create`."""

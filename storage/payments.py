"""API B payment documents (回款): pages for the readers and their indexes.

The running total of a contract's payments is kept on the contract (`paidAmount`), which
the `payment.create` decision rewrites together with inserting the payment.
"""

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel

from storage.database import Database, Document
from storage.documents import alive

PAYMENTS = "payments"


class PaymentRepository:
    def __init__(self, db: Database) -> None:
        self._c = db[PAYMENTS]

    async def get(self, tenant_id: str, payment_id: str) -> Document | None:
        return await self._c.find_one(alive(tenant_id, _id=payment_id))

    async def page(
        self, tenant_id: str, *, skip: int, limit: int, contract_id: str | None = None
    ) -> tuple[list[Document], int]:
        """One page, newest first with the id as tie-breaker (a stable order), and the total."""
        query: dict[str, Any] = alive(tenant_id)
        if contract_id is not None:
            query["contractId"] = contract_id
        cursor = (
            self._c.find(query)
            .sort([("createdAt", DESCENDING), ("_id", DESCENDING)])
            .skip(skip)
            .limit(limit)
        )
        return await cursor.to_list(), await self._c.count_documents(query)


INDEXES = [
    # the list (all, or of one contract), newest first, id as tie-breaker
    IndexModel(
        [
            ("tenantId", ASCENDING),
            ("_deleted", ASCENDING),
            ("createdAt", DESCENDING),
            ("_id", DESCENDING),
        ],
        name="payment_list",
    ),
    IndexModel(
        [
            ("tenantId", ASCENDING),
            ("contractId", ASCENDING),
            ("_deleted", ASCENDING),
            ("createdAt", DESCENDING),
            ("_id", DESCENDING),
        ],
        name="payment_contract_list",
    ),
]

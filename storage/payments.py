"""CRM API payment documents (回款): pages for the readers and their indexes.

The running total of a contract's payments is kept on the contract (`paidAmount`), which
the `payment.create` decision rewrites together with inserting the payment.
"""

from typing import Any

from storage.database import Database, Document
from storage.documents import (
    SortOrder,
    alive,
    list_page,
    newest_first_indexes,
    range_indexes,
)

PAYMENTS = "payments"


class PaymentRepository:
    def __init__(self, db: Database) -> None:
        self._c = db[PAYMENTS]

    async def get(self, tenant_id: str, payment_id: str) -> Document | None:
        return await self._c.find_one(alive(tenant_id, _id=payment_id))

    async def search(
        self, tenant_id: str, conditions: dict[str, Any], sort: SortOrder, *, skip: int, limit: int
    ) -> tuple[list[Document], int]:
        """One page of the live documents meeting `conditions` (stored field → condition)
        in `sort` order, and their total."""
        return await list_page(self._c, alive(tenant_id, **conditions), sort, skip, limit)


INDEXES = [
    # the list (all, or of one contract), newest first, id as tie-breaker
    *newest_first_indexes("payment", contract="contractId"),
    # `paidFrom`/`paidTo` and `sort=paidAt`
    *range_indexes("payment", paid="paidAt"),
]

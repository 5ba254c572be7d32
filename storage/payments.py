"""API B payment documents (回款): pages for the readers and their indexes.

The running total of a contract's payments is kept on the contract (`paidAmount`), which
the `payment.create` decision rewrites together with inserting the payment.
"""

from storage.database import Database, Document
from storage.documents import alive, newest_first_indexes, newest_first_page

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
        return await newest_first_page(
            self._c, tenant_id, skip=skip, limit=limit, contractId=contract_id
        )


INDEXES = [
    # the list (all, or of one contract), newest first, id as tie-breaker
    *newest_first_indexes("payment", contract="contractId"),
]

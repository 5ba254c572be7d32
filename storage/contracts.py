"""CRM API contract documents: look-ups for the rules, pages for the readers, indexes.

`contractNo` is unique per tenant; the unique index is the last word when two commands
race for the same number (the `contract.create` decision's insert carries the rejection).
"""

from typing import Any

from pymongo import ASCENDING, IndexModel

from storage.database import Database, Document
from storage.documents import (
    SortOrder,
    alive,
    list_page,
    newest_first_indexes,
)

CONTRACTS = "contracts"


class ContractRepository:
    def __init__(self, db: Database) -> None:
        self._c = db[CONTRACTS]

    async def get(self, tenant_id: str, contract_id: str) -> Document | None:
        """A live contract of this tenant."""
        return await self._c.find_one(alive(tenant_id, _id=contract_id))

    async def with_number(self, tenant_id: str, contract_no: str) -> Document | None:
        """The live contract holding this number in the tenant, if any."""
        return await self._c.find_one(alive(tenant_id, contractNo=contract_no), {"_id": 1})

    async def search(
        self, tenant_id: str, conditions: dict[str, Any], sort: SortOrder, *, skip: int, limit: int
    ) -> tuple[list[Document], int]:
        """One page of the live documents meeting `conditions` (stored field → condition)
        in `sort` order, and their total."""
        return await list_page(self._c, alive(tenant_id, **conditions), sort, skip, limit)


INDEXES = [
    # one live contract per number and tenant
    IndexModel(
        [("tenantId", ASCENDING), ("contractNo", ASCENDING)],
        name="contract_no_unique",
        unique=True,
        partialFilterExpression={"_deleted": False},
    ),
    # the list (all, or of one customer), newest first, id as tie-breaker
    *newest_first_indexes("contract", customer="customerId", status="status"),
]

"""CRM API opportunity documents: look-ups for the rules, pages for the readers, indexes."""

from typing import Any

from pymongo import ASCENDING, IndexModel

from storage.database import Database, Document
from storage.documents import (
    SortOrder,
    alive,
    list_page,
    newest_first_indexes,
    owning_customer,
    range_indexes,
)

OPPORTUNITIES = "opportunities"


class OpportunityRepository:
    def __init__(self, db: Database) -> None:
        self._c = db[OPPORTUNITIES]

    async def get(self, tenant_id: str, opportunity_id: str) -> Document | None:
        """A live (not deleted) opportunity of this tenant."""
        return await self._c.find_one(alive(tenant_id, _id=opportunity_id))

    async def customer_of(self, tenant_id: str, opportunity_id: str) -> str | None:
        """The owning customer of this tenant's opportunity, deleted or not (for the
        command key: a repeated DELETE must reach the journal and get its first answer)."""
        return await owning_customer(self._c, tenant_id, opportunity_id)

    async def search(
        self, tenant_id: str, conditions: dict[str, Any], sort: SortOrder, *, skip: int, limit: int
    ) -> tuple[list[Document], int]:
        """One page of the live documents meeting `conditions` (stored field → condition)
        in `sort` order, and their total."""
        return await list_page(self._c, alive(tenant_id, **conditions), sort, skip, limit)


INDEXES = [
    # the list (all, or of one customer), newest first, id as tie-breaker
    *newest_first_indexes("opportunity", customer="customerId", stage="stage", owner="ownerId"),
    # `minAmount`/`maxAmount` and `sort=amount`
    *range_indexes("opportunity", amount="amount"),
    # the funnel's grouping by stage
    IndexModel(
        [("tenantId", ASCENDING), ("_deleted", ASCENDING), ("stage", ASCENDING)],
        name="opportunity_funnel",
    ),
]

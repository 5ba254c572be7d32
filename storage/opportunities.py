"""API B opportunity documents: look-ups for the rules, pages for the readers, indexes."""

from pymongo import ASCENDING, IndexModel

from storage.database import Database, Document
from storage.documents import alive, newest_first_indexes, newest_first_page, owning_customer

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

    async def page(
        self, tenant_id: str, *, skip: int, limit: int, customer_id: str | None = None
    ) -> tuple[list[Document], int]:
        """One page, newest first with the id as tie-breaker (a stable order), and the total."""
        return await newest_first_page(
            self._c, tenant_id, skip=skip, limit=limit, customerId=customer_id
        )


INDEXES = [
    # the list (all, or of one customer), newest first, id as tie-breaker
    *newest_first_indexes("opportunity", customer="customerId"),
    # the funnel's grouping by stage
    IndexModel(
        [("tenantId", ASCENDING), ("_deleted", ASCENDING), ("stage", ASCENDING)],
        name="opportunity_funnel",
    ),
]

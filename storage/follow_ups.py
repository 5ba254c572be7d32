"""API B follow-up documents: look-ups for the rules, pages for the readers, indexes."""

from storage.database import Database, Document
from storage.documents import alive, newest_first_indexes, newest_first_page, owning_customer

FOLLOW_UPS = "follow_ups"


class FollowUpRepository:
    def __init__(self, db: Database) -> None:
        self._c = db[FOLLOW_UPS]

    async def get(self, tenant_id: str, follow_up_id: str) -> Document | None:
        """A live (not deleted) follow-up of this tenant."""
        return await self._c.find_one(alive(tenant_id, _id=follow_up_id))

    async def customer_of(self, tenant_id: str, follow_up_id: str) -> str | None:
        """The owning customer of this tenant's follow-up, deleted or not (command key)."""
        return await owning_customer(self._c, tenant_id, follow_up_id)

    async def page(
        self,
        tenant_id: str,
        *,
        skip: int,
        limit: int,
        customer_id: str | None = None,
        opportunity_id: str | None = None,
    ) -> tuple[list[Document], int]:
        """One page, newest first with the id as tie-breaker (a stable order), and the total."""
        return await newest_first_page(
            self._c,
            tenant_id,
            skip=skip,
            limit=limit,
            customerId=customer_id,
            opportunityId=opportunity_id,
        )


# the list (all, of one customer, of one opportunity), newest first, id as tie-breaker
INDEXES = newest_first_indexes("follow_up", customer="customerId", opportunity="opportunityId")

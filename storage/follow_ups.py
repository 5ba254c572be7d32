"""CRM API follow-up documents: look-ups for the rules, pages for the readers, indexes."""

from typing import Any

from storage.database import Database, Document
from storage.documents import (
    SortOrder,
    alive,
    list_page,
    newest_first_indexes,
    owning_customer,
    range_indexes,
)

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

    async def search(
        self, tenant_id: str, conditions: dict[str, Any], sort: SortOrder, *, skip: int, limit: int
    ) -> tuple[list[Document], int]:
        """One page of the live documents meeting `conditions` (stored field → condition)
        in `sort` order, and their total."""
        return await list_page(self._c, alive(tenant_id, **conditions), sort, skip, limit)


INDEXES = [
    # the list (all, of one customer, of one opportunity, by one method), newest first,
    # id as tie-breaker
    *newest_first_indexes(
        "follow_up", customer="customerId", opportunity="opportunityId", method="method"
    ),
    # `followedFrom`/`followedTo` and `sort=followedAt`
    *range_indexes("follow_up", followed="followedAt"),
]

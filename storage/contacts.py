"""CRM API contact documents: look-ups for the rules, pages for the readers, their indexes."""

from typing import Any

from pymongo import ASCENDING, IndexModel

from storage.database import Database, Document
from storage.documents import (
    SortOrder,
    alive,
    list_page,
    newest_first_indexes,
    range_indexes,
)

CONTACTS = "contacts"


class ContactRepository:
    def __init__(self, db: Database) -> None:
        self._c = db[CONTACTS]

    async def get(self, tenant_id: str, contact_id: str) -> Document | None:
        """A live (not deleted) contact of this tenant."""
        return await self._c.find_one(alive(tenant_id, _id=contact_id))

    async def primaries(
        self, tenant_id: str, customer_id: str, *, except_id: str | None = None
    ) -> list[Document]:
        """The customer's live contacts flagged primary (at most one when the rule holds)."""
        query = alive(tenant_id, customerId=customer_id, isPrimary=True)
        if except_id is not None:
            query["_id"] = {"$ne": except_id}
        return await self._c.find(query).to_list()

    async def search(
        self, tenant_id: str, conditions: dict[str, Any], sort: SortOrder, *, skip: int, limit: int
    ) -> tuple[list[Document], int]:
        """One page of the live documents meeting `conditions` (stored field → condition)
        in `sort` order, and their total."""
        return await list_page(self._c, alive(tenant_id, **conditions), sort, skip, limit)


INDEXES = [
    # the list (all, or of one customer), newest first, id as tie-breaker
    *newest_first_indexes("contact", customer="customerId", primary="isPrimary"),
    # `q` (a case-insensitive regex on the name, matched against the index keys);
    # `sort=name`
    *range_indexes("contact", name="name"),
    # the primary-contact look-up
    IndexModel(
        [("tenantId", ASCENDING), ("customerId", ASCENDING), ("isPrimary", ASCENDING)],
        name="contact_primary",
        partialFilterExpression={"isPrimary": True, "_deleted": False},
    ),
]

"""API B contact documents: look-ups for the rules, pages for the readers, their indexes."""

from pymongo import ASCENDING, IndexModel

from storage.database import Database, Document
from storage.documents import alive, newest_first_indexes, newest_first_page

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

    async def page(
        self, tenant_id: str, *, skip: int, limit: int, customer_id: str | None = None
    ) -> tuple[list[Document], int]:
        """One page, newest first with the id as tie-breaker (a stable order), and the total."""
        return await newest_first_page(
            self._c, tenant_id, skip=skip, limit=limit, customerId=customer_id
        )


INDEXES = [
    # the list (all, or of one customer), newest first, id as tie-breaker
    *newest_first_indexes("contact", customer="customerId"),
    # the primary-contact look-up
    IndexModel(
        [("tenantId", ASCENDING), ("customerId", ASCENDING), ("isPrimary", ASCENDING)],
        name="contact_primary",
        partialFilterExpression={"isPrimary": True, "_deleted": False},
    ),
]

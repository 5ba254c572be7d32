"""CRM API contact documents: look-ups for the rules, pages for the readers, their indexes."""

from pymongo import ASCENDING, IndexModel

from storage.database import Document
from storage.documents import (
    TenantDocuments,
    alive,
    newest_first_indexes,
    range_indexes,
)

CONTACTS = "contacts"


class ContactRepository(TenantDocuments):
    collection = CONTACTS

    async def primaries(
        self, tenant_id: str, customer_id: str, *, except_id: str | None = None
    ) -> list[Document]:
        """The customer's live contacts flagged primary (at most one when the rule holds)."""
        query = alive(tenant_id, customerId=customer_id, isPrimary=True)
        if except_id is not None:
            query["_id"] = {"$ne": except_id}
        return await self._c.find(query).to_list()


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

"""Customer documents: look-ups for the rules, pages for the readers, their indexes."""

from typing import Any

from pymongo import ASCENDING, IndexModel

from schemas.text import comparable_name
from storage.database import Database, Document
from storage.documents import alive, newest_first_indexes, newest_first_page, public

CUSTOMERS = "customers"

INDEXES = [
    # one live customer per name key and tenant (a deleted one frees the name)
    IndexModel(
        [("tenantId", ASCENDING), ("_nameKey", ASCENDING)],
        name="customer_name_unique",
        unique=True,
        partialFilterExpression={"_deleted": False},
    ),
    # the list (all, or of one owner), newest first, id as tie-breaker: filter and sort
    # from the index
    *newest_first_indexes("customer", owner="ownerId"),
    # identity matching of integration events (phone exact, email case-insensitive)
    IndexModel([("tenantId", ASCENDING), ("phone", ASCENDING)], name="phone"),
    IndexModel([("tenantId", ASCENDING), ("email", ASCENDING)], name="email"),
]


def name_key(name: str) -> str:
    """Customer names are unique per tenant after NFKC normalisation, trimming, folding
    spaces and case (`schemas.text.comparable_name`)."""
    return comparable_name(name)


def customer_view(doc: Document) -> dict[str, Any]:
    """A customer as reads answer it: its public view and `sequence`, the number of its
    last change event this state reflects (0: none yet). A consumer bootstrapping from
    reads skips the events at or below it (README, "Kafka")."""
    return {**public(doc), "sequence": int(doc.get("_seq", 0))}


class CustomerRepository:
    def __init__(self, db: Database) -> None:
        self._c = db[CUSTOMERS]

    async def get(self, tenant_id: str, customer_id: str) -> Document | None:
        """A live (not deleted) customer of this tenant."""
        return await self._c.find_one(alive(tenant_id, _id=customer_id))

    async def with_name_keys(self, tenant_id: str, keys: list[str]) -> list[Document]:
        """Live customers whose name key is one of `keys` (one round trip for any number)."""
        cursor = self._c.find(alive(tenant_id, _nameKey={"$in": keys}), {"_nameKey": 1})
        return await cursor.to_list()

    async def sequences(self, customer_ids: list[str]) -> dict[str, int]:
        """Current change-event sequence number of each customer (0 if none yet)."""
        cursor = self._c.find({"_id": {"$in": customer_ids}}, {"_seq": 1})
        return {doc["_id"]: int(doc.get("_seq", 0)) for doc in await cursor.to_list()}

    async def page(
        self, tenant_id: str, *, skip: int, limit: int, owner_id: str | None = None
    ) -> tuple[list[Document], int]:
        """One page, newest first with the id as tie-breaker (a stable order), and the total."""
        return await newest_first_page(self._c, tenant_id, skip=skip, limit=limit, ownerId=owner_id)

    async def count(self, tenant_id: str) -> int:
        return await self._c.count_documents(alive(tenant_id))

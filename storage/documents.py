"""How stored documents map to what readers see."""

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from storage.database import Document

# Stored-only fields: `_id` becomes `id`, the tenant is implied by the caller.
HIDDEN_FIELDS = frozenset({"tenantId"})


def public(doc: Document) -> dict[str, Any]:
    """The reader's view of a stored document: `id` instead of `_id`, no internal fields."""
    view: dict[str, Any] = {"id": doc["_id"]}
    for key, value in doc.items():  # a plain loop: half the cost of a generator (hot path)
        if key[:1] != "_" and key not in HIDDEN_FIELDS:
            view[key] = value
    return view


def alive(tenant_id: str, **conditions: Any) -> dict[str, Any]:
    """Filter for a tenant's documents that are not soft-deleted."""
    return {"tenantId": tenant_id, "_deleted": False, **conditions}


async def owning_customer(
    collection: AsyncCollection[Document], tenant_id: str, doc_id: str
) -> str | None:
    """The customer a tenant's document belongs to, deleted or not: the key of a command
    about it (a repeated DELETE must still reach the journal and get its first answer)."""
    doc = await collection.find_one({"tenantId": tenant_id, "_id": doc_id}, {"customerId": 1})
    return None if doc is None else str(doc["customerId"])


# Every list of the APIs: newest first, the id breaking ties, so pages are stable.
NEWEST_FIRST = [("createdAt", DESCENDING), ("_id", DESCENDING)]


def newest_first_indexes(name: str, **scopes: str) -> list[IndexModel]:
    """The indexes `newest_first_page` filters and sorts from: `<name>_list` for all of a
    tenant's live documents, and `<name>_<scope>_list` for those with one value of each
    scope field (`customer="customerId"`)."""
    scoped = {f"{name}_{label}_list": [(field, ASCENDING)] for label, field in scopes.items()}
    return [
        IndexModel(
            [("tenantId", ASCENDING), *scope, ("_deleted", ASCENDING), *NEWEST_FIRST],
            name=index_name,
        )
        for index_name, scope in {f"{name}_list": [], **scoped}.items()
    ]


async def newest_first_page(
    collection: AsyncCollection[Document],
    tenant_id: str,
    *,
    skip: int,
    limit: int,
    **equal_to: str | None,
) -> tuple[list[Document], int]:
    """One page of a tenant's live documents and their total; filters given as None are
    left out (`customerId=None` means "of every customer")."""
    query = alive(
        tenant_id, **{field: value for field, value in equal_to.items() if value is not None}
    )
    cursor = collection.find(query).sort(NEWEST_FIRST).skip(skip).limit(limit)
    return await cursor.to_list(), await collection.count_documents(query)

"""How stored documents map to what readers see."""

from typing import Any, ClassVar

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from storage.database import Database, Document

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
    """The indexes a list filters and sorts from (`list_page` in `NEWEST_FIRST` order):
    `<name>_list` for all of a tenant's live documents, and `<name>_<scope>_list` for those
    with one value of each scope field (`customer="customerId"`)."""
    scoped = {f"{name}_{label}_list": [(field, ASCENDING)] for label, field in scopes.items()}
    return [
        IndexModel(
            [("tenantId", ASCENDING), *scope, ("_deleted", ASCENDING), *NEWEST_FIRST],
            name=index_name,
        )
        for index_name, scope in {f"{name}_list": [], **scoped}.items()
    ]


SortOrder = list[tuple[str, int]]


def sort_order(fields: dict[str, str], sort: str | None) -> SortOrder:
    """The order of a list's `sort` parameter: a public field name of `fields` (public →
    stored field), `-` first for descending; the id breaks ties in the same direction.
    None: newest first. A name not in `fields` is a KeyError (the caller's 400)."""
    if sort is None:
        return NEWEST_FIRST
    descending = sort.startswith("-")
    stored = fields[sort[1:] if descending else sort]
    direction = DESCENDING if descending else ASCENDING
    return [(stored, direction), ("_id", direction)]


def range_indexes(entity: str, /, **fields: str) -> list[IndexModel]:
    """`<entity>_by_<label>`: a tenant's live documents ordered by one field (then the id),
    for a range filter on it and for `sort` on it."""
    return [
        IndexModel(
            [
                ("tenantId", ASCENDING),
                ("_deleted", ASCENDING),
                (field, ASCENDING),
                ("_id", ASCENDING),
            ],
            name=f"{entity}_by_{label}",
        )
        for label, field in fields.items()
    ]


async def list_page(
    collection: AsyncCollection[Document],
    query: dict[str, Any],
    sort: SortOrder,
    skip: int,
    limit: int,
) -> tuple[list[Document], int]:
    """One page of the documents matching `query` in `sort` order, and their total."""
    cursor = collection.find(query).sort(sort).skip(skip).limit(limit)
    return await cursor.to_list(), await collection.count_documents(query)


class TenantDocuments:
    """The look-ups every entity's repository shares: its collection holds one tenant-scoped,
    soft-deletable entity. A subclass names the collection and adds its own look-ups."""

    collection: ClassVar[str]

    def __init__(self, db: Database) -> None:
        self._c = db[self.collection]

    async def get(self, tenant_id: str, entity_id: str) -> Document | None:
        """A live (not deleted) document of this tenant."""
        return await self._c.find_one(alive(tenant_id, _id=entity_id))

    async def search(
        self, tenant_id: str, conditions: dict[str, Any], sort: SortOrder, *, skip: int, limit: int
    ) -> tuple[list[Document], int]:
        """One page of the live documents meeting `conditions` (stored field → condition)
        in `sort` order, and their total."""
        return await list_page(self._c, alive(tenant_id, **conditions), sort, skip, limit)

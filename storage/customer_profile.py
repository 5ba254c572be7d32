"""API A's satellite documents: external identity bindings, interactions, service records
and commitments. Each belongs to one customer of one tenant."""

from pymongo import ASCENDING, DESCENDING, IndexModel

from storage.database import Database, Document

BINDINGS = "bindings"
INTERACTIONS = "interactions"
SERVICE_RECORDS = "service_records"
COMMITMENTS = "commitments"


def binding_id(tenant_id: str, system_type: str, system_name: str, external_id: str) -> str:
    """One external identity maps to at most one customer per tenant: the id says so."""
    return "|".join((tenant_id, system_type, system_name.casefold(), external_id))


class BindingRepository:
    def __init__(self, db: Database) -> None:
        self._c = db[BINDINGS]

    async def get(self, doc_id: str) -> Document | None:
        return await self._c.find_one({"_id": doc_id})

    async def of_customer(self, tenant_id: str, customer_id: str) -> list[Document]:
        query = {"tenantId": tenant_id, "customerId": customer_id}
        return (
            await self._c.find(query).sort([("boundAt", ASCENDING), ("_id", ASCENDING)]).to_list()
        )


class InteractionRepository:
    def __init__(self, db: Database) -> None:
        self._c = db[INTERACTIONS]

    def _of(self, tenant_id: str, customer_id: str) -> Document:
        return {"tenantId": tenant_id, "customerId": customer_id}

    async def newest_first(self, tenant_id: str, customer_id: str, limit: int) -> list[Document]:
        cursor = (
            self._c.find(self._of(tenant_id, customer_id))
            .sort([("occurredAt", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        return await cursor.to_list()

    async def count(self, tenant_id: str, customer_id: str) -> int:
        return await self._c.count_documents(self._of(tenant_id, customer_id))

    async def last_occurred_at(self, tenant_id: str, customer_id: str) -> str | None:
        newest = await self.newest_first(tenant_id, customer_id, 1)
        return newest[0]["occurredAt"] if newest else None


class CommitmentRepository:
    def __init__(self, db: Database) -> None:
        self._c = db[COMMITMENTS]

    async def get(self, tenant_id: str, customer_id: str, commitment_id: str) -> Document | None:
        query = {"_id": commitment_id, "tenantId": tenant_id, "customerId": customer_id}
        return await self._c.find_one(query)

    async def open_of_customer(self, tenant_id: str, customer_id: str) -> list[Document]:
        query = {"tenantId": tenant_id, "customerId": customer_id, "done": False}
        return await self._c.find(query, {"progress": 1}).to_list()


# A binding's `_id` is its identity (binding_id): one customer per identity and tenant.
INDEXES = {
    BINDINGS: [
        IndexModel(
            [
                ("tenantId", ASCENDING),
                ("customerId", ASCENDING),
                ("boundAt", ASCENDING),
                ("_id", ASCENDING),
            ],
            name="bindings_of_customer",
        ),
    ],
    INTERACTIONS: [
        IndexModel(
            [
                ("tenantId", ASCENDING),
                ("customerId", ASCENDING),
                ("occurredAt", DESCENDING),
                ("_id", DESCENDING),
            ],
            name="interactions_of_customer",
        ),
    ],
    COMMITMENTS: [
        IndexModel(
            [("tenantId", ASCENDING), ("customerId", ASCENDING), ("done", ASCENDING)],
            name="open_commitments_of_customer",
        ),
    ],
    SERVICE_RECORDS: [
        IndexModel(
            [("tenantId", ASCENDING), ("customerId", ASCENDING), ("createdAt", DESCENDING)],
            name="service_records_of_customer",
        ),
    ],
}

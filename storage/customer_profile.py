"""The customer profile API's satellite documents: external identity bindings, interactions,
service records and commitments. Each belongs to one customer of one tenant."""

from pymongo import ASCENDING, DESCENDING, IndexModel

from schemas.ids import BINDING_SEPARATOR, joined_key, keys_of
from storage.database import Database, Document
from storage.keyed import Owns, find_owned

BINDINGS = "bindings"
INTERACTIONS = "interactions"
SERVICE_RECORDS = "service_records"
COMMITMENTS = "commitments"


def _identity(
    tenant_id: str, system_type: str, system_name: str, external_id: str
) -> tuple[str, str, str, str, str, str]:
    return (
        "binding",
        BINDING_SEPARATOR,
        tenant_id,
        system_type,
        system_name.casefold(),
        external_id,
    )


def binding_key(tenant_id: str, system_type: str, system_name: str, external_id: str) -> str:
    """One external identity maps to at most one customer per tenant: the binding's `_id`
    is the identity `(tenant, systemType, systemName case-folded, externalId)`, as
    `tenant|type|name|externalId` where no part but the last holds a `|`, else hashed
    (`schemas.ids.joined_key`)."""
    return joined_key(*_identity(tenant_id, system_type, system_name, external_id))


def of_identity(tenant_id: str, system_type: str, system_name: str, external_id: str) -> Owns:
    """Accepts the binding documents of this identity."""
    folded = system_name.casefold()

    def owns(doc: Document) -> bool:
        return (
            doc.get("tenantId") == tenant_id
            and doc.get("systemType") == system_type
            and str(doc.get("systemName", "")).casefold() == folded
            and doc.get("externalId") == external_id
        )

    return owns


class BindingRepository:
    def __init__(self, db: Database) -> None:
        self._c = db[BINDINGS]

    async def get(
        self, tenant_id: str, system_type: str, system_name: str, external_id: str
    ) -> Document | None:
        """The binding of this identity, if any (under its key, or the text an older
        release stored it under: `storage.keyed`)."""
        keys = keys_of(*_identity(tenant_id, system_type, system_name, external_id))
        owns = of_identity(tenant_id, system_type, system_name, external_id)
        return await find_owned(self._c, keys, owns)

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


# A binding's `_id` is its identity (binding_key): one customer per identity and tenant.
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

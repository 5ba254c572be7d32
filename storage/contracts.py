"""CRM API contract documents: look-ups for the rules, pages for the readers, indexes.

`contractNo` is unique per tenant; the unique index is the last word when two commands
race for the same number (the `contract.create` decision's insert carries the rejection).
"""

from pymongo import ASCENDING, IndexModel

from storage.database import Document
from storage.documents import (
    TenantDocuments,
    alive,
    newest_first_indexes,
)

CONTRACTS = "contracts"


class ContractRepository(TenantDocuments):
    collection = CONTRACTS

    async def with_number(self, tenant_id: str, contract_no: str) -> Document | None:
        """The live contract holding this number in the tenant, if any."""
        return await self._c.find_one(alive(tenant_id, contractNo=contract_no), {"_id": 1})


INDEXES = [
    # one live contract per number and tenant
    IndexModel(
        [("tenantId", ASCENDING), ("contractNo", ASCENDING)],
        name="contract_no_unique",
        unique=True,
        partialFilterExpression={"_deleted": False},
    ),
    # the list (all, or of one customer), newest first, id as tie-breaker
    *newest_first_indexes("contract", customer="customerId", status="status"),
]

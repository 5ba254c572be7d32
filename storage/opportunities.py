"""CRM API opportunity documents: look-ups for the rules, pages for the readers, indexes."""

from pymongo import ASCENDING, IndexModel

from storage.documents import (
    TenantDocuments,
    newest_first_indexes,
    owning_customer,
    range_indexes,
)

OPPORTUNITIES = "opportunities"


class OpportunityRepository(TenantDocuments):
    collection = OPPORTUNITIES

    async def customer_of(self, tenant_id: str, opportunity_id: str) -> str | None:
        """The owning customer of this tenant's opportunity, deleted or not (for the
        command key: a repeated DELETE must reach the journal and get its first answer)."""
        return await owning_customer(self._c, tenant_id, opportunity_id)


INDEXES = [
    # the list (all, or of one customer), newest first, id as tie-breaker
    *newest_first_indexes("opportunity", customer="customerId", stage="stage", owner="ownerId"),
    # `minAmount`/`maxAmount` and `sort=amount`
    *range_indexes("opportunity", amount="amount"),
    # the funnel's grouping by stage
    IndexModel(
        [("tenantId", ASCENDING), ("_deleted", ASCENDING), ("stage", ASCENDING)],
        name="opportunity_funnel",
    ),
]

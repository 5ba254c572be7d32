"""CRM API follow-up documents: look-ups for the rules, pages for the readers, indexes."""

from storage.documents import (
    TenantDocuments,
    newest_first_indexes,
    owning_customer,
    range_indexes,
)

FOLLOW_UPS = "follow_ups"


class FollowUpRepository(TenantDocuments):
    collection = FOLLOW_UPS

    async def customer_of(self, tenant_id: str, follow_up_id: str) -> str | None:
        """The owning customer of this tenant's follow-up, deleted or not (command key)."""
        return await owning_customer(self._c, tenant_id, follow_up_id)


INDEXES = [
    # the list (all, of one customer, of one opportunity, by one method), newest first,
    # id as tie-breaker
    *newest_first_indexes(
        "follow_up", customer="customerId", opportunity="opportunityId", method="method"
    ),
    # `followedFrom`/`followedTo` and `sort=followedAt`
    *range_indexes("follow_up", followed="followedAt"),
]

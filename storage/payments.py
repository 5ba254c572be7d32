"""CRM API payment documents (回款): pages for the readers and their indexes.

The running total of a contract's payments is kept on the contract (`paidAmount`), which
the `payment.create` decision rewrites together with inserting the payment.
"""

from storage.documents import (
    TenantDocuments,
    newest_first_indexes,
    range_indexes,
)

PAYMENTS = "payments"


class PaymentRepository(TenantDocuments):
    collection = PAYMENTS


INDEXES = [
    # the list (all, or of one contract), newest first, id as tie-breaker
    *newest_first_indexes("payment", contract="contractId"),
    # `paidFrom`/`paidTo` and `sort=paidAt`
    *range_indexes("payment", paid="paidAt"),
]

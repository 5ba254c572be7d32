"""Creates every index the service's queries need; idempotent, run at every start-up."""

from storage import contacts, contracts, follow_ups, opportunities, payments
from storage.customer_profile import ensure_profile_indexes
from storage.customers import CustomerRepository
from storage.database import Database
from storage.journal import CommandJournal
from storage.parked_events import ParkedEventRepository


async def ensure_indexes(db: Database) -> None:
    await CommandJournal(db).ensure_indexes()
    await CustomerRepository(db).ensure_indexes()
    await ensure_profile_indexes(db)
    await ParkedEventRepository(db).ensure_indexes()
    for module in (contacts, opportunities, follow_ups, contracts, payments):
        await module.ensure_indexes(db)

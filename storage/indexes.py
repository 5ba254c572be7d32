"""Every index the service's queries need, created idempotently at every start-up.

The definitions live next to the queries they serve (`INDEXES` of each storage module).
Unique rules are enforced by MongoDB itself: customer names (`customer_name_unique`),
contract numbers (`contract_no_unique`); command ids, bindings and parked events are
unique by their `_id` (the command key, the binding identity, the event's command key:
`schemas.ids`).

The retention's TTL indexes follow `CRM_JOURNAL_RETENTION_DAYS` (`storage.retention`).

Creating an index that exists with the same definition is a no-op. When a definition
changed between releases (same name, other keys or options; or the same keys under
another name) MongoDB refuses the create: the old index is dropped and the new one built.
"""

import logging
from typing import Any

from pymongo import IndexModel
from pymongo.errors import OperationFailure

from storage import (
    contacts,
    contracts,
    customer_profile,
    customers,
    follow_ups,
    journal,
    opportunities,
    parked_events,
    payments,
    submissions,
)
from storage.database import Database
from storage.key_migration import move_ambiguous_keys
from storage.name_keys import rekey_customer_names
from storage.retention import drop_ttl_indexes, retire_old_scans, ttl_indexes

log = logging.getLogger("crm.storage")

INDEX_NOT_FOUND = 27
INDEX_OPTIONS_CONFLICT = 85
INDEX_KEY_SPECS_CONFLICT = 86


def index_plan() -> dict[str, list[IndexModel]]:
    """Collection name → the indexes it must have."""
    return {
        journal.JOURNAL: journal.INDEXES,
        customers.CUSTOMERS: customers.INDEXES,
        **customer_profile.INDEXES,
        parked_events.PARKED_EVENTS: parked_events.INDEXES,
        contacts.CONTACTS: contacts.INDEXES,
        opportunities.OPPORTUNITIES: opportunities.INDEXES,
        follow_ups.FOLLOW_UPS: follow_ups.INDEXES,
        contracts.CONTRACTS: contracts.INDEXES,
        payments.PAYMENTS: payments.INDEXES,
        submissions.SUBMISSIONS: submissions.INDEXES,
    }


async def ensure_indexes(db: Database, *, retention_s: float) -> None:
    """The indexes, and the TTL indexes of a retention of `retention_s` (0: none); then,
    once each: what older releases stored under ambiguous keys moved to its key
    (`storage.key_migration`), the keys a unique index checks brought up to date
    (`storage.name_keys`), and the search keys of customers they stored added."""
    for collection, models in index_plan().items():
        for model in models:
            await _ensure(db, collection, model)
    await retire_old_scans(db)
    if not retention_s:
        await drop_ttl_indexes(db)
    for collection, model in ttl_indexes(retention_s).items():
        await _ensure(db, collection, model)
    await move_ambiguous_keys(db)
    await rekey_customer_names(db)
    await customers.add_search_keys(db)


async def _ensure(db: Database, collection: str, model: IndexModel) -> None:
    spec: dict[str, Any] = dict(model.document)
    keys = list(spec.pop("key").items())
    try:
        await db[collection].create_index(keys, **spec)
    except OperationFailure as exc:
        if exc.code not in (INDEX_OPTIONS_CONFLICT, INDEX_KEY_SPECS_CONFLICT):
            raise
        log.warning(
            "index %s.%s has a new definition; rebuilding it (%s)", collection, spec["name"], exc
        )
        await _drop_conflicting(db, collection, spec["name"], keys)
        await db[collection].create_index(keys, **spec)


async def _drop_conflicting(
    db: Database, collection: str, name: str, keys: list[tuple[str, Any]]
) -> None:
    """Drop the index of that name and any index on the same keys (under another name)."""
    existing = await db[collection].index_information()
    for other, info in existing.items():
        if other == "_id_" or (other != name and _normal(info.get("key", [])) != _normal(keys)):
            continue
        try:
            await db[collection].drop_index(other)
        except OperationFailure as exc:
            if exc.code != INDEX_NOT_FOUND:  # dropped meanwhile by another replica
                raise


def _normal(keys: Any) -> list[tuple[str, Any]]:
    """Key patterns compared as written by any driver (1 and 1.0 are the same direction)."""
    return [(k, int(v) if isinstance(v, int | float) else v) for k, v in keys]

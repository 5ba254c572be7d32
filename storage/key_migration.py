"""Moving what older releases stored under an ambiguous key to its key, once per database.

Releases before `schemas.ids` joined client strings into keys. Only the inputs whose joined
text was ambiguous have another key now: commands of a tenant id holding `:`, bindings
whose tenant id or system name holds `|`. What older releases stored for them is still
read under its old text (its own fields checked: `storage.keyed`), but while it sits there
it holds a text that is now another input's key — tenant `a`'s command `b:c` has the key
`a:b:c`, where tenant `a:b`'s old entry of command `c` sits — and that input could not be
stored. So at start-up, before the consumers start, each such document is moved to its key
(copied, then the old one deleted: a crash in between leaves both, and the next run
finishes), a moved journal entry is marked `legacyIds` (its change events keep the ids an
older release gave them: `handlers.outbox.decided_by_older_release`), and parked events
waiting for such an identity are pointed at its new key. A marker in `migrations` says it
is done, so the scans (the journal's has no index to use) run once per database. An older
release still running beside this one during a rolling upgrade may store a few more such
documents afterwards: they are read under their old text as before.
"""

import logging
from contextlib import suppress
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from schemas.base import iso_now
from schemas.ids import BINDING_SEPARATOR, COMMAND_SEPARATOR, command_key
from storage.customer_profile import BINDINGS, binding_key
from storage.database import Database, Document
from storage.journal import JOURNAL
from storage.parked_events import PARKED_EVENTS
from storage.submissions import SUBMISSIONS

log = logging.getLogger("crm.storage")

MIGRATIONS = "migrations"
UNAMBIGUOUS_KEYS = "unambiguous-keys"


def _holding(separator: str) -> dict[str, str]:
    return {"$regex": f"\\{separator}"}


async def move_ambiguous_keys(db: Database) -> int:
    """Move every document stored under an ambiguous key to its key; how many moved."""
    if await db[MIGRATIONS].find_one({"_id": UNAMBIGUOUS_KEYS}) is not None:
        return 0
    moved = 0
    of_ambiguous_tenants = {"tenantId": _holding(COMMAND_SEPARATOR)}
    for name in (JOURNAL, SUBMISSIONS, PARKED_EVENTS):
        marks = {"legacyIds": True} if name == JOURNAL else {}
        async for doc in db[name].find(of_ambiguous_tenants):
            key = command_key(doc["tenantId"], doc["commandId"])
            moved += await _move(db[name], doc, key, marks)
    pipe = _holding(BINDING_SEPARATOR)
    async for doc in db[BINDINGS].find({"$or": [{"tenantId": pipe}, {"systemName": pipe}]}):
        moved += await _move(db[BINDINGS], doc, _key_of_identity(doc["tenantId"], doc), {})
    waiting = {
        "identity": {"$ne": None},
        "$or": [{"tenantId": pipe}, {"identity.systemName": pipe}],
    }
    async for doc in db[PARKED_EVENTS].find(waiting):
        key = _key_of_identity(doc["tenantId"], doc["identity"])
        if doc.get("_identityKey") != key:
            await db[PARKED_EVENTS].update_one({"_id": doc["_id"]}, {"$set": {"_identityKey": key}})
    await db[MIGRATIONS].update_one(
        {"_id": UNAMBIGUOUS_KEYS}, {"$set": {"doneAt": iso_now(), "moved": moved}}, upsert=True
    )
    if moved:
        log.info("moved %d documents stored under ambiguous keys to their keys", moved)
    return moved


def _key_of_identity(tenant_id: str, identity: Document) -> str:
    return binding_key(
        tenant_id, identity["systemType"], identity["systemName"], identity["externalId"]
    )


async def _move(
    collection: AsyncCollection[Document], doc: Document, key: str, marks: dict[str, Any]
) -> int:
    if doc["_id"] == key:
        return 0
    # A duplicate: copied by an earlier run that stopped before the delete (or a replica).
    with suppress(DuplicateKeyError):
        await collection.insert_one({**doc, **marks, "_id": key})
    await collection.delete_one({"_id": doc["_id"], "tenantId": doc["tenantId"]})
    return 1

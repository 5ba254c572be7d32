"""Customer name keys written before names were compared in NFKC form, brought up to date.

`name_key` NFKC-normalises since names must compare equal to their full-width and other
compatibility lookalikes (`Ａｃｍｅ` is `acme`). For ASCII names, and any name NFKC leaves
alone, the key is what it was; a stored customer whose name is neither keeps its former key
until this re-keys it, once per database (a `migrations` document records the run). A
customer whose new key another live customer already holds keeps its former key (the two
were both accepted before the rule; it is logged, and a rename settles it).
"""

import logging

from pymongo.errors import DuplicateKeyError

from schemas.base import iso_now
from storage.customers import CUSTOMERS, name_key
from storage.database import Database

log = logging.getLogger("crm.storage")

MIGRATIONS = "migrations"
NFKC_NAME_KEYS = "customer-name-keys-nfkc"
_NOT_ASCII = {"$regex": "[^\\x00-\\x7f]"}  # the only names whose key can have changed


async def rekey_customer_names(db: Database) -> int:
    """Re-key the stored customers whose name key changed with NFKC (once); how many were."""
    if await db[MIGRATIONS].find_one({"_id": NFKC_NAME_KEYS}) is not None:
        return 0
    rekeyed = 0
    async for doc in db[CUSTOMERS].find({"name": _NOT_ASCII}, {"name": 1, "_nameKey": 1}):
        key = name_key(doc["name"])
        if key == doc.get("_nameKey"):
            continue
        try:
            await db[CUSTOMERS].update_one({"_id": doc["_id"]}, {"$set": {"_nameKey": key}})
        except DuplicateKeyError:
            log.warning(
                "customer %s keeps its former name key: another live customer of its tenant "
                "has a name that now compares equal",
                doc["_id"],
            )
            continue
        rekeyed += 1
    await db[MIGRATIONS].update_one(
        {"_id": NFKC_NAME_KEYS},
        {"$set": {"doneAt": iso_now(), "rekeyed": rekeyed}},
        upsert=True,
    )
    if rekeyed:
        log.info("re-keyed %d customer names (NFKC)", rekeyed)
    return rekeyed

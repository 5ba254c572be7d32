"""A named lease in MongoDB: at most one holder at a time, renewed while it works.

Used so that one outbox relay publishes at a time: several workers each running a relay
could otherwise publish one customer's events out of order. A holder that stops renewing
loses the lease after `ttl_s`; renewal is one atomic `find_one_and_update`.
"""

import time

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from storage.database import Database

LEASES = "leases"


class Lease:
    def __init__(self, db: Database, name: str, owner: str, ttl_s: float) -> None:
        self._c = db[LEASES]
        self._name = name
        self._owner = owner
        self._ttl_s = ttl_s

    async def acquire(self) -> bool:
        """Take or renew the lease; False while another live holder has it."""
        now = time.time()
        try:
            doc = await self._c.find_one_and_update(
                {"_id": self._name, "$or": [{"owner": self._owner}, {"expiresAt": {"$lt": now}}]},
                {"$set": {"owner": self._owner, "expiresAt": now + self._ttl_s}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return False  # held by someone else: the upsert met their document
        return doc is not None and doc.get("owner") == self._owner

    async def release(self) -> None:
        """Give the lease up at once (graceful shutdown)."""
        await self._c.update_one(
            {"_id": self._name, "owner": self._owner}, {"$set": {"expiresAt": 0.0}}
        )
